/**
 * Assertions for Deno.test built on `node:assert/strict` (Deno std is not reachable here).
 *
 * @module
 */
import nodeAssert from "node:assert/strict";

/** Throws unless `cond` is truthy. */
export function assert(cond: unknown, message = "assertion failed"): asserts cond {
  nodeAssert.ok(cond, message);
}

/** Deep equality (typed arrays compare element-wise). */
export function assertEquals<T>(actual: unknown, expected: T, message?: string): void {
  nodeAssert.deepStrictEqual(actual, expected, message);
}

/** |actual - expected| <= tol. */
export function assertClose(actual: number, expected: number, tol: number, message = ""): void {
  if (!(Math.abs(actual - expected) <= tol)) {
    throw new nodeAssert.AssertionError({
      message: `${message} expected ${expected} +- ${tol}, got ${actual}`.trim(),
    });
  }
}

/** Calls `fn`, expects it to throw an instance of `cls` whose message includes `includes`. */
export function assertThrows<E extends Error>(
  fn: () => unknown,
  cls: abstract new (...args: never[]) => E,
  includes?: string,
): E {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof cls)) {
      throw new nodeAssert.AssertionError({ message: `expected ${cls.name}, got ${e}` });
    }
    if (includes !== undefined && !e.message.includes(includes)) {
      throw new nodeAssert.AssertionError({
        message: `error message '${e.message}' lacks '${includes}'`,
      });
    }
    return e;
  }
  throw new nodeAssert.AssertionError({ message: `expected ${cls.name} to be thrown` });
}

/** Async version of {@link assertThrows}. */
export async function assertRejects<E extends Error>(
  fn: () => Promise<unknown>,
  cls: abstract new (...args: never[]) => E,
  includes?: string,
): Promise<E> {
  try {
    await fn();
  } catch (e) {
    if (!(e instanceof cls)) {
      throw new nodeAssert.AssertionError({ message: `expected ${cls.name}, got ${e}` });
    }
    if (includes !== undefined && !e.message.includes(includes)) {
      throw new nodeAssert.AssertionError({
        message: `error message '${e.message}' lacks '${includes}'`,
      });
    }
    return e;
  }
  throw new nodeAssert.AssertionError({ message: `expected ${cls.name} to be thrown` });
}
