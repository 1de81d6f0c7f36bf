/**
 * The contract between the runtime files and what the emitter generates per model
 * (compiler/emit/module.ts): every name the generated constants block defines, and the TS
 * target's kernels, with their types. Runtime files import what they use from here; the emitter
 * drops those imports and puts the constants right after types.ts (initialised before any runtime
 * code reads them at evaluation) and the TS kernels right after ts_loader.ts. This file is never
 * emitted.
 *
 * tests/emit_runtime_test.ts checks that a module's block defines exactly the names its runtime
 * files import from here; tests/emit_module_test.ts type-checks whole modules.
 *
 * @module
 */
import type { BatchLayout, Info } from "./types.ts";

// ---- Every target ----

/** What was compiled (exported by the module). */
export declare const info: Info;
/** Values per input (an image's pixels, a file's tokens). */
export declare const INPUT_LENGTH: number;
/** Largest input value: 255 (pixels) or 256 (byte tokens, 256 = padding). */
export declare const INPUT_MAX: number;
/** Number of output probabilities. */
export declare const CLASSES: number;
/** Float index of the input and of the output in the arena. */
export declare const INPUT_AT: number;
export declare const OUTPUT_AT: number;
/** Fill the arena with NaN before every run (tests: catches reads of unwritten memory). */
export declare const POISON_ARENA: boolean;
/** Bytes of the arena. */
export declare const ARENA_BYTES: number;
/**
 * The weights section (little-endian f32, 16-byte aligned blocks): base64 text, or for
 * `--weights f16` modules the bytes `expandF16` (f16.ts) widened while the module was evaluated.
 */
export declare const WEIGHTS: string | Uint8Array<ArrayBuffer>;
/** `--split` modules (WASM target): the weights file's name, beside the module; else "". */
export declare const WEIGHTS_FILE: string;

// ---- WASM target (wasm_loader.ts) ----

/** Byte address of the weights in WASM memory (the arena is at 0, kernel scratch between). */
export declare const WEIGHTS_AT: number;
/** Bytes of the f32 weights section in WASM memory. */
export declare const WEIGHT_BYTES: number;
/** The kernels' memory size in 64 KiB pages (fixed). */
export declare const MEMORY_PAGES: number;
/**
 * `--split` modules: the weights file's bytes before the weights (base64), and the sha256 of
 * the weights it holds (its "ggufc.weights" custom section); "" otherwise (weights_file.ts).
 */
export declare const WEIGHTS_HEAD: string;
export declare const WEIGHTS_ID: string;
/** The kernels with plain SIMD128 (mul + add), base64. */
export declare const WASM_SIMD: string;
/** The same kernels with the relaxed-SIMD FMA, base64; "" when not compiled in. */
export declare const WASM_RELAXED: string;
/** The batch path's memory (`runBatch`), or null when the kernels have none. */
export declare const BATCH: BatchLayout | null;

// ---- TS target (ts_loader.ts): the generated kernels ----

/** Runs every kernel once over the arena `A` and the weights `W` / `U` (ts_loader.ts). */
export declare function run(): void;
