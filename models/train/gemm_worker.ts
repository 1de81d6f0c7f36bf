/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
/**
 * A worker thread of {@link WasmKernels}: instantiates the GEMM kernel on the shared memory, then
 * waits on its control block for row slices to compute (see gemm.ts).
 *
 * @module
 */
import { buildGemmModule, CTRL, gemmChunked, type GemmFn } from "./gemm.ts";

interface Start {
  memory: WebAssembly.Memory;
  ctrl: Int32Array;
  pages: number;
}

self.onmessage = (e: MessageEvent<Start>) => {
  const { memory, ctrl, pages } = e.data;
  const mod = new WebAssembly.Module(buildGemmModule(true, pages));
  const fn = new WebAssembly.Instance(mod, { env: { mem: memory } }).exports.gemm as GemmFn;
  self.postMessage("ready");
  let seq = Atomics.load(ctrl, CTRL.SEQ);
  for (;;) {
    Atomics.wait(ctrl, CTRL.SEQ, seq);
    seq = Atomics.load(ctrl, CTRL.SEQ);
    if (Atomics.load(ctrl, CTRL.STOP) === 1) break;
    const a = CTRL.ARGS;
    gemmChunked(
      fn,
      ctrl[a]!,
      ctrl[a + 1]!,
      ctrl[a + 2]!,
      ctrl[a + 3]!,
      ctrl[a + 4]!,
      ctrl[a + 5]!,
      ctrl[a + 6]!,
      ctrl[a + 7]!,
      ctrl[a + 8]!,
      ctrl[a + 9]!,
    );
    Atomics.store(ctrl, CTRL.DONE, seq);
    Atomics.notify(ctrl, CTRL.DONE);
  }
  self.close();
};
