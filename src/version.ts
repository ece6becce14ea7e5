// The package's name, version and bug tracker, read once from package.json
// (two levels above the compiled file: dist/src/version.js -> package.json;
// the bundled plog finds it from the same place).
import { readFileSync } from 'node:fs';

export interface PackageInfo {
  name: string;
  version: string;
  /** Where bugs are reported (package.json "bugs"), null when it cannot be read. */
  bugs: string | null;
}

let cached: PackageInfo | null = null;

export function packageInfo(): PackageInfo {
  if (cached === null) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
        name?: string;
        version?: string;
        bugs?: string | { url?: string };
      };
      const bugs = typeof pkg.bugs === 'string' ? pkg.bugs : (pkg.bugs?.url ?? null);
      cached = { name: pkg.name ?? 'plogkit', version: pkg.version ?? 'unknown', bugs };
    } catch {
      cached = { name: 'plogkit', version: 'unknown', bugs: null };
    }
  }
  return cached;
}

export function version(): string {
  return packageInfo().version;
}
