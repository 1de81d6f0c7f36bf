/**
 * Magika (models/magika.gguf): per-file latency (batch 1, rotating through the files' tokens),
 * throughput on a batch of 64 files, and `import` + `load()` of the bundled module; our compiled
 * module (f32 and q8_0 weights, and `createPool(2)` for the batch) against onnxruntime-web,
 * onnxruntime-node (1 and 2 threads) and TF.js wasm, all on the same tokens. The files are the
 * fixture's 77 real files (../shared/fixtures/magika), or this repository's when it is absent.
 * Every engine is checked against the reference interpreter before it is timed.
 *
 * Run: `deno bench -A bench/magika.bench.ts`; `deno task bench:magika` writes BENCHMARKS.md's
 * Magika section and bench/magika-latency.png from it.
 *
 * @module
 */
import { iterations } from "./setup.ts";
import {
  BATCH,
  benchFiles,
  buildMagikaModule,
  importFresh,
  magikaEngines,
  magikaNotes,
} from "./magika_compare_setup.ts";

const files = benchFiles();
const { engines, moduleMissing } = await magikaEngines(files, true);
for (const note of magikaNotes) console.error(`note: ${note}`);

let next = 0;
for (const engine of engines) {
  if (engine.id === "pool-2") continue;
  Deno.bench({
    name: engine.id,
    group: "magika latency",
    baseline: engine.id === "wasm-f32",
    ...iterations(),
    fn: async () => {
      await engine.one(next++);
    },
  });
}

for (const engine of engines) {
  Deno.bench({
    name: engine.id,
    group: `magika throughput batch ${BATCH}`,
    baseline: engine.id === "wasm-f32",
    ...iterations(),
    fn: async () => {
      await engine.batch(BATCH);
    },
  });
}

if (!moduleMissing) {
  const path = await buildMagikaModule("f32");
  Deno.bench({
    name: "import + load",
    group: "magika load",
    // Every fresh import stays in memory: keep the count small.
    n: 20,
    warmup: 2,
    fn: async () => {
      const m = await importFresh(path);
      await m.load();
    },
  });
}

globalThis.addEventListener("unload", () => {
  for (const e of engines) void e.dispose();
});
