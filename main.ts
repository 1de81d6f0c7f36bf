/**
 * `ggufc`: the command-line entry point (`deno task ggufc <command> ...`).
 *
 * User mistakes (a {@link UsageError} or {@link FormatError}) and failures of the operating
 * system ({@link IoError}) print one line on stderr and exit with their own code (2, 3, 4);
 * anything else is a bug and keeps its stack trace.
 *
 * @module
 */
import { commands } from "./cli/registry.ts";
import {
  EXIT_FORMAT_ERROR,
  EXIT_IO_ERROR,
  EXIT_USAGE_ERROR,
  FormatError,
  IoError,
  printable,
  UsageError,
} from "./ggml/errors.ts";
import { GraphError } from "./compiler/ir/graph.ts";

function usage(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  const lines = commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return [
    "ggufc: ahead-of-time compiler for GGUF models",
    "",
    "usage: deno task ggufc <command> [options]",
    "",
    "commands:",
    ...lines,
    "",
    "'ggufc <command> --help' describes a command.",
  ].join("\n");
}

/** Runs the CLI with `args`; returns the process exit code. */
export async function main(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    console.log(usage());
    return name === undefined ? EXIT_USAGE_ERROR : 0;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    console.error(
      `ggufc: unknown command '${name}'; commands: ${commands.map((c) => c.name).join(", ")}`,
    );
    return EXIT_USAGE_ERROR;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    console.log(command.help);
    return 0;
  }
  try {
    return (await command.run(rest)) ?? 0;
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(printable(`ggufc ${name}: ${e.message}`));
      return EXIT_USAGE_ERROR;
    }
    if (e instanceof FormatError || e instanceof GraphError) {
      // Node names come from model files: escape them like FormatError does.
      console.error(printable(`ggufc ${name}: ${e.message}`));
      return EXIT_FORMAT_ERROR;
    }
    if (e instanceof IoError) {
      console.error(printable(`ggufc ${name}: ${e.message}`));
      return EXIT_IO_ERROR;
    }
    throw e;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
