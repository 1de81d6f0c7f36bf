/**
 * File path to file: URL without Deno std (JSR is unreachable).
 *
 * @module
 */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

/**
 * An absolute file: URL for `path` (relative paths resolve against the working directory).
 *
 * @param path a file path
 * @returns the URL
 */
export function toFileUrl(path: string): URL {
  return pathToFileURL(resolve(path));
}
