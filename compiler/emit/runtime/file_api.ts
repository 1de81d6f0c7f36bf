/**
 * The public API of a file-type classifier module (Magika): a whole file's bytes in, its content
 * type out. Each file becomes its 1536 byte tokens (byte_tokens.ts, as ggml's example reads a
 * file), the tokens run through the compiled graph, and the probabilities are named by
 * `info.labels`.
 *
 * @module
 */
import { CLASSES, info, INPUT_LENGTH, INPUT_MAX } from "./generated.ts";
import { predictVector, predictVectors, typedArrayKind } from "./api.ts";
import { fileTokens } from "./byte_tokens.ts";
import { createVectorPool } from "./pool.ts";
import type { PoolOptions } from "./types.ts";

/** What a file is: the top label, its probability, and every label's probability. */
export interface FilePrediction {
  /** The most probable label (`info.labels`). */
  label: string;
  /** Its probability. */
  score: number;
  /** One probability per label, in `info.labels` order (a new array). */
  probabilities: Float32Array;
}

/** Many files' predictions: `labels[i]`, `scores[i]`, and `classes` probabilities per file. */
export interface FileBatchPrediction {
  labels: string[];
  scores: Float32Array;
  /** files x `info.classes`, file after file. */
  probabilities: Float32Array;
}

/** A pool of workers classifying files; from {@link createPool}. */
export interface FilePool {
  readonly size: number;
  readonly shared: boolean;
  /** Classifies `files` over the workers; the same results as {@link predictBatch}. */
  predictBatch(files: readonly Uint8Array[]): Promise<FileBatchPrediction>;
  /** Ends the workers; pending calls reject. */
  close(): Promise<void>;
}

const LABELS: readonly string[] = info.labels ?? [];

/** The tokens of `file` as the floats the graph reads; `what` names the caller in errors. */
function tokensOf(file: unknown, what: string): Float32Array {
  if (typedArrayKind.call(file) !== "Uint8Array") {
    throw new TypeError(`${what}: expected a Uint8Array of a file's bytes, got ${describe(file)}`);
  }
  return Float32Array.from(fileTokens(file as Uint8Array));
}

function describe(x: unknown): string {
  if (x === null) return "null";
  if (typeof x !== "object") return typeof x;
  return typedArrayKind.call(x) ?? x.constructor?.name ?? "an object";
}

/** The label, score and a copy of the probabilities at `p[at ..]`. */
function named(p: Float32Array, at: number): FilePrediction {
  const probabilities = p.slice(at, at + CLASSES);
  let best = 0;
  for (let i = 1; i < CLASSES; i++) if (probabilities[i]! > probabilities[best]!) best = i;
  return { label: LABELS[best]!, score: probabilities[best]!, probabilities };
}

/**
 * Classifies one file by its content.
 *
 * @param bytes the whole file (only its first, middle and last 512 bytes are read)
 * @returns the top label, its probability and all probabilities in `info.labels` order
 * @throws TypeError when `bytes` is not a Uint8Array
 * @example
 * ```ts ignore
 * await load();
 * const { label, score } = predict(await Deno.readFile("README.md")); // "markdown", 0.99...
 * ```
 */
export function predict(bytes: Uint8Array): FilePrediction {
  return named(predictVector(tokensOf(bytes, "predict"), "predict").probabilities, 0);
}

/**
 * Classifies one file from its tokens, for callers that extract them themselves.
 *
 * @param tokens `info.inputLength` (1536) integers 0..256 (256: padding), any array of numbers
 * @returns as {@link predict}
 * @throws TypeError when `tokens` is not an array or typed array; RangeError for another length
 *   or a value that is not an integer 0..256
 */
export function predictTokens(tokens: ArrayLike<number>): FilePrediction {
  if (tokens === null || typeof tokens !== "object" || typeof tokens.length !== "number") {
    throw new TypeError(
      `predictTokens: expected an array of ${INPUT_LENGTH} tokens, got ${describe(tokens)}`,
    );
  }
  if (tokens.length !== INPUT_LENGTH) {
    throw new RangeError(`predictTokens: expected ${INPUT_LENGTH} tokens, got ${tokens.length}`);
  }
  const t = new Float32Array(INPUT_LENGTH);
  for (let i = 0; i < INPUT_LENGTH; i++) {
    const v = tokens[i];
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > INPUT_MAX) {
      throw new RangeError(
        `predictTokens: token ${String(v)} at index ${i} is not an integer 0..${INPUT_MAX}`,
      );
    }
    t[i] = v;
  }
  return named(predictVector(t, "predictTokens").probabilities, 0);
}

/** The tokens of every file, one after another. */
function batchTokens(files: unknown, what: string): Float32Array {
  if (!Array.isArray(files)) {
    throw new TypeError(`${what}: expected an array of Uint8Array files, got ${describe(files)}`);
  }
  const all = new Float32Array(files.length * INPUT_LENGTH);
  files.forEach((f, i) => all.set(tokensOf(f, `${what}: file ${i}`), i * INPUT_LENGTH));
  return all;
}

function namedBatch(p: Float32Array, count: number): FileBatchPrediction {
  const labels: string[] = [], scores = new Float32Array(count);
  for (let n = 0; n < count; n++) {
    const r = named(p, n * CLASSES);
    labels.push(r.label);
    scores[n] = r.score;
  }
  return { labels, scores, probabilities: p.slice(0, count * CLASSES) };
}

/**
 * Classifies many files.
 *
 * @param files each file's bytes
 * @returns labels, scores and probabilities (files x `info.classes`), new arrays
 * @throws TypeError when `files` is not an array of Uint8Array
 */
export function predictBatch(files: readonly Uint8Array[]): FileBatchPrediction {
  const tokens = batchTokens(files, "predictBatch");
  return namedBatch(
    predictVectors(tokens, files.length, "predictBatch").probabilities,
    files.length,
  );
}

/**
 * Starts `n` workers that each run this module, for many files on several cores.
 *
 * @param n number of workers, an integer from 1 to 64
 * @param options `shared`: force or forbid SharedArrayBuffers
 * @returns the pool; call `close()` when done
 * @example
 * ```ts ignore
 * const pool = await createPool(2);
 * const { labels } = await pool.predictBatch(files);
 * await pool.close();
 * ```
 */
export async function createPool(n: number, options: PoolOptions = {}): Promise<FilePool> {
  const pool = await createVectorPool(n, options);
  return {
    size: pool.size,
    shared: pool.shared,
    async predictBatch(files) {
      const tokens = batchTokens(files, "pool.predictBatch");
      const r = await pool.predictBatch(tokens, files.length);
      return namedBatch(r.probabilities, files.length);
    },
    close: () => pool.close(),
  };
}
