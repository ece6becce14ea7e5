/**
 * plog web's rows: what the list shows of a log (its name and pid from the
 * file name, its owner, running or ended and why), its texts escaped with
 * escapeText() once and kept until they change.
 */
import { readFileSync, statSync } from 'node:fs';
import { escapeText } from '../escape.js';
import type { Verdict } from '../plog/readers/report.js';
import { formatClock, formatDay } from '../plog/readers/chart-scale.js';
import { logBaseName } from '../plog/log/logline.js';
import type { Entry } from './engine.js';

export type Status = 'running' | 'ended' | 'waiting' | 'unreadable';

/** A log of the list, as the page gets it (texts escaped with escapeText); an update holds its id and what changed. */
export interface Row {
  id: string;
  file: string;
  name: string;
  pid: number | null;
  owner: string;
  format: string;
  command: string;
  intervalMs: number;
  samples: number;
  firstMs: number | null;
  lastMs: number | null;
  status: Status;
  why: string;
  rss: number | null;
  pss: number | null;
  cpu: number | null;
  /** Undefined (left out of the JSON) when the caller has it already (sparkVersion). */
  spark: { fromMs: number; stepMs: number; values: Array<number | null> } | undefined;
  sparkVersion: number;
  verdict: { kind: string; text: string };
  bytes: number;
}

/**
 * A log's texts as the list shows them (escaped), and what they were made
 * from: made again only when that changes. Rows are made 500 times a second
 * with 500 logs at 1 s; their texts change rarely.
 */
export interface Shown {
  path: string;
  uid: number;
  rawCommand: string;
  id: string;
  file: string;
  name: string;
  owner: string;
  command: string;
  rawWhy: string;
  why: string;
  rawVerdict: Verdict | null;
  verdict: { kind: string; text: string };
}

/** "sampled every 1 s" and the like, by interval: made once each. */
const everyWords = new Map<number, string>();
function sampledEvery(interval: number): string {
  let w = everyWords.get(interval);
  if (w === undefined) {
    w = `sampled every ${interval >= 1000 ? `${interval / 1000} s` : `${interval} ms`}`;
    if (everyWords.size < 64) everyWords.set(interval, w);
  }
  return w;
}

const EMPTY_VERDICT: Verdict = { kind: 'empty', figures: [], text: 'no samples: nothing to judge.' };

/**
 * Name and pid of a log from its file name: NAME.PID[.N][.csv|.jsonl][.rK]
 * (logfile.ts, retention.ts). NAME may hold dots and digits itself
 * (python3.11.4242), and .N follows a pid only when NAME.PID was taken:
 * a last number of 2 to 999 after a number above 999 is taken for .N
 * (node.4242.2), otherwise the last number is the pid.
 */
export function parseLogName(base: string): { name: string; pid: number | null } {
  const b = base.replace(/\.r\d+$/, '').replace(/\.(csv|jsonl)$/, '');
  const m = /^(.+)\.(\d{1,10})$/.exec(b);
  if (!m) return { name: base, pid: null };
  const name = m[1]!; // neither group is optional, here and in inner
  const inner = /^(.+)\.(\d{1,10})$/.exec(name);
  const last = Number(m[2]);
  if (inner && last >= 2 && last <= 999 && Number(inner[2]) > 999 && Number(inner[2]) <= 0x7fffffff) return { name: inner[1]!, pid: Number(inner[2]) };
  if (last >= 1 && last <= 0x7fffffff) return { name, pid: last };
  return { name: base, pid: null };
}

/** User names from /etc/passwd (read again when it changes). */
export function passwdNames(): (uid: number) => string {
  let mtime = -1;
  let names = new Map<number, string>();
  return (uid: number): string => {
    try {
      const st = statSync('/etc/passwd');
      if (st.mtimeMs !== mtime) {
        mtime = st.mtimeMs;
        names = new Map();
        for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
          const [user = '', , uid] = line.split(':');
          if (uid !== undefined && /^\d+$/.test(uid) && !names.has(Number(uid))) names.set(Number(uid), user);
        }
      }
    } catch {
      /* no passwd: numbers */
    }
    return names.get(uid) ?? String(uid);
  };
}

/** The command name of a live process from /proc/PID/stat; null when there is none (or a zombie). */
export function procComm(pid: number): string | null {
  try {
    const t = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const close = t.lastIndexOf(')');
    const state = t.slice(close + 2, close + 3);
    if (state === 'Z' || state === 'X') return null;
    return t.slice(t.indexOf('(') + 1, close);
  } catch {
    return null;
  }
}

/** Running or ended, and why (from the last sample, and whether its process is still there). */
export function statusOf(e: Entry, now: number, commOf: (pid: number) => string | null): { status: Status; why: string } {
  if (e.error) return { status: 'unreadable', why: `cannot be read: ${e.error}` };
  const st = e.stats;
  if (st.n === 0 || !st.last) return { status: 'waiting', why: 'no sample yet' };
  const when = (ms: number): string => `${formatDay(ms)} ${formatClock(ms, true)}`;
  const last = st.last;
  if (last.state === 'Z' || last.state === 'X') return { status: 'ended', why: `the process had ended (state ${last.state} at the last sample, ${when(st.lastMs)})` };
  const interval = st.intervalMs;
  const age = now - st.lastMs;
  // The next sample is not late yet: nothing more to look at.
  if (interval > 0 && age <= interval + 1000) return { status: 'running', why: sampledEvery(interval) };
  if (e.pid !== null) {
    // Late (or the interval not known yet, with one sample): is the process still there?
    const comm = commOf(e.pid);
    if (comm === null) return { status: 'ended', why: `process ${e.pid} ended after the last sample (${when(st.lastMs)})` };
    if (logBaseName(comm) !== e.name) {
      return { status: 'ended', why: `process ${e.pid} ended (its pid is another process's now); last sample ${when(st.lastMs)}` };
    }
    if (interval === 0 || age <= 2 * interval + 2000) return { status: 'running', why: interval ? sampledEvery(interval) : 'one sample so far' };
    return { status: 'ended', why: `no sample since ${when(st.lastMs)}: logging stopped (plog -x, the server stopped, or the log was rotated)` };
  }
  if (age <= 2 * (interval || 60_000) + 2000) return { status: 'running', why: interval ? sampledEvery(interval) : 'one sample so far' };
  return { status: 'ended', why: `no sample since ${when(st.lastMs)}` };
}

/**
 * A log's row of the list (its state from statusOf, its verdict computed
 * when due); its sparkline left out when its version is sparkHad (the
 * caller has it).
 */
export function rowOf(e: Entry, state: { status: Status; why: string }, verdict: () => Verdict, userName: (uid: number) => string, sparkHad = -1): Row {
  const st = e.stats;
  const { status, why } = state;
  e.status = status;
  const last = st.last;
  const v = st.n ? verdict() : EMPTY_VERDICT;
  const info = e.tail.parser.info;
  const uid = e.stat ? e.stat.uid : -1;
  const command = info?.command ?? '';
  let t = e.shown;
  if (!t || t.path !== e.path || t.uid !== uid || t.rawCommand !== command) {
    t = e.shown = {
      path: e.path,
      uid,
      rawCommand: command,
      id: e.id,
      file: escapeText(e.path),
      name: escapeText(e.name),
      owner: uid >= 0 ? escapeText(userName(uid)) : '',
      command: escapeText(command),
      rawWhy: '',
      why: '',
      rawVerdict: null,
      verdict: { kind: '', text: '' },
    };
  }
  if (t.rawWhy !== why) {
    t.rawWhy = why;
    t.why = escapeText(why);
  }
  if (t.rawVerdict !== v) {
    t.rawVerdict = v;
    t.verdict = { kind: v.kind, text: escapeText(v.text) };
  }
  return {
    // The name in URLs and for the page's own bookkeeping, never shown (file and name are).
    id: e.id,
    file: t.file,
    name: t.name,
    pid: e.pid,
    owner: t.owner,
    format: info?.format ?? '',
    command: t.command,
    intervalMs: st.intervalMs,
    samples: st.n,
    firstMs: st.n ? st.firstMs : null,
    lastMs: st.n ? st.lastMs : null,
    status,
    why: t.why,
    rss: last ? last.residentBytes : null,
    pss: last ? last.pssBytes : null,
    cpu: last ? last.cpuPercent : null,
    spark: st.sparkVersion === sparkHad ? undefined : st.sparkline(60),
    sparkVersion: st.sparkVersion,
    verdict: t.verdict,
    bytes: e.tail.parser.pos,
  };
}
