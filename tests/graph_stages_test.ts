/**
 * Tests of the optimized and plan pictures, on graphs the real frontends build for all four
 * model layouts and the compiler's real pipeline, and of the whole render for every stage.
 */
import assert from "node:assert/strict";
import type { Graph } from "../compiler/ir/graph.ts";
import { loadModel } from "../compiler/frontend/mod.ts";
import { compileStages, renderGraph } from "../render/mod.ts";
import { kernelTitle, optimizedDot, planDot, planStrip } from "../render/plan_dot.ts";
import { memoryStripSvg } from "../render/memory_strip.ts";
import { dotText } from "../render/escape.ts";
import { dotToSvg, svgToRgba } from "../render/render.ts";
import { randomModels } from "../testkit/models.ts";

const LAYOUTS = ["seed-cnn", "seed-fc", "ggml-fc", "ggml-cnn"] as const;
const MODELS = randomModels(11);

function layoutGraph(layout: (typeof LAYOUTS)[number]): Graph {
  return loadModel(MODELS[layout], `${layout}.gguf`).graph;
}

/** Statements of a DOT text: node id -> label, and edges with their labels. */
function parseDot(dot: string) {
  const nodes = new Map<string, string>();
  const edges: { from: string; to: string; label?: string }[] = [];
  for (const line of dot.split("\n")) {
    const e = line.match(/^\s*(\w+) -> (\w+)(?: \[label="((?:[^"\\]|\\.)*)"\])?/);
    if (e) edges.push({ from: e[1]!, to: e[2]!, ...(e[3] ? { label: e[3] } : {}) });
    const m = line.match(/^\s*(\w+) \[label="((?:[^"\\]|\\.)*)"/);
    if (m) nodes.set(m[1]!, m[2]!);
  }
  return { nodes, edges };
}

for (const layout of LAYOUTS) {
  Deno.test(`optimizedDot() draws each fused kernel as one node listing its ops (${layout})`, () => {
    const stages = compileStages(layoutGraph(layout));
    const { optimized: g, plan } = stages;
    const { nodes, edges } = parseDot(optimizedDot(stages));
    const absorbed = new Set(plan.kernels.flatMap((k) => k.nodes));
    const loose = g.nodes.filter((n) => !absorbed.has(n.name));
    assert.equal(nodes.size, plan.kernels.length + loose.length);
    plan.kernels.forEach((k, i) => {
      const label = nodes.get(`k${i}`)!;
      assert.ok(label.includes(dotText(kernelTitle(k), 80)), label);
      for (const name of k.nodes) {
        assert.ok(label.includes(dotText(name, 32)), `${name} in ${label}`);
      }
    });
    // Every edge carries a layout and a byte count.
    assert.ok(edges.length >= plan.kernels.length);
    for (const e of edges) assert.match(e.label ?? "", /\d (B|KiB|MiB)\b/, `${e.from}->${e.to}`);
    // The data flow between kernels follows the plan's buffers.
    for (let i = 1; i < plan.kernels.length; i++) {
      const k = plan.kernels[i]!;
      const producer = plan.kernels.findIndex((p) => p.dst === k.src);
      if (producer < 0) continue;
      const reached = new Set([`k${producer}`]);
      for (let r = 0; r < 3; r++) {
        for (const e of edges) if (reached.has(e.from)) reached.add(e.to);
      }
      assert.ok(reached.has(`k${i}`), `kernel ${producer} feeds kernel ${i}`);
    }
  });

  Deno.test(`planDot() shows each buffer's arena offset and size (${layout})`, () => {
    const { plan } = compileStages(layoutGraph(layout));
    const { nodes, edges } = parseDot(planDot(plan));
    plan.kernels.forEach((k, i) => {
      assert.ok(nodes.get(`k${i}`)!.includes(`step ${i}`));
      assert.ok(edges.some((e) => e.from === `b${k.src}` && e.to === `k${i}`));
      assert.ok(edges.some((e) => e.from === `k${i}` && e.to === `b${k.dst}`));
    });
    // Every buffer the memory pass placed is drawn, with its offset and size.
    for (const l of plan.memory!.lifetimes) {
      const b = plan.buffers[l.buffer]!;
      const label = nodes.get(`b${b.id}`);
      assert.ok(label?.includes(`@${b.offset} +${b.bytes} B`), `b${b.id}: ${label}`);
    }
  });

  Deno.test(`The memory strip draws one box per buffer lifetime (${layout})`, () => {
    const { plan } = compileStages(layoutGraph(layout));
    const strip = planStrip(plan)!;
    assert.equal(strip.buffers.length, plan.memory!.lifetimes.length);
    const svg = memoryStripSvg(strip);
    const titles = [...svg.matchAll(/<title>([^<]*)<\/title>/g)].map((m) => m[1]);
    for (const b of strip.buffers) {
      assert.ok(titles.some((t) => t!.startsWith(`${b.tag} `) && t!.endsWith(`at ${b.offset}`)));
    }
  });

  Deno.test(`renderGraph() draws every stage as SVG and a non-blank PNG (${layout})`, async () => {
    const graph = layoutGraph(layout);
    for (const stage of ["source", "optimized", "plan"] as const) {
      const svg = new TextDecoder().decode(await renderGraph(graph, { stage, format: "svg" }));
      assert.ok(svg.includes("<svg") && svg.includes('class="node"'), stage);
    }
    const png = await renderGraph(graph, { stage: "all", format: "png", scale: 0.5 });
    assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]);
    const dot = new TextDecoder().decode(await renderGraph(graph, { stage: "all", format: "dot" }));
    assert.equal(dot.match(/subgraph cluster_/g)?.length, 3);
    const svg = await dotToSvg(dot);
    assert.equal(svg.match(/class="cluster"/g)?.length, 3);
  });
}

Deno.test("optimizedDot() marks constants a pass computed as folded", () => {
  // ggml-fc divides the input by 255; fold-scale moves that into fc1.weight.
  const stages = compileStages(layoutGraph("ggml-fc"));
  const dot = optimizedDot(stages);
  assert.match(dot, /folded constant/);
  assert.match(dot, /fillcolor="#ffd0dc"/);
});

Deno.test("The memory strip's picture has boxes, not just a frame", async () => {
  const { plan } = compileStages(layoutGraph("ggml-cnn"));
  const img = await svgToRgba(memoryStripSvg(planStrip(plan)!));
  let coloured = 0;
  for (let i = 0; i < img.pixels.length; i += 4) {
    const [r, g, b] = [img.pixels[i]!, img.pixels[i + 1]!, img.pixels[i + 2]!];
    if (Math.max(r, g, b) - Math.min(r, g, b) > 40) coloured++;
  }
  // The boxes are pastel fills; at least a tenth of the picture is one.
  assert.ok(coloured > img.width * img.height / 10, `${coloured} coloured pixels`);
});
