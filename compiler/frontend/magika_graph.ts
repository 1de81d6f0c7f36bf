/**
 * Google's Magika file-type model (`standard_v1`) as ggml's `examples/magika` builds it
 * (`magika_graph` in main.cpp), op by op, from a {@link WeightSet} whose tensors carry the Keras
 * names `convert.py` keeps (`dense/kernel:0`, ...; data = kernel.T, so ne = the Keras shape).
 *
 * The input is 1536 byte tokens per file (see `compiler/emit/runtime/byte_tokens.ts`); where
 * main.cpp builds the one-hot [257,1536] on the CPU, this graph keeps it as a `one_hot` node, so
 * a pass can turn `mul_mat(dense/kernel, one_hot(tokens))` into a row gather.
 *
 * @module
 */
import { formatNe, type Graph, GraphBuilder, GraphError } from "../ir/graph.ts";
import type { WeightSet, WeightTensor } from "./weights.ts";

/**
 * The 113 content types in output order (main.cpp's `magika_labels`, equal to the model's
 * `target_labels_space`).
 */
export const MAGIKA_LABELS: readonly string[] = Object.freeze(
  `
ai apk appleplist asm asp batch bmp bzip c cab cat chm coff crx cs css csv deb dex dmg doc docx
elf emf eml epub flac gif go gzip hlp html ico ini internetshortcut iso jar java javabytecode
javascript jpeg json latex lisp lnk m3u macho makefile markdown mht mp3 mp4 mscompress msi mum
odex odp ods odt ogg outlook pcap pdf pebin pem perl php png postscript powershell ppt pptx python
pythonbytecode rar rdf rpm rst rtf ruby rust scala sevenzip shell smali sql squashfs svg swf
symlinktext tar tga tiff torrent ttf txt unknown vba wav webm webp winregistry wmf xar xls xlsb
xlsx xml xpi xz yaml zip zlibstream
`.trim().split(/\s+/),
);

/** Sizes and constants of standard_v1 (main.cpp's magika_hparams and its graph). */
export const MAGIKA = Object.freeze({
  /** Tokens per file (beg 512 + mid 512 + end 512; emit/runtime/byte_tokens.ts makes them). */
  tokens: 1536,
  /** One-hot depth: 256 byte values and the padding token 256. */
  depth: 257,
  /** Width of the first dense layer (dense/kernel:0 is [257, 128]). */
  embed: 128,
  /** ggml_reshape_3d(cur, 512, 384, n): four consecutive tokens' 128 features side by side. */
  groupWidth: 512,
  groups: 384,
  /** dense_1 and dense_2 widths. */
  hidden: 256,
  /** main.cpp's f_norm_eps, for both layer norms. */
  normEps: 0.001,
});

/** Tensor names of standard_v1 in the order main.cpp reads them. */
export const MAGIKA_TENSORS = [
  "dense/kernel:0",
  "dense/bias:0",
  "layer_normalization/gamma:0",
  "layer_normalization/beta:0",
  "dense_1/kernel:0",
  "dense_1/bias:0",
  "dense_2/kernel:0",
  "dense_2/bias:0",
  "layer_normalization_1/gamma:0",
  "layer_normalization_1/beta:0",
  "target_label/kernel:0",
  "target_label/bias:0",
] as const;

/** Matrices may be any type ggml's mul_mat takes; vectors (bias, gamma, beta) are f32 as convert.py writes them. */
const MATRIX_TYPES = ["f32", "f16", "bf16", "q4_0", "q4_1", "q5_0", "q5_1", "q8_0"] as const;
const VECTOR_TYPES = ["f32"] as const;

/**
 * Builds the Magika graph: tokens [1536, batch] -> probabilities [113, batch].
 *
 * @param w the model's weights (every tensor is checked for name, shape and type)
 * @param name the model name for the graph's meta
 * @param batch files per graph run (main.cpp's n_files)
 * @returns the graph, meta `{ layout: "magika", arch: "magika", inputKind: "byte-tokens", labels }`
 * @throws FormatError naming a tensor that is missing or has the wrong shape or type
 */
export function buildMagika(w: WeightSet, name: string, batch: number): Graph {
  const m = MAGIKA, n = batch, labels = MAGIKA_LABELS.length;
  const matrix = (t: string, ne: number[]) => w.get(t, ne, MATRIX_TYPES);
  const vector = (t: string, len: number) => w.get(t, [len], VECTOR_TYPES);
  const t = {
    denseW: matrix("dense/kernel:0", [m.depth, m.embed]),
    denseB: vector("dense/bias:0", m.embed),
    lnGamma: vector("layer_normalization/gamma:0", m.groups),
    lnBeta: vector("layer_normalization/beta:0", m.groups),
    dense1W: matrix("dense_1/kernel:0", [m.groupWidth, m.hidden]),
    dense1B: vector("dense_1/bias:0", m.hidden),
    dense2W: matrix("dense_2/kernel:0", [m.hidden, m.hidden]),
    dense2B: vector("dense_2/bias:0", m.hidden),
    ln1Gamma: vector("layer_normalization_1/gamma:0", m.hidden),
    ln1Beta: vector("layer_normalization_1/beta:0", m.hidden),
    labelW: matrix("target_label/kernel:0", [m.hidden, labels]),
    labelB: vector("target_label/bias:0", labels),
  };

  const b = new GraphBuilder();
  const weight = (x: WeightTensor) => b.weight(x.name, x.ne, x.type, w.finiteValues(x));
  // main.cpp's shape comments, checked after every step.
  const expect = (id: number, dims: readonly number[]): number => {
    const ne = b.node(id).ne, want = [0, 1, 2, 3].map((i) => dims[i] ?? 1);
    if (want.some((d, i) => d !== ne[i])) {
      throw new GraphError(b.node(id).name, `magika: expected ne [${dims}], built ${formatNe(ne)}`);
    }
    return id;
  };

  const tokens = b.input("tokens", [m.tokens, n]);
  let cur = expect(b.oneHot(tokens, m.depth, "one_hot"), [m.depth, m.tokens, n]);

  // dense
  cur = b.mulMat(weight(t.denseW), cur, "dense");
  cur = b.add_(cur, weight(t.denseB), "dense+b");
  cur = expect(b.gelu(cur, "dense.gelu"), [m.embed, m.tokens, n]);

  // reshape [128,1536,n] -> [512,384,n], then transpose + cont -> [384,512,n]
  cur = expect(b.reshape(cur, [m.groupWidth, m.groups, n], "reshape"), [m.groupWidth, m.groups, n]);
  cur = expect(b.cont(b.transpose(cur, "transpose"), "cont"), [m.groups, m.groupWidth, n]);

  // layer normalization over the 384 groups
  cur = b.norm(cur, m.normEps, "layer_norm");
  cur = b.mul(cur, weight(t.lnGamma), "layer_norm*gamma");
  cur = expect(b.add_(cur, weight(t.lnBeta), "layer_norm+beta"), [m.groups, m.groupWidth, n]);

  // dense_1
  cur = expect(b.cont(b.transpose(cur, "transpose_1"), "cont_1"), [m.groupWidth, m.groups, n]);
  cur = b.mulMat(weight(t.dense1W), cur, "dense_1");
  cur = b.add_(cur, weight(t.dense1B), "dense_1+b");
  cur = expect(b.gelu(cur, "dense_1.gelu"), [m.hidden, m.groups, n]);

  // dense_2
  cur = b.mulMat(weight(t.dense2W), cur, "dense_2");
  cur = b.add_(cur, weight(t.dense2B), "dense_2+b");
  cur = expect(b.gelu(cur, "dense_2.gelu"), [m.hidden, m.groups, n]);

  // global max pooling over the 384 positions
  cur = expect(b.cont(b.transpose(cur, "transpose_2"), "cont_2"), [m.groups, m.hidden, n]);
  const pool = { pool: "max" as const, k0: m.groups, s0: m.groups, p0: 0 };
  cur = expect(b.pool1d(cur, pool, "max_pool"), [1, m.hidden, n]);
  cur = expect(b.reshape(cur, [m.hidden, n], "reshape_1"), [m.hidden, n]);

  // layer normalization 1
  cur = b.norm(cur, m.normEps, "layer_norm_1");
  cur = b.mul(cur, weight(t.ln1Gamma), "layer_norm_1*gamma");
  cur = expect(b.add_(cur, weight(t.ln1Beta), "layer_norm_1+beta"), [m.hidden, n]);

  // target_label
  cur = b.mulMat(weight(t.labelW), cur, "target_label");
  cur = expect(b.add_(cur, weight(t.labelB), "logits"), [labels, n]);
  const probs = expect(b.softMax(cur, "target_label_probs"), [labels, n]);

  return b.build(tokens, probs, {
    layout: "magika",
    arch: "magika",
    name,
    inputKind: "byte-tokens",
    labels: MAGIKA_LABELS,
  });
}
