/**
 * The packed MNIST test set the page ships (`testset.bin.gz`): gzip of
 *
 * | offset | size | field |
 * | --- | --- | --- |
 * | 0 | 4 | magic `MNTS` |
 * | 4 | 4 | image count N (u32 little-endian) |
 * | 8 | 2 | rows (u16 LE, 28) |
 * | 10 | 2 | cols (u16 LE, 28) |
 * | 12 | N | labels, one byte each |
 * | 12 + N | N * rows * cols | pixels 0..255, image after image, row-major |
 *
 * All 10,000 images of t10k pack to about 1.6 MB; the browser inflates them with
 * `DecompressionStream("gzip")`. Pixels are the IDX file's bytes unchanged.
 *
 * @module
 */

/** The four bytes the packed file starts with. */
export const TESTSET_MAGIC = "MNTS";
/** Header size in bytes. */
export const TESTSET_HEADER = 12;

/** A decoded test set. */
export interface TestSet {
  count: number;
  rows: number;
  cols: number;
  labels: Uint8Array;
  /** `count * rows * cols` bytes. */
  pixels: Uint8Array;
}

/**
 * Decodes the (already inflated) packed test set.
 *
 * @param bytes the inflated file
 * @returns views into `bytes`
 * @throws Error when the magic or the length is wrong
 */
export function decodeTestSet(bytes: Uint8Array): TestSet {
  if (bytes.length < TESTSET_HEADER) {
    throw new Error(`Test set too short: ${bytes.length} bytes, header needs ${TESTSET_HEADER}`);
  }
  const magic = String.fromCharCode(bytes[0]!, bytes[1]!, bytes[2]!, bytes[3]!);
  if (magic !== TESTSET_MAGIC) throw new Error(`Test set magic is '${magic}', expected 'MNTS'`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = view.getUint32(4, true);
  const rows = view.getUint16(8, true), cols = view.getUint16(10, true);
  const need = TESTSET_HEADER + count + count * rows * cols;
  if (bytes.length !== need) {
    throw new Error(
      `Test set of ${count} ${rows}x${cols} images needs ${need} bytes, found ${bytes.length}`,
    );
  }
  return {
    count,
    rows,
    cols,
    labels: bytes.subarray(TESTSET_HEADER, TESTSET_HEADER + count),
    pixels: bytes.subarray(TESTSET_HEADER + count, need),
  };
}

/**
 * Encodes a test set (uncompressed; the builder gzips it).
 *
 * @param set images and labels
 * @returns the packed bytes
 */
export function encodeTestSet(set: TestSet): Uint8Array {
  const out = new Uint8Array(TESTSET_HEADER + set.count + set.count * set.rows * set.cols);
  for (let i = 0; i < 4; i++) out[i] = TESTSET_MAGIC.charCodeAt(i);
  const view = new DataView(out.buffer);
  view.setUint32(4, set.count, true);
  view.setUint16(8, set.rows, true);
  view.setUint16(10, set.cols, true);
  out.set(set.labels.subarray(0, set.count), TESTSET_HEADER);
  out.set(set.pixels.subarray(0, set.count * set.rows * set.cols), TESTSET_HEADER + set.count);
  return out;
}

/**
 * Inflates and decodes the gzip-compressed test set in a browser (or Deno).
 *
 * @param gz the `testset.bin.gz` bytes
 * @returns the decoded test set
 */
export async function inflateTestSet(gz: Uint8Array): Promise<TestSet> {
  const stream = new Blob([gz as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new DecompressionStream("gzip"),
  );
  return decodeTestSet(new Uint8Array(await new Response(stream).arrayBuffer()));
}
