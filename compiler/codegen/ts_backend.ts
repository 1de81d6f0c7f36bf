/**
 * The TypeScript backend: the plan printed as plain TypeScript over typed arrays, one function
 * per kernel call with every shape and offset a constant. It is the readable listing of what the
 * WASM backend does (same loops, same order of operations, without SIMD), and the target for
 * places without WebAssembly.
 *
 * The generated code runs over one `Float32Array` arena (`A`, plus an `Int32Array` view `I` for
 * scratch index lists) and one `Float32Array` of weights (`W`, `U` as bytes), which the module's
 * loader (compiler/emit/runtime/ts_loader.ts) declares and fills.
 *
 * @module
 */
import { type ConvKernel, type DenseKernel, type Plan, type PoolKernel } from "../plan/plan.ts";
import { WeightBlob } from "./weights_blob.ts";
import { denseQuantTs } from "./ts_dense_quant.ts";
import type { TsKernels } from "./backend_output.ts";

export type { BackendOutput } from "./backend_output.ts";

const FLT_MAX = "3.4028234663852886e38";

/**
 * Generates the TS backend for `plan`.
 *
 * @param plan a plan whose memory is placed
 * @returns the weights blob and the kernels' source (the loader is compiler/emit/runtime/ts_loader.ts)
 */
export function generateTs(plan: Plan): TsKernels {
  const blob = new WeightBlob();
  const fns: string[] = [];
  const calls: string[] = [];
  plan.kernels.forEach((k, i) => {
    const name = `k${i}_${k.kind}`;
    const src = k.kind === "conv2d"
      ? convTs(plan, k, blob)
      : k.kind === "pool2d"
      ? poolTs(plan, k)
      : k.quant // q8_0 / q4_0 weights (ts_dense_quant.ts)
      ? denseQuantTs(plan, k, blob)
      : denseTs(plan, k, blob);
    fns.push(`/** ${describe(k.nodes)} */\nfunction ${name}(): void {\n${src}\n}`);
    calls.push(`  ${name}();`);
  });
  const source = `const ACC = new Float32Array(${
    maxConvChannels(plan)
  }); // one conv output pixel, all channels

${fns.join("\n\n")}

function run(): void {
${calls.join("\n")}
}`;
  const notes = plan.kernels.map((k, i) =>
    `k${i}: ${
      k.kind === "dense"
        ? "dense over non-zero inputs"
        : k.kind === "conv2d"
        ? "direct convolution"
        : "pool"
    }`
  );
  return { target: "ts", weights: blob.bytes(), source, codeBytes: 0, notes };
}

/** A comment listing the fused nodes, JSON-escaped so no model string can end the comment. */
function describe(nodes: readonly string[]): string {
  return `fused: ${nodes.length} node(s)`;
}

function f(byteOffset: number): number {
  return byteOffset / 4;
}

function convTs(plan: Plan, k: ConvKernel, blob: WeightBlob): string {
  const I = k.input, O = k.output;
  const src = f(plan.buffers[k.src]!.offset), dst = f(plan.buffers[k.dst]!.offset);
  const w = f(blob.add(k.weights));
  const bias = k.bias.kind === "none" ? -1 : f(blob.add(k.bias.values));
  const p = k.pool ?? { pool: "max", k0: 1, k1: 1, s0: 1, s1: 1, p0: 0, p1: 0 };
  const init = k.bias.kind === "none"
    ? "0"
    : k.bias.kind === "channel"
    ? `W[${bias} + c]`
    : `W[${bias} + c + ${O.cp} * (x + ${k.convW} * y)]`;
  const combine = !k.pool
    ? `A[o + c] = v;`
    : p.pool === "max"
    ? `if (!(v <= A[o + c])) A[o + c] = v;`
    : `A[o + c] += v;`;
  return `  // conv ${k.kw}x${k.kh} stride ${k.s0},${k.s1} pad ${k.p0},${k.p1}: ${I.w}x${I.h}x${I.cp} -> ${O.w}x${O.h}x${O.cp}
  const acc = ACC;
  for (let oy = 0; oy < ${O.h}; oy++) {
    for (let ox = 0; ox < ${O.w}; ox++) {
      const o = ${dst} + ${O.cp} * (ox + ${O.w} * oy);
      for (let c = 0; c < ${O.cp}; c++) A[o + c] = ${
    k.pool ? (p.pool === "max" ? `-${FLT_MAX}` : "0") : "0"
  };
      for (let wy = 0; wy < ${p.k1}; wy++) {
        const y = oy * ${p.s1} + wy - ${p.p1};
        if (y < 0 || y >= ${k.computeH}) continue;
        for (let wx = 0; wx < ${p.k0}; wx++) {
          const x = ox * ${p.s0} + wx - ${p.p0};
          if (x < 0 || x >= ${k.computeW}) continue;
          // one conv output pixel (x, y), all channels
          for (let c = 0; c < ${O.cp}; c++) acc[c] = ${init};
          for (let ky = 0; ky < ${k.kh}; ky++) {
            const iy = y * ${k.s1} + ky * ${k.d1} - ${k.p1};
            if (iy < 0 || iy >= ${I.h}) continue;
            for (let kx = 0; kx < ${k.kw}; kx++) {
              const ix = x * ${k.s0} + kx * ${k.d0} - ${k.p0};
              if (ix < 0 || ix >= ${I.w}) continue;
              const i = ${src} + ${I.cp} * (ix + ${I.w} * iy);
              const wr = ${w} + ${I.cp * O.cp} * (kx + ${k.kw} * ky);
              for (let ci = 0; ci < ${I.cp}; ci++) {
                const v = A[i + ci];
                const r = wr + ci * ${O.cp};
                for (let c = 0; c < ${O.cp}; c++) acc[c] += v * W[r + c];
              }
            }
          }
          for (let c = 0; c < ${O.cp}; c++) {
            const v = ${k.relu ? "acc[c] < 0 ? 0 : acc[c]" : "acc[c]"};
            ${combine}
          }
        }
      }${
    k.pool?.pool === "avg"
      ? `\n      for (let c = 0; c < ${O.cp}; c++) A[o + c] /= ${p.k0 * p.k1};`
      : ""
  }
    }
  }`;
}

function poolTs(plan: Plan, k: PoolKernel): string {
  const I = k.input, O = k.output, p = k.pool;
  const src = f(plan.buffers[k.src]!.offset), dst = f(plan.buffers[k.dst]!.offset);
  return `  // ${p.pool} pool ${p.k0}x${p.k1} stride ${p.s0},${p.s1} pad ${p.p0},${p.p1}: ${I.w}x${I.h}x${I.cp} -> ${O.w}x${O.h}x${O.cp}
  for (let oy = 0; oy < ${O.h}; oy++) {
    for (let ox = 0; ox < ${O.w}; ox++) {
      const o = ${dst} + ${O.cp} * (ox + ${O.w} * oy);
      for (let c = 0; c < ${O.cp}; c++) A[o + c] = ${p.pool === "max" ? `-${FLT_MAX}` : "0"};
      for (let wy = 0; wy < ${p.k1}; wy++) {
        const y = oy * ${p.s1} + wy - ${p.p1};
        if (y < 0 || y >= ${I.h}) continue;
        for (let wx = 0; wx < ${p.k0}; wx++) {
          const x = ox * ${p.s0} + wx - ${p.p0};
          if (x < 0 || x >= ${I.w}) continue;
          const i = ${src} + ${I.cp} * (x + ${I.w} * y);
          for (let c = 0; c < ${O.cp}; c++) ${
    p.pool === "max" ? "if (!(A[i + c] <= A[o + c])) A[o + c] = A[i + c];" : "A[o + c] += A[i + c];"
  }
        }
      }${
    p.pool === "avg" ? `\n      for (let c = 0; c < ${O.cp}; c++) A[o + c] /= ${p.k0 * p.k1};` : ""
  }
    }
  }`;
}

function denseTs(plan: Plan, k: DenseKernel, blob: WeightBlob): string {
  const src = f(plan.buffers[k.src]!.offset), dst = f(plan.buffers[k.dst]!.offset);
  const idx = f(plan.buffers[k.scratch]!.offset);
  const w = f(blob.add(k.weights));
  const b = k.bias ? f(blob.add(k.bias)) : -1;
  const lines = [
    `  // dense ${k.k} -> ${k.m}: out[m] = bias[m] + sum over non-zero x[k] of x[k] * W[k][m]`,
    `  let n = 0;`,
    `  for (let k = 0; k < ${k.k}; k++) if (A[${src} + k] !== 0) I[${idx} + n++] = k;`,
    `  for (let m = 0; m < ${k.m}; m++) A[${dst} + m] = ${b >= 0 ? `W[${b} + m]` : "0"};`,
    `  for (let j = 0; j < n; j++) {`,
    `    const k = I[${idx} + j];`,
    `    const v = A[${src} + k];`,
    `    const r = ${w} + k * ${k.m};`,
    `    for (let m = 0; m < ${k.m}; m++) A[${dst} + m] += v * W[r + m];`,
    `  }`,
  ];
  if (k.relu) {
    lines.push(`  for (let m = 0; m < ${k.m}; m++) if (A[${dst} + m] < 0) A[${dst} + m] = 0;`);
  }
  if (k.softmax) {
    lines.push(
      `  let max = -Infinity;`,
      `  for (let m = 0; m < ${k.m}; m++) max = Math.max(max, A[${dst} + m]);`,
      `  let sum = 0;`,
      `  for (let m = 0; m < ${k.m}; m++) {`,
      `    const e = Math.fround(Math.exp(A[${dst} + m] - max));`,
      `    A[${dst} + m] = e;`,
      `    sum = Math.fround(sum + e);`,
      `  }`,
      `  for (let m = 0; m < ${k.m}; m++) A[${dst} + m] /= sum;`,
    );
  }
  return lines.join("\n");
}

/** Largest channel count of any conv, for the shared accumulator array `ACC`. */
export function maxConvChannels(plan: Plan): number {
  let c = 4;
  for (const k of plan.kernels) if (k.kind === "conv2d") c = Math.max(c, k.output.cp);
  return c;
}
