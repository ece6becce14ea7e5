/**
 * plog web's downloads of a log: the log itself, as it is on disk; CSV and
 * JSON lines as plog export writes them, read in steps and never held
 * whole; an SVG chart as plog plot draws it, of one log or several.
 */
import type { ServerResponse } from 'node:http';
import { closeSync, createReadStream, fstatSync, openSync } from 'node:fs';
import { once } from 'node:events';
import { renderSvg } from '../plog/readers/chart-svg.js';
import { toCsv, toJsonl } from '../plog/log/export.js';
import type { Log } from '../plog/log/sample.js';
import { FileTail, openFlags } from './tail.js';
import type { Engine, Entry } from './engine.js';
import { head, plain } from './guard.js';
import { MAX_COMPARE } from './live.js';

export async function download(res: ServerResponse, engine: Engine, e: Entry, url: URL): Promise<void> {
  const format = url.searchParams.get('format') ?? 'log';
  const safeName = (s: string): string => s.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 200) || 'log';
  const disposition = (file: string): string => `attachment; filename="${safeName(file)}"; filename*=UTF-8''${encodeURIComponent(file)}`;
  if (format === 'log') {
    let fd: number;
    try {
      fd = openSync(e.path, openFlags(!e.inDir));
    } catch {
      return plain(res, 404, 'the log cannot be read now\n');
    }
    const st = fstatSync(fd);
    if (!st.isFile()) {
      closeSync(fd);
      return plain(res, 404, 'not a regular file\n');
    }
    head(res, 200, 'text/plain; charset=utf-8', { 'Content-Length': String(st.size), 'Content-Disposition': disposition(e.id) });
    if (st.size === 0) {
      closeSync(fd);
      res.end();
      return;
    }
    createReadStream('', { fd, start: 0, end: st.size - 1 }).pipe(res);
    return;
  }
  if (format === 'csv' || format === 'jsonl') {
    head(res, 200, format === 'csv' ? 'text/csv; charset=utf-8' : 'application/jsonl; charset=utf-8', {
      'Content-Disposition': disposition(`${e.id}.${format}`),
    });
    // The whole log, read in steps by a reader of its own (never held whole).
    const t = new FileTail(e.path, !e.inDir);
    res.on('close', () => t.close());
    let first = true;
    for (;;) {
      const r = t.read(1 << 20);
      if (r.error || r.reset) break;
      if (r.samples.length) {
        const log = t.parser.log(
          r.samples.map((l) => l.sample),
          e.id,
        );
        if (log) {
          let k = 0;
          for (const chunk of format === 'csv' ? toCsv(log) : toJsonl(log)) {
            if (format === 'csv' && k++ === 0 && !first) continue;
            if (!res.write(chunk)) await once(res, 'drain');
          }
          first = false;
        }
      }
      if (!r.more || res.destroyed) break;
    }
    if (first && format === 'csv') {
      const log = t.parser.log([], e.id);
      if (log) for (const chunk of toCsv(log)) res.write(chunk);
    }
    t.close();
    res.end();
    return;
  }
  if (format === 'svg') {
    const entries = [
      e,
      ...url.searchParams
        .getAll('with')
        .slice(0, MAX_COMPARE - 1)
        .map((w) => engine.get(w)),
    ].filter((x): x is Entry => !!x);
    const logs = entries.map((x) => engine.asLog(x)).filter((l): l is Log => l !== null && l.samples.length > 0);
    if (logs.length === 0) return plain(res, 404, 'no samples yet\n');
    const time = url.searchParams.get('time');
    const svg = renderSvg(logs, { time: time === 'clock' || time === 'elapsed' ? time : undefined });
    head(res, 200, 'image/svg+xml; charset=utf-8', {
      'Content-Length': String(Buffer.byteLength(svg)),
      'Content-Disposition': disposition(`${logs.length > 1 ? 'compare' : e.id}.svg`),
    });
    res.end(svg);
    return;
  }
  return plain(res, 400, 'format: log, csv, jsonl or svg\n');
}
