/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * Downloads of the 28x28 model input: a grey PNG (white ink on black, as MNIST) and the raw 784
 * bytes (row-major, index x + 28*y), exactly what an emitted module's `predict` takes.
 *
 * @module
 */

/** Saves `blob` under `name` through a temporary link. */
function save(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/**
 * Paints 784 grey values onto a 28x28 canvas (opaque, white on black).
 *
 * @param canvas a canvas whose backing size is 28x28
 * @param pixels 784 values 0..255
 */
export function paintInput(canvas: HTMLCanvasElement, pixels: Uint8Array): void {
  const ctx = canvas.getContext("2d")!;
  const img = ctx.createImageData(28, 28);
  for (let i = 0; i < 784; i++) {
    const v = pixels[i]!;
    img.data[4 * i] = img.data[4 * i + 1] = img.data[4 * i + 2] = v;
    img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

/**
 * Downloads the input as a 28x28 PNG.
 *
 * @param pixels 784 values 0..255
 * @param name file name
 */
export function downloadPng(pixels: Uint8Array, name: string): void {
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = 28;
  paintInput(canvas, pixels);
  canvas.toBlob((blob) => blob && save(blob, name), "image/png");
}

/**
 * Downloads the input as 784 raw bytes.
 *
 * @param pixels 784 values 0..255
 * @param name file name
 */
export function downloadRaw(pixels: Uint8Array, name: string): void {
  save(
    new Blob([pixels.slice() as Uint8Array<ArrayBuffer>], { type: "application/octet-stream" }),
    name,
  );
}
