/**
 * WASM kernels for dense layers with q8_0 / q4_0 weights ({@link DenseQuant}), computing on the
 * quantised form.
 *
 * "int8" (ggml's q8_0 x q8_0 and q4_0 x q8_0 vec_dot): each call first quantises the input per
 * block of 32 exactly as ggml's quantize_row_q8_0_ref (amax / 127, scale rounded to f16, values
 * rounded half away from zero) into scratch memory and lists, per non-zero block, its non-zero
 * quads (4 consecutive int8 values). Then, for each group of 4V outputs, it walks that list:
 * every quad is one `i32` splat, multiplied against V vectors of 16 int8 weights (4 outputs x
 * the quad's 4 k) with
 * - `i32x4.relaxed_dot_i8x16_i7x16_add_s` (relaxed variant, when the input is >= 0 so its int8
 *   values are 0..127, the "i7" operand), or
 * - `i16x8.extend_{low,high}_i8x16_s` + `i32x4.dot_i16x8_s` (plain SIMD128; pairs of lanes
 *   added at the end of the block).
 * At the end of a block the i32 sums become f32 and are scaled by d_w * d_x, summed over blocks
 * in order, then the bias is added: the same operations in the same order as ggml's scalar
 * vec_dot followed by its add op, so the result is bit-exact with it. Zero quads and zero
 * blocks add exactly 0, so skipping them changes nothing. q4_0 weights are stored as nibbles
 * (two outputs' vectors per 16 bytes) and unpacked in registers (`& 15`, `>> 4`, `- 8`).
 *
 * "dequant" (q8_0 only): f32 input, non-zero elements listed per block; per element 16 int8
 * weights are widened to f32 in registers and multiply-added; each block's sums are scaled by
 * d_w at its end.
 *
 * Weights layout (compile time, per group of 4V outputs, so the inner loop streams contiguous
 * bytes): int8 `[quad][v][output 4][k 4]`; q4_0 `[quad][pair of v][16 bytes]`; dequant
 * `[k][16 outputs]`. Scales `[block][4V]` f32 per group.
 *
 * @module
 */
import type { DenseKernel, Kernel, Plan } from "../plan/plan.ts";
import { F32, Fn, I32, OP, SIMD, V128 } from "../../wasm/assembler.ts";
import type { WeightBlob } from "./weights_blob.ts";
import { at, madd, softmax } from "./wasm_shared.ts";

/** Where a quantised dense kernel's constants are, decided once for both variants. */
export interface QuantDensePlan {
  readonly quant: true;
  /** Output vectors per group. */
  readonly V: number;
  /** Full groups of V vectors, then one group of `tail` vectors (0: none). */
  readonly groups: number;
  readonly tail: number;
  /** Byte addresses of the packed weights, the scales and the bias (-1: none). */
  readonly w: number;
  readonly d: number;
  readonly bias: number;
  /** Bytes of weights / scales per full group. */
  readonly groupW: number;
  readonly groupD: number;
}

/** Byte indices of i32 lanes 0, 2, 4, 6 (and 1, 3, 5, 7) of two concatenated vectors. */
const EVEN_I32_LANES = [0, 2, 4, 6].flatMap((l) => [0, 1, 2, 3].map((b) => 4 * l + b));
const ODD_I32_LANES = [1, 3, 5, 7].flatMap((l) => [0, 1, 2, 3].map((b) => 4 * l + b));

/** Above this many output vectors per group the f32 sums live in memory, not registers. */
const MAX_REGISTER_SUMS = 4;

/** Output vectors per group for each strategy (4V outputs share one walk of the input list). */
const VECTORS: Record<string, number> = { int8: 8, dequant: 4 };

/** Appends raw bytes to the blob (16-byte aligned); returns their byte offset in the blob. */
export function addBytes(blob: WeightBlob, bytes: Uint8Array): number {
  const padded = new Uint8Array(Math.ceil(bytes.length / 16) * 16);
  padded.set(bytes);
  return blob.add(new Float32Array(padded.buffer));
}

/** Vector widths of the groups: `groups` of V then the tail. */
function widths(s: { V: number; groups: number; tail: number }): number[] {
  return [...Array(s.groups).fill(s.V), ...(s.tail ? [s.tail] : [])] as number[];
}

/**
 * Packs a quantised dense kernel's weights, scales and bias into the blob.
 *
 * @param k the dense kernel (with `quant`)
 * @param blob the weights blob
 * @param base byte address of the blob in WASM memory
 * @returns the kernel's plan
 */
export function prepareQuantDense(k: DenseKernel, blob: WeightBlob, base: number): QuantDensePlan {
  const q = k.quant!;
  const vecs = Math.ceil(k.m / 4);
  const V = Math.min(VECTORS[q.compute]!, vecs);
  const groups = Math.floor(vecs / V), tail = vecs % V;
  const ws = widths({ V, groups, tail });
  const quads = q.kPad / 4;
  const val = (m: number, kk: number) => (m < k.m ? q.q[m * q.kPad + kk]! : 0);
  const bytesPerQuad = (v: number) =>
    q.compute === "dequant" ? 0 : q.type === "q4_0" ? Math.ceil(v / 2) * 16 : v * 16;
  const groupBytes = (v: number) => q.compute === "dequant" ? q.kPad * 16 : quads * bytesPerQuad(v);
  const wOut = new Uint8Array(ws.reduce((s, v) => s + groupBytes(v), 0));
  const dOut = new Float32Array(ws.reduce((s, v) => s + q.blocks * v * 4, 0));
  let o = 0, od = 0, m0 = 0;
  for (const v of ws) {
    if (q.compute === "dequant") {
      for (let kk = 0; kk < q.kPad; kk++) {
        for (let j = 0; j < 16; j++) wOut[o++] = j < v * 4 ? val(m0 + j, kk) & 0xff : 0;
      }
    } else {
      for (let qi = 0; qi < quads; qi++) {
        const lane = (vv: number, t: number) => val(m0 + vv * 4 + (t >> 2), qi * 4 + (t & 3));
        if (q.type === "q8_0") {
          for (let vv = 0; vv < v; vv++) {
            for (let t = 0; t < 16; t++) wOut[o++] = lane(vv, t) & 0xff;
          }
        } else {
          for (let pair = 0; pair < Math.ceil(v / 2); pair++) {
            for (let t = 0; t < 16; t++) {
              const lo = lane(2 * pair, t) + 8;
              const hi = 2 * pair + 1 < v ? lane(2 * pair + 1, t) + 8 : 8;
              wOut[o++] = lo | (hi << 4);
            }
          }
        }
      }
    }
    for (let b = 0; b < q.blocks; b++) {
      for (let j = 0; j < v * 4; j++) {
        const m = m0 + j;
        dOut[od++] = m < k.m ? q.d[m * q.blocks + b]! : 0;
      }
    }
    m0 += v * 4;
  }
  const w = base + addBytes(blob, wOut);
  const d = base + blob.add(dOut);
  let bias = -1;
  if (k.bias) {
    const b = new Float32Array(vecs * 4);
    b.set(k.bias);
    bias = base + blob.add(b);
  }
  return {
    quant: true,
    V,
    groups,
    tail,
    w,
    d,
    bias,
    groupW: groupBytes(V),
    groupD: q.blocks * V * 16,
  };
}

/** Scratch layout: int8 input, activation scales, block/element lists. */
function scratch(plan: Plan, k: DenseKernel): { xq: number; dx: number; list: number } {
  const q = k.quant!;
  const s = at(plan, k.scratch);
  return { xq: s, dx: s + q.kPad, list: s + q.kPad + Math.ceil((4 * q.blocks) / 16) * 16 };
}

/**
 * The kernel function of a quantised dense kernel.
 *
 * @param plan the placed plan
 * @param k the kernel (with `quant`)
 * @param s its plan from {@link prepareQuantDense}
 * @param relaxed use relaxed-SIMD instructions (the relaxed module variant)
 * @returns the function body
 */
export function quantDenseFn(plan: Plan, k: DenseKernel, s: QuantDensePlan, relaxed: boolean): Fn {
  const f = new Fn();
  const q = k.quant!;
  const pEnd = f.local(I32);
  if (q.compute === "int8") quantiseInput(f, plan, k, pEnd);
  else listNonZero(f, plan, k, pEnd);
  const ws = widths(s);
  const g = f.local(I32), wg = f.local(I32), sg = f.local(I32);
  const body = (V: number, groupIndex: number | null) => {
    if (q.compute === "int8") intGroup(f, plan, k, s, V, groupIndex, g, wg, sg, pEnd, relaxed);
    else dequantGroup(f, plan, k, s, V, groupIndex, g, wg, sg, pEnd, relaxed);
  };
  if (s.groups > 0) {
    f.for(g, 0, s.groups, 1, () => {
      f.index(g, s.groupW, s.w).set(wg);
      f.index(g, s.groupD, s.d).set(sg);
      body(s.V, null);
    });
  }
  if (s.tail) {
    f.i32(s.w + s.groups * s.groupW).set(wg);
    f.i32(s.d + s.groups * s.groupD).set(sg);
    f.i32(s.groups).set(g);
    body(s.tail, s.groups);
  }
  void ws;
  if (k.softmax) softmax(f, at(plan, k.dst), k.m);
  return f;
}

/**
 * Quantises the input per block of 32 (ggml's quantize_row_q8_0_ref) into scratch and lists the
 * non-zero quads: per block with amax > 0, [block, end pointer, quad indices...]. Leaves the
 * list's end in `pEnd`.
 */
function quantiseInput(f: Fn, plan: Plan, k: DenseKernel, pEnd: number): void {
  const src = at(plan, k.src);
  const { xq, dx, list } = scratch(plan, k);
  const v = Array.from({ length: 8 }, () => f.local(V128));
  const amax = f.local(V128), idv = f.local(V128), t = f.local(V128);
  const a = f.local(F32), d = f.local(F32), bits = f.local(I32);
  const r = Array.from({ length: 8 }, () => f.local(V128));
  const p = f.local(I32), hp = f.local(I32), bo = f.local(I32);
  f.i32(list).set(p);
  /** One block; `load(j)` pushes vector j; `qAddr`/`bIndex` push the block's addresses. */
  const block = (load: (j: number) => void, qAt: () => void, bIndex: () => void) => {
    for (let j = 0; j < 8; j++) (load(j), f.set(v[j]!));
    f.get(v[0]!).simd(SIMD.f32x4Abs).set(amax);
    for (let j = 1; j < 8; j++) {
      f.get(amax).get(v[j]!).simd(SIMD.f32x4Abs).simd(SIMD.f32x4Max).set(amax);
    }
    f.get(amax).f32x4ExtractLane(0).get(amax).f32x4ExtractLane(1)
      .op(OP.f32Max).get(amax).f32x4ExtractLane(2).op(OP.f32Max)
      .get(amax).f32x4ExtractLane(3).op(OP.f32Max).set(a);
    f.get(a).f32(0).op(OP.f32Gt);
    f.if(() => {
      // d = amax / 127; id = 1 / d; the stored scale is d rounded to f16 (round to nearest even).
      f.get(a).f32(127).op(OP.f32Div).set(d);
      f.f32(1).get(d).op(OP.f32Div).simd(SIMD.f32x4Splat).set(idv);
      bIndex();
      f.i32(2).op(OP.i32Shl);
      // f16 subnormal range: a multiple of 2^-24; otherwise keep 10 mantissa bits.
      f.get(d).f32(16777216).op(OP.f32Mul).op(OP.f32Nearest).f32(5.9604644775390625e-8).op(
        OP.f32Mul,
      );
      f.get(d).op(OP.i32ReinterpretF32).tee(bits).addConst(0xfff)
        .get(bits).i32(13).op(OP.i32ShrU).i32(1).op(OP.i32And).op(OP.i32Add)
        .i32(0xffffe000 | 0).op(OP.i32And).op(OP.f32ReinterpretI32);
      f.get(d).f32(6.103515625e-5).op(OP.f32Lt).op(OP.select);
      f.f32Store(dx);
      // q = roundf(x * id): trunc, then away from zero when |fraction| >= 0.5.
      for (let j = 0; j < 8; j++) {
        f.get(v[j]!).get(idv).simd(SIMD.f32x4Mul).tee(t).simd(SIMD.f32x4Trunc).set(r[j]!);
        f.get(r[j]!);
        f.get(t);
        f.i32x4Const([0x80000000, 0x80000000, 0x80000000, 0x80000000]);
        f.simd(SIMD.v128And);
        f.i32x4Const([0x3f800000, 0x3f800000, 0x3f800000, 0x3f800000]);
        f.simd(SIMD.v128Or); // copysign(1, x)
        f.get(t).get(r[j]!).simd(SIMD.f32x4Sub).simd(SIMD.f32x4Abs).f32x4Const(0.5).simd(
          SIMD.f32x4Ge,
        );
        f.simd(SIMD.v128And).simd(SIMD.f32x4Add).simd(SIMD.i32x4TruncSatF32x4S).set(r[j]!);
      }
      for (let h = 0; h < 2; h++) {
        qAt();
        f.get(r[4 * h]!).get(r[4 * h + 1]!).simd(SIMD.i16x8NarrowI32x4S);
        f.get(r[4 * h + 2]!).get(r[4 * h + 3]!).simd(SIMD.i16x8NarrowI32x4S);
        f.simd(SIMD.i8x16NarrowI16x8S).v128Store(xq + 16 * h);
      }
      // The block's non-zero quads.
      f.get(p).set(hp);
      f.inc(p, 8);
      for (let j = 0; j < 8; j++) {
        qAt();
        f.i32Load(xq + 4 * j).i32(0).op(OP.i32Ne);
        f.if(() => {
          f.get(p);
          bIndex();
          f.mulConst(8).addConst(j).i32Store();
          f.inc(p, 4);
        });
      }
      f.get(hp);
      bIndex();
      f.i32Store();
      f.get(hp).get(p).i32Store(4);
    });
  };
  const full = Math.floor(k.k / 32), rem = k.k % 32;
  if (full > 0) {
    // bo: byte offset of the block in the input (b * 128).
    f.for(bo, 0, full * 128, 128, () => {
      block(
        (j) => f.v128LoadFrom(bo, src + 16 * j),
        () => f.get(bo).i32(2).op(OP.i32ShrU),
        () => f.get(bo).i32(7).op(OP.i32ShrU),
      );
    });
  }
  if (rem > 0) {
    const o = full * 128;
    block(
      (j) => {
        const n = Math.min(4, rem - 4 * j);
        if (n <= 0) f.f32x4Const(0);
        else {
          f.i32(0).v128Load(src + o + 16 * j);
          if (n < 4) {
            f.i32x4Const([0, 1, 2, 3].map((l) => (l < n ? -1 : 0)));
            f.simd(SIMD.v128And);
          }
        }
      },
      () => f.i32(full * 32),
      () => f.i32(full),
    );
  }
  f.get(p).set(pEnd);
}

/** Lists the non-zero f32 inputs per block: [block, end pointer, element indices...]. */
function listNonZero(f: Fn, plan: Plan, k: DenseKernel, pEnd: number): void {
  const src = at(plan, k.src);
  const { list } = scratch(plan, k);
  const p = f.local(I32), hp = f.local(I32), b = f.local(I32), e = f.local(I32);
  const blocks = Math.ceil(k.k / 32);
  f.i32(list).set(p);
  f.for(b, 0, blocks, 1, () => {
    f.get(p).set(hp);
    f.inc(p, 8);
    const last = Math.min(32, k.k - 32 * (blocks - 1));
    // Elements of block b: 32 of them (fewer in the last block).
    f.index(b, 32).set(e);
    f.loop(() => {
      f.get(e).i32(2).op(OP.i32Shl).f32Load(src).f32(0).op(OP.f32Ne);
      f.if(() => {
        f.get(p).get(e).i32Store();
        f.inc(p, 4);
      });
      f.get(e).addConst(1).tee(e);
      // end of this block: min(32 (b + 1), k)
      f.i32(32 * (blocks - 1) + last).index(b, 32, 32)
        .get(b).i32(blocks - 1).op(OP.i32Eq).op(OP.select);
      f.op(OP.i32LtS).brIf(0);
    });
    f.get(p).get(hp).addConst(8).op(OP.i32Eq);
    f.if(() => {
      f.get(hp).set(p); // nothing in this block
    });
    f.get(p).get(hp).op(OP.i32Ne);
    f.if(() => {
      f.get(hp).get(b).i32Store();
      f.get(hp).get(p).i32Store(4);
    });
  });
  f.get(p).set(pEnd);
}

/** One group of V output vectors, int8 path. */
function intGroup(
  f: Fn,
  plan: Plan,
  k: DenseKernel,
  s: QuantDensePlan,
  V: number,
  groupIndex: number | null,
  g: number,
  wg: number,
  sg: number,
  pEnd: number,
  relaxed: boolean,
): void {
  const q = k.quant!;
  const { xq, dx, list } = scratch(plan, k);
  const useRelaxed = relaxed && q.nonNegativeInput;
  const p = f.local(I32), e = f.local(I32), qi = f.local(I32), wa = f.local(I32), bo = f.local(I32);
  const xs = f.local(V128), xs16 = f.local(V128), w = f.local(V128), dxv = f.local(V128);
  // Wide groups keep the f32 sums in the output buffer (registers hold the i32 sums).
  const inMemory = V > MAX_REGISTER_SUMS;
  const facc = inMemory ? [] : Array.from({ length: V }, () => f.local(V128));
  const A = Array.from({ length: V }, () => f.local(V128));
  const B = useRelaxed ? [] : Array.from({ length: V }, () => f.local(V128));
  const perQuad = q.type === "q4_0" ? Math.ceil(V / 2) * 16 : V * 16;
  const da = f.local(I32);
  if (groupIndex === null) {
    f.index(g, s.V * 16, at(plan, k.dst)).set(da);
  } else f.i32(at(plan, k.dst) + groupIndex * s.V * 16).set(da);
  if (inMemory) { for (let v = 0; v < V; v++) f.get(da).f32x4Const(0).v128Store(v * 16); }
  else for (const a of facc) f.f32x4Const(0).set(a);
  f.i32(list).set(p);
  f.block(() => {
    f.get(p).get(pEnd).op(OP.i32GeU).brIf(0);
    f.loop(() => {
      f.get(p).i32Load(4).set(e);
      f.get(p).i32Load().mulConst(V * 16).get(sg).op(OP.i32Add).set(bo);
      f.get(p).i32Load().i32(2).op(OP.i32Shl).f32Load(dx).simd(SIMD.f32x4Splat).set(dxv);
      f.inc(p, 8);
      for (let v = 0; v < V; v++) {
        f.i32x4Const([0, 0, 0, 0]);
        f.set(A[v]!);
        if (!useRelaxed) (f.i32x4Const([0, 0, 0, 0]), f.set(B[v]!));
      }
      f.loop(() => {
        f.get(p).i32Load().tee(qi).i32(2).op(OP.i32Shl).splatLoad(xq).set(xs);
        if (!useRelaxed) f.get(xs).simd(SIMD.i16x8ExtendLowI8x16S).set(xs16);
        f.index(qi, perQuad).get(wg).op(OP.i32Add).set(wa);
        for (let v = 0; v < V; v++) {
          if (q.type === "q8_0") f.v128LoadFrom(wa, v * 16).set(w);
          else {
            f.v128LoadFrom(wa, (v >> 1) * 16);
            if (v % 2 === 0) {
              f.i32x4Const([0x0f0f0f0f, 0x0f0f0f0f, 0x0f0f0f0f, 0x0f0f0f0f]);
              f.simd(SIMD.v128And);
            } else f.i32(4).simd(SIMD.i8x16ShrU);
            f.i32x4Const([0x08080808, 0x08080808, 0x08080808, 0x08080808]);
            f.simd(SIMD.i8x16Sub).set(w);
          }
          if (useRelaxed) {
            f.get(w).get(xs).get(A[v]!).simd(SIMD.i32x4RelaxedDotI8x16I7x16AddS).set(A[v]!);
          } else {
            f.get(A[v]!).get(w).simd(SIMD.i16x8ExtendLowI8x16S).get(xs16).simd(SIMD.i32x4DotI16x8S)
              .simd(SIMD.i32x4Add).set(A[v]!);
            f.get(B[v]!).get(w).simd(SIMD.i16x8ExtendHighI8x16S).get(xs16).simd(SIMD.i32x4DotI16x8S)
              .simd(SIMD.i32x4Add).set(B[v]!);
          }
        }
        f.get(p).addConst(4).tee(p).get(e).op(OP.i32LtU).brIf(0);
      });
      // End of the block: sumf += (float)sumi * (d_w * d_x), per output.
      for (let v = 0; v < V; v++) {
        if (inMemory) f.get(da).v128LoadFrom(da, v * 16);
        else f.get(facc[v]!);
        if (useRelaxed) f.get(A[v]!);
        else {
          // Pairs of i32 lanes of [A, B] (the two dot_i16x8_s halves): even + odd lanes.
          f.get(A[v]!).get(B[v]!).i8x16Shuffle(EVEN_I32_LANES);
          f.get(A[v]!).get(B[v]!).i8x16Shuffle(ODD_I32_LANES);
          f.simd(SIMD.i32x4Add);
        }
        f.simd(SIMD.f32x4ConvertI32x4S);
        f.v128LoadFrom(bo, v * 16).get(dxv).simd(SIMD.f32x4Mul).simd(SIMD.f32x4Mul);
        f.simd(SIMD.f32x4Add);
        if (inMemory) f.v128Store(v * 16);
        else f.set(facc[v]!);
      }
      f.get(p).get(pEnd).op(OP.i32LtU).brIf(0);
    });
  });
  if (inMemory) {
    for (let v = 0; v < V; v++) {
      f.get(da).v128LoadFrom(da, v * 16);
      if (s.bias >= 0) {
        if (groupIndex === null) f.index(g, s.V * 16);
        else f.i32(groupIndex * s.V * 16);
        f.v128Load(s.bias + v * 16).simd(SIMD.f32x4Add);
      }
      if (k.relu) f.f32x4Const(0).simd(SIMD.f32x4Max);
      f.v128Store(v * 16);
    }
  } else storeGroup(f, plan, k, s, V, groupIndex, g, facc);
}

/** out = sum + bias, relu, stored at the group's outputs. */
function storeGroup(
  f: Fn,
  plan: Plan,
  k: DenseKernel,
  s: QuantDensePlan,
  V: number,
  groupIndex: number | null,
  g: number,
  facc: number[],
): void {
  const dst = at(plan, k.dst);
  for (let v = 0; v < V; v++) {
    // address: dst + (g * V + v) * 16
    if (groupIndex === null) f.index(g, s.V * 16);
    else f.i32(groupIndex * s.V * 16);
    f.get(facc[v]!);
    if (s.bias >= 0) {
      if (groupIndex === null) f.index(g, s.V * 16);
      else f.i32(groupIndex * s.V * 16);
      f.v128Load(s.bias + v * 16).simd(SIMD.f32x4Add);
    }
    if (k.relu) f.f32x4Const(0).simd(SIMD.f32x4Max);
    f.v128Store(dst + v * 16);
  }
}

/** One group of V output vectors, dequantise-in-register path (q8_0, f32 input). */
function dequantGroup(
  f: Fn,
  plan: Plan,
  k: DenseKernel,
  s: QuantDensePlan,
  V: number,
  groupIndex: number | null,
  g: number,
  wg: number,
  sg: number,
  pEnd: number,
  fma: boolean,
): void {
  const src = at(plan, k.src);
  const { list } = scratch(plan, k);
  const p = f.local(I32), e = f.local(I32), kk = f.local(I32), bo = f.local(I32);
  const xv = f.local(V128), w = f.local(V128), lo = f.local(V128), hi = f.local(V128);
  const wf = f.local(V128);
  const facc = Array.from({ length: V }, () => f.local(V128));
  const bacc = Array.from({ length: V }, () => f.local(V128));
  for (const a of facc) f.f32x4Const(0).set(a);
  f.i32(list).set(p);
  f.block(() => {
    f.get(p).get(pEnd).op(OP.i32GeU).brIf(0);
    f.loop(() => {
      f.get(p).i32Load(4).set(e);
      f.get(p).i32Load().mulConst(V * 16).get(sg).op(OP.i32Add).set(bo);
      f.inc(p, 8);
      for (const a of bacc) f.f32x4Const(0).set(a);
      f.loop(() => {
        f.get(p).i32Load().tee(kk).i32(2).op(OP.i32Shl).splatLoad(src).set(xv);
        f.get(kk).i32(4).op(OP.i32Shl).get(wg).op(OP.i32Add).v128Load().set(w);
        f.get(w).simd(SIMD.i16x8ExtendLowI8x16S).set(lo);
        if (V > 2) f.get(w).simd(SIMD.i16x8ExtendHighI8x16S).set(hi);
        for (let v = 0; v < V; v++) {
          f.get(v < 2 ? lo : hi).simd(
            v % 2 === 0 ? SIMD.i32x4ExtendLowI16x8S : SIMD.i32x4ExtendHighI16x8S,
          )
            .simd(SIMD.f32x4ConvertI32x4S).set(wf);
          madd(f, bacc[v]!, xv, wf, fma);
        }
        f.get(p).addConst(4).tee(p).get(e).op(OP.i32LtU).brIf(0);
      });
      for (let v = 0; v < V; v++) {
        f.get(facc[v]!).get(bacc[v]!).v128LoadFrom(bo, v * 16).simd(SIMD.f32x4Mul)
          .simd(SIMD.f32x4Add).set(facc[v]!);
      }
      f.get(p).get(pEnd).op(OP.i32LtU).brIf(0);
    });
  });
  storeGroup(f, plan, k, s, V, groupIndex, g, facc);
}

/**
 * One line saying how a quantised dense kernel is computed (for `--plan` notes).
 *
 * @param k the kernel
 * @param s its plan
 * @returns the description
 */
export function describeQuantDense(k: Kernel, s: QuantDensePlan): string {
  const q = (k as DenseKernel).quant!;
  return q.compute === "int8"
    ? `dense ${q.type} x q8_0 (ggml vec_dot): input quantised per 32-block, int8 dot products over non-zero quads (${
      q.nonNegativeInput ? "relaxed i8x16.i7x16 dot, or " : ""
    }i32x4.dot_i16x8_s), ${s.V} output vectors per group`
    : `dense ${q.type} weights dequantised in registers x f32 input (non-zero inputs), ${s.V} output vectors per group`;
}
