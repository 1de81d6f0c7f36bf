/**
 * ggufc: an ahead-of-time graph compiler for GGUF models. It reads ggml's MNIST models (GGUF and
 * the seed's legacy file), builds a graph, optimises it and emits one standalone
 * TypeScript/WASM module; the reference interpreter checks every result.
 *
 * @example Compile a model and run a digit through the emitted module
 * ```ts
 * import { compileFile, loadEmittedSource, loadMnist } from "./mod.ts";
 * const bytes = await Deno.readFile("models/mnist-cnn.gguf");
 * const { source, report } = compileFile(bytes, "mnist-cnn.gguf");
 * console.log(report.summary); // passes, arena bytes, module size
 * const out = `${await Deno.makeTempDir()}/mnist.ts`;
 * await Deno.writeTextFile(out, source); // standalone: import it anywhere
 * const mod = await loadEmittedSource(source);
 * const { images } = loadMnist("test");
 * console.log(mod.predict(images.pixels.subarray(0, 784)).digit); // 7
 * ```
 *
 * @example Run the reference interpreter on a model file
 * ```ts
 * import { loadModel, runGraph } from "./mod.ts";
 * const { graph } = loadModel(await Deno.readFile("models/mnist-fc.gguf"), "mnist-fc.gguf");
 * const probs = runGraph(graph, new Float32Array(784)); // raw pixels 0..255
 * console.log(probs.length); // 10
 * ```
 *
 * @module
 */
export { FormatError, UsageError } from "./ggml/errors.ts";
export { GraphBuilder, GraphError } from "./compiler/ir/graph.ts";
export type { Graph, Ne, Node, Op } from "./compiler/ir/graph.ts";
export { loadModel } from "./compiler/frontend/mod.ts";
export type { LoadedModel, ModelLayout } from "./compiler/frontend/mod.ts";
export { interpret, runGraph } from "./reference/interpreter.ts";
export { evaluate } from "./reference/evaluate.ts";
export type { EvalResult, Predictor } from "./reference/evaluate.ts";
export { loadMnist } from "./data/mnist_data.ts";
export { loadEmittedSource } from "./compiler/emit/load.ts";
export type { EmittedPool } from "./compiler/emit/load.ts";
export { convertStateDict } from "./convert/state_dict.ts";
export type { ConvertOptions, ConvertResult } from "./convert/state_dict.ts";
export { renderGraph } from "./render/mod.ts";
export type { GraphStage, RenderGraphOptions } from "./render/mod.ts";
export { GgmlType, ggmlTypeName, tensorByteSize } from "./ggml/ggml_types.ts";
export { metaString, readGguf, tensorToF32 } from "./ggml/gguf_reader.ts";
export type { GgufFile, GgufTensor, GgufValue } from "./ggml/gguf_reader.ts";
export { gguf, writeGguf } from "./ggml/gguf_writer.ts";
export type { GgufWriteTensor } from "./ggml/gguf_writer.ts";
export { dequantize, f32ToF16Bytes, quantize } from "./ggml/quant.ts";
export { readLegacyGgml, writeLegacyGgml } from "./ggml/legacy.ts";
export { readIdxImages, readIdxLabels } from "./data/idx.ts";
export type { IdxImages } from "./data/idx.ts";
export { exportOnnx } from "./export/onnx.ts";
export type { OnnxExport, OnnxExportOptions } from "./export/onnx.ts";
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
