/**
 * The single-threaded API of an emitted module: `load`, `backend`, `predict`, `predictBatch`,
 * over the engine the target's loader instantiates.
 *
 * @module
 */
import { CLASSES, INPUT_AT, INPUT_LENGTH, OUTPUT_AT, POISON_ARENA, WEIGHTS } from "./generated.ts";
import { instantiate } from "./loader.ts";
import type { BatchPrediction, Engine, Prediction } from "./types.ts";

let engine: Engine | undefined;
let loading: Promise<void> | undefined;

/**
 * Instantiates the model once (idempotent); await it before {@link predict}.
 *
 * @returns resolves when the model is ready
 */
export function load(): Promise<void> {
  loading ??= instantiate(WEIGHTS).then(useEngine);
  return loading;
}

/** Makes `e` the engine behind the API (`load`, or a pool worker with kernels it was sent). */
function useEngine(e: Engine): void {
  engine = e;
  loading ??= Promise.resolve();
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

/**
 * Validates an input batch: its type, `count`, its length and (floats) every value.
 *
 * @returns the number of values, read once from the array's own byte length
 */
function check(images: unknown, count: number, what: string): number {
  const kind = typedArrayKind.call(images);
  if (kind !== "Uint8Array" && kind !== "Float32Array") {
    throw new TypeError(
      `${what}: expected a Uint8Array or Float32Array of pixel values 0..255, got ${
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
      const v = values[i];
      if (!(v >= 0 && v <= 255)) {
        throw new RangeError(`${what}: value ${v} at index ${i} is not a pixel value in 0..255`);
      }
    }
  }
  return length;
}

function argmax(p: Float32Array, at: number): number {
  let best = 0;
  for (let i = 1; i < CLASSES; i++) if (p[at + i] > p[at + best]) best = i;
  return best;
}

function runOne(e: Engine, images: Uint8Array | Float32Array, index: number): void {
  const a = e.arena;
  if (POISON_ARENA) a.fill(NaN);
  const from = index * INPUT_LENGTH;
  for (let i = 0; i < INPUT_LENGTH; i++) a[INPUT_AT + i] = images[from + i];
  e.run();
}

const result: Prediction = { digit: 0, probabilities: new Float32Array(CLASSES) };

/**
 * Classifies one image.
 *
 * @param image `info.inputLength` raw pixel values 0..255 (row-major)
 * @returns the digit and the probabilities; the same object is reused by the next call
 * @throws TypeError for anything but a Uint8Array or Float32Array; RangeError for another length
 *   or (floats) a value outside 0..255
 */
export function predict(image: Uint8Array | Float32Array): Prediction {
  const e = ready();
  check(image, 1, "predict");
  runOne(e, image, 0);
  const p = result.probabilities;
  for (let i = 0; i < CLASSES; i++) p[i] = e.arena[OUTPUT_AT + i];
  result.digit = argmax(p, 0);
  return result;
}

let digits = new Uint8Array(0);
let probabilities = new Float32Array(0);

/**
 * Classifies `count` images stored one after another.
 *
 * @param images count * `info.inputLength` raw pixel values 0..255
 * @param count the number of images
 * @returns digits and probabilities (count * `info.classes`); views reused by the next call
 */
export function predictBatch(images: Uint8Array | Float32Array, count: number): BatchPrediction {
  const e = ready();
  check(images, count, "predictBatch");
  if (digits.length < count) {
    digits = new Uint8Array(count);
    probabilities = new Float32Array(count * CLASSES);
  }
  for (let n = 0; n < count; n++) {
    runOne(e, images, n);
    for (let i = 0; i < CLASSES; i++) probabilities[n * CLASSES + i] = e.arena[OUTPUT_AT + i];
    digits[n] = argmax(probabilities, n * CLASSES);
  }
  return {
    digits: digits.subarray(0, count),
    probabilities: probabilities.subarray(0, count * CLASSES),
  };
}

export { check, typedArrayKind, typedArrayProto, useEngine };
