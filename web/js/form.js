/*
 * form: the run form, generated from the catalog (GET /api/workloads).
 *
 * Every parameter of the chosen workload and every option of the chosen
 * model becomes one labelled control with its unit, its limits (min/max or
 * maxlength, so the browser knows them too) and its one-line help.  A
 * parameter's kind and a duration's units are the catalog's words
 * (vocabulary.js).  The checks made here are only those that read the
 * catalog's own limits for one value (type, whole numbers, min and max,
 * choices, length), worded as the engine words them ("tasks: must be at
 * most 100000 (got 200000)"); the server stays the authority, and an error
 * it returns is shown as it wrote it, next to the field it names
 * ("params.tasks").
 *
 * Only values that differ from their defaults are sent, so the engine can
 * tell a value the user chose from one it filled in.  Durations are entered
 * in milliseconds and sent as numbers, which the API reads as milliseconds.
 */

import { el, clear } from './dom.js';
import { PARAM_KINDS, DURATION_UNITS } from './vocabulary.js';

/* The unit of a bare number where a duration is expected: the API reads
 * one as milliseconds, and the form's duration controls are in them. */
const BARE_UNIT = 'ms';
const BARE_NS = DURATION_UNITS.get(BARE_UNIT);

const escapeRe = text => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/* "1.5s", "200 ms", "7": a number and one of the catalog's duration
 * units, longest first so "ms" is not read as "m" and "s". */
const DURATION_RE = new RegExp('^\\s*([0-9]*\\.?[0-9]+(?:e[+-]?[0-9]+)?)\\s*(' +
	[...DURATION_UNITS.keys()].sort((a, b) => b.length - a.length)
		.map(escapeRe).join('|') + ')?\\s*$', 'i');

/* A parameter's kind: its "type", one of the catalog's parameter kinds
 * (vocabulary.param_kinds).  A type the page does not know is entered as
 * text, or as a choice when it has choices; the server checks it. */
export function kindOf(def)
{
	const type = String(def.type || '').toLowerCase();
	if (PARAM_KINDS.has(type))
		return type;
	return def.choices ? 'enum' : 'text';
}

function choicesOf(def)
{
	if (Array.isArray(def.choices))
		return def.choices.map(String);
	if (typeof def.choices === 'string' && def.choices)
		return def.choices.split('|');
	return [];
}

/* "200ms", "1.5s", "20us", or a bare number of milliseconds -> ns. */
export function parseDurationNs(text)
{
	if (typeof text === 'number')
		return text * BARE_NS;
	const match = DURATION_RE.exec(String(text));
	if (!match)
		return NaN;
	const unit = (match[2] || BARE_UNIT).toLowerCase();
	return Number(match[1]) * DURATION_UNITS.get(unit);
}

/* Limits as the catalog gives them: durations already in milliseconds
 * (the unit of a bare number in the API), with min_text/max_text. */
function limitsOf(def)
{
	const num = v => (v === null || v === undefined || v === '' ?
		null : Number(v));
	return { min: num(def.min), max: num(def.max) };
}

function unitLabel(def, kind)
{
	if (kind === 'duration')
		return BARE_UNIT;
	if (kind === 'text' || kind === 'enum')
		return '';
	const unit = def.unit || '';
	return unit && unit !== def.name ? unit : '';
}

function numberText(value)
{
	return Number(value.toPrecision(12)).toLocaleString('en-US');
}

export function humanName(name)
{
	return String(name).replace(/_/g, ' ');
}

/* The default of a definition as the control shows it. */
function defaultValue(def, kind)
{
	const text = def.default === null || def.default === undefined ?
		'' : String(def.default);
	if (text === '')
		return '';
	if (kind === 'duration') {
		const ns = parseDurationNs(def.default);
		return Number.isFinite(ns) ? String(ns / BARE_NS) : text;
	}
	return text;
}

/*
 * One control: builds it, checks it, reads it.  field is the API's name
 * for it ("params.tasks").
 */
class Field {
	constructor(def, group, idPrefix)
	{
		this.def = def;
		this.kind = kindOf(def);
		this.field = `${group}.${def.name}`;
		this.limits = limitsOf(def);
		this.defaultText = defaultValue(def, this.kind);
		const id = `${idPrefix}-${def.name}`.replace(/[^A-Za-z0-9_-]/g,
							    '_');
		this.node = el('div', 'field');
		this.node.dataset.field = this.field;
		const unit = unitLabel(def, this.kind);
		const label = el('label', null, humanName(def.name));
		label.htmlFor = id;
		if (unit)
			label.append(el('span', 'unit', ` (${unit})`));
		this.input = this.createInput(id);
		const help = el('p', 'help', this.helpText());
		help.id = `${id}-help`;
		this.error = el('p', 'field-error');
		this.error.id = `${id}-error`;
		this.error.hidden = true;
		this.input.setAttribute('aria-describedby',
					`${help.id} ${this.error.id}`);
		this.node.append(label, this.input, help, this.error);
		this.input.addEventListener('change', () => this.check());
	}

	createInput(id)
	{
		const { def, kind, limits } = this;
		let input;
		if (kind === 'enum') {
			input = el('select');
			for (const choice of choicesOf(def)) {
				const option = el('option', null, choice);
				option.value = choice;
				input.append(option);
			}
		} else if (kind === 'text') {
			const long = Number(def.max) > 120;
			input = el(long ? 'textarea' : 'input');
			if (!long)
				input.type = 'text';
			else
				input.rows = 2;
			if (Number(def.max) > 0)
				input.maxLength = Number(def.max);
			input.spellcheck = false;
			input.autocomplete = 'off';
		} else {
			input = el('input');
			input.type = 'number';
			input.step = kind === 'int' ? '1' : 'any';
			input.inputMode = kind === 'int' ? 'numeric' : 'decimal';
			if (limits.min !== null)
				input.min = String(limits.min);
			if (limits.max !== null)
				input.max = String(limits.max);
		}
		input.id = id;
		input.name = this.field;
		input.value = this.defaultText;
		if (kind === 'enum' && !input.value && input.options.length)
			input.selectedIndex = 0;
		return input;
	}

	helpText()
	{
		const { def, kind, limits } = this;
		const parts = [];
		if (def.help)
			parts.push(def.help);
		if (kind === 'int' || kind === 'float' || kind === 'duration') {
			const unit = kind === 'duration' ? ` ${BARE_UNIT}` : '';
			if (limits.min !== null && limits.max !== null)
				parts.push(`${numberText(limits.min)} to ` +
					   `${numberText(limits.max)}${unit}`);
			else if (limits.min !== null)
				parts.push(`at least ${numberText(limits.min)}` +
					   unit);
		} else if (kind === 'text' && Number(def.max) > 0) {
			parts.push(`up to ${numberText(Number(def.max))} bytes`);
		}
		return parts.join(' · ');
	}

	value()
	{
		return this.input.value.trim();
	}

	/* Checks the value; returns the message or '' and shows it. */
	check()
	{
		const message = this.problem();
		this.showError(message);
		return message;
	}

	/* The engine's checks and wording (spec.c), for one value (the
	 * control's, or text).  A value left at its default is the
	 * catalog's business, not the user's. */
	problem(text = this.value())
	{
		const { def, kind, limits } = this;
		const name = def.name;
		if (text === '' || text === this.defaultText)
			return '';
		if (kind === 'enum') {
			const choices = choicesOf(def);
			if (choices.length && !choices.includes(text))
				return `${name}: must be one of ` +
					`${choices.join(', ')} (got '${text}')`;
			return '';
		}
		if (kind === 'text') {
			const bytes = new TextEncoder().encode(text).length;
			if (Number(def.max) > 0 && bytes > Number(def.max))
				return `${name}: must be at most ${def.max} ` +
					`bytes (got ${bytes})`;
			return '';
		}
		const number = Number(text);
		if (!Number.isFinite(number))
			return kind === 'int' ?
				`${name}: expected a whole number (got '${text}')` :
				`${name}: expected a number (got '${text}')`;
		if (kind === 'int' && !Number.isInteger(number))
			return `${name}: expected a whole number (got '${text}')`;
		const shown = kind === 'duration' ? `${text}${BARE_UNIT}` : text;
		if (limits.min !== null && number < limits.min)
			return `${name}: must be at least ` +
				`${this.limitText('min')} (got ${shown})`;
		if (limits.max !== null && number > limits.max)
			return `${name}: must be at most ` +
				`${this.limitText('max')} (got ${shown})`;
		return '';
	}

	limitText(which)
	{
		const text = this.def[`${which}_text`];
		if (text)
			return text;
		const value = this.limits[which];
		return this.kind === 'duration' ? `${value}${BARE_UNIT}` :
			String(value);
	}

	showError(message)
	{
		this.error.textContent = message;
		this.error.hidden = !message;
		if (message)
			this.input.setAttribute('aria-invalid', 'true');
		else
			this.input.removeAttribute('aria-invalid');
	}

	/* The value for the API, or undefined when it is the default. */
	apiValue()
	{
		const text = this.value();
		if (text === '' || text === this.defaultText)
			return undefined;
		if (this.kind === 'int' || this.kind === 'float' ||
		    this.kind === 'duration') {
			if (Number(text) === Number(this.defaultText))
				return undefined;
			return Number(text);
		}
		return text;
	}

	/* Sets the control from a stored value (text form or number). */
	setValue(value)
	{
		if (value === null || value === undefined)
			return;
		if (this.kind === 'duration') {
			const ns = typeof value === 'number' ? value * BARE_NS :
				parseDurationNs(value);
			this.input.value = Number.isFinite(ns) ?
				String(Number((ns / BARE_NS).toPrecision(12))) :
				String(value);
			return;
		}
		this.input.value = String(value);
	}
}

export class RunForm {
	/*
	 * form: the <form>; catalog: {workloads, models};
	 * handlers: {onRun(spec), onCompare(body), onSweep(body)}.
	 */
	constructor(form, catalog, handlers)
	{
		this.form = form;
		this.catalog = catalog;
		this.handlers = handlers;
		this.workloadSelect = form.querySelector('#workload');
		this.modelSelect = form.querySelector('#model');
		this.paramsBox = form.querySelector('#params-fields');
		this.optionsBox = form.querySelector('#options-fields');
		this.status = form.querySelector('#form-status');
		this.params = [];
		this.options = [];
		this.fill(this.workloadSelect, catalog.workloads || []);
		this.fill(this.modelSelect, catalog.models || []);
		this.engineSelect = form.querySelector('#engine');
		this.enginesButton = form.querySelector('#engines-button');
		this.fillEngines();
		this.sweepParam = form.querySelector('#sweep-param');
		this.sweepValues = form.querySelector('#sweep-values');
		this.sweepError = form.querySelector('#sweep-values-error');
		this.workloadSelect.addEventListener('change',
			() => this.buildParams());
		this.modelSelect.addEventListener('change',
			() => this.buildOptions());
		form.querySelector('#sweep-button').addEventListener('click',
			() => this.submit('sweep'));
		form.addEventListener('submit', event => {
			event.preventDefault();
			this.submit('run');
		});
		form.querySelector('#compare-button').addEventListener('click',
			() => this.submit('compare'));
		this.enginesButton.addEventListener('click',
			() => this.submit('engines'));
		/* A value the server refused, once edited, is no longer the
		 * one refused: its mark and the notice go. */
		this.refusedField = null;
		form.addEventListener('input', event => {
			const field = this.refusedField;
			if (field && event.target === field.input) {
				this.refusedField = null;
				field.showError('');
				this.setStatus('');
			}
		});
		this.buildParams();
		this.buildOptions();
	}

	fill(select, entries)
	{
		clear(select);
		for (const entry of entries) {
			const option = el('option', null, entry.name);
			option.value = entry.name;
			select.append(option);
		}
	}

	/*
	 * The engines of the catalog: overlap's model, and CPython in each
	 * interpreter the server found ("cpython:PATH"; "cpython:" for its
	 * python3 when it lists none).  Without the cpython engine the
	 * choice is hidden.
	 */
	fillEngines()
	{
		const select = this.engineSelect;
		clear(select);
		const add = (value, text) => {
			const option = el('option', null, text);
			option.value = value;
			select.append(option);
		};
		add('overlap', 'overlap model');
		const cpython = (this.catalog.engines || [])
			.find(e => e.name === 'cpython');
		const field = select.closest('.field');
		field.hidden = !cpython;
		this.enginesButton.hidden = !cpython;
		if (!cpython)
			return;
		const list = cpython.interpreters || [];
		if (!list.length)
			add('cpython:', 'CPython (python3 on the server)');
		const many = list.length > 1;
		for (const py of list) {
			const build = py.build === 'free-threaded' ?
				' free-threaded' : '';
			add(`cpython:${py.path}`, `CPython ${py.version}${build} ` +
			    'on this machine' + (many ? ` (${py.path})` : ''));
		}
	}

	/* {engine, python} of the choice; {} for the model (the spec as it
	 * always was). */
	engineSpec()
	{
		const value = this.engineSelect.value || 'overlap';
		if (!value.startsWith('cpython:'))
			return {};
		const python = value.slice('cpython:'.length);
		return python ? { engine: 'cpython', python } :
			{ engine: 'cpython' };
	}

	/* The interpreter a model-vs-CPython compare uses: the one chosen,
	 * else the server's first (its python3). */
	comparePython()
	{
		const chosen = this.engineSpec().python;
		if (chosen)
			return chosen;
		const first = [...this.engineSelect.options]
			.find(o => o.value.startsWith('cpython:'));
		return first ? first.value.slice('cpython:'.length) : '';
	}

	entry(list, name)
	{
		return (list || []).find(item => item.name === name) || null;
	}

	buildParams(values)
	{
		const workload = this.entry(this.catalog.workloads,
					    this.workloadSelect.value);
		this.form.querySelector('#workload-help').textContent =
			(workload && workload.help) || '';
		this.params = this.buildFields(this.paramsBox,
			(workload && workload.params) || [], 'params', 'p',
			values, this.params);
		this.fillSweep();
		this.clearErrors();
	}

	buildOptions(values)
	{
		const model = this.entry(this.catalog.models,
					 this.modelSelect.value);
		this.form.querySelector('#model-help').textContent =
			(model && model.help) || '';
		this.options = this.buildFields(this.optionsBox,
			(model && model.options) || [], 'options', 'o',
			values, this.options);
		this.fillSweep();
		this.clearErrors();
	}

	/* The values a sweep can vary: every number among the workload's
	 * parameters and the model's options.  The choice made is kept
	 * while it is still offered; else workers, else tasks. */
	fillSweep()
	{
		if (!this.params || !this.options)
			return;
		const numeric = this.allFields().filter(f =>
			['int', 'float', 'duration'].includes(f.kind));
		const before = this.sweepParam.value;
		clear(this.sweepParam);
		for (const field of numeric) {
			const unit = unitLabel(field.def, field.kind);
			const option = el('option', null, humanName(
				field.def.name) + (unit ? ` (${unit})` : ''));
			option.value = field.def.name;
			this.sweepParam.append(option);
		}
		const names = numeric.map(f => f.def.name);
		this.sweepParam.value = names.includes(before) ? before :
			names.includes('workers') ? 'workers' :
				names.includes('tasks') ? 'tasks' :
					names[0] || '';
	}

	/* A lesson's sweep: param and values (numbers). */
	setSweep(param, values)
	{
		this.sweepParam.value = param;
		this.sweepValues.value = values.join(', ');
	}

	/* The sweep's values as numbers, or null with the reason shown. */
	sweepList()
	{
		const show = message => {
			this.sweepError.textContent = message;
			this.sweepError.hidden = !message;
			if (message)
				this.sweepValues.setAttribute('aria-invalid',
							      'true');
			else
				this.sweepValues.removeAttribute('aria-invalid');
		};
		const field = this.allFields().find(f =>
			f.def.name === this.sweepParam.value);
		const texts = this.sweepValues.value.split(/[\s,]+/)
			.filter(Boolean);
		let message = '';
		if (!field)
			message = 'values: choose a parameter or option first';
		else if (texts.length < 2 || texts.length > 16)
			message = 'values: expected 2 to 16 values separated ' +
				`by commas (got ${texts.length})`;
		else
			for (const text of texts) {
				const problem = field.problem(text) ||
					(Number.isFinite(Number(text)) ? '' :
						`${field.def.name}: expected a ` +
						`number (got '${text}')`);
				if (problem) {
					message = `values: ${problem}`;
					break;
				}
			}
		show(message);
		return message ? null : texts.map(Number);
	}

	/* Keeps what the user typed in a field of the same name. */
	buildFields(box, defs, group, prefix, values, previous)
	{
		const kept = new Map();
		for (const field of previous || [])
			if (field.value() !== field.defaultText)
				kept.set(field.def.name, field.value());
		clear(box);
		const fields = defs.map(def => new Field(def, group, prefix));
		for (const field of fields) {
			if (values && Object.hasOwn(values, field.def.name))
				field.setValue(values[field.def.name]);
			else if (!values && kept.has(field.def.name))
				field.input.value = kept.get(field.def.name);
			box.append(field.node);
		}
		box.closest('fieldset').hidden = fields.length === 0;
		return fields;
	}

	/* Restores the form to a run's spec (a deep link, a history entry). */
	setSpec(run)
	{
		if (!run)
			return;
		if (run.workload && this.entry(this.catalog.workloads,
					       run.workload)) {
			this.workloadSelect.value = run.workload;
			this.buildParams(run.params || {});
		}
		if (run.model && this.entry(this.catalog.models, run.model)) {
			this.modelSelect.value = run.model;
			this.buildOptions(run.options || {});
		}
		/* A trace's run.engine is {name, path}; a spec's is a name. */
		const engine = run.engine;
		const name = typeof engine === 'string' ? engine :
			engine && engine.name;
		const path = run.python || (engine && engine.path) || '';
		const options = [...this.engineSelect.options];
		const match = name === 'cpython' ?
			options.find(o => o.value === `cpython:${path}`) ||
			options.find(o => o.value.startsWith('cpython:')) :
			options[0];
		if (match)
			this.engineSelect.value = match.value;
	}

	allFields()
	{
		return [...this.params, ...this.options];
	}

	clearErrors()
	{
		this.refusedField = null;
		for (const field of this.allFields())
			field.showError('');
		if (this.sweepError) {
			this.sweepError.textContent = '';
			this.sweepError.hidden = true;
			this.sweepValues.removeAttribute('aria-invalid');
		}
		for (const id of ['workload-error', 'model-error',
				  'engine-error']) {
			const node = this.form.querySelector(`#${id}`);
			node.textContent = '';
			node.hidden = true;
		}
		this.setStatus('');
	}

	setStatus(message, isError = false)
	{
		this.status.textContent = message;
		this.status.classList.toggle('error', isError);
	}

	/* Checks every field against the catalog's limits for it; focuses
	 * the first bad one.  True when all pass.  What one value cannot say
	 * (the task count against a model's limit, a program's syntax) is
	 * the server's to find: its message comes back as it wrote it
	 * (showServerError). */
	checkAll()
	{
		let first = null;
		for (const field of this.allFields())
			if (field.check() && !first)
				first = field;
		if (first) {
			first.input.focus();
			this.setStatus('Fix the marked field first.', true);
			return false;
		}
		return true;
	}

	collect(group)
	{
		const out = {};
		for (const field of group) {
			const value = field.apiValue();
			if (value !== undefined)
				out[field.def.name] = value;
		}
		return out;
	}

	spec()
	{
		return {
			workload: this.workloadSelect.value,
			model: this.modelSelect.value,
			params: this.collect(this.params),
			options: this.collect(this.options),
			...this.engineSpec(),
		};
	}

	submit(kind)
	{
		this.clearErrors();
		if (!this.checkAll())
			return;
		if (kind === 'run') {
			this.handlers.onRun(this.spec());
		} else if (kind === 'engines') {
			/* The chosen model under overlap's model and under
			 * CPython, on one time axis. */
			const python = this.comparePython();
			this.handlers.onCompare({
				workload: this.workloadSelect.value,
				params: this.collect(this.params),
				options: this.collect(this.options),
				models: [this.modelSelect.value],
				engines: ['overlap', 'cpython'],
				...(python ? { python } : {}),
			});
		} else if (kind === 'sweep') {
			const values = this.sweepList();
			if (!values) {
				this.sweepValues.focus();
				this.setStatus('Fix the marked field first.', true);
				return;
			}
			const param = this.sweepParam.value;
			const spec = this.spec();
			delete spec.params[param];
			delete spec.options[param];
			this.handlers.onSweep({
				workload: spec.workload,
				models: [spec.model],
				params: spec.params,
				options: spec.options,
				param,
				values,
				/* Every point in the engine chosen above. */
				...this.engineSpec(),
			});
		} else {
			/* No "models": the server then runs every model
			 * that accepts the spec and leaves out the rest.
			 * Options apply to the models that have them. */
			this.handlers.onCompare({
				workload: this.workloadSelect.value,
				params: this.collect(this.params),
				options: this.collect(this.options),
			});
		}
	}

	setBusy(busy)
	{
		for (const button of this.form.querySelectorAll('button'))
			button.disabled = busy;
	}

	/*
	 * Shows an API error: next to the field it names when there is one,
	 * in the form's status line otherwise.
	 */
	showServerError(error)
	{
		const field = error.field ? this.findField(error.field) : null;
		if (field) {
			field.showError(error.message);
			/* The whole field, its message included, in sight
			 * and clear of the sticky buttons. */
			field.input.focus({ preventScroll: true });
			field.node.scrollIntoView({ block: 'center' });
			this.refusedField = field;
			this.setStatus('The server refused a value: see the ' +
				       'marked field.', true);
			return;
		}
		if (error.field === 'values' || error.field === 'param') {
			this.sweepError.textContent = error.message;
			this.sweepError.hidden = false;
			this.sweepValues.focus({ preventScroll: true });
			this.sweepValues.scrollIntoView({ block: 'center' });
			this.setStatus('The server refused a value: see the ' +
				       'marked field.', true);
			return;
		}
		const name = error.field === 'workload' ? 'workload' :
			error.field === 'model' || error.field === 'models' ?
				'model' :
			error.field === 'engine' || error.field === 'python' ||
			error.field === 'engines' ? 'engine' : null;
		if (name) {
			const node = this.form.querySelector(`#${name}-error`);
			node.textContent = error.message;
			node.hidden = false;
			this.form.querySelector(`#${name}`).focus();
			return;
		}
		let message = error.message;
		if (error.status === 429)
			message = 'The run queue is full' +
				(error.retryAfter ?
					`; try again in ${error.retryAfter} s.` :
					'; try again shortly.');
		this.setStatus(message, true);
	}

	findField(name)
	{
		const fields = this.allFields();
		const exact = fields.find(f => f.field === name);
		if (exact)
			return exact;
		const bare = String(name).replace(/^(params|options)\./, '');
		return fields.find(f => f.def.name === bare) || null;
	}
}
