// plogsrvd's configuration file (plogsrvd(1), CONFIGURATION FILE): `-c FILE`, else /etc/plogsrvd.conf
// if it exists; read at start and again on SIGHUP. Lines of `key = value`
// where a key is a long option of plogsrvd (max-size, keep, max-total,
// metrics); blank lines and lines starting with '#' are ignored. Options
// given on the command line win over the file.
import { parseSize } from './retention.js';

export const DEFAULT_CONFIG = '/etc/plogsrvd.conf';

/** What the file and the command line may set, all optional. */
export interface Settings {
  maxSize?: number;
  keep?: number;
  maxTotal?: number;
  /** ADDR:PORT, or '' for none. */
  metrics?: string;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** A value for one long option; throws ConfigError (the message names the option). */
export function settingOf(key: string, value: string, into: Settings = {}): Settings {
  switch (key) {
    case 'max-size':
    case 'max-total': {
      const n = value === '0' || value === 'none' ? 0 : parseSize(value);
      if (n === null) throw new ConfigError(`--${key} takes a size such as 10M or 1G, not '${value}'`);
      if (key === 'max-size') into.maxSize = n;
      else into.maxTotal = n;
      return into;
    }
    case 'keep': {
      if (!/^\d{1,4}$/.test(value)) throw new ConfigError(`--keep takes a number from 0 to 9999, not '${value}'`);
      into.keep = Number(value);
      return into;
    }
    case 'metrics': {
      if (value === '' || value === 'none') into.metrics = '';
      else if (parseListenAddress(value) === null) throw new ConfigError(`--metrics takes ADDR:PORT (e.g. 127.0.0.1:9464 or [::1]:9464), not '${value}'`);
      else into.metrics = value;
      return into;
    }
    default:
      throw new ConfigError(`unknown option '${key}'`);
  }
}

/** Parse a configuration file's text. Errors name the line. */
export function parseConfig(text: string, file = 'config'): Settings {
  const out: Settings = {};
  const seen = new Set<string>();
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const m = /^([a-z][a-z-]*)\s*=\s*(.*)$/.exec(line);
    if (!m) throw new ConfigError(`${file}:${i + 1}: not a 'key = value' line`);
    const key = m[1]!; // neither group is optional in the pattern
    let value = m[2]!.trim();
    if (value.length >= 2 && ((value.startsWith('"') && value.endsWith('"')) || (value.startsWith("'") && value.endsWith("'")))) value = value.slice(1, -1);
    if (seen.has(key)) throw new ConfigError(`${file}:${i + 1}: '${key}' given more than once`);
    seen.add(key);
    try {
      settingOf(key, value, out);
    } catch (err) {
      throw new ConfigError(`${file}:${i + 1}: ${(err as Error).message}`);
    }
  });
  return out;
}

/** ADDR:PORT ([v6]:PORT for IPv6) -> host and port, or null. */
export function parseListenAddress(text: string): { host: string; port: number } | null {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(text);
  if (!m) return null;
  const port = Number(m[3]);
  if (port > 65535) return null;
  return { host: m[1] ?? m[2]!, port }; // one of the two alternatives matched
}

/** The file's settings overridden by the command line's. */
export function merge(file: Settings, cli: Settings): Settings {
  const out: Settings = { ...file };
  for (const [k, v] of Object.entries(cli)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
