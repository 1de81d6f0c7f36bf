/**
 * Magika's input features: a file's bytes to 1536 byte tokens, as ggml's `examples/magika`
 * (`magika_eval` in main.cpp) reads them. Self-contained (no imports): emitted modules embed this
 * file as text, and the CLI imports it directly.
 *
 * The 1536 positions are three blocks of 512, every position first set to the padding token 256:
 * - beg: bytes 0.. of the file at positions 0.. (a short file leaves the tail padded);
 * - mid: up to 512 bytes read from offset max(0, trunc((size - 512) / 2)), centred: the j-th of
 *   the n bytes read goes to position 512 + 256 - floor(n / 2) + j;
 * - end: the last min(size, 512) bytes, right-aligned so the file's last byte is at 1535.
 *
 * @module
 */

/** Bytes in each of the beg, mid and end blocks (ggml's beg_size, mid_size, end_size). */
export const BLOCK_BYTES = 512;
/** Tokens per file: beg + mid + end. */
export const BYTE_TOKEN_COUNT = 3 * BLOCK_BYTES;
/** The token of a position no byte of the file fills (ggml's padding_token). */
export const PADDING_TOKEN = 256;
/** Distinct token values: the 256 bytes and the padding token. */
export const TOKEN_DEPTH = 257;

/**
 * The 1536 tokens of a file, each 0..255 (a byte) or 256 (padding).
 *
 * @param bytes the whole file
 * @returns a new array of {@link BYTE_TOKEN_COUNT} tokens
 * @example
 * ```ts
 * import { fileTokens } from "./byte_tokens.ts";
 * const t = fileTokens(new TextEncoder().encode("hi"));
 * console.log(t[0], t[1], t[2], t[767], t[768], t[1534], t[1535]); // 104 105 256 104 105 104 105
 * ```
 */
export function fileTokens(bytes: Uint8Array): Int32Array {
  const size = bytes.length;
  const tokens = new Int32Array(BYTE_TOKEN_COUNT).fill(PADDING_TOKEN);

  const begRead = Math.min(BLOCK_BYTES, size);
  for (let j = 0; j < begRead; j++) tokens[j] = bytes[j]!;

  // C's (size - 512) / 2 truncates toward zero; negative offsets clamp to 0.
  const midOffset = Math.max(0, Math.trunc((size - BLOCK_BYTES) / 2));
  const midRead = Math.min(BLOCK_BYTES, size - midOffset);
  const midStart = BLOCK_BYTES + BLOCK_BYTES / 2 - Math.floor(midRead / 2);
  for (let j = 0; j < midRead; j++) tokens[midStart + j] = bytes[midOffset + j]!;

  const endOffset = Math.max(0, size - BLOCK_BYTES);
  const endRead = size - endOffset;
  const endStart = BYTE_TOKEN_COUNT - endRead;
  for (let j = 0; j < endRead; j++) tokens[endStart + j] = bytes[endOffset + j]!;

  return tokens;
}
