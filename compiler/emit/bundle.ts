/**
 * OUT.ts -> OUT.js with esbuild: types stripped, target es2022, ESM. The emitted module already
 * inlines its WASM and weights as base64 (decoded with `atob` when `Uint8Array.fromBase64` is
 * missing, e.g. Node 20), so no esbuild loader is involved and the output runs everywhere.
 *
 * @module
 */

/**
 * Strips the types of an emitted module.
 *
 * @param source the emitted TypeScript
 * @returns JavaScript (ES2022 module), starting with the source's `// @generated` header
 * @example
 * ```ts ignore
 * import { bundleJs } from "./bundle.ts";
 * console.log(await bundleJs("export const x: number = 1;"));
 * ```
 */
export async function bundleJs(source: string): Promise<string> {
  // Imported on first use: loading esbuild costs ~0.2 s, which every other CLI command (all of
  // them import the compiler) would otherwise pay at start-up.
  const esbuild = await import("esbuild");
  try {
    const out = await esbuild.transform(source, {
      loader: "ts",
      format: "esm",
      target: "es2022",
      charset: "utf8",
      legalComments: "inline",
    });
    // esbuild drops ordinary comments; keep the "@generated" header line.
    const first = source.slice(0, source.indexOf("\n") + 1);
    return first.startsWith("// @generated") ? first + out.code : out.code;
  } finally {
    await esbuild.stop();
  }
}
