/**
 * Magika's byte tokens (compiler/emit/runtime/byte_tokens.ts) against ggml's examples/magika:
 * hand-checked layouts for empty, short, exactly-512, 1025-byte and large files, and a
 * line-by-line transcription of main.cpp's three fread loops for every size up to 2100 bytes.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import {
  BLOCK_BYTES,
  BYTE_TOKEN_COUNT,
  fileTokens,
  PADDING_TOKEN,
  TOKEN_DEPTH,
} from "../compiler/emit/runtime/byte_tokens.ts";
import { MAGIKA } from "../compiler/frontend/magika_graph.ts";
import { rng } from "../testkit/random.ts";

/** Bytes 0, 1, 2, ... (mod 251, so no run lines up with the 512 block size). */
function counting(n: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => i % 251);
}

/** main.cpp's magika_eval, transcribed: fseek + fread and the three placement loops. */
function mainCppTokens(file: Uint8Array): number[] {
  const fsize = file.length;
  const fread = (offset: number, count: number) =>
    file.subarray(Math.min(offset, fsize), Math.min(fsize, offset + count));
  const buf = new Array<number>(1536).fill(256);
  let read = fread(0, 512);
  for (let j = 0; j < read.length; j++) buf[j] = read[j]!;
  // long mid_offs = std::max(0L, (fsize - mid_size) / 2); C division truncates toward zero
  const midOffs = Math.max(0, Math.trunc((fsize - 512) / 2));
  read = fread(midOffs, 512);
  for (let j = 0; j < read.length; j++) {
    buf[512 + 512 / 2 - Math.trunc(read.length / 2) + j] = read[j]!;
  }
  read = fread(Math.max(0, fsize - 512), 512);
  for (let j = 0; j < read.length; j++) buf[512 + 512 + 512 - read.length + j] = read[j]!;
  return buf;
}

Deno.test("fileTokens: the empty file is all padding", () => {
  const t = fileTokens(new Uint8Array(0));
  assertEquals(t.length, 1536);
  assert(t.every((v) => v === 256));
});

Deno.test("fileTokens: a 5-byte file appears at the start, centred in mid, right-aligned at the end", () => {
  const t = fileTokens(new Uint8Array([1, 2, 3, 4, 5]));
  const want = new Int32Array(1536).fill(256);
  want.set([1, 2, 3, 4, 5], 0);
  want.set([1, 2, 3, 4, 5], 766); // 512 + 256 - floor(5 / 2)
  want.set([1, 2, 3, 4, 5], 1531); // 1536 - 5
  assertEquals(t, want);
  // an even length: 4 bytes from 512 + 256 - 2
  assertEquals(Array.from(fileTokens(new Uint8Array([9, 8, 7, 6])).subarray(765, 771)), [
    256,
    9,
    8,
    7,
    6,
    256,
  ]);
});

Deno.test("fileTokens: exactly 512 bytes fill all three blocks with the whole file", () => {
  const f = counting(512);
  const t = fileTokens(f);
  for (const start of [0, 512, 1024]) {
    assertEquals(Array.from(t.subarray(start, start + 512)), Array.from(f));
  }
});

Deno.test("fileTokens: 1025 bytes read mid from offset 256 and end from offset 513", () => {
  const f = counting(1025);
  const t = fileTokens(f);
  assertEquals(Array.from(t.subarray(0, 512)), Array.from(f.subarray(0, 512)));
  assertEquals(Array.from(t.subarray(512, 1024)), Array.from(f.subarray(256, 768))); // trunc(513 / 2)
  assertEquals(Array.from(t.subarray(1024)), Array.from(f.subarray(513)));
});

Deno.test("fileTokens: a large random file gives its first, middle and last 512 bytes", () => {
  const r = rng(21);
  const f = Uint8Array.from({ length: 1_000_003 }, () => Math.floor(r() * 256));
  const t = fileTokens(f);
  const mid = Math.trunc((f.length - 512) / 2);
  assertEquals(Array.from(t.subarray(0, 512)), Array.from(f.subarray(0, 512)));
  assertEquals(Array.from(t.subarray(512, 1024)), Array.from(f.subarray(mid, mid + 512)));
  assertEquals(Array.from(t.subarray(1024)), Array.from(f.subarray(f.length - 512)));
});

Deno.test("fileTokens equals main.cpp's loops for every size 0..2100 and random large sizes", () => {
  const r = rng(22);
  const sizes = [...Array.from({ length: 2101 }, (_, i) => i), 4096, 65537, 100_000];
  for (const n of sizes) {
    const f = Uint8Array.from({ length: n }, () => Math.floor(r() * 256));
    const got = fileTokens(f);
    const want = mainCppTokens(f);
    for (let i = 0; i < 1536; i++) {
      if (got[i] !== want[i]) {
        throw new Error(`size ${n}: token ${i} is ${got[i]}, main.cpp ${want[i]}`);
      }
    }
  }
});

Deno.test("byte_tokens.ts imports nothing and agrees with the Magika frontend's sizes", async () => {
  const text = await Deno.readTextFile(
    new URL("../compiler/emit/runtime/byte_tokens.ts", import.meta.url),
  );
  assert(
    !/^\s*import\b/m.test(text) && !/\bimport\s*\(/.test(text),
    "byte_tokens.ts must not import",
  );
  assertEquals([BYTE_TOKEN_COUNT, TOKEN_DEPTH, PADDING_TOKEN, BLOCK_BYTES], [
    MAGIKA.tokens,
    MAGIKA.depth,
    256,
    512,
  ]);
});
