// printf.ts against the C library's own printf: every case below is compiled
// into a C program (when cc is present) and the outputs compared byte for
// byte; the outputs are also kept in test/fixtures/syslog/printf-expected.json
// (made by that C program with glibc 2.36) so that the check still runs
// without a compiler.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { format, strerror, errorText, errnoFromCode } from '../src/syslog/index.js';

const here = dirname(fileURLToPath(import.meta.url));
// dist/test -> repository root
const root = join(here, '..', '..');
const fixture = join(root, 'test', 'fixtures', 'syslog', 'printf-expected.json');

// An argument with its C type: i int, l long, u unsigned, d double, s string, c char.
type Arg = ['i' | 'l' | 'u' | 'c', number | bigint] | ['d', number] | ['s', string];
type Case = [string, ...Arg[]];

const I = (v: number): Arg => ['i', v];
const L = (v: number | bigint): Arg => ['l', v];
const U = (v: number): Arg => ['u', v];
const D = (v: number): Arg => ['d', v];
const S = (v: string): Arg => ['s', v];
const C = (v: number): Arg => ['c', v];

const CASES: Case[] = [
  ['plain text, no conversions'],
  ['100%% sure'],
  ['%d|%i|%5d|%-5d|%05d|%+d|% d|%+5d|%-+5d|', I(42), I(-7), I(42), I(42), I(42), I(42), I(42), I(-3), I(3)],
  ['%.3d|%8.3d|%-8.3d|%08.3d|%.0d|%5.0d|', I(7), I(-7), I(7), I(7), I(0), I(0)],
  ['%d %d %d', I(0), I(-2147483648), I(2147483647)],
  ['%ld %lld %li %jd %zd', L(-9007199254740993n), L(123456789012n), L(-1), L(5), L(6)],
  ['%u %u %lu', U(0), U(-1), L(-1)],
  ['%hhu %hu', U(-1), U(-1)],
  ['%o|%#o|%#o|%x|%#x|%X|%#X|%#x|%08x|%#010x|%-#8x|', U(8), U(8), U(0), U(255), U(255), U(48879), U(48879), U(0), U(255), U(255), U(255)],
  ['%.0x|%#.0x|%#.0o|%.5x|', U(0), U(0), U(0), U(171)],
  ['%c%c%c|%3c|%-3c|', C(65), C(98), C(48), C(120), C(120)],
  ['%s|%10s|%-10s|%.2s|%10.2s|%-10.2s|%.0s|', S('hello'), S('hi'), S('hi'), S('hello'), S('hello'), S('hello'), S('x')],
  ['%f|%.0f|%.1f|%.2f|%10.3f|%-10.3f|%010.3f|%+f|% f|', D(3.14159), D(2.5), D(0.25), D(1.005), D(-3.14159), D(2.5), D(-2.5), D(1), D(1)],
  ['%.0f %.0f %.0f %.0f %.0f %.0f', D(0.5), D(1.5), D(2.5), D(3.5), D(-0.5), D(-1.5)],
  ['%#.0f|%#.0e|%#g|%#g|', D(3), D(3), D(1), D(123456)],
  ['%f %f %f %f', D(0), D(-0), D(1e-7), D(123456789.12345679)], // the double nearest 123456789.123456789
  ['%.20f|%.17g|%.30e', D(0.1), D(0.1), D(1 / 3)],
  ['%f', D(1e300)],
  ['%e|%E|%.0e|%.3e|%12.3e|%-12.3e|%+e|', D(12345.678), D(0.000123), D(5e10), D(9.9996), D(-1.5), D(1.5), D(0)],
  ['%e %e %e %e', D(1e-300), D(5e-324), D(1.7976931348623157e308), D(9.5)],
  ['%g|%g|%g|%g|%g|%g|%g|%G|', D(100000), D(1000000), D(0.0001), D(0.00001), D(123456789), D(0.1), D(0), D(1e-10)],
  ['%.0g|%.1g|%.2g|%.3g|%.10g|%10.4g|%-10.4g|%010.4g|', D(123), D(123), D(0.000123456), D(99.95), D(1 / 3), D(3.14159), D(3.14159), D(-3.14159)],
  ['%g %g %g %g', D(9.9999995), D(999999.5), D(0.00009999995), D(1.5e-5)],
  ['%f|%F|%e|%E|%g|%G|%5f|%-6f|%+f|', D(Infinity), D(Infinity), D(-Infinity), D(NaN), D(NaN), D(-Infinity), D(Infinity), D(-Infinity), D(Infinity)],
  ['%a|%a|%a|%A|%.2a|%.0a|%a|%a', D(1), D(0.1), D(-2.5), D(255.5), D(1.999), D(1.5), D(0), D(5e-324)],
  ['%*d|%-*d|%*d|%.*f|%.*d|%*.*s|', I(5), I(1), I(5), I(1), I(-5), I(1), I(2), D(3.14159), I(3), I(7), I(6), I(2), S('hello')],
  ['%2$s %1$s %2$s', S('world'), S('hello')],
  ['%3$d %1$d %2$d', I(1), I(2), I(3)],
  ['%1$*2$d|%1$-*2$d|', I(42), I(6)],
  ['%1$.*2$f', D(3.14159), I(2)],
  ['%hd %hhd %lld %Lf', I(7), I(8), L(9), D(1.5)],
];

function cLiteral(s: string): string {
  return (
    '"' +
    Array.from(Buffer.from(s))
      .map((b) => (b >= 32 && b < 127 && b !== 34 && b !== 92 && b !== 63 ? String.fromCharCode(b) : '\\' + b.toString(8).padStart(3, '0')))
      .join('') +
    '"'
  );
}

function cArg(a: Arg, conv: string): string {
  switch (a[0]) {
    case 'i':
      return `(int)${a[1]}`;
    case 'c':
      return `(int)${a[1]}`;
    case 'u':
      return `(unsigned)${a[1]}`;
    case 'l':
      return `(long long)${a[1]}LL`;
    case 's':
      return cLiteral(a[1]);
    case 'd': {
      const v = a[1];
      const lit = Number.isNaN(v) ? 'NAN' : v === Infinity ? 'INFINITY' : v === -Infinity ? '-INFINITY' : Object.is(v, -0) ? '-0.0' : v.toPrecision(17);
      return conv === 'L' ? `(long double)${lit}` : `(double)${lit}`;
    }
  }
}

/** The C program: each case printed, then a NUL. */
function cProgram(): string {
  let body = '';
  for (const [fmt, ...args] of CASES) {
    const long = fmt.includes('%Lf');
    body += `  printf(${cLiteral(fmt)}${args.map((a, i) => ', ' + cArg(a, long && i === args.length - 1 ? 'L' : '')).join('')}); putchar(0);\n`;
  }
  return `#include <stdio.h>\n#include <math.h>\nint main(void) {\n${body}  return 0;\n}\n`;
}

function jsArgs(args: Arg[]): unknown[] {
  return args.map((a) => a[1]);
}

function runC(): string[] | null {
  if (spawnSync('cc', ['--version']).status !== 0) return null;
  const dir = mkdtempSync(join(tmpdir(), 'plog-printf-'));
  try {
    writeFileSync(join(dir, 'p.c'), cProgram());
    // -Wno-format: the %a/%L mixes and positional cases are deliberate.
    execFileSync('cc', ['-Wno-format', '-o', join(dir, 'p'), join(dir, 'p.c'), '-lm']);
    const out = execFileSync(join(dir, 'p')).toString('utf8');
    return out.split('\0').slice(0, -1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('printf: every case formats exactly as glibc printf', (t) => {
  const fromC = runC();
  if (fromC && process.env.PLOG_WRITE_FIXTURES) writeFileSync(fixture, JSON.stringify(fromC, null, 1) + '\n');
  const expected = existsSync(fixture) ? (JSON.parse(readFileSync(fixture, 'utf8')) as string[]) : [];
  if (fromC) {
    assert.deepEqual(expected, fromC, 'fixture differs from this C library (PLOG_WRITE_FIXTURES=1 rewrites it)');
  } else {
    t.diagnostic('no C compiler: comparing with the recorded glibc outputs');
  }
  const want = fromC ?? expected;
  assert.equal(want.length, CASES.length);
  CASES.forEach(([fmt, ...args], i) => {
    assert.equal(format(fmt, jsArgs(args)), want[i], `case ${i}: ${fmt}`);
  });
});

test('printf: %m prints the strerror words of the error in force', () => {
  assert.equal(format('open: %m', [], 2), 'open: No such file or directory');
  assert.equal(format('%m', [], 'EACCES'), 'Permission denied');
  assert.equal(format('%m', [], Object.assign(new Error('x'), { code: 'ECONNREFUSED', errno: -111 })), 'Connection refused');
  assert.equal(format('%m', [], Object.assign(new Error('x'), { errno: -13 })), 'Permission denied');
  assert.equal(format('%m', [], new Error('custom words')), 'custom words');
  assert.equal(format('%m', []), 'Success');
  assert.equal(format('%m', [], 0), 'Success');
  assert.equal(format('%m', [], 4242), 'Unknown error 4242');
  // %m converts no argument, and mixes with positional arguments.
  assert.equal(format('%s: %m (%d)', ['f', 3], 9), 'f: Bad file descriptor (3)');
  assert.equal(format('%2$s %m %1$s', ['a', 'b'], 1), 'b Operation not permitted a');
  assert.equal(format('%%m is %m', [], 1), '%m is Operation not permitted');
  // Width and precision apply to %m as to %s (glibc: %.5m is "Permi").
  assert.equal(format('[%.5m]', [], 13), '[Permi]');
  assert.equal(format('[%12.4m|%-8.0m]', [], 2), '[        No s|        ]');
  assert.equal(format('[%.*m] %d', [3, 7], 13), '[Per] 7');
  assert.equal(format('[%.3m]', [], 'EACCES'), '[Per]');
});

test('printf: JavaScript values', () => {
  assert.equal(format('%s %s %s', [null, undefined, { toString: () => 'obj' }]), '(null) (null) obj');
  assert.equal(format('%d %d %d', [3.9, -3.9, 2n ** 70n]), '3 -3 1180591620717411303424');
  assert.equal(format('%d %s', [3]), '3 (null)');
  assert.equal(format('%c%c', ['xyz', 0x1f600]), 'x\u{1f600}');
  assert.equal(format('%5s|%.1s', ['\u00e9t\u00e9', '\u{1f600}a']), '  \u00e9t\u00e9|\u{1f600}');
  assert.equal(format('%y %-3q', [1]), '%y %-3q');
  assert.equal(format('trailing %', []), 'trailing %');
  assert.equal(format('%d%n|', [1, 0]), '1|');
  assert.equal(format('%p %p', [0, 255]), '(nil) 0xff');
});

test('strerror: glibc words and codes', () => {
  assert.equal(strerror(2), 'No such file or directory');
  assert.equal(strerror(-2), 'No such file or directory');
  assert.equal(strerror('ENOENT'), 'No such file or directory');
  assert.equal(strerror('EWOULDBLOCK'), 'Resource temporarily unavailable');
  assert.equal(strerror(0), 'Success');
  assert.equal(strerror(41), 'Unknown error 41');
  assert.equal(errnoFromCode('EPIPE'), 32);
  assert.equal(errorText(Object.assign(new Error('x'), { code: 'EPIPE' })), 'Broken pipe');
});
