/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * The ten class probabilities as a bar chart of plain DOM elements (no canvas, so it stays
 * crisp, accessible and testable: each bar carries `data-p` with its probability).
 *
 * @module
 */

/** A bar chart with one bar per class. */
export class ProbabilityChart {
  readonly #bars: { root: HTMLElement; fill: HTMLElement; pct: HTMLElement }[] = [];

  /**
   * @param host the element to fill with bars
   * @param classes number of bars
   */
  constructor(host: HTMLElement, classes = 10) {
    host.replaceChildren();
    for (let c = 0; c < classes; c++) {
      const root = document.createElement("div");
      root.className = "bar";
      root.setAttribute("role", "listitem");
      root.dataset.digit = String(c);
      const track = document.createElement("div");
      track.className = "bar-track";
      const fill = document.createElement("div");
      fill.className = "bar-fill";
      const pct = document.createElement("div");
      pct.className = "bar-pct";
      track.append(fill, pct);
      const label = document.createElement("div");
      label.className = "bar-label";
      label.textContent = String(c);
      root.append(track, label);
      host.append(root);
      this.#bars.push({ root, fill, pct });
    }
  }

  /**
   * Shows probabilities; null empties the chart.
   *
   * @param probabilities one value per class, summing to 1
   */
  update(probabilities: ArrayLike<number> | null): void {
    let top = -1;
    if (probabilities) {
      for (let c = 0; c < this.#bars.length; c++) {
        if (top < 0 || probabilities[c]! > probabilities[top]!) top = c;
      }
    }
    this.#bars.forEach((bar, c) => {
      const p = probabilities ? probabilities[c]! : 0;
      bar.fill.style.height = `${(p * 100).toFixed(2)}%`;
      // Labels only where they say something; the tiny ones would be clutter.
      bar.pct.textContent = probabilities && p >= 0.005 ? formatPercent(p) : "";
      bar.root.dataset.p = p.toFixed(6);
      bar.root.classList.toggle("top", c === top);
      bar.root.setAttribute("aria-label", `${c}: ${formatPercent(p)}`);
    });
  }
}

/** "97%", "3.1%", "<0.1%" or "0%". */
export function formatPercent(p: number): string {
  if (p <= 0) return "0%";
  if (p < 0.001) return "<0.1%";
  if (p < 0.1) return `${(p * 100).toFixed(1)}%`;
  return `${Math.round(p * 100)}%`;
}
