/**
 * Peers for byte-token models (Magika): the same engines as the MNIST peers (onnxruntime-web,
 * onnxruntime-node 1 and 2 threads, TF.js wasm) fed the same 1536 tokens per file that the
 * compiled module and the interpreter see. ONNX peers run the project's own export (input
 * `tokens` int64 [N, 1536], a Gather for the embedding); the TF.js peer is built from the same
 * weights with TF.js ops (peers/tfjs_magika.ts).
 *
 * {@link createTokenPeers} checks each peer against the reference interpreter before handing it
 * out.
 *
 * @module
 */
import * as ort from "onnxruntime-web";
import * as ortNode from "onnxruntime-node";
import { type Graph, inputKind } from "../compiler/ir/graph.ts";
import { BYTE_TOKEN_COUNT } from "../compiler/emit/runtime/byte_tokens.ts";

export { checkTokens, type TokenPeer };
import { exportOnnx, ONNX_OUTPUT_NAME } from "../export/onnx.ts";
import { UsageError } from "../ggml/errors.ts";
import { argmax, runGraph } from "../reference/interpreter.ts";
import { configureOrtWeb } from "./ort_web.ts";
import { checkTokens, type PeerId, type TokenPeer } from "./peer.ts";
import { createTfjsMagikaPeer } from "./tfjs_magika.ts";

/**
 * int64 tokens for onnxruntime without BigInt work per value: each token's low 32-bit word is
 * the token, the high word 0 (tokens are 0..256; little-endian, as WASM and x86/ARM are).
 */
function int64Tokens(tokens: Int32Array, count: number): BigInt64Array {
  const n = count * BYTE_TOKEN_COUNT;
  const out = new BigInt64Array(n);
  const words = new Int32Array(out.buffer);
  for (let i = 0; i < n; i++) words[2 * i] = tokens[i]!;
  return out;
}

/** An onnxruntime session (web or node) on the model's ONNX export as a {@link TokenPeer}. */
function ortTokenPeer(
  id: PeerId,
  name: string,
  Tensor: typeof ort.Tensor,
  session: ort.InferenceSession,
  inputName: string,
): TokenPeer {
  return {
    id,
    name,
    async predictTokens(tokens, count) {
      checkTokens(tokens, count);
      const x = new Tensor("int64", int64Tokens(tokens, count), [count, BYTE_TOKEN_COUNT]);
      const out = (await session.run({ [inputName]: x }))[ONNX_OUTPUT_NAME]!;
      const data = (out.data as Float32Array).slice();
      out.dispose();
      return data;
    },
    dispose: () => session.release(),
  };
}

/**
 * Loads a byte-token `graph` into one peer, without verification.
 *
 * @param graph the model graph (any batch: peers run any number of files)
 * @param id which peer
 */
export async function createTokenPeer(graph: Graph, id: PeerId): Promise<TokenPeer> {
  if (inputKind(graph) !== "byte-tokens") {
    throw new UsageError(`${graph.meta.arch}: not a byte-token model`);
  }
  if (id === "tfjs-wasm") return await createTfjsMagikaPeer(graph);
  const onnx = exportOnnx(graph);
  if (id === "ort-web") {
    configureOrtWeb();
    const session = await ort.InferenceSession.create(onnx.bytes, {
      executionProviders: ["wasm"],
      graphOptimizationLevel: "all",
    });
    const version = ort.env.versions.web ?? "?";
    return ortTokenPeer(
      id,
      `onnxruntime-web ${version} (wasm, 1 thread)`,
      ort.Tensor,
      session,
      onnx.inputName,
    );
  }
  const threads = id === "ort-node-1t" ? 1 : 2;
  const session = await ortNode.InferenceSession.create(onnx.bytes, {
    executionProviders: ["cpu"],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: "sequential",
    graphOptimizationLevel: "all",
    logSeverityLevel: 3,
  });
  const version = ortNode.env.versions.node ?? ortNode.env.versions.common ?? "?";
  return ortTokenPeer(
    id,
    `onnxruntime-node ${version} (native CPU, ${threads} thread${threads === 1 ? "" : "s"})`,
    // Both packages' Tensor classes come from onnxruntime-common; the session checks the type.
    ortNode.Tensor as unknown as typeof ort.Tensor,
    session as unknown as ort.InferenceSession,
    onnx.inputName,
  );
}

/** Largest |p - p_interpreter| a peer may show (float32 in other summation orders). */
export const TOKEN_PEER_TOLERANCE = 1e-4;

/**
 * The reference interpreter's probabilities for `count` files of tokens.
 *
 * @param graph a byte-token graph built for batch 1
 */
export function tokenReference(graph: Graph, tokens: Int32Array, count: number): Float32Array {
  checkTokens(tokens, count);
  const labels = graph.nodes[graph.output]!.ne[0];
  const out = new Float32Array(count * labels);
  for (let i = 0; i < count; i++) {
    const x = Float32Array.from(tokens.subarray(i * BYTE_TOKEN_COUNT, (i + 1) * BYTE_TOKEN_COUNT));
    out.set(runGraph(graph, x), i * labels);
  }
  return out;
}

/**
 * Checks a peer against the interpreter's probabilities: the same top label (unless the two
 * labels are within {@link TOKEN_PEER_TOLERANCE}) and every |dp| within it.
 *
 * @returns the largest |dp|
 * @throws Error naming the peer, the file and the difference
 */
export async function verifyTokenPeer(
  peer: TokenPeer,
  tokens: Int32Array,
  count: number,
  reference: Float32Array,
): Promise<number> {
  const probs = await peer.predictTokens(tokens, count);
  const labels = reference.length / count;
  let worst = 0;
  for (let i = 0; i < count; i++) {
    const o = i * labels;
    const want = argmax(reference, o, labels), got = argmax(probs, o, labels);
    if (got !== want && reference[o + want]! - reference[o + got]! > TOKEN_PEER_TOLERANCE) {
      throw new Error(`${peer.name}: file ${i}: label ${got}, the interpreter's ${want}`);
    }
    for (let j = 0; j < labels; j++) {
      worst = Math.max(worst, Math.abs(probs[o + j]! - reference[o + j]!));
    }
  }
  if (!(worst <= TOKEN_PEER_TOLERANCE)) {
    throw new Error(`${peer.name}: |dp| ${worst} from the interpreter`);
  }
  return worst;
}

/**
 * Loads each requested peer and checks it against the interpreter on `tokens`.
 *
 * @param graph the model graph, batch 1
 * @param which peer ids
 * @param tokens files to check on (`count * 1536` tokens)
 * @param count how many files
 */
export async function createTokenPeers(
  graph: Graph,
  which: readonly PeerId[],
  tokens: Int32Array,
  count: number,
): Promise<TokenPeer[]> {
  const reference = tokenReference(graph, tokens, count);
  const peers: TokenPeer[] = [];
  try {
    for (const id of which) {
      const peer = await createTokenPeer(graph, id);
      peers.push(peer);
      await verifyTokenPeer(peer, tokens, count, reference);
    }
  } catch (e) {
    await Promise.all(peers.map((p) => p.dispose()));
    throw e;
  }
  return peers;
}
