/*
 * palette: the segment states and the colour of each.
 *
 * Colours come from the Okabe-Ito set and Paul Tol's muted set, both chosen
 * to stay distinct under the common forms of colour blindness.  Fifteen
 * states cannot all differ by hue alone, so the states that appear together
 * in one lesson (compute, io, sleep, gil-wait, queued; the scraper's
 * sem-wait, rate-wait and backoff; the process pool's startup and ipc; a
 * request's connect beside its io, a darker green of the same family) get
 * the most distinct colours, and the legend and tooltips always name the
 * state in words.  ready (a task the busy event loop has not got round to)
 * and runnable (a thread waiting for a core) are oranges and purples apart
 * from gil-wait, the third way of being able to run but not running.  The
 * dark scheme lightens the three darkest colours so they
 * keep their contrast against a dark background.
 */

export const STATES = [
	'queued', 'startup', 'compute', 'io', 'sleep', 'gil-wait',
	'lock-wait', 'sem-wait', 'queue-wait', 'barrier-wait', 'event-wait',
	'rate-wait', 'backoff', 'ipc', 'connect', 'ready', 'runnable',
];

const LIGHT = {
	'queued': '#BBBBBB',
	'startup': '#999933',
	'compute': '#0072B2',
	'io': '#009E73',
	'sleep': '#BBCC33',
	'gil-wait': '#D55E00',
	'lock-wait': '#CC79A7',
	'sem-wait': '#E69F00',
	'queue-wait': '#F0E442',
	'barrier-wait': '#882255',
	'event-wait': '#44AA99',
	'rate-wait': '#DDCC77',
	'backoff': '#CC6677',
	'ipc': '#332288',
	'connect': '#117733',
	'ready': '#EE8866',
	'runnable': '#AA4499',
};

const DARK_OVERRIDES = {
	'queued': '#777777',
	'barrier-wait': '#BB5588',
	'ipc': '#8877DD',
	'connect': '#44AA66',
};

/* What each state means, for the legend's tooltips and screen readers. */
export const STATE_HELP = {
	'queued': 'submitted, waiting for a worker',
	'startup': 'a worker starting (process start-up)',
	'compute': 'running on a CPU',
	'io': 'waiting for the network or the disk',
	'sleep': 'sleeping',
	'gil-wait': 'ready to compute, waiting for the GIL',
	'lock-wait': 'waiting for a lock',
	'sem-wait': 'waiting for a semaphore',
	'queue-wait': 'waiting on a full or empty queue',
	'barrier-wait': 'waiting at a barrier',
	'event-wait': 'waiting for an event, or for a condition\'s notify',
	'rate-wait': 'held back by the rate limit',
	'backoff': 'backing off before a retry',
	'ipc': 'copying arguments or results between processes',
	'connect': 'opening a network connection, before the request goes out',
	'ready': 'its wait is over, waiting for the event loop to run it',
	'runnable': 'may run, waiting for a core (measured with the ' +
		'thread\'s CPU clock)',
};

/* States in which a task is working rather than waiting. */
export const WORKING_STATES = new Set(['compute', 'startup', 'ipc']);

const darkQuery = window.matchMedia('(prefers-color-scheme: dark)');

export function isDark()
{
	return darkQuery.matches;
}

export function stateColour(state)
{
	if (isDark() && DARK_OVERRIDES[state])
		return DARK_OVERRIDES[state];
	return LIGHT[state] || '#888888';
}

export function stateIndex(state)
{
	const i = STATES.indexOf(state);
	return i < 0 ? STATES.length - 1 : i;
}

/* Calls fn when the system switches between light and dark. */
export function onSchemeChange(fn)
{
	darkQuery.addEventListener('change', fn);
}

let cachedColours = null;
darkQuery.addEventListener('change', () => { cachedColours = null; });

/* The page's own colours (from style.css custom properties), for charts;
 * read once per scheme, since reading styles forces a style recalc. */
export function themeColours()
{
	if (!cachedColours)
		cachedColours = readColours();
	return cachedColours;
}

function readColours()
{
	const css = getComputedStyle(document.documentElement);
	const get = (name, fallback) =>
		css.getPropertyValue(name).trim() || fallback;
	return {
		text: get('--text', '#1a1a1a'),
		muted: get('--muted', '#666666'),
		grid: get('--grid', 'rgba(0,0,0,0.1)'),
		background: get('--bg', '#ffffff'),
		surface: get('--surface', '#ffffff'),
	};
}
