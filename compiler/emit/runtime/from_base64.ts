/**
 * Base64 decoding for the weights and the WASM code (Node 20 lacks `Uint8Array.fromBase64`).
 *
 * @module
 */

function fromBase64(s: string): Uint8Array<ArrayBuffer> {
  const native = (Uint8Array as unknown as { fromBase64?: (s: string) => Uint8Array<ArrayBuffer> })
    .fromBase64;
  if (native) return native(s);
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export { fromBase64 };
