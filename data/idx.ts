/**
 * IDX files (the MNIST distribution format): a big-endian header of magic, count and dims,
 * then unsigned bytes. Images use magic 2051 (0x00000803: u8 data, 3 dims), labels 2049
 * (0x00000801: u8 data, 1 dim). The file size must match the header exactly.
 *
 * @module
 */
import { FormatError } from "../ggml/errors.ts";

/** A set of greyscale images, row-major, one byte per pixel (0 = background). */
export interface IdxImages {
  count: number;
  rows: number;
  cols: number;
  /** count * rows * cols bytes: image i, row y, column x at (i * rows + y) * cols + x. */
  pixels: Uint8Array;
}

/** Magic of an IDX file of u8 images (3 dims). */
export const IDX_IMAGES_MAGIC = 0x00000803;
/** Magic of an IDX file of u8 labels (1 dim). */
export const IDX_LABELS_MAGIC = 0x00000801;

function header(bytes: Uint8Array, file: string, n: number, magic: number, what: string): number[] {
  if (bytes.length < 4 * n) {
    throw new FormatError(
      file,
      0,
      `${what} header`,
      `${4 * n} bytes`,
      `a file of ${bytes.length} bytes (file is truncated)`,
    );
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fields = Array.from({ length: n }, (_, i) => dv.getUint32(4 * i, false));
  if (fields[0] !== magic) {
    const hex = (v: number) => `0x${v.toString(16).padStart(8, "0")}`;
    throw new FormatError(
      file,
      0,
      "magic",
      `${hex(magic)} (IDX ${what}, big-endian)`,
      hex(fields[0]!),
    );
  }
  return fields;
}

/**
 * Parses an IDX image file (e.g. t10k-images-idx3-ubyte).
 *
 * @param bytes the whole file
 * @param file the file name for error messages
 * @returns the images; `pixels` is a view into `bytes`
 * @throws {FormatError} on a wrong magic, a zero dim or a size that disagrees with the header
 * @example
 * ```ts
 * import { readIdxImages } from "./idx.ts";
 * const bytes = new Uint8Array([0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 7, 255]);
 * console.log(readIdxImages(bytes).pixels); // Uint8Array(2) [ 7, 255 ]
 * ```
 */
export function readIdxImages(bytes: Uint8Array, file = "<memory>"): IdxImages {
  const [, count, rows, cols] = header(bytes, file, 4, IDX_IMAGES_MAGIC, "images") as [
    number,
    number,
    number,
    number,
  ];
  if (rows === 0 || cols === 0) {
    throw new FormatError(
      file,
      rows === 0 ? 8 : 12,
      rows === 0 ? "rows" : "cols",
      "at least 1",
      "0",
    );
  }
  const need = 16 + count * rows * cols;
  if (bytes.length !== need) {
    throw new FormatError(
      file,
      4,
      "image count",
      `a file of 16 + ${count} * ${rows} * ${cols} = ${need} bytes`,
      `${bytes.length} bytes`,
    );
  }
  return { count, rows, cols, pixels: bytes.subarray(16) };
}

/**
 * Parses an IDX label file (e.g. t10k-labels-idx1-ubyte).
 *
 * @param bytes the whole file
 * @param file the file name for error messages
 * @returns one byte per label, a view into `bytes`
 * @throws {FormatError} on a wrong magic or a size that disagrees with the header
 */
export function readIdxLabels(bytes: Uint8Array, file = "<memory>"): Uint8Array {
  const [, count] = header(bytes, file, 2, IDX_LABELS_MAGIC, "labels") as [number, number];
  if (bytes.length !== 8 + count) {
    throw new FormatError(
      file,
      4,
      "label count",
      `a file of 8 + ${count} = ${8 + count} bytes`,
      `${bytes.length} bytes`,
    );
  }
  return bytes.subarray(8);
}

/**
 * Encodes images as an IDX file (for tests and for exporting subsets).
 *
 * @param images the images
 * @returns the file bytes
 */
export function writeIdxImages(images: IdxImages): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(16 + images.pixels.length);
  const dv = new DataView(out.buffer);
  [IDX_IMAGES_MAGIC, images.count, images.rows, images.cols].forEach((v, i) =>
    dv.setUint32(4 * i, v, false)
  );
  out.set(images.pixels, 16);
  return out;
}

/**
 * Encodes labels as an IDX file.
 *
 * @param labels one byte per label
 * @returns the file bytes
 */
export function writeIdxLabels(labels: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(8 + labels.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, IDX_LABELS_MAGIC, false);
  dv.setUint32(4, labels.length, false);
  out.set(labels, 8);
  return out;
}
