import assert from "node:assert/strict";
import {
  dequantize,
  f16BitsToF32,
  f32BitsToBf16Bits,
  f32BitsToF16Bits,
  f32ToF16Bytes,
  quantize,
} from "../ggml/quant.ts";
import { GgmlType } from "../ggml/ggml_types.ts";

const bitsOf = (v: number) => new Uint32Array(new Float32Array([v]).buffer)[0]!;
const f16 = (v: number) => f32BitsToF16Bits(bitsOf(v));

Deno.test("f32BitsToF16Bits() rounds to nearest even, keeps subnormals, overflows to infinity", () => {
  assert.equal(f16(1), 0x3c00);
  assert.equal(f16(-2), 0xc000);
  assert.equal(f16(65504), 0x7bff);
  assert.equal(f16(65519), 0x7bff); // below the halfway point 65520
  assert.equal(f16(65520), 0x7c00); // halfway, 0x7bff is odd: rounds up to infinity
  assert.equal(f16(Infinity), 0x7c00);
  assert.equal(f16(-Infinity), 0xfc00);
  assert.equal(f16(NaN), 0x7e00);
  assert.equal(f16(2 ** -24), 0x0001); // smallest subnormal
  assert.equal(f16(2 ** -25), 0x0000); // halfway to zero, 0 is even
  assert.equal(f16(3 * 2 ** -25), 0x0002); // 1.5 units: tie, rounds to the even 2
  assert.equal(f16(1 + 2 ** -11), 0x3c00); // tie between 0x3c00 and 0x3c01: even
  assert.equal(f16(1 + 3 * 2 ** -11), 0x3c02); // tie between 0x3c01 and 0x3c02: even
  assert.equal(f16(2 ** -14 - 2 ** -25), 0x0400); // rounds up into the smallest normal
  assert.equal(f16(-0), 0x8000);
});

Deno.test("f32BitsToF16Bits() agrees with Float16Array on 200,000 random float32 bit patterns", () => {
  let s = 7;
  const f = new Float32Array(1), u = new Uint32Array(f.buffer), h = new Float16Array(1);
  const hb = new Uint16Array(h.buffer);
  for (let i = 0; i < 200000; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    // keep exponents near the f16 range most of the time
    u[0] = i % 2 ? s : (s & 0x807fffff) | ((100 + (s % 60)) << 23);
    if (Number.isNaN(f[0])) continue; // Float16Array's NaN bits are implementation-defined
    h[0] = f[0]!;
    assert.equal(f32BitsToF16Bits(u[0]!), hb[0], `bits 0x${u[0]!.toString(16)}`);
  }
});

Deno.test("f16BitsToF32() decodes every f16 bit pattern like Float16Array", () => {
  const h = new Uint16Array(1), f = new Float16Array(h.buffer);
  for (let b = 0; b < 65536; b++) {
    h[0] = b;
    const want = f[0]!;
    if (Number.isNaN(want)) assert.ok(Number.isNaN(f16BitsToF32(b)));
    else assert.ok(Object.is(f16BitsToF32(b), want), `0x${b.toString(16)}`);
  }
});

Deno.test("f32BitsToBf16Bits() rounds to nearest even and quiets NaN as ggml", () => {
  assert.equal(f32BitsToBf16Bits(bitsOf(1)), 0x3f80);
  assert.equal(f32BitsToBf16Bits(bitsOf(1 + 2 ** -8)), 0x3f80); // tie, 0x3f80 even
  assert.equal(f32BitsToBf16Bits(bitsOf(1 + 3 * 2 ** -8)), 0x3f82); // tie, 0x3f81 odd: up
  assert.equal(f32BitsToBf16Bits(bitsOf(Infinity)), 0x7f80);
  assert.equal(f32BitsToBf16Bits(0x7f800001), 0x7fc0); // signalling NaN made quiet
  assert.equal(f32BitsToBf16Bits(0x00000001), 0x0000); // subnormal rounds, not flushed
  assert.equal(f32BitsToBf16Bits(0x00008000 + 0x10000), 0x0002); // tie on odd subnormal: up
});

Deno.test("f32ToF16Bytes() writes little-endian f16", () => {
  assert.deepEqual([...f32ToF16Bytes(new Float32Array([1, -2]))], [0x00, 0x3c, 0x00, 0xc0]);
});

Deno.test("quantize(Q8_0) stores d = amax / 127 and rounds halves away from zero", () => {
  // amax 127 gives d = 1, so q = roundf(x)
  const x = new Float32Array(32);
  x.set([-127, 0.5, -0.5, 1.5, 2.5, -2.5, 0.49]);
  const q = quantize(GgmlType.Q8_0, x);
  assert.deepEqual([...q.subarray(0, 2)], [0x00, 0x3c]);
  assert.deepEqual([...new Int8Array(q.buffer, 2, 7)], [-127, 1, -1, 2, 3, -3, 0]);
});

Deno.test("quantize(Q4_0) uses d = max / -8 with the sign of the largest magnitude", () => {
  // max = -8 so d = 1; q = min(15, trunc(x + 8.5))
  const x = new Float32Array(32);
  x.set([-8, 7, 7.6, -0.5, 0.49]);
  x[16] = 3;
  const q = quantize(GgmlType.Q4_0, x);
  assert.deepEqual([...q.subarray(0, 2)], [0x00, 0x3c]);
  assert.deepEqual([...q.subarray(2, 7)].map((b) => b & 0x0f), [0, 15, 15, 8, 8]);
  assert.equal(q[2]! >> 4, 11); // element 16 (= 3) is the high nibble of byte 0
  // max = +8: d = -1, so 8 is stored as 0 and decodes to (0 - 8) * -1 = 8
  const y = new Float32Array(32);
  y[0] = 8;
  const qy = quantize(GgmlType.Q4_0, y);
  assert.deepEqual([...qy.subarray(0, 3)], [0x00, 0xbc, 0x80]);
  assert.equal(dequantize(GgmlType.Q4_0, qy, 32)[0], 8);
});

Deno.test("quantize(Q4_1), quantize(Q5_0), quantize(Q5_1) are exact on integer grids", () => {
  const x16 = Float32Array.from({ length: 32 }, (_, j) => j % 16); // min 0, max 15: d = 1, m = 0
  assert.deepEqual([...dequantize(GgmlType.Q4_1, quantize(GgmlType.Q4_1, x16), 32)], [...x16]);
  const x5 = Float32Array.from({ length: 32 }, (_, j) => j - 16); // max by magnitude -16: d = 1
  assert.deepEqual([...dequantize(GgmlType.Q5_0, quantize(GgmlType.Q5_0, x5), 32)], [...x5]);
  const x31 = Float32Array.from({ length: 32 }, (_, j) => 31 - j); // min 0, max 31: d = 1
  const q51 = quantize(GgmlType.Q5_1, x31);
  assert.deepEqual([...q51.subarray(0, 4)], [0x00, 0x3c, 0x00, 0x00]);
  assert.deepEqual([...dequantize(GgmlType.Q5_1, q51, 32)], [...x31]);
});

/** Deterministic test input mixing scales and exact ties: 9 kinds of 32-value blocks. */
function testInput(blocks: number): Float32Array {
  let s = 12345;
  const rand = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const x = new Float32Array(blocks * 32);
  for (let b = 0; b < blocks; b++) {
    for (let j = 0; j < 32; j++) {
      const u = rand() * 2 - 1;
      const kinds = [
        u,
        u * 1e-3,
        Math.round(u * 16),
        Math.round(u * 16) / 2,
        0,
        u * 1e4,
        u * 1e-6,
        u + 5,
        u * 70000,
      ];
      x[b * 32 + j] = kinds[b % 9]!;
    }
  }
  return x;
}

// SHA-256 of the output of ggml's reference quantize_row_*_ref (and the F16C / ggml bf16
// conversions) on testInput(900), compiled with gcc -O2 -mf16c -ffp-contract=off.
const GGML_REFERENCE_SHA256: [string, GgmlType][] = [
  ["59f1988e952b07c0fe312ff58d5a458fe06acec4a7c7199d10b73e33fe863c04", GgmlType.Q4_0],
  ["6876d4d58933dd3252d5910fd9925573d6e271fe616dda863e94508a1bb26b71", GgmlType.Q4_1],
  ["107735d802af8a513257449796c84ab4698ffb00a37558fc4e880325c4bc9e2e", GgmlType.Q5_0],
  ["219f3a7a9e55d66057eea0e2db8c5726952f65ac28d25a6a6947968c96bf1c76", GgmlType.Q5_1],
  ["5ed76b7d5a5130a5fc7c358887c9d89be9bd1204c4901f6ecbe1fc268e01a24f", GgmlType.Q8_0],
  ["18399fd5cd0468c950c793e2647726540546ff4a80ff763fc635a84669a1c3eb", GgmlType.F16],
  ["0d4e6e7b047e0efa04500e2c4ed824d452c3280bdcc4dd89f0265e2889c7d726", GgmlType.BF16],
];

Deno.test("quantize() output is byte-identical to ggml's reference quantisers", async () => {
  const x = testInput(900);
  for (const [sha, type] of GGML_REFERENCE_SHA256) {
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", quantize(type, x)));
    const hex = [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
    assert.equal(hex, sha, `type ${GgmlType[type]}`);
  }
});

Deno.test("quantize() then dequantize() stays within each type's error bound", () => {
  const x = testInput(900);
  // The f16 scale d (and min m) is off by at most half an f16 ulp: relative 2^-11, or 2^-25
  // absolute once it is subnormal (tiny blocks, e.g. the 1e-6 ones, lose nearly everything).
  const f16Err = (v: number) => Math.max(Math.abs(v) * 2 ** -11, 2 ** -25);
  for (
    const [type, bound] of [
      // |x - q*d16| <= |x - q*d| + |q| * |d - d16|; a q clamped at the top of the range costs d
      [GgmlType.Q8_0, (amax: number) => amax / 127 / 2 + 127 * f16Err(amax / 127)],
      [GgmlType.Q4_0, (amax: number) => amax / 8 + 16 * f16Err(amax / 8)],
      [GgmlType.Q5_0, (amax: number) => amax / 16 + 32 * f16Err(amax / 16)],
      [
        GgmlType.Q4_1,
        (_: number, r: number, min: number) => r / 15 / 2 + 15 * f16Err(r / 15) + f16Err(min),
      ],
      [
        GgmlType.Q5_1,
        (_: number, r: number, min: number) => r / 31 / 2 + 31 * f16Err(r / 31) + f16Err(min),
      ],
    ] as [GgmlType, (amax: number, range: number, min: number) => number][]
  ) {
    const y = dequantize(type, quantize(type, x), x.length);
    for (let b = 0; b < x.length / 32; b++) {
      const blk = x.subarray(b * 32, b * 32 + 32);
      const amax = Math.max(...blk.map(Math.abs));
      if (amax > 65504) continue; // m (or d) beyond the f16 range: ggml stores infinity too
      const min = Math.min(...blk);
      const range = Math.max(...blk) - min;
      const tol = bound(amax, range, min) * (1 + 1e-6); // 1e-6: float32 arithmetic slack
      for (let j = 0; j < 32; j++) {
        const err = Math.abs(y[b * 32 + j]! - blk[j]!);
        assert.ok(err <= tol, `${GgmlType[type]} block ${b} [${j}]: error ${err} > ${tol}`);
      }
    }
  }
  // F16 and BF16 relative error: half an ulp (2^-11 and 2^-8), for values in the normal range
  for (const [type, rel] of [[GgmlType.F16, 2 ** -11], [GgmlType.BF16, 2 ** -8]] as const) {
    const y = dequantize(type, quantize(type, x), x.length);
    x.forEach((v, i) => {
      if (Math.abs(v) >= 2 ** -14 && Math.abs(v) <= 65504) {
        assert.ok(Math.abs(y[i]! - v) <= Math.abs(v) * rel, `${GgmlType[type]} ${v} -> ${y[i]}`);
      }
    });
  }
});

Deno.test("quantize() and dequantize() reject partial blocks and short data", () => {
  assert.throws(
    () => quantize(GgmlType.Q8_0, new Float32Array(16)),
    /multiple of 32 values, got 16/,
  );
  assert.throws(() => dequantize(GgmlType.Q4_0, new Uint8Array(17), 32), /need 18 bytes, got 17/);
  assert.deepEqual(
    [...dequantize(GgmlType.F32, quantize(GgmlType.F32, new Float32Array([1.5, -0])), 2)],
    [1.5, -0],
  );
});
