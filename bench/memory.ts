/**
 * Peak resident memory of a process that loads an emitted module and runs 10,000
 * predictions, measured in a fresh subprocess so nothing else the benchmarks hold counts.
 * A baseline subprocess does the same work without the model (Deno, the MNIST test set), so the
 * model's own share is visible.
 *
 * As a script: `deno run -A bench/memory.ts MODULE.ts [COUNT]` (or `--baseline [COUNT]`) prints
 * one JSON line `{ "peakRssBytes": N, "rssBytes": N, "predictions": N, "source": "VmHWM" }`.
 *
 * @example
 * ```ts ignore
 * import { measurePeakRss } from "./memory.ts";
 * const m = await measurePeakRss("build/bench/mnist-cnn.wasm.js");
 * console.log(m.peakRssBytes);
 * ```
 *
 * @module
 */
import { loadEmittedModule } from "../compiler/emit/load.ts";
import { loadMnist } from "../data/mnist_data.ts";

/** Predictions each measurement runs. */
export const PREDICTIONS = 10_000;

/** What one measurement reports. */
export interface MemoryResult {
  /** Peak resident set size of the process (bytes). */
  readonly peakRssBytes: number;
  /** Resident set size at the end (bytes). */
  readonly rssBytes: number;
  /** Predictions run. */
  readonly predictions: number;
  /** Where the peak came from: `VmHWM` (Linux /proc) or `rss` (end-of-run RSS elsewhere). */
  readonly source: "VmHWM" | "rss";
}

/** Peak RSS from /proc/self/status (Linux), else the current RSS. */
function peakRss(): { bytes: number; source: "VmHWM" | "rss" } {
  try {
    const status = Deno.readTextFileSync("/proc/self/status");
    const kb = status.match(/^VmHWM:\s+(\d+)\s+kB/m);
    if (kb) return { bytes: Number(kb[1]) * 1024, source: "VmHWM" };
  } catch { /* not Linux */ }
  return { bytes: Deno.memoryUsage().rss, source: "rss" };
}

/**
 * Runs `count` predictions through the module at `path` (or none when `path` is null) in this
 * process and measures it.
 *
 * @param path the emitted module, or null for the baseline
 * @param count predictions
 * @returns the measurement
 */
export async function runInProcess(path: string | null, count: number): Promise<MemoryResult> {
  const pixels = loadMnist("test").images.pixels;
  const images = Math.floor(pixels.length / 784);
  let checksum = 0;
  if (path !== null) {
    const m = await loadEmittedModule(path);
    for (let i = 0; i < count; i++) {
      const k = i % images;
      checksum += m.predict(pixels.subarray(k * 784, (k + 1) * 784)).digit;
    }
  }
  if (checksum < 0) throw new Error("unreachable");
  const peak = peakRss();
  return {
    peakRssBytes: peak.bytes,
    rssBytes: Deno.memoryUsage().rss,
    predictions: path === null ? 0 : count,
    source: peak.source,
  };
}

/**
 * Measures in a fresh `deno run` subprocess.
 *
 * @param path the emitted module (`.ts` or `.js`), or null for the baseline
 * @param count predictions (default {@link PREDICTIONS})
 * @returns the subprocess's measurement
 */
export async function measurePeakRss(
  path: string | null,
  count = PREDICTIONS,
): Promise<MemoryResult> {
  const script = new URL(import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script, path ?? "--baseline", String(count)],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  if (!out.success) {
    throw new Error(
      `bench/memory.ts ${path ?? "--baseline"} failed: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  return JSON.parse(text.split("\n").pop()!) as MemoryResult;
}

if (import.meta.main) {
  const [what, n] = Deno.args;
  if (what === undefined) {
    console.error("usage: deno run -A bench/memory.ts MODULE.ts|--baseline [COUNT]");
    Deno.exit(2);
  }
  const count = n === undefined ? PREDICTIONS : Number(n);
  if (!Number.isInteger(count) || count < 0) {
    console.error(`COUNT must be a non-negative integer, got '${n}'`);
    Deno.exit(2);
  }
  console.log(JSON.stringify(await runInProcess(what === "--baseline" ? null : what, count)));
}
