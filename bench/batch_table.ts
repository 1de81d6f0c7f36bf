/**
 * The batch path side by side with its peers, in interleaved rounds (so swings of a shared
 * machine's load hit every engine alike): `predictBatch` of the first `--batch` (default 256)
 * MNIST test images through the module with batch kernels (`wasm`), the same model compiled
 * without them (`wasm-b1`, `batch: false`), the module's `createPool(2)` and onnxruntime-node
 * with 1 and 2 intra-op threads, for the three trained models. Prints us/image, best and median
 * of `--rounds` (default 20) rounds, and each engine's images/s against `wasm` as ratios.
 *
 * Run: `deno run -A bench/batch_table.ts [--rounds N] [--batch N]`
 *
 * @module
 */
import { compileGraph } from "../compiler/mod.ts";
import { loadEmittedModule } from "../compiler/emit/load.ts";
import type { EmittedModule } from "../compiler/emit/emitted_module.ts";
import { createPeer } from "../peers/mod.ts";
import { benchModels, BUILD_DIR, prepareModel, testImages } from "./setup.ts";

const arg = (name: string, d: number) => {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Number(Deno.args[i + 1]) : d;
};
const ROUNDS = arg("--rounds", 20), BATCH = arg("--batch", 256);
const images = testImages(BATCH);
console.log(`batch ${BATCH}, ${ROUNDS} rounds, load average ${Deno.loadavg().join(" ")}`);
console.log("| model | engine | us/image best | median | vs wasm (best) | vs wasm (median) |");
console.log("| --- | --- | ---: | ---: | ---: | ---: |");
for (const spec of benchModels().filter((s) => s.source !== "fixture")) {
  const model = await prepareModel(spec);
  const b1Path = `${BUILD_DIR}${spec.id}.wasm-b1.ts`;
  Deno.writeTextFileSync(b1Path, compileGraph(model.graph, { batch: false }).source);
  const b1: EmittedModule = await loadEmittedModule(b1Path);
  const pool = await model.wasm.createPool!(2);
  const ort1 = await createPeer(model.graph, "ort-node-1t");
  const ort2 = await createPeer(model.graph, "ort-node-2t");
  const engines: [string, () => unknown][] = [
    ["wasm", () => model.wasm.predictBatch(images, BATCH)],
    ["wasm-b1", () => b1.predictBatch(images, BATCH)],
    ["wasm-pool2", () => pool.predictBatch(images, BATCH)],
    ["ort-node-1t", () => ort1.predictBatch(images, BATCH)],
    ["ort-node-2t", () => ort2.predictBatch(images, BATCH)],
  ];
  const times = engines.map(() => [] as number[]);
  for (let r = 0; r < ROUNDS + 2; r++) {
    for (const [i, [, run]] of engines.entries()) {
      const t = performance.now();
      await run();
      if (r >= 2) times[i]!.push((performance.now() - t) * 1000 / BATCH); // 2 warm-up rounds
    }
  }
  const stat = times.map((t) => {
    const s = [...t].sort((a, b) => a - b);
    return { best: s[0]!, median: s[Math.floor(s.length / 2)]! };
  });
  engines.forEach(([name], i) => {
    const s = stat[i]!;
    console.log(
      `| ${spec.id} | ${name} | ${s.best.toFixed(1)} | ${s.median.toFixed(1)} | ${
        (stat[0]!.best / s.best).toFixed(2)
      }x | ${(stat[0]!.median / s.median).toFixed(2)}x |`,
    );
  });
  await Promise.all([pool.close(), ort1.dispose(), ort2.dispose()]);
}
