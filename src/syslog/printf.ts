// printf(3) for syslog(3) formats, pure and exact.
//
// syslog()'s format is a printf format plus %m, so C programmers porting a
// daemon can keep their format strings. The floating point conversions are
// computed from the exact binary value of the double with BigInt and rounded
// half-to-even at the last digit, which is what glibc does (in the default
// rounding mode); Number#toFixed rounds exact ties away from zero and would
// print 2.5 with %.0f as "3" where C prints "2".
//
// JavaScript values are not C types, so some choices are documented here:
// - %d/%i print the integer value of the argument (numbers are truncated
//   toward zero, bigints are exact); no 32-bit wrap-around, since a JS caller
//   passing 3e9 means 3e9. Length modifiers (hh h l ll L q j z Z t) are
//   accepted and ignored for signed conversions.
// - %u %o %x %X of a negative value print its two's complement in 32 bits,
//   or 8/16/64 bits with hh/h/l-like modifiers, as C would.
// - %s prints String(arg); null and undefined print "(null)" like glibc's
//   NULL. Width and precision count Unicode code points, not bytes.
// - %c takes a code point number or the first character of a string.
// - %m converts no argument and prints the words of the error in force,
//   with width and precision as %s (glibc: %.5m of EACCES is "Permi").
// - %n consumes its argument and prints nothing (no pointers to write to).
// - Missing arguments print as 0 / "(null)"; an unknown conversion is copied
//   through literally, as glibc does.

import { errorText } from '../errno.js';

interface Spec {
  flags: string;
  width: number | undefined;
  precision: number | undefined;
  length: string;
  conv: string;
}

const SPEC_RE = /%(?:(\d+)\$)?([-+ #0'I]*)(\*(?:\d+\$)?|\d+)?(?:\.(\*(?:\d+\$)?|\d*))?(hh|h|ll|l|L|q|j|z|Z|t)?([diouxXeEfFgGaAcsCSpnm%])/y;

/** A format string taken apart once: literal text, and conversions as SPEC_RE matched them. */
type Token = string | Conversion;
interface Conversion {
  pos: string | undefined;
  flags: string;
  widthS: string | undefined;
  precS: string | undefined;
  length: string;
  conv: string;
  /** No position, flags, width, precision or length: %d %i %s as they come. */
  plain: boolean;
}

function compile(fmt: string): Token[] {
  const tokens: Token[] = [];
  let lit = '';
  let i = 0;
  while (i < fmt.length) {
    const pct = fmt.indexOf('%', i);
    if (pct < 0) {
      lit += fmt.slice(i);
      break;
    }
    lit += fmt.slice(i, pct);
    SPEC_RE.lastIndex = pct;
    const m = SPEC_RE.exec(fmt);
    if (!m) {
      // Not a conversion glibc knows: print the '%' and go on (glibc prints
      // the whole unknown specification, which this amounts to).
      lit += '%';
      i = pct + 1;
      continue;
    }
    i = SPEC_RE.lastIndex;
    const [, pos, flags = '', widthS, precS, length = '', conv] = m;
    if (conv === '%') {
      lit += '%';
      continue;
    }
    if (lit !== '') tokens.push(lit);
    lit = '';
    tokens.push({ pos, flags, widthS, precS, length, conv: conv!, plain: pos === undefined && flags === '' && widthS === undefined && precS === undefined && length === '' });
  }
  if (lit !== '') tokens.push(lit);
  return tokens;
}

/** Formats already taken apart (a program uses few); forgotten all at once when full. */
const compiled = new Map<string, Token[]>();
const COMPILED_MAX = 512;

/**
 * Format like printf(3), with %m printing strerror(errno) for `errno` (an
 * errno number, a code such as 'ENOENT', or an Error: its code/errno, else
 * its message; undefined means 0, "Success").
 */
export function format(fmt: string, args: readonly unknown[] = [], errno?: unknown): string {
  let tokens = compiled.get(fmt);
  if (tokens === undefined) {
    tokens = compile(fmt);
    if (compiled.size >= COMPILED_MAX) compiled.clear();
    compiled.set(fmt, tokens);
  }
  let out = '';
  let next = 0; // index of the next sequential argument
  const argAt = (spec: string | undefined): unknown => {
    if (spec !== undefined) return args[Number(spec) - 1];
    return args[next++];
  };
  const star = (s: string): number | undefined => {
    // "*" or "*m$": the value comes from an int argument.
    const m = /^\*(\d+)\$$/.exec(s);
    const v = toInteger(m ? args[Number(m[1]) - 1] : args[next++]);
    return Number(v);
  };

  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k]!;
    if (typeof t === 'string') {
      out += t;
      continue;
    }
    const { pos, flags, widthS, precS, length, conv } = t;
    if (t.plain) {
      // The common cases without the general machinery: the same text.
      const a = args[next];
      if ((conv === 'd' || conv === 'i') && typeof a === 'number') {
        const v = Math.trunc(a);
        if (Number.isSafeInteger(v)) {
          next++;
          out += v === 0 ? '0' : String(v);
          continue;
        }
      } else if (conv === 's' && typeof a === 'string') {
        next++;
        out += a;
        continue;
      }
    }
    let width: number | undefined;
    let precision: number | undefined;
    let fl = flags;
    if (widthS !== undefined) {
      width = widthS.startsWith('*') ? star(widthS) : Number(widthS);
      if (width !== undefined && width < 0) {
        fl += '-';
        width = -width;
      }
    }
    if (precS !== undefined) {
      precision = precS.startsWith('*') ? star(precS) : Number(precS || '0');
      if (precision !== undefined && precision < 0) precision = undefined;
    }
    const spec: Spec = { flags: fl, width, precision, length, conv };
    if (conv === 'm') {
      // glibc prints %m as %s of strerror(errno): width and precision too.
      out += text(spec, errorText(errno));
      continue;
    }
    const arg = argAt(pos);
    out += convert(spec, arg);
  }
  return out;
}

function convert(spec: Spec, arg: unknown): string {
  switch (spec.conv) {
    case 'd':
    case 'i':
      return integer(spec, toInteger(arg), 10, false);
    case 'u':
      return integer(spec, unsigned(toInteger(arg), spec.length), 10, false);
    case 'o':
      return integer(spec, unsigned(toInteger(arg), spec.length), 8, false);
    case 'x':
      return integer(spec, unsigned(toInteger(arg), spec.length), 16, false);
    case 'X':
      return integer(spec, unsigned(toInteger(arg), spec.length), 16, true);
    case 'f':
    case 'F':
    case 'e':
    case 'E':
    case 'g':
    case 'G':
      return float(spec, toFloat(arg));
    case 'a':
    case 'A':
      return hexFloat(spec, toFloat(arg));
    case 'c':
    case 'C':
      return pad({ ...spec, precision: undefined }, toChar(arg));
    case 's':
    case 'S':
      // %s prints any argument as String() makes it, [object Object] included, as console.log's %s does not.
      // eslint-disable-next-line @typescript-eslint/no-base-to-string
      return text(spec, arg === null || arg === undefined ? '(null)' : String(arg));
    case 'p': {
      const v = toInteger(arg);
      if (v === 0n) return pad({ ...spec, precision: undefined }, '(nil)');
      return integer({ ...spec, flags: spec.flags + '#' }, unsigned(v, 'l'), 16, false);
    }
    case 'n':
      return '';
    default:
      return '';
  }
}

function toInteger(arg: unknown): bigint {
  if (typeof arg === 'bigint') return arg;
  if (typeof arg === 'number') return Number.isFinite(arg) ? BigInt(Math.trunc(arg)) : 0n;
  if (typeof arg === 'boolean') return arg ? 1n : 0n;
  if (typeof arg === 'string') {
    const n = Number(arg);
    if (Number.isFinite(n)) return BigInt(Math.trunc(n));
    try {
      return BigInt(arg.trim());
    } catch {
      return 0n;
    }
  }
  return 0n;
}

function toFloat(arg: unknown): number {
  if (typeof arg === 'number') return arg;
  if (typeof arg === 'bigint') return Number(arg);
  if (typeof arg === 'boolean') return arg ? 1 : 0;
  if (typeof arg === 'string') return Number(arg);
  if (arg === null || arg === undefined) return 0;
  return Number(arg);
}

function toChar(arg: unknown): string {
  if (typeof arg === 'string') return Array.from(arg)[0] ?? '';
  const n = Number(toInteger(arg));
  if (n < 0 || n > 0x10ffff) return String.fromCharCode(n & 0xff);
  return String.fromCodePoint(n);
}

/** Two's complement of a negative value in the width the C type would have. */
function unsigned(v: bigint, length: string): bigint {
  if (v >= 0n) return v;
  const bits = length === 'hh' ? 8 : length === 'h' ? 16 : length === '' ? 32 : 64;
  return BigInt.asUintN(bits, v);
}

function integer(spec: Spec, v: bigint, radix: number, upper: boolean): string {
  const neg = v < 0n;
  let digits = (neg ? -v : v).toString(radix);
  if (upper) digits = digits.toUpperCase();
  if (spec.precision !== undefined) {
    if (spec.precision === 0 && v === 0n) digits = '';
    if (digits.length < spec.precision) digits = '0'.repeat(spec.precision - digits.length) + digits;
  }
  let prefix = '';
  const signed = spec.conv === 'd' || spec.conv === 'i';
  if (neg) prefix = '-';
  else if (signed && spec.flags.includes('+')) prefix = '+';
  else if (signed && spec.flags.includes(' ')) prefix = ' ';
  if (spec.flags.includes('#')) {
    if (radix === 8 && !digits.startsWith('0')) digits = '0' + digits;
    if (radix === 16 && v !== 0n) prefix += upper ? '0X' : '0x';
  }
  // The 0 flag is ignored with a precision or with '-', as in C.
  const zero = spec.flags.includes('0') && !spec.flags.includes('-') && spec.precision === undefined;
  return justify(spec, prefix, digits, zero);
}

function justify(spec: Spec, prefix: string, body: string, zero: boolean): string {
  const w = spec.width ?? 0;
  if (w <= prefix.length) return prefix + body; // no width to fill: skip counting code points
  const len = prefix.length + Array.from(body).length;
  if (len >= w) return prefix + body;
  const fill = w - len;
  if (spec.flags.includes('-')) return prefix + body + ' '.repeat(fill);
  if (zero) return prefix + '0'.repeat(fill) + body;
  return ' '.repeat(fill) + prefix + body;
}

function pad(spec: Spec, s: string): string {
  return justify(spec, '', s, false);
}

/** %s (and %m): at most `precision` code points, padded to the width. */
function text(spec: Spec, s: string): string {
  return pad(spec, spec.precision === undefined ? s : Array.from(s).slice(0, spec.precision).join(''));
}

// ---- floating point ----

const f64 = new DataView(new ArrayBuffer(8));

/** Sign bit, and |x| as d / 10^s exactly (x finite). */
function decompose(x: number): { neg: boolean; d: bigint; s: number } {
  f64.setFloat64(0, x);
  const hi = f64.getUint32(0);
  const lo = f64.getUint32(4);
  const neg = hi >>> 31 === 1;
  const e = (hi >>> 20) & 0x7ff;
  let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let exp2: number;
  if (e === 0) exp2 = -1074;
  else {
    mant |= 1n << 52n;
    exp2 = e - 1075;
  }
  if (mant === 0n) return { neg, d: 0n, s: 0 };
  if (exp2 >= 0) return { neg, d: mant << BigInt(exp2), s: 0 };
  // m * 2^-k = m * 5^k / 10^k
  return { neg, d: mant * 5n ** BigInt(-exp2), s: -exp2 };
}

/** round(d / 10^s * 10^p), half to even. */
function scaleRound(d: bigint, s: number, p: number): bigint {
  if (p >= s) return d * 10n ** BigInt(p - s);
  const div = 10n ** BigInt(s - p);
  let q = d / div;
  const r2 = (d % div) * 2n;
  if (r2 > div || (r2 === div && q % 2n === 1n)) q += 1n;
  return q;
}

function fixedDigits(d: bigint, s: number, p: number, alt: boolean): string {
  let str = scaleRound(d, s, p).toString();
  if (p === 0) return str + (alt ? '.' : '');
  if (str.length <= p) str = '0'.repeat(p - str.length + 1) + str;
  return str.slice(0, str.length - p) + '.' + str.slice(str.length - p);
}

/** Digits of d/10^s rounded to p+1 significant digits, and the exponent. */
function expParts(d: bigint, s: number, p: number): { digits: string; exp: number } {
  if (d === 0n) return { digits: '0'.repeat(p + 1), exp: 0 };
  let exp = d.toString().length - 1 - s;
  let n = scaleRound(d, s, p - exp);
  let digits = n.toString();
  if (digits.length > p + 1) {
    // Rounding carried into a new digit (9.99 -> 10.0): exactly 10^(p+1).
    n /= 10n;
    digits = n.toString();
    exp += 1;
  }
  return { digits, exp };
}

function expString(digits: string, exp: number, alt: boolean, upper: boolean): string {
  const mant = digits.length > 1 || alt ? digits[0] + '.' + digits.slice(1) : digits;
  const e = Math.abs(exp).toString().padStart(2, '0');
  return mant + (upper ? 'E' : 'e') + (exp < 0 ? '-' : '+') + e;
}

function signPrefix(spec: Spec, neg: boolean): string {
  if (neg) return '-';
  if (spec.flags.includes('+')) return '+';
  if (spec.flags.includes(' ')) return ' ';
  return '';
}

function float(spec: Spec, x: number): string {
  const conv = spec.conv;
  const upper = conv === 'F' || conv === 'E' || conv === 'G';
  const alt = spec.flags.includes('#');
  if (!Number.isFinite(x)) {
    f64.setFloat64(0, x);
    const neg = f64.getUint32(0) >>> 31 === 1;
    const word = Number.isNaN(x) ? 'nan' : 'inf';
    return justify(spec, signPrefix(spec, neg), upper ? word.toUpperCase() : word, false);
  }
  const { neg, d, s } = decompose(x);
  const p = spec.precision ?? 6;
  let body: string;
  if (conv === 'f' || conv === 'F') {
    body = fixedDigits(d, s, p, alt);
  } else if (conv === 'e' || conv === 'E') {
    const { digits, exp } = expParts(d, s, p);
    body = expString(digits, exp, alt, upper);
  } else {
    // %g: P significant digits; style e if the exponent X < -4 or X >= P.
    const P = p === 0 ? 1 : p;
    const { digits, exp } = expParts(d, s, P - 1);
    if (P > exp && exp >= -4) body = fixedDigits(d, s, P - 1 - exp, alt);
    else body = expString(digits, exp, alt, upper);
    if (!alt) body = stripZeros(body);
  }
  const zero = spec.flags.includes('0') && !spec.flags.includes('-');
  return justify(spec, signPrefix(spec, neg), body, zero);
}

/** %g without '#': drop trailing zeros of the fraction, and a bare '.'. */
function stripZeros(body: string): string {
  const e = body.search(/[eE]/);
  let mant = e < 0 ? body : body.slice(0, e);
  const rest = e < 0 ? '' : body.slice(e);
  if (mant.includes('.')) mant = mant.replace(/0+$/, '').replace(/\.$/, '');
  return mant + rest;
}

/** %a: hexadecimal floating point as glibc prints it (0x1.8p+1). */
function hexFloat(spec: Spec, x: number): string {
  const upper = spec.conv === 'A';
  if (!Number.isFinite(x)) return float({ ...spec, conv: upper ? 'F' : 'f' }, x);
  f64.setFloat64(0, x);
  const hi = f64.getUint32(0);
  const lo = f64.getUint32(4);
  const neg = hi >>> 31 === 1;
  const e = (hi >>> 20) & 0x7ff;
  const frac = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo); // 52 bits = 13 hex digits
  let lead = e === 0 ? 0n : 1n;
  const exp = e === 0 ? (frac === 0n ? 0 : -1022) : e - 1023;
  let hex: string;
  if (spec.precision !== undefined && spec.precision < 13) {
    const drop = BigInt((13 - spec.precision) * 4);
    const unit = 1n << drop;
    let q = frac >> drop;
    const r2 = (frac & (unit - 1n)) * 2n;
    // Half to even; with no digits kept, the digit that decides is the lead.
    const odd = spec.precision === 0 ? (lead & 1n) === 1n : (q & 1n) === 1n;
    if (r2 > unit || (r2 === unit && odd)) q += 1n;
    if (q >> BigInt(spec.precision * 4) !== 0n) {
      lead += 1n;
      q &= (1n << BigInt(spec.precision * 4)) - 1n;
    }
    hex = spec.precision === 0 ? '' : q.toString(16).padStart(spec.precision, '0');
  } else {
    hex = frac.toString(16).padStart(13, '0');
    if (spec.precision === undefined) hex = hex.replace(/0+$/, '');
    else hex = hex.padEnd(spec.precision, '0');
  }
  let body = lead.toString() + (hex || spec.flags.includes('#') ? '.' : '') + hex + 'p' + (exp < 0 ? '-' : '+') + Math.abs(exp);
  if (upper) body = body.toUpperCase();
  const zero = spec.flags.includes('0') && !spec.flags.includes('-');
  return justify(spec, signPrefix(spec, neg) + (upper ? '0X' : '0x'), body, zero);
}
