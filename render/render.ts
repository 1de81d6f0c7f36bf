/**
 * DOT -> SVG with Graphviz compiled to WASM (`@hpcc-js/wasm-graphviz`), SVG -> PNG with resvg
 * compiled to WASM (`@resvg/resvg-wasm`) and the DejaVu Sans TTF from `dejavu-fonts-ttf`, loaded
 * explicitly with system fonts off, so a picture looks the same on a machine with no fonts.
 * Both WASM modules are instantiated once, on first use.
 *
 * @module
 */
import { Graphviz } from "@hpcc-js/wasm-graphviz";
import { FONT_FAMILY } from "./dot.ts";

let graphviz: Promise<Graphviz> | undefined;

/**
 * Lays out DOT text with Graphviz and returns the SVG.
 *
 * @param dot DOT text
 * @returns SVG text (sizes in pt, 1 pt = 4/3 px)
 * @example
 * ```ts
 * import { dotToSvg } from "./render.ts";
 * const svg = await dotToSvg("digraph { a -> b }");
 * console.log(svg.includes("<svg")); // true
 * ```
 */
export async function dotToSvg(dot: string): Promise<string> {
  graphviz ??= Graphviz.load();
  return (await graphviz).dot(dot, "svg");
}

type ResvgModule = typeof import("@resvg/resvg-wasm");
let resvg: Promise<{ mod: ResvgModule; fonts: Uint8Array[] }> | undefined;

/** Loads the resvg WASM and the TTF fonts from their npm package directories, once. */
function loadResvg(): Promise<{ mod: ResvgModule; fonts: Uint8Array[] }> {
  resvg ??= (async () => {
    const [{ createRequire }, mod] = await Promise.all([
      import("node:module"),
      import("@resvg/resvg-wasm"),
    ]);
    const require = createRequire(import.meta.url);
    const wasm = await Deno.readFile(require.resolve("@resvg/resvg-wasm/index_bg.wasm"));
    await mod.initWasm(wasm);
    const fontDir = require.resolve("dejavu-fonts-ttf/package.json").replace(
      /package\.json$/,
      "ttf/",
    );
    const fonts = await Promise.all(
      ["DejaVuSans.ttf", "DejaVuSans-Bold.ttf"].map((f) => Deno.readFile(fontDir + f)),
    );
    return { mod, fonts };
  })();
  return resvg;
}

/** Options of {@link svgToPng} and {@link svgToRgba}. */
export interface RasterOptions {
  /** Zoom factor over the SVG's own size (default 1; 2 for a crisp picture on a HiDPI screen). */
  readonly scale?: number;
}

/** An RGBA raster: `pixels` holds width*height*4 bytes, rows top to bottom. */
export interface Rgba {
  readonly width: number;
  readonly height: number;
  readonly pixels: Uint8Array;
}

async function rasterise<T>(
  svg: string,
  opts: RasterOptions,
  take: (img: { asPng(): Uint8Array; width: number; height: number; pixels: Uint8Array }) => T,
): Promise<T> {
  const { mod, fonts } = await loadResvg();
  const r = new mod.Resvg(svg, {
    font: {
      fontBuffers: fonts,
      loadSystemFonts: false,
      defaultFontFamily: FONT_FAMILY,
      sansSerifFamily: FONT_FAMILY,
      serifFamily: FONT_FAMILY,
    },
    fitTo: { mode: "zoom", value: opts.scale ?? 1 },
    background: "white",
    shapeRendering: 2,
    textRendering: 1,
  });
  try {
    const img = r.render();
    try {
      return take(img);
    } finally {
      img.free();
    }
  } finally {
    r.free();
  }
}

/**
 * Renders SVG text to PNG bytes with the bundled DejaVu Sans font.
 *
 * @param svg SVG text
 * @param opts zoom factor
 * @returns the PNG file bytes
 * @example
 * ```ts
 * import { svgToPng } from "./render.ts";
 * const png = await svgToPng('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>');
 * console.log(png[1] === 0x50); // true ("PNG" signature)
 * ```
 */
export function svgToPng(svg: string, opts: RasterOptions = {}): Promise<Uint8Array> {
  return rasterise(svg, opts, (img) => img.asPng());
}

/**
 * Renders SVG text to RGBA pixels (for tests that look at what was drawn).
 *
 * @param svg SVG text
 * @param opts zoom factor
 * @returns width, height and pixels
 */
export function svgToRgba(svg: string, opts: RasterOptions = {}): Promise<Rgba> {
  return rasterise(svg, opts, (img) => ({
    width: img.width,
    height: img.height,
    pixels: img.pixels.slice(),
  }));
}

/** Width and height of an SVG in its user units (from its viewBox, else width/height). */
export function svgSize(svg: string): { width: number; height: number } {
  const open = svg.match(/<svg\b[^>]*>/)?.[0] ?? "";
  const vb = open.match(/viewBox="\s*([-\d.]+)[ ,]+([-\d.]+)[ ,]+([\d.]+)[ ,]+([\d.]+)\s*"/);
  if (vb) return { width: Number(vb[3]), height: Number(vb[4]) };
  const w = open.match(/\bwidth="([\d.]+)/), h = open.match(/\bheight="([\d.]+)/);
  return { width: Number(w?.[1] ?? 0), height: Number(h?.[1] ?? 0) };
}

/** The SVG with its XML prolog and doctype removed, ready to nest in another SVG. */
function nestable(svg: string): string {
  return svg.slice(svg.indexOf("<svg"));
}

/**
 * Places SVG pictures side by side (tops aligned) in one SVG, each nested at its own size.
 *
 * @param parts SVG texts, left to right
 * @param gap space between pictures in user units
 * @returns one SVG text
 */
export function sideBySide(parts: readonly string[], gap = 24): string {
  let x = 0, height = 0;
  const placed: string[] = [];
  for (const svg of parts) {
    const { width, height: h } = svgSize(svg);
    const inner = nestable(svg).replace(
      /<svg\b([^>]*)>/,
      (_, attrs: string) =>
        `<svg${
          attrs.replace(/\s(x|y|width|height)="[^"]*"/g, "")
        } x="${x}" y="0" width="${width}" height="${h}">`,
    );
    placed.push(inner);
    x += width + gap;
    height = Math.max(height, h);
  }
  const width = Math.max(0, x - gap);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" ` +
    `width="${width}pt" height="${height}pt" viewBox="0 0 ${width} ${height}">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    ...placed,
    "</svg>",
    "",
  ].join("\n");
}
