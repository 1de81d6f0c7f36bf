/**
 * The ggufc compiler: model file or graph -> one standalone ES module.
 *
 * The pipeline, top to bottom:
 * 1. graph passes (graph -> graph, each keeps the interpreter's results)
 * 2. lowering to the plan IR: fusion and channels-last layout, kernel by kernel family
 * 3. plan passes: weight quantisation, dead-work elimination, memory planning
 *
 * Steps 1-3 are one array, {@link PIPELINE}.
 * 4. codegen: WASM SIMD128 (default) or TypeScript, from the same plan
 * 5. module emission: one `.ts` file; {@link bundleJs} makes the `.js`
 *
 * @example
 * ```ts ignore
 * import { compileFile } from "./compiler/mod.ts";
 * const bytes = await Deno.readFile("models/mnist-cnn.gguf");
 * const { source, report } = await compileFile(bytes, "mnist-cnn.gguf", { target: "wasm" });
 * await Deno.writeTextFile("mnist.ts", source);
 * console.log(report.summary);
 * ```
 *
 * @module
 */
import { createHash } from "node:crypto";
import { loadModel } from "./frontend/mod.ts";
import type { Graph } from "./ir/graph.ts";
import { collapseBias } from "./passes/collapse_bias.ts";
import { foldScale } from "./passes/fold_input_scale.ts";
import { foldViews } from "./passes/fold_views.ts";
import type { GraphPass } from "./passes/pass.ts";
import { prune } from "./passes/prune.ts";
import { oneHotGather } from "./passes/one_hot_gather.ts";
import { foldTable } from "./passes/fold_table.ts";
import { eliminateDeadWork } from "./plan/dead_work.ts";
import { lowerToPlan } from "./plan/lower.ts";
import { planMemory } from "./plan/memory.ts";
import { kernelMacs, type Plan, type PlanPass } from "./plan/plan.ts";
import { generateTs } from "./codegen/ts_backend.ts";
import { generateWasm } from "./codegen/wasm_backend.ts";
import { emitModule } from "./emit/module.ts";
import { weightsToF16 } from "./codegen/f16_weights.ts";
import { type QuantCompute, quantizeWeights, type WeightFormat } from "./plan/quantize_weights.ts";

export { bundleJs } from "./emit/bundle.ts";
export { WEIGHTS_FILE_NAME } from "./emit/module.ts";
export { loadEmittedModule } from "./emit/load.ts";
export type { EmittedModule } from "./emit/load.ts";
export { CompileError, renderPlan } from "./plan/plan.ts";
export type { Kernel, MemoryReport, Plan, PlanBuffer } from "./plan/plan.ts";
export { formatGraph } from "./passes/pass.ts";
export { WEIGHT_FORMATS } from "./plan/quantize_weights.ts";
export { dequantizedGraph } from "./plan/dequantized_graph.ts";
export type { QuantCompute, WeightFormat } from "./plan/quantize_weights.ts";

/** What `--conv` accepts. */
export const CONV_ARITHMETICS = ["auto", "int8", "f32"] as const;
/** Arithmetic of the WASM convolutions (`--conv`). */
export type ConvArithmetic = typeof CONV_ARITHMETICS[number];

/** ggufc's version, written into every emitted module's header. */
export const VERSION = "0.1.0";

/** What the passes of the pipeline may depend on (the user's choices). */
export interface PipelineOptions {
  /** Storage of the weights (`--weights`). */
  readonly weights: WeightFormat;
  /** Kernel for q8_0 dense layers. */
  readonly quantCompute: QuantCompute;
}

/** One step of the pipeline: a graph pass, the lowering, or a plan pass. */
export type PipelineStep =
  | { readonly stage: "graph"; readonly pass: GraphPass }
  | { readonly stage: "lower"; readonly name: string; readonly description: string }
  | {
    readonly stage: "plan";
    readonly pass: PlanPass;
    /** The name listed in `info.passes` under these options, or undefined when it is a no-op. */
    readonly listedAs: (o: PipelineOptions) => string | undefined;
  };

const always = (name: string) => () => name;

/**
 * The whole compiler, top to bottom. Reports (`info.passes`), pictures and tests take the pass
 * names from here.
 */
export const PIPELINE: readonly PipelineStep[] = [
  { stage: "graph", pass: foldScale },
  { stage: "graph", pass: oneHotGather },
  { stage: "graph", pass: foldTable },
  { stage: "graph", pass: collapseBias },
  { stage: "graph", pass: foldViews },
  { stage: "graph", pass: prune },
  {
    stage: "lower",
    name: "fuse+channels-last",
    description: "fused kernel calls (registry families), channels-last images",
  },
  {
    stage: "plan",
    pass: {
      name: "quantize-weights",
      description: "dense matrices in ggml blocks (--weights q8_0 | q4_0)",
      run: (plan, o) => quantizeWeights(plan, o.weights, { compute: o.quantCompute }),
    },
    listedAs: (o) =>
      o.weights === "q8_0" || o.weights === "q4_0" ? `quantize-weights(${o.weights})` : undefined,
  },
  {
    stage: "plan",
    pass: {
      name: "dead-work",
      description: "compute only the conv outputs a consumer reads",
      run: eliminateDeadWork,
    },
    listedAs: always("dead-work"),
  },
  {
    stage: "plan",
    pass: { name: "memory", description: "place every buffer in one arena", run: planMemory },
    listedAs: always("memory"),
  },
];

/** The graph passes of {@link PIPELINE}, in order. */
export const GRAPH_PASSES: readonly GraphPass[] = PIPELINE.flatMap((s) =>
  s.stage === "graph" ? [s.pass] : []
);

/** The plan passes of {@link PIPELINE}, in order (after lowering). */
export const PLAN_PASSES: readonly PlanPass[] = PIPELINE.flatMap((s) =>
  s.stage === "plan" ? [s.pass] : []
);

/**
 * The names of the steps that run under `options`, as `info.passes` lists them.
 *
 * @param options weights and quantised compute
 * @returns e.g. `["fold-scale", ..., "fuse+channels-last", "dead-work", "memory"]`
 */
export function pipelinePassNames(options: Partial<PipelineOptions> = {}): string[] {
  const o = pipelineOptions(options);
  return PIPELINE.flatMap((s) =>
    s.stage === "graph" ? [s.pass.name] : s.stage === "lower" ? [s.name] : [s.listedAs(o)]
  ).filter((n): n is string => n !== undefined);
}

function pipelineOptions(options: Partial<PipelineOptions>): PipelineOptions {
  return { weights: options.weights ?? "f32", quantCompute: options.quantCompute ?? "int8" };
}

/** Options of {@link compileGraph} / {@link compileFile}. */
export interface CompileOptions {
  /** Code generator; default "wasm". */
  readonly target?: "wasm" | "ts";
  /** Emit the relaxed-SIMD (FMA) variant next to the plain SIMD one; default true. */
  readonly relaxed?: boolean;
  /**
   * Storage of the weights (`--weights`): "f32" (default); "f16" (halves in the module, widened
   * at load); "q8_0" / "q4_0" (dense matrices in ggml blocks, kernels computing on them).
   */
  readonly weights?: WeightFormat;
  /** Kernel for q8_0 dense layers: "int8" (ggml's q8_0 x q8_0, default) or "dequant". */
  readonly quantCompute?: QuantCompute;
  /** WASM: Winograd F(2x2,3x3) for the 3x3 conv + 2x2 pool kernels it fits; default true. */
  readonly winograd?: boolean;
  /**
   * WASM: the batch path (`runBatch`, used by `predictBatch` and the pool for whole chunks):
   * images per chunk, or `false` for none; default: chosen from the batch arena's size.
   */
  readonly batch?: number | false;
  /**
   * WASM: arithmetic of the convolutions whose input is >= 0 (`--conv`): "auto" (default: int8
   * in the relaxed-SIMD variant, where it is faster, f32 in the plain SIMD128 one, where int8 is
   * not), "int8" (both variants) or "f32" (neither). int8: activations quantised per tensor at run time, weights
   * per output channel (codegen/conv2d_int8_quant.ts). With `weights: "f16"` convs stay f32.
   */
  readonly conv?: ConvArithmetic;
  /**
   * WASM, `--split`: keep the weights out of the module, in a WASM file of this name (a plain
   * file name such as "digits.wasm") that the module loads from beside itself; its bytes are the
   * result's `weightsWasm`. Not with `weights: "f16"` (a single-file size option).
   */
  readonly weightsFile?: string;
  /** Fill the arena with NaN before every run (tests only). */
  readonly poisonArena?: boolean;
  /** Hex sha256 of the model file, for the header; computed from the graph when absent. */
  readonly sha256?: string;
}

/** What the compiler did, for the CLI summary. */
export interface CompileReport {
  readonly passes: readonly string[];
  readonly arenaBytes: number;
  readonly naiveBytes: number;
  readonly lowerBoundBytes: number;
  readonly weightBytes: number;
  /** Bytes of WASM code (per variant) embedded, 0 for the TS target. */
  readonly codeBytes: number;
  /** Characters of the emitted source. */
  readonly moduleBytes: number;
  /** Multiply-adds per image. */
  readonly macs: number;
  /** A few lines for the terminal. */
  readonly summary: string;
}

/** The result of a compilation. */
export interface CompileResult {
  /** The module, OUT.ts. */
  readonly source: string;
  /** `weightsFile` given: the weights file's bytes (OUT.wasm), to write beside the module. */
  readonly weightsWasm?: Uint8Array;
  /** The graph after the graph passes. */
  readonly graph: Graph;
  /** The final plan. */
  readonly plan: Plan;
  readonly report: CompileReport;
}

/**
 * Runs the graph passes and lowering and the plan passes: graph -> placed plan.
 *
 * @param graph a batch-1 graph
 * @returns the optimised graph and the plan
 */
export function planGraph(
  graph: Graph,
  options: Pick<CompileOptions, "weights" | "quantCompute"> = {},
): { graph: Graph; plan: Plan } {
  const o = pipelineOptions(options);
  let optimised = graph;
  let plan: Plan | undefined;
  for (const step of PIPELINE) {
    if (step.stage === "graph") optimised = step.pass.run(optimised);
    else if (step.stage === "lower") plan = lowerToPlan(optimised);
    else plan = step.pass.run(plan!, o);
  }
  return { graph: optimised, plan: plan! };
}

/**
 * Compiles a graph (batch 1, raw pixel input) into a standalone module.
 *
 * @param graph the graph, e.g. from `loadModel`
 * @param options target and flags
 * @returns the module source, the plan and a report
 * @throws CompileError naming the node when an op or shape cannot be compiled
 */
export function compileGraph(graph: Graph, options: CompileOptions = {}): CompileResult {
  const target = options.target ?? "wasm";
  const weights = options.weights ?? "f32";
  const { graph: optimised, plan } = planGraph(graph, options);
  // f16 storage rounds the whole weights section as floats: int8 conv weights cannot be in it.
  const conv = weights === "f16" ? "f32" : options.conv ?? "auto";
  const relaxed = options.relaxed ?? true;
  const split = options.weightsFile !== undefined;
  const splitProblem = split ? splitOptionProblem(target, weights) : undefined;
  if (splitProblem) throw new TypeError(`weightsFile: ${splitProblem}`);
  let backend = target === "wasm"
    ? generateWasm(plan, {
      relaxed,
      split,
      winograd: options.winograd ?? true,
      int8Conv: { relaxed: relaxed && conv !== "f32", plain: conv === "int8" },
      ...(options.batch !== undefined ? { batch: options.batch } : {}),
    })
    : generateTs(plan);
  if (weights === "f16") backend = { ...backend, weights: weightsToF16(backend.weights) };
  const passes = pipelinePassNames(options);
  const userOptions: Record<string, unknown> = { target, weights };
  if (weights === "q8_0") userOptions.quantCompute = options.quantCompute ?? "int8";
  if (target === "wasm") {
    userOptions.relaxed = options.relaxed ?? true;
    userOptions.winograd = options.winograd ?? true;
    if (options.batch !== undefined) userOptions.batch = options.batch;
    userOptions.conv = conv;
    if (split) userOptions.split = true;
  }
  const source = emitModule(plan, backend, {
    version: VERSION,
    sha256: options.sha256 ?? graphSha256(graph),
    passes,
    options: userOptions,
    ...(options.poisonArena ? { poisonArena: true } : {}),
    ...(weights === "f16" ? { weightsF16: true } : {}),
    ...(split ? { weightsFile: options.weightsFile } : {}),
  });
  const macs = plan.kernels.reduce((s, k) => s + kernelMacs(k), 0);
  const mem = plan.memory!;
  const summary = [
    `passes: ${passes.join(", ")}`,
    `kernels: ${plan.kernels.length} calls, ${macs} multiply-adds per image`,
    `arena ${plan.arenaBytes} bytes (naive ${mem.naiveBytes}, lower bound ${mem.lowerBoundBytes})`,
    `${target} kernels: ${backend.notes.join("; ")}`,
    `weights ${backend.weights.byteLength} bytes, ${
      target === "wasm" ? `wasm code ${backend.codeBytes} bytes, ` : ""
    }module ${source.length} bytes${
      backend.target === "wasm" && backend.weightsModule
        ? `, weights file ${backend.weightsModule.bytes.byteLength} bytes`
        : ""
    }`,
  ].join("\n");
  const weightsWasm = backend.target === "wasm" ? backend.weightsModule?.bytes : undefined;
  return {
    source,
    ...(weightsWasm ? { weightsWasm } : {}),
    graph: optimised,
    plan,
    report: {
      passes,
      arenaBytes: plan.arenaBytes,
      naiveBytes: mem.naiveBytes,
      lowerBoundBytes: mem.lowerBoundBytes,
      weightBytes: backend.weights.byteLength,
      codeBytes: backend.codeBytes,
      moduleBytes: source.length,
      macs,
      summary,
    },
  };
}

/**
 * Why `--split` (`weightsFile`) cannot go with these options, or `undefined` when it can. The
 * CLI reports it as a usage error before reading the model; {@link compileGraph} throws it.
 *
 * @param target the code generator
 * @param weights the weight storage
 * @returns the reason, naming the command-line flags
 */
export function splitOptionProblem(target: string, weights: string): string | undefined {
  if (target !== "wasm") return "--split keeps the weights in a WASM file: it needs --target wasm";
  if (weights === "f16") {
    return "--split stores the weights as the kernels read them; --weights f16 is for " +
      "single-file modules (use f32, q8_0 or q4_0 with --split)";
  }
  return undefined;
}

/**
 * Reads a model file (any layout the frontend knows) and compiles it.
 *
 * @param bytes the model file
 * @param fileName its name (errors, default model name)
 * @param options target and flags
 * @returns the module source, the plan and a report
 */
export function compileFile(
  bytes: Uint8Array,
  fileName: string,
  options: CompileOptions = {},
): CompileResult {
  const { graph } = loadModel(bytes, fileName, { batch: 1 });
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  return compileGraph(graph, { ...options, sha256 });
}

/** sha256 over a graph's structure and weights (for graphs that did not come from a file). */
function graphSha256(graph: Graph): string {
  const h = createHash("sha256");
  for (const n of graph.nodes) {
    h.update(
      JSON.stringify([n.name, n.op.kind, n.ne, n.src, n.op.kind === "weight" ? n.op.type : n.op]),
    );
    if (n.op.kind === "weight") {
      h.update(new Uint8Array(n.op.values.buffer, n.op.values.byteOffset, n.op.values.byteLength));
    }
  }
  return h.digest("hex");
}
