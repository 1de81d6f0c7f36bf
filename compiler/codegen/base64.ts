/**
 * Base64 encoding of the bytes an emitted module embeds (weights, WASM code). Deterministic,
 * no line breaks.
 *
 * @module
 */

/**
 * Standard base64 (RFC 4648, with padding).
 *
 * @param bytes any bytes
 * @returns the encoding
 */
export function toBase64(bytes: Uint8Array): string {
  const chunks: string[] = [];
  for (let i = 0; i < bytes.length; i += 0x8000) {
    chunks.push(String.fromCharCode(...bytes.subarray(i, i + 0x8000)));
  }
  return btoa(chunks.join(""));
}
