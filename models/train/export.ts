/**
 * From trained parameters (layer layout, see ops.ts) to the tensors of a model file, and back.
 *
 * Layouts (all shapes in ggml ne order, ne[0] fastest):
 * - `ggml` (ggml HEAD's examples/mnist): `fc1.weight [784,500]`, `fc1.bias [500]`,
 *   `fc2.weight [500,10]`, `fc2.bias [10]` for `fc`; `conv1.kernel [3,3,1,C1]` F32,
 *   `conv1.bias [1,1,C1]`, `conv2.kernel [3,3,C1,C2]`, `conv2.bias [1,1,C2]`,
 *   `dense.weight [K,10]`, `dense.bias [10]` for the CNNs.
 * - `seed` (the seed's mnist-cnn.py): `kernel1 [3,3,1,C1]` F16, `bias1 [OW1,OH1,C1,1]` F32
 *   pre-broadcast (every position holds the channel bias), `kernel2 [3,3,C1,C2]` F16,
 *   `bias2 [OW2,OH2,C2,1]`, `dense_w [K,10]` F32, `dense_b [10]`; the seed FC net has the ggml
 *   names (it is stored as a legacy file, see {@link legacyFcTensors}).
 *
 * A conv kernel element (kx,ky,ci,co) is at kx + 3*(ky + 3*(ci + Cin*co)) (cross-correlation).
 * The dense input of the CNNs is the last pooled map with the channel fastest,
 * index c + C*(x + W*y), which is exactly the NHWC order the trainer uses.
 *
 * @module
 */
import { GgmlType } from "../../ggml/ggml_types.ts";
import { dequantize, f32ToF16Bytes } from "../../ggml/quant.ts";
import type { Arch } from "./layers.ts";

/** Which tensor names, types and shapes a file gets. */
export type Layout = "seed" | "ggml";

/** Layouts for option parsing. */
export const LAYOUTS: readonly Layout[] = ["seed", "ggml"];

/** @returns the layout a plain `ggufc train ARCH` writes */
export function defaultLayout(arch: Arch): Layout {
  return arch === "cnn" ? "seed" : "ggml";
}

/** A tensor as it goes into the file; `values` are exactly what the file decodes to. */
export interface FileTensor {
  readonly name: string;
  readonly ne: number[];
  readonly type: GgmlType.F32 | GgmlType.F16;
  /** values in ggml order (F16 tensors already rounded to f16) */
  readonly values: Float32Array;
}

/** Shapes of a CNN, per arch. */
interface CnnGeometry {
  c1: number;
  c2: number;
  /** conv output width (= height) of each conv, for pre-broadcast biases */
  o1: number;
  o2: number;
}

function cnnGeometry(arch: Arch): CnnGeometry {
  return arch === "cnn" ? { c1: 32, c2: 64, o1: 26, o2: 11 } : { c1: 8, c2: 16, o1: 28, o2: 14 };
}

/** @returns the GGUF `general.architecture` of an arch */
export function ggufArchitecture(arch: Arch): string {
  return arch === "fc" ? "mnist-fc" : "mnist-cnn";
}

function roundF16(v: Float32Array): Float32Array {
  return dequantize(GgmlType.F16, f32ToF16Bytes(v), v.length);
}

/** wt[k][n] (input-major) -> ggml [k, n] with k fastest. */
function denseToGgml(wt: Float32Array, k: number, n: number): Float32Array {
  const out = new Float32Array(k * n);
  for (let i = 0; i < k; i++) for (let j = 0; j < n; j++) out[j * k + i] = wt[i * n + j]!;
  return out;
}

function denseFromGgml(g: Float32Array, k: number, n: number, kp = k): Float32Array {
  const out = new Float32Array(kp * n);
  for (let i = 0; i < k; i++) for (let j = 0; j < n; j++) out[i * n + j] = g[j * k + i]!;
  return out;
}

/** Conv wt[(ky*3+kx)*cin + ci][cout] -> ggml [3,3,cin,cout]: the same matrix read as [k][co]. */
function kernelToGgml(wt: Float32Array, cin: number, cout: number): Float32Array {
  const out = new Float32Array(9 * cin * cout);
  for (let co = 0; co < cout; co++) {
    for (let ci = 0; ci < cin; ci++) {
      for (let ky = 0; ky < 3; ky++) {
        for (let kx = 0; kx < 3; kx++) {
          out[kx + 3 * (ky + 3 * (ci + cin * co))] = wt[((ky * 3 + kx) * cin + ci) * cout + co]!;
        }
      }
    }
  }
  return out;
}

function kernelFromGgml(g: Float32Array, cin: number, cout: number): Float32Array {
  const kp = (9 * cin + 3) & ~3;
  const out = new Float32Array(kp * cout);
  for (let co = 0; co < cout; co++) {
    for (let ci = 0; ci < cin; ci++) {
      for (let ky = 0; ky < 3; ky++) {
        for (let kx = 0; kx < 3; kx++) {
          out[((ky * 3 + kx) * cin + ci) * cout + co] = g[kx + 3 * (ky + 3 * (ci + cin * co))]!;
        }
      }
    }
  }
  return out;
}

function broadcastBias(b: Float32Array, o: number): Float32Array {
  const out = new Float32Array(o * o * b.length);
  for (let c = 0; c < b.length; c++) out.fill(b[c]!, c * o * o, (c + 1) * o * o);
  return out;
}

function get(params: Map<string, Float32Array>, name: string): Float32Array {
  const v = params.get(name);
  if (!v) throw new Error(`missing parameter ${name}`);
  return v;
}

/**
 * Lays trained parameters out as the tensors of a file.
 *
 * @param arch the architecture
 * @param layout the file layout
 * @param params parameters as the trainer returns them
 * @returns tensors in file order
 * @example
 * ```ts ignore
 * const tensors = layoutTensors("cnn", "seed", result.params); // kernel1 (F16) ... dense_b
 * ```
 */
export function layoutTensors(
  arch: Arch,
  layout: Layout,
  params: Map<string, Float32Array>,
): FileTensor[] {
  const F32 = GgmlType.F32 as const, F16 = GgmlType.F16 as const;
  if (arch === "fc") {
    return [
      {
        name: "fc1.weight",
        ne: [784, 500],
        type: F32,
        values: denseToGgml(get(params, "fc1.weight"), 784, 500),
      },
      { name: "fc1.bias", ne: [500], type: F32, values: new Float32Array(get(params, "fc1.bias")) },
      {
        name: "fc2.weight",
        ne: [500, 10],
        type: F32,
        values: denseToGgml(get(params, "fc2.weight"), 500, 10),
      },
      { name: "fc2.bias", ne: [10], type: F32, values: new Float32Array(get(params, "fc2.bias")) },
    ];
  }
  const { c1, c2, o1, o2 } = cnnGeometry(arch);
  const k1 = kernelToGgml(get(params, "conv1.weight"), 1, c1);
  const k2 = kernelToGgml(get(params, "conv2.weight"), c1, c2);
  const b1 = get(params, "conv1.bias").slice(0, c1), b2 = get(params, "conv2.bias").slice(0, c2);
  const kd = (o2 >> 1) * (o2 >> 1) * c2;
  const dw = denseToGgml(get(params, "dense.weight"), kd, 10);
  const db = new Float32Array(get(params, "dense.bias"));
  if (layout === "seed") {
    return [
      { name: "kernel1", ne: [3, 3, 1, c1], type: F16, values: roundF16(k1) },
      { name: "bias1", ne: [o1, o1, c1, 1], type: F32, values: broadcastBias(b1, o1) },
      { name: "kernel2", ne: [3, 3, c1, c2], type: F16, values: roundF16(k2) },
      { name: "bias2", ne: [o2, o2, c2, 1], type: F32, values: broadcastBias(b2, o2) },
      { name: "dense_w", ne: [kd, 10], type: F32, values: dw },
      { name: "dense_b", ne: [10], type: F32, values: db },
    ];
  }
  return [
    { name: "conv1.kernel", ne: [3, 3, 1, c1], type: F32, values: k1 },
    { name: "conv1.bias", ne: [1, 1, c1], type: F32, values: b1 },
    { name: "conv2.kernel", ne: [3, 3, c1, c2], type: F32, values: k2 },
    { name: "conv2.bias", ne: [1, 1, c2], type: F32, values: b2 },
    { name: "dense.weight", ne: [kd, 10], type: F32, values: dw },
    { name: "dense.bias", ne: [10], type: F32, values: db },
  ];
}

/**
 * The inverse of {@link layoutTensors}: trainer parameters from a file's tensors (biases read
 * from the first position of a pre-broadcast bias). Used to score exactly what a file holds.
 *
 * @param arch the architecture
 * @param layout the file layout
 * @param tensors decoded tensors by name (values in ggml order)
 * @returns parameters by trainer name
 */
export function paramsFromTensors(
  arch: Arch,
  layout: Layout,
  tensors: Map<string, Float32Array>,
): Map<string, Float32Array> {
  const t = (name: string) => {
    const v = tensors.get(name);
    if (!v) throw new Error(`missing tensor ${name}`);
    return v;
  };
  if (arch === "fc") {
    return new Map([
      ["fc1.weight", denseFromGgml(t("fc1.weight"), 784, 500)],
      ["fc1.bias", new Float32Array(t("fc1.bias"))],
      ["fc2.weight", denseFromGgml(t("fc2.weight"), 500, 10)],
      ["fc2.bias", new Float32Array(t("fc2.bias"))],
    ]);
  }
  const { c1, c2, o1, o2 } = cnnGeometry(arch);
  const kd = (o2 >> 1) * (o2 >> 1) * c2;
  const n = layout === "seed"
    ? ["kernel1", "bias1", "kernel2", "bias2", "dense_w", "dense_b"]
    : ["conv1.kernel", "conv1.bias", "conv2.kernel", "conv2.bias", "dense.weight", "dense.bias"];
  const unbroadcast = (b: Float32Array, c: number, o: number) =>
    layout === "seed"
      ? Float32Array.from({ length: c }, (_, i) => b[i * o * o]!)
      : new Float32Array(b);
  return new Map([
    ["conv1.weight", kernelFromGgml(t(n[0]!), 1, c1)],
    ["conv1.bias", unbroadcast(t(n[1]!), c1, o1)],
    ["conv2.weight", kernelFromGgml(t(n[2]!), c1, c2)],
    ["conv2.bias", unbroadcast(t(n[3]!), c2, o2)],
    ["dense.weight", denseFromGgml(t(n[4]!), kd, 10)],
    ["dense.bias", new Float32Array(t(n[5]!))],
  ]);
}

/**
 * The seed's legacy FC file tensors. The seed's main.cpp feeds the legacy model RAW 0..255
 * pixels, while this trainer (and the GGUF) uses pixels / 255, so the 1/255 is folded into
 * fc1.weight here: W·(p/255) = (W/255)·p.
 *
 * @param tensors the fc file tensors from {@link layoutTensors}
 * @returns tensors for writeLegacyGgml (fc1.weight, fc1.bias, fc2.weight, fc2.bias)
 */
export function legacyFcTensors(tensors: FileTensor[]): { ne: number[]; data: Float32Array }[] {
  return tensors.map((t) => ({
    ne: t.ne,
    data: t.name === "fc1.weight" ? t.values.map((v) => v / 255) : t.values,
  }));
}
