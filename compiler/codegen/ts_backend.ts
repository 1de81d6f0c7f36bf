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
import type { Plan } from "../plan/plan.ts";
import { WeightBlob } from "./weights_blob.ts";
import type { TsKernels } from "./backend_output.ts";
import { codegenOf } from "./registry.ts";

export type { BackendOutput } from "./backend_output.ts";

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
    const src = codegenOf(k).ts.source(k, plan, blob);
    fns.push(`/** ${describe(k.nodes)} */\nfunction ${name}(): void {\n${src}\n}`);
    calls.push(`  ${name}();`);
  });
  const accFloats = Math.max(4, ...plan.kernels.map((k) => codegenOf(k).ts.accFloats(k)));
  const source = `const ACC = new Float32Array(${accFloats}); // one conv output pixel, all channels

${fns.join("\n\n")}

function run(): void {
${calls.join("\n")}
}`;
  const notes = plan.kernels.map((k, i) => `k${i}: ${codegenOf(k).ts.describe(k)}`);
  return { target: "ts", weights: blob.bytes(), source, codeBytes: 0, notes };
}

/** The comment above a call's function: how many graph nodes it fused (not their names, which come from the model file). */
function describe(nodes: readonly string[]): string {
  return `fused: ${nodes.length} node(s)`;
}
