/**
 * Shared set-up of the benchmarks: which models, which test images, the compiled modules
 * (written under `build/bench/` and imported from there) and every engine wrapped behind one
 * small interface, each checked against our WASM module before it is timed.
 *
 * Smoke mode (`GGUFC_BENCH_SMOKE=1`, used by `deno task bench:smoke` and CI) keeps one model,
 * one peer and a handful of iterations, so the whole suite runs in seconds.
 *
 * @example
 * ```ts ignore
 * import { benchModels, prepareModel, latencyEngines } from "./setup.ts";
 * for (const spec of benchModels()) {
 *   const model = await prepareModel(spec);
 *   const engines = await latencyEngines(model);
 *   console.log(model.label, engines.map((e) => e.id));
 * }
 * ```
 *
 * @module
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import {
  bundleJs,
  compileGraph,
  type CompileResult,
  pipelinePassNames,
  type Plan,
  VERSION,
} from "../compiler/mod.ts";
import { generateWasm } from "../compiler/codegen/wasm_backend.ts";
import { emitModule } from "../compiler/emit/module.ts";
import { loadModel, type ModelLayout } from "../compiler/frontend/mod.ts";
import type { Graph } from "../compiler/ir/graph.ts";
import { type EmittedModule, loadEmittedModule } from "../compiler/emit/load.ts";
import { argmax, runGraph } from "../reference/interpreter.ts";
import { loadMnist } from "../data/mnist_data.ts";
import { createPeer, type Peer, PEER_IDS, type PeerId } from "../peers/mod.ts";
import { fcWeights, ggmlCnnWeights, ggufOf, legacyOf, seedCnnWeights } from "../testkit/models.ts";

/** Pixels per MNIST image. */
export const PIXELS = 784;
/** Classes of every MNIST model. */
export const CLASSES = 10;

/** True in smoke mode (`GGUFC_BENCH_SMOKE=1`): few iterations, one model, one peer. */
export const SMOKE = Deno.env.get("GGUFC_BENCH_SMOKE") === "1";

/** The project root (this file is bench/setup.ts). */
export const ROOT = fileURLToPath(new URL("../", import.meta.url));
/** Where compiled modules are cached. */
export const BUILD_DIR = `${ROOT}build/bench/`;

/**
 * Iteration counts for `Deno.bench`: undefined lets deno bench choose, smoke mode fixes them
 * small.
 *
 * @param slow true for the reference interpreter (tens of ms per CNN digit)
 * @returns options to spread into a `Deno.bench` definition
 */
export function iterations(slow = false): { n?: number; warmup?: number } {
  if (SMOKE) return { n: 5, warmup: 1 };
  return slow ? { n: 20, warmup: 2 } : {};
}

/** A model the benchmarks run. */
export interface ModelSpec {
  /** Short id used in bench names and file names, e.g. `mnist-cnn`. */
  readonly id: string;
  /** The file as a reader would name it. */
  readonly file: string;
  /** Where the file came from. */
  readonly source: "trained" | "fixture" | "random";
  /** Path relative to the project root, absent for random weights made in memory. */
  readonly path?: string;
  /** Loads the file bytes. */
  bytes(): Uint8Array;
}

interface Candidate {
  id: string;
  path: string;
  source: "trained" | "fixture";
  layout: "seed-cnn" | "seed-fc" | "ggml-fc" | "ggml-cnn";
}

const CANDIDATES: readonly Candidate[] = [
  { id: "mnist-fc", path: "models/mnist-fc.gguf", source: "trained", layout: "ggml-fc" },
  { id: "mnist-cnn", path: "models/mnist-cnn.gguf", source: "trained", layout: "seed-cnn" },
  {
    id: "mnist-cnn-small",
    path: "models/mnist-cnn-small.gguf",
    source: "trained",
    layout: "ggml-cnn",
  },
  {
    id: "seed-fc",
    path: "../shared/fixtures/ggml-model-f32.bin",
    source: "fixture",
    layout: "seed-fc",
  },
  {
    id: "ggml-mnist-fc",
    path: "../shared/fixtures/ggml-mnist-fc-f32.gguf",
    source: "fixture",
    layout: "ggml-fc",
  },
];

/** Random weights of the same layout as a missing trained model (seeded: same bytes each run). */
function randomOf(layout: Candidate["layout"], seed: number): Uint8Array {
  switch (layout) {
    case "seed-cnn":
      return ggufOf("mnist-cnn", seedCnnWeights(seed), "random-seed-cnn");
    case "seed-fc":
      return legacyOf(fcWeights(seed));
    case "ggml-fc":
      return ggufOf("mnist-fc", fcWeights(seed), "random-mnist-fc");
    case "ggml-cnn":
      return ggufOf("mnist-cnn", ggmlCnnWeights(seed), "random-mnist-cnn-small");
  }
}

/** Notes on substitutions and skips made by {@link benchModels}, for the report. */
export const modelNotes: string[] = [];

/**
 * The models to benchmark: the three trained models in `models/` (a missing one is replaced
 * by random weights of its layout, and said so) and the two real ggml files from the shared
 * fixtures (skipped when absent). Smoke mode keeps only `mnist-fc`.
 *
 * @returns the model specs, in a fixed order
 */
export function benchModels(): ModelSpec[] {
  const out: ModelSpec[] = [];
  modelNotes.length = 0;
  CANDIDATES.forEach((c, i) => {
    if (SMOKE && c.id !== "mnist-fc") return;
    const path = ROOT + c.path;
    if (existsSync(path)) {
      out.push({
        id: c.id,
        file: c.path,
        source: c.source,
        path: c.path,
        bytes: () => readFileSync(path),
      });
    } else if (c.source === "trained") {
      modelNotes.push(`${c.path} is missing: ${c.id} runs on random weights of its layout`);
      const bytes = randomOf(c.layout, 100 + i);
      out.push({ id: c.id, file: `${c.id}.gguf (random)`, source: "random", bytes: () => bytes });
    } else {
      modelNotes.push(`${c.path} is absent (shared fixtures not checked out): ${c.id} skipped`);
    }
  });
  return out;
}

/** A model compiled for both targets and imported. */
export interface PreparedModel {
  readonly spec: ModelSpec;
  /** Display label, e.g. `mnist-cnn (seed-cnn, trained)`. */
  readonly label: string;
  readonly layout: ModelLayout;
  /** The batch-1 graph from the frontend. */
  readonly graph: Graph;
  readonly wasm: EmittedModule;
  readonly ts: EmittedModule;
  readonly compiled: { readonly wasm: CompileResult; readonly ts: CompileResult };
  /** Paths of the emitted files: `.ts` per target and the bundled `.js` of the WASM module. */
  readonly paths: { readonly wasm: string; readonly ts: string; readonly wasmJs: string };
}

/** Writes `text` to `path` unless it already holds exactly that (keeps Deno's import cache). */
function writeIfChanged(path: string, text: string): void {
  try {
    if (readFileSync(path, "utf8") === text) return;
  } catch { /* absent */ }
  writeFileSync(path, text);
}

/**
 * Compiles a model for the WASM and TS targets, writes the modules under `build/bench/`,
 * imports and loads both.
 *
 * @param spec the model
 * @returns the graph, both loaded modules and their compile results
 */
export async function prepareModel(spec: ModelSpec): Promise<PreparedModel> {
  mkdirSync(BUILD_DIR, { recursive: true });
  const bytes = spec.bytes();
  const { graph, layout } = loadModel(bytes, spec.file.split("/").pop()!, { batch: 1 });
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  const wasmC = compileGraph(graph, { target: "wasm", sha256 });
  const tsC = compileGraph(graph, { target: "ts", sha256 });
  const paths = {
    wasm: `${BUILD_DIR}${spec.id}.wasm.ts`,
    ts: `${BUILD_DIR}${spec.id}.ts.ts`,
    wasmJs: `${BUILD_DIR}${spec.id}.wasm.js`,
  };
  writeIfChanged(paths.wasm, wasmC.source);
  writeIfChanged(paths.ts, tsC.source);
  const jsPath = paths.wasmJs;
  const stamp = `${jsPath}.sha256`;
  const srcHash = createHash("sha256").update(wasmC.source).digest("hex");
  if (!existsSync(jsPath) || !existsSync(stamp) || readFileSync(stamp, "utf8") !== srcHash) {
    writeFileSync(jsPath, await bundleJs(wasmC.source));
    writeFileSync(stamp, srcHash);
  }
  const [wasm, ts] = await Promise.all([
    loadEmittedModule(paths.wasm),
    loadEmittedModule(paths.ts),
  ]);
  return {
    spec,
    label: `${spec.id} (${layout}, ${spec.source})`,
    layout,
    graph,
    wasm,
    ts,
    compiled: { wasm: wasmC, ts: tsC },
    paths,
  };
}

/**
 * The first `count` MNIST test images, 784 raw pixels each, one after another.
 *
 * @param count how many (at most 10,000)
 * @returns the pixels
 */
export function testImages(count: number): Uint8Array {
  return loadMnist("test").images.pixels.slice(0, count * PIXELS);
}

/** Images the latency benches rotate through (fewer for the interpreter, see {@link Engine}). */
export const ROTATE = SMOKE ? 20 : 1000;

/** One engine loaded with one model, behind the interface the benches time. */
export interface Engine {
  /** Id for bench names: `wasm`, `ts`, `interpreter` or a peer id. */
  readonly id: string;
  /** What runs, for tables. */
  readonly name: string;
  /** True when `predict` returns the digit directly (no Promise). */
  readonly sync: boolean;
  /** How many of the rotation images this engine goes through (the interpreter: few). */
  readonly rotate: number;
  /** Classifies one image (784 pixels). */
  predict(image: Uint8Array): number | Promise<number>;
  /** Classifies `count` images; absent when the engine has no batch path. */
  predictBatch?(images: Uint8Array, count: number): Uint8Array | Promise<Uint8Array>;
  /** Frees what the engine holds. */
  dispose(): Promise<void>;
}

/** Our modules as engines. */
function moduleEngine(id: "wasm" | "ts", m: EmittedModule): Engine {
  return {
    id,
    name: id === "wasm" ? `ggufc module (${m.backend()})` : "ggufc module (ts target)",
    sync: true,
    rotate: ROTATE,
    predict: (image) => m.predict(image).digit,
    predictBatch: (images, count) => m.predictBatch(images, count).digits,
    dispose: () => Promise.resolve(),
  };
}

/** The reference interpreter as an engine (slow: rotates through few images). */
function interpreterEngine(graph: Graph): Engine {
  const x = new Float32Array(PIXELS);
  return {
    id: "interpreter",
    name: "reference interpreter (reference/interpreter.ts)",
    sync: true,
    rotate: SMOKE ? 3 : 50,
    predict: (image) => {
      for (let i = 0; i < PIXELS; i++) x[i] = image[i]!;
      return argmax(runGraph(graph, x), 0, CLASSES);
    },
    dispose: () => Promise.resolve(),
  };
}

function peerEngine(p: Peer): Engine {
  return {
    id: p.id,
    name: p.name,
    sync: false,
    rotate: ROTATE,
    predict: (image) => p.predict(image),
    predictBatch: (images, count) => p.predictBatch(images, count),
    dispose: () => p.dispose(),
  };
}

/**
 * How far the WASM module's top probability may exceed that of the digit another engine chose
 * before they count as disagreeing: engines sum in different orders, so on a near-tie (the top
 * two within float32 rounding) either digit is a faithful result.
 */
export const TIE_TOLERANCE = 1e-5;

/**
 * Throws unless `engine` picks the WASM module's digit on each of its first images.
 *
 * @param engine the engine to check
 * @param model the model, whose WASM module is the reference
 * @param images the rotation images
 * @param count how many to check
 */
export async function verifyEngine(
  engine: Engine,
  model: PreparedModel,
  images: Uint8Array,
  count: number,
): Promise<void> {
  const bad: string[] = [];
  for (let i = 0; i < count; i++) {
    const image = images.subarray(i * PIXELS, (i + 1) * PIXELS);
    const { digit: want, probabilities: p } = model.wasm.predict(image);
    const got = await engine.predict(image);
    if (got !== want && p[want]! - p[got]! > TIE_TOLERANCE) {
      bad.push(`image ${i}: wasm ${want}, ${engine.id} ${got}`);
    }
  }
  if (bad.length > 0) {
    throw new Error(
      `${engine.name} disagrees with the WASM module of ${model.label} on ${bad.length} of ` +
        `${count} images (${bad.slice(0, 3).join("; ")}): the benchmark would compare ` +
        `different computations`,
    );
  }
}

/**
 * Peers the benchmarks use: all four, or in smoke mode only onnxruntime-node (1 thread).
 * `GGUFC_BENCH_PEERS=ort-web,tfjs-wasm` (comma list, or `none`) overrides.
 *
 * @returns the peer ids
 */
export function benchPeers(): readonly PeerId[] {
  const env = Deno.env.get("GGUFC_BENCH_PEERS");
  if (env !== undefined) {
    if (env === "none" || env === "") return [];
    const ids = env.split(",").map((s) => s.trim());
    for (const id of ids) {
      if (!(PEER_IDS as readonly string[]).includes(id)) {
        throw new Error(`GGUFC_BENCH_PEERS: unknown peer '${id}' (known: ${PEER_IDS.join(", ")})`);
      }
    }
    return ids as PeerId[];
  }
  return SMOKE ? ["ort-node-1t"] : PEER_IDS;
}

/** Which engines {@link makeEngines} builds. */
export interface EngineChoice {
  readonly interpreter?: boolean;
  readonly ts?: boolean;
  readonly peers?: readonly PeerId[];
}

/**
 * Builds the engines for a model (WASM module first) and checks each one's digits against the
 * WASM module on the images it will run.
 *
 * @param model the prepared model
 * @param images the rotation images ({@link ROTATE} of them)
 * @param choice which engines besides the WASM module
 * @returns the engines, WASM module first
 */
export async function makeEngines(
  model: PreparedModel,
  images: Uint8Array,
  choice: EngineChoice = {},
): Promise<Engine[]> {
  const engines: Engine[] = [moduleEngine("wasm", model.wasm)];
  if (choice.ts ?? true) engines.push(moduleEngine("ts", model.ts));
  if (choice.interpreter ?? true) engines.push(interpreterEngine(model.graph));
  for (const id of choice.peers ?? benchPeers()) {
    engines.push(peerEngine(await createPeer(model.graph, id)));
  }
  try {
    for (const e of engines.slice(1)) await verifyEngine(e, model, images, e.rotate);
  } catch (err) {
    await Promise.all(engines.map((e) => e.dispose()));
    throw err;
  }
  return engines;
}

/**
 * A function that classifies the next rotation image on each call (sync or async to match
 * the engine, so sync engines are not timed through a Promise).
 *
 * @param engine the engine
 * @param images the rotation images
 * @returns the function to time
 */
export function rotating(engine: Engine, images: Uint8Array): () => void | Promise<void> {
  const views = Array.from(
    { length: engine.rotate },
    (_, i) => images.subarray(i * PIXELS, (i + 1) * PIXELS),
  );
  let i = 0;
  if (engine.sync) {
    return () => {
      const v = views[i]!;
      i = i + 1 === views.length ? 0 : i + 1;
      engine.predict(v);
    };
  }
  return async () => {
    const v = views[i]!;
    i = i + 1 === views.length ? 0 : i + 1;
    await engine.predict(v);
  };
}

/** Display names of the engines, in table order. */
export const ENGINE_ORDER: readonly string[] = ["wasm", "ts", "interpreter", ...PEER_IDS];

/**
 * WASM codegen + module emission from a placed plan, as `compileGraph` does it for
 * `--target wasm` (the load benchmark times this step alone).
 *
 * @param plan the plan from `planGraph`
 * @returns the module source
 */
export function emitWasm(plan: Plan): string {
  // The defaults of compileGraph for --target wasm (keep in step with compiler/mod.ts).
  const backend = generateWasm(plan, { relaxed: true, winograd: true });
  return emitModule(plan, backend, {
    version: VERSION,
    sha256: "0".repeat(64),
    passes: pipelinePassNames(),
    options: { target: "wasm", weights: "f32", relaxed: true, winograd: true },
  });
}
