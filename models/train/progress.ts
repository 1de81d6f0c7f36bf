/**
 * The per-epoch progress bar on stderr: samples, running loss and accuracy, elapsed time and ETA.
 * On a terminal it redraws one line with `\r`; otherwise (logs, CI) it prints a line at every
 * 10 % so a log stays short.
 *
 * @module
 */

/** Where progress text goes (a test passes an array-backed sink). */
export interface ProgressSink {
  write(text: string): void;
  readonly isTerminal: boolean;
}

/** stderr as a {@link ProgressSink}. */
export function stderrSink(): ProgressSink {
  const enc = new TextEncoder();
  return {
    write: (t) => void Deno.stderr.writeSync(enc.encode(t)),
    isTerminal: Deno.stderr.isTerminal(),
  };
}

/** A sink that prints nothing. */
export const silentSink: ProgressSink = { write() {}, isTerminal: false };

/** @returns `m:ss` (or `h:mm:ss`) for a number of seconds */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const mm = h > 0 ? String(m).padStart(2, "0") : String(m);
  return `${h > 0 ? `${h}:` : ""}${mm}:${String(r).padStart(2, "0")}`;
}

/**
 * One epoch's bar.
 *
 * @example
 * ```ts
 * import { EpochProgress, silentSink } from "./progress.ts";
 * const p = new EpochProgress(silentSink, "epoch 1/1", 1000);
 * p.update(500, 0.3, 0.91);
 * p.finish("val acc 97.00%");
 * ```
 */
export class EpochProgress {
  readonly #sink: ProgressSink;
  readonly #label: string;
  readonly #total: number;
  readonly #start = performance.now();
  #lastDecile = -1;
  #lastDraw = 0;
  #line = "";

  /**
   * @param sink where to write
   * @param label prefix, e.g. `epoch 2/5`
   * @param total samples in the epoch
   */
  constructor(sink: ProgressSink, label: string, total: number) {
    this.#sink = sink, this.#label = label, this.#total = total;
  }

  /**
   * @param done samples processed so far
   * @param loss mean loss so far
   * @param acc accuracy so far (0..1)
   */
  update(done: number, loss: number, acc: number): void {
    const elapsed = (performance.now() - this.#start) / 1000;
    const eta = done > 0 ? elapsed * (this.#total - done) / done : 0;
    const width = 24, fill = Math.round(width * done / this.#total);
    const bar = "=".repeat(fill) + (fill < width ? ">" + " ".repeat(width - fill - 1) : "");
    this.#line =
      `${this.#label} [${bar}] ${
        String(done).padStart(String(this.#total).length)
      }/${this.#total}` +
      ` loss ${loss.toFixed(4)} acc ${(acc * 100).toFixed(2)}% ${formatDuration(elapsed)}` +
      ` eta ${formatDuration(eta)}`;
    if (this.#sink.isTerminal) {
      const now = performance.now();
      if (now - this.#lastDraw < 100 && done < this.#total) return;
      this.#lastDraw = now;
      this.#sink.write(`\r${this.#line}\x1b[K`);
    } else {
      const decile = Math.floor(10 * done / this.#total);
      if (decile > this.#lastDecile) {
        this.#lastDecile = decile;
        if (decile < 10) this.#sink.write(this.#line + "\n");
      }
    }
  }

  /** Ends the bar with the final figures and a suffix (e.g. validation accuracy). */
  finish(suffix: string): void {
    const elapsed = (performance.now() - this.#start) / 1000;
    const line = this.#line.replace(/ eta \S+$/, "") || `${this.#label} ${formatDuration(elapsed)}`;
    this.#sink.write(
      `${this.#sink.isTerminal ? "\r" : ""}${line} | ${suffix}` +
        (this.#sink.isTerminal ? "\x1b[K\n" : "\n"),
    );
  }
}
