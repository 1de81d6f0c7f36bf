/**
 * Generated kernels (WASM with and without relaxed SIMD, TypeScript) against the reference
 * interpreter on odd shapes: padding 0/1/2, stride 2, pools with padding, overlapping pools,
 * avg pools, non-square images and kernels, channel counts that are not multiples of 4, full
 * biases. The arena is filled with NaN before every run, so a read of memory no kernel wrote
 * shows up as NaN in the output.
 *
 * Winograd F(2x2,3x3) convs are checked here too (3x3 nets with >= 8 input channels), next to
 * the direct convolution of the same nets.
 *
 * Tolerance: 1e-5 * max(1, |reference|). The kernels sum the same products as the interpreter
 * in another order (and with FMA in the relaxed variant): a few ulps on values of size <= ~10
 * after hundreds of terms; an indexing bug gives errors of O(0.1).
 */
import assert from "node:assert/strict";
import { compileGraph } from "../compiler/mod.ts";
import { loadEmittedSource } from "../compiler/emit/load.ts";
import { CompileError } from "../compiler/plan/plan.ts";
import { winogradEligible } from "../compiler/codegen/conv2d_winograd.ts";
import { GraphBuilder } from "../compiler/ir/graph.ts";
import { convNet, ODD_NETS, randomImage, reference, rng } from "../testkit/random_graphs.ts";

const VARIANTS = [
  { label: "wasm relaxed", target: "wasm", relaxed: true, winograd: true },
  { label: "wasm simd128", target: "wasm", relaxed: false, winograd: true },
  { label: "wasm direct conv (no Winograd)", target: "wasm", relaxed: true, winograd: false },
  { label: "ts", target: "ts", relaxed: false, winograd: false },
] as const;

for (const { name, spec } of ODD_NETS) {
  Deno.test(`generated kernels match the interpreter on a net with ${name}`, async () => {
    const g = convNet(spec, 11);
    for (const v of VARIANTS) {
      const { source } = compileGraph(g, {
        target: v.target,
        relaxed: v.relaxed,
        conv: "f32", // the f32 kernels; int8 convs: tests/conv_int8_test.ts
        poisonArena: true,
      });
      const m = await loadEmittedSource(source);
      for (let i = 0; i < 3; i++) {
        const x = randomImage(rng(7 + i), spec.w * spec.h);
        const got = m.predict(x).probabilities, want = reference(g, x);
        for (let j = 0; j < want.length; j++) {
          const d = Math.abs(got[j]! - want[j]!);
          assert.ok(
            d <= 1e-5 * Math.max(1, Math.abs(want[j]!)),
            `${v.label}: output ${j}: got ${got[j]}, interpreter ${want[j]}`,
          );
        }
      }
    }
  });
}

Deno.test("the odd nets exercise every kernel path: staging, clipped windows, standalone pool, full bias", () => {
  const plans = ODD_NETS.map(({ spec }) => compileGraph(convNet(spec), { target: "ts" }).plan);
  const convs = plans.flatMap((p) => p.kernels).filter((k) => k.kind === "conv2d");
  assert.ok(convs.some((k) => k.kind === "conv2d" && k.staging >= 0), "a padded conv");
  assert.ok(
    convs.some((k) => k.kind === "conv2d" && k.pool && k.pool.p0 > 0),
    "a pool with padding",
  );
  assert.ok(convs.some((k) => k.kind === "conv2d" && k.bias.kind === "full"), "a full bias");
  assert.ok(convs.some((k) => k.kind === "conv2d" && !k.pool), "a conv without pool");
  assert.ok(plans.some((p) => p.kernels.some((k) => k.kind === "pool2d")), "a standalone pool");
  const wino = convs.filter((k) => k.kind === "conv2d" && winogradEligible(k));
  assert.ok(wino.some((k) => k.kind === "conv2d" && k.pool?.pool === "avg"), "Winograd + avg pool");
  assert.ok(
    wino.some((k) => k.kind === "conv2d" && k.bias.kind === "none" && !k.relu),
    "bare Winograd",
  );
  assert.ok(
    wino.some((k) => (k.output.w * k.output.h) % 4 !== 0),
    "a tile count not a multiple of 4",
  );
});

Deno.test("compileGraph() names the node it cannot compile", () => {
  const b = new GraphBuilder();
  const x = b.input("pixels", [16]);
  const y = b.scale(b.relu(x, "lonely relu"), 2, "lonely scale");
  const g = b.build(x, y, { layout: "t", arch: "t", name: "t" });
  assert.throws(
    () => compileGraph(g),
    (e) => e instanceof CompileError && /lonely relu/.test(e.message),
  );
});
