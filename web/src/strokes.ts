/**
 * A drawing as pen paths: the samples a pointer gave, and the smooth curve the pad draws through
 * them (quadratic curves through the midpoints of successive samples, with the samples as control
 * points). The pad paints that curve; preprocessing flattens the same curve, so the model sees the
 * shape the person saw.
 *
 * @module
 */

/** One pointer sample, in any unit (the pad uses canvas pixels). */
export interface StrokePoint {
  x: number;
  y: number;
  /** Pen pressure 0..1 where the device reports it; absent (or 0) where it does not. */
  pressure?: number;
}

/** One pen-down-to-pen-up path. */
export type Stroke = readonly StrokePoint[];

/** The pieces of the pad's path: a start point, then straight lines and quadratic curves. */
export type PathPiece =
  | { kind: "line"; to: StrokePoint }
  | { kind: "quad"; control: StrokePoint; to: StrokePoint };

function midpoint(a: StrokePoint, b: StrokePoint): StrokePoint {
  const p: StrokePoint = { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 };
  if (a.pressure !== undefined && b.pressure !== undefined) {
    return { ...p, pressure: (a.pressure + b.pressure) / 2 };
  }
  return p;
}

/**
 * The smooth path through a stroke's samples: from the first sample, quadratic curves through
 * every later midpoint with the samples as control points, then straight to the last sample.
 * A single sample is a dot (no pieces).
 *
 * @param stroke the samples, at least one
 * @returns the pieces after the start point `stroke[0]`
 */
export function strokePath(stroke: Stroke): PathPiece[] {
  const pieces: PathPiece[] = [];
  for (let i = 1; i < stroke.length - 1; i++) {
    pieces.push({ kind: "quad", control: stroke[i]!, to: midpoint(stroke[i]!, stroke[i + 1]!) });
  }
  if (stroke.length > 1) pieces.push({ kind: "line", to: stroke[stroke.length - 1]! });
  return pieces;
}

/**
 * Flattens a stroke's smooth path into a polyline whose segments are at most `step` long.
 * Pressure, where every sample has one, is interpolated along the path.
 *
 * @param stroke the samples, at least one
 * @param step the longest segment wanted, in the stroke's unit (> 0)
 * @returns the polyline; one point for a dot
 */
export function flattenStroke(stroke: Stroke, step: number): StrokePoint[] {
  if (stroke.length === 0) throw new Error("a stroke needs at least one point");
  if (!(step > 0)) throw new Error(`step must be > 0, got ${step}`);
  const withP = stroke.every((p) => p.pressure !== undefined);
  const lerp = (a: number, b: number, t: number) => a + (b - a) * t;
  let from = stroke[0]!;
  const out: StrokePoint[] = [withP ? from : { x: from.x, y: from.y }];
  for (const piece of strokePath(stroke)) {
    const c = piece.kind === "quad" ? piece.control : midpoint(from, piece.to);
    const to = piece.to;
    // The curve's speed is at most twice its longer control leg, so n steps of 1/n are short
    // enough.
    const leg = Math.max(
      Math.hypot(c.x - from.x, c.y - from.y),
      Math.hypot(to.x - c.x, to.y - c.y),
    );
    const n = Math.max(1, Math.ceil((2 * leg) / step));
    for (let k = 1; k <= n; k++) {
      const t = k / n, u = 1 - t;
      // A line is the quadratic with its control point halfway, so one formula serves both.
      const p: StrokePoint = {
        x: u * u * from.x + 2 * u * t * c.x + t * t * to.x,
        y: u * u * from.y + 2 * u * t * c.y + t * t * to.y,
      };
      if (withP) p.pressure = lerp(from.pressure!, to.pressure!, t);
      out.push(p);
    }
    from = to;
  }
  return out;
}
