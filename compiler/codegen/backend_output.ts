/**
 * What a code generator hands to the module emitter: the kernels and the data their loader needs,
 * never module text. The loaders and the API are compiler/emit/runtime/*.ts; the emitter writes
 * these fields into the module's generated block (compiler/emit/module.ts).
 *
 * @module
 */

import type { WasmBatchLayout } from "./batch_wasm.ts";

/** Fields every target has. */
interface KernelsCommon {
  /** The weights section (little-endian f32, 16-byte aligned blocks), decoded at load. */
  readonly weights: Uint8Array;
  /** Extra bytes the module embeds besides the weights (WASM code, per variant), for the report. */
  readonly codeBytes: number;
  /** One line per kernel call on how the backend computes it, for `--plan` and the summary. */
  readonly notes: readonly string[];
}

/** The WASM target: two encodings of the same kernels, and where the weights go in memory. */
export interface WasmKernels extends KernelsCommon {
  readonly target: "wasm";
  /** The kernels with plain SIMD128 (mul + add): a WebAssembly module exporting `run`. */
  readonly simd: Uint8Array;
  /** The same kernels with the relaxed-SIMD FMA; absent when not compiled in. */
  readonly relaxed?: Uint8Array;
  /** Byte address of the weights in the kernels' memory (the arena is at 0). */
  readonly weightsAt: number;
  /** Bytes of the f32 weights section in that memory (also when the module stores f16). */
  readonly weightBytes: number;
  /** The memory's size in 64 KiB pages (fixed; both variants). */
  readonly pages: number;
  /** The batch path (`runBatch`): where its chunk's inputs and outputs are; absent: none. */
  readonly batch?: WasmBatchLayout;
  /**
   * `--split`: the weights as a WASM module of their own (the kernels' memory, weights laid at
   * `weightsAt` by a data segment; the weights are its last bytes), written next to the module;
   * the kernels import its memory. `id`: the sha256 of the weights, also in its custom section.
   */
  readonly weightsModule?: { readonly bytes: Uint8Array; readonly id: string };
}

/** The TS target: the kernels as TypeScript source. */
export interface TsKernels extends KernelsCommon {
  readonly target: "ts";
  /**
   * TypeScript declaring `function run(): void` and the kernel functions it calls, over the
   * loader's arena `A` (`I` as int32) and weights `W` (`U` as bytes): runtime/ts_loader.ts.
   */
  readonly source: string;
}

/** What a backend hands to the module emitter. */
export type BackendOutput = WasmKernels | TsKernels;
