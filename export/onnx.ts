/**
 * ONNX export: a {@link Graph} to ONNX ModelProto bytes (IR version 8, opset 13), weights as
 * float32 initializers (the exact dequantised values), so onnxruntime and other ONNX tools run
 * the same computation as the reference interpreter.
 *
 * Dimension order: a ggml tensor with `ne [a, b, c, d]` (ne[0] fastest) has the ONNX shape
 * `[d, c, b, a]` with the same memory, so no weight needs reordering except where an op's
 * convention differs (mul_mat's second operand for MatMul). Activations carry one dynamic batch
 * dim `N`: an ONNX activation of rank r has `N` at axis 0 and ggml dims r-2 .. 0 after it; the
 * ggml dims above the batch dim are 1 and left out. Weights drop leading (ONNX) dims of size 1;
 * ONNX's right-aligned broadcasting then matches ggml's.
 *
 * Op mapping: mul_mat -> Gemm (transB = 1) or MatMul; add -> Add, or the bias of the preceding
 * Gemm/Conv; conv_2d -> Conv; pool_2d -> MaxPool/AveragePool (count_include_pad = 1, as ggml
 * divides by the full window); permute -> Transpose; reshape -> Reshape (batch dim -1);
 * scale -> Mul; relu -> Relu; soft_max -> Softmax(axis = -1); cont -> nothing.
 *
 * Byte-token models (Magika): the input is `tokens`, int64 `[N, 1536]`, values 0..256;
 * mul_mat(W, one_hot(tokens)) -> Gather of W's rows (never a product with the 257-wide one-hot);
 * gelu -> its tanh form in elementary ops, as ggml's CPU gelu (whose f16 table is not
 * reproduced); norm -> ReduceMean / Sub / Mul / ReduceMean / Add / Sqrt / Div over the last axis;
 * mul -> Mul; pool_1d -> MaxPool / AveragePool on `[N, C, L]`.
 *
 * @module
 */
import {
  formatNe,
  type Graph,
  GraphError,
  inputKind,
  liveNodes,
  type Ne,
  type Node,
} from "../compiler/ir/graph.ts";
import { ProtoWriter } from "./protobuf.ts";
import {
  actShape,
  broadcastConst,
  collapseConstantDims,
  countUses,
  inputBatchDim,
  onnxConstDims,
  planFusions,
  reshapeBatchDim,
} from "./onnx_layout.ts";

/** Name of the model's input: raw pixels 0..255 as float32, `[N, 1, 28, 28]` or `[N, 784]`. */
export const ONNX_INPUT_NAME = "pixels";
/** Name of a byte-token model's input: int64 tokens 0..256, `[N, 1536]`. */
export const ONNX_TOKENS_INPUT_NAME = "tokens";
/** Name of the model's output: probabilities `[N, 10]`. */
export const ONNX_OUTPUT_NAME = "probabilities";
/** The ONNX IR version written (8: ONNX 1.10+, onnxruntime 1.10+). */
export const ONNX_IR_VERSION = 8;
/** The default-domain opset imported (13: Softmax along one axis). */
export const ONNX_OPSET = 13;

/** Options of {@link exportOnnx}. */
export interface OnnxExportOptions {
  /** `producer_version` in the model (default `"0"`). */
  readonly producerVersion?: string;
  /** A doc string for the model (default: the graph's name, arch and layout). */
  readonly docString?: string;
}

/** What {@link exportOnnx} wrote, for callers that feed the model. */
export interface OnnxExport {
  /** The serialized ModelProto. */
  readonly bytes: Uint8Array;
  /** The input's name: {@link ONNX_INPUT_NAME} (float32 pixels) or {@link ONNX_TOKENS_INPUT_NAME} (int64). */
  readonly inputName: string;
  /** The input's element type. */
  readonly inputType: "float32" | "int64";
  /** Input shape in ONNX order, batch dim first as `-1`: `[-1, 1, 28, 28]` or `[-1, 784]`. */
  readonly inputShape: readonly number[];
  /** Output shape in ONNX order, batch dim first as `-1`: `[-1, 10]`. */
  readonly outputShape: readonly number[];
  /** Number of ONNX nodes and initializers, for reports. */
  readonly nodeCount: number;
  /** Each ONNX node's op type, in graph order. */
  readonly opTypes: readonly string[];
  readonly initializerCount: number;
}

// ONNX enum values (onnx.proto).
const FLOAT = 1; // TensorProto.DataType
const INT64 = 7;
const ATTR_INT = 2; // AttributeProto.AttributeType
const ATTR_INTS = 7;

type Attr = { readonly name: string; readonly int: number } | {
  readonly name: string;
  readonly ints: readonly number[];
};

interface OnnxNode {
  readonly opType: string;
  readonly name: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attrs: readonly Attr[];
}

interface Initializer {
  readonly name: string;
  readonly dims: readonly number[];
  readonly data: Float32Array | BigInt64Array;
}

/** A computed tensor: ONNX name, ggml shape, and which ggml dim is the batch. */
interface Act {
  readonly kind: "act";
  readonly name: string;
  readonly ne: Ne;
  readonly batch: number;
}

/** one_hot(tokens): never materialised; the mul_mat that takes it becomes a Gather. */
interface OneHot {
  readonly kind: "onehot";
  readonly name: string;
  readonly tokens: Act;
  readonly depth: number;
}

/** A constant (a weight, or one derived from weights at export time). */
interface Const {
  readonly kind: "const";
  readonly name: string;
  readonly ne: Ne;
  readonly values: Float32Array;
}

type Val = Act | Const | OneHot;

/**
 * Exports `graph` as an ONNX model.
 *
 * @param graph a graph whose input is raw pixels (`[784, N]` or `[W, H, C, N]`) and whose output
 *   is the probabilities (`[10, N]`)
 * @param options producer version and doc string
 * @returns the model bytes and its input/output shapes
 * @throws GraphError for a graph the exporter cannot express (e.g. a batch dim that would be
 *   contracted by a mul_mat)
 * @example
 * ```ts
 * import { GraphBuilder } from "../compiler/ir/graph.ts";
 * import { exportOnnx } from "./onnx.ts";
 * const b = new GraphBuilder();
 * const x = b.input("images", [784, 1]);
 * const w = b.weight("fc.weight", [784, 10], "f32", new Float32Array(7840));
 * const probs = b.softMax(b.mulMat(w, x), "probs");
 * const graph = b.build(x, probs, { layout: "demo", arch: "mnist-fc", name: "demo" });
 * const onnx = exportOnnx(graph);
 * console.log(onnx.inputShape, onnx.outputShape); // [ -1, 784 ] [ -1, 10 ]
 * ```
 */
export function exportOnnx(graph: Graph, options: OnnxExportOptions = {}): OnnxExport {
  const tokens = inputKind(graph) === "byte-tokens";
  const lowered = lower(graph, tokens ? ONNX_TOKENS_INPUT_NAME : ONNX_INPUT_NAME);
  const inputType = tokens ? "int64" : "float32";
  const bytes = encodeModel(graph, lowered, options, inputType);
  return {
    bytes,
    inputName: lowered.inputName,
    inputType,
    inputShape: lowered.inputShape,
    outputShape: lowered.outputShape,
    nodeCount: lowered.nodes.length,
    opTypes: lowered.nodes.map((n) => n.opType),
    initializerCount: lowered.inits.length,
  };
}

// ---------------------------------------------------------------------------------------------
// Lowering: IR nodes -> ONNX nodes and initializers.

interface Lowered {
  inputName: string;
  nodes: OnnxNode[];
  inits: Initializer[];
  inputShape: number[];
  outputShape: number[];
}

function lower(graph: Graph, inputName: string): Lowered {
  const nodes: OnnxNode[] = [];
  const inits: Initializer[] = [];
  const initByName = new Map<string, Initializer>();
  const usedNames = new Set<string>([inputName, ONNX_OUTPUT_NAME]);
  const vals = new Map<number, Val>();
  const live = liveNodes(graph);
  const uses = countUses(graph, live);

  /** A fresh value/initializer name derived from `base`. */
  const fresh = (base: string): string => {
    const clean = base.replace(/[^A-Za-z0-9_.\-/+]/g, "_") || "v";
    let name = clean;
    for (let i = 1; usedNames.has(name); i++) name = `${clean}_${i}`;
    usedNames.add(name);
    return name;
  };
  const emit = (
    opType: string,
    base: string,
    inputs: string[],
    attrs: Attr[] = [],
    output?: string,
  ): string => {
    const out = output ?? fresh(base);
    nodes.push({ opType, name: `${opType}:${out}`, inputs, outputs: [out], attrs });
    return out;
  };
  /**
   * Registers a constant as an initializer and returns its name; the same values with the same
   * dims are registered once, anything else under the same name gets a fresh one.
   */
  const initOf = (c: Const, dims = onnxConstDims(c.ne)): string => {
    const prev = initByName.get(c.name);
    if (prev && prev.data === c.values && prev.dims.join() === dims.join()) return c.name;
    const name = prev ? fresh(c.name) : c.name;
    const init = { name, dims, data: c.values };
    initByName.set(name, init);
    inits.push(init);
    return name;
  };
  const constFrom = (base: string, ne: Ne, values: Float32Array): Const => ({
    kind: "const",
    name: fresh(base),
    ne,
    values,
  });
  const shapeInit = (dims: readonly number[]): string => {
    const name = `shape(${dims.join(",")})`;
    if (!initByName.has(name)) {
      usedNames.add(name);
      const init = { name, dims: [dims.length], data: BigInt64Array.from(dims.map(BigInt)) };
      initByName.set(name, init);
      inits.push(init);
    }
    return name;
  };
  const reshape = (x: string, base: string, dims: readonly number[], output?: string): string =>
    emit("Reshape", base, [x, shapeInit(dims)], [], output);
  /**
   * The same activation with its batch dim at ggml dim `batch`: a Reshape, valid when the dims
   * that change sides (between the two positions) are 1. Moving up needs the build batch to be 1
   * (the old batch dim becomes a per-sample dim of size 1).
   */
  const withBatch = (v: Act, batch: number, node: Node): Act => {
    if (v.batch === batch) return v;
    const lo = Math.min(v.batch, batch), hi = Math.max(v.batch, batch);
    for (let i = lo; i < hi; i++) {
      if (v.ne[i] !== 1) {
        throw new GraphError(
          node.name,
          `cannot move the batch dim of ${formatNe(v.ne)} from ne[${v.batch}] to ne[${batch}]`,
        );
      }
    }
    const name = reshape(v.name, `${v.name}:r${batch + 1}`, actShape(v.ne, batch));
    return { kind: "act", name, ne: v.ne, batch };
  };
  const get = (id: number): Val => vals.get(id)!;
  const act = (id: number, node: Node): Act => {
    const v = get(id);
    if (v.kind === "onehot") {
      throw new GraphError(node.name, "ONNX export takes one_hot only as mul_mat's second operand");
    }
    if (v.kind !== "act") {
      throw new GraphError(
        node.name,
        `ONNX export expects a computed input here, got weight '${v.name}'`,
      );
    }
    return v;
  };

  const fused = planFusions(graph, live, uses);
  const inputBatch = inputBatchDim(graph);

  for (const id of live) {
    const node = graph.nodes[id]!;
    const op = node.op;
    const outName = id === graph.output ? ONNX_OUTPUT_NAME : undefined;
    switch (op.kind) {
      case "input":
        vals.set(id, { kind: "act", name: inputName, ne: node.ne, batch: inputBatch });
        break;
      case "weight":
        vals.set(id, { kind: "const", name: fresh(node.name), ne: node.ne, values: op.values });
        break;
      case "relu":
      case "soft_max":
      case "scale": {
        const x = act(node.src[0]!, node);
        if (op.kind === "soft_max" && x.batch === 0) {
          throw new GraphError(node.name, "soft_max along the batch dim cannot be exported");
        }
        const name = op.kind === "relu"
          ? emit("Relu", node.name, [x.name], [], outName)
          : op.kind === "soft_max"
          ? emit("Softmax", node.name, [x.name], [{ name: "axis", int: -1 }], outName)
          : emit(
            "Mul",
            node.name,
            [
              x.name,
              initOf(
                constFrom(`${node.name}.factor`, [1, 1, 1, 1], new Float32Array([op.factor])),
                [],
              ),
            ],
            [],
            outName,
          );
        vals.set(id, { kind: "act", name, ne: node.ne, batch: x.batch });
        break;
      }
      case "cont":
        vals.set(id, get(node.src[0]!));
        break;
      case "mul_mat": {
        if (fused.has(id)) break; // emitted by the add that follows, with its bias
        vals.set(id, lowerMulMat(node, undefined, outName));
        break;
      }
      case "conv_2d": {
        if (fused.has(id)) break;
        vals.set(id, lowerConv(node, undefined, outName));
        break;
      }
      case "add": {
        const f = fused.get(node.src[0]!);
        if (f && f.add === id) {
          const producer = graph.nodes[node.src[0]!]!;
          const w = get(node.src[1]!);
          const bias: Const = { kind: "const", name: w.name, ne: f.bias.ne, values: f.bias.values };
          vals.set(
            id,
            producer.op.kind === "mul_mat"
              ? lowerMulMat(producer, bias, outName, node.name)
              : lowerConv(producer, bias, outName, node.name),
          );
          break;
        }
        vals.set(id, lowerAdd(node, outName));
        break;
      }
      case "pool_2d": {
        const x = withBatch(act(node.src[0]!, node), 3, node);
        const attrs: Attr[] = [
          { name: "kernel_shape", ints: [op.k1, op.k0] },
          { name: "strides", ints: [op.s1, op.s0] },
          { name: "pads", ints: [op.p1, op.p0, op.p1, op.p0] },
        ];
        if (op.pool === "avg") attrs.push({ name: "count_include_pad", int: 1 });
        const name = emit(
          op.pool === "max" ? "MaxPool" : "AveragePool",
          node.name,
          [x.name],
          attrs,
          outName,
        );
        vals.set(id, { kind: "act", name, ne: node.ne, batch: 3 });
        break;
      }
      case "permute":
        vals.set(id, lowerPermute(node, outName));
        break;
      case "reshape": {
        const x = act(node.src[0]!, node);
        const batch = reshapeBatchDim(x, node);
        const name = reshape(x.name, node.name, actShape(node.ne, batch), outName);
        vals.set(id, { kind: "act", name, ne: node.ne, batch });
        break;
      }
      case "one_hot": {
        const tokens = act(node.src[0]!, node);
        vals.set(id, { kind: "onehot", name: node.name, tokens, depth: op.depth });
        break;
      }
      case "mul":
        vals.set(id, lowerAdd(node, outName, "Mul"));
        break;
      case "gelu":
        vals.set(id, lowerGelu(node, outName));
        break;
      case "norm":
        vals.set(id, lowerNorm(node, op.eps, outName));
        break;
      case "pool_1d": {
        const x = withBatch(act(node.src[0]!, node), 2, node);
        const attrs: Attr[] = [
          { name: "kernel_shape", ints: [op.k0] },
          { name: "strides", ints: [op.s0] },
          { name: "pads", ints: [op.p0, op.p0] },
        ];
        if (op.pool === "avg") attrs.push({ name: "count_include_pad", int: 1 });
        const type = op.pool === "max" ? "MaxPool" : "AveragePool";
        const name = emit(type, node.name, [x.name], attrs, outName);
        vals.set(id, { kind: "act", name, ne: node.ne, batch: 2 });
        break;
      }
      case "get_rows":
        throw new GraphError(node.name, `op ${op.kind} has no ONNX export yet`);
      default: {
        const never: never = op;
        throw new GraphError(
          node.name,
          `op ${(never as { kind: string }).kind} has no ONNX mapping`,
        );
      }
    }
  }

  let out = get(graph.output);
  if (out.kind !== "act") {
    throw new GraphError(graph.nodes[graph.output]!.name, "the output is a constant");
  }
  if (out.name !== ONNX_OUTPUT_NAME) {
    // The output was an alias (cont) or an input: give it the output name.
    out = { ...out, name: emit("Identity", "output", [out.name], [], ONNX_OUTPUT_NAME) };
  }
  const inputNode = graph.nodes[graph.input]!;
  return {
    inputName,
    nodes,
    inits,
    inputShape: actShape(inputNode.ne, inputBatch),
    outputShape: actShape(out.ne, out.batch),
  };

  // --- per-op lowering (closures over the state above) ---

  function lowerMulMat(
    node: Node,
    bias: Const | undefined,
    output?: string,
    base = node.name,
  ): Act {
    const a = get(node.src[0]!);
    if (a.kind !== "const") {
      throw new GraphError(
        node.name,
        "ONNX export supports mul_mat with a weight as first operand",
      );
    }
    const oneHot = get(node.src[1]!);
    if (oneHot.kind === "onehot") return lowerGather(node, a, oneHot, bias, output, base);
    const bv = act(node.src[1]!, node);
    if (bv.batch === 0) {
      throw new GraphError(node.name, "mul_mat would contract the batch dim (ne[0])");
    }
    const [K, M, a2, a3] = a.ne;
    const [, , b2, b3] = bv.ne;
    if (bv.batch === 1 && a2 === 1 && a3 === 1) {
      // Gemm(B [N,K], A [M,K], transB=1) = B A^T: out[n][m] = sum_k a[m][k] b[n][k].
      const inputs = [bv.name, initOf(a, [M, K])];
      if (bias) inputs.push(initOf(bias, onnxConstDims(bias.ne)));
      const name = emit("Gemm", base, inputs, [{ name: "transB", int: 1 }], output);
      return { kind: "act", name, ne: node.ne, batch: 1 };
    }
    // General case: MatMul(B [..,N,K], A^T [..,K,M]); ggml repeats each a matrix b2/a2 times.
    if ((a2 > 1 && bv.batch <= 2) || a3 > 1) {
      throw new GraphError(
        node.name,
        `mul_mat weight ${formatNe(a.ne)} would vary along the batch dim`,
      );
    }
    const at = new Float32Array(K * M * b2 * b3);
    for (let i3 = 0; i3 < b3; i3++) {
      for (let i2 = 0; i2 < b2; i2++) {
        const src = ((Math.floor(i3 / (b3 / a3)) * a2) + Math.floor(i2 / (b2 / a2))) * K * M;
        const dst = (i3 * b2 + i2) * K * M;
        for (let m = 0; m < M; m++) {
          for (let k = 0; k < K; k++) at[dst + k * M + m] = a.values[src + m * K + k]!;
        }
      }
    }
    // Leave batch-sized (ONNX leading) dims at 1 where b has them at 1 (a is the same for all).
    const atNe: Ne = [M, K, bv.batch > 2 ? b2 : 1, bv.batch > 3 ? b3 : 1];
    const atConst = constFrom(`${a.name}^T`, atNe, at.subarray(0, K * M * atNe[2] * atNe[3]));
    let name = emit(
      "MatMul",
      bias ? `${base}:matmul` : base,
      [bv.name, initOf(atConst)],
      [],
      bias ? undefined : output,
    );
    if (bias) name = emit("Add", base, [name, initOf(bias)], [], output);
    return { kind: "act", name, ne: node.ne, batch: bv.batch };
  }

  function lowerConv(node: Node, bias: Const | undefined, output?: string, base = node.name): Act {
    const op = node.op;
    if (op.kind !== "conv_2d") throw new Error("unreachable");
    const k = get(node.src[0]!);
    if (k.kind !== "const") {
      throw new GraphError(node.name, "ONNX export supports conv_2d with a weight kernel");
    }
    const x = withBatch(act(node.src[1]!, node), 3, node);
    // ggml kernel ne [KW,KH,Cin,Cout] is ONNX OIHW [Cout,Cin,KH,KW], same memory.
    const inputs = [x.name, initOf(k, [k.ne[3], k.ne[2], k.ne[1], k.ne[0]])];
    if (bias) inputs.push(initOf(bias, [k.ne[3]]));
    const name = emit("Conv", base, inputs, [
      { name: "kernel_shape", ints: [k.ne[1], k.ne[0]] },
      { name: "strides", ints: [op.s1, op.s0] },
      { name: "pads", ints: [op.p1, op.p0, op.p1, op.p0] },
      { name: "dilations", ints: [op.d1, op.d0] },
    ], output);
    return { kind: "act", name, ne: node.ne, batch: 3 };
  }

  /** add (Add) or mul (Mul) with ggml's broadcast of the second operand. */
  function lowerAdd(node: Node, output?: string, opType: "Add" | "Mul" = "Add"): Act {
    const a = get(node.src[0]!), b = get(node.src[1]!);
    if (a.kind === "act" && b.kind === "const") {
      const c = broadcastConst(collapseConstantDims(b), a, node);
      const bias: Const = { kind: "const", name: b.name, ne: c.ne, values: c.values };
      const name = emit(opType, node.name, [a.name, initOf(bias)], [], output);
      return { kind: "act", name, ne: node.ne, batch: a.batch };
    }
    if (a.kind === "act" && b.kind === "act") {
      const bb = withBatch(b, a.batch, node);
      for (let i = 0; i < 4; i++) {
        if (bb.ne[i] !== 1 && bb.ne[i] !== a.ne[i]) {
          throw new GraphError(
            node.name,
            `add of ${formatNe(b.ne)} to ${formatNe(a.ne)} is a tiling ONNX cannot broadcast`,
          );
        }
      }
      const name = emit(opType, node.name, [a.name, bb.name], [], output);
      return { kind: "act", name, ne: node.ne, batch: a.batch };
    }
    throw new GraphError(
      node.name,
      `ONNX export supports ${node.op.kind} with a computed first operand`,
    );
  }

  /** A scalar float initializer. */
  function scalar(base: string, value: number): string {
    return initOf(constFrom(base, [1, 1, 1, 1], new Float32Array([value])), []);
  }

  /**
   * mul_mat(W [depth, M], one_hot(tokens)): row t of W^T for each token t, i.e.
   * Gather(W^T [depth, M], tokens) -> [N, T, M] (ggml [M, T, N]), then the bias.
   */
  function lowerGather(
    node: Node,
    a: Const,
    oneHot: OneHot,
    bias: Const | undefined,
    output: string | undefined,
    base: string,
  ): Act {
    const [K, M, a2, a3] = a.ne;
    if (K !== oneHot.depth || a2 !== 1 || a3 !== 1) {
      throw new GraphError(node.name, `one_hot depth ${oneHot.depth} vs weight ${formatNe(a.ne)}`);
    }
    const table = new Float32Array(K * M);
    for (let m = 0; m < M; m++) {
      for (let k = 0; k < K; k++) table[k * M + m] = a.values[m * K + k]!;
    }
    const tableName = initOf(constFrom(`${a.name}^T`, [M, K, 1, 1], table));
    const t = oneHot.tokens;
    let name = emit(
      "Gather",
      bias ? `${base}:gather` : base,
      [tableName, t.name],
      [{ name: "axis", int: 0 }],
      bias ? undefined : output,
    );
    const batch = t.batch + 1;
    if (bias) {
      const c = broadcastConst(bias, { ne: node.ne, batch }, node);
      name = emit("Add", base, [name, initOf({ ...bias, ne: c.ne, values: c.values })], [], output);
    }
    return { kind: "act", name, ne: node.ne, batch };
  }

  /** gelu's tanh form as ggml computes it: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
  function lowerGelu(node: Node, output?: string): Act {
    const x = act(node.src[0]!, node);
    const n = node.name;
    const x2 = emit("Mul", `${n}:x2`, [x.name, x.name]);
    const x3 = emit("Mul", `${n}:x3`, [x2, x.name]);
    const cubic = emit("Mul", `${n}:ax3`, [x3, scalar(`${n}.a`, 0.044715)]);
    const inner = emit("Add", `${n}:inner`, [x.name, cubic]);
    const scaled = emit("Mul", `${n}:scaled`, [inner, scalar(`${n}.k`, Math.sqrt(2 / Math.PI))]);
    const th = emit("Tanh", `${n}:tanh`, [scaled]);
    const onePlus = emit("Add", `${n}:1+tanh`, [th, scalar(`${n}.one`, 1)]);
    const half = emit("Mul", `${n}:half`, [x.name, scalar(`${n}.half`, 0.5)]);
    const name = emit("Mul", n, [half, onePlus], [], output);
    return { kind: "act", name, ne: node.ne, batch: x.batch };
  }

  /** ggml_norm along ne[0] (the last ONNX axis): (x - mean) / sqrt(variance + eps). */
  function lowerNorm(node: Node, eps: number, output?: string): Act {
    const x = act(node.src[0]!, node);
    if (x.batch === 0) throw new GraphError(node.name, "norm along the batch dim");
    const n = node.name, axes: Attr = { name: "axes", ints: [-1] };
    const mean = emit("ReduceMean", `${n}:mean`, [x.name], [axes, { name: "keepdims", int: 1 }]);
    const d = emit("Sub", `${n}:d`, [x.name, mean]);
    const d2 = emit("Mul", `${n}:d2`, [d, d]);
    const variance = emit("ReduceMean", `${n}:var`, [d2], [axes, { name: "keepdims", int: 1 }]);
    const ve = emit("Add", `${n}:var+eps`, [variance, scalar(`${n}.eps`, eps)]);
    const sd = emit("Sqrt", `${n}:sd`, [ve]);
    const name = emit("Div", n, [d, sd], [], output);
    return { kind: "act", name, ne: node.ne, batch: x.batch };
  }

  function lowerPermute(node: Node, output?: string): Act {
    const op = node.op;
    if (op.kind !== "permute") throw new Error("unreachable");
    const x = act(node.src[0]!, node);
    const batch = op.axes[x.batch]!;
    for (let i = batch + 1; i < 4; i++) {
      if (node.ne[i] !== 1) {
        throw new GraphError(
          node.name,
          `permute moves the batch dim below a dim of size ${node.ne[i]}`,
        );
      }
    }
    // In rank 4, ggml dim i is ONNX axis 3-i. Source dim i becomes result dim axes[i], so
    // result ONNX axis 3-axes[i] takes source ONNX axis 3-i.
    const perm4 = [0, 0, 0, 0];
    for (let i = 0; i < 4; i++) perm4[3 - op.axes[i]!] = 3 - i;
    // Work in the smallest rank that holds both batch positions; the leading ONNX axes left out
    // are 1 on both sides and must map among themselves.
    const rank = Math.max(x.batch, batch) + 1;
    const lead = 4 - rank;
    for (let j = 0; j < lead; j++) {
      if (perm4[j]! >= lead) {
        throw new GraphError(node.name, `permute [${op.axes}] moves a dim past the batch dim`);
      }
    }
    let src = x.name;
    if (x.batch + 1 < rank) {
      // Pad with leading 1s, keeping the runtime batch where it is.
      const dims = actShape(x.ne, x.batch);
      src = reshape(src, `${x.name}:r${rank}`, [...Array(rank - dims.length).fill(1), ...dims]);
    }
    const perm = perm4.slice(lead).map((p) => p - lead);
    const direct = batch + 1 === rank;
    let name = emit(
      "Transpose",
      node.name,
      [src],
      [{ name: "perm", ints: perm }],
      direct ? output : undefined,
    );
    if (!direct) {
      // Drop the leading 1s above the (moved) batch dim.
      name = reshape(name, `${node.name}:r${batch + 1}`, actShape(node.ne, batch), output);
    }
    return { kind: "act", name, ne: node.ne, batch };
  }
}

// ---------------------------------------------------------------------------------------------
// Encoding (field numbers from onnx.proto).

function encodeModel(
  graph: Graph,
  l: Lowered,
  options: OnnxExportOptions,
  inputType: "float32" | "int64",
): Uint8Array {
  const g = new ProtoWriter();
  for (const n of l.nodes) g.message(1, encodeNode(n)); // GraphProto.node
  g.string(2, graph.meta.name || "ggufc"); // GraphProto.name
  for (const t of l.inits) g.message(5, encodeTensor(t)); // GraphProto.initializer
  const inType = inputType === "int64" ? INT64 : FLOAT;
  g.message(11, encodeValueInfo(l.inputName, l.inputShape, inType)); // GraphProto.input
  g.message(12, encodeValueInfo(ONNX_OUTPUT_NAME, l.outputShape, FLOAT)); // GraphProto.output

  const m = new ProtoWriter();
  m.int(1, ONNX_IR_VERSION); // ModelProto.ir_version
  m.string(2, "ggufc"); // producer_name
  m.string(3, options.producerVersion ?? "0"); // producer_version
  m.string(
    6,
    options.docString ??
      `${graph.meta.name} (${graph.meta.arch}, layout ${graph.meta.layout}), exported by ggufc`,
  ); // doc_string
  m.message(7, g); // graph
  m.message(8, new ProtoWriter().string(1, "").int(2, ONNX_OPSET)); // opset_import
  for (
    const [key, value] of [["ggufc.layout", graph.meta.layout], ["ggufc.arch", graph.meta.arch]]
  ) {
    m.message(14, new ProtoWriter().string(1, key!).string(2, value!)); // metadata_props
  }
  return m.finish();
}

function encodeNode(n: OnnxNode): ProtoWriter {
  const w = new ProtoWriter();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  w.string(3, n.name);
  w.string(4, n.opType);
  for (const a of n.attrs) {
    const aw = new ProtoWriter().string(1, a.name);
    if ("int" in a) aw.int(20, ATTR_INT).int(3, a.int);
    else {
      aw.int(20, ATTR_INTS);
      for (const v of a.ints) aw.int(8, v); // proto2 `repeated int64 ints = 8` (unpacked)
    }
    w.message(5, aw);
  }
  return w;
}

function encodeTensor(t: Initializer): ProtoWriter {
  const w = new ProtoWriter();
  for (const d of t.dims) w.int(1, d); // dims (unpacked, proto2)
  w.int(2, t.data instanceof Float32Array ? FLOAT : INT64); // data_type
  w.string(8, t.name); // name
  // raw_data: fixed-width little-endian values.
  const raw = new Uint8Array(t.data.byteLength);
  const view = new DataView(raw.buffer);
  if (t.data instanceof Float32Array) {
    for (let i = 0; i < t.data.length; i++) view.setFloat32(i * 4, t.data[i]!, true);
  } else {
    for (let i = 0; i < t.data.length; i++) view.setBigInt64(i * 8, t.data[i]!, true);
  }
  w.bytes(9, raw);
  return w;
}

function encodeValueInfo(name: string, shape: readonly number[], elemType: number): ProtoWriter {
  const dims = new ProtoWriter();
  for (const d of shape) {
    // TensorShapeProto.dim: dim_value = 1 or dim_param = 2.
    dims.message(1, d < 0 ? new ProtoWriter().string(2, "N") : new ProtoWriter().int(1, d));
  }
  const tensorType = new ProtoWriter().int(1, elemType).message(2, dims); // elem_type, shape
  return new ProtoWriter().string(1, name).message(2, new ProtoWriter().message(1, tensorType));
}
