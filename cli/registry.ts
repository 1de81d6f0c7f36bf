/**
 * The list of `ggufc` commands. A new command is one file in cli/ and one line here.
 *
 * @module
 */
import type { Command } from "./command.ts";
import { runCommand } from "./run.ts";
import { startCommand } from "./start.ts";
import { evalCommand } from "./eval.ts";
import { convertCommand } from "./convert.ts";
import { trainCommand } from "./train.ts";
import { graphCommand } from "./graph.ts";
import { infoCommand } from "./info.ts";
import { exportCommand } from "./export.ts";
import { webCommand } from "./web.ts";
import { compileCommand } from "./compile.ts";

/** All commands, in the order `ggufc --help` lists them. */
export const commands: readonly Command[] = [
  startCommand,
  runCommand,
  evalCommand,
  convertCommand,
  trainCommand,
  graphCommand,
  infoCommand,
  exportCommand,
  webCommand,
  compileCommand,
];
