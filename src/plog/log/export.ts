/**
 * `plog export`: a log as CSV or JSON lines, for spreadsheets, pandas, jq.
 * Pure: a Log in, text out (in chunks, so that a long log is never one
 * huge string).
 *
 * Fields, in this order (EXPORT_FIELDS in fields.ts; logread.ts reads these
 * files back; a log written in csv/jsonl at registration is to use the
 * same names):
 *   time             ISO 8601 local time with its UTC offset,
 *                    2024-01-05T09:07:03+01:00 (milliseconds only when not 0)
 *   epoch_ms         milliseconds since 1970-01-01 UTC
 *   state prio       as in the log
 *   cpu_seconds      CPU time (user + system) since the process started
 *   cpu_percent      CPU use over the interval before the sample
 *   threads min_flt maj_flt
 *   virtual_bytes resident_bytes     sizes in bytes (the log's kB x 1024:
 *   pss_bytes swap_bytes data_bytes  a text log's MB and GB forms are
 *   priv_write_bytes                 exact to 1/100 of the unit only)
 *   share_percent    the part of the resident set shared with other
 *                    processes (empty where the log has none)
 * then any further fields of a machine-format log, by name.
 * A value the log does not have ('-', or Priv&Write left out after a short
 * read of maps) is an empty cell in CSV and null in JSON; a JSON line leaves
 * out priv_write_bytes when the log line did.
 */
import { EXPORT_FIELDS } from './fields.js';
import type { Log, Sample } from './sample.js';
import { escapeText, safeJson } from '../../escape.js';

const p2 = (n: number): string => String(n).padStart(2, '0');

/** ISO 8601 in local time with the offset: 2024-01-05T09:07:03+01:00 (or .123 before the offset). */
export function isoLocal(ms: number): string {
  const d = new Date(ms);
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? '+' : '-';
  const a = Math.abs(off);
  const frac = d.getMilliseconds() ? `.${String(d.getMilliseconds()).padStart(3, '0')}` : '';
  return (
    `${String(d.getFullYear()).padStart(4, '0')}-${p2(d.getMonth() + 1)}-${p2(d.getDate())}` +
    `T${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}${frac}${sign}${p2(Math.floor(a / 60))}:${p2(a % 60)}`
  );
}

type Cell = string | number | null | undefined;

/** A sample's values by field name (null: no value; undefined: the log line left the field out). */
export function sampleFields(s: Sample): Record<(typeof EXPORT_FIELDS)[number], Cell> {
  return {
    time: isoLocal(s.timeMs),
    epoch_ms: s.timeMs,
    state: s.state,
    prio: s.prio,
    cpu_seconds: s.cpuSeconds,
    cpu_percent: s.cpuPercent,
    threads: s.threads,
    min_flt: s.minFlt,
    maj_flt: s.majFlt,
    virtual_bytes: s.virtualBytes,
    resident_bytes: s.residentBytes,
    share_percent: s.sharePercent,
    pss_bytes: s.pssBytes,
    swap_bytes: s.swapBytes,
    data_bytes: s.dataBytes,
    priv_write_bytes: s.privWriteBytes,
  };
}

/** Names of the extra fields of a log's samples, in order of first appearance. */
export function extraNames(log: Log): string[] {
  const seen = new Set<string>();
  for (const s of log.samples) if (s.extra) for (const k of Object.keys(s.extra)) seen.add(k);
  return [...seen];
}

/** One CSV cell (RFC 4180 quoting when needed). Text from the log (a state,
 * an extra field of a machine-format log: the log's owner wrote it) is
 * escaped, so that a CSV shown on a terminal is only text. */
export function csvCell(v: Cell): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'string' ? escapeText(v) : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

const BATCH = 2000;

/** The log as CSV: a header row, then a row per sample; yields chunks of text. */
export function* toCsv(log: Log): Generator<string> {
  const extra = extraNames(log);
  yield [...EXPORT_FIELDS, ...extra].map(csvCell).join(',') + '\n';
  let chunk = '';
  let n = 0;
  for (const s of log.samples) {
    const f = sampleFields(s);
    const cells = EXPORT_FIELDS.map((k) => csvCell(f[k]));
    for (const k of extra) cells.push(csvCell(s.extra?.[k]));
    chunk += cells.join(',') + '\n';
    if (++n % BATCH === 0) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk) yield chunk;
}

/** The log as JSON lines, one object per sample; yields chunks of text. */
export function* toJsonl(log: Log): Generator<string> {
  let chunk = '';
  let n = 0;
  for (const s of log.samples) {
    const f = sampleFields(s) as Record<string, Cell>;
    if (f.priv_write_bytes === undefined) delete f.priv_write_bytes;
    const o = s.extra ? { ...f, ...s.extra } : f;
    chunk += safeJson(o) + '\n';
    if (++n % BATCH === 0) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk) yield chunk;
}
