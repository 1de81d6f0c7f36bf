/**
 * Peer: onnxruntime-node, ONNX Runtime's native CPU execution provider through its N-API
 * binding (the binary ships inside the npm package; Deno skips the package's install script,
 * which only fetches optional GPU libraries). Runs the project's own ONNX export of the graph.
 *
 * @module
 */
import * as ortNode from "onnxruntime-node";
import type { Graph } from "../compiler/ir/graph.ts";
import { exportOnnx } from "../export/onnx.ts";
import type { Peer } from "./peer.ts";
import { ortPeer } from "./ort_web.ts";

/**
 * Loads `graph` into onnxruntime-node with `threads` intra-op threads (inter-op 1, sequential).
 *
 * @param graph the model graph
 * @param threads intra-op threads: 1 or 2
 * @returns the peer
 * @example
 * ```ts ignore
 * import { createOrtNodePeer } from "./ort_node.ts";
 * const peer = await createOrtNodePeer(graph, 2);
 * console.log(await peer.predict(image));
 * await peer.dispose();
 * ```
 */
export async function createOrtNodePeer(graph: Graph, threads: 1 | 2): Promise<Peer> {
  const onnx = exportOnnx(graph);
  const session = await ortNode.InferenceSession.create(onnx.bytes, {
    executionProviders: ["cpu"],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: "sequential",
    graphOptimizationLevel: "all",
    logSeverityLevel: 3,
  });
  const version = ortNode.env.versions.node ?? ortNode.env.versions.common ?? "?";
  return ortPeer(
    threads === 1 ? "ort-node-1t" : "ort-node-2t",
    `onnxruntime-node ${version} (native CPU, ${threads} thread${threads === 1 ? "" : "s"})`,
    // Both packages' Tensor classes come from onnxruntime-common; the session checks the type.
    ortNode as unknown as Parameters<typeof ortPeer>[2],
    session as unknown as Parameters<typeof ortPeer>[3],
    onnx.inputShape,
  );
}
