/**
 * What a graph pass is: a named function graph -> graph that keeps the interpreter's results
 * (up to float rounding), plus a text dump of a graph so every stage can be printed.
 *
 * @module
 */
import { formatNe, type Graph, isTranspose, type Node } from "../ir/graph.ts";

/** One graph-to-graph optimisation. */
export interface GraphPass {
  /** Short kebab-case name, listed in the emitted module's `info.passes`. */
  readonly name: string;
  /** One line: what the pass does. */
  readonly description: string;
  /** Returns the optimised graph; never mutates its input. */
  run(graph: Graph): Graph;
}

/**
 * Runs `passes` in order.
 *
 * @param graph the input graph
 * @param passes the passes
 * @param onPass called after each pass with its name and result (for `--print-graphs`, tests)
 * @returns the final graph
 */
export function runGraphPasses(
  graph: Graph,
  passes: readonly GraphPass[],
  onPass?: (name: string, g: Graph) => void,
): Graph {
  let g = graph;
  for (const p of passes) {
    g = p.run(g);
    onPass?.(p.name, g);
  }
  return g;
}

function describeOp(node: Node): string {
  const op = node.op;
  switch (op.kind) {
    case "weight":
      return `weight ${op.type}`;
    case "scale":
      return `scale ${op.factor}`;
    case "conv_2d":
      return `conv_2d s${op.s0},${op.s1} p${op.p0},${op.p1} d${op.d0},${op.d1}`;
    case "pool_2d":
      return `pool_2d ${op.pool} k${op.k0},${op.k1} s${op.s0},${op.s1} p${op.p0},${op.p1}`;
    case "pool_1d":
      return `pool_1d ${op.pool} k${op.k0} s${op.s0} p${op.p0}`;
    case "permute":
      return isTranspose(op.axes) ? "transpose" : `permute ${op.axes.join(",")}`;
    case "norm":
      return `norm eps ${op.eps}`;
    case "one_hot":
      return `one_hot depth ${op.depth}`;
    default:
      return op.kind;
  }
}

/**
 * A graph as text, one node per line: `#id name | [ne] | op <- sources` (ggml's record style).
 *
 * @param graph the graph
 * @returns the listing
 */
export function formatGraph(graph: Graph): string {
  return graph.nodes.map((n) => {
    const src = n.src.length ? ` <- ${n.src.map((s) => `#${s}`).join(", ")}` : "";
    const tag = n.id === graph.input ? " (input)" : n.id === graph.output ? " (output)" : "";
    return `#${n.id} ${JSON.stringify(n.name)}${tag} | ${formatNe(n.ne)} | ${describeOp(n)}${src}`;
  }).join("\n");
}
