/**
 * The plan stage: lowering (fusion, channels-last), the dead-work and memory passes, and the
 * plan listing. Each plan pass is also checked before/after by running the plan (through the
 * TS backend, arena poisoned with NaN) against the interpreter on odd nets.
 *
 * Tolerance: as in codegen_kernels_test.ts, 1e-5 * max(1, |reference|) (same products summed in
 * another order).
 */
import assert from "node:assert/strict";
import { GRAPH_PASSES, planGraph, VERSION } from "../compiler/mod.ts";
import { runGraphPasses } from "../compiler/passes/pass.ts";
import { lowerToPlan } from "../compiler/plan/lower.ts";
import { eliminateDeadWork } from "../compiler/plan/dead_work.ts";
import { lifetimes, planMemory } from "../compiler/plan/memory.ts";
import { kernelMacs, type Plan, renderPlan } from "../compiler/plan/plan.ts";
import { generateTs } from "../compiler/codegen/ts_backend.ts";
import { emitModule } from "../compiler/emit/module.ts";
import { loadEmittedSource } from "../compiler/emit/load.ts";
import type { Graph } from "../compiler/ir/graph.ts";
import {
  convNet,
  LAYOUTS,
  ODD_NETS,
  randomImage,
  randomModel,
  reference,
  rng,
} from "../testkit/random_graphs.ts";

async function assertPlanMatches(plan: Plan, g: Graph, what: string): Promise<void> {
  const placed = plan.memory ? plan : planMemory(plan);
  const source = emitModule(placed, generateTs(placed), {
    version: VERSION,
    sha256: "0".repeat(64),
    passes: [],
    options: {},
    poisonArena: true,
  });
  const m = await loadEmittedSource(source);
  const n = g.nodes[g.input]!.ne;
  for (let i = 0; i < 2; i++) {
    const x = randomImage(rng(500 + i), n[0] * n[1]);
    const got = m.predict(x).probabilities, want = reference(g, x);
    for (let j = 0; j < want.length; j++) {
      const d = Math.abs(got[j]! - want[j]!);
      assert.ok(
        d <= 1e-5 * Math.max(1, Math.abs(want[j]!)),
        `${what}: output ${j} differs by ${d}`,
      );
    }
  }
}

Deno.test("dead-work and memory keep the plan's results on odd nets (run before and after each)", async () => {
  for (const { name, spec } of ODD_NETS) {
    const g = convNet(spec, 31);
    const lowered = lowerToPlan(runGraphPasses(g, GRAPH_PASSES));
    await assertPlanMatches(lowered, g, `${name}: lowered`);
    const cropped = eliminateDeadWork(lowered);
    await assertPlanMatches(cropped, g, `${name}: after dead-work`);
    await assertPlanMatches(planMemory(cropped), g, `${name}: after memory`);
  }
});

Deno.test("the seed CNN lowers to three fused kernels doing 2,053,888 multiply-adds", () => {
  const { plan } = planGraph(randomModel("seed-cnn"));
  assert.deepEqual(plan.kernels.map((k) => k.nodes), [
    ["conv1", "conv1+b", "relu1", "pool1"],
    ["conv2", "conv2+b", "relu2", "pool2"],
    ["dense", "logits", "probs"],
  ]);
  const conv2 = plan.kernels[1]!;
  assert.ok(conv2.kind === "conv2d");
  assert.deepEqual([conv2.convW, conv2.convH, conv2.computeW, conv2.computeH], [11, 11, 10, 10]);
  assert.equal(plan.kernels.reduce((s, k) => s + kernelMacs(k), 0), 2_053_888);
  assert.ok(conv2.bias.kind === "channel", "bias2 collapsed to one value per channel");
  assert.deepEqual([conv2.output.w, conv2.output.h, conv2.output.cp], [5, 5, 64]);
});

Deno.test("dead-work crops a conv feeding an overlapping pool, and its buffer with it", () => {
  const g = convNet({
    w: 12,
    h: 12,
    convs: [{ k: [3, 3], c: 4, pool: { pool: "max", k: [3, 3], s: [2, 2] } }],
    classes: 3,
  });
  const before = lowerToPlan(runGraphPasses(g, GRAPH_PASSES));
  const after = eliminateDeadWork(before);
  const c0 = before.kernels[0]!, c1 = after.kernels[0]!;
  assert.ok(c0.kind === "conv2d" && c1.kind === "conv2d");
  // conv 10x10; pool 3x3/2 -> 4x4 reads columns 0..8: 9x9.
  assert.deepEqual([c0.output.w, c1.output.w, c1.output.h], [10, 9, 9]);
  assert.ok(after.buffers[c1.dst]!.bytes < before.buffers[c0.dst]!.bytes);
});

Deno.test("the memory plan never overlaps buffers that are live together and meets the bounds", () => {
  for (const layout of LAYOUTS) {
    const { plan } = planGraph(randomModel(layout));
    const life = lifetimes(plan);
    for (const a of life) {
      const A = plan.buffers[a.buffer]!;
      assert.equal(A.offset % 16, 0, `${A.name} aligned`);
      for (const b of life) {
        if (a.buffer >= b.buffer || a.last < b.first || b.last < a.first) continue;
        const B = plan.buffers[b.buffer]!;
        const disjoint = A.offset + A.bytes <= B.offset || B.offset + B.bytes <= A.offset;
        assert.ok(disjoint, `${layout}: ${A.name} and ${B.name} are live together and overlap`);
      }
    }
    const mem = plan.memory!;
    assert.ok(mem.lowerBoundBytes <= plan.arenaBytes && plan.arenaBytes <= mem.naiveBytes, layout);
    assert.ok(plan.arenaBytes < mem.naiveBytes, `${layout}: reuse saves something`);
  }
});

Deno.test("renderPlan() lists every kernel call with offsets, bytes and FLOPs, and the arena line", () => {
  const { plan } = planGraph(randomModel("ggml-cnn"));
  const text = renderPlan(plan);
  assert.equal(text.split("\n").filter((l) => /^\s+\d+: /.test(l)).length, plan.kernels.length);
  assert.match(text, /in @\d+\+\d+ {2}out @\d+\+\d+ {2}weights \d+ B {2}\d+ FLOPs/);
  assert.match(text, /arena \d+ bytes \(naive \d+, lower bound \d+\)/);
});
