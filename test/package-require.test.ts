// CommonJS users: require() of every subpath of the package. Node loads an
// ES module with require() since 20.19 (and 22.12), unless the module or
// one it imports has a top-level await (ERR_REQUIRE_ASYNC_MODULE): the
// library must have none.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UnixSocket } from '../src/native.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; exports: Record<string, unknown> };
const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
const requireEsm = (major === 20 && minor >= 19) || (major === 22 && minor >= 12) || major >= 23;

/** Run a CommonJS script in the package's directory, where its name
 * resolves to itself through its exports, as in a user's project. */
function cjs(code: string, env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const e = { ...process.env, ...env };
  delete e.NODE_TEST_CONTEXT;
  const r = spawnSync(process.execPath, ['--input-type=commonjs', '-e', code], { cwd: ROOT, encoding: 'utf8', timeout: 30_000, env: e });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const subpaths = Object.keys(pkg.exports)
  .filter((k) => k !== './package.json')
  .map((k) => `${pkg.name}/${k.slice(2)}`);

test('every subpath of the package is listed here', () => {
  assert.deepEqual(subpaths.sort(), [`${pkg.name}/daemon`, `${pkg.name}/strlog`, `${pkg.name}/syslog`]);
});

for (const sub of subpaths) {
  test(`require('${sub}') gives the same exports as import()`, { skip: requireEsm ? false : `Node ${process.versions.node} has no require() of ES modules` }, () => {
    const r = cjs(`
      const m = require(${JSON.stringify(sub)});
      import(${JSON.stringify(sub)}).then((n) => {
        const a = Object.keys(m).sort(), b = Object.keys(n).sort();
        if (JSON.stringify(a) !== JSON.stringify(b)) throw new Error('require: ' + a + ' import: ' + b);
        for (const k of a) if (m[k] !== n[k]) throw new Error(k + ' differs');
        console.log(a.length);
      });
    `);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(Number(r.stdout) > 0, r.stdout);
  });
}

test(
  `require('${pkg.name}/syslog') logs: openlog, syslog, closelog through the native addon to a local socket`,
  { skip: requireEsm ? false : `Node ${process.versions.node} has no require() of ES modules` },
  () => {
    const dir = mkdtempSync('/tmp/pl-');
    const rx = new UnixSocket();
    try {
      rx.bind(join(dir, 'log'));
      const r = cjs(
        `
      const { openlog, syslog, closelog, LOG_USER, LOG_INFO } = require(${JSON.stringify(`${pkg.name}/syslog`)});
      openlog('cjs', 0, LOG_USER);
      syslog(LOG_INFO, 'hello from %s', 'require');
      closelog();
    `,
        { PLOG_SYSLOG_SOCKET: join(dir, 'log') },
      );
      assert.equal(r.status, 0, r.stderr);
      // The child has exited: its datagram waits in this socket's queue.
      const got = rx.recv();
      assert.ok(got, 'a datagram');
      assert.match(got.data.toString(), /^<14>.* cjs: hello from require$/);
    } finally {
      rx.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
