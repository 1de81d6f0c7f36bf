/**
 * The public API of an image classifier module (MNIST): `predict` one image, `predictBatch`
 * many, `createPool` for many on several cores. Thin names over api.ts and pool.ts.
 *
 * @module
 */
import { predictVector, predictVectors } from "./api.ts";
import { createVectorPool } from "./pool.ts";
import type { BatchPrediction, Pool, PoolOptions, Prediction } from "./types.ts";

/**
 * Classifies one image.
 *
 * @param image `info.inputLength` raw pixel values 0..255 (row-major)
 * @returns the digit and the probabilities; the same object is reused by the next call
 * @throws TypeError for anything but a Uint8Array or Float32Array; RangeError for another length
 *   or (floats) a value outside 0..255
 */
export function predict(image: Uint8Array | Float32Array): Prediction {
  return predictVector(image);
}

/**
 * Classifies `count` images stored one after another.
 *
 * @param images count * `info.inputLength` raw pixel values 0..255
 * @param count the number of images
 * @returns digits and probabilities (count * `info.classes`); views reused by the next call
 */
export function predictBatch(images: Uint8Array | Float32Array, count: number): BatchPrediction {
  return predictVectors(images, count);
}

/**
 * Starts `n` workers that each run this module, for batches split over cores. The weights are
 * compiled once here and shared; shared memory is used only where available.
 *
 * @param n number of workers, an integer from 1 to 64 (e.g. the number of cores; each worker
 *   holds its own copy of the weights, so more workers than cores only cost memory)
 * @param options `shared`: force or forbid SharedArrayBuffers
 * @returns the pool, once every worker is ready; call `close()` when done
 * @throws RangeError when n is not an integer from 1 to 64
 * @example
 * ```ts ignore
 * const pool = await createPool(2);
 * const { digits } = await pool.predictBatch(pixels, 500); // 500 images, one after another
 * await pool.close();
 * ```
 */
export function createPool(n: number, options: PoolOptions = {}): Promise<Pool> {
  return createVectorPool(n, options);
}
