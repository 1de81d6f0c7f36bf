/**
 * What a kernel family brings to the batch path (`runBatch`, compiler/plan/batch.ts): a WASM
 * function that runs one call of the batch-1 plan over a whole chunk of images, reading the
 * weights the batch-1 call packed (its `prepare` strategy), so nothing is stored twice.
 *
 * @module
 */
import type { Fn } from "../../wasm/assembler.ts";
import type { Kernel } from "../plan/plan.ts";

/** Where a batched call reads and writes: image n's input at `src + n * srcStride` (bytes). */
export interface BatchIo {
  readonly images: number;
  readonly src: number;
  readonly srcStride: number;
  readonly dst: number;
  readonly dstStride: number;
  /** Byte address of the call's batch scratch, -1 for none. */
  readonly scratch: number;
}

/** A family's batch kernel; `S` is the batch-1 strategy its `prepare` decided. */
export interface BatchKernelCodegen<K extends Kernel, S> {
  /** Scratch bytes for a chunk of `images`, or undefined when this call runs image by image. */
  scratchBytes(k: K, s: S, images: number): number | undefined;
  /** The batched call, with the relaxed-SIMD FMA when `fma`. */
  fn(k: K, s: S, fma: boolean, io: BatchIo): Fn;
  /** One line on how the chunk is computed (the `--plan` notes). */
  describe(k: K, s: S): string;
}
