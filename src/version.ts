// The package version, read once from package.json (two levels above the
// compiled file: dist/src/version.js -> package.json).
import { readFileSync } from 'node:fs';

let cached: string | null = null;

export function version(): string {
  if (cached === null) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
      cached = pkg.version ?? 'unknown';
    } catch {
      cached = 'unknown';
    }
  }
  return cached;
}
