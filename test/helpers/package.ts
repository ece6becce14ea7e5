// The package as a user gets it, for the tests that install it
// (package-install.test.ts, services.test.ts): the tarball `npm pack` makes,
// and npm run offline, with no compiler on the PATH, a fresh HOME (no
// ~/.npmrc, an empty cache) and, where this user may make one, a network
// namespace with no interface up, so that nothing can be downloaded.
import { after } from 'node:test';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { runToExit, type RunResult } from './run.js';
import { ROOT, tempDir, VERSION, waitFor } from './plog.js';

export const NAME = 'plogkit';

/** A PATH with every command of the usual directories but the ones that
 * build C: cc, gcc, make, python (node-gyp's), and their cross variants. */
function pathWithoutCompilers(): string {
  const bin = join(tempDir(), 'bin');
  mkdirSync(bin);
  const hidden = /^(cc|c\+\+|c89|c99|cpp|gcc|g\+\+|clang|tcc|make|gmake|python|musl-gcc|node-gyp)|-(gcc|g\+\+|cc|c\+\+|cpp|clang)(-[\d.]+)?$/;
  const dirs = [dirname(process.execPath), '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];
  for (const d of dirs) {
    if (!existsSync(d)) continue;
    for (const name of readdirSync(d)) {
      if (hidden.test(name) || existsSync(join(bin, name))) continue;
      symlinkSync(join(d, name), join(bin, name));
    }
  }
  return bin;
}

/** A machine as a user installing the package has it: no compiler, no npm
 * configuration, no cache, no network. */
export class Offline {
  private constructor(
    /** A PATH without compilers. */
    readonly path: string,
    /** An empty HOME. */
    readonly home: string,
    /** The command that runs the next one without a network ([] when this user cannot). */
    readonly netns: string[],
  ) {}

  static async create(): Promise<Offline> {
    const netns = (await runToExit('unshare', ['-n', 'true'], { stdio: 'ignore' }).catch(() => ({ code: 1 }))).code === 0 ? ['unshare', '-n'] : [];
    return new Offline(pathWithoutCompilers(), tempDir(), netns);
  }

  /** This environment without npm's own variables (npm test sets dozens,
   * nodedir among them), HOME the empty one, PATH without compilers, plus `set`. */
  env(set: Record<string, string> = {}): NodeJS.ProcessEnv {
    const e: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!/^(npm_|NODE_TEST_CONTEXT$|PLOG|STRLOG|INIT_CWD$|NODE_)/i.test(k)) e[k] = v;
    return { ...e, HOME: this.home, PATH: this.path, ...set };
  }

  sh(file: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; limit?: number } = {}): Promise<RunResult> {
    return runToExit(file, args, { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? this.env(), cwd: opts.cwd }, opts.limit ?? 60_000);
  }

  /** npm offline, with no network; `via` runs it (nsenter into a mount namespace). */
  npm(args: string[], cwd: string, via: string[] = []): Promise<RunResult> {
    const cmd = [...via, ...this.netns, 'npm', ...args, '--offline', '--no-audit', '--no-fund', '--foreground-scripts'];
    return this.sh(cmd[0]!, cmd.slice(1), { cwd, limit: 120_000 });
  }
}

/** What goes into the tarball, for the key of the one already packed: the
 * package.json "files" (without prebuilds/, which prepack makes), README,
 * LICENSE and the bundled dependency, by name, size and content. */
function packKey(): string {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { files: string[] };
  const h = createHash('sha256');
  const walk = (p: string): void => {
    if (!existsSync(p)) return;
    if (statSync(p).isDirectory()) {
      for (const n of readdirSync(p).sort()) walk(join(p, n));
      return;
    }
    h.update(`${relative(ROOT, p)}\0`);
    h.update(readFileSync(p));
  };
  for (const f of ['package.json', 'README.md', 'LICENSE', 'node_modules/node-gyp-build', ...pkg.files.filter((f) => f !== 'prebuilds')]) walk(join(ROOT, f));
  return h.digest('hex');
}

// Under the lock (flock(1)): pack unless the tarball of these sources is
// there. prepack builds the prebuilt addons into the checkout's prebuilds/,
// postpack removes them: two test files doing it at once would pack without
// them, or remove them under the other's pack. dist/ is packed as
// `npm run build` left it (npm test has just built it; pack's own prepare
// would build it again under the feet of the other test files).
const PACK = `
set -e
cd "$1"
[ -f "$2/key" ] && [ "$(cat "$2/key")" = "$3" ] && [ -f "$2/$4" ] && exit 0
rm -f "$2/key" "$2/$4"
npm run prepack >&2
npm pack --ignore-scripts --pack-destination "$2" >&2
npm run postpack >&2
echo "$3" > "$2/key"
`;

/**
 * The tarball of this checkout, as `npm pack` makes it (its prepack script
 * builds the prebuilt addons): packed once for the sources as they are, in
 * dist/pack/, and shared by the test files that install it.
 */
export async function packedTarball(): Promise<string> {
  const cache = join(ROOT, 'dist', 'pack');
  mkdirSync(cache, { recursive: true });
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  const file = `${NAME}-${VERSION}.tgz`;
  const r = await runToExit('flock', ['-w', '600', join(cache, 'lock'), 'sh', '-c', PACK, 'pack', ROOT, cache, packKey(), file], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] }, 900_000);
  if (r.code !== 0) throw new Error(`packing ${NAME}: ${r.stderr}`);
  return join(cache, file);
}

// The holder of a private mount namespace: an overlay on each directory
// given, its writes kept in a tmpfs that only the namespace sees.
const OVERLAY = `
set -e
t=$1
shift
mount -t tmpfs -o mode=0700 tmpfs "$t"
i=0
for d; do
  i=$((i + 1))
  mkdir "$t/u$i" "$t/w$i"
  mount -t overlay overlay -o "lowerdir=$d,upperdir=$t/u$i,workdir=$t/w$i" "$d"
done
echo ready
exec sleep 1000000
`;

/**
 * The machine's own file system, with `dirs` (such as /usr/local) writable
 * in a private mount namespace alone: what a test installs there (npm
 * install -g --prefix /usr/local) is where an administrator's install
 * would be, for the tools that look there (systemd-analyze, init scripts),
 * and nothing of the machine changes. Commands run in it through `via`
 * (nsenter); the processes they start stay in it. Needs root and overlayfs.
 */
export class PrivateRoot {
  private constructor(private readonly holder: ChildProcess) {}

  /** Why there can be none here, or null. */
  static unavailable(): string | null {
    if (process.getuid?.() !== 0) return 'needs root (mount namespaces)';
    for (const tool of ['unshare', 'nsenter']) if (spawnSync(tool, ['--version']).status !== 0) return `${tool} (util-linux) is not installed`;
    const t = tempDir();
    const r = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', OVERLAY.replace('exec sleep 1000000', ''), 'overlay', t, '/usr/local'], { encoding: 'utf8' });
    if (r.status !== 0) return `no overlay mount in a mount namespace here: ${r.stderr.trim()}`;
    return null;
  }

  static async start(dirs: string[]): Promise<PrivateRoot> {
    const holder = spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', OVERLAY, 'overlay', tempDir(), ...dirs], { stdio: ['ignore', 'pipe', 'pipe'] });
    holders.add(holder);
    let out = '';
    holder.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    holder.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    await waitFor(`the overlays on ${dirs.join(' ')} (${out})`, () => {
      if (holder.exitCode !== null) throw new Error(`the namespace's holder exited ${holder.exitCode}: ${out}`);
      return out.includes('ready\n');
    });
    return new PrivateRoot(holder);
  }

  /** The command prefix that runs a command in the namespace. */
  get via(): string[] {
    return ['nsenter', '-t', String(this.holder.pid), '-m', '--'];
  }

  close(): void {
    this.holder.kill('SIGKILL');
    holders.delete(this.holder);
  }
}

const holders = new Set<ChildProcess>();
after(() => {
  for (const h of holders) h.kill('SIGKILL');
});
