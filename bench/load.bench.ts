/**
 * Load time, in separate figures so a regression shows where it is:
 * - `read + parse`: read the model file (when it is a file) and parse it (GGUF or legacy);
 * - `graph`: frontend (parses again, builds the graph) + graph passes + lowering + plan passes;
 * - `emit`: WASM codegen + module emission, from the plan;
 * - `instantiate`: what the emitted module's `load()` does on a fresh instance (base64 weights
 *   decoded, WASM module validated, compiled and instantiated, weights copied into its
 *   memory), called through the module's own internal `instantiate` which a harness copy of
 *   the module re-exports (the shipped module instantiates once per import);
 * - `import + load`: a fresh import of the bundled `.js` module (a new URL each time, so Deno
 *   parses and evaluates it again) followed by `load()`: what a page pays after the file
 *   arrived.
 *
 * Run: `deno task bench` (all suites) or `deno bench -A bench/load.bench.ts`.
 *
 * @module
 */
import { readFileSync } from "node:fs";
import { readGguf } from "../compiler/formats/gguf_reader.ts";
import { isLegacyGgml, readLegacyGgml } from "../compiler/formats/legacy.ts";
import { loadModel } from "../compiler/frontend/mod.ts";
import { planGraph } from "../compiler/mod.ts";
import { toFileUrl } from "../compiler/emit/path_url.ts";
import {
  benchModels,
  emitWasm,
  harnessOf,
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
  const harness = await harnessOf(model);
  Deno.bench({
    name: "instantiate",
    group,
    ...iterations(),
    fn: async () => {
      await harness.instantiate();
    },
  });
  // Every fresh import stays in memory for the life of the process: keep the count small.
  const jsUrl = toFileUrl(model.paths.wasmJs).href;
  Deno.bench({
    name: "import + load",
    group,
    ...(SMOKE ? { n: 2, warmup: 0 } : { n: 20, warmup: 2 }),
    fn: async () => {
      const m = await import(`${jsUrl}?fresh=${fresh++}`) as { load(): Promise<void> };
      await m.load();
    },
  });
}
