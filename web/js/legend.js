/*
 * legend: one button per state with its colour and name.  Pressing a button
 * hides or shows that state on every timeline; aria-pressed tells assistive
 * technology which states are shown.  Only the states the current run
 * entered are shown (style.css hides the others): fourteen swatches of
 * which two are on screen made the two hard to find.  The run's view and
 * the compare's each have a legend; setPressed keeps them in step.
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
			/* absent until a run says otherwise */
			const button = el('button', 'legend-item absent');
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

	/* Marks the states absent from present (state indices). */
	markPresent(present)
	{
		this.buttons.forEach((button, index) =>
			button.classList.toggle('absent', !present.has(index)));
		this.root.dataset.states = String(present.size);
	}

	/* Shows a state as shown (pressed) or hidden, without telling. */
	setPressed(index, pressed)
	{
		const button = this.buttons[index];
		if (button)
			button.setAttribute('aria-pressed', String(pressed));
	}

	applyTheme()
	{
		this.buttons.forEach((button, index) => {
			button.querySelector('.swatch').style.backgroundColor =
				stateColour(STATES[index]);
		});
	}
}
