/**
 * Loading an emitted module by path (for `ggufc eval --module OUT.js`, tests and benchmarks).
 *
 * @module
 */
import { toBase64 } from "../codegen/base64.ts";
import { toFileUrl } from "./path_url.ts";
import type { EmittedModule } from "./emitted_module.ts";

export type { EmittedModule, EmittedPool } from "./emitted_module.ts";

/**
 * Imports an emitted `.ts` / `.js` / `.mjs` file and awaits its `load()`.
 *
 * @param path file path (relative to the working directory) or URL
 * @returns the loaded module
 * @example
 * ```ts ignore
 * import { loadEmittedModule } from "./load.ts";
 * const m = await loadEmittedModule("build/mnist.js");
 * console.log(m.predict(new Uint8Array(784)).digit);
 * ```
 */
export async function loadEmittedModule(path: string | URL): Promise<EmittedModule> {
  const url = path instanceof URL ? path : toFileUrl(path);
  const m = await import(url.href) as EmittedModule;
  if (typeof m.predict !== "function" || typeof m.load !== "function") {
    throw new Error(`${url.href} is not a module emitted by ggufc compile (no predict/load)`);
  }
  await m.load();
  return m;
}

/**
 * Imports emitted source text directly (a data: URL), without writing a file.
 *
 * @param source the module source (TypeScript is fine under Deno)
 * @param lang "ts" or "js"
 * @returns the loaded module
 */
export async function loadEmittedSource(
  source: string,
  lang: "ts" | "js" = "ts",
): Promise<EmittedModule> {
  const mime = lang === "ts" ? "application/typescript" : "text/javascript";
  const b64 = toBase64(new TextEncoder().encode(source));
  return await loadEmittedModule(new URL(`data:${mime};base64,${b64}`));
}
