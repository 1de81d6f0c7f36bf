/**
 * `ggufc run` on a file-type model (Magika): classify each FILE and print its top 5 labels as
 * ggml's examples/magika does, or one JSON object per line. A file that cannot be read is one
 * line on stderr naming it; the others are still classified, and the exit code says so at the
 * end.
 *
 * @module
 */
import { FormatError, IoError, printable, printableJson, UsageError } from "../ggml/errors.ts";
import { EXIT_FORMAT_ERROR, EXIT_IO_ERROR, EXIT_USAGE_ERROR } from "../ggml/errors.ts";
import type { FileClassifier } from "../reference/file_classifier.ts";
import { readFileSample } from "./file_sample.ts";

/** Labels printed per file, as ggml's example (`top_n`). */
export const TOP_N = 5;
/** Files per predictBatch call: results print as each slice is done. */
const SLICE = 64;

/**
 * Label indices by descending probability; equal probabilities keep label order.
 *
 * @param probs one file's probabilities
 */
export function rankLabels(probs: Float32Array): number[] {
  return Array.from(probs.keys()).sort((a, b) => probs[b]! - probs[a]! || a - b);
}

/**
 * ggml's line for one file: the name padded to 30 columns, then the top 5 labels with their
 * probabilities in percent, two decimals (`%-30s: ` then `%s (%.2f%%) ` in main.cpp; the trailing
 * space is left out).
 *
 * @param file the file name as given
 * @param probs its probabilities
 * @param labels the labels in output order
 */
export function formatTopLine(
  file: string,
  probs: Float32Array,
  labels: readonly string[],
): string {
  const top = rankLabels(probs).slice(0, TOP_N);
  const parts = top.map((k) => `${labels[k]} (${(probs[k]! * 100).toFixed(2)}%)`);
  return printable(`${file.padEnd(30)}: ${parts.join(" ")}`);
}

/**
 * The shortest decimal that reads back as the same float32 (`0.1f` prints as 0.1, not
 * 0.10000000149011612), so JSON stays short and exact.
 */
export function shortestF32(x: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  for (let digits = 1; digits < 9; digits++) {
    const y = Number(x.toPrecision(digits));
    if (Math.fround(y) === x) return y;
  }
  return x;
}

/**
 * The `--json` line for one file: `{"file","label","score","probabilities"}`.
 *
 * @param file the file name as given
 * @param probs its probabilities, in label order
 * @param labels the labels
 */
export function jsonLine(file: string, probs: Float32Array, labels: readonly string[]): string {
  const top = rankLabels(probs)[0]!;
  return printableJson(JSON.stringify({
    file,
    label: labels[top],
    score: shortestF32(probs[top]!),
    probabilities: Array.from(probs, shortestF32),
  }));
}

/** The exit code for an error reading a file (as main.ts maps them). */
export function exitCodeOf(e: unknown): number {
  if (e instanceof UsageError) return EXIT_USAGE_ERROR;
  if (e instanceof FormatError) return EXIT_FORMAT_ERROR;
  if (e instanceof IoError) return EXIT_IO_ERROR;
  throw e;
}

/**
 * Classifies `paths` with `classifier`, printing a line per file.
 *
 * @param command the command name for error lines (`run`)
 * @param classifier the engine
 * @param paths the files, in the order given
 * @param json print JSON lines instead of ggml's text
 * @returns 0 when every file was classified, else the exit code of the first failure
 */
export async function classifyFiles(
  command: string,
  classifier: FileClassifier,
  paths: readonly string[],
  json: boolean,
): Promise<number> {
  const labels = classifier.info.labels, n = labels.length;
  let code = 0;
  for (let start = 0; start < paths.length; start += SLICE) {
    const names: string[] = [], samples: Uint8Array[] = [];
    for (const path of paths.slice(start, start + SLICE)) {
      try {
        samples.push((await readFileSample(path)).bytes);
        names.push(path);
      } catch (e) {
        code ||= exitCodeOf(e);
        console.error(printable(`ggufc ${command}: ${(e as Error).message}`));
      }
    }
    if (samples.length === 0) continue;
    const { probabilities } = classifier.predictBatch(samples);
    names.forEach((name, i) => {
      const probs = probabilities.subarray(i * n, (i + 1) * n);
      console.log(json ? jsonLine(name, probs, labels) : formatTopLine(name, probs, labels));
    });
  }
  return code;
}
