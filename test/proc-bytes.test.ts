// The byte-level /proc parsers (what the sampler runs: no string is made of
// a file) against the string parsers they replaced, kept here verbatim as
// references: same results and same errors on the fixtures, on every
// prefix of them (short reads), on bytes left past `length` in a reused
// buffer, and on thousands of deterministic random mutations.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';

import { parseStatBytes, decimalAt, type ProcStat } from '../src/proc/stat.js';
import { parseStatmBytes, type Statm } from '../src/proc/statm.js';
import { parseSmapsBytes, type SmapsSummary } from '../src/proc/smaps.js';
import { privateWritableKbBytes, type MapsSummary } from '../src/proc/maps.js';
import { ProcParseError } from '../src/proc/errors.js';

const FIX = new URL('../../test/fixtures/proc/', import.meta.url);
const raw = (name: string): Buffer => fs.readFileSync(new URL(name, FIX));

// ---- the references: the string parsers as they were before bytes ----

const F = (n: number): number => n - 3;
function refNum(fields: string[], n: number, name: string): number {
  const s = fields[F(n)];
  if (s === undefined || !/^-?\d{1,20}$/.test(s)) {
    throw new ProcParseError('stat', `field ${n} (${name}) is not a number: ${JSON.stringify(s)}`);
  }
  return Number(s);
}
function refParseStat(text: string): ProcStat {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) throw new ProcParseError('stat', 'no (comm)');
  const pidText = text.slice(0, open).trim();
  if (!/^\d{1,10}$/.test(pidText)) throw new ProcParseError('stat', `bad pid ${JSON.stringify(pidText)}`);
  const comm = text.slice(open + 1, close);
  let rest = text.slice(close + 1);
  if (rest.endsWith('\n')) rest = rest.slice(0, -1);
  if (rest[0] !== ' ') throw new ProcParseError('stat', 'no fields after (comm)');
  const fields = rest.slice(1).split(' ');
  if (fields.length < F(24) + 1) {
    throw new ProcParseError('stat', `too few fields (${fields.length + 2}, need 24)`);
  }
  const state = fields[0]!;
  if (state.length !== 1) throw new ProcParseError('stat', `bad state ${JSON.stringify(state)}`);
  return {
    pid: Number(pidText),
    comm,
    state,
    ppid: refNum(fields, 4, 'ppid'),
    minflt: refNum(fields, 10, 'minflt'),
    cminflt: refNum(fields, 11, 'cminflt'),
    majflt: refNum(fields, 12, 'majflt'),
    cmajflt: refNum(fields, 13, 'cmajflt'),
    utime: refNum(fields, 14, 'utime'),
    stime: refNum(fields, 15, 'stime'),
    cutime: refNum(fields, 16, 'cutime'),
    cstime: refNum(fields, 17, 'cstime'),
    priority: refNum(fields, 18, 'priority'),
    nice: refNum(fields, 19, 'nice'),
    numThreads: refNum(fields, 20, 'num_threads'),
    starttime: refNum(fields, 22, 'starttime'),
    vsize: refNum(fields, 23, 'vsize'),
    rss: refNum(fields, 24, 'rss'),
  };
}
function refParseStatm(text: string): Statm {
  const t = text.endsWith('\n') ? text.slice(0, -1) : text;
  const f = t.split(' ');
  if (f.length < 6) throw new ProcParseError('statm', `too few fields (${f.length}, need 6)`);
  const v: number[] = [];
  for (let i = 0; i < 6; i++) {
    if (!/^\d{1,20}$/.test(f[i]!)) {
      throw new ProcParseError('statm', `field ${i + 1} is not a number: ${JSON.stringify(f[i])}`);
    }
    v.push(Number(f[i]));
  }
  return { size: v[0]!, resident: v[1]!, shared: v[2]!, text: v[3]!, data: v[5]! };
}
const RC_P = 0x50; // 'P'
const RC_R = 0x52; // 'R'
const RC_S = 0x53; // 'S'
const RC_SP = 0x20;
const RC_0 = 0x30;
const RC_9 = 0x39;
const RC_NL = 0x0a;

/**
 * Parse smaps_rollup or smaps text. The keys are matched with their colon,
 * so `Pss:` never matches `Pss_Anon:`/`Pss_File:`/`Pss_Dirty:` and `Swap:` never
 * matches `SwapPss:`. Empty text (a kernel thread has no mappings) gives zeros.
 * Throws ProcParseError when a value is not "N kB" (garbage, or a short read
 * that cut a line), when non-empty text has no `Rss:` line at all, or when
 * it does not end with '\n' (truncated).
 */
function refParseSmaps(text: string): SmapsSummary {
  const r: SmapsSummary = {
    rss: 0,
    pss: 0,
    swap: 0,
    sharedClean: 0,
    sharedDirty: 0,
    privateClean: 0,
    privateDirty: 0,
  };
  const len = text.length;
  let sawRss = false;
  let pos = 0;
  while (pos < len) {
    const c = text.charCodeAt(pos);
    let key: keyof SmapsSummary | null = null;
    let klen = 0;
    // Mapping header lines start with a lower-case hex digit, so only lines
    // starting with these upper-case letters can be the keys we want.
    if (c === RC_R) {
      if (text.startsWith('Rss:', pos)) {
        key = 'rss';
        klen = 4;
        sawRss = true;
      }
    } else if (c === RC_P) {
      if (text.startsWith('Pss:', pos)) {
        key = 'pss';
        klen = 4;
      } else if (text.startsWith('Private_Clean:', pos)) {
        key = 'privateClean';
        klen = 14;
      } else if (text.startsWith('Private_Dirty:', pos)) {
        key = 'privateDirty';
        klen = 14;
      }
    } else if (c === RC_S) {
      if (text.startsWith('Swap:', pos)) {
        key = 'swap';
        klen = 5;
      } else if (text.startsWith('Shared_Clean:', pos)) {
        key = 'sharedClean';
        klen = 13;
      } else if (text.startsWith('Shared_Dirty:', pos)) {
        key = 'sharedDirty';
        klen = 13;
      }
    }
    if (key !== null) {
      let p = pos + klen;
      while (p < len && text.charCodeAt(p) === RC_SP) p++;
      const start = p;
      let v = 0;
      while (p < len) {
        const d = text.charCodeAt(p);
        if (d < RC_0 || d > RC_9) break;
        v = v * 10 + (d - RC_0);
        p++;
      }
      if (p === start || !text.startsWith(' kB', p) || (p + 3 < len && text.charCodeAt(p + 3) !== RC_NL)) {
        const nl = text.indexOf('\n', pos);
        throw new ProcParseError('smaps', `bad line ${JSON.stringify(text.slice(pos, nl < 0 ? len : nl))}`);
      }
      r[key] += v;
      pos = p + 3;
      if (pos < len) pos++; // the '\n'
      continue;
    }
    const nl = text.indexOf('\n', pos);
    if (nl < 0) break;
    pos = nl + 1;
  }
  if (len > 0 && !sawRss) throw new ProcParseError('smaps', 'no Rss: line');
  if (len > 0 && text.charCodeAt(len - 1) !== RC_NL) throw new ProcParseError('smaps', 'truncated (no final newline)');
  return r;
}

const TWO32 = 4294967296;

/** Value of a lower/upper-case hex digit, or -1. */
function refHexVal(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/** Sum private writable mappings of /proc/PID/maps text. Never throws. */
function refPrivateWritableKb(text: string): MapsSummary {
  const len = text.length;
  // Empty is a complete read: kernel threads and zombies have no mappings.
  let complete = len === 0 || text.charCodeAt(len - 1) === 0x0a;
  let bytes = 0;
  let pos = 0;
  while (pos < len) {
    let nl = text.indexOf('\n', pos);
    if (nl < 0) nl = len; // a cut last line: complete is already false
    // start
    let p = pos;
    let hi = 0;
    let lo = 0;
    const s0 = p;
    while (p < nl && refHexVal(text.charCodeAt(p)) >= 0) p++;
    let n = p - s0;
    if (n === 0 || n > 16 || text.charCodeAt(p) !== 0x2d /* - */) {
      complete = false;
      pos = nl + 1;
      continue;
    }
    const split = Math.max(s0, p - 8);
    for (let i = s0; i < split; i++) hi = hi * 16 + refHexVal(text.charCodeAt(i));
    for (let i = split; i < p; i++) lo = lo * 16 + refHexVal(text.charCodeAt(i));
    const startHi = hi;
    const startLo = lo;
    // end
    p++;
    const e0 = p;
    while (p < nl && refHexVal(text.charCodeAt(p)) >= 0) p++;
    n = p - e0;
    // then ' ' and 4 perm characters
    if (n === 0 || n > 16 || p + 5 > nl || text.charCodeAt(p) !== 0x20) {
      complete = false;
      pos = nl + 1;
      continue;
    }
    hi = 0;
    lo = 0;
    const esplit = Math.max(e0, p - 8);
    for (let i = e0; i < esplit; i++) hi = hi * 16 + refHexVal(text.charCodeAt(i));
    for (let i = esplit; i < p; i++) lo = lo * 16 + refHexVal(text.charCodeAt(i));
    if (text.charCodeAt(p + 2) === 0x77 /* w */ && text.charCodeAt(p + 4) === 0x70 /* p */) {
      const size = (hi - startHi) * TWO32 + (lo - startLo);
      if (size < 0) {
        complete = false;
      } else {
        bytes += size;
      }
    }
    pos = nl + 1;
  }
  return { kb: Math.floor(bytes / 1024), complete };
}

// ---- helpers ----

type Outcome<T> = { ok: T } | { error: string };
function outcome<T>(f: () => T): Outcome<T> {
  try {
    return { ok: f() };
  } catch (e) {
    assert.ok(e instanceof ProcParseError, `not a ProcParseError: ${String(e)}`);
    return { error: (e as Error).message };
  }
}

/** The bytes at the head of a larger buffer whose tail is junk that a
 * parser reading past `length` would trip on. */
function inScratch(bytes: Buffer): Buffer {
  const junk = Buffer.from(') x (9 ) 12 kB\nRss: 1 kB\n7f-8f rw-p 0 0:0 0\n-');
  const b = Buffer.alloc(bytes.length + junk.length * 3);
  bytes.copy(b);
  for (let i = bytes.length; i < b.length; i += junk.length) junk.copy(b, i);
  return b;
}

/** A deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const INTERESTING = Buffer.from(' \n-()0123456789kBwprRPSs:_\t\xff\x00', 'latin1');

/** n mutations of bytes: replaced, inserted, deleted bytes, cut tails. */
function mutations(bytes: Buffer, n: number, seed: number): Buffer[] {
  const r = rng(seed);
  const out: Buffer[] = [];
  for (let k = 0; k < n; k++) {
    let b = Buffer.from(bytes);
    const edits = 1 + Math.floor(r() * 4);
    for (let e = 0; e < edits; e++) {
      const at = Math.floor(r() * (b.length + 1));
      const c = INTERESTING[Math.floor(r() * INTERESTING.length)]!;
      const kind = r();
      if (kind < 0.5 && b.length > 0) b[Math.min(at, b.length - 1)] = c;
      else if (kind < 0.75) b = Buffer.concat([b.subarray(0, at), Buffer.from([c]), b.subarray(at)]);
      else if (kind < 0.9) b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1)]);
      else b = b.subarray(0, at);
    }
    out.push(b);
  }
  return out;
}

/** The byte parser agrees with the reference on bytes: alone, and at the
 * head of a reused buffer. */
function agree<T>(name: string, bytes: Buffer, byteParse: (b: Uint8Array, n?: number) => T, ref: (t: string) => T): void {
  const want = outcome(() => ref(bytes.toString('latin1')));
  assert.deepEqual(
    outcome(() => byteParse(bytes)),
    want,
    `${name}: ${JSON.stringify(bytes.toString('latin1'))}`,
  );
  assert.deepEqual(
    outcome(() => byteParse(inScratch(bytes), bytes.length)),
    want,
    `${name} in a reused buffer: ${JSON.stringify(bytes.toString('latin1'))}`,
  );
}

function prefixes(bytes: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let n = 0; n <= bytes.length; n++) out.push(bytes.subarray(0, n));
  return out;
}

const STATS = [
  'init.stat',
  'kthreadd.stat',
  'zombie.stat',
  'weird.stat',
  'target.stat',
  'malformed-empty.stat',
  'malformed-noparens.stat',
  'malformed-truncated.stat',
  'malformed-garbage.stat',
  'malformed-binary.stat',
];
const STATMS = ['init.statm', 'kthreadd.statm', 'target.statm', 'malformed-truncated.statm', 'malformed-garbage.statm'];
const SMAPS = ['target.smaps_rollup', 'swap.smaps_rollup', 'malformed-badvalue.smaps_rollup', 'malformed-truncated.smaps', 'malformed-garbage.smaps'];
const MAPS = ['target.maps', 'truncated.maps', 'garbage.maps', 'highaddr.maps'];

describe('decimalAt', () => {
  const at = (s: string): number => decimalAt(Buffer.from(s, 'latin1'), 0, s.length);
  test('digits, a leading minus, at most 20 digits, as Number() reads them', () => {
    assert.equal(at('0'), 0);
    assert.equal(at('42'), 42);
    assert.equal(at('-7'), -7);
    assert.ok(Object.is(at('-0'), -0));
    assert.equal(at('18446744073709551615'), Number('18446744073709551615'));
    assert.equal(at('9007199254740993'), Number('9007199254740993'));
    assert.equal(at('-12345678901234567890'), Number('-12345678901234567890'));
  });
  test('not numbers: NaN', () => {
    for (const s of ['', '-', '+1', '1a', ' 1', '1 ', '0x1', '1.5', '123456789012345678901', '--1', '\xff']) {
      assert.ok(Number.isNaN(at(s)), JSON.stringify(s));
    }
  });
  test('only the bytes between start and end', () => {
    const b = Buffer.from('x123y');
    assert.equal(decimalAt(b, 1, 4), 123);
    assert.ok(Number.isNaN(decimalAt(b, 1, 5)));
  });
});

describe('byte parsers agree with the string parsers they replaced', () => {
  test('stat: fixtures, every prefix, mutations', () => {
    for (const f of STATS) {
      const b = raw(f);
      for (const p of prefixes(b)) agree(f, p, parseStatBytes, refParseStat);
      for (const m of mutations(b, 150, f.length)) agree(f, m, parseStatBytes, refParseStat);
    }
  });
  test('stat: comm with raw bytes, parentheses and newlines; pid with spaces', () => {
    const b = Buffer.concat([Buffer.from(' 77\t('), Buffer.from([0xff, 0x29, 0x0a, 0xa9]), Buffer.from(') S 1 1 1 0 -1 0 1 2 3 4 5 6 7 8 20 0 1 0 99 1000 2\n')]);
    agree('raw comm', b, parseStatBytes, refParseStat);
    assert.equal(parseStatBytes(b).comm, '\xff)\n\xa9');
    assert.equal(parseStatBytes(b).pid, 77);
  });
  test('stat: malformed input is a ProcParseError, never a wrong value', () => {
    for (const s of [
      '',
      '1',
      '1 (a',
      '1 a)',
      'x (a) S 1',
      '(a) S 1 1 1 0 -1 0 1 2 3 4 5 6 7 8 20 0 1 0 99 1000 2',
      '12345678901 (a) S 1 1 1 0 -1 0 1 2 3 4 5 6 7 8 20 0 1 0 99 1000 2',
      '-1 (a) S 1 1 1 0 -1 0 1 2 3 4 5 6 7 8 20 0 1 0 99 1000 2',
      '1 (a) S  1 1 0 -1 0 1 2 3 4 5 6 7 8 20 0 1 0 99 1000 2',
      '1 (a) S 1 1 1 0 -1 0 1 2 3 4 5 6 7 8 20 0 1 0 99 1000 2x',
      '1 (a) S 1 1 1 0 -1 0 1 2 3 4 5 6 7 8 20 0 1 0 99 1000 2\n\n',
      '1 (a)\n S 1 1 1 0 -1 0 1 2 3 4 5 6 7 8 20 0 1 0 99 1000 2',
    ]) {
      const b = Buffer.from(s, 'latin1');
      assert.throws(() => parseStatBytes(b), ProcParseError, JSON.stringify(s));
      agree('malformed', b, parseStatBytes, refParseStat);
    }
  });
  test('statm: fixtures, every prefix, mutations', () => {
    for (const f of STATMS) {
      const b = raw(f);
      for (const p of prefixes(b)) agree(f, p, parseStatmBytes, refParseStatm);
      for (const m of mutations(b, 150, f.length + 1)) agree(f, m, parseStatmBytes, refParseStatm);
    }
    for (const s of ['', '\n', '1 2 3 4 5', '1 2 3 4 5 -6 7', '1 2 3 4 5 6 7\n', '1  2 3 4 5 6', ' 1 2 3 4 5 6', '1 2 3 4 5 6\n\n']) {
      agree('statm', Buffer.from(s), parseStatmBytes, refParseStatm);
    }
  });
  test('smaps: fixtures, every prefix, mutations', () => {
    for (const f of SMAPS) {
      const b = raw(f);
      for (const p of prefixes(b).filter((_, i) => b.length < 4096 || i % 61 === 0 || i > b.length - 60)) agree(f, p, parseSmapsBytes, refParseSmaps);
      for (const m of mutations(b, 120, f.length + 2)) agree(f, m, parseSmapsBytes, refParseSmaps);
    }
    const full = raw('target.smaps');
    agree('target.smaps', full, parseSmapsBytes, refParseSmaps);
    for (const m of mutations(full, 10, 7)) agree('target.smaps', m, parseSmapsBytes, refParseSmaps);
    for (const s of ['', '\n', 'Rss: 1 kB', 'Rss: 1 kB\n', 'Rss:1 kB\n', 'Rss: 1 kb\n', 'Rss: kB\n', 'Rss: 1 kBx\n', 'Pss: 2 kB\n', 'Rss: 1 kB\nSwap: 2 kB\nSwapPss: 9 kB\n']) {
      agree('smaps', Buffer.from(s), parseSmapsBytes, refParseSmaps);
    }
  });
  test('maps: fixtures, every prefix, mutations', () => {
    for (const f of MAPS) {
      const b = raw(f);
      for (const p of prefixes(b).filter((_, i) => i % 17 === 0 || i > b.length - 60)) agree(f, p, privateWritableKbBytes, refPrivateWritableKb);
      for (const m of mutations(b, 120, f.length + 3)) agree(f, m, privateWritableKbBytes, refPrivateWritableKb);
    }
    for (const s of [
      '',
      '\n',
      '1000-2000 rw-p',
      '1000-2000 rw-p\n',
      '1000-2000 rw\n-p 0 0:0 0\n',
      '2000-1000 rw-p 0 0:0 0\n',
      'g-1 rw-p\n',
      '00000000000000001-2 rw-p\n',
      'ffffffffffffe000-fffffffffffff000 rw-p 00000000 00:00 0\n',
      '1000-2000 rw-s 0 0:0 0\n3000-5000 rw-p 0 0:0 0 /x\n',
    ]) {
      agree('maps', Buffer.from(s), privateWritableKbBytes, refPrivateWritableKb);
    }
  });
});

describe('parsing into an object a sampler reuses', () => {
  test('the same values as a fresh parse; comm kept when unchanged; untouched on a throw', () => {
    for (const f of ['init.stat', 'weird.stat', 'zombie.stat', 'target.stat']) {
      const into = parseStatBytes(raw('kthreadd.stat'));
      const comm = into.comm;
      const got = parseStatBytes(inScratch(raw(f)), raw(f).length, into);
      assert.equal(got, into);
      assert.deepEqual({ ...got }, parseStatBytes(raw(f)));
      assert.notEqual(comm, got.comm);
    }
    const a = parseStatBytes(raw('target.stat'));
    const commBefore = a.comm;
    parseStatBytes(raw('target.stat'), undefined, a);
    assert.equal(a.comm, commBefore);
    const before = { ...a };
    assert.throws(() => parseStatBytes(raw('malformed-truncated.stat'), undefined, a), ProcParseError);
    assert.deepEqual({ ...a }, before);

    const m = parseStatmBytes(raw('kthreadd.statm'));
    assert.deepEqual(parseStatmBytes(raw('target.statm'), undefined, m), parseStatmBytes(raw('target.statm')));
    const mb = { ...m };
    assert.throws(() => parseStatmBytes(raw('malformed-garbage.statm'), undefined, m), ProcParseError);
    assert.deepEqual({ ...m }, mb);

    const s = parseSmapsBytes(Buffer.alloc(0));
    assert.equal(parseSmapsBytes(raw('swap.smaps_rollup'), undefined, s), s);
    assert.deepEqual({ ...s }, parseSmapsBytes(raw('swap.smaps_rollup')));
    const sb = { ...s };
    assert.throws(() => parseSmapsBytes(raw('malformed-badvalue.smaps_rollup'), undefined, s), ProcParseError);
    assert.deepEqual({ ...s }, sb);

    const p = privateWritableKbBytes(Buffer.alloc(0));
    assert.equal(privateWritableKbBytes(raw('target.maps'), undefined, p), p);
    assert.deepEqual({ ...p }, { kb: 20940, complete: true });
    assert.deepEqual({ ...privateWritableKbBytes(raw('truncated.maps'), undefined, p) }, privateWritableKbBytes(raw('truncated.maps')));
  });

  test('ProcessReader.sample(into) fills the given sample', async () => {
    const { ProcessReader } = await import('../src/proc/reader.js');
    const r = new ProcessReader(process.pid);
    try {
      const a = r.sample();
      const b = r.sample();
      const c = r.sample(a);
      assert.equal(c, a);
      assert.equal(c.stat.comm, b.stat.comm);
      assert.equal(c.stat.starttime, b.stat.starttime);
      assert.ok(c.timeMs >= b.timeMs);
      assert.deepEqual(Object.keys(c).sort(), Object.keys(b).sort());
    } finally {
      r.close();
    }
  });
});
