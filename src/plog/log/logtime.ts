// A text log's dates placed in time: its lines carry a local month, day and
// time of day but no year (plogsrvd(1), LOG FILES); assignTimes() gives each
// an absolute time (new years, daylight saving time, the year from the
// file's mtime or --year). Pure.
import type { TimeOptions } from './sample.js';

export interface WallClock {
  day: number;
  month: number;
  hour: number;
  minute: number;
  second: number | null;
  /** Absent or null when the line has no milliseconds. */
  millisecond?: number | null;
}

/** A wall clock packed into one number (a parser keeps one per sample, not an object). */
export function packClock(r: WallClock): number {
  return ((((r.month * 32 + r.day) * 24 + r.hour) * 60 + r.minute) * 60 + (r.second ?? 0)) * 1000 + (r.millisecond ?? 0);
}

function unpackClock(k: number): WallClock {
  const millisecond = k % 1000;
  k = (k - millisecond) / 1000;
  const second = k % 60;
  k = (k - second) / 60;
  const minute = k % 60;
  k = (k - minute) / 60;
  const hour = k % 24;
  k = (k - hour) / 24;
  const day = k % 32;
  return { month: (k - day) / 32, day, hour, minute, second, millisecond };
}

/** Day of the year, roughly (31 days a month): enough to compare dates of one year. */
const dayKey = (r: WallClock): number => r.month * 31 + r.day;

function localMs(year: number, r: WallClock): number {
  return new Date(year, r.month - 1, r.day, r.hour, r.minute, r.second ?? 0, r.millisecond ?? 0).getTime();
}

function sameWallClock(ms: number, r: WallClock): boolean {
  const d = new Date(ms);
  return d.getDate() === r.day && d.getMonth() + 1 === r.month && d.getHours() === r.hour && d.getMinutes() === r.minute;
}

/**
 * Absolute times for a text log's samples, whose dates are local
 * `MM-DD H:MM[:SS[.mmm]]` (or day-month) with no year.
 *
 * - Midnight needs nothing: every line carries its day and month.
 * - New year: samples are in time order, so a date that goes back by more
 *   than half a year from the previous sample's (31-12 -> 01-01) starts the
 *   next year. A smaller step back (a clock set back, the end of daylight
 *   saving time) stays in the same year.
 * - The year itself: `year` when given (the year of the first sample);
 *   otherwise the last sample is placed in the latest year that puts it no
 *   later than the anchor (+1 day of slack) — the anchor being the file's
 *   mtime, which is the time of the last write, i.e. of the last sample
 *   (a copy made later only moves it later, which the rule allows), or
 *   now when there is no file (standard input). Wrong only for a log copied
 *   more than a year after it was written, or with two samples more than
 *   half a year apart; --year fixes both.
 * - Daylight saving time: a wall-clock time repeated when clocks go back
 *   maps to its first occurrence; when that would put a sample before the
 *   previous one, the later occurrence of the same wall-clock time (up to
 *   2 h later) is taken. Times that do not exist (clocks going forward)
 *   move forward, as JavaScript's Date does.
 */
export function assignTimes(records: readonly WallClock[], opts: TimeOptions = {}): number[] {
  return assignPacked(records.map(packClock), opts);
}

/** assignTimes() of packed wall clocks (packClock). */
export function assignPacked(keys: readonly number[], opts: TimeOptions): number[] {
  const n = keys.length;
  // One record unpacked at a time: a long log keeps only its packed numbers.
  // Below, every index is in 0..n-1, and yearOffset and out are filled in order before they are read.
  const records = { at: (i: number): WallClock => unpackClock(keys[i]!) };
  if (n === 0) return [];
  const yearOffset: number[] = new Array<number>(n);
  yearOffset[0] = 0;
  for (let i = 1; i < n; i++) {
    const back = dayKey(records.at(i - 1)) - dayKey(records.at(i));
    yearOffset[i] = yearOffset[i - 1]! + (back > 183 ? 1 : 0);
  }
  let firstYear: number;
  if (opts.year !== undefined) {
    firstYear = opts.year;
  } else {
    const anchor = opts.anchorMs ?? Date.now();
    const limit = anchor + 86_400_000;
    const last = records.at(n - 1);
    let lastYear = new Date(anchor).getFullYear() + 1;
    while (localMs(lastYear, last) > limit) lastYear--;
    firstYear = lastYear - yearOffset[n - 1]!;
  }
  const out: number[] = new Array<number>(n);
  // Local time of the minute, cached: a fast log has hundreds of samples a minute.
  let cacheKey = NaN;
  let cacheMs = 0;
  for (let i = 0; i < n; i++) {
    const r = records.at(i);
    const inMinute = (r.second ?? 0) * 1000 + (r.millisecond ?? 0);
    const minuteKey = (keys[i]! - inMinute) * 10_000 + (firstYear + yearOffset[i]!);
    if (minuteKey !== cacheKey) {
      cacheKey = minuteKey;
      cacheMs = localMs(firstYear + yearOffset[i]!, { ...r, second: 0, millisecond: 0 });
    }
    let t = cacheMs + inMinute;
    if (i > 0 && t < out[i - 1]!) {
      // The second pass of a repeated hour: the same wall clock, later.
      for (let k = 1; k <= 8; k++) {
        const later = t + k * 15 * 60_000;
        if (later >= out[i - 1]! && sameWallClock(later, r)) {
          t = later;
          break;
        }
      }
    }
    out[i] = t;
  }
  return out;
}
