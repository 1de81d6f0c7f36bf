/**
 * `ggufc eval` on a file-type model (Magika): classify every file under a folder and compare
 * each with its row of a TSV of expected results, in the format of the fixture's
 * ggml-magika.tsv: `path<TAB>label<TAB>p_0 .. p_112`, the path relative to the TSV's folder.
 * Prints the top-label agreement and the largest probability difference.
 *
 * @module
 */
import { dirname, join, relative, resolve, sep } from "node:path";
import { FormatError, printable, printableJson, UsageError } from "../ggml/errors.ts";
import { type FileClassifier, topOf } from "../reference/file_classifier.ts";
import { fileError, readInputFile } from "./files.ts";
import { readFileSample } from "./file_sample.ts";
import { exitCodeOf } from "./classify_files.ts";

/** Largest TSV accepted (the fixture's is 0.1 MiB for 77 files). */
const TSV_MAX_BYTES = 64 * 2 ** 20;
/** Files per predictBatch call. */
const SLICE = 64;

/** One expected result. */
export interface ExpectedRow {
  readonly label: string;
  readonly probs: Float32Array;
}

/**
 * Parses an expectations TSV; every line is checked (label known, one finite probability per
 * label).
 *
 * @param text the TSV
 * @param path its name, for errors
 * @param labels the model's labels
 * @returns rows by path (as written in the TSV, `/`-separated)
 * @throws FormatError naming the line and field of the first bad line
 */
export function parseExpectations(
  text: string,
  path: string,
  labels: readonly string[],
): Map<string, ExpectedRow> {
  const rows = new Map<string, ExpectedRow>();
  let offset = 0;
  for (const [i, line] of text.split("\n").entries()) {
    const at = offset;
    offset += new TextEncoder().encode(line).length + 1;
    if (line.trim() === "") continue;
    const bad = (field: string, expected: string, found: string) =>
      new FormatError(path, at, `line ${i + 1}: ${field}`, expected, found);
    const [file, label, ...probs] = line.replace(/\r$/, "").split("\t");
    if (!label || !labels.includes(label)) {
      throw bad("label", "one of the model's labels", `'${label ?? ""}'`);
    }
    if (probs.length !== labels.length) {
      throw bad("probabilities", `${labels.length} values`, `${probs.length}`);
    }
    const values = Float32Array.from(probs, Number);
    const k = values.findIndex((p, j) => !Number.isFinite(p) || probs[j]!.trim() === "");
    if (k >= 0) throw bad(`probability ${k + 1}`, "a number", `'${probs[k]}'`);
    if (rows.has(file!)) throw bad("path", "each path once", `'${file}' again`);
    rows.set(file!, { label, probs: values });
  }
  return rows;
}

/** Every regular file (or link to one) under `dir`, sorted, as paths joined onto `dir`. */
export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(d));
    } catch (e) {
      if (e instanceof Deno.errors.NotADirectory) {
        throw new UsageError(`--files '${d}' is not a directory`);
      }
      throw fileError(e, d, "read", "folder");
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory) await walk(p);
      else out.push(p);
    }
  };
  await walk(dir);
  return out;
}

/** What {@link evalFiles} measured. */
export interface FileEvalResult {
  readonly engine: string;
  /** Files under the folder. */
  readonly files: number;
  /** Files classified and compared (read, and with a row). */
  readonly compared: number;
  /** Of those, how many have the expected top label. */
  readonly agree: number;
  /** Largest |p - p_expected| over every compared file and label. */
  readonly maxDiff: number;
  /** The file (TSV path) of that difference. */
  readonly maxDiffFile: string;
  /** Files whose top label differs: TSV path, label found, label expected. */
  readonly disagreements: { file: string; label: string; expected: string }[];
}

/**
 * Classifies every file under `dir` and compares it with `tsv`.
 *
 * @param classifier the engine
 * @param dir the folder of files
 * @param tsv the expectations file
 * @returns the figures, and the exit code: 0, or the first failure's (a file unreadable or
 *   without a row; each is one line on stderr)
 */
export async function evalFiles(
  classifier: FileClassifier,
  dir: string,
  tsv: string,
): Promise<{ result: FileEvalResult; code: number }> {
  const labels = classifier.info.labels, n = labels.length;
  const text = new TextDecoder().decode(
    await readInputFile(tsv, { what: "TSV", maxBytes: TSV_MAX_BYTES }),
  );
  const rows = parseExpectations(text, tsv, labels);
  const base = dirname(resolve(tsv));
  const paths = await listFiles(dir);
  if (paths.length === 0) throw new UsageError(`--files '${dir}' holds no files`);
  let code = 0, compared = 0, agree = 0, maxDiff = 0, maxDiffFile = "";
  const disagreements: FileEvalResult["disagreements"] = [];
  const fail = (e: unknown) => {
    code ||= exitCodeOf(e);
    console.error(printable(`ggufc eval: ${(e as Error).message}`));
  };
  for (let start = 0; start < paths.length; start += SLICE) {
    const keys: string[] = [], samples: Uint8Array[] = [];
    for (const path of paths.slice(start, start + SLICE)) {
      const key = relative(base, resolve(path)).split(sep).join("/");
      if (!rows.has(key)) {
        fail(new UsageError(`'${path}' has no row in '${tsv}' (looked for '${key}')`));
        continue;
      }
      try {
        samples.push((await readFileSample(path)).bytes);
        keys.push(key);
      } catch (e) {
        fail(e);
      }
    }
    if (samples.length === 0) continue;
    const { probabilities } = classifier.predictBatch(samples);
    keys.forEach((key, i) => {
      const want = rows.get(key)!;
      const { label } = topOf(probabilities, labels, i);
      compared++;
      if (label === want.label) agree++;
      else disagreements.push({ file: key, label, expected: want.label });
      for (let j = 0; j < n; j++) {
        const d = Math.abs(probabilities[i * n + j]! - want.probs[j]!);
        if (d > maxDiff) [maxDiff, maxDiffFile] = [d, key];
      }
    });
  }
  const result = {
    engine: classifier.backend(),
    files: paths.length,
    compared,
    agree,
    maxDiff,
    maxDiffFile,
    disagreements,
  };
  return { result, code };
}

/** The text `eval` prints for {@link evalFiles}' result. */
export function formatFileEval(r: FileEvalResult): string {
  const pct = r.compared > 0 ? (100 * r.agree / r.compared).toFixed(2) : "0.00";
  const lines = [
    `${r.compared} of ${r.files} files compared (engine ${r.engine})`,
    `top label agrees on ${r.agree}/${r.compared} files (${pct} %)`,
    `largest probability difference ${r.maxDiff.toExponential(2)}` +
    (r.maxDiffFile ? ` (${r.maxDiffFile})` : ""),
    ...r.disagreements.map((d) => `disagrees: ${d.file}: ${d.label}, expected ${d.expected}`),
  ];
  return lines.map(printable).join("\n");
}

/** The `--json` line for {@link evalFiles}' result. */
export function jsonFileEval(r: FileEvalResult): string {
  return printableJson(JSON.stringify(r));
}
