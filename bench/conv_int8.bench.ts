/**
 * `--conv`: per-digit latency (batch 1) of the CNN modules as compiled by default (`--conv
 * auto`: int8 convs in the relaxed-SIMD variant Deno runs; baseline of each group) and with
 * `--conv f32` (the f32 convs, the default before int8), next to onnxruntime-node on 1 and 2
 * threads, rotating through the same MNIST test images as bench/latency.bench.ts. Accuracy of
 * the int8 modules: `deno run -A bench/conv_int8_accuracy.ts`.
 *
 * Run: `deno bench -A bench/conv_int8.bench.ts` (`GGUFC_BENCH_PEERS=none` leaves out the peers).
 *
 * @module
 */
import { compileGraph } from "../compiler/mod.ts";
import { loadEmittedSource } from "../compiler/emit/load.ts";
import {
  benchModels,
  type Engine,
  iterations,
  makeEngines,
  prepareModel,
  ROTATE,
  rotating,
  testImages,
} from "./setup.ts";

const images = testImages(ROTATE);
const peers = (Deno.env.get("GGUFC_BENCH_PEERS") ?? "ort-node-1t,ort-node-2t")
  .split(",").filter((p) => p !== "" && p !== "none") as ("ort-node-1t" | "ort-node-2t")[];

for (const spec of benchModels().filter((s) => s.id.startsWith("mnist-cnn"))) {
  const model = await prepareModel(spec);
  const engines: Engine[] = await makeEngines(model, images, {
    ts: false,
    interpreter: false,
    peers,
  });
  const m = await loadEmittedSource(compileGraph(model.graph, { conv: "f32" }).source);
  engines.push({
    id: "wasm --conv f32",
    name: `ggufc module, --conv f32 (${m.backend()})`,
    sync: true,
    rotate: ROTATE,
    predict: (image) => m.predict(image).digit,
    dispose: () => Promise.resolve(),
  });
  for (const engine of engines) {
    Deno.bench({
      name: engine.id === "wasm" ? "wasm (default, --conv auto)" : engine.id,
      group: `${spec.id} latency, --conv`,
      baseline: engine.id === "wasm",
      ...iterations(),
      fn: rotating(engine, images),
    });
  }
}
