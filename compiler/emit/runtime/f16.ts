/**
 * `--weights f16` modules: widening the weights section from IEEE half floats to f32 once, while
 * the module is evaluated (the generated block calls it: `const WEIGHTS = expandF16("...")`).
 * Exact: every f16 value is an f32 value. See compiler/codegen/f16_weights.ts.
 *
 * @module
 */
import { fromBase64 } from "./from_base64.ts";

/** Widens the f16 weights section (base64) to little-endian f32 bytes, exactly. */
function expandF16(s: string): Uint8Array<ArrayBuffer> {
  const h = fromBase64(s);
  const n = h.length >> 1;
  const out = new Uint8Array(n * 4);
  const bits = new Uint32Array(out.buffer);
  const f = new Float32Array(out.buffer);
  for (let i = 0; i < n; i++) {
    const x = h[2 * i]! | (h[2 * i + 1]! << 8);
    const sign = (x & 0x8000) << 16, e = (x >> 10) & 31, m = x & 1023;
    if (e === 0) f[i] = (sign ? -m : m) * 5.960464477539063e-8; // zero or subnormal: m * 2^-24
    else if (e === 31) bits[i] = (sign | 0x7f800000 | (m << 13)) >>> 0;
    else bits[i] = (sign | ((e + 112) << 23) | (m << 13)) >>> 0;
  }
  return out;
}

export { expandF16 };
