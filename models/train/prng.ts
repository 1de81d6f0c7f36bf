/**
 * A small seeded PRNG for training: xoshiro128** (32-bit state words, seeded through splitmix32),
 * plus the draws training needs (uniform, Box-Muller normal, Fisher-Yates shuffle) and the
 * He / Glorot weight initialisers. Everything is integer or IEEE arithmetic in a fixed order, so
 * the same seed gives the same numbers on every machine.
 *
 * @module
 */

/** splitmix32 step: returns the next state and a well-mixed 32-bit output. */
function splitmix32(state: number): [number, number] {
  const s = (state + 0x9e3779b9) | 0;
  let z = s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return [s, (z ^ (z >>> 16)) >>> 0];
}

/**
 * xoshiro128** with a splitmix32-expanded seed.
 *
 * @example
 * ```ts
 * import { Rng } from "./prng.ts";
 * const r = new Rng(42);
 * const x = r.uniform(); // in [0, 1)
 * ```
 */
export class Rng {
  #s = new Uint32Array(4);
  #spare: number | undefined;

  /**
   * @param seed any 32-bit integer seed
   * @param stream an optional second number mixed into the seed (e.g. a step or shard index),
   *   giving independent streams from one user seed
   */
  constructor(seed: number, stream = 0) {
    let st = (seed ^ Math.imul(stream | 0, 0x632be5ab)) | 0;
    for (let i = 0; i < 4; i++) {
      const [next, out] = splitmix32(st);
      st = next;
      this.#s[i] = out;
    }
    if ((this.#s[0]! | this.#s[1]! | this.#s[2]! | this.#s[3]!) === 0) this.#s[0] = 1;
  }

  /** @returns the next 32-bit unsigned integer */
  nextU32(): number {
    const s = this.#s;
    const s1 = s[1]!;
    const r = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    s[2]! ^= s[0]!;
    s[3]! ^= s1;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return r;
  }

  /** @returns a uniform double in [0, 1) with 32 random bits */
  uniform(): number {
    return this.nextU32() / 4294967296;
  }

  /** @returns an integer uniform in [0, n) (n <= 2^32; rejection sampling, no modulo bias) */
  below(n: number): number {
    const limit = 4294967296 - (4294967296 % n);
    for (;;) {
      const x = this.nextU32();
      if (x < limit) return x % n;
    }
  }

  /** @returns a standard normal draw (Box-Muller; the second value of each pair is kept) */
  normal(): number {
    if (this.#spare !== undefined) {
      const v = this.#spare;
      this.#spare = undefined;
      return v;
    }
    const u1 = (this.nextU32() + 1) / 4294967297; // (0, 1]: log never sees 0
    const u2 = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    this.#spare = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  }

  /** Shuffles `a` in place (Fisher-Yates). @param a the array to shuffle */
  shuffle(a: Uint32Array | number[]): void {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.below(i + 1);
      const t = a[i]!;
      a[i] = a[j]!;
      a[j] = t;
    }
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/**
 * Fills `w` with He-normal values: N(0, 2 / fanIn), the usual init before a ReLU.
 *
 * @param rng the generator
 * @param w the weights to fill
 * @param fanIn inputs feeding each output
 */
export function heNormal(rng: Rng, w: Float32Array, fanIn: number): void {
  const std = Math.sqrt(2 / fanIn);
  for (let i = 0; i < w.length; i++) w[i] = rng.normal() * std;
}

/**
 * Fills `w` with Glorot-uniform values: U(-l, l), l = sqrt(6 / (fanIn + fanOut)) (Keras' default).
 *
 * @param rng the generator
 * @param w the weights to fill
 * @param fanIn inputs of the layer
 * @param fanOut outputs of the layer
 */
export function glorotUniform(rng: Rng, w: Float32Array, fanIn: number, fanOut: number): void {
  const l = Math.sqrt(6 / (fanIn + fanOut));
  for (let i = 0; i < w.length; i++) w[i] = (rng.uniform() * 2 - 1) * l;
}
