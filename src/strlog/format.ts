// strlog formats: which printf conversions a message may use, and their
// expansion by the loggers. Pure functions.
//
// A strlog format takes %d %i %u %o %x %X %c %s, each with flags (- + space
// # 0), a decimal width, a decimal precision and the length modifier l, and
// %% for a percent sign. No floating point, no * width or precision, no
// positional arguments, no %n %p %m: the driver drops a message whose format
// has anything else (it is malformed). The expansion itself is the syslog
// library's printf (src/syslog/printf.ts), which prints these conversions as
// glibc does for C's int and long.

import { escapeText } from '../escape.js';
import { format as printf } from '../syslog/printf.js';

/** One argument of a message: an integer (int64) or a string. */
export type StrlogArg = number | bigint | string;

export type FormatCheck = { ok: true; conversions: number } | { ok: false; error: string };

const SPEC = /%([-+ #0]*)(\d*)(?:\.(\d*))?(l?)(.?)/y;
const CONVERSIONS = 'diuoxXcs';

/**
 * Check a format: only the conversions above. Returns how many arguments it
 * converts, or what is wrong with it (with its position).
 */
export function checkFormat(fmt: string): FormatCheck {
  let n = 0;
  let i = 0;
  for (;;) {
    const pct = fmt.indexOf('%', i);
    if (pct < 0) return { ok: true, conversions: n };
    if (fmt[pct + 1] === '%') {
      i = pct + 2;
      continue;
    }
    SPEC.lastIndex = pct;
    const m = SPEC.exec(fmt)!;
    const conv = m[5]!;
    if (conv === '') return { ok: false, error: `incomplete conversion at the end of the format (use %% for a percent sign)` };
    if (!CONVERSIONS.includes(conv)) {
      const what = /[eEfFgGaA]/.test(conv) ? ' (no floating point)' : conv === '*' ? ' (no * width or precision)' : '';
      return {
        ok: false,
        error: `unsupported conversion %${m[1]}${m[2]}${m[3] !== undefined ? '.' + m[3] : ''}${m[4]}${conv} at offset ${pct}${what}: strlog takes %d %i %u %o %x %X %c %s (with l, flags, width, precision) and %%`,
      };
    }
    // At most 999: a message cannot grow into a huge line (32 conversions).
    if (m[2]!.length > 3 || (m[3]?.length ?? 0) > 3) return { ok: false, error: `width or precision over 999 at offset ${pct}` };
    n++;
    i = SPEC.lastIndex;
  }
}

/** Whether an argument is one a strlog message can carry. */
export function isStrlogArg(a: unknown): a is StrlogArg {
  return typeof a === 'string' || typeof a === 'bigint' || (typeof a === 'number' && Number.isInteger(a));
}

/** One conversion of a strlog format, as far as its expanded size goes. */
interface Conversion {
  width: number;
  /** -1: no precision. */
  prec: number;
  conv: string;
}

const parsed = new Map<string, Conversion[] | null>();

/** The conversions of a strlog format, remembered (formats repeat: a
 * program has few); null when it is not a strlog format. */
function conversionsOf(fmt: string): Conversion[] | null {
  let c = parsed.get(fmt);
  if (c === undefined) {
    c = null;
    if (checkFormat(fmt).ok) {
      c = [];
      for (let i = fmt.indexOf('%'); i >= 0; i = fmt.indexOf('%', i)) {
        if (fmt[i + 1] === '%') {
          i += 2;
          continue;
        }
        SPEC.lastIndex = i;
        const m = SPEC.exec(fmt)!;
        c.push({ width: Number(m[2] || 0), prec: m[3] === undefined ? -1 : Number(m[3] || 0), conv: m[5]! });
        i = SPEC.lastIndex;
      }
    }
    if (parsed.size >= 4096) parsed.clear();
    parsed.set(fmt, c);
  }
  return c;
}

/** checkFormat(fmt).ok, remembered. */
export function formatOk(fmt: string): boolean {
  return conversionsOf(fmt) !== null;
}

/**
 * The most bytes (UTF-8) a message can expand to, from its format and the
 * shape of its arguments (`-1` for an integer, else a string's length in
 * bytes), without expanding it: the driver bounds what a sender makes the
 * loggers write with it (see LIMITS in strlogd(8)). Never less than the
 * real size; -1 when the format is not a strlog format. Width and
 * precision count code points (src/syslog/printf.ts), at most 4 bytes each.
 */
export function expandedBound(fmt: string, fmtBytes: number, args: readonly number[]): number {
  const convs = conversionsOf(fmt);
  if (convs === null) return -1;
  let n = fmtBytes;
  convs.forEach((c, i) => {
    const a = i < args.length ? args[i]! : c.conv === 's' ? 6 : -1; // missing: "(null)" or 0
    if (c.conv === 'c') n += Math.max(c.width, 4);
    else if (c.conv !== 's' || a < 0)
      n += Math.max(c.width, c.prec + 2, 24); // 64 bits in octal with # and a sign
    else {
      const used = c.prec >= 0 ? Math.min(a, 4 * c.prec) : a;
      n += used > 0 && c.width > 0 ? used + c.width : Math.max(used, c.width);
    }
  });
  return n;
}

/** expandedBound() of a message as a sender has it. */
export function messageBound(fmt: string, args: readonly unknown[]): number {
  return expandedBound(
    fmt,
    Buffer.byteLength(fmt),
    args.map((a) => (typeof a === 'string' ? Buffer.byteLength(a) : -1)),
  );
}

/**
 * The text of a message: its format expanded with its arguments. Missing
 * arguments print as 0 or "(null)", extra ones are ignored, a string given
 * to %d prints its numeric value (0 when it has none) and a number given to
 * %s its decimal digits. A format that is not a strlog format (the driver
 * never delivers one) is returned as it is.
 */
export function expand(fmt: string, args: readonly StrlogArg[]): string {
  if (!formatOk(fmt)) return fmt;
  if (args.length === 0 && !fmt.includes('%')) return fmt;
  return printf(fmt, args);
}

/**
 * The text as a logger writes it on one line: one trailing newline removed
 * (C programs end their formats with one), then every other C0 control
 * character shown as ^X (newline ^J, DEL ^?), as SVR4's loggers show them,
 * tab kept, so that a message can never forge a second line in a log; then
 * what else a terminal would obey (the C1 controls, U+009B being CSI, and
 * the bidirectional overrides) as escapeText() shows it: \x9b, \u{202e}.
 */
export function oneLine(text: string): string {
  let t = text.endsWith('\n') ? text.slice(0, -1) : text;
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x08\x0a-\x1f\x7f]/.test(t)) {
    // eslint-disable-next-line no-control-regex
    t = t.replace(/[\x00-\x08\x0a-\x1f\x7f]/g, (c) => (c === '\x7f' ? '^?' : '^' + String.fromCharCode(c.charCodeAt(0) + 64)));
  }
  return escapeText(t);
}
