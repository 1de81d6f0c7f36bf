/**
 * The bytes of a file that Magika looks at, read without reading the whole file: as ggml's
 * main.cpp seeks to the beg, mid and end blocks, a file larger than 3 x 512 bytes is read as its
 * first 512 bytes, the 512 at trunc((size - 512) / 2) and its last 512. Those 1536 bytes, taken as
 * a file of their own, give exactly the file's tokens (their mid block starts at
 * (1536 - 512) / 2 = 512, which is where the middle bytes were put), so any engine classifies a
 * 10 GB file from 1.5 KiB. A smaller file is read whole.
 *
 * @module
 */
import { sampleWindows } from "../web/src/file_sample.ts";
import { readInputWindows } from "./files.ts";

export { sampleWindows };

/**
 * Reads what Magika needs of a file: the whole file up to 1536 bytes, else 1536 bytes with the
 * same tokens (see the module comment).
 *
 * @param path the file
 * @returns bytes to give `predict` / `predictBatch`, and the file's real size
 * @throws UsageError missing, a folder, FIFO, device or socket, permission denied
 * @throws IoError the system failed the read
 */
export function readFileSample(path: string): Promise<{ bytes: Uint8Array; size: number }> {
  return readInputWindows(path, "file", sampleWindows);
}
