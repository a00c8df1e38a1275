/*
 * palette: the segment states as the page draws them, and the colour of
 * each.  The states, their order (the legend's), their help and their
 * colours in the light and the dark scheme are the catalog's
 * (vocabulary.js): src/protocol.c picks each state's colour, from the
 * Okabe-Ito set and Paul Tol's muted set so they stay distinct under the
 * common forms of colour blindness, and this module only reads them.  A
 * state the engine gains reaches the legend, the timeline and the charts
 * with its colour without a change here.
 *
 * A segment whose state the catalog does not name (a trace from another
 * engine), or a state that brings no colour, is drawn as the last state
 * here, "other", in grey; the legend and tooltips always name the state in
 * words.
 */

import { STATE_DEFS } from './vocabulary.js';

const GREY = '#888888';
const OTHER = {
	name: 'other',
	help: 'a state the server\'s catalog does not name',
};

const HEX = /^#[0-9a-f]{6}$/i;
const colourOr = (value, fallback) =>
	(HEX.test(String(value || '')) ? value : fallback);

/* Each state: {name, help, bucket, usesCpu, light, dark}. */
const DEFS = [...STATE_DEFS.filter(state => state.name !== OTHER.name),
	OTHER].map(state => {
	const light = colourOr(state.colour, GREY);
	return {
		name: String(state.name),
		help: String(state.help || ''),
		bucket: state.bucket || null,
		usesCpu: state.uses_cpu === true,
		light,
		dark: colourOr(state.colour_dark, light),
	};
});

/* The state names, in the catalog's order; "other" last. */
export const STATES = DEFS.map(state => state.name);

const INDEX = new Map(STATES.map((name, index) => [name, index]));
const OTHER_INDEX = STATES.length - 1;

/* What each state means, for the legend's tooltips and screen readers. */
export const STATE_HELP = Object.fromEntries(DEFS.map(state =>
	[state.name, state.help]));

/* States in which a task is working rather than waiting: the ones the
 * catalog says use a CPU. */
export const WORKING_STATES = new Set(DEFS.filter(state => state.usesCpu)
	.map(state => state.name));

/* The activity chart's bucket of each state, by state index. */
export function stateBucket(index)
{
	const state = DEFS[index];
	return state ? state.bucket : null;
}

const darkQuery = window.matchMedia('(prefers-color-scheme: dark)');

export function isDark()
{
	return darkQuery.matches;
}

export function stateColour(state)
{
	const def = DEFS[INDEX.has(state) ? INDEX.get(state) : OTHER_INDEX];
	return isDark() ? def.dark : def.light;
}

export function stateIndex(state)
{
	const index = INDEX.get(state);
	return index === undefined ? OTHER_INDEX : index;
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
