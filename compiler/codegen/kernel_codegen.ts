/**
 * What a kernel family's code generator provides, for both targets. The backends
 * (`wasm_backend.ts`, `ts_backend.ts`) are drivers: they walk the plan's calls and ask each
 * call's family (`registry.ts`) to pack its constants and write its code, so a new kernel
 * family brings its code in one file (`codegen/<family>.ts`) and one registry line.
 *
 * The WASM side works in two steps because the same kernels are encoded twice (plain SIMD128
 * and relaxed-SIMD FMA): `prepare` decides the strategy and packs the constants once, `fn`
 * writes the function for either variant from that strategy.
 *
 * @module
 */
import type { Fn } from "../../wasm/assembler.ts";
import type { Kernel, Plan } from "../plan/plan.ts";
import type { WeightBlob } from "./weights_blob.ts";

/** What the WASM driver tells every family. */
export interface WasmContext {
  /** The placed plan (buffer offsets). */
  readonly plan: Plan;
  /** Byte address of the scratch area between the arena and the weights, shared by all calls. */
  readonly scratchAt: number;
  /** Whether Winograd convolution may be used (it rounds differently from the direct one). */
  readonly winograd: boolean;
  /**
   * Which module variants compute eligible convolutions in int8 (conv2d_int8.ts; `--conv`):
   * the relaxed-SIMD one, the plain SIMD128 one, both or neither.
   */
  readonly int8Conv: { readonly relaxed: boolean; readonly plain: boolean };
}

/** A family's WebAssembly code generator; `S` is the strategy `prepare` decides. */
export interface WasmKernelCodegen<K extends Kernel, S> {
  /** Bytes of the shared scratch area the call needs (the driver reserves the largest). */
  scratchBytes(k: K, ctx: Pick<WasmContext, "plan" | "winograd" | "int8Conv">): number;
  /**
   * Decides how the call is computed and appends its constants to `blob`.
   *
   * @param weightsAt byte address at which the blob will sit in the kernels' memory
   */
  prepare(k: K, blob: WeightBlob, weightsAt: number, ctx: WasmContext): S;
  /** The call's function, with the relaxed-SIMD FMA when `fma`. */
  fn(k: K, s: S, fma: boolean, ctx: WasmContext): Fn;
  /** One line on how the call is computed (the `--plan` notes). */
  describe(k: K, s: S): string;
}

/** A family's TypeScript code generator. */
export interface TsKernelCodegen<K extends Kernel> {
  /** Floats of the shared accumulator array `ACC` the call uses (the driver sizes it). */
  accFloats(k: K): number;
  /**
   * The body of the call's function: statements over the arena `A` (`I` as int32), the weights
   * `W` (`U` as bytes) and `ACC`, with every shape and offset a constant. Appends its constants
   * to `blob`.
   */
  source(k: K, plan: Plan, blob: WeightBlob): string;
  /** One line on how the call is computed (the `--plan` notes). */
  describe(k: K): string;
}

/** Everything a kernel family brings to code generation. */
export interface KernelCodegen<K extends Kernel, S = unknown> {
  /** The plan kind it generates code for. */
  readonly kind: K["kind"];
  readonly wasm: WasmKernelCodegen<K, S>;
  readonly ts: TsKernelCodegen<K>;
}

/** The largest finite f32 (the initial value of a max pool), as a number and as source text. */
export const FLT_MAX = 3.4028234663852886e38;
export const FLT_MAX_TEXT = "3.4028234663852886e38";

/** Most f32x4 accumulators a WASM kernel keeps live (x64 has 16 vector registers). */
export const MAX_ACC = 8;

/** Arena float index of a byte offset (the TS kernels index `A` and `W` in floats). */
export function floatIndex(byteOffset: number): number {
  return byteOffset / 4;
}
