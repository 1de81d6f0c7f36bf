/**
 * Per-kernel timing of the WASM backend next to the machine's SIMD peak: for each layout, each
 * kernel call of the plan is run alone (its own export of the module) on a real MNIST test
 * image, and the best of many single calls is reported (the least disturbed by other
 * processes), with its multiply-adds, multiply-adds per ns and the fraction of the peak.
 * Winograd kernels do 16/36 of the direct convolution's multiply-adds; both counts are shown.
 *
 * Run: `deno run -A bench/compiler_kernels.ts`
 *
 * @module
 */
import { planGraph } from "../compiler/mod.ts";
import { generateWasm } from "../compiler/codegen/wasm_backend.ts";
import { winogradEligible } from "../compiler/codegen/conv2d_winograd.ts";
import { kernelMacs } from "../compiler/plan/plan.ts";
import { loadModel } from "../compiler/frontend/mod.ts";
import { loadMnist } from "../data/mnist_data.ts";
import { LAYOUTS, randomModel } from "../testkit/random_graphs.ts";
import { measurePeak } from "./compiler_peak.ts";

const FILES: Record<string, string> = {
  "seed-cnn": "models/mnist-cnn.gguf",
  "seed-fc": "../shared/fixtures/ggml-model-f32.bin",
  "ggml-fc": "../shared/fixtures/ggml-mnist-fc-f32.gguf",
  "ggml-cnn": "models/mnist-cnn-small.gguf",
};

const { images } = loadMnist("test");
const peak = await measurePeak(true, 30);
console.log(
  `WASM SIMD peak (${peak.kind}, 12 independent chains): ${
    peak.macPerNs.toFixed(2)
  } multiply-adds/ns`,
);
for (const layout of LAYOUTS) {
  let graph, source = "random weights";
  try {
    const url = new URL(`../${FILES[layout]}`, import.meta.url);
    graph = loadModel(Deno.readFileSync(url), FILES[layout]!).graph;
    source = FILES[layout]!;
  } catch {
    graph = randomModel(layout);
  }
  const { plan } = planGraph(graph);
  const be = generateWasm(plan, { relaxed: true });
  const code = new Uint8Array(be.relaxed!); // a copy: WebAssembly wants an ArrayBuffer-backed view
  const { instance } = await WebAssembly.instantiate(code, { m: { exp: Math.exp } });
  const ex = instance.exports as Record<string, () => void> & { memory: WebAssembly.Memory };
  new Uint8Array(ex.memory.buffer, be.weightsAt, be.weights.length).set(be.weights);
  const arena = new Float32Array(ex.memory.buffer, 0, plan.arenaBytes / 4);
  const inputAt = plan.buffers[plan.input]!.offset / 4;
  const feed = (i: number) => arena.set(images.pixels.subarray(i * 784, (i + 1) * 784), inputAt);
  for (let i = 0; i < 3000; i++) (feed(i % 100), ex.run!());
  console.log(`\n${layout} (${source})`);
  let total = 0;
  plan.kernels.forEach((k, i) => {
    // Re-run the kernels before k so its input is this image's, then time k alone.
    let best = Infinity;
    for (let r = 0; r < 3000; r++) {
      feed(r % 100);
      for (let j = 0; j < i; j++) ex[`k${j}`]!();
      const t = performance.now();
      ex[`k${i}`]!();
      best = Math.min(best, performance.now() - t);
    }
    const us = best * 1000;
    total += us;
    const direct = kernelMacs(k);
    const wino = k.kind === "conv2d" && winogradEligible(k);
    const macs = wino ? direct * 16 / 36 : direct;
    const sparse = k.kind === "dense" && k.m > 12; // the non-zero-input kernel (see compiler/codegen/dense.ts)
    const rate = macs / us / 1000;
    console.log(
      `  k${i} ${k.kind.padEnd(6)} ${us.toFixed(1).padStart(6)} us  ${
        String(Math.round(macs)).padStart(8)
      } MACs` +
        `${wino ? ` (Winograd; direct ${direct})` : ""}` +
        `${sparse ? " (dense count; zero inputs skipped)" : ""}  ${rate.toFixed(2)} MAC/ns = ${
          (100 * rate / peak.macPerNs).toFixed(0)
        }% of peak`,
    );
  });
  console.log(`  sum of kernels ${total.toFixed(1)} us`);
}
