// What a selection is and what a process looks like to it (plog -n NAME,
// plog -r REGEX): the comparison of a name with a process's comm, the
// command line as a regular expression sees it (read from /proc, bounded),
// and how a selection is named in messages. The selector (select.ts) keeps
// the selections and scans /proc for them.
import { closeSync, constants as C, openSync, readSync } from 'node:fs';
import { formatCmdline } from '../../proc/cmdline.js';
import { escapeText } from '../../escape.js';
import type { LogFormatName } from '../protocol.js';
import type { Target } from '../engine/registry.js';

/** Longest comm the kernel keeps (TASK_COMM_LEN - 1). */
export const COMM_MAX = 15;
/** A regular expression sees at most this much of a command line (as a log's first line shows it). */
export const MAX_MATCH_CHARS = 4096;
export interface Selection {
  pattern: string;
  regex: RegExp | null;
  intervalMs: number;
  format: LogFormatName;
  uid: number;
  gid: number;
  /** pid -> the scan that first saw it, or DECIDED (select.ts) once it is logged or not
   * its requester's, or (below DECIDED) the token of the question about it
   * that the matcher has not answered yet; a process that did not match is
   * looked at again in the next few scans (it may exec another program
   * right after its fork). */
  seen: Map<number, number>;
  /** The logs this selection started that are still written. */
  targets: Set<Target>;
}

/** What a process looks like to a selection. */
export interface ProcInfo {
  pid: number;
  uid: number;
  comm: string;
  /** The command line as a log's first line shows it, its first MAX_MATCH_CHARS characters (read only for regexes). */
  cmdline: () => string;
}

/** Whether a process matches a selection (pure). A NAME longer than 15
 * bytes matches the comm that is its first 15 bytes. (The server matches
 * regexes in the matcher's thread, never with this.) */
export function matches(sel: Pick<Selection, 'pattern' | 'regex'>, p: Pick<ProcInfo, 'comm' | 'cmdline'>): boolean {
  if (sel.regex) return sel.regex.test(p.cmdline());
  const name = Buffer.from(sel.pattern, 'utf8');
  return p.comm === (name.length > COMM_MAX ? name.subarray(0, COMM_MAX).toString('utf8') : sel.pattern);
}

export function key(uid: number, regex: boolean, pattern: string): string {
  return `${uid}\0${regex ? 'r' : 'n'}\0${pattern}`;
}

export const keyOf = (s: Selection): string => key(s.uid, s.regex !== null, s.pattern);

/** A selection's pattern as messages show it: /regex/ or 'name', escaped (another user wrote it). */
export function shown(s: { regex: unknown; pattern: string }): string {
  return s.regex ? `/${escapeText(s.pattern)}/` : `'${escapeText(s.pattern)}'`;
}

/** One buffer for the command lines read for matching (each read is formatted before the next). */
const cmdBuf = Buffer.alloc(MAX_MATCH_CHARS + 1);

/** Marks a command line cut at MAX_MATCH_CHARS: a character no formatted
 * command line holds (formatCmdline escapes every byte outside ASCII), so
 * that /x$/ does not match at the cut. */
export const CUT = '\u2026';

/** A command line as a log shows it, for matching: at most its first
 * MAX_MATCH_CHARS characters, then CUT when there is more; [comm] when
 * unreadable or empty. Reads at most MAX_MATCH_CHARS + 1 bytes. */
export function readCmdline(path: string, comm: string): string {
  let fd: number;
  try {
    fd = openSync(path, C.O_RDONLY);
  } catch {
    return formatCmdline(Buffer.alloc(0), comm);
  }
  try {
    let n = 0;
    while (n < cmdBuf.length) {
      const k = readSync(fd, cmdBuf, n, cmdBuf.length - n, null);
      if (k === 0) break;
      n += k;
    }
    const text = formatCmdline(cmdBuf.subarray(0, Math.min(n, MAX_MATCH_CHARS)), comm);
    return n > MAX_MATCH_CHARS || text.length > MAX_MATCH_CHARS ? text.slice(0, MAX_MATCH_CHARS) + CUT : text;
  } catch {
    return formatCmdline(Buffer.alloc(0), comm);
  } finally {
    closeSync(fd);
  }
}
