/*
 * dom: the few helpers every view uses to build its nodes.  Data only ever
 * becomes text nodes (textContent), never markup, so a task name or a server
 * message cannot inject anything into the page.
 */

/* Creates an element with a class and text. */
export function el(tag, className, text)
{
	const node = document.createElement(tag);
	if (className)
		node.className = className;
	if (text !== undefined && text !== null)
		node.textContent = String(text);
	return node;
}

export function clear(node)
{
	while (node.firstChild)
		node.removeChild(node.firstChild);
}

export function byId(id)
{
	const node = document.getElementById(id);
	if (!node)
		throw new Error(`page is missing #${id}`);
	return node;
}

/* Starts a download of url (same origin) as a file. */
export function download(url, filename)
{
	const a = document.createElement('a');
	a.href = url;
	if (filename)
		a.download = filename;
	a.hidden = true;
	document.body.appendChild(a);
	a.click();
	a.remove();
}
