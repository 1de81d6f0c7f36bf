/**
 * What the page needs from a module that `ggufc compile` emits (the emitted module's API), and
 * how the build describes each bundled model.
 *
 * @module
 */

/** The static description every emitted module exports as `info`. */
export interface EmittedInfo {
  name: string;
  arch: string;
  layout: string;
  inputLength: number;
  /** `[W, H]`, ggml `ne` order. */
  inputShape: number[];
  classes: number;
  arenaBytes: number;
  weightBytes: number;
  target: string;
  passes: string[];
  options: Record<string, unknown>;
}

/** One prediction; the emitted module reuses the object and its view on the next call. */
export interface Prediction {
  digit: number;
  probabilities: Float32Array;
}

/** The exports of an emitted module that the page uses. */
export interface EmittedModule {
  info: EmittedInfo;
  load(): Promise<void>;
  backend(): string;
  predict(image: Uint8Array | Float32Array): Prediction;
}

/** A model as the page lists it in the model switch. */
export interface ModelEntry {
  /** Short id used in the DOM and in tests: "cnn", "fc", "cnn-small". */
  id: string;
  /** Button text. */
  label: string;
  /** Second line of the button. */
  detail: string;
  /** The GGUF file it was compiled from. */
  file: string;
  /** The compiled module, or null when the model file was missing at build time. */
  module: EmittedModule | null;
}
