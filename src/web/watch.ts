/**
 * When plog web reads: on inotify's word (fs.watch on the directory, whose
 * events name the file written, and on each file named), a moment later so
 * that the appends of many logs are read together; and by polling, in case
 * the watch is not there (inotify's limits reached, a file system without
 * it) or misses something. The directory is listed again when a name comes
 * or goes, and every few seconds; statuses (running, ended) are looked at
 * every second.
 */
import { watch, type FSWatcher } from 'node:fs';
import { dirname, basename } from 'node:path';
import type { Engine } from './engine.js';

export interface FollowOptions {
  /** After an event, how long to gather more before reading (ms). */
  settleMs?: number;
  /** Every how long every log is looked at anyway (ms): with inotify's watch, and without. */
  pollMs?: number;
  pollUnwatchedMs?: number;
  /** Every how long the directory is listed anyway (ms). */
  scanMs?: number;
}

export class Follower {
  private watchers: FSWatcher[] = [];
  private timers: NodeJS.Timeout[] = [];
  private pending: NodeJS.Timeout | null = null;
  private scanWanted = true;
  private readonly settleMs: number;
  /** Whether inotify watches are in place (else: polling only). */
  watching = false;
  private stopped = false;

  constructor(
    private readonly engine: Engine,
    private readonly files: string[],
    opts: FollowOptions = {},
  ) {
    this.settleMs = opts.settleMs ?? 50;
    // Polling: a safety net while inotify watches (every 10 s), the only
    // way of knowing without it (every second: a new line shows within
    // the interval plus a second still).
    let lastPoll = performance.now();
    this.timers.push(
      setInterval(
        () => {
          const every = this.watching ? (opts.pollMs ?? 10_000) : (opts.pollUnwatchedMs ?? 1000);
          if (performance.now() - lastPoll < every - 50) return;
          lastPoll = performance.now();
          this.engine.touchAll();
          this.soon();
        },
        Math.min(opts.pollMs ?? 10_000, opts.pollUnwatchedMs ?? 1000),
      ),
    );
    this.timers.push(
      setInterval(() => {
        this.scanWanted = true;
        this.soon();
      }, opts.scanMs ?? 5000),
    );
    this.timers.push(setInterval(() => this.engine.tick(), 1000));
  }

  start(): void {
    this.watchAll();
    this.run();
  }

  private watchAll(): void {
    for (const w of this.watchers) w.close();
    this.watchers = [];
    let ok = true;
    const dir = this.engine.dir;
    if (dir !== null) {
      try {
        const w = watch(dir, { persistent: false }, (type, name) => {
          if (type === 'rename' || !name) this.scanWanted = true;
          else this.engine.touch(String(name));
          this.soon();
        });
        w.on('error', () => {
          this.watching = false;
        });
        this.watchers.push(w);
      } catch {
        ok = false;
      }
    }
    const dirs = new Set(this.files.map((f) => dirname(f)));
    for (const d of dirs) {
      if (d === dir) continue;
      const mine = new Set(this.files.filter((f) => dirname(f) === d).map((f) => basename(f)));
      try {
        const w = watch(d, { persistent: false }, (_type, name) => {
          if (!name || mine.has(String(name))) {
            this.engine.touchAll();
            this.soon();
          }
        });
        w.on('error', () => {
          this.watching = false;
        });
        this.watchers.push(w);
      } catch {
        ok = false;
      }
    }
    this.watching = ok;
  }

  private soon(): void {
    if (this.pending || this.stopped) return;
    this.pending = setTimeout(() => {
      this.pending = null;
      this.run();
    }, this.settleMs);
  }

  /** One round: list if wanted, read what changed; go on soon while a backlog remains. */
  run(): void {
    if (this.stopped) return;
    if (this.scanWanted) {
      this.scanWanted = false;
      const hadDir = this.engine.dirError === null;
      this.engine.scan();
      // The directory appeared (or came back): watch it.
      if (!hadDir && this.engine.dirError === null) this.watchAll();
    }
    this.engine.service();
    if (this.engine.backlog) this.soon();
  }

  stop(): void {
    this.stopped = true;
    for (const w of this.watchers) w.close();
    for (const t of this.timers) clearInterval(t);
    if (this.pending) clearTimeout(this.pending);
  }
}
