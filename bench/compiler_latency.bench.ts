/**
 * Per-digit latency of the compiled modules (batch 1, one thread), for each of the four model
 * layouts: the emitted WASM module (relaxed-SIMD FMA and plain SIMD128 variants), the emitted
 * TypeScript module and the reference interpreter, rotating through real MNIST test images
 * (so the dense kernels see real input sparsity). Plus `load()` (instantiate, weights
 * included) on fresh copies of each module.
 *
 * Models: the real files when present (../shared/fixtures for the seed FC and ggml mnist-fc,
 * models/*.gguf once trained), otherwise random weights of the same layout (same shapes, so
 * the same work; only the input-sparsity of hidden layers differs).
 *
 * Run: `deno bench -A bench/compiler_latency.bench.ts`; the machine's WASM SIMD peak:
 * `deno run -A bench/compiler_peak.ts`.
 *
 * @module
 */
import { bundleJs, compileFile, compileGraph, type CompileOptions } from "../compiler/mod.ts";
import { loadModel } from "../compiler/frontend/mod.ts";
import { type EmittedModule, loadEmittedSource } from "../compiler/emit/load.ts";
import { toBase64 } from "../compiler/codegen/base64.ts";
import type { Graph } from "../compiler/ir/graph.ts";
import { runGraph } from "../reference/interpreter.ts";
import { loadMnist } from "../data/mnist_data.ts";
import { LAYOUTS, randomModel } from "../testkit/random_graphs.ts";

const ROOT = new URL("../", import.meta.url);
/** Real model files by layout, first one found wins. */
const FILES: Record<string, string[]> = {
  "seed-cnn": ["models/mnist-cnn.gguf"],
  "seed-fc": ["../shared/fixtures/ggml-model-f32.bin"],
  "ggml-fc": ["../shared/fixtures/ggml-mnist-fc-f32.gguf", "models/mnist-fc.gguf"],
  "ggml-cnn": ["models/mnist-cnn-small.gguf"],
};

function tryRead(path: string): Uint8Array | undefined {
  try {
    return Deno.readFileSync(new URL(path, ROOT));
  } catch {
    return undefined;
  }
}

const { images } = loadMnist("test");
const ROTATE = 1000;
const pixels = images.pixels.subarray(0, ROTATE * 784);
const image = (i: number) => pixels.subarray((i % ROTATE) * 784, (i % ROTATE + 1) * 784);

for (const layout of LAYOUTS) {
  let graph: Graph;
  let compile: (o: CompileOptions) => string;
  const file = FILES[layout]!.find((f) => tryRead(f) !== undefined);
  if (file) {
    const bytes = tryRead(file)!;
    graph = loadModel(bytes, file).graph;
    compile = (o) => compileFile(bytes, file, o).source;
  } else {
    graph = randomModel(layout);
    compile = (o) => compileGraph(graph, o).source;
  }
  const label = `${layout} (${file ?? "random weights"})`;
  const variants: [string, EmittedModule][] = [];
  for (
    const [name, o] of [["wasm relaxed", { target: "wasm", relaxed: true }], ["wasm simd128", {
      target: "wasm",
      relaxed: false,
    }], ["ts", { target: "ts" }]] as const
  ) {
    variants.push([name, await loadEmittedSource(compile(o))]);
  }
  for (const [name, m] of variants) {
    let i = 0;
    Deno.bench({
      name: `${name} (${m.backend()})`,
      group: `${label} predict`,
      baseline: name === "wasm relaxed",
      warmup: 2000,
      fn: () => {
        m.predict(image(i++));
      },
    });
  }
  let j = 0;
  Deno.bench({
    name: "interpreter",
    group: `${label} predict`,
    n: layout === "seed-cnn" ? 10 : 100,
    warmup: 2,
    fn: () => {
      runGraph(graph, Float32Array.from(image(j++)));
    },
  });

  // load(): fresh module copies (a unique trailing comment gives each its own module record).
  const js = await bundleJs(compile({ target: "wasm" }));
  const copies: EmittedModule[] = [];
  for (let c = 0; c < 60; c++) {
    const text = new TextEncoder().encode(`${js}\n// copy ${c}\n`);
    copies.push(await import(`data:text/javascript;base64,${toBase64(text)}`));
  }
  let c = 0;
  Deno.bench({
    name: "load() of the wasm module (instantiate + weights)",
    group: `${label} load`,
    n: 50,
    warmup: 5,
    async fn() {
      await copies[c++ % copies.length]!.load();
    },
  });
}
