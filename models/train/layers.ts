/**
 * Layers with their own buffers for a fixed batch size, and {@link Sequential}, a stack of them
 * with forward, backward and loss. Shapes per sample are `[h, w, c]` (NHWC, channel fastest).
 *
 * @module
 */
import { type Gemm, sparseScratchSize } from "./gemm.ts";
import {
  col2im,
  convDims,
  type ConvShape,
  denseBackward,
  denseForward,
  dropoutBackward,
  dropoutForward,
  im2col,
  maxPoolBackward,
  maxPoolForward,
  softmaxCrossEntropy,
  transpose,
} from "./ops.ts";
import { glorotUniform, heNormal, type Rng } from "./prng.ts";

/** Allocates zeroed f32 buffers (in the WASM kernel memory when training). */
export type Alloc = (n: number) => Float32Array;

/** A trainable tensor: its values and gradient, both in the layer's own layout. */
export interface Param {
  /** e.g. `conv1.weight` (the exporter maps it to the file's names) */
  readonly name: string;
  readonly value: Float32Array;
  readonly grad: Float32Array;
}

/** Per-sample activation shape `[h, w, c]`. */
export type Shape3 = readonly [number, number, number];

/** What a layer needs at run time. */
export interface RunContext {
  readonly gemm: Gemm;
  /** true in training (dropout active) */
  readonly train: boolean;
  /** uniform [0,1) draws for dropout */
  readonly uniform: () => number;
}

/** One layer of a {@link Sequential}. */
export interface Layer {
  readonly params: readonly Param[];
  readonly outShape: Shape3;
  /** output activations `[batch][...outShape]` */
  readonly y: Float32Array;
  /** gradient of the loss w.r.t. `y` */
  readonly dy: Float32Array;
  /** Initialises the parameters. */
  init(rng: Rng): void;
  forward(ctx: RunContext, x: Float32Array): void;
  /** Accumulates parameter gradients; writes (overwrites) `dx` when given. */
  backward(ctx: RunContext, x: Float32Array, dx: Float32Array | undefined): void;
}

function size(s: Shape3): number {
  return s[0] * s[1] * s[2];
}

/** A 3×3 stride-1 convolution with bias (He-normal init). */
export class Conv implements Layer {
  readonly params: Param[];
  readonly outShape: Shape3;
  readonly y: Float32Array;
  readonly dy: Float32Array;
  readonly #s: ConvShape;
  readonly #cols: Float32Array;
  readonly #dcols: Float32Array | undefined;
  readonly #wT: Float32Array;
  readonly #rows: number;
  readonly #kp: number;

  /**
   * @param name parameter prefix
   * @param alloc buffer allocator
   * @param batch batch size
   * @param inShape `[h, w, cin]`
   * @param cout output channels
   * @param pad zero padding
   * @param needDx whether an input gradient is needed (false for the first layer)
   */
  constructor(
    name: string,
    alloc: Alloc,
    batch: number,
    inShape: Shape3,
    cout: number,
    pad: number,
    needDx: boolean,
  ) {
    this.#s = { b: batch, h: inShape[0], w: inShape[1], cin: inShape[2], cout, pad, ks: 3 };
    const { oh, ow, rows, kp } = convDims(this.#s);
    this.#rows = rows, this.#kp = kp;
    this.outShape = [oh, ow, cout];
    this.params = [
      { name: `${name}.weight`, value: alloc(kp * cout), grad: alloc(kp * cout) },
      { name: `${name}.bias`, value: alloc(cout), grad: alloc(cout) },
    ];
    this.#cols = alloc(rows * kp);
    this.#dcols = needDx ? alloc(rows * kp) : undefined;
    this.#wT = alloc(kp * cout);
    this.y = alloc(rows * cout);
    this.dy = alloc(rows * cout);
  }

  init(rng: Rng): void {
    const { cin, cout } = this.#s;
    const w = this.params[0]!.value;
    const fanIn = 9 * cin;
    // Draw the real rows only; padding rows (k >= 9*cin) stay zero and get zero gradients.
    heNormal(rng, w.subarray(0, fanIn * cout), fanIn);
    this.params[1]!.value.fill(0);
  }

  forward(ctx: RunContext, x: Float32Array): void {
    im2col(this.#s, x, this.#cols);
    const [w, b] = this.params;
    denseForward(
      ctx.gemm,
      this.#cols,
      w!.value,
      b!.value,
      this.y,
      this.#rows,
      this.#kp,
      this.#s.cout,
    );
  }

  backward(ctx: RunContext, x: Float32Array, dx: Float32Array | undefined): void {
    void x;
    const [w, b] = this.params;
    const { cout } = this.#s;
    if (dx && this.#dcols) {
      transpose(w!.value, this.#wT, this.#kp, cout);
      this.#dcols.fill(0);
      denseBackward(
        ctx.gemm,
        this.#cols,
        this.dy,
        w!.grad,
        b!.grad,
        this.#rows,
        this.#kp,
        cout,
        this.#wT,
        this.#dcols,
      );
      dx.fill(0);
      col2im(this.#s, this.#dcols, dx);
    } else {
      denseBackward(ctx.gemm, this.#cols, this.dy, w!.grad, b!.grad, this.#rows, this.#kp, cout);
    }
  }
}

/** A fully connected layer over the flattened input (He init before a ReLU, else Glorot). */
export class Dense implements Layer {
  readonly params: Param[];
  readonly outShape: Shape3;
  readonly y: Float32Array;
  readonly dy: Float32Array;
  readonly #b: number;
  readonly #k: number;
  readonly #n: number;
  readonly #wT: Float32Array;
  readonly #he: boolean;
  readonly #sparse: Float32Array;

  /**
   * @param name parameter prefix
   * @param alloc buffer allocator
   * @param batch batch size
   * @param inShape per-sample input shape (flattened in its memory order)
   * @param n outputs
   * @param he He-normal init (a ReLU follows) instead of Glorot-uniform
   */
  constructor(
    name: string,
    alloc: Alloc,
    batch: number,
    inShape: Shape3,
    n: number,
    he: boolean,
  ) {
    this.#b = batch, this.#k = size(inShape), this.#n = n, this.#he = he;
    this.outShape = [1, 1, n];
    this.params = [
      { name: `${name}.weight`, value: alloc(this.#k * n), grad: alloc(this.#k * n) },
      { name: `${name}.bias`, value: alloc(n), grad: alloc(n) },
    ];
    this.#wT = alloc(this.#k * n);
    this.y = alloc(batch * n);
    this.dy = alloc(batch * n);
    // Every dense input here is pixels, ReLU, pooling or dropout output: mostly zeros.
    const k = this.#k;
    this.#sparse = alloc(sparseScratchSize(Math.max(batch, k), Math.min(batch, k)));
  }

  init(rng: Rng): void {
    const w = this.params[0]!.value;
    if (this.#he) heNormal(rng, w, this.#k);
    else glorotUniform(rng, w, this.#k, this.#n);
    this.params[1]!.value.fill(0);
  }

  forward(ctx: RunContext, x: Float32Array): void {
    const [w, b] = this.params;
    denseForward(ctx.gemm, x, w!.value, b!.value, this.y, this.#b, this.#k, this.#n, this.#sparse);
  }

  backward(ctx: RunContext, x: Float32Array, dx: Float32Array | undefined): void {
    const [w, b] = this.params;
    if (dx) {
      transpose(w!.value, this.#wT, this.#k, this.#n);
      dx.fill(0);
    }
    denseBackward(
      ctx.gemm,
      x,
      this.dy,
      w!.grad,
      b!.grad,
      this.#b,
      this.#k,
      this.#n,
      this.#wT,
      dx,
      this.#sparse,
    );
  }
}

/** ReLU (its own output buffer, so backward can read the forward output). */
export class Relu implements Layer {
  readonly params: Param[] = [];
  readonly outShape: Shape3;
  readonly y: Float32Array;
  readonly dy: Float32Array;
  readonly #n: number;

  /** @param alloc allocator @param batch batch size @param inShape per-sample shape */
  constructor(alloc: Alloc, batch: number, inShape: Shape3) {
    this.outShape = inShape;
    this.#n = batch * size(inShape);
    this.y = alloc(this.#n);
    this.dy = alloc(this.#n);
  }
  init(): void {}
  forward(ctx: RunContext, x: Float32Array): void {
    ctx.gemm.reluMask(this.y, x, x, this.#n); // = reluForward
  }
  backward(ctx: RunContext, _x: Float32Array, dx: Float32Array | undefined): void {
    if (!dx) return;
    ctx.gemm.reluMask(dx, this.dy, this.y, this.#n); // = reluBackward
  }
}

/** 2×2 stride-2 max-pool (floor). */
export class MaxPool implements Layer {
  readonly params: Param[] = [];
  readonly outShape: Shape3;
  readonly y: Float32Array;
  readonly dy: Float32Array;
  readonly #arg: Int32Array;
  readonly #in: { b: number; h: number; w: number; c: number };
  readonly #n: number;

  /** @param alloc allocator @param batch batch size @param inShape per-sample shape */
  constructor(alloc: Alloc, batch: number, inShape: Shape3) {
    this.#in = { b: batch, h: inShape[0], w: inShape[1], c: inShape[2] };
    this.outShape = [inShape[0] >> 1, inShape[1] >> 1, inShape[2]];
    this.#n = batch * size(this.outShape);
    this.y = alloc(this.#n);
    this.dy = alloc(this.#n);
    this.#arg = new Int32Array(this.#n);
  }
  init(): void {}
  forward(_ctx: RunContext, x: Float32Array): void {
    maxPoolForward(this.#in, x, this.y, this.#arg);
  }
  backward(_ctx: RunContext, _x: Float32Array, dx: Float32Array | undefined): void {
    if (!dx) return;
    dx.fill(0);
    maxPoolBackward(this.dy, this.#arg, dx, this.#n);
  }
}

/** Inverted dropout; the identity outside training. */
export class Dropout implements Layer {
  readonly params: Param[] = [];
  readonly outShape: Shape3;
  readonly y: Float32Array;
  readonly dy: Float32Array;
  readonly #mask: Float32Array;
  readonly #n: number;
  readonly #p: number;

  /** @param alloc allocator @param batch batch size @param inShape shape @param p drop rate */
  constructor(alloc: Alloc, batch: number, inShape: Shape3, p: number) {
    this.outShape = inShape;
    this.#n = batch * size(inShape);
    this.#p = p;
    this.y = alloc(this.#n);
    this.dy = alloc(this.#n);
    this.#mask = alloc(this.#n);
  }
  init(): void {}
  forward(ctx: RunContext, x: Float32Array): void {
    this.y.set(x.subarray(0, this.#n));
    if (ctx.train) dropoutForward(this.y, this.#mask, this.#n, this.#p, ctx.uniform);
    else this.#mask.fill(1);
  }
  backward(_ctx: RunContext, _x: Float32Array, dx: Float32Array | undefined): void {
    if (!dx) return;
    dx.set(this.dy.subarray(0, this.#n));
    dropoutBackward(dx, this.#mask, this.#n);
  }
}

/** A stack of layers ending in 10 logits, with softmax cross-entropy. */
export class Sequential {
  readonly layers: Layer[];
  readonly params: Param[];
  /** input buffer `[batch][28][28][1]` */
  readonly x: Float32Array;
  readonly batch: number;

  /**
   * @param layers the stack, built for `batch` samples reading `x`
   * @param x the input buffer
   * @param batch samples per call
   */
  constructor(layers: Layer[], x: Float32Array, batch: number) {
    this.layers = layers;
    this.params = layers.flatMap((l) => l.params);
    this.x = x;
    this.batch = batch;
  }

  /** Initialises every parameter from `rng`, layer by layer. */
  init(rng: Rng): void {
    for (const l of this.layers) l.init(rng);
  }

  /** @returns the logits buffer `[batch][10]` */
  get logits(): Float32Array {
    return this.layers[this.layers.length - 1]!.y;
  }

  /** Runs the layers on `this.x`. */
  forward(ctx: RunContext): void {
    let x = this.x;
    for (const l of this.layers) {
      l.forward(ctx, x);
      x = l.y;
    }
  }

  /**
   * Forward, loss and backward for one shard; parameter gradients are accumulated.
   *
   * @param ctx run context
   * @param labels labels of the rows in `x`
   * @param count real rows (the rest is padding)
   * @param denom the loss divisor (mini-batch size)
   * @returns summed loss and correct count over the real rows
   */
  trainStep(
    ctx: RunContext,
    labels: ArrayLike<number>,
    count: number,
    denom: number,
  ): { loss: number; correct: number } {
    this.forward(ctx);
    const last = this.layers[this.layers.length - 1]!;
    const r = softmaxCrossEntropy(this.logits, labels, last.dy, this.batch, count, 10, denom);
    for (let i = this.layers.length - 1; i >= 0; i--) {
      const l = this.layers[i]!;
      const x = i === 0 ? this.x : this.layers[i - 1]!.y;
      const dx = i === 0 ? undefined : this.layers[i - 1]!.dy;
      l.backward(ctx, x, dx);
    }
    return r;
  }
}

/** The three architectures `ggufc train` knows. */
export type Arch = "fc" | "cnn" | "cnn-small";

/** All architectures, for option parsing. */
export const ARCHS: readonly Arch[] = ["fc", "cnn", "cnn-small"];

/**
 * Builds an architecture for a fixed batch size.
 *
 * @param arch which net
 * @param alloc allocator for every buffer
 * @param batch samples per forward/backward call (a multiple of 4)
 * @returns the net (parameters uninitialised)
 */
export function buildNet(arch: Arch, alloc: Alloc, batch: number): Sequential {
  if (batch % 4 !== 0) throw new Error(`buildNet: batch ${batch} is not a multiple of 4`);
  const x = alloc(batch * 784);
  const layers: Layer[] = [];
  let shape: Shape3 = [28, 28, 1];
  const push = (l: Layer) => {
    layers.push(l);
    shape = l.outShape;
  };
  if (arch === "fc") {
    push(new Dense("fc1", alloc, batch, shape, 500, true));
    push(new Relu(alloc, batch, shape));
    push(new Dense("fc2", alloc, batch, shape, 10, false));
  } else if (arch === "cnn") {
    push(new Conv("conv1", alloc, batch, shape, 32, 0, false)); // 26×26×32
    push(new Relu(alloc, batch, shape));
    push(new MaxPool(alloc, batch, shape)); // 13×13×32
    push(new Conv("conv2", alloc, batch, shape, 64, 0, true)); // 11×11×64
    push(new Relu(alloc, batch, shape));
    push(new MaxPool(alloc, batch, shape)); // 5×5×64
    push(new Dropout(alloc, batch, shape, 0.5));
    push(new Dense("dense", alloc, batch, shape, 10, false)); // 1600 -> 10
  } else {
    push(new Conv("conv1", alloc, batch, shape, 8, 1, false)); // 28×28×8
    push(new Relu(alloc, batch, shape));
    push(new MaxPool(alloc, batch, shape)); // 14×14×8
    push(new Conv("conv2", alloc, batch, shape, 16, 1, true)); // 14×14×16
    push(new Relu(alloc, batch, shape));
    push(new MaxPool(alloc, batch, shape)); // 7×7×16
    push(new Dense("dense", alloc, batch, shape, 10, false)); // 784 -> 10
  }
  return new Sequential(layers, x, batch);
}
