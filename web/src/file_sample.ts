/**
 * What Magika reads of a file, without reading the whole file: as ggml's main.cpp seeks to its
 * beg, mid and end blocks, a file larger than 3 x 512 bytes is read as its first 512 bytes, the
 * 512 at trunc((size - 512) / 2) and its last 512. Those 1536 bytes, taken as a file of their
 * own, give exactly the file's tokens (their mid block starts at (1536 - 512) / 2 = 512, where
 * the middle bytes were put). A smaller file is read whole. Used by the page (Blob slices) and
 * by the CLI (positioned reads).
 *
 * @module
 */

/** Bytes per block (ggml's beg_size = mid_size = end_size). */
const BLOCK = 512;

/**
 * The `[offset, length]` ranges to read from a file of `size` bytes.
 *
 * @param size the file's size
 * @example
 * ```ts
 * import { sampleWindows } from "./file_sample.ts";
 * console.log(sampleWindows(10_000)); // [ [ 0, 512 ], [ 4744, 512 ], [ 9488, 512 ] ]
 * ```
 */
export function sampleWindows(size: number): [number, number][] {
  if (size <= 3 * BLOCK) return [[0, size]];
  const mid = Math.trunc((size - BLOCK) / 2);
  return [[0, BLOCK], [mid, BLOCK], [size - BLOCK, BLOCK]];
}

/**
 * The bytes of a browser `Blob` (a picked or dropped `File`) that Magika reads, from Blob
 * slices: a 4 GB file costs 1.5 KiB of reading.
 *
 * @param blob the file
 * @returns the bytes to give the module's `predict` / `predictBatch`
 */
export async function blobSample(blob: Blob): Promise<Uint8Array> {
  const parts = await Promise.all(
    sampleWindows(blob.size).map(([at, n]) => blob.slice(at, at + n).arrayBuffer()),
  );
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(new Uint8Array(p), at);
    at += p.byteLength;
  }
  return out;
}
