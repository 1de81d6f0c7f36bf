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
export { renderGraph } from "./compiler/graph_render/mod.ts";
export type { GraphStage, RenderGraphOptions } from "./compiler/graph_render/mod.ts";
export { GgmlType, ggmlTypeName, tensorByteSize } from "./compiler/formats/ggml_types.ts";
export { metaString, readGguf, tensorToF32 } from "./compiler/formats/gguf_reader.ts";
export type { GgufFile, GgufTensor, GgufValue } from "./compiler/formats/gguf_reader.ts";
export { gguf, writeGguf } from "./compiler/formats/gguf_writer.ts";
export type { GgufWriteTensor } from "./compiler/formats/gguf_writer.ts";
export { dequantize, f32ToF16Bytes, quantize } from "./compiler/formats/quant.ts";
export { readLegacyGgml, writeLegacyGgml } from "./compiler/formats/legacy.ts";
export { readIdxImages, readIdxLabels } from "./runtime/idx.ts";
export type { IdxImages } from "./runtime/idx.ts";
export { exportOnnx } from "./compiler/export/onnx.ts";
export type { OnnxExport, OnnxExportOptions } from "./compiler/export/onnx.ts";
export {
  bundleJs,
  compileFile,
  compileGraph,
  loadEmittedModule,
  renderPlan,
} from "./compiler/mod.ts";
export type { CompileOptions, CompileResult, EmittedModule, Plan } from "./compiler/mod.ts";
export { dequantizedGraph, WEIGHT_FORMATS } from "./compiler/mod.ts";
export type { QuantCompute, WeightFormat } from "./compiler/mod.ts";
