/**
 * The list of `ggufc` commands. A new command is one file in cli/ and one line here.
 *
 * @module
 */
import type { Command } from "./command.ts";
import { convertCommand } from "./convert.ts";

/** All commands, in the order `ggufc --help` lists them. */
export const commands: readonly Command[] = [convertCommand];
