/**
 * Peer: Magika in TF.js (wasm backend, SIMD, one thread), written with TF.js ops on the graph's
 * own weights the way a TF.js user would write the Keras model: an embedding gather for the
 * one-hot dense layer, layer norms over their axis with `tf.moments`, dense layers as fused
 * matMuls with Keras' `[in, out]` kernels (the stored kernel.T transposed back once at load:
 * tfjs-backend-wasm 4.22's fused matMul gives wrong results with `transposeB`), global max
 * pooling as `tf.max`.
 * gelu is the tanh form, as ggml's (and the interpreter's).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { type Graph, GraphError } from "../compiler/ir/graph.ts";
import { MAGIKA } from "../compiler/frontend/magika_graph.ts";
import { BYTE_TOKEN_COUNT } from "../compiler/emit/runtime/byte_tokens.ts";
import { initBackend } from "./tfjs.ts";
import { checkTokens, type TokenPeer } from "./peer.ts";

/** The graph's weight values by name, with their ggml ne. */
function weightsOf(
  graph: Graph,
): (name: string) => { ne: readonly number[]; values: Float32Array } {
  const byName = new Map<string, { ne: readonly number[]; values: Float32Array }>();
  for (const n of graph.nodes) {
    if (n.op.kind === "weight") byName.set(n.name, { ne: n.ne, values: n.op.values });
  }
  return (name) => {
    const w = byName.get(name);
    if (!w) throw new GraphError(name, "the TF.js Magika peer needs this weight");
    return w;
  };
}

/** gelu, tanh form: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
function gelu(x: tf.Tensor): tf.Tensor {
  const x3 = tf.mul(tf.mul(x, x), x); // not tf.pow: a negative base gives NaN there
  const inner = tf.mul(tf.add(x, tf.mul(x3, 0.044715)), Math.sqrt(2 / Math.PI));
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
}

/** Layer norm over `axis` (Keras LayerNormalization): (x - mean) / sqrt(var + eps) * g + b. */
function layerNorm(x: tf.Tensor, axis: number, gamma: tf.Tensor, beta: tf.Tensor): tf.Tensor {
  const { mean, variance } = tf.moments(x, axis, true);
  const y = tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, MAGIKA.normEps)));
  return tf.add(tf.mul(y, gamma), beta);
}

/**
 * Loads Magika's `graph` (the frontend's, from models/magika.gguf) into TF.js.
 *
 * @param graph the Magika graph (its weights are read by name)
 * @returns the peer
 */
export async function createTfjsMagikaPeer(graph: Graph): Promise<TokenPeer> {
  await initBackend();
  const w = weightsOf(graph);
  const m = MAGIKA;
  const labels = graph.nodes[graph.output]!.ne[0];
  const consts: tf.Tensor[] = [];
  const keep = <T extends tf.Tensor>(t: T): T => (consts.push(t), t);
  /** A Keras kernel [in, out] from its stored kernel.T (ggml ne [in, out]: a row per output). */
  const matrix = (name: string) => {
    const { ne, values } = w(name);
    return keep(tf.tidy(() => tf.transpose(tf.tensor2d(values, [ne[1]!, ne[0]!]))));
  };
  const vector = (name: string, shape: number[]) => keep(tf.tensor(w(name).values, shape));

  // The embedding table [257, 128] is the dense kernel (Keras [in, out]).
  const embedding = matrix("dense/kernel:0");
  const denseB = vector("dense/bias:0", [m.embed]);
  const lnGamma = vector("layer_normalization/gamma:0", [1, m.groups, 1]);
  const lnBeta = vector("layer_normalization/beta:0", [1, m.groups, 1]);
  const dense1W = matrix("dense_1/kernel:0"), dense1B = vector("dense_1/bias:0", [m.hidden]);
  const dense2W = matrix("dense_2/kernel:0"), dense2B = vector("dense_2/bias:0", [m.hidden]);
  const ln1Gamma = vector("layer_normalization_1/gamma:0", [m.hidden]);
  const ln1Beta = vector("layer_normalization_1/beta:0", [m.hidden]);
  const labelW = matrix("target_label/kernel:0"), labelB = vector("target_label/bias:0", [labels]);

  const dense = (x: tf.Tensor2D, kernel: tf.Tensor2D, bias: tf.Tensor) =>
    tf.fused.matMul({ a: x, b: kernel, bias });

  const forward = (tokens: tf.Tensor2D): tf.Tensor => {
    const n = tokens.shape[0];
    // [N, 1536] -> [N, 1536, 128]: the one-hot dense layer as a row gather.
    let x = gelu(tf.add(tf.gather(embedding, tokens), denseB));
    // Four tokens' 128 features side by side: [N, 384, 512]; norm over the 384 groups.
    x = layerNorm(tf.reshape(x, [n, m.groups, m.groupWidth]), 1, lnGamma, lnBeta);
    let h = tf.reshape(x, [n * m.groups, m.groupWidth]) as tf.Tensor2D;
    h = gelu(dense(h, dense1W, dense1B)) as tf.Tensor2D;
    h = gelu(dense(h, dense2W, dense2B)) as tf.Tensor2D;
    // Global max pooling over the 384 positions.
    const pooled = tf.max(tf.reshape(h, [n, m.groups, m.hidden]), 1);
    const normed = layerNorm(pooled, 1, ln1Gamma, ln1Beta) as tf.Tensor2D;
    return tf.softmax(dense(normed, labelW, labelB));
  };

  const simd = await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT");
  return {
    id: "tfjs-wasm",
    name: `TF.js ${tf.version_core} (wasm${simd ? " SIMD" : ""}, 1 thread)`,
    predictTokens(tokens, count) {
      checkTokens(tokens, count);
      const probs = tf.tidy(() => {
        const x = tf.tensor2d(
          tokens.subarray(0, count * BYTE_TOKEN_COUNT),
          [count, BYTE_TOKEN_COUNT],
          "int32",
        );
        return forward(x);
      });
      const data = probs.dataSync() as Float32Array;
      probs.dispose();
      return Promise.resolve(Float32Array.from(data));
    },
    dispose: () => {
      for (const t of consts) t.dispose();
      return Promise.resolve();
    },
  };
}
