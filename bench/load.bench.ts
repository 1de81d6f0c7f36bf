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
 *   evaluates the module again: a new URL each time).
 *
 * Run: `deno task bench` (all suites) or `deno bench -A bench/load.bench.ts`.
 *
 * @module
 */
import { readFileSync } from "node:fs";
import { readGguf } from "../ggml/gguf_reader.ts";
import { isLegacyGgml, readLegacyGgml } from "../ggml/legacy.ts";
import { loadModel } from "../compiler/frontend/mod.ts";
import { planGraph } from "../compiler/mod.ts";
import { toFileUrl } from "../compiler/emit/path_url.ts";
import {
  benchModels,
  emitWasm,
  iterations,
  modelNotes,
  prepareModel,
  ROOT,
  SMOKE,
} from "./setup.ts";

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
  const freshCopy = () => import(`${jsUrl}?fresh=${fresh++}`) as Promise<{ load(): Promise<void> }>;
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
}
