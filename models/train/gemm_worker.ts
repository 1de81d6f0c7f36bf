/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
/**
 * A worker thread of {@link WasmKernels}: instantiates the GEMM kernel on the shared memory, then
 * serves the jobs posted on its control block (see gemm_threads.ts for the handshake).
 *
 * @module
 */
import { instantiateKernels, runJob } from "./gemm.ts";
import { serveJobs, type WorkerStart } from "./gemm_threads.ts";

self.onmessage = (e: MessageEvent<WorkerStart>) => {
  const { memory, ctrl, pages, seen } = e.data;
  const kernels = instantiateKernels(memory, true, pages);
  self.postMessage("ready");
  serveJobs(ctrl, seen, (args, f64) => runJob(kernels, args, f64));
  self.close();
};
