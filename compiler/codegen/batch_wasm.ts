/**
 * The WASM batch path: `runBatch(fromBytes)`, exported next to `run` from the same module, runs
 * a chunk of `images` inputs through the batch plan (compiler/plan/batch.ts). Families with a
 * batch kernel (their entry in {@link BATCH_CODEGEN}) run once over the whole chunk on the
 * weights their batch-1 call packed; the other calls run image by image through the batch-1
 * functions (`k<i>`), in the batch-1 arena, with memory.copy in and out.
 *
 * Memory: arena, kernel scratch and weights as the batch-1 module has them, then the batch
 * arena at `arenaAt` (so the weights are shared and the batch-1 addresses are unchanged).
 * `runBatch(1)` first widens the chunk's raw bytes (written by the API at `bytesAt`) to f32;
 * `runBatch(0)` takes f32 inputs already at `inputAt`.
 *
 * @module
 */
import { Fn, I32, SIMD, V128 } from "../../wasm/assembler.ts";
import type { Kernel, Plan } from "../plan/plan.ts";
import { batchImages, type BatchPlan, batchPlan } from "../plan/batch.ts";
import type { BatchKernelCodegen } from "./batch_codegen.ts";
import { denseBatch } from "./dense_batch.ts";
import { at } from "./wasm_shared.ts";

/** Families with a batch kernel; every other call of a chunk runs image by image. */
const BATCH_CODEGEN: { readonly [P in Kernel["kind"]]?: BatchKernelCodegen<Kernel, unknown> } = {
  dense: denseBatch as unknown as BatchKernelCodegen<Kernel, unknown>,
};

/** Where the batch path's data is in WASM memory (bytes; strides in floats). */
export interface WasmBatchLayout {
  readonly images: number;
  /** The batch arena. */
  readonly arenaAt: number;
  readonly arenaBytes: number;
  /** f32 inputs: image n at inputAt + 4 * n * inputStride. */
  readonly inputAt: number;
  readonly inputStride: number;
  /** Raw byte inputs for runBatch(1): images * inputLength bytes, one image after another. */
  readonly bytesAt: number;
  /** Outputs: image n's at outputAt + 4 * n * outputStride. */
  readonly outputAt: number;
  readonly outputStride: number;
}

/** The batch path of a module: its plan, layout and functions. */
export interface WasmBatch {
  readonly plan: BatchPlan;
  readonly layout: WasmBatchLayout;
  /** One past the last byte the batch path uses. */
  readonly end: number;
  /**
   * The functions to append to the module: the batched calls, then `runBatch`.
   *
   * @param fma relaxed-SIMD variant
   * @param first function index the first of them gets
   */
  functions(fma: boolean, first: number): { name: string; fn: Fn }[];
  /** How each batched call is computed, and the plan listing. */
  readonly notes: readonly string[];
}

/**
 * Builds the batch path of a placed plan, or undefined when the plan has none (not one chain,
 * or an input length that is not a multiple of 4).
 *
 * @param plan the batch-1 plan (memory placed)
 * @param strategies each call's batch-1 strategy (from its family's `prepare`)
 * @param arenaAt byte address of the batch arena (after the weights, 16-byte aligned)
 * @param images images per chunk; default from the batch arena per image ({@link batchImages})
 * @returns the batch path
 */
export function wasmBatch(
  plan: Plan,
  strategies: readonly unknown[],
  arenaAt: number,
  images?: number,
): WasmBatch | undefined {
  if (plan.inputLength % 4 !== 0) return undefined;
  const scratch = (k: Kernel, i: number, n: number) =>
    BATCH_CODEGEN[k.kind]?.scratchBytes(k, strategies[i], n);
  const one = batchPlan(plan, 1, scratch);
  if (!one) return undefined;
  const b = batchPlan(plan, images ?? batchImages(one.arenaBytes), scratch)!;
  const addr = (id: number) => arenaAt + b.buffers[id]!.offset;
  const stride = (id: number) => b.buffers[id]!.stride;
  const layout: WasmBatchLayout = {
    images: b.images,
    arenaAt,
    arenaBytes: b.arenaBytes,
    inputAt: addr(b.input),
    inputStride: stride(b.input) / 4,
    bytesAt: addr(b.bytes),
    outputAt: addr(b.output),
    outputStride: stride(b.output) / 4,
  };
  const steps = b.steps.map((s) =>
    s.kind === "batched"
      ? `k${s.kernel} batched (${
        BATCH_CODEGEN[plan.kernels[s.kernel]!.kind]!.describe(
          plan.kernels[s.kernel]!,
          strategies[s.kernel],
        )
      })`
      : `k${s.first}..k${s.last} image by image`
  );
  const notes = [
    `runBatch: ${b.images} images per chunk, batch arena ${b.arenaBytes} bytes: ${
      steps.join(", ")
    }`,
  ];

  const functions = (fma: boolean, first: number) => {
    const out: { name: string; fn: Fn }[] = [];
    const index = new Map<number, number>(); // step -> function index
    b.steps.forEach((s, t) => {
      if (s.kind !== "batched") return;
      const k = plan.kernels[s.kernel]!;
      const fn = BATCH_CODEGEN[k.kind]!.fn(k, strategies[s.kernel], fma, {
        images: b.images,
        src: addr(s.src),
        srcStride: stride(s.src),
        dst: addr(s.dst),
        dstStride: stride(s.dst),
        scratch: s.scratch >= 0 ? addr(s.scratch) : -1,
      });
      index.set(t, first + out.length);
      out.push({ name: `b${s.kernel}`, fn });
    });
    out.push({ name: "runBatch", fn: runBatchFn(plan, b, layout, index) });
    return out;
  };
  return { plan: b, layout, end: arenaAt + b.arenaBytes, functions, notes };
}

/** runBatch(fromBytes): widen the bytes (when asked), then every step in order. */
function runBatchFn(
  plan: Plan,
  b: BatchPlan,
  layout: WasmBatchLayout,
  index: ReadonlyMap<number, number>,
): Fn {
  const f = new Fn([I32]);
  const fromBytes = 0, p = f.local(I32), n = f.local(I32), v = f.local(V128);
  // Widen images * inputLength bytes (a multiple of 16: inputLength % 4 == 0, images % 8 == 0)
  // to f32, 16 at a time: each group of 4 bytes becomes an i32x4 (zeros shuffled in), then f32.
  const total = b.images * plan.inputLength;
  f.get(fromBytes).if(() => {
    f.for(p, 0, total, 16, () => {
      f.get(p).v128Load(layout.bytesAt).set(v);
      for (let q = 0; q < 4; q++) {
        f.get(p).mulConst(4);
        f.get(v).i32x4Const([0, 0, 0, 0]);
        f.i8x16Shuffle(
          [0, 1, 2, 3].flatMap((l) => [4 * q + l, 16, 16, 16]),
        );
        f.simd(SIMD.f32x4ConvertI32x4S).v128Store(layout.inputAt + q * 16);
      }
    });
  });
  const base = (id: number) => layout.arenaAt + b.buffers[id]!.offset;
  b.steps.forEach((s, t) => {
    if (s.kind === "batched") {
      f.call(index.get(t)!);
      return;
    }
    const first = plan.kernels[s.first]!, last = plan.kernels[s.last]!;
    const inBytes = b.buffers[s.src]!.stride, outBytes = b.buffers[s.dst]!.stride;
    f.for(n, 0, b.images, 1, () => {
      f.i32(at(plan, first.src)).index(n, inBytes, base(s.src)).i32(inBytes).memoryCopy();
      for (let i = s.first; i <= s.last; i++) f.call(1 + i); // k<i> (function 0 is Math.exp)
      f.index(n, outBytes, base(s.dst)).i32(at(plan, last.dst)).i32(outBytes).memoryCopy();
    });
  });
  return f;
}
