/**
 * Pen strokes traced from a 28x28 MNIST image, deterministically: threshold, thin to a
 * one-pixel skeleton (Zhang and Suen's two-subiteration thinning), walk the skeleton's 8-connected
 * pixels into polylines (straightest continuation first), and simplify them (Douglas-Peucker).
 * Replayed with a pen on the demo's pad at any size and place, they stand in for a person who
 * writes that test digit.
 *
 * @module
 */

/** A point in image pixels (pixel `i` spans `i..i+1`, so centres are at `i + 0.5`). */
export type TracePoint = [number, number];
/** One pen-down-to-pen-up polyline. */
export type TraceStroke = TracePoint[];

const SIDE = 28;
/** The 8 neighbours in clockwise order from north: P2..P9 of Zhang and Suen. */
const RING: readonly [number, number][] = [
  [0, -1],
  [1, -1],
  [1, 0],
  [1, 1],
  [0, 1],
  [-1, 1],
  [-1, 0],
  [-1, -1],
];

/** Thins a binary image in place to an 8-connected skeleton one pixel wide. */
function thin(bin: Uint8Array, w: number, h: number): void {
  const at = (x: number, y: number) => (x < 0 || y < 0 || x >= w || y >= h ? 0 : bin[x + w * y]!);
  for (let changed = true; changed;) {
    changed = false;
    for (const pass of [0, 1]) {
      const remove: number[] = [];
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          if (!bin[x + w * y]) continue;
          const p = RING.map(([dx, dy]) => at(x + dx, y + dy));
          const b = p.reduce((s, v) => s + v, 0);
          let a = 0;
          for (let i = 0; i < 8; i++) if (!p[i] && p[(i + 1) % 8]) a++;
          const [p2, , p4, , p6, , p8] = p;
          const ok = pass === 0
            ? !(p2 && p4 && p6) && !(p4 && p6 && p8)
            : !(p2 && p4 && p8) && !(p2 && p6 && p8);
          if (b >= 2 && b <= 6 && a === 1 && ok) remove.push(x + w * y);
        }
      }
      for (const i of remove) bin[i] = 0;
      if (remove.length > 0) changed = true;
    }
  }
}

/** Douglas-Peucker: drops points closer than `eps` to the line through their neighbours. */
function simplify(pts: TraceStroke, eps: number): TraceStroke {
  if (pts.length < 3) return pts;
  const [a, b] = [pts[0]!, pts[pts.length - 1]!];
  const dx = b[0] - a[0], dy = b[1] - a[1];
  const len = Math.hypot(dx, dy);
  let worst = -1, far = 0;
  for (let i = 1; i < pts.length - 1; i++) {
    const p = pts[i]!;
    const d = len > 0
      ? Math.abs(dy * (p[0] - a[0]) - dx * (p[1] - a[1])) / len
      : Math.hypot(p[0] - a[0], p[1] - a[1]);
    if (d > far) [far, worst] = [d, i];
  }
  if (far <= eps) return [a, b];
  return [
    ...simplify(pts.slice(0, worst + 1), eps).slice(0, -1),
    ...simplify(pts.slice(worst), eps),
  ];
}

/**
 * Traces one 28x28 image.
 *
 * @param pixels 784 values 0..255, row-major, white ink on black
 * @param threshold pixels above this are ink
 * @returns the strokes, in image pixels; none for an empty image
 */
export function traceDigit(pixels: ArrayLike<number>, threshold = 100): TraceStroke[] {
  if (pixels.length !== SIDE * SIDE) throw new Error(`expected 784 pixels, got ${pixels.length}`);
  const bin = new Uint8Array(SIDE * SIDE);
  for (let i = 0; i < bin.length; i++) bin[i] = pixels[i]! > threshold ? 1 : 0;
  thin(bin, SIDE, SIDE);

  const on = (x: number, y: number) =>
    x >= 0 && y >= 0 && x < SIDE && y < SIDE && bin[x + SIDE * y] === 1;
  const neighbours = (i: number): number[] => {
    const x = i % SIDE, y = (i / SIDE) | 0;
    return RING.filter(([dx, dy]) => on(x + dx, y + dy)).map(([dx, dy]) =>
      x + dx + SIDE * (y + dy)
    );
  };
  const edgeKey = (a: number, b: number) => (a < b ? a * 1024 + b : b * 1024 + a);
  const used = new Set<number>();
  const free = (i: number) => neighbours(i).filter((j) => !used.has(edgeKey(i, j)));
  const drawn = new Set<number>();

  /** Walks from `start` along unused edges, preferring the smallest turn. */
  const walk = (start: number): number[] => {
    const path = [start];
    let cur = start, dir: [number, number] | null = null;
    for (;;) {
      const options = free(cur);
      if (options.length === 0) return path;
      const cx = cur % SIDE, cy = (cur / SIDE) | 0;
      let best = options[0]!, bestScore = -Infinity;
      for (const j of options) {
        const v: [number, number] = [(j % SIDE) - cx, ((j / SIDE) | 0) - cy];
        const n = Math.hypot(v[0], v[1]);
        // Straightest first; at the start, 4-neighbours before diagonals (fixed tie-break).
        const score = dir ? (v[0] * dir[0] + v[1] * dir[1]) / n : -n;
        if (score > bestScore + 1e-9) [best, bestScore] = [j, score];
      }
      used.add(edgeKey(cur, best));
      const bx = best % SIDE, by = (best / SIDE) | 0;
      const n = Math.hypot(bx - cx, by - cy);
      dir = [(bx - cx) / n, (by - cy) / n];
      path.push(best);
      cur = best;
    }
  };

  const strokes: TraceStroke[] = [];
  const emit = (path: number[]) => {
    // A leftover edge between pixels already drawn (a corner of a staircase) adds no ink.
    if (path.length <= 2 && path.every((i) => drawn.has(i))) return;
    for (const i of path) drawn.add(i);
    const pts = path.map((i): TracePoint => [(i % SIDE) + 0.5, ((i / SIDE) | 0) + 0.5]);
    strokes.push(simplify(pts, 0.6));
  };
  // Ends of lines first (pixels with one neighbour), then junctions, then closed loops.
  const pixelsOn = [...bin.keys()].filter((i) => bin[i] === 1);
  const byDegree = (ok: (d: number) => boolean) => pixelsOn.filter((i) => ok(neighbours(i).length));
  for (const group of [byDegree((d) => d <= 1), byDegree((d) => d >= 3), pixelsOn]) {
    for (const i of group) {
      while (free(i).length > 0) emit(walk(i));
      if (neighbours(i).length === 0 && !drawn.has(i)) emit([i]); // an isolated dot
    }
  }
  return strokes;
}
