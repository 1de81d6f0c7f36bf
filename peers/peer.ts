/**
 * What every peer engine provides, and helpers they share. A peer runs the same graph (the same
 * dequantised weights) in another engine, so the benchmarks compare like with like.
 *
 * @module
 */
import { dirname } from "node:path";
import { createRequire } from "node:module";
import { UsageError } from "../ggml/errors.ts";
import { argmax } from "../reference/interpreter.ts";
import { BYTE_TOKEN_COUNT } from "../compiler/emit/runtime/byte_tokens.ts";

/** Pixels per MNIST image. */
export const PIXELS = 784;
/** Classes of the MNIST models. */
export const CLASSES = 10;

/**
 * One inference engine loaded with one model. Calls are async because onnxruntime's `run` is;
 * the TF.js peer resolves immediately.
 */
export interface Peer {
  /** Short id, e.g. `ort-web`, `ort-node-2t`, `tfjs-wasm`. */
  readonly id: PeerId;
  /** What runs the model, for tables, e.g. `onnxruntime-web 1.30.0 (wasm, 1 thread)`. */
  readonly name: string;
  /** The digit predicted for one image (784 raw pixels 0..255, index x + 28*y). */
  predict(image: Uint8Array): Promise<number>;
  /** The 10 probabilities for one image (a fresh array). */
  predictProbs(image: Uint8Array): Promise<Float32Array>;
  /** The digit predicted for each of `count` images (`count * 784` pixels). */
  predictBatch(images: Uint8Array, count: number): Promise<Uint8Array>;
  /** The probabilities of `count` images, `count * 10` values. */
  predictBatchProbs(images: Uint8Array, count: number): Promise<Float32Array>;
  /** Frees the engine's resources. */
  dispose(): Promise<void>;
}

/** The peers {@link createPeers} can make. */
export type PeerId = "ort-web" | "ort-node-1t" | "ort-node-2t" | "tfjs-wasm";

/** All peer ids, in the order benchmarks list them. */
export const PEER_IDS: readonly PeerId[] = ["ort-web", "ort-node-1t", "ort-node-2t", "tfjs-wasm"];

/** Index of the largest of `n` values from `offset` (the interpreter's argmax). */
export const argmaxAt = argmax;

/** The argmax of each row of 10 probabilities. */
export function digitsOf(probs: Float32Array, count: number): Uint8Array {
  const digits = new Uint8Array(count);
  for (let i = 0; i < count; i++) digits[i] = argmax(probs, i * CLASSES, CLASSES);
  return digits;
}

/**
 * The four predict methods of a {@link Peer}, from one function that runs the engine on
 * `count` images given as raw pixel floats and returns (at least) `count * 10` probabilities.
 * Methods are async, so a bad argument rejects instead of throwing synchronously.
 *
 * @param run the engine call
 * @returns predict, predictProbs, predictBatch, predictBatchProbs
 */
export function pixelPredictors(
  run: (x: Float32Array, count: number) => Float32Array | Promise<Float32Array>,
): Pick<Peer, "predict" | "predictProbs" | "predictBatch" | "predictBatchProbs"> {
  const one = new Float32Array(PIXELS);
  const probsOne = async (image: Uint8Array) => {
    checkImages(image, 1);
    for (let i = 0; i < PIXELS; i++) one[i] = image[i]!;
    return (await run(one, 1)).slice(0, CLASSES);
  };
  const probsBatch = async (images: Uint8Array, count: number) => {
    checkImages(images, count);
    const probs = await run(Float32Array.from(images.subarray(0, count * PIXELS)), count);
    return probs.slice(0, count * CLASSES);
  };
  return {
    predict: async (image) => digitsOf(await probsOne(image), 1)[0]!,
    predictProbs: probsOne,
    predictBatch: async (images, count) => digitsOf(await probsBatch(images, count), count),
    predictBatchProbs: probsBatch,
  };
}

/** Checks that `images` holds `count` whole images. */
export function checkImages(images: Uint8Array, count: number): void {
  if (!Number.isInteger(count) || count < 1 || images.length < count * PIXELS) {
    throw new UsageError(
      `need ${count} images of ${PIXELS} pixels, got ${images.length} bytes`,
    );
  }
}

/**
 * The installed directory of an npm package's main file (its `dist/` for the packages used
 * here), so `.wasm` files load from disk and nothing is fetched at run time.
 *
 * @param specifier the package name as resolvable from this project (`onnxruntime-web`)
 * @returns an absolute directory path ending in `/`
 */
export function packageMainDir(specifier: string): string {
  try {
    return dirname(createRequire(import.meta.url).resolve(specifier)) + "/";
  } catch {
    throw new UsageError(
      `the npm package ${specifier} is not installed; run 'deno install' in the ggufc directory`,
    );
  }
}

/** One engine loaded with a byte-token model. */
export interface TokenPeer {
  readonly id: PeerId;
  /** What runs the model, for tables. */
  readonly name: string;
  /**
   * The probabilities of `count` files given as `count * 1536` tokens (0..256): `count * labels`
   * values, a fresh array.
   */
  predictTokens(tokens: Int32Array, count: number): Promise<Float32Array>;
  dispose(): Promise<void>;
}

/** Checks `count` whole files of tokens, each 0..256. */
export function checkTokens(tokens: Int32Array, count: number): void {
  if (!Number.isInteger(count) || count < 1 || tokens.length < count * BYTE_TOKEN_COUNT) {
    throw new UsageError(
      `need ${count} files of ${BYTE_TOKEN_COUNT} tokens, got ${tokens.length} tokens`,
    );
  }
}
