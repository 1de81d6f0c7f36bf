/**
 * `ggufc graph MODEL -o OUT.(png|svg|dot)`: draws the model's graph at a compiler stage, with
 * no system tools (Graphviz and resvg run as WASM, the font ships in an npm package).
 *
 * @module
 */
import {
  checkOutputPath,
  choiceOption,
  type Command,
  MODEL_FILE,
  numberOption,
  parseCommandArgs,
  readInputFile,
  writeOutputFile,
} from "./command.ts";
import { printable, UsageError } from "../ggml/errors.ts";
import { loadModel } from "../compiler/frontend/mod.ts";
import { CompileError } from "../compiler/plan/plan.ts";
import { GRAPH_STAGES, type GraphFormat, type RankDir, renderGraph } from "../render/mod.ts";

const help =
  `usage: ggufc graph MODEL -o OUT.(png|svg|dot) [--stage STAGE] [--rankdir TB|LR] [--scale S]

Draws MODEL's computation graph (GGUF or the seed's legacy ggml file). The format follows
OUT's extension: DOT text, SVG (Graphviz, in-process) or PNG (rendered with a bundled font).

stages:
  source      the graph as the frontend built it (like ggml_graph_dump_dot): one record per
              node with name, op, shape (ggml ne order) and type; weights yellow, input blue,
              output green
  optimized   after the compiler's passes: fused kernels as one node listing the ops they
              absorbed, folded constants pink, edges labelled with layout and bytes (default)
  plan        kernel calls in execution order with each buffer's arena offset and size, and a
              memory strip (arena offset vs step) showing the reuse the planner found
  all         the three side by side

options:
  -o, --output FILE   where to write (.png, .svg or .dot)
  --stage STAGE       source | optimized | plan | all (default optimized)
  --rankdir DIR       TB (top to bottom, default) or LR (left to right)
  --scale S           PNG zoom, 0.25 to 8 (default 2: crisp on HiDPI screens)`;

/** The output format from a file name's extension. */
export function formatOf(path: string): GraphFormat {
  const ext = path.toLowerCase().match(/\.([a-z]+)$/)?.[1];
  if (ext === "png" || ext === "svg" || ext === "dot") return ext;
  if (ext === "gv") return "dot";
  throw new UsageError(`-o ${path}: the extension must be .png, .svg or .dot`);
}

/** The `graph` command. */
export const graphCommand: Command = {
  name: "graph",
  summary: "draw the graph (source, optimized, plan + memory strip) as PNG, SVG or DOT",
  help,
  async run(args) {
    const { values, positionals } = parseCommandArgs("graph", args, {
      output: { type: "string", short: "o" },
      stage: { type: "string" },
      rankdir: { type: "string" },
      scale: { type: "string" },
    });
    if (positionals.length !== 1) throw new UsageError("expected one MODEL file (see --help)");
    const out = values.output;
    if (out === undefined) throw new UsageError("-o OUT.(png|svg|dot) is required");
    const format = formatOf(out);
    const stage = choiceOption("stage", values.stage, GRAPH_STAGES) ?? "optimized";
    const rankdir = choiceOption<RankDir>("rankdir", values.rankdir?.toUpperCase(), [
      "TB",
      "LR",
    ]) ?? "TB";
    const scale = numberOption("scale", values.scale, 0.25, 8) ?? 2;

    const file = positionals[0]!;
    const inputs = [file];
    await checkOutputPath(out, { inputs });
    const { graph } = loadModel(await readInputFile(file, MODEL_FILE), file);
    let bytes: Uint8Array;
    try {
      bytes = await renderGraph(graph, { stage, format, rankdir, scale });
    } catch (e) {
      if (e instanceof CompileError) {
        throw new UsageError(`--stage ${stage}: ${e.message} (--stage source draws any graph)`);
      }
      throw e;
    }
    await writeOutputFile(out, bytes, { inputs });
    console.log(
      printable(`${out}: ${stage} graph of ${graph.meta.name}, ${format}, ${bytes.length} bytes`),
    );
  },
};
