/**
 * The Magika module's result types as the page sees them: the compiler's own (type-only: nothing
 * of the compiler reaches the page's bundle).
 *
 * @module
 */
export type {
  FileBatchPrediction,
  FilePool,
  FilePrediction,
} from "../../compiler/emit/runtime/file_api.ts";
