// Small parsers shared by the strlog programs' command lines. Pure.
import { FLAG_NAMES } from './constants.js';

/** A size in bytes: digits, optionally followed by k or m (KiB, MiB). */
export function parseBytes(s: string): number | null {
  const m = /^(\d{1,10})([kKmM]?)$/.exec(s);
  if (!m) return null;
  const n = Number(m[1]) * (m[2] === '' ? 1 : /k/i.test(m[2]!) ? 1024 : 1024 * 1024);
  return Number.isSafeInteger(n) ? n : null;
}

/** A decimal integer (optionally signed) within [lo, hi], or null. */
export function parseInteger(s: string, lo: number, hi: number): number | null {
  if (!/^[-+]?\d{1,19}$/.test(s)) return null;
  const n = Number(s);
  return n >= lo && n <= hi ? n : null;
}

/**
 * strlog -f: a comma list of error,trace,console,fatal,notify,warn,note, or
 * a number (decimal, or 0x hex) up to 0xffff.
 */
export function parseFlags(s: string): { ok: true; flags: number } | { ok: false; error: string } {
  if (/^(0x[0-9a-f]{1,4}|\d{1,5})$/i.test(s)) {
    const n = Number(s);
    if (n <= 0xffff) return { ok: true, flags: n };
  }
  let flags = 0;
  for (const word of s.split(',')) {
    const w = word.trim().toLowerCase();
    const f = FLAG_NAMES.find(([name]) => name === w);
    if (!f) return { ok: false, error: `unknown flag '${word}' (error, trace, console, fatal, notify, warn, note, or a number)` };
    flags |= f[1];
  }
  return { ok: true, flags };
}

/**
 * strlog's ARGs: an integer when the word is one (decimal, optionally
 * signed, or 0x hex), else the string itself.
 */
export function parseArg(s: string): number | bigint | string {
  if (/^[-+]?\d+$/.test(s)) {
    const b = BigInt(s);
    if (b >= -(1n << 63n) && b < 1n << 64n) return Number.isSafeInteger(Number(b)) ? Number(b) : b;
  } else if (/^0x[0-9a-f]+$/i.test(s)) {
    const b = BigInt(s);
    if (b < 1n << 64n) return Number.isSafeInteger(Number(b)) ? Number(b) : b;
  }
  return s;
}
