// The package as a user gets it: `npm pack` (its prepack script builds the
// prebuilt addons), then `npm install` of the tarball on a machine with no
// compiler, no make, no python, no configured nodedir, no npm cache and no
// network (a network namespace of its own). Nothing may be built: the
// programs, the man pages and the libraries must work from the prebuilt
// binaries that node-gyp-build loads.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { delimiter, join } from 'node:path';
import { UnixSocket } from '../src/native.js';
import { runToExit } from './helpers/run.js';
import { ROOT, spawnSleep, tempDir, waitFor } from './helpers/plog.js';
import { NAME, Offline, packedTarball } from './helpers/package.js';

let off: Offline;
let tarball = '';
/** The tarball's contents, unpacked. */
let unpacked = '';
let prefix = '';
const daemons: string[] = [];
const children: ChildProcess[] = [];

before(async () => {
  off = await Offline.create();
  for (const c of ['cc', 'gcc', 'make', 'python3']) {
    const r = await off.sh('sh', ['-c', `command -v ${c}`]);
    assert.notEqual(r.code, 0, `${c} is still on the PATH: ${r.stdout}`);
  }
  // The publisher's side, with the repository's tools: prepack (the
  // prebuilt addons), then pack.
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  assert.match(pkg.scripts.prepack ?? '', /prebuild/);
  tarball = await packedTarball();
  unpacked = tempDir();
  execFileSync('tar', ['xzf', tarball, '-C', unpacked]);

  prefix = join(tempDir(), 'prefix');
});

after(() => {
  for (const dir of daemons) {
    try {
      process.kill(Number(readFileSync(join(dir, 'plogsrvd.pid'), 'utf8')), 'SIGTERM');
    } catch {
      /* gone */
    }
  }
  for (const c of children) c.kill('SIGKILL');
});

function tarList(): string[] {
  return execFileSync('tar', ['tzf', tarball], { encoding: 'utf8' }).split('\n').filter(Boolean);
}

test('postpack leaves no prebuilt binary in the checkout: a later npm ci there builds the addon from its source, never loads an old prebuild', () => {
  assert.ok(!existsSync(join(ROOT, 'prebuilds')));
});

test('the tarball carries prebuilt addons for linux-x64 (glibc, musl) and linux-arm64 (glibc), the C source to fall back on, and its one dependency', () => {
  const files = tarList();
  for (const f of [
    'prebuilds/linux-x64/plogkit.glibc.node',
    'prebuilds/linux-x64/plogkit.musl.node',
    'prebuilds/linux-arm64/plogkit.glibc.node',
    'binding.gyp',
    'native/plog_native.c',
    'node_modules/node-gyp-build/package.json',
  ]) {
    assert.ok(files.includes(`package/${f}`), `${f} in the tarball`);
  }
  assert.ok(!files.some((f) => f.startsWith('package/build/')), 'no build/ of the packer');
});

test('the glibc prebuilds need no glibc newer than 2.28 (what Node 20 itself needs)', (t) => {
  for (const [arch, objdump] of [
    ['x64', 'objdump'],
    ['arm64', 'aarch64-linux-gnu-objdump'],
  ] as const) {
    const file = join(unpacked, 'package/prebuilds', `linux-${arch}`, 'plogkit.glibc.node');
    let syms: string;
    try {
      syms = execFileSync(objdump, ['-T', file], { encoding: 'utf8' });
    } catch (err) {
      t.diagnostic(`${objdump} -T ${file}: ${String(err)}: not checked`);
      continue;
    }
    const versions = [...syms.matchAll(/GLIBC_(\d+)\.(\d+)/g)].map((m) => Number(m[1]) * 1000 + Number(m[2]));
    assert.ok(versions.length > 0, syms);
    assert.ok(Math.max(...versions) <= 2028, `${arch}: ${syms}`);
  }
});

test('the musl prebuild links against musl alone: every symbol but Node-API and libuv (the node binary has them) resolves in musl libc', (t) => {
  const ldso = '/lib/ld-musl-x86_64.so.1';
  if (!existsSync(ldso)) return t.skip(`${ldso} missing (Debian: musl)`);
  const file = join(unpacked, 'package/prebuilds/linux-x64/plogkit.musl.node');
  const r = (() => {
    try {
      return execFileSync(ldso, ['--list', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      return String((err as { stdout?: string }).stdout ?? '') + String((err as { stderr?: string }).stderr ?? '');
    }
  })();
  const missing = [...r.matchAll(/Error relocating .*?: (\S+): symbol not found/g)].map((m) => m[1]!);
  assert.ok(missing.length > 0, r);
  assert.deepEqual(
    missing.filter((s) => !/^(napi_|uv_)/.test(s)),
    [],
    r,
  );
  assert.doesNotMatch(r, /Error loading/);
});

test('npm install -g, offline, with no compiler: the install script builds nothing; plogsrvd, plog, plog run and man work', async () => {
  const r = await off.npm(['install', '-g', '--prefix', prefix, tarball], off.home);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  // The install script ran (node-gyp-build), found the prebuilt addon and
  // compiled nothing.
  assert.match(r.stdout, /> node-gyp-build\b/);
  const pkgDir = join(prefix, 'lib/node_modules', NAME);
  assert.ok(!existsSync(join(pkgDir, 'build')), 'nothing built');
  assert.doesNotMatch(r.stdout + r.stderr, /gyp (info|ERR)|CC\(target\)/);

  const env = off.env({ PATH: `${join(prefix, 'bin')}${delimiter}${off.path}`, PLOGDIR: tempDir() });
  const dir = tempDir();
  const srv = await off.sh('plogsrvd', ['-d', dir], { env });
  assert.equal(srv.code, 0, srv.stderr);
  daemons.push(dir);
  const s = spawnSleep();
  const c = await off.sh('plog', ['-d', dir, '-p', String(s.pid), '-i', '1s'], { env });
  assert.equal(c.code, 0, c.stderr);
  const log = join(dir, `sleep.${s.pid}`);
  await waitFor('two samples in the log', () => existsSync(log) && readFileSync(log, 'utf8').trimEnd().split('\n').length >= 4);
  assert.equal(readFileSync(log, 'utf8').split('\n')[0], 'sleep 300');

  const pr = await off.sh('plog', ['run', '--', 'sleep', '2'], { env });
  assert.equal(pr.code, 0, pr.stderr);
  assert.match(pr.stderr, /plog run: sleep 2 exited with status 0/);
  assert.match(pr.stderr, /samples: +\d+/);

  const q = await off.sh('plog', ['-d', dir, '-q', 'pid'], { env });
  assert.equal(q.code, 0, q.stderr);
  process.kill(Number(q.stdout.trim()), 'SIGTERM');
  await waitFor('plogsrvd gone', () => !existsSync(join(dir, 'plogd_sock')));

  const man = await off.sh('man', ['-P', 'cat', 'plogsrvd'], { env: off.env({ MANPATH: join(prefix, 'share/man'), MANWIDTH: '80' }) });
  assert.equal(man.code, 0, man.stderr);
  assert.match(man.stdout, /plogsrvd - process logger daemon/);
  const man3 = await off.sh('man', ['-P', 'cat', '3', 'plog_syslog'], { env: off.env({ MANPATH: join(prefix, 'share/man'), MANWIDTH: '80' }) });
  assert.equal(man3.code, 0, man3.stderr);
  assert.match(man3.stdout, new RegExp(`from '${NAME}/syslog'`));
});

test(`a project's npm install, offline, with no compiler and install scripts blocked: import() and require() of ${NAME}/syslog log through the prebuilt addon; ${NAME}/strlog and ${NAME}/daemon load`, async () => {
  const app = tempDir();
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
  const r = await off.npm(['install', '--ignore-scripts', tarball], app);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.doesNotMatch(r.stdout, /> node-gyp-build/);
  assert.ok(!existsSync(join(app, 'node_modules', NAME, 'build')), 'nothing built');

  const sock = join(tempDir(), 'log');
  const rx = new UnixSocket();
  rx.bind(sock);
  try {
    writeFileSync(
      join(app, 'esm.mjs'),
      `import { openlog, syslog, closelog, LOG_INFO, LOG_USER } from '${NAME}/syslog';
const strlog = await import('${NAME}/strlog');
const daemon = await import('${NAME}/daemon');
if (typeof strlog.strlog !== 'function' || typeof daemon.detach !== 'function') throw new Error('exports');
openlog('pkgtest', 0, LOG_USER);
syslog(LOG_INFO, 'hello from %s', 'import');
closelog();
`,
    );
    const e = await off.sh('node', ['esm.mjs'], { cwd: app, env: off.env({ PLOG_SYSLOG_SOCKET: sock }) });
    assert.equal(e.code, 0, e.stderr);
    const got = await waitFor('the datagram', () => rx.recv());
    assert.match(got.data.toString(), /^<14>.* pkgtest: hello from import$/);

    // CommonJS: require() of an ES module (Node 20.19 and later).
    writeFileSync(
      join(app, 'cjs.cjs'),
      `const { openlog, syslog, closelog, LOG_INFO, LOG_USER } = require('${NAME}/syslog');
for (const sub of ['strlog', 'daemon']) if (Object.keys(require('${NAME}/' + sub)).length === 0) throw new Error(sub);
openlog('pkgtest', 0, LOG_USER);
syslog(LOG_INFO, 'hello from %s', 'require');
closelog();
`,
    );
    const c = await off.sh('node', ['cjs.cjs'], { cwd: app, env: off.env({ PLOG_SYSLOG_SOCKET: sock }) });
    assert.equal(c.code, 0, c.stderr);
    const got2 = await waitFor('the datagram', () => rx.recv());
    assert.match(got2.data.toString(), /^<14>.* pkgtest: hello from require$/);

    // npm 11 names every package with an install script "not yet covered by
    // allowScripts"; denying plogkit's (as the README says) silences it, and
    // the package works as before: it never needed the script here.
    const deny = await off.sh('npm', ['install-scripts', 'deny', NAME], { cwd: app });
    assert.equal(deny.code, 0, deny.stdout + deny.stderr);
    const again = await off.npm(['rebuild'], app);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.doesNotMatch(again.stdout + again.stderr, /install-scripts|> node-gyp-build/);
    const e2 = await off.sh('node', ['esm.mjs'], { cwd: app, env: off.env({ PLOG_SYSLOG_SOCKET: sock }) });
    assert.equal(e2.code, 0, e2.stderr);
    assert.match((await waitFor('the datagram', () => rx.recv())).data.toString(), /pkgtest: hello from import$/);
  } finally {
    rx.close();
  }
});

test('linux-arm64: the installed plogsrvd and plog run on an arm64 Node under qemu, with the arm64 prebuild', async (t) => {
  const node = process.env.PLOGKIT_ARM64_NODE;
  const sysroot = '/usr/aarch64-linux-gnu/lib';
  const ld = join(sysroot, 'ld-linux-aarch64.so.1');
  if (!node || !existsSync(node)) return t.skip('PLOGKIT_ARM64_NODE (an arm64 node binary, as .ci/run fetches) is not set');
  if (!existsSync(ld)) return t.skip(`${ld} missing (Debian: libc6-arm64-cross, libstdc++6-arm64-cross)`);
  const qemu = await off.sh('sh', ['-c', 'command -v qemu-aarch64'], { env: process.env });
  if (qemu.code !== 0) return t.skip('qemu-aarch64 missing (Debian: qemu-user)');
  const pkgDir = join(prefix, 'lib/node_modules', NAME);
  if (!existsSync(pkgDir)) return t.skip('the global install failed (see above)');
  // The loader is named, not qemu's -L: with -L, qemu reads every absolute
  // path in the sysroot first, and "/" there is not the real root.
  const arm = (args: string[]): [string, string[]] => ['qemu-aarch64', [ld, '--library-path', sysroot, node, ...args]];
  const env = off.env({ PATH: off.path });

  const [q, qa] = arm(['-p', `process.arch + ' ' + require(${JSON.stringify(join(pkgDir, 'node_modules/node-gyp-build'))}).path(${JSON.stringify(pkgDir)})`]);
  const which = await off.sh(q, qa, { env });
  assert.equal(which.code, 0, which.stderr);
  assert.equal(which.stdout.trim(), `arm64 ${join(pkgDir, 'prebuilds/linux-arm64/plogkit.glibc.node')}`);

  const dir = tempDir();
  const [sq, sa] = arm([join(pkgDir, 'dist/src/cli/plogsrvd.js'), '-f', '-d', dir]);
  const srv = spawn(sq, sa, { env, stdio: 'ignore' });
  children.push(srv);
  await waitFor('the arm64 plogsrvd socket', () => existsSync(join(dir, 'plogd_sock')), { timeout: 60_000 });
  const s = spawnSleep();
  const [cq, ca] = arm([join(pkgDir, 'dist/src/cli/plog.js'), '-d', dir, '-t', '30', '-p', String(s.pid), '-i', '1s']);
  const c = await off.sh(cq, ca, { env });
  assert.equal(c.code, 0, c.stderr);
  const log = join(dir, `sleep.${s.pid}`);
  await waitFor('two samples from the arm64 plogsrvd', () => existsSync(log) && readFileSync(log, 'utf8').trimEnd().split('\n').length >= 4, { timeout: 30_000 });
  srv.kill('SIGTERM');
  await waitFor('the arm64 plogsrvd gone', () => srv.exitCode !== null || srv.signalCode !== null, { timeout: 30_000 });
  assert.equal(srv.exitCode, 0);
});

test('where no prebuilt addon fits and install scripts were blocked, the programs say how to build it and the library still logs over UDP; npm rebuild -g with a compiler builds it from source', async () => {
  const p2 = join(tempDir(), 'prefix');
  const r = await off.npm(['install', '-g', '--ignore-scripts', '--prefix', p2, tarball], off.home);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const pkgDir = join(p2, 'lib/node_modules', NAME);
  // As on a platform that none of the prebuilt binaries fits.
  rmSync(join(pkgDir, 'prebuilds', `linux-${process.arch}`), { recursive: true });
  const env = off.env({ PATH: `${join(p2, 'bin')}${delimiter}${off.path}`, PLOGDIR: tempDir() });

  const dir = tempDir();
  const how =
    /the native addon \(native\/plog_native\.c\) is not built for linux-\w+ with \w+: .*No native build was found.*Install a C compiler, make and python3, then run `npm rebuild plogkit` \(`npm rebuild -g plogkit` for a global install\) with its install script allowed\./;
  // The daemons say it before they detach (their stderr is /dev/null then).
  for (const [prog, args] of [
    ['plogsrvd', ['-d', dir]],
    ['strlogd', ['-d', tempDir()]],
    ['strerr', ['--daemon', '--rundir', tempDir(), '-d', tempDir()]],
  ] as const) {
    const r = await off.sh(prog, [...args], { env });
    assert.equal(r.code, 70, `${prog}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`^${prog}: ${how.source}$`, 'm'));
    assert.doesNotMatch(r.stderr, /bug|internal error/);
  }
  const cl = await off.sh('plog', ['run', '--', 'true'], { env });
  assert.notEqual(cl.code, 0);
  assert.match(cl.stderr, how);

  // The library loads without the addon; what needs none works.
  const rx = createSocket('udp4');
  await new Promise<void>((res) => rx.bind(0, '127.0.0.1', res));
  const got = new Promise<string>((res) => rx.once('message', (m) => res(m.toString())));
  try {
    writeFileSync(
      join(p2, 'lib', 'udp.mjs'),
      `import { Logger, LOG_INFO } from '${NAME}/syslog';
const l = new Logger({ ident: 'noaddon', url: 'udp://127.0.0.1:${(rx.address() as { port: number }).port}' });
l.syslog(LOG_INFO, 'over %s', 'udp');
await l.close();
`,
    );
    const u = await off.sh('node', [join(p2, 'lib', 'udp.mjs')], { env });
    assert.equal(u.code, 0, u.stderr);
    assert.match(await got, /noaddon .*over udp$/);
  } finally {
    rx.close();
  }

  // The fallback: built from the C source in the package, with this
  // machine's compiler and Node headers (npm's configuration as it is).
  const real = { ...process.env };
  for (const k of Object.keys(real)) if (/^(npm_|NODE_TEST_CONTEXT$)/i.test(k) && k !== 'npm_config_nodedir') delete real[k];
  const rb = await runToExit('npm', ['rebuild', '-g', '--prefix', p2, NAME, '--foreground-scripts'], { env: real, stdio: ['ignore', 'pipe', 'pipe'] }, 180_000);
  assert.equal(rb.code, 0, rb.stdout + rb.stderr);
  assert.ok(existsSync(join(pkgDir, 'build/Release/plog_native.node')), rb.stdout + rb.stderr);
  const srv2 = await off.sh('plogsrvd', ['-d', dir], { env });
  assert.equal(srv2.code, 0, srv2.stderr);
  daemons.push(dir);
  const q = await off.sh('plog', ['-d', dir, '-q', 'pid'], { env });
  assert.equal(q.code, 0, q.stderr);
  process.kill(Number(q.stdout.trim()), 'SIGTERM');
  await waitFor('plogsrvd gone', () => !existsSync(join(dir, 'plogd_sock')));
});
