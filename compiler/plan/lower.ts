/**
 * Lowering: optimised graph -> {@link Plan}. This is where fusion and the layout choice happen.
 *
 * - Fusion: at a node whose op starts a kernel family (the registry's `startsAt`), that family's
 *   `lower` absorbs the single-consumer chain it can fuse (e.g. `conv_2d [+ add] [+ relu]
 *   [+ pool_2d]`, `mul_mat [+ add] [+ relu | soft_max]`) and returns one kernel call.
 * - Layout: images are channels-last with channels padded to 4 (SIMD across channels);
 *   permute/cont/reshape become index maps that are folded into the consumer's weights, so
 *   they move no data. A view no kernel can absorb is a {@link CompileError}.
 *
 * @module
 */
import { type Graph, type Node, numel } from "../ir/graph.ts";
import { permuteToSource } from "../passes/fold_views.ts";
import type { LowerContext } from "../kernels/kernel.ts";
import {
  align16,
  CompileError,
  type ImageLayout,
  type Layout,
  type PlanBuffer,
} from "../kernels/layout.ts";
import { familyFor, type Kernel } from "../kernels/registry.ts";
import type { Plan } from "./plan.ts";

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
  const ctx: LowerContext = {
    nodes,
    newBuffer(name, role, floats) {
      buffers.push({ id: buffers.length, name, role, bytes: align16(floats * 4), offset: -1 });
      return buffers.length - 1;
    },
    weightOf(id, user) {
      const n = nodes[id]!;
      if (n.op.kind !== "weight") {
        throw new CompileError(
          user.name,
          `operand '${n.name}' must be a constant for this backend`,
        );
      }
      return n;
    },
    next(id) {
      const u = users[id]!;
      return u.length === 1 && id !== graph.output ? u[0] : undefined;
    },
    valueOf: valOf,
    physicalMap: (id, user) => physicalMap(valOf(id, user)),
    imageInput(id, user) {
      const n = nodes[id]!, v = valOf(id, user);
      if (n.ne[3] !== 1) throw new CompileError(user.name, "only batch 1 graphs are compiled");
      if (v.layout.kind === "image" && !v.map) return v.layout;
      const want: ImageLayout = { kind: "image", w: n.ne[0], h: n.ne[1], c: n.ne[2], cp: n.ne[2] };
      if (sameMap(physicalMap(v), physicalMap({ buf: v.buf, layout: want }))) return want;
      throw new CompileError(
        user.name,
        `input '${n.name}' is a view whose layout would need a copy`,
      );
    },
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
  const inputBuf = ctx.newBuffer(input.name, "input", numel(input.ne));
  vals.set(input.id, { buf: inputBuf, layout: inputLayout });

  for (const node of nodes) {
    if (done.has(node.id) || vals.has(node.id)) continue;
    const kind = node.op.kind;
    if (kind === "input" || kind === "weight") continue;
    if (kind === "permute" || kind === "cont" || kind === "reshape") {
      // A view: the same buffer, read through an index map.
      const src = valOf(node.src[0]!, node);
      const srcMap = physicalMap(src);
      const map = node.op.kind === "permute"
        ? permuteToSource(nodes[node.src[0]!]!.ne, node.ne, node.op.axes).map((i) => srcMap[i]!)
        : srcMap;
      vals.set(node.id, { buf: src.buf, layout: src.layout, map });
      continue;
    }
    const family = familyFor(node, nodes);
    if (!family) {
      throw new CompileError(
        node.name,
        `a standalone ${kind} is not supported; it must follow an op it can be fused into`,
      );
    }
    const { kernel, last } = family.lower(node, ctx);
    markFused(node, last);
    kernels.push(kernel);
    const map = family.outputMap?.(kernel);
    vals.set(last.id, {
      buf: kernel.dst,
      layout: family.outputLayout(kernel),
      ...(map ? { map } : {}),
    });
  }

  /** Marks the fused chain `first` .. `last` (linked by single consumers) as absorbed. */
  function markFused(first: Node, last: Node): void {
    let n: Node | undefined = first;
    while (n) {
      done.add(n.id);
      if (n.id === last.id) return;
      n = ctx.next(n.id);
    }
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
    ...(graph.meta.inputKind && graph.meta.inputKind !== "pixels"
      ? { inputKind: graph.meta.inputKind }
      : {}),
    ...(graph.meta.labels ? { labels: graph.meta.labels } : {}),
    buffers,
    kernels,
    input: inputBuf,
    output: outVal.buf,
    arenaBytes: 0,
  };
}
