// The machine formats' fields: the names of a sample's fields in csv and
// jsonl (export.ts and machine-format.ts write them in this order), CSV rows
// split, and a Sample made from the fields of a csv row or a jsonl object.
import type { Sample } from './sample.js';

/** The fields of a sample in csv/jsonl, in column order. */
export const EXPORT_FIELDS = [
  'time',
  'epoch_ms',
  'state',
  'prio',
  'cpu_seconds',
  'cpu_percent',
  'threads',
  'min_flt',
  'maj_flt',
  'virtual_bytes',
  'resident_bytes',
  'share_percent',
  'pss_bytes',
  'swap_bytes',
  'data_bytes',
  'priv_write_bytes',
] as const;

const KNOWN = new Set<string>(EXPORT_FIELDS);

/** Split a CSV row (RFC 4180: quoted fields, "" for a quote inside); null if a quote is not closed. */
export function splitCsv(row: string): string[] | null {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    if (row[i] === '"') {
      let v = '';
      i++;
      for (;;) {
        const q = row.indexOf('"', i);
        if (q < 0) return null;
        v += row.slice(i, q);
        if (row[q + 1] === '"') {
          v += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      out.push(v);
      if (i >= row.length) return out;
      if (row[i] !== ',') return null;
      i++;
    } else {
      const c = row.indexOf(',', i);
      if (c < 0) {
        out.push(row.slice(i));
        return out;
      }
      out.push(row.slice(i, c));
      i = c + 1;
    }
  }
}

export type Value = number | string | null | undefined;

/** A sample from named values (csv cells or a JSON object); null if a required field is missing or wrong. */
export function sampleFromFields(get: (name: string) => Value, names: readonly string[], line: number): Sample | null {
  const num = (name: string, nullable: boolean): number | null | undefined => {
    const v = get(name);
    if (v === undefined) return undefined;
    if (v === null || v === '' || v === '-') return nullable ? null : undefined;
    const n = typeof v === 'number' ? v : Number(v);
    return Number.isFinite(n) ? n : undefined;
  };
  let timeMs = num('epoch_ms', false);
  if (timeMs === undefined || timeMs === null) {
    const t = get('time');
    timeMs = typeof t === 'string' ? Date.parse(t) : NaN;
    if (!Number.isFinite(timeMs)) return null;
  }
  const req = (name: string): number | null => {
    const v = num(name, false);
    return v === undefined || v === null ? null : v;
  };
  const fields = {
    prio: req('prio'),
    cpuSeconds: req('cpu_seconds'),
    threads: req('threads'),
    minFlt: req('min_flt'),
    majFlt: req('maj_flt'),
    virtualBytes: req('virtual_bytes'),
    residentBytes: req('resident_bytes'),
    dataBytes: req('data_bytes'),
  };
  for (const v of Object.values(fields)) if (v === null) return null;
  const opt = (name: string): number | null => {
    const v = num(name, true);
    return v === undefined ? null : v;
  };
  const priv = num('priv_write_bytes', true);
  const state = get('state');
  const s: Sample = {
    timeMs,
    line,
    state: typeof state === 'string' && state !== '' ? state : '?',
    prio: fields.prio!,
    cpuSeconds: fields.cpuSeconds!,
    cpuPercent: opt('cpu_percent'),
    threads: fields.threads!,
    minFlt: fields.minFlt!,
    majFlt: fields.majFlt!,
    virtualBytes: fields.virtualBytes!,
    residentBytes: fields.residentBytes!,
    // Empty in an export of a plog 0.1.0 log's zombie lines (`-nan%`).
    sharePercent: opt('share_percent'),
    pssBytes: opt('pss_bytes'),
    swapBytes: opt('swap_bytes'),
    dataBytes: fields.dataBytes!,
    privWriteBytes: priv,
  };
  for (const name of names) {
    if (KNOWN.has(name)) continue;
    const v = get(name);
    if (v === undefined) continue;
    if (s.extra === undefined) s.extra = {};
    s.extra[name] = v === '' ? null : typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v;
  }
  return s;
}
