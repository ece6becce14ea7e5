// plogsrvd's operating features (plogsrvd(1): STATE FILE, RETENTION,
// CONFIGURATION FILE, METRICS) put together for src/cli/plogsrvd.ts:
// the state file and --resume (state.ts), retention (retention.ts), the
// configuration file and SIGHUP (config.ts), --metrics (metrics.ts).
import { errnoWords } from '../../proc/errors.js';
import { readFileSync, existsSync } from 'node:fs';
import { ConfigError, DEFAULT_CONFIG, merge, parseConfig, settingOf, type Settings } from './config.js';
import { MetricsRegistry } from './metrics.js';
import { MetricsServer } from './metrics-http.js';
import { DEFAULT_KEEP, Retention } from './retention.js';
import { StateKeeper } from './state.js';
import { Selector } from './select.js';
import type { EngineHooks, Registry, Reporter, Target } from '../engine/registry.js';
import type { SampleEnd } from '../engine/sampler.js';

/** The options of plogsrvd this module adds (for parseOptions). */
export const OPS_OPTIONS = {
  resume: { type: 'boolean' },
  c: { type: 'string', short: 'c' },
  'max-size': { type: 'string' },
  keep: { type: 'string' },
  'max-total': { type: 'string' },
  metrics: { type: 'string' },
} as const;

export interface OpsCli {
  resume: boolean;
  /** The configuration file, and whether -c named it (then it must exist). */
  config: string;
  configGiven: boolean;
  settings: Settings;
}

/** From parseOptions' values; throws ConfigError with a usage message. */
export function opsFromValues(values: Record<string, string | boolean | undefined>): OpsCli {
  const settings: Settings = {};
  for (const key of ['max-size', 'keep', 'max-total', 'metrics'] as const) {
    const v = values[key];
    if (typeof v === 'string') settingOf(key, v, settings);
  }
  const c = values.c;
  return { resume: !!values.resume, config: typeof c === 'string' ? c : DEFAULT_CONFIG, configGiven: typeof c === 'string', settings };
}

/** The file's settings merged under the command line's. Throws ConfigError. */
export function loadSettings(cli: OpsCli): Settings {
  let file: Settings = {};
  if (cli.configGiven || existsSync(cli.config)) {
    let text: string;
    try {
      text = readFileSync(cli.config, 'utf8');
    } catch (err) {
      throw new ConfigError(`cannot read ${cli.config}: ${errnoWords(err)}`);
    }
    file = parseConfig(text, cli.config);
  }
  return merge(file, cli.settings);
}

/** Several observers as one. */
export function combineHooks(...list: EngineHooks[]): EngineHooks {
  return {
    registered: (t) => list.forEach((h) => h.registered?.(t)),
    ended: (t, why) => list.forEach((h) => h.ended?.(t, why)),
    request: (req, uid, gid, pid) => {
      for (const h of list) if (h.request) return h.request(req, uid, gid, pid);
      return undefined;
    },
    sampled: (t: Target): SampleEnd | void => {
      for (const h of list) {
        const end = h.sampled?.(t);
        if (end) return end;
      }
    },
  };
}

export class Operations {
  readonly state: StateKeeper;
  readonly retention: Retention;
  readonly selector: Selector;
  readonly registry: MetricsRegistry;
  metrics: MetricsServer | null = null;
  private settings: Settings;

  private readonly engine: Registry;

  /** server: plogsrvd's server (src/plog/server/server.ts), whose engine these operations observe. */
  constructor(
    server: { readonly registry: Registry },
    private readonly report: Reporter,
    private readonly cli: OpsCli,
    settings: Settings,
  ) {
    const engine = server.registry;
    this.engine = engine;
    this.settings = settings;
    this.retention = new Retention(engine.dir, this.retentionOptions(settings), report);
    this.selector = new Selector(engine, report);
    this.state = new StateKeeper(engine, report, this.selector);
    this.selector.onChange = () => this.state.changed();
    this.registry = new MetricsRegistry(() => engine.registrations());
    engine.hooks = combineHooks(this.state.hooks(), this.retention.hooks(), this.selector.hooks(), this.registry.hooks());
  }

  private retentionOptions(s: Settings): { maxSize: number; keep: number; maxTotal: number } {
    return { maxSize: s.maxSize ?? 0, keep: s.keep ?? DEFAULT_KEEP, maxTotal: s.maxTotal ?? 0 };
  }

  /** After the server's socket is up: resume (--resume), save the state, serve metrics. Throws on a metrics listen failure. */
  async start(): Promise<void> {
    // First the one step that can fail, so that a failed start leaves the state file as it was.
    await this.applyMetrics(this.settings.metrics ?? '');
    if (this.cli.resume) {
      const n = this.state.resume();
      this.report.info(`--resume: resumed ${n} log${n === 1 ? '' : 's'}`);
    }
    // Without --resume the previous run's registrations are forgotten here.
    this.state.save();
  }

  private async applyMetrics(addr: string): Promise<void> {
    if (this.metrics && this.metrics.address === addr) return;
    this.metrics?.close();
    this.metrics = null;
    if (!addr) return;
    const m = new MetricsServer(addr, this.registry);
    await m.listen();
    this.metrics = m;
    this.report.info(`serving metrics on ${addr.replace(/:\d+$/, '')}:${m.port} (/metrics)`);
  }

  /** SIGHUP: re-read the configuration file (the command line still wins), reopen moved logs. */
  async reload(): Promise<void> {
    let s: Settings | null = null;
    try {
      s = loadSettings(this.cli);
    } catch (err) {
      this.report.error(`reload: ${(err as Error).message}; keeping the settings in use`);
    }
    if (s) {
      this.settings = s;
      this.retention.opts = this.retentionOptions(s);
      try {
        await this.applyMetrics(s.metrics ?? '');
      } catch (err) {
        this.report.error(`reload: --metrics ${s.metrics}: ${(err as Error).message}`);
      }
    }
    this.reopen();
  }

  /** SIGUSR1 (and the end of a reload): a log moved away starts afresh at its name. */
  reopen(): void {
    for (const t of [...this.engine.registrations()]) this.retention.reopen(t);
  }

  /** A clean stop: the registrations stay in the state file for --resume. */
  stop(): void {
    this.state.freeze();
    this.selector.stop();
    this.metrics?.close();
    this.metrics = null;
  }
}
