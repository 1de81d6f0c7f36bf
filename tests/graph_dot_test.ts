/**
 * Tests of the DOT text: one record per IR node, one edge per operand, shapes in labels, and
 * names from hostile model files that cannot break the DOT.
 */
import assert from "node:assert/strict";
import { formatNe, type Graph, GraphBuilder } from "../compiler/ir/graph.ts";
import { sourceDot } from "../render/dot.ts";
import { dotText } from "../render/escape.ts";
import { dotToSvg } from "../render/render.ts";
import { loadModel } from "../compiler/frontend/mod.ts";
import { randomModels } from "../testkit/models.ts";

const LAYOUTS = ["seed-cnn", "seed-fc", "ggml-fc", "ggml-cnn"] as const;
const MODELS = randomModels(7);

/** The graph the real frontend builds for a random model of `layout`. */
function layoutGraph(layout: (typeof LAYOUTS)[number]): Graph {
  return loadModel(MODELS[layout], `${layout}.gguf`).graph;
}

/** A small FC graph whose tensor names are replaced by `names` (to test escaping). */
function namedGraph(names: Record<string, string>): Graph {
  const b = new GraphBuilder();
  const n = (s: string) => names[s] ?? s;
  const w = (name: string, dims: number[]) =>
    b.weight(n(name), dims, "f32", new Float32Array(dims.reduce((a, d) => a * d, 1)));
  const images = b.input(n("images"), [784, 1]);
  const h = b.relu(
    b.add_(b.mulMat(w("fc1.weight", [784, 50]), images, "fc1"), w("fc1.bias", [50])),
  );
  const logits = b.add_(b.mulMat(w("fc2.weight", [50, 10]), h, "fc2"), w("fc2.bias", [10]));
  return b.build(images, b.softMax(logits, n("probs")), {
    layout: "seed-fc",
    arch: "mnist-fc",
    name: n("model"),
  });
}

/** Node statements `nK [label=...]` and edge statements `nA -> nB` of a DOT text. */
function parseDot(dot: string): { nodes: Map<string, string>; edges: string[] } {
  const nodes = new Map<string, string>();
  const edges: string[] = [];
  for (const line of dot.split("\n")) {
    const e = line.match(/^\s*(n\d+) -> (n\d+)/);
    if (e) edges.push(`${e[1]}->${e[2]}`);
    const m = line.match(/^\s*(n\d+) \[label="((?:[^"\\]|\\.)*)"/);
    if (m) nodes.set(m[1]!, m[2]!);
  }
  return { nodes, edges };
}

for (const layout of LAYOUTS) {
  Deno.test(`sourceDot() draws one record per IR node and one edge per operand (${layout})`, () => {
    const graph = layoutGraph(layout);
    const { nodes, edges } = parseDot(sourceDot(graph));
    assert.equal(nodes.size, graph.nodes.length);
    const expected = graph.nodes.flatMap((n) => n.src.map((s) => `n${s}->n${n.id}`));
    assert.deepEqual(edges.sort(), expected.sort());
    for (const node of graph.nodes) {
      const label = nodes.get(`n${node.id}`)!;
      assert.ok(label.includes(dotText(formatNe(node.ne))), `${node.name}: ${label}`);
      assert.ok(label.includes(dotText(node.name)), `${node.name}: ${label}`);
    }
  });

  Deno.test(`Graphviz lays out the source DOT with every node and edge (${layout})`, async () => {
    const graph = layoutGraph(layout);
    const svg = await dotToSvg(sourceDot(graph));
    assert.equal(svg.match(/class="node"/g)?.length, graph.nodes.length);
    const nEdges = graph.nodes.reduce((a, n) => a + n.src.length, 0);
    assert.equal(svg.match(/class="edge"/g)?.length, nEdges);
  });
}

Deno.test("sourceDot() marks the output, weights and input with their own colours", () => {
  const graph = layoutGraph("ggml-fc");
  const dot = sourceDot(graph);
  const line = (id: number) => dot.split("\n").find((l) => l.trimStart().startsWith(`n${id} [`))!;
  assert.match(line(graph.output), /penwidth/);
  assert.match(line(graph.input), /fillcolor="#cfe3ff"/);
  const w = graph.nodes.find((n) => n.op.kind === "weight")!;
  assert.match(line(w.id), /fillcolor="#fff1a8"/);
  assert.doesNotMatch(line(w.id), /penwidth/);
});

Deno.test("dotText() escapes record syntax, quotes, backslashes and newlines", () => {
  assert.equal(dotText('a"b{c}d|e<f>g\\h\ni'), 'a\\"b\\{c\\}d\\|e\\<f\\>g\\\\h\\ni');
  assert.equal(dotText("x\u0000y\u001b"), "x\uFFFDy\uFFFD");
  assert.equal(dotText("abcdefgh", 5), "abcd…");
  assert.equal(dotText("\uD800x"), "\uFFFDx");
});

Deno.test("Names with quotes, braces, pipes, <, > and newlines render as written", async () => {
  const hostile = {
    "fc1.weight": 'w"{x}|<y>\\z',
    "fc1.bias": "line1\nline2 | }",
    images: "<in>",
    probs: '"}',
    model: "m}{\n|",
  };
  const graph = namedGraph(hostile);
  const dot = sourceDot(graph);
  assert.equal(parseDot(dot).nodes.size, graph.nodes.length);
  const svg = await dotToSvg(dot);
  assert.equal(svg.match(/class="node"/g)?.length, graph.nodes.length);
  const texts = [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) =>
    m[1]!.replaceAll("&quot;", '"').replaceAll("&lt;", "<").replaceAll("&gt;", ">")
      .replaceAll("&amp;", "&").replaceAll("&#160;", " ")
  );
  for (const name of ['w"{x}|<y>\\z', "line1", "line2 | }", "<in>", '"}']) {
    assert.ok(texts.includes(name), `'${name}' not drawn; texts: ${texts.join(" / ")}`);
  }
});
