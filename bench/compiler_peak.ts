/**
 * The machine's WebAssembly SIMD multiply-add peak, measured with a module built by the
 * project's own assembler (wasm/): a loop of 12 independent f32x4 accumulators, each updated as
 * `acc = acc * w + x` once per iteration from registers only (no memory traffic). Every
 * accumulator is its own dependency chain, so nothing can be hoisted or shared between them
 * (a shared `x * w` would be computed once by the optimiser), and 12 chains cover the FMA
 * latency, so the loop is bound by the vector FMA (or mul + add) throughput. The values
 * converge to x / (1 - w) = 2, far from denormals. Used by bench/compiler_latency.bench.ts and
 * BENCHMARKS.md as the ceiling the kernels are compared with.
 *
 * @module
 */
import { encodeModule, Fn, I32, OP, SIMD, V128 } from "../wasm/assembler.ts";

const ACC = 12;

/** Builds the peak loop: `peak(n)` runs n iterations of ACC f32x4 multiply-adds (4*ACC MACs). */
export function peakModule(fma: boolean): Uint8Array<ArrayBuffer> {
  const f = new Fn([I32], []);
  const i = f.local(I32);
  const x = f.local(V128), w = f.local(V128);
  const acc = Array.from({ length: ACC }, () => f.local(V128));
  f.f32x4Const(1).set(x).f32x4Const(0.5).set(w);
  for (const a of acc) f.f32x4Const(0).set(a);
  f.i32(0).set(i);
  f.loop(() => {
    for (const a of acc) {
      if (fma) f.get(a).get(w).get(x).simd(SIMD.f32x4RelaxedMadd).set(a);
      else f.get(a).get(w).simd(SIMD.f32x4Mul).get(x).simd(SIMD.f32x4Add).set(a);
    }
    f.get(i).addConst(1).tee(i).get(0).op(OP.i32LtS).brIf(0); // while (++i < n)
  });
  // Keep the accumulators alive: store their sum at address 0.
  f.i32(0);
  f.get(acc[0]!);
  for (const a of acc.slice(1)) f.get(a).simd(SIMD.f32x4Add);
  f.v128Store(0);
  return encodeModule({ imports: [["m", "exp"]], functions: [{ name: "peak", fn: f }], pages: 1 });
}

/**
 * Measures the peak in multiply-adds per nanosecond (best of `rounds`).
 *
 * @param fma use the relaxed-SIMD FMA (falls back to mul+add when the engine lacks it)
 * @param rounds repetitions
 * @returns MACs per ns and which instruction ran
 */
export async function measurePeak(
  fma = true,
  rounds = 7,
): Promise<{ macPerNs: number; kind: string }> {
  let bytes = peakModule(fma);
  let kind = fma ? "relaxed_madd" : "mul+add";
  if (!WebAssembly.validate(bytes)) {
    bytes = peakModule(false);
    kind = "mul+add";
  }
  const { instance } = await WebAssembly.instantiate(bytes, { m: { exp: Math.exp } });
  const peak = instance.exports.peak as (n: number) => void;
  const n = 2_000_000;
  peak(n); // tier up
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const t = performance.now();
    peak(n);
    best = Math.min(best, performance.now() - t);
  }
  return { macPerNs: (n * ACC * 4) / (best * 1e6), kind };
}

if (import.meta.main) {
  for (const fma of [true, false]) {
    const r = await measurePeak(fma);
    console.log(`${r.kind}: ${r.macPerNs.toFixed(2)} multiply-adds per ns`);
  }
}
