/**
 * Peer: onnxruntime-web with its WASM execution provider, one thread, no worker proxy, the
 * `.wasm` files loaded from the installed package (nothing fetched at run time). The model is
 * the project's own ONNX export of the graph.
 *
 * @module
 */
import * as ort from "onnxruntime-web";
import { pathToFileURL } from "node:url";
import type { Graph } from "../compiler/ir/graph.ts";
import { exportOnnx, ONNX_INPUT_NAME, ONNX_OUTPUT_NAME } from "../export/onnx.ts";
import { packageMainDir, type Peer, pixelPredictors } from "./peer.ts";

/** The onnxruntime API subset both ORT peers use (web and node share onnxruntime-common). */
interface OrtLike {
  readonly Tensor: typeof ort.Tensor;
}

let configured = false;

/** Points onnxruntime-web at its installed wasm files; single thread, no proxy worker. */
export function configureOrtWeb(): void {
  if (configured) return;
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
  // ort.node.min.mjs imports `ort-wasm-simd-threaded.mjs` from this prefix.
  ort.env.wasm.wasmPaths = pathToFileURL(packageMainDir("onnxruntime-web")).href;
  ort.env.logLevel = "error";
  configured = true;
}

/**
 * Wraps an onnxruntime session as a {@link Peer}: float32 input built from the pixels, the
 * `probabilities` output read back.
 *
 * @param id the peer id
 * @param name the display name
 * @param api the onnxruntime module (for its Tensor class)
 * @param session a session on the exported model
 * @param inputShape the model's input shape, batch first as -1
 */
export function ortPeer(
  id: Peer["id"],
  name: string,
  api: OrtLike,
  session: ort.InferenceSession,
  inputShape: readonly number[],
): Peer {
  const shapeOf = (count: number) => [count, ...inputShape.slice(1)];
  const run = async (x: Float32Array, count: number): Promise<Float32Array> => {
    const feeds = { [ONNX_INPUT_NAME]: new api.Tensor("float32", x, shapeOf(count)) };
    const out = await session.run(feeds);
    const probs = out[ONNX_OUTPUT_NAME]!;
    const data = probs.data as Float32Array;
    probs.dispose();
    return data;
  };
  return {
    id,
    name,
    ...pixelPredictors(run),
    dispose: () => session.release(),
  };
}

/**
 * Loads `graph` into onnxruntime-web (wasm, 1 thread).
 *
 * @param graph the model graph (its ONNX export is what runs)
 * @returns the peer
 * @example
 * ```ts ignore
 * import { createOrtWebPeer } from "./ort_web.ts";
 * const peer = await createOrtWebPeer(graph);
 * console.log(await peer.predict(image));
 * await peer.dispose();
 * ```
 */
export async function createOrtWebPeer(graph: Graph): Promise<Peer> {
  configureOrtWeb();
  const onnx = exportOnnx(graph);
  const session = await ort.InferenceSession.create(onnx.bytes, {
    executionProviders: ["wasm"],
    graphOptimizationLevel: "all",
  });
  const version = ort.env.versions.web ?? "?";
  return ortPeer(
    "ort-web",
    `onnxruntime-web ${version} (wasm, 1 thread)`,
    ort,
    session,
    onnx.inputShape,
  );
}
