/**
 * The emitted module's API as the page sees it (the compiler's own types), and how the build
 * describes each bundled model.
 *
 * @module
 */

import type { EmittedModule } from "../../compiler/emit/emitted_module.ts";

// The emitted module's API has one source: the compiler's runtime types (type-only: nothing of
// the compiler reaches the page's bundle).
export type { EmittedModule, Info, Prediction } from "../../compiler/emit/emitted_module.ts";

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
