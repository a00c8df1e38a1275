/*
 * palette: the segment states as the page draws them, and the colour of
 * each.  The states, their order, their help and their colours are the
 * catalog's (vocabulary.js): the engine's protocol module picks each
 * state's colour, and this module only reads it.
 *
 * Colours come from the Okabe-Ito set and Paul Tol's muted set, both chosen
 * to stay distinct under the common forms of colour blindness.  A state
 * that brings no colour of its own gets the one at its colour slot
 * ("colour_slot", or else its place in the catalog's list) in SAFE_COLOURS,
 * that same ordered list, so a state new to the page still has a colour
 * and a swatch in the legend.  The legend and tooltips always name the
 * state in words, since more states than hues are told apart.
 *
 * A segment whose state the catalog does not name (a trace from another
 * engine) is drawn as the last state here, "other", in grey.
 */

import { STATE_DEFS } from './vocabulary.js';

/* Okabe-Ito, then Paul Tol's muted set: the order of the colour slots.
 * Each entry: [light scheme, dark scheme]. */
export const SAFE_COLOURS = [
	['#0072B2', '#0072B2'], ['#009E73', '#009E73'],
	['#D55E00', '#D55E00'], ['#CC79A7', '#CC79A7'],
	['#E69F00', '#E69F00'], ['#F0E442', '#F0E442'],
	['#56B4E9', '#56B4E9'], ['#332288', '#8877DD'],
	['#117733', '#44AA66'], ['#44AA99', '#44AA99'],
	['#88CCEE', '#88CCEE'], ['#DDCC77', '#DDCC77'],
	['#CC6677', '#CC6677'], ['#AA4499', '#CC77BB'],
	['#882255', '#BB5588'], ['#999933', '#999933'],
	['#BBCC33', '#BBCC33'], ['#BBBBBB', '#777777'],
];

const OTHER = {
	name: 'other',
	help: 'a state the server\'s catalog does not name',
	colour: '#888888',
	colour_dark: '#888888',
};

const HEX = /^#[0-9a-f]{6}$/i;

function slotColours(state, index)
{
	const slot = Number.isInteger(state.colour_slot) ?
		state.colour_slot : index;
	return SAFE_COLOURS[((slot % SAFE_COLOURS.length) +
			     SAFE_COLOURS.length) % SAFE_COLOURS.length];
}

/* Each state: {name, help, bucket, usesCpu, light, dark}. */
const DEFS = [...STATE_DEFS, OTHER].map((state, index) => {
	const [light, dark] = slotColours(state, index);
	const own = HEX.test(state.colour || '') ? state.colour : null;
	const ownDark = HEX.test(state.colour_dark || '') ?
		state.colour_dark : own;
	return {
		name: String(state.name),
		help: state.help || '',
		bucket: state.bucket || null,
		usesCpu: state.uses_cpu === true,
		light: own || light,
		dark: ownDark || dark,
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
