/**
 * The batch plan: how an emitted module runs a chunk of `images` inputs at once (`runBatch`),
 * next to the batch-1 plan (`run`). It is derived from the placed batch-1 plan, whose kernels
 * and weights it reuses:
 *
 * - a **batched** step runs one kernel call over all images of the chunk (a GEMM across images,
 *   e.g. the dense layers: one pass over a weight panel serves every image);
 * - a **per-image** step runs a run of batch-1 calls image by image in the batch-1 arena: the
 *   image's input is copied in, the calls run, the result is copied out (for families without a
 *   batch kernel; conv chains stay in the batch-1 arena, only their ends are copied).
 *
 * Batch arena layout: every batch buffer holds `images` copies of one batch-1 buffer, image n at
 * `offset + n * stride` (stride = the batch-1 buffer's bytes, a multiple of 16). Offsets are
 * relative to the batch arena's start, which the code generator places after the weights (so
 * the batch-1 memory map, and the weights, are shared and unchanged).
 *
 * Only plans that are one chain (each call reads the previous call's output) get a batch plan.
 *
 * @module
 */
import { align16, type Kernel, type Plan } from "./plan.ts";

/** A buffer of the batch arena. */
export interface BatchBuffer {
  readonly id: number;
  readonly name: string;
  /** Bytes per image (a multiple of 16); `bytes` = images * stride. */
  readonly stride: number;
  readonly bytes: number;
  /** Byte offset from the batch arena's start. */
  readonly offset: number;
}

/** One step of `runBatch`. */
export type BatchStep =
  /** Batch-1 calls `first..last` (plan indices), image by image, src/dst copied in and out. */
  | {
    readonly kind: "per-image";
    readonly first: number;
    readonly last: number;
    readonly src: number;
    readonly dst: number;
  }
  /** Call `kernel` over all images at once; `scratch` is a batch buffer id or -1. */
  | {
    readonly kind: "batched";
    readonly kernel: number;
    readonly src: number;
    readonly dst: number;
    readonly scratch: number;
  };

/** How a chunk of images runs. */
export interface BatchPlan {
  /** Images per chunk (fixed at compile time). */
  readonly images: number;
  readonly buffers: readonly BatchBuffer[];
  readonly steps: readonly BatchStep[];
  /** Batch buffers of the inputs (f32, stride = the batch-1 input's bytes) and outputs. */
  readonly input: number;
  readonly output: number;
  /** Batch buffer of the raw byte inputs (images * inputLength bytes, no padding per image). */
  readonly bytes: number;
  /** Bytes of the batch arena (a multiple of 16). */
  readonly arenaBytes: number;
}

/**
 * Scratch bytes a batched call needs for a chunk of `images`, or undefined when the call has no
 * batch kernel (it then runs image by image).
 */
export type BatchedScratch = (k: Kernel, index: number, images: number) => number | undefined;

/** Bytes of batch arena per image above which a chunk holds fewer images (see {@link batchImages}). */
export const BATCH_ARENA_BUDGET = 256 * 1024;

/**
 * Images per chunk: the largest power of two from 8 to 32 whose batch arena fits
 * {@link BATCH_ARENA_BUDGET} (a quarter of a 1 MiB L2, so the weight panel a batched kernel
 * streams stays in cache next to the chunk's activations). At least 8, so a batched kernel's
 * register blocks (4 images) and panel reuse pay.
 *
 * @param perImageBytes batch arena bytes per image ({@link batchPlan} with images = 1)
 * @returns images per chunk
 */
export function batchImages(perImageBytes: number): number {
  let n = 32;
  while (n > 8 && n * perImageBytes > BATCH_ARENA_BUDGET) n /= 2;
  return n;
}

/**
 * Builds the batch plan of a placed batch-1 plan.
 *
 * @param plan the batch-1 plan (memory placed)
 * @param images images per chunk
 * @param batched which calls have a batch kernel, and their scratch
 * @returns the batch plan, or undefined when the plan is not one chain
 */
export function batchPlan(
  plan: Plan,
  images: number,
  batched: BatchedScratch,
): BatchPlan | undefined {
  const ks = plan.kernels;
  if (ks.length === 0 || ks[0]!.src !== plan.input || ks[ks.length - 1]!.dst !== plan.output) {
    return undefined;
  }
  for (let i = 1; i < ks.length; i++) if (ks[i]!.src !== ks[i - 1]!.dst) return undefined;

  // Buffers with their lifetimes in steps (-1: before the first step, i.e. the widening).
  const specs: { name: string; stride: number; bytes: number; first: number; last: number }[] = [];
  const add = (name: string, stride: number, bytes: number, first: number) =>
    specs.push({ name, stride, bytes, first, last: first }) - 1;
  const use = (id: number, t: number) => (specs[id]!.last = Math.max(specs[id]!.last, t));
  const strideOf = (buf: number) => plan.buffers[buf]!.bytes;
  const bytes = add("input bytes", 0, align16(images * plan.inputLength), -1);
  const input = add("input", strideOf(plan.input), images * strideOf(plan.input), -1);
  const steps: BatchStep[] = [];
  let src = input;
  for (let i = 0; i < ks.length;) {
    const t = steps.length;
    const scratch = batched(ks[i]!, i, images);
    if (scratch !== undefined) {
      const k = ks[i]!;
      const dst = add(plan.buffers[k.dst]!.name, strideOf(k.dst), images * strideOf(k.dst), t);
      const s = scratch > 0 ? add(`${k.nodes[0] ?? k.kind}:batch`, 0, align16(scratch), t) : -1;
      use(src, t);
      steps.push({ kind: "batched", kernel: i, src, dst, scratch: s });
      src = dst;
      i++;
      continue;
    }
    let last = i;
    while (last + 1 < ks.length && batched(ks[last + 1]!, last + 1, images) === undefined) last++;
    const out = ks[last]!.dst;
    const dst = add(plan.buffers[out]!.name, strideOf(out), images * strideOf(out), t);
    use(src, t);
    steps.push({ kind: "per-image", first: i, last, src, dst });
    src = dst;
    i = last + 1;
  }
  use(src, steps.length); // the outputs are read after the last step

  // Largest first, each at the lowest offset clear of every buffer live at the same time.
  const offsets = new Array<number>(specs.length).fill(-1);
  const order = specs.map((_, i) => i).sort((a, b) => specs[b]!.bytes - specs[a]!.bytes || a - b);
  let arenaBytes = 0;
  for (const id of order) {
    const s = specs[id]!;
    const clashes = order
      .filter((o) => offsets[o]! >= 0 && specs[o]!.first <= s.last && s.first <= specs[o]!.last)
      .map((o) => ({ at: offsets[o]!, end: offsets[o]! + specs[o]!.bytes }))
      .sort((a, b) => a.at - b.at);
    let at = 0;
    for (const c of clashes) {
      if (at + s.bytes <= c.at) break;
      at = Math.max(at, c.end);
    }
    offsets[id] = at;
    arenaBytes = Math.max(arenaBytes, at + s.bytes);
  }
  const buffers = specs.map((s, id) => ({
    id,
    name: s.name,
    stride: s.stride,
    bytes: s.bytes,
    offset: offsets[id]!,
  }));
  return { images, buffers, steps, input, output: src, bytes, arenaBytes: align16(arenaBytes) };
}

/**
 * The batch plan as text (`compile --plan` appends it).
 *
 * @param plan the batch-1 plan
 * @param b its batch plan
 * @returns one line per step and per buffer
 */
export function renderBatchPlan(plan: Plan, b: BatchPlan): string {
  const at = (id: number) => `@${b.buffers[id]!.offset}+${b.buffers[id]!.bytes}`;
  const lines = [`batch plan: ${b.images} images per chunk, batch arena ${b.arenaBytes} bytes`];
  for (const s of b.steps) {
    lines.push(
      s.kind === "batched"
        ? `  batched k${s.kernel} (${plan.kernels[s.kernel]!.kind})  in ${at(s.src)}  out ${
          at(s.dst)
        }${s.scratch >= 0 ? `  scratch ${at(s.scratch)}` : ""}`
        : `  per image k${s.first}..k${s.last}  in ${at(s.src)}  out ${at(s.dst)}`,
    );
  }
  return lines.join("\n");
}
