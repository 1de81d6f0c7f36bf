/**
 * `--conv`: per-digit latency (batch 1) of the CNN modules as compiled by default (`--conv
 * auto`: int8 convs in the relaxed-SIMD variant Deno runs; baseline of each group) and with
 * `--conv f32` (the f32 convs, the default before int8), next to onnxruntime-node on 1 and 2
 * threads, rotating through the same MNIST test images as bench/latency.bench.ts. Accuracy of
 * the int8 modules: `deno run -A bench/conv_int8_accuracy.ts`.
 *
 * Run: `deno bench -A bench/conv_int8.bench.ts` (`GGUFC_BENCH_PEERS=none` leaves out the peers),
 * or `deno run -A bench/conv_int8.bench.ts --table [--rounds N]` for a markdown table of
 * median / p90 / best per call from N interleaved rounds of 200 calls per engine (one
 * `performance.now()` pair per call; median ratios against the default module).
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
const TABLE = Deno.args.includes("--table");
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
  if (TABLE) await table(spec.id, engines);
  else {
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
}

/** Interleaved rounds: every engine runs 200 calls per round, in turn; per-call times pooled. */
async function table(model: string, engines: Engine[]): Promise<void> {
  const at = Deno.args.indexOf("--rounds");
  const rounds = at >= 0 ? Number(Deno.args[at + 1]) : 25;
  const fns = engines.map((e) => rotating(e, images));
  const times: number[][] = engines.map(() => []);
  for (let r = 0; r < rounds + 1; r++) {
    for (let e = 0; e < engines.length; e++) {
      for (let i = 0; i < 200; i++) {
        const t = performance.now();
        await fns[e]!();
        if (r > 0) times[e]!.push((performance.now() - t) * 1000); // round 0 warms up
      }
    }
  }
  const q = (v: number[], f: number) => v[Math.min(v.length - 1, Math.floor(f * v.length))]!;
  const stats = times.map((v) => v.sort((a, b) => a - b)).map((v) => ({
    median: q(v, 0.5),
    p90: q(v, 0.9),
    best: v[0]!,
  }));
  console.log(`\n${model}, ${rounds} rounds x 200 calls per engine\n`);
  console.log("| engine | median us | p90 us | best us | median vs default |");
  console.log("| --- | ---: | ---: | ---: | ---: |");
  engines.forEach((e, i) => {
    const s = stats[i]!;
    console.log(
      `| ${e.id === "wasm" ? "wasm (default, --conv auto)" : e.id} | ${s.median.toFixed(1)} | ${
        s.p90.toFixed(1)
      } | ${s.best.toFixed(1)} | ${(s.median / stats[0]!.median).toFixed(2)}x |`,
    );
  });
  await Promise.all(engines.map((e) => e.dispose()));
}
