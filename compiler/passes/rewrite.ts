/**
 * The one tool every graph pass uses: copy a {@link Graph} node by node through a
 * {@link GraphBuilder}, letting the pass replace any node. Copying is demand-driven from the
 * output, so nodes nothing consumes are dropped on the way (dead-node elimination for free),
 * and every replacement goes through the builder's shape checks.
 *
 * @module
 */
import { type Graph, GraphBuilder, type Node, type Op } from "../ir/graph.ts";

/** What a pass's `replace` callback gets: the old graph and ways to build the new one. */
export interface Rewriter {
  /** The graph being rewritten. */
  readonly old: Graph;
  /** Builder of the new graph; ids it returns are new ids. */
  readonly b: GraphBuilder;
  /** The new id of old node `id` (copied, or replaced, on first request). */
  id(oldId: number): number;
  /** Old nodes that consume old node `id`. */
  consumers(oldId: number): readonly Node[];
}

/**
 * Rebuilds `graph`, asking `replace` first for every node reached from the output.
 *
 * @param graph the input graph (unchanged)
 * @param replace returns a new id to use instead of copying `node`, or `undefined` to copy it
 * @returns the new graph, with only the nodes the output depends on
 * @example
 * ```ts
 * import { GraphBuilder } from "../ir/graph.ts";
 * import { rewriteGraph } from "./rewrite.ts";
 * const b = new GraphBuilder();
 * const x = b.input("x", [4]);
 * b.relu(x, "unused");
 * const g = b.build(x, b.softMax(x), { layout: "demo", arch: "demo", name: "demo" });
 * console.log(rewriteGraph(g, () => undefined).nodes.length); // 2
 * ```
 */
export function rewriteGraph(
  graph: Graph,
  replace: (node: Node, r: Rewriter) => number | undefined,
): Graph {
  const b = new GraphBuilder();
  const newId = new Map<number, number>();
  const users: Node[][] = graph.nodes.map(() => []);
  for (const n of graph.nodes) for (const s of n.src) users[s]!.push(n);
  const r: Rewriter = {
    old: graph,
    b,
    id(oldId: number): number {
      const known = newId.get(oldId);
      if (known !== undefined) return known;
      const node = graph.nodes[oldId]!;
      const id = replace(node, r) ?? copyNode(b, node, node.src.map((s) => r.id(s)));
      newId.set(oldId, id);
      return id;
    },
    consumers: (oldId) => users[oldId]!,
  };
  const input = r.id(graph.input);
  const output = r.id(graph.output);
  return b.build(input, output, graph.meta);
}

/**
 * Adds a node with `node`'s op and name to `b`, reading from the new ids `src`.
 *
 * @param b the builder of the new graph
 * @param node the node to copy
 * @param src new ids of its sources
 * @returns the new node's id
 */
export function copyNode(b: GraphBuilder, node: Node, src: readonly number[]): number {
  const op: Op = node.op;
  const [a = -1, c = -1] = src;
  switch (op.kind) {
    case "input":
      return b.input(node.name, node.ne);
    case "weight":
      return b.weight(node.name, node.ne, op.type, op.values);
    case "mul_mat":
      return b.mulMat(a, c, node.name);
    case "add":
      return b.add_(a, c, node.name);
    case "mul":
      return b.mul(a, c, node.name);
    case "gelu":
      return b.gelu(a, node.name);
    case "norm":
      return b.norm(a, op.eps, node.name);
    case "one_hot":
      return b.oneHot(a, op.depth, node.name);
    case "get_rows":
      return b.getRows(a, c, node.name);
    case "pool_1d":
      return b.pool1d(a, op, node.name);
    case "relu":
      return b.relu(a, node.name);
    case "soft_max":
      return b.softMax(a, node.name);
    case "scale":
      return b.scale(a, op.factor, node.name);
    case "conv_2d":
      return b.conv2d(a, c, op, node.name);
    case "pool_2d":
      return b.pool2d(a, op, node.name);
    case "permute":
      return b.permute(a, op.axes, node.name);
    case "cont":
      return b.cont(a, node.name);
    case "reshape":
      return b.reshape(a, node.ne, node.name);
  }
}
