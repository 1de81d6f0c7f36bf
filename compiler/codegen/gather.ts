/**
 * Code for `gather` calls (a row lookup in a constant table), both targets: per index, clamp it
 * to the table (a NaN becomes 0), then copy one row (`memory.copy` in WASM).
 *
 * @module
 */
import { Fn, I32, OP } from "../../wasm/assembler.ts";
import type { GatherKernel, Plan } from "../plan/plan.ts";
import { floatIndex, type KernelCodegen } from "./kernel_codegen.ts";
import type { WeightBlob } from "./weights_blob.ts";
import { at } from "./wasm_shared.ts";

/** The gather family's code generators; the WASM strategy is the table's byte address. */
export const gatherCodegen: KernelCodegen<GatherKernel, number> = {
  kind: "gather",
  wasm: {
    scratchBytes: () => 0,
    prepare: (k, blob, base) => base + blob.add(k.table),
    fn: (k, table, _fma, ctx) => gatherFn(ctx.plan, k, table),
    describe: (k) => `gather: memory.copy of ${k.width * 4} bytes per index`,
  },
  ts: {
    accFloats: () => 0,
    source: gatherTs,
    describe: () => "gather, one row copy per index",
  },
};

function gatherFn(plan: Plan, k: GatherKernel, table: number): Fn {
  const f = new Fn();
  const n = f.local(I32), t = f.local(I32);
  const rowBytes = k.width * 4;
  f.for(n, 0, k.count, 1, () => {
    f.index(n, rowBytes, at(plan, k.dst)); // memory.copy's destination
    f.get(n).mulConst(4).f32Load(at(plan, k.src));
    f.f32(0).op(OP.f32Max).f32(k.rows - 1).op(OP.f32Min).i32TruncSatF32S().set(t);
    f.index(t, rowBytes, table); // source: the row
    f.i32(rowBytes).memoryCopy();
  });
  return f;
}

function gatherTs(k: GatherKernel, plan: Plan, blob: WeightBlob): string {
  const src = floatIndex(plan.buffers[k.src]!.offset),
    dst = floatIndex(plan.buffers[k.dst]!.offset);
  const table = floatIndex(blob.add(k.table));
  return `  // gather ${k.count} rows of ${k.width} from a ${k.rows}-row table (index clamped, NaN -> 0)
  for (let n = 0; n < ${k.count}; n++) {
    const t = Math.min(Math.max(A[${src} + n], 0), ${k.rows - 1}) | 0;
    A.set(W.subarray(${table} + t * ${k.width}, ${table} + (t + 1) * ${k.width}), ${dst} + n * ${k.width});
  }`;
}
