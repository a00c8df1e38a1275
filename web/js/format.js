/*
 * format: numbers as people read them.  Times arrive in nanoseconds; the page
 * shows them in the unit that fits (us, ms, s) with three significant
 * digits, and the timeline's axis picks ms or s for the whole visible range.
 * A number and its unit are joined by a no-break space, so a line never
 * ends between "2.00" and "s".
 */

const NBSP = '\u00a0';

export function formatNs(ns)
{
	if (ns === null || ns === undefined || !Number.isFinite(ns))
		return '–';
	const abs = Math.abs(ns);
	if (abs >= 1e9)
		return `${trim(ns / 1e9)}${NBSP}s`;
	if (abs >= 1e6)
		return `${trim(ns / 1e6)}${NBSP}ms`;
	if (abs >= 1e3)
		return `${trim(ns / 1e3)}${NBSP}µs`;
	return `${Math.round(ns)}${NBSP}ns`;
}

/* Three significant digits, without trailing zeros beyond them. */
function trim(value)
{
	const abs = Math.abs(value);
	if (abs >= 100)
		return value.toFixed(0);
	if (abs >= 10)
		return value.toFixed(1);
	return value.toFixed(2);
}

/* The axis unit for a visible range given in milliseconds. */
export function axisUnit(rangeMs)
{
	return rangeMs >= 2000 ? 's' : 'ms';
}

export function formatAxisMs(valueMs, unit)
{
	if (unit === 's') {
		const s = valueMs / 1000;
		return `${Number(s.toPrecision(6))} s`;
	}
	return `${Number(valueMs.toPrecision(6))} ms`;
}

export function formatRatio(x)
{
	if (x === null || x === undefined || !Number.isFinite(x))
		return '–';
	return `${x.toFixed(2)}×`;
}

export function formatPercent(fraction)
{
	if (fraction === null || fraction === undefined ||
	    !Number.isFinite(fraction))
		return '–';
	return `${(fraction * 100).toFixed(0)} %`;
}

export function formatCount(n)
{
	if (n === null || n === undefined)
		return '–';
	if (typeof n === 'number')
		return n.toLocaleString('en-US');
	return String(n);
}

/* Bytes in the binary unit that fits: "512 B", "4.00 MiB". */
export function formatBytes(n)
{
	if (n === null || n === undefined || !Number.isFinite(n))
		return '–';
	const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
	let value = n;
	let unit = 0;
	while (Math.abs(value) >= 1024 && unit < units.length - 1) {
		value /= 1024;
		unit++;
	}
	return unit === 0 ? `${n}${NBSP}B` :
		`${trim(value)}${NBSP}${units[unit]}`;
}

export function formatDate(iso)
{
	if (!iso)
		return '';
	const d = new Date(iso);
	if (Number.isNaN(d.getTime()))
		return String(iso);
	return d.toLocaleString(undefined, {
		month: 'short', day: 'numeric',
		hour: '2-digit', minute: '2-digit', second: '2-digit',
	});
}
