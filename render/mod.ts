/**
 * Pictures of a model's graph at each compiler stage, made in-process: DOT from the project,
 * SVG from Graphviz (WASM), PNG from resvg (WASM) with a bundled TTF font.
 *
 * @example
 * ```ts
 * import { GraphBuilder } from "../compiler/ir/graph.ts";
 * import { renderGraph } from "./mod.ts";
 * const b = new GraphBuilder();
 * const x = b.input("images", [784, 1]);
 * const w = b.weight("fc.weight", [784, 10], "f32", new Float32Array(7840));
 * const g = b.build(x, b.softMax(b.mulMat(w, x), "probs"), { layout: "demo", arch: "mnist-fc", name: "demo" });
 * const svg = new TextDecoder().decode(await renderGraph(g, { stage: "source", format: "svg" }));
 * console.log(svg.includes("fc.weight")); // true
 * ```
 *
 * @module
 */
import type { Graph } from "../compiler/ir/graph.ts";
import {
  dotBody,
  type DotEdge,
  type DotNode,
  type RankDir,
  sourceDot,
  sourceParts,
} from "./dot.ts";
import { memoryStripSvg } from "./memory_strip.ts";
import {
  type CompiledStages,
  optimizedDot,
  optimizedParts,
  planDot,
  planParts,
  planStrip,
} from "./plan_dot.ts";
import { dotToSvg, sideBySide, svgToPng } from "./render.ts";
import { compileStages } from "./stages.ts";

export { compileStages } from "./stages.ts";
export type { CompiledStages } from "./plan_dot.ts";
export type { RankDir } from "./dot.ts";

/** Which picture: the frontend's graph, after the passes, the plan, or all three. */
export type GraphStage = "source" | "optimized" | "plan" | "all";
/** Output format. */
export type GraphFormat = "dot" | "svg" | "png";

/** The stages, in pipeline order. */
export const GRAPH_STAGES: readonly GraphStage[] = ["source", "optimized", "plan", "all"];

/** Options of {@link renderGraph}. */
export interface RenderGraphOptions {
  /** Default `optimized`. */
  readonly stage?: GraphStage;
  /** Default `svg`. */
  readonly format?: GraphFormat;
  /** Layout direction, default `TB`. */
  readonly rankdir?: RankDir;
  /** PNG zoom over 1 px per 0.75 pt (default 1). */
  readonly scale?: number;
}

/** DOT of all three stages as clusters of one graph (ids prefixed per stage). */
function allDot(stages: CompiledStages, rankdir: RankDir): string {
  const parts: [
    string,
    { nodes: DotNode[]; edges: DotEdge[]; title: string; subtitle?: string },
  ][] = [
    ["s_", sourceParts(stages.source)],
    ["o_", optimizedParts(stages)],
    ["p_", planParts(stages.plan)],
  ];
  const lines = ["digraph G {", "  graph [newrank=true];"];
  parts.forEach(([prefix, p], i) => {
    lines.push(`  subgraph cluster_${i} {`);
    const opts = p.subtitle ? { rankdir, subtitle: p.subtitle } : { rankdir };
    for (const l of dotBody(p.title, p.nodes, p.edges, opts, prefix)) lines.push("  " + l);
    lines.push("  }");
  });
  lines.push("}", "");
  return lines.join("\n");
}

/**
 * DOT text of one stage. For `plan` the memory strip is not part of the DOT (it is drawn as SVG
 * next to the graph in SVG/PNG output); `all` puts the three stages in clusters of one graph.
 *
 * @param graph the graph as the frontend built it
 * @param stage which stage
 * @param rankdir layout direction
 * @returns DOT text
 */
export function stageDot(graph: Graph, stage: GraphStage, rankdir: RankDir = "TB"): string {
  if (stage === "source") return sourceDot(graph, { rankdir });
  const stages = compileStages(graph);
  if (stage === "optimized") return optimizedDot(stages, { rankdir });
  if (stage === "plan") {
    return planDot(stages.plan, { rankdir }) +
      "// The memory strip (arena offset vs step) is drawn in SVG/PNG output only.\n";
  }
  return allDot(stages, rankdir);
}

/**
 * SVG of one stage; `plan` places the memory strip beside the plan graph, `all` places the
 * three stages side by side.
 *
 * @param graph the graph as the frontend built it
 * @param stage which stage
 * @param rankdir layout direction
 * @returns SVG text
 */
export async function stageSvg(
  graph: Graph,
  stage: GraphStage,
  rankdir: RankDir = "TB",
): Promise<string> {
  if (stage === "source") return await dotToSvg(sourceDot(graph, { rankdir }));
  const stages = compileStages(graph);
  const planSvg = async () => {
    const strip = planStrip(stages.plan);
    const g = await dotToSvg(planDot(stages.plan, { rankdir }));
    return strip ? sideBySide([g, memoryStripSvg(strip)]) : g;
  };
  if (stage === "optimized") return await dotToSvg(optimizedDot(stages, { rankdir }));
  if (stage === "plan") return await planSvg();
  return sideBySide([
    await dotToSvg(sourceDot(graph, { rankdir })),
    await dotToSvg(optimizedDot(stages, { rankdir })),
    await planSvg(),
  ], 40);
}

/**
 * Draws `graph` at a compiler stage as DOT, SVG or PNG bytes.
 *
 * @param graph the graph as the frontend built it (e.g. `loadModel(...).graph`)
 * @param opts stage (default `optimized`), format (default `svg`), rankdir, PNG scale
 * @returns the file bytes (UTF-8 text for DOT and SVG)
 * @throws CompileError for stages past `source` when the compiler cannot lower the graph
 */
export async function renderGraph(
  graph: Graph,
  opts: RenderGraphOptions = {},
): Promise<Uint8Array> {
  const stage = opts.stage ?? "optimized", format = opts.format ?? "svg";
  const rankdir = opts.rankdir ?? "TB";
  if (format === "dot") return new TextEncoder().encode(stageDot(graph, stage, rankdir));
  const svg = await stageSvg(graph, stage, rankdir);
  if (format === "svg") return new TextEncoder().encode(svg);
  return await svgToPng(svg, opts.scale === undefined ? {} : { scale: opts.scale });
}
