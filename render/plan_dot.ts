/**
 * DOT text for the compiler's later stages, drawn from the optimised graph (after the graph
 * passes) and the plan (fused kernel calls over arena buffers):
 *
 * - `optimized`: one node per fused kernel listing the graph ops it absorbed; weights as
 *   leaves, the ones computed at compile time (folded) marked; every edge labelled with the
 *   tensor's layout and bytes as the kernel reads it.
 * - `plan`: the kernel calls in execution order between the buffers they read and write, each
 *   buffer with its arena offset and size, coloured like its box in the memory strip.
 *
 * @module
 */
import { formatNe, type Graph, type Node, numel } from "../compiler/ir/graph.ts";
import type { Kernel, Layout, Plan, PlanBuffer } from "../compiler/plan/plan.ts";
import { kernelDef } from "../compiler/kernels/registry.ts";
import {
  COLORS,
  type DotEdge,
  type DotNode,
  type DotOptions,
  formatBytes,
  opLabel,
  writeDot,
} from "./dot.ts";
import { dotText } from "./escape.ts";
import { BUFFER_COLORS, type StripBuffer, type StripInput } from "./memory_strip.ts";

/** Ops that only reinterpret a buffer; left outside kernels they cost nothing at run time. */
const VIEWS = new Set(["reshape", "permute", "cont"]);

/** What a kernel call computes, in one line: `conv2d 3x3/1 p1 + bias + relu + max pool 2x2/2`. */
export function kernelTitle(k: Kernel): string {
  return kernelDef(k).title(k);
}

/** A buffer layout as text: `HWC 13x13x32`, `HWC 7x7x3 (cp 4)`, `flat 1600`. */
export function layoutText(l: Layout): string {
  if (l.kind === "flat") return `flat ${l.n}`;
  return `HWC ${l.w}x${l.h}x${l.c}${l.cp !== l.c ? ` (cp ${l.cp})` : ""}`;
}

/** For each graph node, the index of the kernel that absorbed it (or -1). */
function kernelOfNode(graph: Graph, plan: Plan): Int32Array {
  const owner = new Int32Array(graph.nodes.length).fill(-1);
  const byName = new Map<string, number[]>();
  for (const n of graph.nodes) {
    const ids = byName.get(n.name) ?? [];
    ids.push(n.id);
    byName.set(n.name, ids);
  }
  plan.kernels.forEach((k, i) => {
    for (const name of k.nodes) {
      // Names may repeat in a model file: take the first node of that name not yet claimed.
      const id = byName.get(name)?.find((j) => owner[j] === -1);
      if (id !== undefined) owner[id] = i;
    }
  });
  return owner;
}

/** Ids of weights whose values were computed by a pass (absent from the source graph). */
function foldedWeights(source: Graph, optimized: Graph): Set<number> {
  const original = new Set<Float32Array>();
  for (const n of source.nodes) if (n.op.kind === "weight") original.add(n.op.values);
  const folded = new Set<number>();
  for (const n of optimized.nodes) {
    if (n.op.kind === "weight" && !original.has(n.op.values)) folded.add(n.id);
  }
  return folded;
}

/** Label of the edge from weight `w` into node `use`, absorbed by kernel `k` (if any). */
function weightEdgeLabel(w: Node, use: Node, k: Kernel | undefined): string {
  const held = k && kernelDef(k).weightLabel(k, w, use);
  if (held) return `${held.layout} · ${formatBytes(held.bytes)}`;
  return `${formatNe(w.ne)} f32 · ${formatBytes(numel(w.ne) * 4)}`;
}

/** Inputs of {@link optimizedDot} and {@link planDot}. */
export interface CompiledStages {
  /** The graph as the frontend built it (to tell folded constants from the file's). */
  readonly source: Graph;
  /** The graph after the compiler's graph passes. */
  readonly optimized: Graph;
  /** The plan built from `optimized` (kernels, buffers, offsets). */
  readonly plan: Plan;
  /** Names of the passes that ran, for the subtitle. */
  readonly passes?: readonly string[];
}

/**
 * DOT text of the optimised graph: fused kernels as one node each (listing the ops absorbed),
 * graph nodes no kernel absorbed as their own records, weights as leaves (pink and marked
 * `folded` when a pass computed them), each edge labelled with layout and bytes.
 *
 * @param stages source graph, optimised graph and plan
 * @param opts layout options
 * @returns DOT text
 */
export function optimizedDot(stages: CompiledStages, opts: DotOptions = {}): string {
  const { nodes, edges, title, subtitle } = optimizedParts(stages);
  return writeDot(title, nodes, edges, { ...opts, subtitle: opts.subtitle ?? subtitle });
}

/** Nodes, edges and title of the optimized stage (for {@link optimizedDot} and `all`). */
export function optimizedParts(stages: CompiledStages): {
  nodes: DotNode[];
  edges: DotEdge[];
  title: string;
  subtitle: string;
} {
  const { source, optimized: g, plan } = stages;
  const owner = kernelOfNode(g, plan);
  const folded = foldedWeights(source, g);
  const groupId = (id: number) => owner[id]! >= 0 ? `k${owner[id]}` : `n${id}`;
  const nodes: DotNode[] = [];
  plan.kernels.forEach((k, i) => {
    const absorbed = g.nodes.filter((n) => owner[n.id] === i);
    const lines = absorbed.map((n) => `${dotText(opLabel(n.op), 40)}: ${dotText(n.name, 32)}\\l`);
    const out = absorbed.at(-1);
    const isOut = out?.id === g.output;
    nodes.push({
      id: `k${i}`,
      fields: [
        dotText(`kernel ${i}: ${kernelTitle(k)}`, 80),
        lines.join("") || "(no graph node)",
        dotText(
          `${out ? formatNe(out.ne) : ""} · ${formatBytes(kernelDef(k).constBytes(k))} constants` +
            (isOut ? " → output" : ""),
          80,
        ),
      ],
      fill: isOut ? COLORS.output : COLORS.fused,
      bold: isOut,
      tooltip: dotText(k.nodes.join(", "), 400),
    });
  });
  for (const n of g.nodes) {
    if (owner[n.id]! >= 0) continue;
    const isFolded = folded.has(n.id);
    const fill = n.op.kind === "weight"
      ? (isFolded ? COLORS.folded : COLORS.weight)
      : n.op.kind === "input"
      ? COLORS.input
      : n.id === g.output
      ? COLORS.output
      : COLORS.op;
    const what = n.op.kind === "weight"
      ? `${isFolded ? "folded constant" : "weight"} (${n.op.type} in file)`
      : VIEWS.has(n.op.kind)
      ? `${opLabel(n.op)} (view: no data moved)`
      : opLabel(n.op);
    nodes.push({
      id: `n${n.id}`,
      fields: [dotText(n.name), dotText(what), dotText(formatNe(n.ne))],
      fill,
      bold: n.id === g.output,
      dashed: isFolded,
    });
  }
  const edges: DotEdge[] = [];
  const seen = new Set<string>();
  for (const n of g.nodes) {
    for (const s of n.src) {
      const from = groupId(s), to = groupId(n.id);
      if (from === to || seen.has(`${from}->${to}`)) continue;
      seen.add(`${from}->${to}`);
      const src = g.nodes[s]!;
      const k = owner[n.id]! >= 0 ? plan.kernels[owner[n.id]!] : undefined;
      let label: string;
      const ks = owner[s]! >= 0 ? plan.kernels[owner[s]!] : undefined;
      if (src.op.kind === "weight") label = weightEdgeLabel(src, n, k);
      else if (k) {
        label = `${layoutText(kernelDef(k).inputLayout(k))} · ${
          formatBytes(plan.buffers[k.src]!.bytes)
        }`;
      } else if (ks) {
        label = `${layoutText(kernelDef(ks).outputLayout(ks))} · ${
          formatBytes(plan.buffers[ks.dst]!.bytes)
        }`;
      } else label = `${formatNe(src.ne)} f32 · ${formatBytes(numel(src.ne) * 4)}`;
      edges.push({ from, to, label: dotText(label, 80) });
    }
  }
  const m = g.meta;
  return {
    nodes,
    edges,
    title: `${m.name} (${m.layout}) · optimized · ${plan.kernels.length} kernels, ` +
      `${g.nodes.length} graph nodes`,
    subtitle: stages.passes?.length ? `passes: ${stages.passes.join(", ")}` : "",
  };
}

/** The colour of buffer `id` in the plan graph and the strip. */
function bufferColor(id: number): string {
  return BUFFER_COLORS[id % BUFFER_COLORS.length]!;
}

/** `@offset +size` of a buffer. */
function placement(b: PlanBuffer): string {
  return `@${b.offset} +${b.bytes} B`;
}

/**
 * DOT text of the plan: kernel calls in execution order, each between the buffers it reads and
 * writes; buffers show their role, arena offset and size, and share colours with the strip.
 *
 * @param plan the plan (after the memory pass)
 * @param opts layout options
 * @returns DOT text
 */
export function planDot(plan: Plan, opts: DotOptions = {}): string {
  const { nodes, edges, title, subtitle } = planParts(plan);
  return writeDot(title, nodes, edges, { ...opts, subtitle: opts.subtitle ?? subtitle });
}

/** Nodes, edges and title of the plan stage (for {@link planDot} and `all`). */
export function planParts(plan: Plan): {
  nodes: DotNode[];
  edges: DotEdge[];
  title: string;
  subtitle: string;
} {
  const nodes: DotNode[] = [];
  const edges: DotEdge[] = [];
  const used = new Set<number>();
  plan.kernels.forEach((k, i) => {
    const aux = kernelDef(k).auxBuffers(k);
    const auxText = aux.map((a) => ` · ${a.use} b${a.buffer}`).join("");
    nodes.push({
      id: `k${i}`,
      fields: [
        dotText(`step ${i}: ${kernelTitle(k)}`, 80),
        dotText(`b${k.src} → b${k.dst}${auxText}`),
        dotText(
          `${layoutText(kernelDef(k).outputLayout(k))} · ${
            formatBytes(kernelDef(k).constBytes(k))
          } constants`,
          80,
        ),
      ],
      fill: COLORS.fused,
    });
    edges.push({ from: `b${k.src}`, to: `k${i}` }, { from: `k${i}`, to: `b${k.dst}` });
    used.add(k.src).add(k.dst);
    for (const a of aux) {
      edges.push({ from: `k${i}`, to: `b${a.buffer}`, label: a.use });
      used.add(a.buffer);
    }
  });
  // A buffer the memory pass placed that no kernel field above names (a scratch kind this
  // drawing does not know yet) still appears, tied to the first kernel that uses it.
  for (const l of plan.memory?.lifetimes ?? []) {
    if (used.has(l.buffer) || l.first < 0 || l.first >= plan.kernels.length) continue;
    edges.push({ from: `k${l.first}`, to: `b${l.buffer}`, label: "uses" });
    used.add(l.buffer);
  }
  for (const b of plan.buffers) {
    if (!used.has(b.id)) continue;
    nodes.push({
      id: `b${b.id}`,
      fields: [
        dotText(`b${b.id} ${b.role}`),
        dotText(b.name),
        dotText(b.offset >= 0 ? placement(b) : `unplaced +${b.bytes} B`),
      ],
      fill: bufferColor(b.id),
      bold: b.id === plan.output,
    });
  }
  const mem = plan.memory;
  const subtitle = `arena ${plan.arenaBytes} B` +
    (mem ? ` (without reuse ${mem.naiveBytes} B, lower bound ${mem.lowerBoundBytes} B)` : "");
  return {
    nodes,
    edges,
    title: `${plan.name} (${plan.layout}) · plan · ${plan.kernels.length} kernel calls, ` +
      `${plan.buffers.length} buffers`,
    subtitle,
  };
}

/**
 * The memory strip's input from a plan: one box per buffer over the steps it is live. Buffers
 * written before the first kernel (the input) get an `in` column, read after the last an `out`
 * column.
 *
 * @param plan the plan after the memory pass (needs `plan.memory`)
 * @returns the strip input, or undefined when the plan has no lifetimes
 */
export function planStrip(plan: Plan): StripInput | undefined {
  const mem = plan.memory;
  if (!mem) return undefined;
  const n = plan.kernels.length;
  const lo = Math.min(0, ...mem.lifetimes.map((l) => l.first));
  const hi = Math.max(n - 1, ...mem.lifetimes.map((l) => l.last));
  const steps: string[] = [];
  for (let s = lo; s <= hi; s++) steps.push(s < 0 ? "in" : s >= n ? "out" : String(s));
  const buffers: StripBuffer[] = mem.lifetimes.map((l) => {
    const b = plan.buffers[l.buffer]!;
    return {
      tag: `b${b.id}`,
      name: b.name,
      offset: b.offset,
      size: b.bytes,
      first: l.first - lo,
      last: Math.max(l.first, l.last) - lo,
      color: bufferColor(b.id),
    };
  });
  return {
    buffers,
    steps,
    arenaBytes: plan.arenaBytes,
    naiveBytes: mem.naiveBytes,
    title: `${plan.name}: arena ${formatBytes(plan.arenaBytes)} ` +
      `(without reuse ${formatBytes(mem.naiveBytes)})`,
  };
}
