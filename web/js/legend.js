/*
 * legend: one button per state with its colour and name.  Pressing a button
 * hides or shows that state on every timeline; aria-pressed tells assistive
 * technology which states are shown.  States that the current run never
 * entered are dimmed, not removed, so the legend keeps one layout.
 */

import { STATES, STATE_HELP, stateColour } from './palette.js';
import { el, clear } from './dom.js';

export class Legend {
	constructor(root, onToggle)
	{
		this.root = root;
		this.onToggle = onToggle;
		this.buttons = [];
		this.build();
	}

	build()
	{
		clear(this.root);
		this.buttons = STATES.map((state, index) => {
			const button = el('button', 'legend-item');
			button.type = 'button';
			button.setAttribute('aria-pressed', 'true');
			button.title = `${state}: ${STATE_HELP[state]} ` +
				'(press to hide or show)';
			const swatch = el('span', 'swatch');
			swatch.style.backgroundColor = stateColour(state);
			button.append(swatch, el('span', null, state));
			button.addEventListener('click', () => {
				const shown = button.getAttribute(
					'aria-pressed') === 'true';
				button.setAttribute('aria-pressed',
						    String(!shown));
				this.onToggle(index, shown);
			});
			this.root.append(button);
			return button;
		});
	}

	/* Dims the states absent from segments (state indices). */
	markPresent(present)
	{
		this.buttons.forEach((button, index) =>
			button.classList.toggle('absent', !present.has(index)));
	}

	applyTheme()
	{
		this.buttons.forEach((button, index) => {
			button.querySelector('.swatch').style.backgroundColor =
				stateColour(STATES[index]);
		});
	}
}
