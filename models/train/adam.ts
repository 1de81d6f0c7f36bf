/**
 * Adam (Kingma & Ba) with bias correction. Moments are f64 for a stable, exact update order;
 * each step computes, per parameter, in f64 and in this order:
 *
 *   m = b1·m + (1 − b1)·g;   v = b2·v + ((1 − b2)·g)·g;   w = f32(w − (a·m) / (√v + ε))
 *
 * with a = lr·√(1 − b2ᵗ) / (1 − b1ᵗ). Parameters in a {@link WasmKernels} memory are updated by
 * its SIMD kernel (two at a time, on every thread); it performs the same IEEE operations, so the
 * result is bit-identical to the plain loop used elsewhere.
 *
 * @module
 */
import type { WasmKernels } from "./gemm.ts";
import type { Param } from "./layers.ts";

/** The optimiser state of one net. */
export class Adam {
  readonly #m: Float64Array[];
  readonly #v: Float64Array[];
  readonly #kernels: WasmKernels | undefined;
  #b1t = 1;
  #b2t = 1;

  /**
   * @param params the parameters to update (their order is kept for {@link Adam.step})
   * @param kernels the kernel memory the parameters live in: moments go there too (optional)
   */
  constructor(
    params: readonly Param[],
    kernels?: WasmKernels,
    readonly b1 = 0.9,
    readonly b2 = 0.999,
    readonly eps = 1e-8,
  ) {
    const moments = (n: number) => kernels ? kernels.alloc64(n) : new Float64Array(n);
    this.#m = params.map((p) => moments(p.value.length));
    this.#v = params.map((p) => moments(p.value.length));
    this.#kernels = kernels;
  }

  /** @returns bytes of kernel memory the moments of `sizes` parameters take */
  static bytes(sizes: readonly number[]): number {
    return sizes.reduce((s, n) => s + 2 * ((n * 8 + 15) & ~15), 0);
  }

  /** One update of every parameter from its gradient. */
  step(params: readonly Param[], lr: number): void {
    const { b1, b2, eps } = this;
    this.#b1t *= b1, this.#b2t *= b2;
    const a = lr * Math.sqrt(1 - this.#b2t) / (1 - this.#b1t);
    const c1 = 1 - b1, c2 = 1 - b2;
    params.forEach((p, i) => {
      const m = this.#m[i]!, v = this.#v[i]!, w = p.value, g = p.grad;
      const loop = (from: number, to: number) => {
        for (let j = from; j < to; j++) {
          const gj = g[j]!;
          const mj = m[j] = b1 * m[j]! + c1 * gj;
          const vj = v[j] = b2 * v[j]! + c2 * gj * gj;
          w[j] = w[j]! - a * mj / (Math.sqrt(vj) + eps);
        }
      };
      if (this.#kernels && m.buffer === w.buffer) {
        this.#kernels.adam(w, g, m, v, [a, b1, c1, b2, c2, eps], loop);
      } else loop(0, w.length);
    });
  }
}
