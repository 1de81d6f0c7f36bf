/**
 * The single-threaded core of an emitted module: `load`, `backend`, and the runs of one input
 * vector or many over the engine the target's loader instantiates. The public `predict` and
 * `predictBatch` are image_api.ts's (pixels -> digit) or file_api.ts's (file bytes -> label).
 *
 * @module
 */
import {
  CLASSES,
  INPUT_AT,
  INPUT_LENGTH,
  INPUT_MAX,
  OUTPUT_AT,
  POISON_ARENA,
  WEIGHTS,
  WEIGHTS_FILE,
} from "./generated.ts";
import { compileKernels, instantiate } from "./loader.ts";
import type { BatchEngine, BatchPrediction, Engine, LoadOptions, Prediction } from "./types.ts";

let engine: Engine | undefined;
let loading: Promise<void> | undefined;

/**
 * Instantiates the model once (idempotent; options count on the first call, and after a failed
 * one); await it before {@link predict}. It ends with one run on a zero input, so that the first
 * `predict` does not pay for compiling the kernels (engines compile WASM functions lazily, on
 * their first call).
 *
 * @param options `wasm`: where a `--split` module's weights file is, when not beside the module
 * @returns resolves when the model is ready
 */
export function load(options: LoadOptions = {}): Promise<void> {
  if (options.wasm !== undefined && !WEIGHTS_FILE) {
    return Promise.reject(
      new TypeError("load({ wasm }): this module embeds its weights (it was not compiled --split)"),
    );
  }
  if (!loading) {
    loading = compileKernels(options.wasm)
      .then((kernels) => instantiate(WEIGHTS, kernels))
      .then(useEngine);
    // A failure is not kept, so load() can be called again (e.g. with another `wasm`).
    loading.catch(() => loading = undefined);
  }
  return loading;
}

/** Makes `e` the engine behind the API (`load`, or a pool worker with kernels it was sent). */
function useEngine(e: Engine): void {
  warmUp(e);
  engine = e;
  loading ??= Promise.resolve();
}

/** One run of the batch-1 kernels on a zero input (a valid input of every model). */
function warmUp(e: Engine): void {
  e.arena.fill(0, INPUT_AT, INPUT_AT + INPUT_LENGTH);
  e.run();
}

function ready(): Engine {
  if (!engine) throw new Error("the model is not loaded: await load() before predict()");
  return engine;
}

/**
 * Which code runs: "wasm-relaxed-simd", "wasm-simd128" or "ts".
 *
 * @returns the backend name
 */
export function backend(): string {
  return ready().backend;
}

/**
 * The engine's own accessors of a typed array, taken from %TypedArray%.prototype once: the kind
 * (its [[TypedArrayName]]: undefined for anything else, a Proxy included) and the byte length.
 * A subclass or an object with a swapped prototype cannot fake either, so the input checks read
 * each input's length once and truly, and no loop can run past the end of the data.
 */
const typedArrayProto = Object.getPrototypeOf(Uint8Array.prototype) as object;
const typedArrayKind = Object.getOwnPropertyDescriptor(typedArrayProto, Symbol.toStringTag)!
  .get as (this: unknown) => string | undefined;
const typedArrayByteLength = Object.getOwnPropertyDescriptor(typedArrayProto, "byteLength")!
  .get as (this: unknown) => number;

/** %TypedArray%.prototype's own `buffer` and `byteOffset` accessors. */
const typedArrayBuffer = Object.getOwnPropertyDescriptor(typedArrayProto, "buffer")!
  .get as (this: unknown) => ArrayBufferLike;
const typedArrayByteOffset = Object.getOwnPropertyDescriptor(typedArrayProto, "byteOffset")!
  .get as (this: unknown) => number;

/**
 * A plain view of a checked input's `length` values: the batch path and the pool copy from it
 * and never call a method of the caller's object (a subclass could override `subarray`).
 */
function plainView(images: Uint8Array | Float32Array, length: number): Uint8Array | Float32Array {
  const buffer = typedArrayBuffer.call(images), offset = typedArrayByteOffset.call(images);
  return typedArrayKind.call(images) === "Float32Array"
    ? new Float32Array(buffer, offset, length)
    : new Uint8Array(buffer, offset, length);
}

/** How an input that is not a Uint8Array or Float32Array is named in the error. */
function describeInput(x: unknown, kind: string | undefined): string {
  if (x === null) return "null";
  if (typeof x !== "object") return typeof x;
  if (kind !== undefined) return kind;
  const name = x.constructor?.name;
  return x instanceof Uint8Array || x instanceof Float32Array
    ? `${name} (not a typed array)`
    : name;
}

/** What an input holds, for errors: pixels (images) or byte tokens (file_api.ts). */
const INPUT_VALUES = INPUT_MAX === 255 ? "pixel values 0..255" : `tokens 0..${INPUT_MAX}`;
const INPUT_VALUE = INPUT_MAX === 255 ? "a pixel value in 0..255" : `a token in 0..${INPUT_MAX}`;

/**
 * Validates an input batch: its type, `count`, its length and (floats) every value.
 *
 * @returns the number of values, read once from the array's own byte length
 */
function check(images: unknown, count: number, what: string): number {
  const kind = typedArrayKind.call(images);
  if (kind !== "Uint8Array" && kind !== "Float32Array") {
    throw new TypeError(
      `${what}: expected a Uint8Array or Float32Array of ${INPUT_VALUES}, got ${
        describeInput(images, kind)
      }`,
    );
  }
  const length = typedArrayByteLength.call(images) / (kind === "Float32Array" ? 4 : 1);
  if (!Number.isInteger(count) || count < 0) {
    throw new RangeError(`${what}: count must be a non-negative integer, got ${count}`);
  }
  if (length !== INPUT_LENGTH * count) {
    throw new RangeError(
      `${what}: expected ${
        INPUT_LENGTH * count
      } values (${count} x ${INPUT_LENGTH}), got ${length}`,
    );
  }
  if (kind === "Float32Array") {
    const values = images as Float32Array;
    for (let i = 0; i < length; i++) {
      const v = values[i]!;
      if (!(v >= 0 && v <= INPUT_MAX && (INPUT_MAX === 255 || Number.isInteger(v)))) {
        throw new RangeError(`${what}: value ${v} at index ${i} is not ${INPUT_VALUE}`);
      }
    }
  }
  return length;
}

function argmax(p: Float32Array, at: number): number {
  let best = 0;
  for (let i = 1; i < CLASSES; i++) if (p[at + i]! > p[at + best]!) best = i;
  return best;
}

function runOne(e: Engine, images: Uint8Array | Float32Array, index: number): void {
  const a = e.arena;
  if (POISON_ARENA) a.fill(NaN);
  const from = index * INPUT_LENGTH;
  for (let i = 0; i < INPUT_LENGTH; i++) a[INPUT_AT + i] = images[from + i]!;
  e.run();
}

const result: Prediction = { digit: 0, probabilities: new Float32Array(CLASSES) };

/** Runs one input vector; the result (argmax in `digit`) is reused by the next call. */
function predictVector(image: Uint8Array | Float32Array, what = "predict"): Prediction {
  const e = ready();
  check(image, 1, what);
  runOne(e, image, 0);
  const p = result.probabilities;
  for (let i = 0; i < CLASSES; i++) p[i] = e.arena[OUTPUT_AT + i]!;
  result.digit = argmax(p, 0);
  return result;
}

/**
 * Runs `b.images` inputs from `from` through the batch kernels (one chunk) and stores their
 * probabilities and digits at `from` in the outputs. `images` is a plain view (plainView).
 */
function runChunk(
  e: Engine,
  b: BatchEngine,
  images: Uint8Array | Float32Array,
  from: number,
  digits: Uint8Array,
  probabilities: Float32Array,
): void {
  if (POISON_ARENA) (e.arena.fill(NaN), b.arena.fill(NaN));
  const values = images.subarray(from * INPUT_LENGTH, (from + b.images) * INPUT_LENGTH);
  // Bytes go in as they are and are widened inside WASM; floats are copied (stride = length).
  if (values instanceof Uint8Array) b.bytes.set(values);
  else b.input.set(values);
  b.run(values instanceof Uint8Array ? 1 : 0);
  const out = b.output;
  for (let n = 0; n < b.images; n++) {
    const at = (from + n) * CLASSES;
    for (let i = 0; i < CLASSES; i++) probabilities[at + i] = out[n * b.outputStride + i]!;
    digits[from + n] = argmax(probabilities, at);
  }
}

let digits = new Uint8Array(0);
let probabilities = new Float32Array(0);

/**
 * Runs `count` input vectors stored one after another; views reused by the next call. Full
 * chunks go through the batch kernels when the engine has them (`e.batch`), the rest through
 * the batch-1 kernels.
 */
function predictVectors(
  images: Uint8Array | Float32Array,
  count: number,
  what = "predictBatch",
): BatchPrediction {
  const e = ready();
  const length = check(images, count, what);
  if (digits.length < count) {
    digits = new Uint8Array(count);
    probabilities = new Float32Array(count * CLASSES);
  }
  // Whole chunks through the batch kernels, the rest one by one (same results either way).
  let n = 0;
  const b = e.batch;
  if (b && count >= b.images) {
    const input = plainView(images, length);
    for (; n + b.images <= count; n += b.images) runChunk(e, b, input, n, digits, probabilities);
  }
  for (; n < count; n++) {
    runOne(e, images, n);
    for (let i = 0; i < CLASSES; i++) probabilities[n * CLASSES + i] = e.arena[OUTPUT_AT + i]!;
    digits[n] = argmax(probabilities, n * CLASSES);
  }
  return {
    digits: digits.subarray(0, count),
    probabilities: probabilities.subarray(0, count * CLASSES),
  };
}

/** Images per chunk of the batch path (1: none), once loaded; the pool sizes its chunks by it. */
function chunkImages(): number {
  return engine?.batch?.images ?? 1;
}

export {
  check,
  chunkImages,
  plainView,
  predictVector,
  predictVectors,
  typedArrayKind,
  typedArrayProto,
  useEngine,
};
