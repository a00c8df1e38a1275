/*
 * api: the HTTP API (docs/DESIGN.md section 5) as functions.  Every call
 * returns the parsed JSON body or throws an ApiError that carries the status
 * and the server's {error, field}, so the form can put the message next to
 * the field it names.  Requests that change state send JSON, as the server requires.
 */

export class ApiError extends Error {
	constructor(status, body, retryAfter)
	{
		const message = (body && body.error) ||
			`the server answered ${status}`;
		super(message);
		this.status = status;
		this.field = (body && body.field) || null;
		this.retryAfter = retryAfter;
	}
}

async function request(method, path, body)
{
	const init = { method, headers: { Accept: 'application/json' } };
	/* The server wants every state-changing request to say JSON, even
	 * a DELETE without a body (a form on another site cannot). */
	if (method !== 'GET')
		init.headers['Content-Type'] = 'application/json';
	if (body !== undefined)
		init.body = JSON.stringify(body);
	let response;
	try {
		response = await fetch(path, init);
	} catch (err) {
		throw new ApiError(0, { error: 'the server cannot be reached' });
	}
	const text = await response.text();
	let data = null;
	if (text) {
		try {
			data = JSON.parse(text);
		} catch (err) {
			data = null;
		}
	}
	if (!response.ok)
		throw new ApiError(response.status, data,
				   response.headers.get('Retry-After'));
	return data;
}

const enc = encodeURIComponent;

export const urls = {
	trace: id => `/api/runs/${enc(id)}`,
	events: id => `/api/runs/${enc(id)}/events`,
	chrome: id => `/api/runs/${enc(id)}/chrome`,
	ascii: id => `/api/runs/${enc(id)}/ascii`,
};

export function getCatalog()
{
	return request('GET', '/api/workloads');
}

/* spec: {workload, model, params, options}.  Resolves to {id, status}. */
export function createRun(spec)
{
	return request('POST', '/api/runs', spec);
}

/* History, newest first: an array of run entries. */
export async function listRuns()
{
	const data = await request('GET', '/api/runs');
	if (Array.isArray(data))
		return data;
	return (data && data.runs) || [];
}

export function getRun(id)
{
	return request('GET', urls.trace(id));
}

/*
 * The stored trace of run id, fetched and parsed by a worker
 * (trace_worker.js) so that a large run does not hold the page: resolves
 * to {trace, columns}, the trace without its tasks and segments, which
 * come as columns for RunData.fromColumns (columns is null when the
 * browser has no module workers and the trace came whole).  Throws
 * ApiError as getRun does.
 */
export function loadTrace(id)
{
	const whole = () => getRun(id).then(trace =>
		({ trace, columns: null }));
	let worker;
	try {
		worker = new Worker(new URL('./trace_worker.js', import.meta.url),
				    { type: 'module' });
	} catch (err) {
		return whole();
	}
	return new Promise((resolve, reject) => {
		worker.onmessage = ({ data }) => {
			worker.terminate();
			if (data.status === 200)
				resolve({ trace: data.trace,
					  columns: data.columns });
			else if (data.status === 0)
				reject(new ApiError(0, { error:
					'the server cannot be reached' }));
			else
				reject(new ApiError(data.status, data.body));
		};
		worker.onerror = () => {
			worker.terminate();
			whole().then(resolve, reject);
		};
		worker.postMessage({ url: urls.trace(id) });
	});
}

export function deleteRun(id)
{
	return request('DELETE', urls.trace(id));
}

/* The text timeline, width columns wide (the server's default when
 * width is not given). */
export async function getAscii(id, width)
{
	const url = width ? `${urls.ascii(id)}?width=${width}` : urls.ascii(id);
	const response = await fetch(url,
				     { headers: { Accept: 'text/plain' } });
	const text = await response.text();
	if (!response.ok) {
		let body = null;
		try {
			body = JSON.parse(text);
		} catch (err) {
			body = null;
		}
		throw new ApiError(response.status, body);
	}
	return text;
}

/* body: {workload, params, models}.  Resolves to {id, runs, ...}. */
export function createCompare(body)
{
	return request('POST', '/api/compares', body);
}

export function getCompare(id)
{
	return request('GET', `/api/compares/${enc(id)}`);
}

/* body: {workload, model or models, params, options, param, values}.
 * Resolves to {id, runs}. */
export function createSweep(body)
{
	return request('POST', '/api/sweeps', body);
}

export function getSweep(id)
{
	return request('GET', `/api/sweeps/${enc(id)}`);
}
