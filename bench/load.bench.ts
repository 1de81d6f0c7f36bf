/**
 * Load time, in separate figures so a regression shows where it is:
 * - `read + parse`: read the model file (when it is a file) and parse it (GGUF or legacy);
 * - `graph`: frontend (parses again, builds the graph) + graph passes + lowering + plan passes;
 * - `emit`: WASM codegen + module emission, from the plan;
 * - `instantiate`: `load()` of a freshly imported copy of the bundled `.js` module (the import
 *   is outside the timed part): WASM compiled and instantiated, weights decoded into its
 *   memory; the number a deployed user pays once the file is read and evaluated (the module
 *   instantiates once per import, so each call needs a new copy);
 * - `import + load`: the same with the `import()` inside the timed part (Deno parses and
 *   evaluates the module again: a new URL each time);
 * - `+ first predict`: `import + load` and the first `predict()`, the whole cold path of one
 *   model in a warm process; `--split: ...`: the same for the `--split` module (OUT.js with
 *   OUT.wasm beside it). A fresh process pays more (bench/cold_start.ts).
 *
 * Run: `deno task bench` (all suites) or `deno bench -A bench/load.bench.ts`.
 *
 * @module
 */
import { readFileSync } from "node:fs";
import { readGguf } from "../ggml/gguf_reader.ts";
import { isLegacyGgml, readLegacyGgml } from "../ggml/legacy.ts";
import { loadModel } from "../compiler/frontend/mod.ts";
import { bundleJs, compileGraph, planGraph } from "../compiler/mod.ts";
import { toFileUrl } from "../compiler/emit/path_url.ts";
import {
  benchModels,
  BUILD_DIR,
  emitWasm,
  iterations,
  modelNotes,
  prepareModel,
  ROOT,
  SMOKE,
} from "./setup.ts";

/** What the load benches call on a freshly imported module. */
interface FreshModule {
  load(): Promise<void>;
  predict(image: Uint8Array): unknown;
}

const models = benchModels();
for (const note of modelNotes) console.error(`note: ${note}`);

let fresh = 0;
for (const spec of models) {
  const model = await prepareModel(spec);
  const bytes = spec.bytes();
  const fileName = spec.file.split("/").pop()!;
  const group = `${spec.id} load`;
  Deno.bench({
    name: "read + parse",
    group,
    ...iterations(),
    fn: () => {
      const b = spec.path ? readFileSync(ROOT + spec.path) : bytes;
      if (isLegacyGgml(b)) readLegacyGgml(b, fileName);
      else readGguf(b, fileName);
    },
  });
  Deno.bench({
    name: "graph",
    group,
    ...iterations(),
    fn: () => {
      planGraph(loadModel(bytes, fileName, { batch: 1 }).graph);
    },
  });
  const { plan } = planGraph(model.graph);
  Deno.bench({
    name: "emit",
    group,
    ...iterations(),
    fn: () => {
      emitWasm(plan);
    },
  });
  // Every fresh import stays in memory for the life of the process: keep the count small
  // (deno bench runs about n + warmup calls of a function this slow).
  const jsUrl = toFileUrl(model.paths.wasmJs).href;
  const fewCalls = SMOKE ? { n: 2, warmup: 0 } : { n: 20, warmup: 2 };
  const freshCopy = () => import(`${jsUrl}?fresh=${fresh++}`) as Promise<FreshModule>;
  Deno.bench({
    name: "instantiate",
    group,
    ...fewCalls,
    fn: async (b) => {
      const m = await freshCopy();
      b.start();
      await m.load();
      b.end();
    },
  });
  Deno.bench({
    name: "import + load",
    group,
    ...fewCalls,
    fn: async () => {
      const m = await freshCopy();
      await m.load();
    },
  });
  const image = new Uint8Array(784).map((_, i) => (i * 13) % 256);
  Deno.bench({
    name: "+ first predict",
    group,
    ...fewCalls,
    fn: async () => {
      const m = await freshCopy();
      await m.load();
      m.predict(image);
    },
  });
  const split = compileGraph(model.graph, { weightsFile: `${spec.id}.split.wasm` });
  const splitJs = `${BUILD_DIR}${spec.id}.split.js`;
  Deno.writeTextFileSync(splitJs, await bundleJs(split.source));
  Deno.writeFileSync(`${BUILD_DIR}${spec.id}.split.wasm`, split.weightsWasm!);
  const splitUrl = toFileUrl(splitJs).href;
  Deno.bench({
    name: "--split: + first predict",
    group,
    ...fewCalls,
    fn: async () => {
      const m = await import(`${splitUrl}?fresh=${fresh++}`) as FreshModule;
      await m.load();
      m.predict(image);
    },
  });
}
