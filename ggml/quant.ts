/**
 * Conversion between float32 and the ggml storage types, bit-exact with ggml's reference code
 * (`ggml-quants.c` dequantize_row_* and quantize_row_*_ref, `ggml-impl.h` fp16/bf16
 * conversions). Float32 arithmetic of C is reproduced with `Math.fround` after each operation;
 * a single IEEE operation done in float64 and then rounded to float32 gives the same result as
 * the float32 operation (float64 has more than 2*24+2 mantissa bits), so this is exact.
 *
 * Caveat: a ggml built with FMA contraction (e.g. -march=native) may fuse `x*d + m` in Q4_1/Q5_1
 * dequantisation; this module follows the unfused C semantics.
 *
 * @module
 */
import { GgmlType, ggmlTypeInfo, ggmlTypeName } from "./ggml_types.ts";

const fround = Math.fround;
const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

let f16Table: Float32Array | undefined;

/** float32 value of every f16 bit pattern (ggml keeps the same table, ggml_table_f32_f16). */
function f16ToF32Table(): Float32Array {
  if (f16Table) return f16Table;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) t[h] = f16BitsToF32(h);
  f16Table = t;
  return t;
}

/**
 * The value of an IEEE binary16 bit pattern.
 *
 * @param h 16-bit pattern
 * @returns its value (exact)
 */
export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1024 + mant) * 2 ** (exp - 25);
}

/**
 * Rounds a float32 (given as its bits) to binary16 bits: round to nearest even, subnormals kept,
 * overflow to infinity, NaN to the quiet NaN 0x7e00 with the input's sign (ggml's portable
 * conversion does the same).
 *
 * @param bits the float32 bit pattern
 * @returns the f16 bit pattern
 */
export function f32BitsToF16Bits(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const abs = bits & 0x7fffffff;
  if (abs >= 0x7f800000) return sign | (abs > 0x7f800000 ? 0x7e00 : 0x7c00);
  if (abs < 0x38800000) {
    // Below the smallest normal f16 (2^-14): count units of 2^-24 and round to nearest even.
    u32Scratch[0] = abs;
    const x = f32Scratch[0]! * 16777216; // exact in float64
    const fl = Math.floor(x);
    const rest = x - fl;
    const q = rest > 0.5 || (rest === 0.5 && (fl & 1) === 1) ? fl + 1 : fl;
    return sign | q; // q may be 0x400, which is the smallest normal: still the right encoding
  }
  const e = (abs >>> 23) - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  let h = (e << 10) | ((abs >>> 13) & 0x3ff);
  const rest = abs & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1) === 1)) h++; // a carry moves into the exponent
  return sign | h;
}

/**
 * Rounds a float32 (given as its bits) to bfloat16 bits as ggml_compute_fp32_to_bf16: NaN is
 * kept and made quiet, everything else rounds to nearest even (subnormals are not flushed).
 *
 * @param bits the float32 bit pattern
 * @returns the bf16 bit pattern
 */
export function f32BitsToBf16Bits(bits: number): number {
  if ((bits & 0x7fffffff) > 0x7f800000) return ((bits >>> 16) | 64) & 0xffff;
  return ((bits + (0x7fff + ((bits >>> 16) & 1))) >>> 16) & 0xffff;
}

function f32Bits(v: number): number {
  f32Scratch[0] = v;
  return u32Scratch[0]!;
}

function toF16(v: number): number {
  return f32BitsToF16Bits(f32Bits(v));
}

/**
 * float32 values stored as little-endian f16 (2 bytes each).
 *
 * @param values the values
 * @returns `2 * values.length` bytes
 * @example
 * ```ts
 * import { f32ToF16Bytes } from "./quant.ts";
 * console.log(f32ToF16Bytes(new Float32Array([1, -2]))); // Uint8Array [0, 60, 0, 192]
 * ```
 */
export function f32ToF16Bytes(values: Float32Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(values.length * 2);
  const u32 = new Uint32Array(values.buffer, values.byteOffset, values.length);
  for (let i = 0; i < values.length; i++) {
    const h = f32BitsToF16Bits(u32[i]!);
    out[2 * i] = h & 0xff;
    out[2 * i + 1] = h >>> 8;
  }
  return out;
}

function checkBlocks(type: GgmlType, n: number): number {
  const { blockSize } = ggmlTypeInfo(type);
  if (n % blockSize !== 0) {
    throw new RangeError(
      `${ggmlTypeName(type)} needs a multiple of ${blockSize} values, got ${n}`,
    );
  }
  return n / blockSize;
}

/**
 * Decodes `n` elements of `type` from `bytes` exactly as ggml's dequantize_row_* does.
 *
 * @param type the storage type
 * @param bytes at least the bytes of `n` elements (extra bytes are ignored)
 * @param n the element count (a multiple of the block size)
 * @returns `n` float32 values
 * @example
 * ```ts
 * import { dequantize } from "./quant.ts";
 * import { GgmlType } from "./ggml_types.ts";
 * const block = new Uint8Array(34);
 * block[1] = 0x38; // d = 0.5 (f16 0x3800)
 * block[2] = 3; // qs[0] = 3
 * console.log(dequantize(GgmlType.Q8_0, block, 32)[0]); // 1.5
 * ```
 */
export function dequantize(type: GgmlType, bytes: Uint8Array, n: number): Float32Array {
  const nb = checkBlocks(type, n);
  const need = nb * ggmlTypeInfo(type).typeSize;
  if (bytes.length < need) {
    throw new RangeError(
      `${n} ${ggmlTypeName(type)} values need ${need} bytes, got ${bytes.length}`,
    );
  }
  const out = new Float32Array(n);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const half = f16ToF32Table();
  switch (type) {
    case GgmlType.F32:
      for (let i = 0; i < n; i++) out[i] = dv.getFloat32(4 * i, true);
      break;
    case GgmlType.F16:
      for (let i = 0; i < n; i++) out[i] = half[dv.getUint16(2 * i, true)]!;
      break;
    case GgmlType.BF16:
      for (let i = 0; i < n; i++) {
        u32Scratch[0] = dv.getUint16(2 * i, true) << 16;
        out[i] = f32Scratch[0]!;
      }
      break;
    case GgmlType.Q4_0:
      for (let b = 0; b < nb; b++) {
        const p = b * 18, o = b * 32;
        const d = half[dv.getUint16(p, true)]!;
        for (let j = 0; j < 16; j++) {
          const q = bytes[p + 2 + j]!;
          out[o + j] = ((q & 0x0f) - 8) * d; // low nibbles: elements 0..15
          out[o + j + 16] = ((q >>> 4) - 8) * d; // high nibbles: elements 16..31
        }
      }
      break;
    case GgmlType.Q4_1:
      for (let b = 0; b < nb; b++) {
        const p = b * 20, o = b * 32;
        const d = half[dv.getUint16(p, true)]!;
        const m = half[dv.getUint16(p + 2, true)]!;
        for (let j = 0; j < 16; j++) {
          const q = bytes[p + 4 + j]!;
          out[o + j] = fround((q & 0x0f) * d) + m;
          out[o + j + 16] = fround((q >>> 4) * d) + m;
        }
      }
      break;
    case GgmlType.Q5_0:
      for (let b = 0; b < nb; b++) {
        const p = b * 22, o = b * 32;
        const d = half[dv.getUint16(p, true)]!;
        const qh = dv.getUint32(p + 2, true);
        for (let j = 0; j < 16; j++) {
          const q = bytes[p + 6 + j]!;
          const h0 = ((qh >>> j) << 4) & 0x10; // bit j: 5th bit of element j
          const h1 = (qh >>> (j + 12)) & 0x10; // bit j+16: 5th bit of element j+16
          out[o + j] = (((q & 0x0f) | h0) - 16) * d;
          out[o + j + 16] = (((q >>> 4) | h1) - 16) * d;
        }
      }
      break;
    case GgmlType.Q5_1:
      for (let b = 0; b < nb; b++) {
        const p = b * 24, o = b * 32;
        const d = half[dv.getUint16(p, true)]!;
        const m = half[dv.getUint16(p + 2, true)]!;
        const qh = dv.getUint32(p + 4, true);
        for (let j = 0; j < 16; j++) {
          const q = bytes[p + 8 + j]!;
          const h0 = ((qh >>> j) << 4) & 0x10;
          const h1 = (qh >>> (j + 12)) & 0x10;
          out[o + j] = fround(((q & 0x0f) | h0) * d) + m;
          out[o + j + 16] = fround(((q >>> 4) | h1) * d) + m;
        }
      }
      break;
    case GgmlType.Q8_0:
      for (let b = 0; b < nb; b++) {
        const p = b * 34, o = b * 32;
        const d = half[dv.getUint16(p, true)]!;
        for (let j = 0; j < 32; j++) out[o + j] = dv.getInt8(p + 2 + j) * d;
      }
      break;
    default:
      throw new RangeError(`Cannot dequantize ggml type ${type}`);
  }
  return out;
}

/** The value with the largest magnitude (the first one on ties), as ggml's amax/max loop. */
function signedAbsMax(x: Float32Array, o: number): number {
  let amax = 0, max = 0;
  for (let j = 0; j < 32; j++) {
    const v = x[o + j]!;
    if (amax < Math.abs(v)) {
      amax = Math.abs(v);
      max = v;
    }
  }
  return max;
}

function minMax(x: Float32Array, o: number): [number, number] {
  let min = 3.4028234663852886e38, max = -3.4028234663852886e38; // FLT_MAX
  for (let j = 0; j < 32; j++) {
    const v = x[o + j]!;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return [min, max];
}

/** C's (int8_t)(float) for the in-range values the reference produces: truncation to zero. */
function truncI8(v: number): number {
  return (Math.trunc(v) << 24) >> 24;
}

/** C's roundf: halves away from zero. */
function roundf(v: number): number {
  return v < 0 ? -Math.floor(-v + 0.5) : Math.floor(v + 0.5);
}

/**
 * Encodes float32 values in `type`, byte-identical to ggml's quantize_row_*_ref (F16 and BF16
 * as ggml's scalar conversions).
 *
 * @param type F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1 or Q8_0
 * @param values the values (a multiple of 32 for the Q types)
 * @returns the encoded bytes (`tensorByteSize(type, [values.length])`)
 * @example
 * ```ts
 * import { dequantize, quantize } from "./quant.ts";
 * import { GgmlType } from "./ggml_types.ts";
 * const x = Float32Array.from({ length: 32 }, (_, i) => i / 8);
 * const back = dequantize(GgmlType.Q8_0, quantize(GgmlType.Q8_0, x), 32);
 * console.log(Math.abs(back[31] - x[31]) < 0.01); // true
 * ```
 */
export function quantize(type: GgmlType, values: Float32Array): Uint8Array<ArrayBuffer> {
  const nb = checkBlocks(type, values.length);
  const out = new Uint8Array(nb * ggmlTypeInfo(type).typeSize);
  const dv = new DataView(out.buffer);
  const x = values;
  switch (type) {
    case GgmlType.F32:
      for (let i = 0; i < x.length; i++) dv.setFloat32(4 * i, x[i]!, true);
      break;
    case GgmlType.F16:
      out.set(f32ToF16Bytes(x));
      break;
    case GgmlType.BF16:
      for (let i = 0; i < x.length; i++) {
        dv.setUint16(2 * i, f32BitsToBf16Bits(f32Bits(x[i]!)), true);
      }
      break;
    case GgmlType.Q4_0:
      for (let b = 0; b < nb; b++) {
        const p = b * 18, o = b * 32;
        const d = fround(signedAbsMax(x, o) / -8);
        const id = d ? fround(1 / d) : 0;
        dv.setUint16(p, toF16(d), true);
        for (let j = 0; j < 16; j++) {
          const x0 = fround(x[o + j]! * id), x1 = fround(x[o + 16 + j]! * id);
          const q0 = Math.min(15, truncI8(fround(x0 + 8.5)));
          const q1 = Math.min(15, truncI8(fround(x1 + 8.5)));
          out[p + 2 + j] = (q0 | (q1 << 4)) & 0xff;
        }
      }
      break;
    case GgmlType.Q4_1:
      for (let b = 0; b < nb; b++) {
        const p = b * 20, o = b * 32;
        const [min, max] = minMax(x, o);
        const d = fround(fround(max - min) / 15);
        const id = d ? fround(1 / d) : 0;
        dv.setUint16(p, toF16(d), true);
        dv.setUint16(p + 2, toF16(min), true);
        for (let j = 0; j < 16; j++) {
          const x0 = fround(fround(x[o + j]! - min) * id);
          const x1 = fround(fround(x[o + 16 + j]! - min) * id);
          const q0 = Math.min(15, truncI8(fround(x0 + 0.5)));
          const q1 = Math.min(15, truncI8(fround(x1 + 0.5)));
          out[p + 4 + j] = (q0 | (q1 << 4)) & 0xff;
        }
      }
      break;
    case GgmlType.Q5_0:
      for (let b = 0; b < nb; b++) {
        const p = b * 22, o = b * 32;
        const d = fround(signedAbsMax(x, o) / -16);
        const id = d ? fround(1 / d) : 0;
        dv.setUint16(p, toF16(d), true);
        let qh = 0;
        for (let j = 0; j < 16; j++) {
          const x0 = fround(x[o + j]! * id), x1 = fround(x[o + 16 + j]! * id);
          const q0 = Math.min(31, truncI8(fround(x0 + 16.5))) & 0xff;
          const q1 = Math.min(31, truncI8(fround(x1 + 16.5))) & 0xff;
          out[p + 6 + j] = (q0 & 0x0f) | ((q1 & 0x0f) << 4);
          qh |= ((q0 & 0x10) >>> 4) << j;
          qh |= ((q1 & 0x10) >>> 4) << (j + 16);
        }
        dv.setUint32(p + 2, qh >>> 0, true);
      }
      break;
    case GgmlType.Q5_1:
      for (let b = 0; b < nb; b++) {
        const p = b * 24, o = b * 32;
        const [min, max] = minMax(x, o);
        const d = fround(fround(max - min) / 31);
        const id = d ? fround(1 / d) : 0;
        dv.setUint16(p, toF16(d), true);
        dv.setUint16(p + 2, toF16(min), true);
        let qh = 0;
        for (let j = 0; j < 16; j++) {
          const x0 = fround(fround(x[o + j]! - min) * id);
          const x1 = fround(fround(x[o + 16 + j]! - min) * id);
          // (uint8_t) without a clamp, as the reference
          const q0 = Math.trunc(fround(x0 + 0.5)) & 0xff;
          const q1 = Math.trunc(fround(x1 + 0.5)) & 0xff;
          out[p + 8 + j] = (q0 & 0x0f) | ((q1 & 0x0f) << 4);
          qh |= ((q0 & 0x10) >>> 4) << j;
          qh |= ((q1 & 0x10) >>> 4) << (j + 16);
        }
        dv.setUint32(p + 4, qh >>> 0, true);
      }
      break;
    case GgmlType.Q8_0:
      for (let b = 0; b < nb; b++) {
        const p = b * 34, o = b * 32;
        let amax = 0;
        for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[o + j]!));
        const d = fround(amax / 127);
        const id = d ? fround(1 / d) : 0;
        dv.setUint16(p, toF16(d), true);
        for (let j = 0; j < 32; j++) dv.setInt8(p + 2 + j, roundf(fround(x[o + j]! * id)));
      }
      break;
    default:
      throw new RangeError(`Cannot quantize to ggml type ${type}`);
  }
  return out;
}
