/**
 * The API of every emitted module seen from outside (the compiler's loader, the CLI, the web page,
 * benchmarks and tests), written with the runtime's own types (runtime/types.ts), which the module
 * itself declares. tests/emit_runtime_test.ts checks that the runtime's exports fit it.
 *
 * @module
 */
import type {
  BatchPrediction,
  Info,
  LoadOptions,
  Pool,
  PoolOptions,
  Prediction,
} from "./runtime/types.ts";
import type { FileBatchPrediction, FilePool, FilePrediction } from "./runtime/file_api.ts";

export type {
  BatchPrediction,
  Info,
  LoadOptions,
  Pool,
  PoolOptions,
  Prediction,
  WeightsSource,
} from "./runtime/types.ts";
export type { FileBatchPrediction, FilePool, FilePrediction } from "./runtime/file_api.ts";

/** The pool `createPool(n)` of an emitted module resolves to. */
export type EmittedPool = Pool;

/** The exports of an emitted module (see the module's own JSDoc). */
export interface EmittedModule {
  /** What was compiled, from which model, with which options. */
  readonly info: Info;
  /**
   * Instantiates the model once (idempotent); await it before `predict`. `options.wasm`: where
   * a `--split` module's weights file is, when it is not served next to the module.
   */
  load(options?: LoadOptions): Promise<void>;
  /** Which code runs: "wasm-relaxed-simd", "wasm-simd128" or "ts". */
  backend(): string;
  /** Classifies one image; the result object is reused by the next call. */
  predict(image: Uint8Array | Float32Array): Prediction;
  /** Classifies `count` images stored one after another; views reused by the next call. */
  predictBatch(images: Uint8Array | Float32Array, count: number): BatchPrediction;
  /**
   * Workers running the same module over a batch, 1 to 64 of them (runtime/pool.ts; absent from
   * modules emitted before it).
   */
  createPool?(n: number, options?: PoolOptions): Promise<EmittedPool>;
}

/**
 * The exports of a module emitted for a byte-token model (Magika: `info.inputKind` is
 * "byte-tokens", `info.labels` names the classes): files in, content types out
 * (runtime/file_api.ts).
 */
export interface EmittedFileModule {
  readonly info: Info;
  /**
   * Instantiates the model once (idempotent); await it before `predict`. `options.wasm`: where
   * a `--split` module's weights file is, when it is not served next to the module.
   */
  load(options?: LoadOptions): Promise<void>;
  /** Which code runs: "wasm-relaxed-simd", "wasm-simd128" or "ts". */
  backend(): string;
  /** Classifies one file by its bytes (its first, middle and last 512 bytes). */
  predict(bytes: Uint8Array): FilePrediction;
  /** The same from the 1536 tokens (integers 0..256, 256 = padding). */
  predictTokens(tokens: ArrayLike<number>): FilePrediction;
  /** Classifies many files. */
  predictBatch(files: readonly Uint8Array[]): FileBatchPrediction;
  /** Workers classifying files, 1 to 64 of them. */
  createPool(n: number, options?: PoolOptions): Promise<FilePool>;
}
