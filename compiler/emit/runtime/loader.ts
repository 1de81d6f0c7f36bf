/**
 * The contract every target's loader (wasm_loader.ts, ts_loader.ts) fulfils: the API (api.ts)
 * and the pool (pool.ts) import these names from here, and the emitter puts the chosen loader's
 * text in their place. This file is never emitted; the strict type-check of whole emitted
 * modules (tests/emit_module_test.ts, both targets) holds each loader to it.
 *
 * @module
 */
import type { Engine, WeightsSource } from "./types.ts";

/**
 * What a pool posts to its workers so they need not compile again (the WASM target's
 * `WebAssembly.Module`; nothing for the TS target). Structured-cloneable.
 */
export type CompiledKernels = unknown;

/**
 * Prepares the kernels once per thread (the WASM target compiles and validates here, and reads a
 * `--split` module's weights file from `weights`, default beside the module).
 */
export declare function compileKernels(weights?: WeightsSource): Promise<CompiledKernels>;

/**
 * Sets up the arena, the kernels and the weights.
 *
 * @param weights the weights section: base64 text or its bytes
 * @param compiled kernels from {@link compileKernels} in another thread (pool workers)
 */
export declare function instantiate(
  weights: string | Uint8Array,
  compiled?: CompiledKernels,
): Promise<Engine>;
