// Taking a sample of one logged process and writing its line: the path every
// sample of plogsrvd takes (the schedule's, src/plog/engine/registry.ts, and
// bench/sampler.ts's), and the first line of a log, in whichever format
// (text, tree, csv, jsonl), whether the log is new or taken up again.
// Reads /proc and appends to the log's descriptor; no sockets.
import { performance } from 'node:perf_hooks';
import type { ProcessReader, RawSample } from '../../proc/reader.js';
import { procOwner } from '../../proc/access.js';
import { errCode } from '../../proc/errors.js';
import { CLK_TCK } from '../../proc/system.js';
import type { TreeSampler } from '../../proc/tree.js';
import { formatHeader, formatLine, type TimeForm } from '../log/logline.js';
import { headerBeforeResume } from '../log/readlog.js';
import { appendLine, logStillThere, type LogFile } from '../log/logfile.js';
import type { MachineLog } from '../log/machine-format.js';
import { treeHeader, withProcs } from '../log/treelog.js';
import { pssDue } from './pss-budget.js';

/** What taking one sample of a registration needs. */
export interface SampledTarget {
  pid: number;
  /** stat's starttime at registration: a different one means the pid was reused. */
  starttime: number;
  reader: ProcessReader;
  log: LogFile;
  withSeconds: TimeForm;
  /** The previous sample (for CPU%). */
  prev: RawSample;
  /** The sample before it, reused for the next one (none at first). */
  spare?: RawSample;
  /** A csv or jsonl log (--format): its lines instead of formatLine's. */
  machine?: Pick<MachineLog, 'line' | 'close' | 'head' | 'format'>;
  /** The log is shared by many processes (the host log, src/plog/ops/host.ts): never closed with one, nor counted against the per-uid cap. */
  sharedLog?: boolean;
  /** A tree log (plog --tree): the descendants summed in, a Procs column. */
  tree?: TreeSampler;
  /** Who the log is for, when not root: it ends when /proc would no longer
   * show them the process (it ran a set-user-ID program). */
  ownerUid?: number;
}

/** How samples are taken: the page size, and the Safe PSS budget
 * (src/plog/engine/pss-budget.ts: a fraction, or null to read PSS at every sample). */
export interface SampleOptions {
  pageKb: number;
  pssBudget: number | null;
}

/** A log written by many targets (the whole host's), checked at most once in SHARED_CHECK_MS, not at each of its thousands of samples a second. */
const SHARED_CHECK_MS = 1000;
const sharedChecks = new Map<number, { at: number; there: ReturnType<typeof logStillThere> }>();

function sharedLogThere(fd: number): ReturnType<typeof logStillThere> {
  const now = performance.now();
  const had = sharedChecks.get(fd);
  if (had && now - had.at < SHARED_CHECK_MS) return had.there;
  const there = logStillThere(fd);
  sharedChecks.set(fd, { at: now, there });
  return there;
}

/** Why logging of a target ends after a sample, or null to go on. */
export type SampleEnd = { why: string; isError: boolean } | null;

/**
 * Take one sample of t and append its line: check that the log is still
 * linked, read /proc, check the pid was not reused, write the line, and
 * stop after a zombie's line. Returns why logging ends, or null.
 */
export function sampleTarget(t: SampledTarget, o: SampleOptions): SampleEnd {
  if (t.log.batch?.error) return { why: `${t.log.batch.error} (${t.log.path})`, isError: true };
  const there = t.sharedLog ? sharedLogThere(t.log.fd) : logStillThere(t.log.fd);
  if (there === 'gone') return { why: `Can't find log ${t.log.path}`, isError: true };
  if (there !== 'yes') return { why: `Error checking files ${t.log.path}: ${there.error}`, isError: true };
  // A process that runs a set-user-ID program keeps its pid and start time,
  // and the reader reopens its files after the exec as root: check first
  // that /proc would still show it to whoever asked (src/proc/access.ts).
  if (t.ownerUid !== undefined && t.ownerUid !== 0) {
    const owner = procOwner(t.pid);
    if (owner && owner.uid !== t.ownerUid) {
      return { why: `pid ${t.pid} is no longer readable by uid ${t.ownerUid} (it ran a set-user-ID or set-group-ID program); stopped logging ${t.log.name}`, isError: false };
    }
  }
  let s: RawSample;
  try {
    // PSS only when the budget allows (Safe PSS): else the last values, marked.
    s = t.reader.sample(t.spare, pssDue(t.reader, o.pssBudget, performance.now()));
  } catch (err) {
    const code = errCode(err);
    if (code === 'ESRCH' || code === 'ENOENT') return { why: `pid ${t.pid} ended; stopped logging ${t.log.name}`, isError: false };
    return { why: `${(err as Error).message} (pid ${t.pid}, ${t.log.name})`, isError: true };
  }
  if (s.stat.starttime !== t.starttime) {
    return { why: `pid ${t.pid} was reused by another process; stopped logging ${t.log.name}`, isError: false };
  }
  // A process that had an address space and now has none has released its
  // memory on the way out (its stat still reads, its sizes are all 0): a
  // line of zeros would be false. Kernel threads never had one; a zombie's
  // last line (state Z) is written, as the log's end.
  const dead = s.stat.state === 'Z' || s.stat.state === 'X';
  if (s.statm.size === 0 && t.prev.statm.size !== 0 && !dead) {
    return { why: `pid ${t.pid} ended; stopped logging ${t.log.name}`, isError: false };
  }
  // A csv or jsonl log has no mark for a carried PSS: it shows none then.
  if (t.machine && s.smapsStale) s.smaps = null;
  try {
    const line = lineOf(t, s, t.prev, o.pageKb);
    if (t.log.batch) t.log.batch.add(line);
    else appendLine(t.log.fd, line);
  } catch (err) {
    return { why: `${(err as Error).message} (${t.log.path})`, isError: true };
  }
  t.spare = t.prev;
  t.prev = s;
  if (dead) {
    return { why: `pid ${t.pid} ended (zombie); stopped logging ${t.log.name}`, isError: false };
  }
  return null;
}

/** The line of sample s (prev: the one before it, null for a log's first):
 * the csv or jsonl record, or the text line (a tree log's with its
 * descendants summed in and its Procs column). */
function lineOf(t: SampledTarget, s: RawSample, prev: RawSample | null, pageKb: number): string {
  if (t.machine) return t.machine.line(s, prev);
  // The descendants are summed into s (in place) before s is written.
  const procs = t.tree?.addDescendants(s);
  const text = formatLine(s, prev, { withSeconds: t.withSeconds, pageKb, clkTck: CLK_TCK });
  return procs === undefined ? text : withProcs(text, procs);
}

/**
 * Write the first lines of a log that begins now (command, given) or is
 * taken up again (command undefined): a new log gets its head (the command
 * line and the column header, or the csv/jsonl head) and the first sample;
 * a log taken up again gets the first sample, after this version's header
 * when a text log was begun by a version before (day-month dates).
 */
export function writeFirst(t: SampledTarget, first: RawSample, command: string | undefined, pageKb: number): void {
  const line = lineOf(t, first, null, pageKb);
  if (command !== undefined) {
    appendLine(t.log.fd, headOf(t, command));
    appendLine(t.log.fd, line);
    return;
  }
  const head = !t.machine && headerBeforeResume(t.log.fd) ? headerOf(t) : '';
  appendLine(t.log.fd, head + line);
}

/** The head of t's log, given its command line: the csv/jsonl head, or the
 * command line and the column header (a new log's, a rotated log's). */
export function headOf(t: SampledTarget, command: string): string {
  return t.machine ? t.machine.head(command) : `${command}\n${headerOf(t)}`;
}

/** The column header of a text log (a tree log's has the Procs column). */
function headerOf(t: SampledTarget): string {
  return t.tree ? treeHeader(t.withSeconds) : formatHeader(t.withSeconds);
}
