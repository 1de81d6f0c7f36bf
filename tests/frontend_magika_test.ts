/**
 * The Magika frontend on GGUF files written here with random weights (and on the fixture when
 * ../shared is present): detection, the graph's shape and meta, one-line FormatErrors naming the
 * tensor, batching, and MNIST graphs' meta left as it was.
 */
import { assert, assertEquals, assertThrows } from "./helpers/assert.ts";
import { loadModel } from "../compiler/frontend/mod.ts";
import { MAGIKA_LABELS, MAGIKA_TENSORS } from "../compiler/frontend/magika_graph.ts";
import { FormatError } from "../ggml/errors.ts";
import { GgmlType } from "../ggml/ggml_types.ts";
import { ggufOf, type TestWeight } from "../testkit/models.ts";
import { randomArray, rng } from "../testkit/random.ts";
import { runGraph } from "../reference/interpreter.ts";

/** standard_v1's tensors (ne = Keras shape, as convert.py writes them), random f32 values. */
function magikaWeights(seed: number): TestWeight[] {
  const r = rng(seed);
  const shapes: Record<string, number[]> = {
    "dense/kernel:0": [257, 128],
    "dense/bias:0": [128],
    "layer_normalization/gamma:0": [384],
    "layer_normalization/beta:0": [384],
    "dense_1/kernel:0": [512, 256],
    "dense_1/bias:0": [256],
    "dense_2/kernel:0": [256, 256],
    "dense_2/bias:0": [256],
    "layer_normalization_1/gamma:0": [256],
    "layer_normalization_1/beta:0": [256],
    "target_label/kernel:0": [256, 113],
    "target_label/bias:0": [113],
  };
  return MAGIKA_TENSORS.map((name) => {
    const ne = shapes[name]!;
    return {
      name,
      ne,
      type: GgmlType.F32,
      values: randomArray(r, ne.reduce((a, b) => a * b), 0.2),
    };
  });
}

/** The weights with one tensor changed by `edit` (or left out when it returns undefined). */
function edited(
  name: string,
  edit: (t: TestWeight) => TestWeight | undefined,
): TestWeight[] {
  return magikaWeights(1).flatMap((t) => t.name === name ? (edit(t) ?? []) : [t]);
}

Deno.test("a GGUF with arch magika becomes the Magika graph: tokens [1536] -> 113 probabilities", () => {
  const { graph, layout } = loadModel(ggufOf("magika", magikaWeights(1), "m"), "m.gguf");
  assertEquals(layout, "magika");
  assertEquals(graph.meta, {
    layout: "magika",
    arch: "magika",
    name: "m",
    inputKind: "byte-tokens",
    labels: MAGIKA_LABELS,
  });
  assertEquals(graph.nodes[graph.input]!.ne, [1536, 1, 1, 1]);
  assertEquals(graph.nodes[graph.output]!.ne, [113, 1, 1, 1]);
  const ops = graph.nodes.filter((n) => n.op.kind !== "weight").map((n) => n.op.kind);
  // main.cpp's op order
  assertEquals(ops, [
    "input",
    "one_hot",
    ...["mul_mat", "add", "gelu", "reshape", "permute", "cont", "norm", "mul", "add"],
    ...["permute", "cont", "mul_mat", "add", "gelu", "mul_mat", "add", "gelu"],
    ...[
      "permute",
      "cont",
      "pool_1d",
      "reshape",
      "norm",
      "mul",
      "add",
      "mul_mat",
      "add",
      "soft_max",
    ],
  ]);
  const probs = runGraph(graph, new Float32Array(1536).fill(256));
  assertEquals(probs.length, 113);
  assert(Math.abs(probs.reduce((a, b) => a + b, 0) - 1) < 1e-5, "probabilities sum to 1");
});

Deno.test("Magika without general.architecture is recognised by its tensor names", () => {
  const bytes = ggufOf("magika", magikaWeights(2));
  // Same file with the architecture key renamed, so the frontend sees no architecture.
  const text = new TextEncoder().encode("general.architecture");
  const at = bytes.findIndex((_, i) => text.every((c, j) => bytes[i + j] === c));
  assert(at > 0);
  const renamed = bytes.slice();
  renamed[at] = "x".charCodeAt(0);
  assertEquals(loadModel(renamed, "m.gguf").layout, "magika");
});

Deno.test("Magika tensors with a missing name, wrong shape, wrong type or NaN give a FormatError naming it", () => {
  const load = (w: TestWeight[]) => () => loadModel(ggufOf("magika", w), "bad.gguf");
  assertThrows(
    load(edited("dense_2/bias:0", () => undefined)),
    FormatError,
    "tensor 'dense_2/bias:0': expected present, found missing",
  );
  assertThrows(
    load(edited("target_label/kernel:0", (t) => ({ ...t, ne: [113, 256] }))),
    FormatError,
    "tensor 'target_label/kernel:0' ne: expected [256,113], found [113,256]",
  );
  assertThrows(
    load(
      edited(
        "layer_normalization/gamma:0",
        (t) => ({ ...t, ne: [512], values: new Float32Array(512) }),
      ),
    ),
    FormatError,
    "tensor 'layer_normalization/gamma:0' ne: expected [384]",
  );
  assertThrows(
    load(edited("dense/bias:0", (t) => ({ ...t, type: GgmlType.F16 }))),
    FormatError,
    "tensor 'dense/bias:0' type: expected f32, found f16",
  );
  assertThrows(
    load(edited("dense_1/kernel:0", (t) => {
      const values = t.values.slice();
      values[5] = NaN;
      return { ...t, values };
    })),
    FormatError,
    "tensor 'dense_1/kernel:0' element 5",
  );
  // f16 matrices are accepted (ggml's mul_mat takes them)
  const f16 = edited("dense_1/kernel:0", (t) => ({ ...t, type: GgmlType.F16 }));
  assertEquals(loadModel(ggufOf("magika", f16), "f16.gguf").graph.meta.arch, "magika");
  // an MNIST file that claims to be Magika names the first tensor it lacks
  assertThrows(
    () =>
      loadModel(
        ggufOf("magika", [{
          name: "fc1.weight",
          ne: [784, 4],
          type: GgmlType.F32,
          values: new Float32Array(3136),
        }]),
        "x.gguf",
      ),
    FormatError,
    "tensor 'dense/kernel:0'",
  );
});

Deno.test("a batch of 2 files gives each file's probabilities as a batch of 1 does", () => {
  const bytes = ggufOf("magika", magikaWeights(3));
  const one = loadModel(bytes, "m.gguf").graph;
  const two = loadModel(bytes, "m.gguf", { batch: 2 }).graph;
  assertEquals(two.nodes[two.input]!.ne, [1536, 2, 1, 1]);
  assertEquals(two.nodes[two.output]!.ne, [113, 2, 1, 1]);
  const r = rng(4);
  const a = Float32Array.from({ length: 1536 }, () => Math.floor(r() * 257));
  const b = Float32Array.from({ length: 1536 }, () => Math.floor(r() * 257));
  const both = new Float32Array(3072);
  both.set(a);
  both.set(b, 1536);
  const out = runGraph(two, both);
  assertEquals(out.subarray(0, 113), runGraph(one, a));
  assertEquals(out.subarray(113), runGraph(one, b));
});

Deno.test("MNIST graphs' meta keeps exactly layout, arch and name", async () => {
  const bytes = await Deno.readFile(new URL("../models/mnist-cnn.gguf", import.meta.url));
  const { graph } = loadModel(bytes, "mnist-cnn.gguf");
  assertEquals(Object.keys(graph.meta).sort(), ["arch", "layout", "name"]);
});

const FIXTURE_DIR = new URL("../../shared/fixtures/magika/", import.meta.url);
let haveFixture = true;
try {
  Deno.statSync(new URL("labels.json", FIXTURE_DIR));
} catch {
  haveFixture = false;
  console.log(
    "note: ../shared/fixtures/magika absent; the Magika labels/fixture tests are skipped",
  );
}

Deno.test({
  name: "MAGIKA_LABELS equals the fixture's labels.json; the fixture GGUF loads as Magika",
  ignore: !haveFixture,
  async fn() {
    const labels = JSON.parse(await Deno.readTextFile(new URL("labels.json", FIXTURE_DIR)));
    assertEquals([...MAGIKA_LABELS], labels);
    const bytes = await Deno.readFile(new URL("magika-standard_v1.gguf", FIXTURE_DIR));
    const { graph, layout, gguf } = loadModel(bytes, "magika-standard_v1.gguf");
    assertEquals(layout, "magika");
    assertEquals(gguf!.tensors.map((t) => t.name), [...MAGIKA_TENSORS]);
    assertEquals(graph.meta.name, "magika-standard_v1");
    assertEquals(graph.meta.labels, MAGIKA_LABELS);
  },
});
