// Assertions that also narrow a type for the compiler (tsconfig.json has
// noUncheckedIndexedAccess: an element read by index may be undefined until
// something proves it is there).
import assert from 'node:assert/strict';

/** A tuple of n elements of T: Tuple<string, 3> is [string, string, string]
 * (T[] when n is not a literal). */
export type Tuple<T, N extends number, R extends T[] = []> = number extends N ? T[] : R['length'] extends N ? R : Tuple<T, N, [...R, T]>;

/** assert.equal(a.length, n), which also tells the compiler that a[0] to
 * a[n - 1] are there. */
export function assertLength<T, N extends number>(a: readonly T[], n: N, message?: string): asserts a is Tuple<T, N> {
  assert.equal(a.length, n, message);
}
