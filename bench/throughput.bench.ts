/**
 * Throughput: `predictBatch` at batch 64 and 256 (images per second = batch / time per
 * call), for our WASM and TS modules and the peers that batch, on the same weights and the
 * same test images. The WASM module is the baseline of each group.
 *
 * Run: `deno task bench` (all suites) or `deno bench -A bench/throughput.bench.ts`.
 *
 * @module
 */
import {
  benchModels,
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
for (const note of modelNotes) console.error(`note: ${note}`);

for (const spec of models) {
  const model = await prepareModel(spec);
  const engines = await makeEngines(model, images, { interpreter: false });
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
