/**
 * The public types of every emitted module (the runtime's first file, so they head the module),
 * and `Engine`, the shape both loaders give the API. The compiler, the web page and the tests
 * take these types from here; there is no second copy.
 *
 * @module
 */

/** What was compiled, from which model, with which options: the module's `info`. */
export interface Info {
  readonly name: string;
  readonly arch: string;
  readonly layout: string;
  /** Values per image (`predict`'s input length). */
  readonly inputLength: number;
  /** `[W, H]` (or `[N]`), ggml `ne` order. */
  readonly inputShape: readonly number[];
  /** Number of output probabilities. */
  readonly classes: number;
  readonly arenaBytes: number;
  readonly weightBytes: number;
  readonly target: "wasm" | "ts";
  readonly passes: readonly string[];
  readonly options: Readonly<Record<string, unknown>>;
  /** What the input holds: "pixels" (images) or "byte-tokens" (a file's bytes, file_api.ts). */
  readonly inputKind?: "pixels" | "byte-tokens";
  /** The output classes' names, in probability order (file-type models). */
  readonly labels?: readonly string[];
}

/**
 * Where a `--split` module's weights file (OUT.wasm) comes from: a URL or a path (relative to
 * the module), its bytes, a `fetch` Response, or the file already compiled.
 */
export type WeightsSource =
  | string
  | URL
  | ArrayBuffer
  | ArrayBufferView<ArrayBuffer>
  | Response
  | WebAssembly.Module;

/** Options of `load`. */
export interface LoadOptions {
  /**
   * `--split` modules only: the weights file, when it is not served next to the module under
   * the name the compiler gave it (bundlers, CDNs). Default: `new URL(file, import.meta.url)`.
   */
  readonly wasm?: WeightsSource;
}

/** One prediction; `predict` reuses the object and its view on the next call. */
export interface Prediction {
  digit: number;
  probabilities: Float32Array;
}

/** A batch's predictions: `count` digits and `count * classes` probabilities. */
export interface BatchPrediction {
  digits: Uint8Array;
  probabilities: Float32Array;
}

/** A pool of workers running this module; from `createPool`. */
export interface Pool {
  /** Number of workers. */
  readonly size: number;
  /** Whether inputs and outputs travel in SharedArrayBuffers (else as copies). */
  readonly shared: boolean;
  /**
   * Classifies `count` images, split over the workers (chunks taken from a shared counter, or
   * equal slices when copying). Results equal `predictBatch`'s bit for bit; the arrays are new
   * and belong to the caller.
   */
  predictBatch(images: Uint8Array | Float32Array, count: number): Promise<BatchPrediction>;
  /** Ends the workers; pending calls reject. Resolves when they are gone. */
  close(): Promise<void>;
}

/** Options of `createPool`. */
export interface PoolOptions {
  /**
   * Pass inputs and outputs through SharedArrayBuffers (default: where available). `false`
   * forces copies; `true` fails where shared memory is missing.
   */
  readonly shared?: boolean;
}

/**
 * Where the WASM batch path (`runBatch`) keeps a chunk in the kernels' memory: byte addresses,
 * strides in floats (the module's generated `BATCH` constant).
 */
interface BatchLayout {
  /** Images per chunk. */
  readonly images: number;
  readonly arenaAt: number;
  readonly arenaBytes: number;
  /** f32 inputs, image n at inputAt + 4 * n * inputStride. */
  readonly inputAt: number;
  readonly inputStride: number;
  /** Raw byte inputs (images * inputLength, one after another), widened by runBatch(1). */
  readonly bytesAt: number;
  /** Outputs, image n's at outputAt + 4 * n * outputStride. */
  readonly outputAt: number;
  readonly outputStride: number;
}

/** A chunk of `images` inputs at once through the batch kernels (views on the kernels' memory). */
interface BatchEngine {
  readonly images: number;
  /** The batch arena (filled with NaN in poisoned test modules). */
  readonly arena: Float32Array;
  /** f32 inputs (stride `inputStride`), raw byte inputs, outputs (stride `outputStride`). */
  readonly input: Float32Array;
  readonly inputStride: number;
  readonly bytes: Uint8Array;
  readonly output: Float32Array;
  readonly outputStride: number;
  /** Runs the chunk: from `bytes` when `fromBytes` is 1, else from `input`. */
  run(fromBytes: number): void;
}

/** The compiled computation behind the API (from the target's loader). */
interface Engine {
  /** The arena: input, activations and output at fixed offsets. */
  readonly arena: Float32Array;
  /** Runs every kernel once: arena input -> arena output. */
  run(): void;
  /** Which code runs. */
  readonly backend: string;
  /** The batch path, when the module has one (WASM target). */
  readonly batch?: BatchEngine;
}

export type { BatchEngine, BatchLayout, Engine };
