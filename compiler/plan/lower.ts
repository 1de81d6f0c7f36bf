/**
 * Lowering: optimised graph -> {@link Plan}. This is where fusion and the layout choice happen.
 *
 * - Fusion (greedy, along single-consumer chains): `conv_2d [+ add] [+ relu] [+ pool_2d]` becomes
 *   one conv kernel (the pool is fused when its windows do not overlap, so no conv value is
 *   computed twice); `mul_mat [+ add] [+ relu | soft_max]` becomes one dense kernel.
 * - Layout: images are channels-last with channels padded to 4 (SIMD across channels);
 *   permute/cont/reshape become index maps that are folded into the consumer's weights, so
 *   they move no data. A view no kernel can absorb is a {@link CompileError}.
 *
 * @module
 */
import { type Graph, type Ne, type Node, numel } from "../ir/graph.ts";
import { permuteToSource } from "../passes/fold_views.ts";
import {
  align16,
  CompileError,
  type ConvBias,
  type ConvKernel,
  type DenseKernel,
  type ImageLayout,
  type Kernel,
  type Layout,
  layoutFloats,
  padChannels,
  type Plan,
  type PlanBuffer,
} from "./plan.ts";

/** Where a graph value lives: a buffer, its layout, and (for views) logical -> physical index. */
interface Val {
  readonly buf: number;
  readonly layout: Layout;
  /** For a view: physical float index of every logical element; undefined: the layout's own. */
  readonly map?: Int32Array;
}

/** Physical index of each logical element (ggml order) of a value with logical shape `ne`. */
function physicalMap(v: Val): Int32Array {
  if (v.map) return v.map;
  const l = v.layout;
  if (l.kind === "flat") return new Int32Array(l.n).map((_, i) => i);
  const map = new Int32Array(l.w * l.h * l.c);
  let i = 0;
  for (let c = 0; c < l.c; c++) {
    for (let y = 0; y < l.h; y++) {
      for (let x = 0; x < l.w; x++) map[i++] = c + l.cp * (x + l.w * y);
    }
  }
  return map;
}

function sameMap(a: Int32Array, b: Int32Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/**
 * Lowers `graph` (batch 1) to a plan with fused, channels-last kernels.
 *
 * @param graph the optimised graph
 * @returns the plan, buffers not yet placed (offset -1)
 * @throws CompileError for an op or shape the kernels do not cover, naming the node
 */
export function lowerToPlan(graph: Graph): Plan {
  const nodes = graph.nodes;
  const users: Node[][] = nodes.map(() => []);
  for (const n of nodes) for (const s of n.src) users[s]!.push(n);
  const buffers: PlanBuffer[] = [];
  const kernels: Kernel[] = [];
  const vals = new Map<number, Val>();
  const done = new Set<number>();

  const newBuffer = (name: string, role: PlanBuffer["role"], floats: number): number => {
    buffers.push({ id: buffers.length, name, role, bytes: align16(floats * 4), offset: -1 });
    return buffers.length - 1;
  };
  const weightOf = (id: number, user: Node): Node => {
    const n = nodes[id]!;
    if (n.op.kind !== "weight") {
      throw new CompileError(user.name, `operand '${n.name}' must be a constant for this backend`);
    }
    return n;
  };
  /** The single consumer of `id`, when the chain may continue through it. */
  const next = (id: number): Node | undefined => {
    const u = users[id]!;
    return u.length === 1 && id !== graph.output ? u[0] : undefined;
  };
  const valOf = (id: number, user: Node): Val => {
    const v = vals.get(id);
    if (!v) {
      throw new CompileError(
        user.name,
        `operand '${nodes[id]!.name}' is not computed by any kernel`,
      );
    }
    return v;
  };
  const imageInput = (id: number, user: Node): ImageLayout => {
    const n = nodes[id]!, v = valOf(id, user);
    if (n.ne[3] !== 1) throw new CompileError(user.name, "only batch 1 graphs are compiled");
    if (v.layout.kind === "image" && !v.map) return v.layout;
    const want: ImageLayout = { kind: "image", w: n.ne[0], h: n.ne[1], c: n.ne[2], cp: n.ne[2] };
    if (sameMap(physicalMap(v), physicalMap({ buf: v.buf, layout: want }))) return want;
    throw new CompileError(user.name, `input '${n.name}' is a view whose layout would need a copy`);
  };

  const input = nodes[graph.input]!;
  if (input.ne[3] !== 1 || (input.ne[2] !== 1 && input.ne[1] !== 1)) {
    throw new CompileError(
      input.name,
      `input shape must be one image ([W,H] or [N]), got [${input.ne}]`,
    );
  }
  const inputLayout: Layout = input.ne[1] === 1
    ? { kind: "flat", n: numel(input.ne) }
    : { kind: "image", w: input.ne[0], h: input.ne[1], c: 1, cp: 1 };
  const inputBuf = newBuffer(input.name, "input", numel(input.ne));
  vals.set(input.id, { buf: inputBuf, layout: inputLayout });

  for (const node of nodes) {
    if (done.has(node.id) || vals.has(node.id)) continue;
    switch (node.op.kind) {
      case "input":
      case "weight":
        break;
      case "permute":
      case "cont":
      case "reshape": {
        const src = valOf(node.src[0]!, node);
        const srcMap = physicalMap(src);
        const map = node.op.kind === "permute"
          ? permuteToSource(nodes[node.src[0]!]!.ne, node.ne, node.op.axes).map((i) => srcMap[i]!)
          : srcMap;
        vals.set(node.id, { buf: src.buf, layout: src.layout, map });
        break;
      }
      case "conv_2d": {
        const k = lowerConv(node);
        kernels.push(k.kernel);
        vals.set(k.last.id, { buf: k.kernel.dst, layout: k.kernel.output });
        break;
      }
      case "pool_2d": {
        const inL = imageInput(node.src[0]!, node);
        const op = node.op;
        const output: ImageLayout = {
          kind: "image",
          w: node.ne[0],
          h: node.ne[1],
          c: inL.c,
          cp: inL.cp,
        };
        const dst = newBuffer(node.name, "activation", layoutFloats(output));
        kernels.push({
          kind: "pool2d",
          nodes: [node.name],
          src: valOf(node.src[0]!, node).buf,
          dst,
          input: inL,
          output,
          pool: op,
        });
        vals.set(node.id, { buf: dst, layout: output });
        break;
      }
      case "mul_mat": {
        const k = lowerDense(node);
        kernels.push(k.kernel);
        vals.set(k.last.id, { buf: k.kernel.dst, layout: { kind: "flat", n: k.kernel.m } });
        break;
      }
      default:
        throw new CompileError(
          node.name,
          `a standalone ${node.op.kind} is not supported; it must follow a conv_2d or mul_mat it can be fused into`,
        );
    }
  }

  function lowerConv(node: Node): { kernel: ConvKernel; last: Node } {
    if (node.op.kind !== "conv_2d") throw new Error("unreachable");
    const op = node.op;
    const kernelNode = weightOf(node.src[0]!, node);
    const inL = imageInput(node.src[1]!, node);
    const [KW, KH, CI, CO] = kernelNode.ne;
    const [OW, OH] = node.ne;
    const cop = padChannels(CO);
    const kv = (kernelNode.op as { values: Float32Array }).values;
    const weights = new Float32Array(KH * KW * inL.cp * cop);
    for (let ky = 0; ky < KH; ky++) {
      for (let kx = 0; kx < KW; kx++) {
        for (let ci = 0; ci < CI; ci++) {
          for (let co = 0; co < CO; co++) {
            weights[co + cop * (ci + inL.cp * (kx + KW * ky))] =
              kv[kx + KW * (ky + KH * (ci + CI * co))]!;
          }
        }
      }
    }
    const fused = [node];
    let last = node;
    let bias: ConvBias = { kind: "none" };
    let relu = false;
    let pool: ConvKernel["pool"];
    let u = next(last.id);
    if (u?.op.kind === "add" && u.src[0] === last.id && nodes[u.src[1]!]!.op.kind === "weight") {
      bias = convBias(nodes[u.src[1]!]!, OW, OH, CO, cop);
      fused.push(u);
      last = u;
      u = next(last.id);
    }
    if (u?.op.kind === "relu") {
      relu = true;
      fused.push(u);
      last = u;
      u = next(last.id);
    }
    if (u?.op.kind === "pool_2d" && u.op.s0 >= u.op.k0 && u.op.s1 >= u.op.k1) {
      pool = u.op;
      fused.push(u);
      last = u;
    }
    for (const n of fused) done.add(n.id);
    const output: ImageLayout = { kind: "image", w: last.ne[0], h: last.ne[1], c: CO, cp: cop };
    const dst = newBuffer(last.name, "activation", layoutFloats(output));
    const staging = op.p0 || op.p1
      ? newBuffer(
        `${node.name}:padded`,
        "scratch",
        (inL.w + 2 * op.p0) * (inL.h + 2 * op.p1) * inL.cp,
      )
      : -1;
    const kernel: ConvKernel = {
      kind: "conv2d",
      nodes: fused.map((n) => n.name),
      src: valOf(node.src[1]!, node).buf,
      dst,
      input: inL,
      output,
      kw: KW,
      kh: KH,
      s0: op.s0,
      s1: op.s1,
      p0: op.p0,
      p1: op.p1,
      d0: op.d0,
      d1: op.d1,
      convW: OW,
      convH: OH,
      computeW: OW,
      computeH: OH,
      weights,
      bias,
      relu,
      ...(pool ? { pool } : {}),
      staging,
    };
    return { kernel, last };
  }

  function lowerDense(node: Node): { kernel: DenseKernel; last: Node } {
    const w = weightOf(node.src[0]!, node);
    const x = nodes[node.src[1]!]!;
    if (w.ne[2] !== 1 || w.ne[3] !== 1 || x.ne[1] !== 1 || x.ne[2] !== 1 || x.ne[3] !== 1) {
      throw new CompileError(node.name, "mul_mat must be a matrix times one vector (batch 1)");
    }
    const [K, M] = w.ne;
    const xv = valOf(x.id, node);
    const pm = physicalMap(xv);
    const kPhys = layoutFloats(xv.layout);
    const wv = (w.op as { values: Float32Array }).values;
    const weights = new Float32Array(kPhys * M);
    for (let k = 0; k < K; k++) {
      for (let m = 0; m < M; m++) weights[pm[k]! * M + m] = wv[m * K + k]!;
    }
    let last = node;
    const fused = [node];
    let bias: Float32Array | undefined;
    let relu = false, softmax = false;
    let u = next(last.id);
    if (u?.op.kind === "add" && u.src[0] === last.id && nodes[u.src[1]!]!.op.kind === "weight") {
      const b = nodes[u.src[1]!]!;
      const bv = (b.op as { values: Float32Array }).values;
      if (numel(b.ne) !== b.ne[0]) throw new CompileError(u.name, "dense bias must be a vector");
      bias = new Float32Array(M).map((_, m) => bv[m % b.ne[0]]!);
      fused.push(u);
      last = u;
      u = next(last.id);
    }
    if (u?.op.kind === "relu") {
      relu = true;
      fused.push(u);
      last = u;
    } else if (u?.op.kind === "soft_max") {
      softmax = true;
      fused.push(u);
      last = u;
    }
    for (const n of fused) done.add(n.id);
    const dst = newBuffer(last.name, "activation", M);
    const scratch = newBuffer(`${node.name}:nonzero`, "scratch", kPhys);
    const kernel: DenseKernel = {
      kind: "dense",
      nodes: fused.map((n) => n.name),
      src: xv.buf,
      dst,
      k: kPhys,
      m: M,
      weights,
      ...(bias ? { bias } : {}),
      relu,
      softmax,
      scratch,
    };
    return { kernel, last };
  }

  const out = nodes[graph.output]!;
  const outVal = valOf(out.id, out);
  const identity = new Int32Array(numel(out.ne)).map((_, i) => i);
  if (!sameMap(physicalMap(outVal), identity)) {
    throw new CompileError(out.name, "the output must be a contiguous vector");
  }
  const outBuf = buffers[outVal.buf]!;
  buffers[outVal.buf] = { ...outBuf, role: "output" };
  let n = input.ne.length;
  while (n > 1 && input.ne[n - 1] === 1) n--;
  return {
    name: graph.meta.name,
    arch: graph.meta.arch,
    layout: graph.meta.layout,
    inputLength: numel(input.ne),
    inputShape: input.ne.slice(0, n),
    outputLength: numel(out.ne),
    buffers,
    kernels,
    input: inputBuf,
    output: outVal.buf,
    arenaBytes: 0,
  };
}

/** A conv bias as per-channel values when it is [1,1,C], else expanded over the conv grid. */
function convBias(b: Node, OW: number, OH: number, CO: number, cop: number): ConvBias {
  const v = (b.op as { values: Float32Array }).values;
  const B: Ne = b.ne;
  const at = (x: number, y: number, c: number) =>
    v[(x % B[0]) + B[0] * ((y % B[1]) + B[1] * (c % B[2]))]!;
  if (B[0] === 1 && B[1] === 1) {
    return {
      kind: "channel",
      values: new Float32Array(cop).map((_, c) => (c < CO ? at(0, 0, c) : 0)),
    };
  }
  const values = new Float32Array(OW * OH * cop);
  for (let y = 0; y < OH; y++) {
    for (let x = 0; x < OW; x++) {
      for (let c = 0; c < CO; c++) values[c + cop * (x + OW * y)] = at(x, y, c);
    }
  }
  return { kind: "full", values };
}
