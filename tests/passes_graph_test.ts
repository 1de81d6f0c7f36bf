/**
 * Every graph pass, before and after, against the reference interpreter: on the four MNIST
 * layouts with random weights and on odd-shaped conv nets.
 *
 * Tolerance: passes reorder or re-associate f32 arithmetic (a folded 1/255 is one extra rounding
 * per weight; a reordered dense sums the same products in another order), so outputs may move by
 * a few f32 ulps of the values involved: 1e-5 absolute on probabilities / logits of magnitude
 * <= ~10 is ~100x that and still far below any real bug (a wrong index moves values by O(0.1)).
 */
import assert from "node:assert/strict";
import { collapseBias } from "../compiler/passes/collapse_bias.ts";
import { foldScale } from "../compiler/passes/fold_input_scale.ts";
import { foldViews } from "../compiler/passes/fold_views.ts";
import type { GraphPass } from "../compiler/passes/pass.ts";
import { prune } from "../compiler/passes/prune.ts";
import type { Graph } from "../compiler/ir/graph.ts";
import { GRAPH_PASSES } from "../compiler/mod.ts";
import {
  convNet,
  LAYOUTS,
  maxAbsDiff,
  ODD_NETS,
  randomImage,
  randomModel,
  reference,
  rng,
} from "../testkit/random_graphs.ts";

const TOL = 1e-5;

function assertSameResults(before: Graph, after: Graph, what: string): void {
  const n = before.nodes[before.input]!.ne;
  for (let i = 0; i < 3; i++) {
    const x = randomImage(rng(100 + i), n[0] * n[1]);
    const d = maxAbsDiff(reference(before, x), reference(after, x));
    assert.ok(d <= TOL, `${what}: output differs by ${d}`);
  }
}

const kinds = (g: Graph) => g.nodes.map((n) => n.op.kind);

for (const pass of GRAPH_PASSES) {
  Deno.test(`graph pass ${pass.name} keeps the interpreter's results on the four layouts and odd nets`, () => {
    for (const layout of LAYOUTS) {
      const g = randomModel(layout, 3);
      assertSameResults(g, pass.run(g), `${pass.name} on ${layout}`);
    }
    for (const { name, spec } of ODD_NETS) {
      const g = convNet(spec, 4);
      assertSameResults(g, pass.run(g), `${pass.name} on ${name}`);
    }
  });
}

Deno.test("fold-scale removes the /255 of every layout that has one and scales the first weights", () => {
  for (const layout of LAYOUTS) {
    const g = randomModel(layout);
    const after = foldScale.run(g);
    assert.equal(kinds(after).includes("scale"), false, layout);
    assert.equal(kinds(g).includes("scale"), layout !== "seed-fc", layout);
  }
});

Deno.test("collapse-bias turns the seed CNN's pre-broadcast biases into per-channel ones", () => {
  const after = collapseBias.run(randomModel("seed-cnn"));
  const b1 = after.nodes.find((n) => n.name === "bias1")!;
  const b2 = after.nodes.find((n) => n.name === "bias2")!;
  assert.deepEqual(b1.ne, [1, 1, 32, 1]);
  assert.deepEqual(b2.ne, [1, 1, 64, 1]);
});

Deno.test("collapse-bias keeps a bias whole when its copies differ", () => {
  const g = convNet(ODD_NETS[1]!.spec);
  const before = g.nodes.find((n) => n.name === "b0")!;
  const after = collapseBias.run(g).nodes.find((n) => n.name === "b0")!;
  assert.deepEqual(after.ne, before.ne);
});

Deno.test("fold-views removes the CNNs' permute and cont before the dense layer", () => {
  for (const layout of ["seed-cnn", "ggml-cnn"] as const) {
    const after = foldViews.run(randomModel(layout));
    assert.equal(kinds(after).includes("permute"), false);
    assert.equal(kinds(after).includes("cont"), false);
  }
});

Deno.test("prune drops nodes nothing consumes", () => {
  const g = randomModel("ggml-fc");
  const folded = foldScale.run(g);
  assert.equal(prune.run(folded).nodes.length, folded.nodes.length);
  assert.ok(
    folded.nodes.length < g.nodes.length,
    "fold-scale's rewrite already dropped the scale node",
  );
});

Deno.test("all graph passes together keep the results", () => {
  const passes: GraphPass[] = [foldScale, collapseBias, foldViews, prune];
  for (const layout of LAYOUTS) {
    const g = randomModel(layout, 9);
    const after = passes.reduce((x, p) => p.run(x), g);
    assertSameResults(g, after, layout);
  }
});
