// createReporter (src/daemon/report.ts) and syslogSink, in real processes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createReporter, timestamp } from '../src/daemon/index.js';
import { UnixSocket } from '../src/native.js';
import { waitFor } from './helpers/wait.js';

const REPORTER = fileURLToPath(new URL('./fixtures/daemon/reporter.js', import.meta.url));
const SYSLOG_REPORTER = fileURLToPath(new URL('./fixtures/daemon/syslog-reporter.js', import.meta.url));
const LINE = (pid: number, msg: string): RegExp => new RegExp(`^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d reptest\\[${pid}\\]: ${msg.replace(/[()[\]]/g, '\\$&')}\\n$`);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  pid: number;
  sink: string;
}

function reporter(dest: string, verbose: boolean, mode = ''): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), 'plog-report-'));
  const sinkFile = join(dir, 'sink');
  const child = spawn(process.execPath, [REPORTER, dest, verbose ? '1' : '0', sinkFile, mode]);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve) => {
    child.on('close', (code) => {
      const sink = existsSync(sinkFile) ? readFileSync(sinkFile, 'utf8') : '';
      rmSync(dir, { recursive: true, force: true });
      resolve({ code, stdout, stderr, pid: child.pid!, sink });
    });
  });
}

test('dest stderr, verbose: info on stdout, errors on stderr, timestamped with the pid', async () => {
  const r = await reporter('stderr', true);
  assert.equal(r.code, 0);
  assert.match(r.stdout, LINE(r.pid, 'now logging bash.123'));
  assert.match(r.stderr, LINE(r.pid, 'recvfrom() failed'));
  assert.equal(r.sink, '', 'the sink is not used (nor closed)');
});

test('dest syslog, not verbose: errors to syslog only, info nowhere', async () => {
  const r = await reporter('syslog', false);
  assert.equal(r.code, 0);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, '');
  assert.equal(r.sink, 'ERR recvfrom() failed\nCLOSE\n');
});

test('dest both: errors to syslog and stderr', async () => {
  const r = await reporter('both', false);
  assert.match(r.stderr, LINE(r.pid, 'recvfrom() failed'));
  assert.equal(r.sink, 'ERR recvfrom() failed\nCLOSE\n');
});

test('dest none: errors nowhere', async () => {
  const r = await reporter('none', false);
  assert.equal(r.code, 0);
  assert.equal(r.stderr, '');
  assert.equal(r.sink, '');
});

test('fatal after ready: reported as an error, cleanup run, exit code', async () => {
  const r = await reporter('both', false, 'fatal');
  assert.equal(r.code, 6);
  assert.equal(r.stderr.split('\n').length, 3, r.stderr);
  assert.match(r.stderr.split('\n')[1] + '\n', LINE(r.pid, 'socket is gone'));
  assert.equal(r.sink, 'ERR recvfrom() failed\nERR socket is gone\nCLEANUP\nCLOSE\n');
});

test('fatal before ready: always on stderr as "program: msg", not to syslog', async () => {
  const r = await reporter('syslog', false, 'fatal-early');
  assert.equal(r.code, 3);
  assert.equal(r.stderr, 'reptest: could not change directory\n');
  assert.equal(r.sink, 'CLEANUP\nCLOSE\n');
});

test('createReporter needs a sink for syslog', () => {
  assert.throws(() => createReporter({ program: 'x', dest: 'syslog' }), TypeError);
  assert.throws(() => createReporter({ program: 'x', dest: 'both' }), TypeError);
  const r = createReporter({ program: 'x', dest: 'none' });
  r.info('not verbose: nothing');
  r.close();
});

test('timestamp is local YYYY-MM-DD HH:MM:SS', () => {
  assert.equal(timestamp(new Date(2026, 10, 21, 9, 4, 5)), '2026-11-21 09:04:05');
});

test('syslogSink sends LOG_DAEMON|LOG_ERR with ident[pid] to the syslog socket', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'plog-report-'));
  const path = join(dir, 'log');
  const sock = new UnixSocket();
  sock.bind(path);
  const got: string[] = [];
  sock.setReadable(() => {
    for (let d = sock.recv(); d; d = sock.recv()) got.push(d.data.toString());
  });
  try {
    const child = spawn(process.execPath, [SYSLOG_REPORTER, 'run'], {
      env: { ...process.env, PLOG_SYSLOG_SOCKET: path },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const code = await new Promise<number | null>((res) => child.on('close', (c) => res(c)));
    assert.equal(code, 0, stderr);
    await waitFor('the syslog record', () => got.length > 0, { timeout: 2000, interval: 20 });
    assert.equal(got.length, 1);
    // <27> = LOG_DAEMON (3 << 3) | LOG_ERR (3)
    assert.match(got[0]!, new RegExp(`^<27>.*reptest\\[${child.pid}\\]: recvfrom\\(\\) failed: Connection refused`));
  } finally {
    sock.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
