/*
 * tabs: the Timeline / ASCII / Compare switcher, following the WAI-ARIA
 * tabs pattern: the selected tab is in the tab order, arrow keys, Home and
 * End move between tabs, and each panel is labelled by its tab.
 */

export class Tabs {
	constructor(list, onSelect)
	{
		this.tabs = [...list.querySelectorAll('[role="tab"]')];
		this.onSelect = onSelect;
		for (const tab of this.tabs) {
			tab.addEventListener('click', () => this.select(tab.id));
			tab.addEventListener('keydown', event =>
				this.key(event, tab));
		}
	}

	/* Moves among the tabs shown (the page hides those that mean
	 * nothing for what is on view). */
	key(event, tab)
	{
		const shown = this.tabs.filter(t => !t.hidden);
		const i = shown.indexOf(tab);
		const n = shown.length;
		const next = {
			ArrowRight: (i + 1) % n,
			ArrowLeft: (i - 1 + n) % n,
			Home: 0,
			End: n - 1,
		}[event.key];
		if (next === undefined || i < 0)
			return;
		event.preventDefault();
		this.select(shown[next].id);
		shown[next].focus();
	}

	selected()
	{
		const tab = this.tabs.find(t =>
			t.getAttribute('aria-selected') === 'true');
		return tab ? tab.id : null;
	}

	select(id)
	{
		for (const tab of this.tabs) {
			const on = tab.id === id;
			tab.setAttribute('aria-selected', String(on));
			tab.tabIndex = on ? 0 : -1;
			const panel = document.getElementById(
				tab.getAttribute('aria-controls'));
			panel.hidden = !on;
		}
		if (this.onSelect)
			this.onSelect(id);
	}
}
