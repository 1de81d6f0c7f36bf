/**
 * Counts the bytes a piece of code asks for through `new ArrayBuffer`, the typed-array
 * constructors and `new Array(n)`, by putting counting proxies in place of those globals while
 * it runs. Unlike heap or RSS figures, the count does not depend on the garbage collector or
 * on what else the machine does, so a test can bound it exactly: a reader that allocates from
 * a hostile count shows up as gigabytes requested, whatever the machine.
 *
 * Typed arrays over an existing buffer (views, subarray) cost nothing here, as they allocate
 * nothing; `Array.from` and literals are not counted (no reader sizes them from a header).
 *
 * @module
 */

const TYPED = [
  "Int8Array",
  "Uint8Array",
  "Uint8ClampedArray",
  "Int16Array",
  "Uint16Array",
  "Int32Array",
  "Uint32Array",
  "Float32Array",
  "Float64Array",
  "BigInt64Array",
  "BigUint64Array",
] as const;

type Global = Record<string, unknown>;

/** Bytes a constructor call allocates, from its arguments (0 for a view over a buffer). */
function bytesOf(name: string, args: unknown[], bytesPerElement: number): number {
  const a = args[0];
  if (name === "ArrayBuffer") return typeof a === "number" ? a : 0;
  if (name === "Array") return args.length === 1 && typeof a === "number" ? 8 * a : 8 * args.length;
  if (typeof a === "number") return a * bytesPerElement;
  if (
    a instanceof ArrayBuffer ||
    (typeof SharedArrayBuffer !== "undefined" && a instanceof SharedArrayBuffer)
  ) return 0;
  if (ArrayBuffer.isView(a)) return (a as unknown as { length: number }).length * bytesPerElement;
  if (Array.isArray(a)) return a.length * bytesPerElement;
  return 0;
}

/**
 * Runs `fn` and returns what it returned and the bytes it asked for.
 *
 * @param fn the code to measure (synchronous: the globals are restored when it returns)
 * @returns `{ result, bytes }`, or rethrows what `fn` threw with `bytes` attached as
 *   `allocatedBytes` on the thrown object when it is an object
 * @example
 * ```ts
 * import { countAllocations } from "./alloc_counter.ts";
 * const { bytes } = countAllocations(() => new Float32Array(1000));
 * console.log(bytes); // 4000
 * ```
 */
export function countAllocations<T>(fn: () => T): { result: T; bytes: number } {
  const g = globalThis as unknown as Global;
  const saved = new Map<string, unknown>();
  let bytes = 0;
  for (const name of [...TYPED, "ArrayBuffer", "Array"]) {
    const original = g[name] as { BYTES_PER_ELEMENT?: number } & (new (...a: unknown[]) => object);
    saved.set(name, original);
    const per = original.BYTES_PER_ELEMENT ?? 1;
    g[name] = new Proxy(original, {
      construct(target, args, newTarget) {
        bytes += bytesOf(name, args, per);
        // Keep subclasses working: construct with the subclass when there is one.
        return Reflect.construct(target, args, newTarget === g[name] ? target : newTarget);
      },
      apply(target, thisArg, args) {
        // Array(n) without new allocates as well.
        if (name === "Array") bytes += bytesOf(name, args, per);
        return Reflect.apply(target as unknown as (...a: unknown[]) => unknown, thisArg, args);
      },
    });
  }
  try {
    const result = fn();
    return { result, bytes };
  } catch (e) {
    if (typeof e === "object" && e !== null) {
      Object.defineProperty(e, "allocatedBytes", { value: bytes, configurable: true });
    }
    throw e;
  } finally {
    for (const [name, original] of saved) g[name] = original;
  }
}

/** The bytes recorded on an error thrown out of {@link countAllocations}. */
export function allocatedBytesOf(e: unknown): number {
  return (e as { allocatedBytes?: number } | undefined)?.allocatedBytes ?? 0;
}
