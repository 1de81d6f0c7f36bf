/**
 * ggufc: an ahead-of-time graph compiler for GGUF models.
 *
 * @module
 */
export { FormatError, UsageError } from "./runtime/errors.ts";
export { GraphBuilder, GraphError } from "./compiler/ir/graph.ts";
export type { Graph, Ne, Node, Op } from "./compiler/ir/graph.ts";
export { convertStateDict } from "./compiler/convert.ts";
export type { ConvertOptions, ConvertResult } from "./compiler/convert.ts";
