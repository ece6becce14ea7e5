/**
 * Bivariate moments (x: hours, y: a figure) for plog web's least-squares
 * lines, updated one point at a time (Welford's method, exact to rounding
 * where sums of squares would not be) and merged pairwise (Chan et al.),
 * as an object or stored in a Float64Array at an offset (stats.ts's blocks).
 *
 * An offset o (a, b) is that of a block's six numbers, arr[o..o+5], all
 * inside arr: hence the `arr[o + k]!` below.
 */
import type { Fit } from '../plog/readers/report.js';

/** Bivariate moments (x: hours, y: a figure), one point at a time or merged. */
export class Moments {
  n = 0;
  mx = 0;
  my = 0;
  cxx = 0;
  cxy = 0;
  cyy = 0;

  add(x: number, y: number): void {
    this.n++;
    const dx = x - this.mx;
    this.mx += dx / this.n;
    const dy = y - this.my;
    this.my += dy / this.n;
    this.cxx += dx * (x - this.mx);
    this.cxy += dx * (y - this.my);
    this.cyy += dy * (y - this.my);
  }

  /** Add the moments held at arr[o..o+5]! (a block's). */
  mergeFrom(arr: Float64Array, o: number): void {
    const nb = arr[o]!;
    if (nb === 0) return;
    if (this.n === 0) {
      this.n = nb;
      this.mx = arr[o + 1]!;
      this.my = arr[o + 2]!;
      this.cxx = arr[o + 3]!;
      this.cxy = arr[o + 4]!;
      this.cyy = arr[o + 5]!;
      return;
    }
    const na = this.n;
    const n = na + nb;
    const dx = arr[o + 1]! - this.mx;
    const dy = arr[o + 2]! - this.my;
    const w = (na * nb) / n;
    this.mx += (dx * nb) / n;
    this.my += (dy * nb) / n;
    this.cxx += arr[o + 3]! + dx * dx * w;
    this.cxy += arr[o + 4]! + dx * dy * w;
    this.cyy += arr[o + 5]! + dy * dy * w;
    this.n = n;
  }

  /** The line as report.ts's fitLine gives it, x counted from x0 (hours). */
  fit(x0: number): Fit | null {
    if (this.n < 2 || this.cxx === 0) return null;
    const slope = this.cxy / this.cxx;
    return { slopePerHour: slope, intercept: this.my - slope * (this.mx - x0), r2: this.cyy === 0 ? null : (this.cxy * this.cxy) / (this.cxx * this.cyy), n: this.n };
  }
}

/** Add a point to moments stored at arr[o..o+5]!. */
export function addAt(arr: Float64Array, o: number, x: number, y: number): void {
  const n = ++arr[o]!;
  const dx = x - arr[o + 1]!;
  arr[o + 1]! += dx / n;
  const dy = y - arr[o + 2]!;
  arr[o + 2]! += dy / n;
  arr[o + 3]! += dx * (x - arr[o + 1]!);
  arr[o + 4]! += dx * (y - arr[o + 2]!);
  arr[o + 5]! += dy * (y - arr[o + 2]!);
}

/** Merge the moments at arr[b..b+5]! into arr[a..a+5]!. */
export function mergeAt(arr: Float64Array, a: number, b: number): void {
  const na = arr[a]!;
  const nb = arr[b]!;
  if (nb === 0) return;
  if (na === 0) {
    for (let k = 0; k < 6; k++) arr[a + k] = arr[b + k]!;
    return;
  }
  const n = na + nb;
  const dx = arr[b + 1]! - arr[a + 1]!;
  const dy = arr[b + 2]! - arr[a + 2]!;
  const w = (na * nb) / n;
  arr[a + 1]! += (dx * nb) / n;
  arr[a + 2]! += (dy * nb) / n;
  arr[a + 3]! += arr[b + 3]! + dx * dx * w;
  arr[a + 4]! += arr[b + 4]! + dx * dy * w;
  arr[a + 5]! += arr[b + 5]! + dy * dy * w;
  arr[a] = n;
}
