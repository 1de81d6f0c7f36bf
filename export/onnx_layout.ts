/**
 * Shape bookkeeping shared by the ONNX exporter and the TF.js peer: where the batch dim of an
 * activation is, the ONNX/TF.js shape of an activation or a constant (ggml `ne` reversed), and
 * the constant folding that makes a ggml bias broadcast the ONNX way.
 *
 * An activation has one batch dim, at ggml dim `batch` (1 for `[K, N]`, 3 for `[W, H, C, N]`);
 * the ggml dims above it are 1. In ONNX order its shape is `[N, ne[batch-1], .., ne[0]]`.
 *
 * @module
 */
import { formatNe, type Graph, GraphError, type Ne, type Node } from "../compiler/ir/graph.ts";

/** A ggml shape with the position of its batch dim. */
export interface BatchedShape {
  readonly ne: Ne;
  readonly batch: number;
}

/** How often each live node is used as a source by live nodes. */
export function countUses(graph: Graph, live: readonly number[]): Uint32Array {
  const uses = new Uint32Array(graph.nodes.length);
  for (const id of live) for (const s of graph.nodes[id]!.src) uses[s]!++;
  uses[graph.output]!++;
  return uses;
}

export interface Fusion {
  readonly add: number;
  readonly bias: { ne: Ne; values: Float32Array };
}

/**
 * mul_mat / conv_2d nodes whose only use is an add of a per-output-channel constant: these
 * become Gemm's C or Conv's B instead of a separate Add.
 */
export function planFusions(
  graph: Graph,
  live: readonly number[],
  uses: Uint32Array,
): Map<number, Fusion> {
  const fused = new Map<number, Fusion>();
  for (const id of live) {
    const node = graph.nodes[id]!;
    if (node.op.kind !== "add") continue;
    const [p, w] = node.src as [number, number];
    const producer = graph.nodes[p]!, weight = graph.nodes[w]!;
    if (uses[p] !== 1 || p === graph.output || weight.op.kind !== "weight") continue;
    const bias = collapseConstantDims({ ne: weight.ne, values: weight.op.values });
    if (producer.op.kind === "mul_mat") {
      const a = graph.nodes[producer.src[0]!]!, b = graph.nodes[producer.src[1]!]!;
      const flat = a.op.kind === "weight" && a.ne[2] === 1 && a.ne[3] === 1 &&
        b.ne[2] === 1 && b.ne[3] === 1;
      const perRow = bias.ne[1] === 1 && bias.ne[2] === 1 && bias.ne[3] === 1;
      if (flat && perRow) fused.set(p, { add: id, bias });
    } else if (producer.op.kind === "conv_2d") {
      const cout = producer.ne[2];
      if (
        bias.ne[0] === 1 && bias.ne[1] === 1 && bias.ne[3] === 1 &&
        (bias.ne[2] === cout || bias.ne[2] === 1)
      ) {
        const values = bias.ne[2] === cout
          ? bias.values
          : new Float32Array(cout).fill(bias.values[0]!);
        fused.set(p, { add: id, bias: { ne: [1, 1, cout, 1], values } });
      }
    }
  }
  return fused;
}

/**
 * The ggml dim of the input that is the batch: 3 for images (`[W,H,C,N]`, fed to a conv or a
 * pool), 1 for flat `[K, N]` input.
 */
export function inputBatchDim(graph: Graph): number {
  const input = graph.nodes[graph.input]!;
  // Follow elementwise uses to the first op that fixes the layout.
  let frontier = [graph.input];
  for (let step = 0; step < graph.nodes.length && frontier.length > 0; step++) {
    const next: number[] = [];
    for (const n of graph.nodes) {
      if (!n.src.some((s) => frontier.includes(s))) continue;
      const k = n.op.kind;
      if (k === "conv_2d" || k === "pool_2d") return 3;
      if (k === "mul_mat") return 1;
      if (k === "scale" || k === "relu" || k === "add" || k === "cont") next.push(n.id);
    }
    frontier = next;
  }
  return input.ne[2] === 1 && input.ne[3] === 1 ? 1 : 3;
}

/** The batch dim of a reshape's result: the lowest dim that keeps each sample's elements together. */
export function reshapeBatchDim(x: BatchedShape, node: Node): number {
  let perSample = 1;
  for (let i = 0; i < x.batch; i++) perSample *= x.ne[i]!;
  const batchSize = x.ne[x.batch]!;
  let prefix = 1;
  for (let j = 0; j < 4; j++) {
    if (
      prefix === perSample && node.ne[j] === batchSize && node.ne.slice(j + 1).every((d) => d === 1)
    ) {
      return j;
    }
    prefix *= node.ne[j]!;
  }
  throw new GraphError(
    node.name,
    `reshape ${formatNe(x.ne)} to ${
      formatNe(node.ne)
    } mixes samples of the batch (batch dim ne[${x.batch}])`,
  );
}

/** ONNX shape of an activation with ggml shape `ne` and batch dim `batch`: `[-1, ne[batch-1], .., ne[0]]`. */
export function actShape(ne: Ne, batch: number): number[] {
  const dims = [-1];
  for (let i = batch - 1; i >= 0; i--) dims.push(ne[i]!);
  return dims;
}

/** ONNX dims of a constant: ggml `ne` reversed, leading 1s dropped (at least one dim). */
export function onnxConstDims(ne: Ne): number[] {
  let r = 4;
  while (r > 1 && ne[r - 1] === 1) r--;
  return ne.slice(0, r).reverse();
}

/** Drops dims along which all values are equal (a pre-broadcast bias becomes per channel). */
export function collapseConstantDims(
  c: { ne: Ne; values: Float32Array },
): { ne: Ne; values: Float32Array } {
  const ne = [...c.ne] as [number, number, number, number];
  let values = c.values;
  for (let axis = 0; axis < 4; axis++) {
    const n = ne[axis]!;
    if (n === 1) continue;
    const inner = ne.slice(0, axis).reduce((p, d) => p * d, 1);
    const outer = values.length / (inner * n);
    let same = true;
    for (let o = 0; o < outer && same; o++) {
      for (let j = 1; j < n && same; j++) {
        for (let i = 0; i < inner; i++) {
          if (values[(o * n + j) * inner + i] !== values[o * n * inner + i]) {
            same = false;
            break;
          }
        }
      }
    }
    if (!same) continue;
    const next = new Float32Array(inner * outer);
    for (let o = 0; o < outer; o++) {
      next.set(values.subarray(o * n * inner, o * n * inner + inner), o * inner);
    }
    values = next;
    ne[axis] = 1;
  }
  return { ne: ne as Ne, values };
}

/**
 * Makes a constant broadcast under ONNX rules the way ggml_add repeats it: a dim that divides
 * the activation's dim without being 1 or equal is tiled.
 */
export function broadcastConst(
  c: { ne: Ne; values: Float32Array },
  a: BatchedShape,
  node: Node,
): { ne: Ne; values: Float32Array } {
  if (c.ne[a.batch] !== 1) {
    throw new GraphError(
      node.name,
      `bias ${formatNe(c.ne)} varies along the batch dim ne[${a.batch}]`,
    );
  }
  const target = c.ne.map((d, i) => (d === 1 || d === a.ne[i] ? d : a.ne[i]!)) as unknown as Ne;
  if (target.every((d, i) => d === c.ne[i])) return c;
  const out = new Float32Array(target[0] * target[1] * target[2] * target[3]);
  for (let i3 = 0; i3 < target[3]; i3++) {
    for (let i2 = 0; i2 < target[2]; i2++) {
      for (let i1 = 0; i1 < target[1]; i1++) {
        for (let i0 = 0; i0 < target[0]; i0++) {
          const s =
            (((i3 % c.ne[3]) * c.ne[2] + (i2 % c.ne[2])) * c.ne[1] + (i1 % c.ne[1])) * c.ne[0] +
            (i0 % c.ne[0]);
          out[((i3 * target[2] + i2) * target[1] + i1) * target[0] + i0] = c.values[s]!;
        }
      }
    }
  }
  return { ne: target, values: out };
}

/**
 * The graph input's shape in ONNX/TF.js order, batch first as -1: `[-1, 784]` or
 * `[-1, 1, 28, 28]`.
 */
export function inputShapeOf(graph: Graph): number[] {
  return actShape(graph.nodes[graph.input]!.ne, inputBatchDim(graph));
}
