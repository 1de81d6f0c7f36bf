/**
 * Latency: one digit at a time (batch 1), rotating through MNIST test images, through the
 * reference interpreter, the emitted TS module, the emitted WASM module (the baseline of each
 * group) and the peer engines, all on the same weights. Every engine is checked against the
 * WASM module's digits on the images it runs before anything is timed.
 *
 * Run: `deno task bench` (all suites) or `deno bench -A bench/latency.bench.ts`.
 *
 * @module
 */
import {
  benchModels,
  iterations,
  makeEngines,
  modelNotes,
  prepareModel,
  ROTATE,
  rotating,
  testImages,
} from "./setup.ts";

const images = testImages(ROTATE);
const models = benchModels();
for (const note of modelNotes) console.error(`note: ${note}`);

for (const spec of models) {
  const model = await prepareModel(spec);
  const engines = await makeEngines(model, images);
  for (const engine of engines) {
    Deno.bench({
      name: engine.id,
      group: `${spec.id} latency`,
      baseline: engine.id === "wasm",
      ...iterations(engine.id === "interpreter"),
      fn: rotating(engine, images),
    });
  }
}
