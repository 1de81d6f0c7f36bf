/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
/**
 * A worker thread of {@link WasmKernels}: instantiates the GEMM kernel on the shared memory, then
 * serves the jobs posted on its control block (see gemm_threads.ts for the handshake).
 *
 * @module
 */
import { buildGemmModule, gemmChunked, type GemmFn } from "./gemm.ts";
import { serveJobs, type WorkerStart } from "./gemm_threads.ts";

self.onmessage = (e: MessageEvent<WorkerStart>) => {
  const { memory, ctrl, pages, seen } = e.data;
  const mod = new WebAssembly.Module(buildGemmModule(true, pages));
  const fn = new WebAssembly.Instance(mod, { env: { mem: memory } }).exports.gemm as GemmFn;
  self.postMessage("ready");
  serveJobs(ctrl, seen, (a) => {
    gemmChunked(fn, a[0]!, a[1]!, a[2]!, a[3]!, a[4]!, a[5]!, a[6]!, a[7]!, a[8]!, a[9]!);
  });
  self.close();
};
