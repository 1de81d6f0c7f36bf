/**
 * Tests of the pictures: PNGs are valid and sized sanely, not blank, and text is drawn with the
 * bundled font (no system fonts).
 */
import assert from "node:assert/strict";
import { GraphBuilder } from "../compiler/ir/graph.ts";
import { sourceDot } from "../render/dot.ts";
import { dotToSvg, sideBySide, svgSize, svgToPng, svgToRgba } from "../render/render.ts";

/** Width and height from a PNG's IHDR chunk; throws if the bytes are not a PNG. */
function pngSize(png: Uint8Array): { width: number; height: number } {
  const sig = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  assert.deepEqual([...png.subarray(0, 8)], sig, "PNG signature");
  const v = new DataView(png.buffer, png.byteOffset, png.byteLength);
  assert.equal(v.getUint32(8), 13, "IHDR length");
  assert.equal(new TextDecoder().decode(png.subarray(12, 16)), "IHDR");
  return { width: v.getUint32(16), height: v.getUint32(20) };
}

/** Variance of the luminance of RGBA pixels. */
function lumaVariance(px: Uint8Array): number {
  let sum = 0, sq = 0;
  const n = px.length / 4;
  for (let i = 0; i < px.length; i += 4) {
    const y = 0.299 * px[i]! + 0.587 * px[i + 1]! + 0.114 * px[i + 2]!;
    sum += y;
    sq += y * y;
  }
  const mean = sum / n;
  return sq / n - mean * mean;
}

function smallGraph() {
  const b = new GraphBuilder();
  const x = b.input("images", [784, 1]);
  const w = b.weight("fc.weight", [784, 10], "f32", new Float32Array(7840));
  return b.build(x, b.softMax(b.mulMat(w, x, "fc"), "probs"), {
    layout: "demo",
    arch: "mnist-fc",
    name: "demo",
  });
}

Deno.test("svgToPng() writes a valid PNG of the SVG's size times the scale", async () => {
  const svg = await dotToSvg(sourceDot(smallGraph()));
  const { width, height } = svgSize(svg);
  for (const scale of [1, 2]) {
    const size = pngSize(await svgToPng(svg, { scale }));
    // Graphviz sizes are in pt; resvg draws 1 pt as 4/3 px. Rounding allows +-1 px.
    assert.ok(Math.abs(size.width - Math.ceil(width * 4 / 3 * scale)) <= 1, `w ${size.width}`);
    assert.ok(Math.abs(size.height - Math.ceil(height * 4 / 3 * scale)) <= 1, `h ${size.height}`);
    assert.ok(size.width > 100 && size.width < 4000 && size.height > 100 && size.height < 4000);
  }
});

Deno.test("A rendered graph is not blank", async () => {
  const img = await svgToRgba(await dotToSvg(sourceDot(smallGraph())));
  // A white page has variance 0; a graph of black text and lines on white is well above 100.
  const v = lumaVariance(img.pixels);
  assert.ok(v > 100, `luma variance ${v}`);
});

Deno.test("Labels are drawn with the bundled font, with no system fonts", async () => {
  const page = (text: string) =>
    `<svg xmlns="http://www.w3.org/2000/svg" width="200" height="40">` +
    `<text x="10" y="28" font-family="DejaVu Sans" font-size="20">${text}</text></svg>`;
  const blank = await svgToRgba(page(""));
  const label = await svgToRgba(page("conv_2d 28x28"));
  let dark = 0;
  for (let i = 0; i < label.pixels.length; i += 4) {
    assert.ok(blank.pixels[i]! > 250, "blank render is white");
    if (label.pixels[i]! < 128) dark++;
  }
  // 13 glyphs at 20 px cover several hundred dark pixels; missing fonts draw none.
  assert.ok(dark > 300, `${dark} dark pixels`);
});

Deno.test("sideBySide() places pictures left to right, tops aligned", async () => {
  const a = await dotToSvg("digraph { a -> b }");
  const b = await dotToSvg("digraph { c -> d -> e }");
  const both = sideBySide([a, b], 10);
  const sa = svgSize(a), sb = svgSize(b), s = svgSize(both);
  assert.equal(s.width, sa.width + 10 + sb.width);
  assert.equal(s.height, Math.max(sa.height, sb.height));
  const img = await svgToRgba(both);
  assert.ok(lumaVariance(img.pixels) > 50);
});
