/**
 * The compiler stages the pictures show, computed from a source graph with the compiler's own
 * pipeline ({@link planGraph}: graph passes, lowering to fused kernels, plan passes), so the
 * pictures always show what `ggufc compile` does.
 *
 * @module
 */
import type { Graph } from "../compiler/ir/graph.ts";
import { pipelinePassNames, planGraph } from "../compiler/mod.ts";
import type { CompiledStages } from "./plan_dot.ts";

/**
 * Runs the compiler's passes and planner on `graph`, keeping every stage.
 *
 * @param graph the graph as the frontend built it (batch 1)
 * @returns source, optimised graph, plan with memory placed, pass names
 * @throws CompileError when the graph has an op or shape the kernels do not cover
 */
export function compileStages(graph: Graph): CompiledStages {
  const { graph: optimized, plan } = planGraph(graph);
  const passes = pipelinePassNames();
  return { source: graph, optimized, plan, passes };
}
