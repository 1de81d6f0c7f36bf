/**
 * Throughput: `predictBatch` at batch 64 and 256 (images per second = batch / time per
 * call), for our WASM and TS modules and the peers that batch, on the same weights and the
 * same test images. The WASM module is the baseline of each group; next to it, in the same
 * run, `wasm-b1` (the same module compiled without the batch path, `batch: false`: every image
 * through the batch-1 kernels, as before the batch kernels) and `wasm-pool2` (the module's
 * `createPool(2)`, the counterpart of ort-node-2t).
 *
 * Run: `deno task bench` (all suites) or `deno bench -A bench/throughput.bench.ts`.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { compileGraph } from "../compiler/mod.ts";
import { loadEmittedModule } from "../compiler/emit/load.ts";
import type { EmittedPool } from "../compiler/emit/emitted_module.ts";
import {
  benchModels,
  BUILD_DIR,
  iterations,
  makeEngines,
  modelNotes,
  PIXELS,
  prepareModel,
  ROTATE,
  SMOKE,
  testImages,
} from "./setup.ts";

/** Batch sizes timed. */
export const BATCHES: readonly number[] = SMOKE ? [64] : [64, 256];

const images = testImages(Math.max(ROTATE, ...BATCHES));
const models = benchModels();
const pools: EmittedPool[] = [];
// deno bench has no after-all hook: end the workers once the benches are done with them.
globalThis.addEventListener("unload", () => void Promise.all(pools.map((p) => p.close())));
for (const note of modelNotes) console.error(`note: ${note}`);

for (const spec of models) {
  const model = await prepareModel(spec);
  const engines = await makeEngines(model, images, { interpreter: false });
  // The batch-1 path of the same model, and the pool of the batch module.
  const b1Path = `${BUILD_DIR}${spec.id}.wasm-b1.ts`;
  const sha256 = createHash("sha256").update(spec.bytes()).digest("hex");
  writeFileSync(b1Path, compileGraph(model.graph, { target: "wasm", batch: false, sha256 }).source);
  const b1 = await loadEmittedModule(b1Path);
  const pool = await model.wasm.createPool!(2);
  pools.push(pool);
  engines.splice(1, 0, {
    id: "wasm-b1",
    name: `ggufc module without batch kernels (${b1.backend()})`,
    sync: true,
    rotate: 0,
    predict: (image) => b1.predict(image).digit,
    predictBatch: (images, count) => b1.predictBatch(images, count).digits,
    dispose: () => Promise.resolve(),
  }, {
    id: "wasm-pool2",
    name: "ggufc module, createPool(2)",
    sync: false,
    rotate: 0,
    predict: async (image) => (await pool.predictBatch(image, 1)).digits[0]!,
    predictBatch: async (images, count) => (await pool.predictBatch(images, count)).digits,
    dispose: () => pool.close(),
  });
  for (const batch of BATCHES) {
    const block = images.subarray(0, batch * PIXELS);
    for (const engine of engines) {
      const run = engine.predictBatch;
      if (!run) continue;
      Deno.bench({
        name: engine.id,
        group: `${spec.id} throughput batch ${batch}`,
        baseline: engine.id === "wasm",
        ...iterations(),
        fn: engine.sync
          ? () => {
            run(block, batch);
          }
          : async () => {
            await run(block, batch);
          },
      });
    }
  }
}
