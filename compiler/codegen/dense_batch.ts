/**
 * Batch kernels for f32 `dense` calls: one call over a chunk of images, on the weights the
 * batch-1 kernel packed (dense.ts), with each output summed in the same order as the batch-1
 * kernel, so the results are bit-identical to running the images one by one.
 *
 * - Few outputs (the batch-1 "dot" kernel, weights `[m][k]`): a GEMM across images, register
 *   blocked as R = 4 images x MB = 2 outputs (8 f32x4 accumulators along k; each weight vector
 *   loaded once feeds 4 images, each input vector 2 outputs), then the horizontal sums, bias,
 *   relu and soft_max per image as the batch-1 kernel does them.
 * - Many outputs (the non-zero-input kernel, weight panels `[block][k][V*4]`): first each
 *   image's list of non-zero inputs, then panel by panel, every image of the chunk: a panel
 *   (k x V vectors) is read once per chunk instead of once per image and stays in cache while
 *   the chunk's images (each only over its own non-zero rows, V accumulators in registers) pass.
 *
 * Scratch (sparse form): the lists, `[image][k]` i32 byte offsets, then one end pointer per
 * image.
 *
 * @module
 */
import { F32, Fn, I32, OP, SIMD, V128 } from "../../wasm/assembler.ts";
import type { DenseKernel } from "../plan/plan.ts";
import type { BatchIo, BatchKernelCodegen } from "./batch_codegen.ts";
import type { DensePlan } from "./dense.ts";
import type { QuantDensePlan } from "./dense_quant_wasm.ts";
import { madd } from "./wasm_shared.ts";

/** Images and outputs per register block of the dot form. */
const R = 4;
const MB = 2;

/** The dense family's batch kernels (quantised calls run image by image). */
export const denseBatch: BatchKernelCodegen<DenseKernel, DensePlan | QuantDensePlan> = {
  scratchBytes(k, s, images) {
    if ("quant" in s) return undefined;
    return s.dot ? 0 : images * (k.k + 1) * 4;
  },
  fn(k, s, fma, io) {
    if ("quant" in s) throw new Error("quantised dense calls have no batch kernel");
    return s.dot ? dotBatch(k, s, fma, io) : sparseBatch(k, s, fma, io);
  },
  describe: (_k, s) =>
    (s as DensePlan).dot
      ? `dense GEMM across images, ${R} images x ${MB} outputs per register block`
      : `dense over each image's non-zero inputs, panel by panel across the chunk (${
        (s as DensePlan).V
      } f32x4 vectors per panel)`,
};

/** out[n][m] = bias[m] + dot(x[n], W[m]), R images x MB outputs at a time. */
function dotBatch(k: DenseKernel, s: DensePlan, fma: boolean, io: BatchIo): Fn {
  const f = new Fn();
  const nb = f.local(I32), xo = f.local(I32), oo = f.local(I32); // block, its input and output offsets
  const xp = f.local(I32), wp = f.local(I32);
  const x = Array.from({ length: R }, () => f.local(V128));
  const w = f.local(V128);
  const acc = Array.from({ length: R }, () => Array.from({ length: MB }, () => f.local(V128)));
  const sm = softmaxLocals(f);

  /** `r` images from the one whose input offset is in `xo` (output offset in `oo`). */
  const block = (r: number) => {
    for (let m0 = 0; m0 < k.m; m0 += MB) {
      const mm = Math.min(MB, k.m - m0);
      for (let i = 0; i < r; i++) for (let j = 0; j < mm; j++) f.f32x4Const(0).set(acc[i]![j]!);
      f.get(xo).set(xp);
      f.i32(0).set(wp);
      f.loop(() => {
        for (let i = 0; i < r; i++) f.get(xp).v128Load(io.src + i * io.srcStride).set(x[i]!);
        for (let j = 0; j < mm; j++) {
          f.get(wp).v128Load(s.w + (m0 + j) * k.k * 4).set(w);
          for (let i = 0; i < r; i++) madd(f, acc[i]![j]!, x[i]!, w, fma);
        }
        f.inc(xp, 16);
        f.get(wp).addConst(16).tee(wp).i32(k.k * 4).op(OP.i32LtS).brIf(0);
      });
      // (l0 + l1) + (l2 + l3), + bias, relu: as the batch-1 kernel.
      for (let i = 0; i < r; i++) {
        for (let j = 0; j < mm; j++) {
          const a = acc[i]![j]!;
          f.get(oo);
          f.get(a).f32x4ExtractLane(0).get(a).f32x4ExtractLane(1).op(OP.f32Add);
          f.get(a).f32x4ExtractLane(2).get(a).f32x4ExtractLane(3).op(OP.f32Add);
          f.op(OP.f32Add);
          if (s.bias >= 0) f.i32(0).f32Load(s.bias + (m0 + j) * 4).op(OP.f32Add);
          if (k.relu) f.f32(0).op(OP.f32Max);
          f.f32Store(io.dst + i * io.dstStride + (m0 + j) * 4);
        }
      }
    }
    for (let i = 0; i < r; i++) {
      for (let m = k.m; m % 4 !== 0; m++) {
        f.get(oo).f32(0).f32Store(io.dst + i * io.dstStride + m * 4);
      }
      if (k.softmax) softmaxAt(f, sm, oo, io.dst + i * io.dstStride, k.m);
    }
  };

  const full = Math.floor(io.images / R), rest = io.images % R;
  if (full > 0) {
    f.for(nb, 0, full, 1, () => {
      f.index(nb, R * io.srcStride).set(xo);
      f.index(nb, R * io.dstStride).set(oo);
      block(R);
    });
  }
  if (rest) {
    f.i32(full * R * io.srcStride).set(xo);
    f.i32(full * R * io.dstStride).set(oo);
    block(rest);
  }
  return f;
}

/** Per image its non-zero inputs, then per weight panel every image over its own list. */
function sparseBatch(k: DenseKernel, s: DensePlan, fma: boolean, io: BatchIo): Fn {
  const f = new Fn();
  const lists = io.scratch, ends = io.scratch + io.images * k.k * 4;
  const n = f.local(I32), xo = f.local(I32), np = f.local(I32), kb = f.local(I32);
  const j = f.local(I32), kk = f.local(I32), wr = f.local(I32), oo = f.local(I32);
  const maxV = Math.max(s.V, s.tail);
  const acc = Array.from({ length: maxV }, () => f.local(V128));
  const xv = f.local(V128);

  // 1. lists[n] = byte offsets of image n's non-zero inputs; ends[n] one past its last entry.
  f.for(n, 0, io.images, 1, () => {
    f.index(n, io.srcStride).set(xo);
    f.index(n, k.k * 4, lists).set(np);
    f.for(kb, 0, k.k * 4, 4, () => {
      f.get(xo).get(kb).op(OP.i32Add).f32Load(io.src).f32(0).op(OP.f32Ne);
      f.if(() => {
        f.get(np).get(kb).i32Store();
        f.inc(np, 4);
      });
    });
    f.index(n, 4).get(np).i32Store(ends);
  });

  // 2. Panel by panel (V vectors of outputs; `wb` its weights, `ch` its first output byte),
  //    every image of the chunk.
  const g = f.local(I32), wb = f.local(I32), ch = f.local(I32);
  const panel = (V: number) => {
    f.for(n, 0, io.images, 1, () => {
      f.index(n, io.srcStride).set(xo);
      f.index(n, io.dstStride).get(ch).op(OP.i32Add).set(oo);
      f.index(n, k.k * 4, lists).set(j);
      f.index(n, 4).i32Load(ends).set(np);
      for (let v = 0; v < V; v++) {
        if (s.bias >= 0) f.get(ch).v128Load(s.bias + v * 16);
        else f.f32x4Const(0);
        f.set(acc[v]!);
      }
      f.block(() => {
        f.get(np).get(j).op(OP.i32Eq).brIf(0); // no non-zero input
        f.loop(() => {
          f.get(j).i32Load().set(kk);
          f.get(xo).get(kk).op(OP.i32Add).splatLoad(io.src).set(xv);
          f.get(kk).mulConst(V * 4).get(wb).op(OP.i32Add).set(wr);
          for (let v = 0; v < V; v++) {
            // acc += x * w, w loaded in place (as the batch-1 kernel, same rounding).
            if (fma) f.get(xv).v128LoadFrom(wr, v * 16).get(acc[v]!).simd(SIMD.f32x4RelaxedMadd);
            else {
              f.get(acc[v]!).get(xv).v128LoadFrom(wr, v * 16);
              f.simd(SIMD.f32x4Mul).simd(SIMD.f32x4Add);
            }
            f.set(acc[v]!);
          }
          f.get(j).addConst(4).tee(j).get(np).op(OP.i32LtS).brIf(0);
        });
      });
      for (let v = 0; v < V; v++) {
        f.get(oo).get(acc[v]!);
        if (k.relu) f.f32x4Const(0).simd(SIMD.f32x4Max);
        f.v128Store(io.dst + v * 16);
      }
    });
  };
  const blockBytes = k.k * s.V * 16;
  if (s.blocks > 0) {
    f.for(g, 0, s.blocks, 1, () => {
      f.index(g, blockBytes, s.w).set(wb);
      f.index(g, s.V * 16).set(ch);
      panel(s.V);
    });
  }
  if (s.tail) {
    f.i32(s.w + s.blocks * blockBytes).set(wb);
    f.i32(s.blocks * s.V * 16).set(ch);
    panel(s.tail);
  }
  if (k.softmax) {
    const sm = softmaxLocals(f);
    f.for(n, 0, io.images, 1, () => {
      f.index(n, io.dstStride).set(oo);
      softmaxAt(f, sm, oo, io.dst, k.m);
    });
  }
  return f;
}

/** The locals of {@link softmaxAt}, declared once per function. */
interface SoftmaxLocals {
  readonly m: number;
  readonly a: number;
  readonly max: number;
  readonly sum: number;
  readonly e: number;
}

function softmaxLocals(f: Fn): SoftmaxLocals {
  return {
    m: f.local(I32),
    a: f.local(I32),
    max: f.local(F32),
    sum: f.local(F32),
    e: f.local(F32),
  };
}

/**
 * In-place soft_max of `n` floats at `base + dst` (`base` an i32 local): the same operations as
 * wasm_shared.ts's `softmax` (f64 `Math.exp`, function 0), so the same results.
 */
function softmaxAt(f: Fn, l: SoftmaxLocals, base: number, dst: number, n: number): void {
  const { m, a, max, sum, e } = l;
  f.f32(-Infinity).set(max);
  f.for(m, 0, n * 4, 4, () => {
    f.get(base).get(m).op(OP.i32Add).set(a);
    f.get(max).get(a).f32Load(dst).op(OP.f32Max).set(max);
  });
  f.f32(0).set(sum);
  f.for(m, 0, n * 4, 4, () => {
    f.get(base).get(m).op(OP.i32Add).set(a);
    f.get(a).f32Load(dst).op(OP.f64PromoteF32).get(max).op(OP.f64PromoteF32).op(OP.f64Sub)
      .call(0).op(OP.f32DemoteF64).set(e);
    f.get(a).get(e).f32Store(dst);
    f.get(sum).get(e).op(OP.f32Add).set(sum);
  });
  f.for(m, 0, n * 4, 4, () => {
    f.get(base).get(m).op(OP.i32Add).set(a);
    f.get(a).get(a).f32Load(dst).get(sum).op(OP.f32Div).f32Store(dst);
  });
}
