/**
 * Peer: TF.js (`@tensorflow/tfjs-core`) with its WASM backend, one thread, the `.wasm` files
 * loaded from the installed package. The graph's layers are rebuilt with TF.js ops on the same
 * dequantised weights, the way a TF.js user would write them: images NHWC, conv kernels HWIO,
 * dense kernels `[in, out]`, bias and relu fused into `tf.fused.conv2d` / `tf.fused.matMul`.
 *
 * NHWC makes the CNN's flatten free: ggml_permute(x, 1, 2, 0, 3) of an image `[W,H,C,N]` is
 * `[C,W,H,N]`, which is exactly NHWC memory.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { setThreadsCount, setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import {
  formatNe,
  type Graph,
  GraphError,
  liveNodes,
  type Ne,
  type Node,
} from "../compiler/ir/graph.ts";
import {
  actShape,
  broadcastConst,
  collapseConstantDims,
  countUses,
  inputBatchDim,
  onnxConstDims,
  planFusions,
  reshapeBatchDim,
} from "../export/onnx_layout.ts";
import { CLASSES, packageMainDir, type Peer, pixelPredictors } from "./peer.ts";

let backendReady: Promise<void> | undefined;

/** Selects the wasm backend once: files from the installed package, SIMD, one thread. */
export function initBackend(): Promise<void> {
  return backendReady ??= (async () => {
    setWasmPaths(packageMainDir("@tensorflow/tfjs-backend-wasm"));
    setThreadsCount(1);
    tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);
    if (!(await tf.setBackend("wasm"))) throw new Error("TF.js wasm backend failed to initialise");
    await tf.ready();
  })();
}

/**
 * A value while building: an activation is a function of the input (`std` = ggml ne reversed,
 * batch first; `nhwc` = an image `[W,H,C,N]` held as `[N,H,W,C]`), a constant is values.
 */
type Val =
  | { kind: "act"; slot: number; ne: Ne; batch: number; layout: "std" | "nhwc" }
  | { kind: "const"; ne: Ne; values: Float32Array };

type Step = (slots: tf.Tensor[]) => tf.Tensor;

/** ggml_permute of constant values: source dim i becomes result dim axes[i]. */
function permuteValues(
  values: Float32Array,
  ne: Ne,
  axes: readonly number[],
): { ne: Ne; values: Float32Array } {
  const out = new Float32Array(values.length);
  const rne = [1, 1, 1, 1];
  for (let i = 0; i < 4; i++) rne[axes[i]!] = ne[i]!;
  const rstride = [1, rne[0]!, rne[0]! * rne[1]!, rne[0]! * rne[1]! * rne[2]!];
  let s = 0;
  for (let i3 = 0; i3 < ne[3]; i3++) {
    for (let i2 = 0; i2 < ne[2]; i2++) {
      for (let i1 = 0; i1 < ne[1]; i1++) {
        for (let i0 = 0; i0 < ne[0]; i0++) {
          const idx = [i0, i1, i2, i3];
          let d = 0;
          for (let i = 0; i < 4; i++) d += idx[i]! * rstride[axes[i]!]!;
          out[d] = values[s++]!;
        }
      }
    }
  }
  return { ne: rne as unknown as Ne, values: out };
}

/** Compiles `graph` into a TF.js forward function over a batch of pixels. */
function buildForward(
  graph: Graph,
): { forward: (x: tf.Tensor) => tf.Tensor; inputShape: number[]; consts: tf.Tensor[] } {
  const live = liveNodes(graph);
  const uses = countUses(graph, live);
  const fused = planFusions(graph, live, uses);
  const steps: Step[] = [];
  const consts: tf.Tensor[] = [];
  const vals = new Map<number, Val>();
  const keep = <T extends tf.Tensor>(t: T): T => (consts.push(t), t);
  const push = (step: Step): number => (steps.push(step), steps.length); // slot 0 is the input
  type Act = Extract<Val, { kind: "act" }>;

  const act = (id: number, node: Node): Act => {
    const v = vals.get(id)!;
    if (v.kind !== "act") {
      throw new GraphError(node.name, "TF.js peer expects a computed input here");
    }
    return v;
  };
  const toStd = (v: Act): Act => {
    if (v.layout === "std") return v;
    const slot = push((s) => tf.transpose(s[v.slot]!, [0, 3, 1, 2]));
    return { ...v, slot, layout: "std" };
  };
  const toNhwc = (v: Act, node: Node): Act => {
    if (v.layout === "nhwc") return v;
    let x = v;
    if (x.batch !== 3) {
      for (let i = Math.min(x.batch, 3); i < 3; i++) {
        if (x.ne[i] !== 1) {
          throw new GraphError(node.name, `cannot treat ${formatNe(x.ne)} as an image`);
        }
      }
      const shape = actShape(x.ne, 3);
      x = { ...x, batch: 3, slot: push((s) => tf.reshape(s[v.slot]!, shape)) };
    }
    const [W, H, C] = x.ne;
    const src = x.slot;
    // With one channel NCHW and NHWC hold the same memory.
    const slot = C === 1
      ? push((s) => tf.reshape(s[src]!, [-1, H, W, 1]))
      : push((s) => tf.transpose(s[src]!, [0, 2, 3, 1]));
    return { ...x, slot, layout: "nhwc" };
  };
  /** A constant shaped for broadcasting against an activation of `layout`. */
  const constFor = (c: { ne: Ne; values: Float32Array }, layout: "std" | "nhwc"): tf.Tensor => {
    if (layout === "std") return keep(tf.tensor(c.values, onnxConstDims(c.ne)));
    const p = permuteValues(c.values, c.ne, [1, 2, 0, 3]); // [W,H,C,N] -> [C,W,H,N] = NHWC
    return keep(tf.tensor(p.values, [p.ne[3], p.ne[2], p.ne[1], p.ne[0]]));
  };
  /** The relu that directly and solely consumes node `id`, if any. */
  const reluAfter = (id: number): Node | undefined => {
    if (uses[id] !== 1 || id === graph.output) return undefined;
    return graph.nodes.find((n) => n.op.kind === "relu" && n.src[0] === id);
  };
  const skipped = new Set<number>();

  const inputBatch = inputBatchDim(graph);
  const inputNe = graph.nodes[graph.input]!.ne;
  for (const id of live) {
    if (skipped.has(id)) continue;
    const node = graph.nodes[id]!;
    const op = node.op;
    switch (op.kind) {
      case "input":
        vals.set(id, { kind: "act", slot: 0, ne: node.ne, batch: inputBatch, layout: "std" });
        break;
      case "weight":
        vals.set(id, { kind: "const", ne: node.ne, values: op.values });
        break;
      case "scale": {
        const x = act(node.src[0]!, node);
        const f = keep(tf.scalar(op.factor));
        vals.set(id, { ...x, slot: push((s) => tf.mul(s[x.slot]!, f)), ne: node.ne });
        break;
      }
      case "relu": {
        const x = act(node.src[0]!, node);
        vals.set(id, { ...x, slot: push((s) => tf.relu(s[x.slot]!)) });
        break;
      }
      case "soft_max": {
        const x = toStd(act(node.src[0]!, node));
        vals.set(id, { ...x, slot: push((s) => tf.softmax(s[x.slot]!)) });
        break;
      }
      case "cont":
        vals.set(id, vals.get(node.src[0]!)!);
        break;
      case "mul_mat":
      case "conv_2d": {
        const f = fused.get(id);
        let outId = id;
        let bias: tf.Tensor1D | undefined;
        let activation: "relu" | "linear" = "linear";
        if (f) {
          outId = f.add;
          skipped.add(f.add);
          bias = keep(tf.tensor1d(f.bias.values));
          const relu = reluAfter(f.add);
          if (relu) {
            activation = "relu";
            outId = relu.id;
            skipped.add(relu.id);
          }
        }
        const a = vals.get(node.src[0]!)!;
        if (a.kind !== "const") throw new GraphError(node.name, "TF.js peer needs a weight here");
        if (op.kind === "mul_mat") {
          const x = toStd(act(node.src[1]!, node));
          const [K, M, a2, a3] = a.ne;
          if (x.batch !== 1 || a2 !== 1 || a3 !== 1) {
            throw new GraphError(
              node.name,
              `TF.js peer supports dense layers only, got ${formatNe(a.ne)}`,
            );
          }
          // Dense kernel [in, out] = [K, M]: element (k, m) is ggml a[m][k].
          const kt = new Float32Array(K * M);
          for (let m = 0; m < M; m++) {
            for (let k = 0; k < K; k++) kt[k * M + m] = a.values[m * K + k]!;
          }
          const kernel = keep(tf.tensor2d(kt, [K, M]));
          const slot = push((s) =>
            tf.fused.matMul({ a: s[x.slot]! as tf.Tensor2D, b: kernel, bias, activation })
          );
          vals.set(outId, {
            kind: "act",
            slot,
            ne: graph.nodes[outId]!.ne,
            batch: 1,
            layout: "std",
          });
        } else {
          if (op.kind !== "conv_2d") throw new Error("unreachable");
          if ((op.s0 > 1 || op.s1 > 1) && (op.d0 > 1 || op.d1 > 1)) {
            throw new GraphError(
              node.name,
              "TF.js conv2d takes strides or dilations > 1, not both",
            );
          }
          const x = toNhwc(act(node.src[1]!, node), node);
          const [KW, KH, Cin, Cout] = a.ne;
          // HWIO: element (kh, kw, ci, co) is ggml kernel[co][ci][kh][kw].
          const hwio = new Float32Array(KW * KH * Cin * Cout);
          for (let co = 0; co < Cout; co++) {
            for (let ci = 0; ci < Cin; ci++) {
              for (let kh = 0; kh < KH; kh++) {
                for (let kw = 0; kw < KW; kw++) {
                  hwio[((kh * KW + kw) * Cin + ci) * Cout + co] = a
                    .values[((co * Cin + ci) * KH + kh) * KW + kw]!;
                }
              }
            }
          }
          const filter = keep(tf.tensor4d(hwio, [KH, KW, Cin, Cout]));
          const pad: number | [
            [number, number],
            [number, number],
            [number, number],
            [number, number],
          ] = op.p0 === op.p1 ? op.p0 : [[0, 0], [op.p1, op.p1], [op.p0, op.p0], [0, 0]];
          const slot = push((s) =>
            tf.fused.conv2d({
              x: s[x.slot]! as tf.Tensor4D,
              filter,
              strides: [op.s1, op.s0],
              pad: pad === 0 ? "valid" : pad,
              dataFormat: "NHWC",
              dilations: [op.d1, op.d0],
              bias,
              activation,
            })
          );
          vals.set(outId, {
            kind: "act",
            slot,
            ne: graph.nodes[outId]!.ne,
            batch: 3,
            layout: "nhwc",
          });
        }
        break;
      }
      case "add": {
        const x = act(node.src[0]!, node);
        const b = vals.get(node.src[1]!)!;
        if (b.kind === "const") {
          const c = constFor(broadcastConst(collapseConstantDims(b), x, node), x.layout);
          vals.set(id, { ...x, slot: push((s) => tf.add(s[x.slot]!, c)) });
        } else {
          const xs = toStd(x), bs = toStd(b);
          if (xs.batch !== bs.batch) {
            throw new GraphError(node.name, "TF.js peer: add of mismatched batch dims");
          }
          vals.set(id, { ...xs, slot: push((s) => tf.add(s[xs.slot]!, s[bs.slot]!)) });
        }
        break;
      }
      case "pool_2d": {
        const x = toNhwc(act(node.src[0]!, node), node);
        if (op.pool === "avg" && (op.p0 > 0 || op.p1 > 0)) {
          throw new GraphError(node.name, "TF.js peer: padded average pooling is not supported");
        }
        if (op.p0 !== op.p1) throw new GraphError(node.name, "TF.js peer: unequal pool padding");
        const pad = op.p0 === 0 ? "valid" : op.p0;
        const f = op.pool === "max" ? tf.maxPool : tf.avgPool;
        const slot = push((s) => f(s[x.slot]! as tf.Tensor4D, [op.k1, op.k0], [op.s1, op.s0], pad));
        vals.set(id, { ...x, slot, ne: node.ne });
        break;
      }
      case "permute": {
        const x = act(node.src[0]!, node);
        const batch = op.axes[x.batch]!;
        if (x.layout === "nhwc" && op.axes.join() === "1,2,0,3") {
          // [W,H,C,N] -> [C,W,H,N]: the NHWC tensor already is this, in std order.
          vals.set(id, { kind: "act", slot: x.slot, ne: node.ne, batch, layout: "std" });
          break;
        }
        const xs = toStd(x);
        if (xs.batch !== 3 || batch !== 3) {
          throw new GraphError(
            node.name,
            `TF.js peer: permute [${op.axes}] of ${formatNe(x.ne)} not supported`,
          );
        }
        const perm = [0, 0, 0, 0];
        for (let i = 0; i < 4; i++) perm[3 - op.axes[i]!] = 3 - i;
        vals.set(id, {
          ...xs,
          slot: push((s) => tf.transpose(s[xs.slot]!, perm)),
          ne: node.ne,
          batch,
        });
        break;
      }
      case "reshape": {
        const x = toStd(act(node.src[0]!, node));
        const batch = reshapeBatchDim(x, node);
        const shape = actShape(node.ne, batch);
        vals.set(id, {
          ...x,
          slot: push((s) => tf.reshape(s[x.slot]!, shape)),
          ne: node.ne,
          batch,
        });
        break;
      }
      case "mul":
      case "gelu":
      case "norm":
      case "one_hot":
      case "get_rows":
      case "pool_1d":
        throw new GraphError(node.name, `TF.js peer: op ${op.kind} is not supported`);
      default: {
        const never: never = op;
        throw new GraphError(node.name, `TF.js peer: op ${(never as { kind: string }).kind}`);
      }
    }
  }
  const out = vals.get(graph.output)!;
  if (out.kind !== "act") throw new GraphError(graph.nodes[graph.output]!.name, "constant output");
  const final = toStd(out);
  return {
    inputShape: actShape(inputNe, inputBatch),
    consts,
    forward: (x) =>
      tf.tidy(() => {
        const slots: tf.Tensor[] = [x];
        for (const step of steps) slots.push(step(slots));
        return tf.reshape(slots[final.slot]!, [-1, CLASSES]);
      }),
  };
}

/**
 * Loads `graph` into TF.js with the wasm backend (SIMD, one thread).
 *
 * @param graph the model graph
 * @returns the peer
 * @example
 * ```ts ignore
 * import { createTfjsPeer } from "./tfjs.ts";
 * const peer = await createTfjsPeer(graph);
 * console.log(await peer.predict(image));
 * await peer.dispose();
 * ```
 */
export async function createTfjsPeer(graph: Graph): Promise<Peer> {
  await initBackend();
  const { forward, inputShape, consts } = buildForward(graph);
  const run = (x: Float32Array, count: number): Float32Array => {
    const input = tf.tensor(x, [count, ...inputShape.slice(1)]);
    const out = forward(input);
    const data = out.dataSync() as Float32Array;
    input.dispose();
    out.dispose();
    return data;
  };
  // The wasm backend is SIMD when the engine supports it (Deno/V8 does).
  const simd = await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT");
  return {
    id: "tfjs-wasm",
    name: `TF.js ${tf.version_core} (wasm${simd ? " SIMD" : ""}, 1 thread)`,
    ...pixelPredictors(run),
    dispose: () => {
      for (const t of consts) t.dispose();
      return Promise.resolve();
    },
  };
}
