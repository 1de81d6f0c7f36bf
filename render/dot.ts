/**
 * DOT text for the graph at each compiler stage. `source` draws the IR as the frontend built it,
 * styled after ggml's `ggml_graph_dump_dot`: one record per node (name, op, shape in ggml `ne`
 * order, type), weights and the input as coloured leaves, the output highlighted.
 *
 * Every string that may come from a model file goes through {@link dotText}; node ids are
 * generated (`n0`, `n1`, ...), never taken from names.
 *
 * @module
 */
import {
  formatNe,
  type Graph,
  isTranspose,
  type Ne,
  type Node,
  numel,
  type Op,
} from "../compiler/ir/graph.ts";
import { dotText } from "./escape.ts";

/** Direction of the layout: top to bottom or left to right. */
export type RankDir = "TB" | "LR";

/** Options common to every stage's DOT. */
export interface DotOptions {
  /** Layout direction (default `TB`). */
  readonly rankdir?: RankDir;
  /** Extra line under the title, e.g. the pass list. */
  readonly subtitle?: string;
}

/** The font Graphviz measures labels with; the PNG renderer loads the same TTF. */
export const FONT_FAMILY = "DejaVu Sans";

/** Fill colours, after ggml's dump: parameters yellow, constants pink. */
export const COLORS = {
  weight: "#fff1a8",
  input: "#cfe3ff",
  output: "#bff0b8",
  op: "#ffffff",
  folded: "#ffd0dc",
  fused: "#e6dcff",
  dead: "#eeeeee",
} as const;

/** One record node: its fields top to bottom (already escaped) and its style. */
export interface DotNode {
  readonly id: string;
  readonly fields: readonly string[];
  readonly fill: string;
  /** Thicker border (the output). */
  readonly bold?: boolean;
  /** Dashed border (dead or folded). */
  readonly dashed?: boolean;
  /** Text shown on hover in the SVG (already escaped). */
  readonly tooltip?: string;
}

/** One edge; `label` already escaped. */
export interface DotEdge {
  readonly from: string;
  readonly to: string;
  readonly label?: string;
}

/**
 * Writes one `digraph` of record nodes with the project's fonts and styles.
 *
 * @param title first line of the graph label (escaped here)
 * @param nodes the record nodes
 * @param edges the edges
 * @param opts layout options
 * @returns DOT text
 */
export function writeDot(
  title: string,
  nodes: readonly DotNode[],
  edges: readonly DotEdge[],
  opts: DotOptions = {},
): string {
  return [
    "digraph G {",
    ...dotBody(title, nodes, edges, opts, ""),
    "}",
    "",
  ].join("\n");
}

/** The statements of a graph (or cluster) body; `prefix` keeps ids unique across clusters. */
export function dotBody(
  title: string,
  nodes: readonly DotNode[],
  edges: readonly DotEdge[],
  opts: DotOptions,
  prefix: string,
): string[] {
  const rankdir = opts.rankdir ?? "TB";
  const font = `fontname="${FONT_FAMILY}"`;
  const label = dotText(title, 120) + (opts.subtitle ? `\\n${dotText(opts.subtitle, 200)}` : "");
  const lines = [
    `  graph [${font}, fontsize=13, rankdir=${rankdir}, labelloc=t, label="${label}", ` +
    `nodesep=0.25, ranksep=0.35, bgcolor="white"];`,
    `  node [${font}, fontsize=11, shape=record, style="filled", color="#555555", ` +
    `margin="0.08,0.03"];`,
    `  edge [${font}, fontsize=9, color="#444444", fontcolor="#333333", arrowsize=0.7];`,
  ];
  for (const n of nodes) {
    // Record fields stack vertically: braces flip the direction, and rankdir LR flips it too.
    const body = n.fields.join("|");
    const fields = rankdir === "TB" ? `{${body}}` : body;
    const attrs = [`label="${fields}"`, `fillcolor="${n.fill}"`];
    if (n.bold) attrs.push("penwidth=2.2", `color="#1a7f1a"`);
    if (n.dashed) attrs.push(`style="filled,dashed"`);
    if (n.tooltip !== undefined) attrs.push(`tooltip="${n.tooltip}"`);
    lines.push(`  ${prefix}${n.id} [${attrs.join(", ")}];`);
  }
  for (const e of edges) {
    const attrs = e.label !== undefined ? ` [label=" ${e.label} "]` : "";
    lines.push(`  ${prefix}${e.from} -> ${prefix}${e.to}${attrs};`);
  }
  return lines;
}

/** Short description of an op with its parameters, e.g. `conv_2d s1,1 p1,1 d1,1`. */
export function opLabel(op: Op): string {
  switch (op.kind) {
    case "conv_2d":
      return `conv_2d s${op.s0},${op.s1} p${op.p0},${op.p1} d${op.d0},${op.d1}`;
    case "pool_2d":
      return `pool_2d ${op.pool} k${op.k0},${op.k1} s${op.s0},${op.s1} p${op.p0},${op.p1}`;
    case "scale":
      return `scale ×${Number(op.factor.toPrecision(6))}`;
    case "pool_1d":
      return `pool_1d ${op.pool} k${op.k0} s${op.s0} p${op.p0}`;
    case "permute":
      return isTranspose(op.axes) ? "transpose" : `permute [${op.axes.join(",")}]`;
    case "norm":
      return `norm ε ${Number(op.eps.toPrecision(6))}`;
    case "one_hot":
      return `one_hot depth ${op.depth}`;
    default:
      return op.kind;
  }
}

/** Bytes per element of a weight type as stored (block types: bytes per block / 32). */
const TYPE_BYTES: Record<string, number> = {
  f32: 4,
  f16: 2,
  bf16: 2,
  q8_0: 34 / 32,
  q4_0: 18 / 32,
  q4_1: 20 / 32,
  q5_0: 22 / 32,
  q5_1: 24 / 32,
};

/** Human-readable byte count: `784 B`, `3.1 KiB`, `1.50 MiB`. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(n < 10 * 1024 ? 2 : 1)} KiB`;
  return `${(n / (1024 * 1024)).toFixed(2)} MiB`;
}

/** `ne [a,b]` in ggml order with the element type. */
export function shapeField(ne: Ne, type: string): string {
  return dotText(`${formatNe(ne)} ${type}`);
}

/** The source stage's record for one IR node. */
function sourceNode(node: Node, graph: Graph, live: ReadonlySet<number>): DotNode {
  const op = node.op;
  const isOut = node.id === graph.output;
  const type = op.kind === "weight" ? op.type : "f32";
  const bytes = op.kind === "weight"
    ? Math.ceil(numel(node.ne) * (TYPE_BYTES[op.type] ?? 4))
    : numel(node.ne) * 4;
  const fields = [
    dotText(node.name),
    dotText(isOut ? `${opLabel(op)} → output` : opLabel(op)),
    shapeField(node.ne, `${type} · ${formatBytes(bytes)}`),
  ];
  let fill: string = COLORS.op;
  if (op.kind === "weight") fill = COLORS.weight;
  else if (op.kind === "input") fill = COLORS.input;
  if (isOut) fill = COLORS.output;
  if (!live.has(node.id)) fill = COLORS.dead;
  return {
    id: `n${node.id}`,
    fields,
    fill,
    bold: isOut,
    dashed: !live.has(node.id),
    tooltip: dotText(`#${node.id} ${node.name}`, 200),
  };
}

/** Ids of the nodes the output depends on. */
function liveSet(graph: Graph): Set<number> {
  const live = new Set<number>([graph.output]);
  for (let i = graph.nodes.length - 1; i >= 0; i--) {
    if (live.has(i)) { for (const s of graph.nodes[i]!.src) live.add(s); }
  }
  return live;
}

/**
 * DOT text of the IR as the frontend built it: one record per node (name, op, shape in ggml
 * `ne` order, type and size), weights yellow, the input blue, the output green with a bold
 * border, nodes the output does not use grey and dashed; one edge per source operand.
 *
 * @param graph the IR
 * @param opts layout options
 * @returns DOT text
 * @example
 * ```ts
 * import { GraphBuilder } from "../compiler/ir/graph.ts";
 * import { sourceDot } from "./dot.ts";
 * const b = new GraphBuilder();
 * const x = b.input("images", [784, 1]);
 * const w = b.weight("fc.weight", [784, 10], "f32", new Float32Array(7840));
 * const g = b.build(x, b.softMax(b.mulMat(w, x), "probs"), { layout: "demo", arch: "mnist-fc", name: "demo" });
 * console.log(sourceDot(g).includes("fc.weight")); // true
 * ```
 */
export function sourceDot(graph: Graph, opts: DotOptions = {}): string {
  const { nodes, edges, title } = sourceParts(graph);
  return writeDot(title, nodes, edges, opts);
}

/** The nodes, edges and title of the source stage (for {@link sourceDot} and the `all` view). */
export function sourceParts(graph: Graph): {
  nodes: DotNode[];
  edges: DotEdge[];
  title: string;
} {
  const live = liveSet(graph);
  const nodes = graph.nodes.map((n) => sourceNode(n, graph, live));
  const edges: DotEdge[] = [];
  for (const n of graph.nodes) {
    for (const s of n.src) edges.push({ from: `n${s}`, to: `n${n.id}` });
  }
  const m = graph.meta;
  const title = `${m.name} (${m.layout}) · source graph · ${graph.nodes.length} nodes`;
  return { nodes, edges, title };
}
