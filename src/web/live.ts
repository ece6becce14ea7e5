/**
 * plog web's live updates, as server-sent events: the list's rows that
 * changed (every 500 ms at most, one message for every list page), and the
 * new samples and report of the logs a log page follows (every 250 ms; its
 * report every 2 s). Bounded: event-stream clients (maxEventClients) and
 * each stream's unsent bytes (a client that does not read is cut off and
 * reconnects to a fresh snapshot).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { safeJson } from '../escape.js';
import type { Located } from './tailparse.js';
import { CHART_KEYS, chartValue } from './stats.js';
import type { Engine, Entry, EngineEvent } from './engine.js';
import type { Row } from './row.js';
import { head, plain } from './guard.js';

/** Unsent bytes an event stream may hold before its client is cut off (by default). */
export const MAX_UNSENT = 4 << 20;
/** Logs on one chart at most. */
export const MAX_COMPARE = 8;

interface EventClient {
  res: ServerResponse;
  /** The logs it follows (null: the list). */
  ids: string[] | null;
}

export class LiveStreams {
  private readonly clients = new Set<EventClient>();
  private readonly dirtyRows = new Set<string>();
  private readonly removedRows = new Set<string>();
  private readonly pendingSamples = new Map<string, Located[]>();
  private readonly reportDue = new Set<string>();
  private readonly resets = new Set<string>();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly unsubscribe: () => void;

  constructor(
    private readonly engine: Engine,
    private readonly maxEventClients: number,
    /** The server's count of requests refused (clients: too many; slow: cut off). */
    private readonly refused: { clients: number; slow: number },
    /** What every message about the list carries besides its rows. */
    private readonly meta: () => Record<string, unknown>,
    private readonly maxUnsent = MAX_UNSENT,
  ) {
    this.unsubscribe = this.engine.subscribe((e) => this.onEngine(e));
    this.timers.push(setInterval(() => this.flushLogs(), 250).unref());
    this.timers.push(setInterval(() => this.flushList(), 500).unref());
    this.timers.push(setInterval(() => this.heartbeat(), 15_000).unref());
  }

  get size(): number {
    return this.clients.size;
  }

  close(): void {
    for (const t of this.timers) clearInterval(t);
    this.unsubscribe();
    for (const c of this.clients) c.res.end();
    this.clients.clear();
  }

  events(req: IncomingMessage, res: ServerResponse, ids: string[] | null): void {
    if (this.clients.size >= this.maxEventClients) {
      this.refused.clients++;
      res.setHeader('Retry-After', '10');
      return plain(res, 503, 'too many live pages open: close one\n');
    }
    if (ids !== null && ids.some((id) => !this.engine.get(id))) return plain(res, 404, 'no such log\n');
    head(res, 200, 'text/event-stream; charset=utf-8', { Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
    // The list pages open are brought up to now first: then they, the rows
    // last sent and this page's snapshot agree, and the next update's
    // changes hold for all of them.
    if (ids === null) this.flushList();
    const c: EventClient = { res, ids };
    this.clients.add(c);
    const gone = (): void => {
      this.clients.delete(c);
    };
    req.on('close', gone);
    res.on('error', gone);
    res.write('retry: 2000\n\n');
    if (ids === null) {
      this.send(c, 'snapshot', { now: Date.now(), ...this.meta(), rows: this.engine.rows() });
    } else {
      this.send(c, 'hello', { now: Date.now() });
    }
  }

  private send(c: EventClient, event: string, data: unknown): void {
    this.sendRaw(c, `event: ${event}\ndata: ${safeJson(data)}\n\n`);
  }

  private sendRaw(c: EventClient, text: string): void {
    if (c.res.writableLength > this.maxUnsent) {
      // It does not read: cut it off; EventSource reconnects to a fresh snapshot.
      this.refused.slow++;
      this.clients.delete(c);
      c.res.destroy();
      return;
    }
    c.res.write(text);
  }

  private onEngine(e: EngineEvent): void {
    switch (e.type) {
      case 'removed':
        this.forget(e.id);
        this.removedRows.add(e.id);
        this.dirtyRows.delete(e.id);
        this.pendingSamples.delete(e.id);
        break;
      case 'samples': {
        this.dirtyRows.add(e.id);
        this.removedRows.delete(e.id);
        let followed = false;
        for (const c of this.clients) if (c.ids?.includes(e.id)) followed = true;
        if (followed) {
          const p = this.pendingSamples.get(e.id);
          // A log read for the first time may give a great many at once: the page reloads it instead.
          if (p && p.length > 5000) this.resets.add(e.id);
          else if (p) p.push(...e.samples);
          else this.pendingSamples.set(e.id, e.samples.slice());
          this.reportDue.add(e.id);
        }
        break;
      }
      case 'reset':
        this.forget(e.id);
        this.resets.add(e.id);
        this.dirtyRows.add(e.id);
        break;
      default:
        this.dirtyRows.add(e.id);
        this.removedRows.delete(e.id);
    }
  }

  private lastReport = 0;
  /** Each log's row as the list pages have it (its last update applied). */
  private sent = new WeakMap<Entry, Row>();

  private flushLogs(): void {
    const reportNow = performance.now() - this.lastReport >= 2000;
    for (const c of this.clients) {
      if (c.ids === null) continue;
      for (const id of c.ids) {
        if (this.resets.has(id)) {
          this.send(c, 'reset', { id });
          continue;
        }
        const p = this.pendingSamples.get(id);
        if (p && p.length) {
          const data = { id, t: [] as number[], rss: [] as Array<number | null>, pss: [] as Array<number | null>, swap: [] as Array<number | null>, cpu: [] as Array<number | null> };
          for (const l of p) {
            data.t.push(l.sample.timeMs);
            for (const k of CHART_KEYS) data[k].push(chartValue[k](l.sample));
          }
          this.send(c, 'samples', data);
        }
        if (reportNow && this.reportDue.has(id)) {
          const e = this.engine.get(id);
          if (e) this.send(c, 'report', { id, now: Date.now(), row: this.engine.row(e), report: this.engine.report(e) });
        }
      }
    }
    this.pendingSamples.clear();
    this.resets.clear();
    if (reportNow) {
      this.reportDue.clear();
      this.lastReport = performance.now();
    }
  }

  private flushList(): void {
    if (this.dirtyRows.size === 0 && this.removedRows.size === 0) return;
    const listeners = [...this.clients].filter((c) => c.ids === null);
    if (listeners.length === 0) {
      this.dirtyRows.clear();
      this.removedRows.clear();
      this.sent = new WeakMap(); // nobody has these rows now
      return;
    }
    // Of each row, what changed since the last update (most rows: the
    // figures of a new sample; the sparkline once in 10 s): the pages have
    // the rest, from their snapshot and the updates since. A page that
    // connected after the last update has a snapshot at least as new, and
    // gets what changed since as well.
    const rows: Array<Partial<Row>> = [];
    for (const id of this.dirtyRows) {
      const e = this.engine.get(id);
      if (!e) continue;
      if (e.tail.parser.info === null && e.error === null) {
        this.sent.delete(e); // not on the list now: in full when it is again
        continue;
      }
      const had = this.sent.get(e);
      const row = this.engine.row(e, had?.sparkVersion);
      rows.push(had ? changes(had, row) : row);
      if (had && row.spark === undefined) row.spark = had.spark;
      this.sent.set(e, row);
    }
    const text = `event: rows\ndata: ${safeJson({ now: Date.now(), rows, removed: [...this.removedRows], ...this.meta() })}\n\n`;
    this.dirtyRows.clear();
    this.removedRows.clear();
    for (const c of listeners) this.sendRaw(c, text);
  }

  /** A log's row is sent in full next time (it left the list, or its file started again). */
  private forget(id: string): void {
    const e = this.engine.get(id);
    if (e) this.sent.delete(e);
  }

  private heartbeat(): void {
    for (const c of this.clients) this.sendRaw(c, ': alive\n\n');
  }
}

/** The fields of row that differ from had's, and the id. */
function changes(had: Row, row: Row): Partial<Row> {
  const d: Partial<Row> = { id: row.id };
  for (const k of Object.keys(row) as Array<keyof Row>) {
    if (k === 'spark') {
      if (row.spark !== undefined) d.spark = row.spark;
    } else if (k === 'verdict') {
      if (row.verdict.kind !== had.verdict.kind || row.verdict.text !== had.verdict.text) d.verdict = row.verdict;
    } else if (row[k] !== had[k]) {
      (d as Record<string, unknown>)[k] = row[k];
    }
  }
  return d;
}
