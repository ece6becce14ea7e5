// The syslog() benchmark: messages per second from plogkit/syslog's syslog()
// into a unix datagram receiver, against glibc's syslog() in a C loop into
// the same receiver, in the same run.
//
//   npx tsc -p . && node dist/bench/syslog.js [--messages N] [--reps N]
//
// - Receiver: bench/syslogfloor.c `recv`, a C loop of recv(2) on a unix
//   datagram socket; the time is from its first message to its last.
// - C floor: bench/syslogfloor.c `send`: openlog("bench", LOG_PID |
//   LOG_NDELAY, LOG_USER) and syslog(LOG_INFO, "bench message %ld from %s:
//   %s", ...) N times. glibc always sends to /dev/log, so it runs in a
//   private mount namespace (unshare -m; needs root) where the receiver's
//   socket is bind-mounted on /dev/log. glibc's send blocks while the
//   receiver's queue is full.
// - Node: a fresh process, PLOG_SYSLOG_SOCKET at the receiver,
//   openlog('bench', LOG_PID | LOG_NDELAY, LOG_USER) and syslog(LOG_INFO,
//   'bench message %d from %s: %s', i, 'bench', 'status ok') N times.
//   syslog() never blocks: what the receiver cannot take yet is queued, so
//   the loop awaits flush() whenever 256 are queued (a caller that must not
//   lose messages; without it the queue of 1,000 overflows and drops). A
//   run that dropped anything does not count.
// Runs alternate, --reps times each (default 5), after one warm-up of each.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { cc, fmtSpread, machine, n0, numOpt, say, spread, table, tempDir } from './lib.js';

const FMT = 'bench message %d from %s: %s';

interface Run {
  messages: number;
  bytes: number;
  seconds: number;
  senderCpu: number;
  receiverCpu: number;
}

/** Start the receiver; resolves with a function awaiting its figures. */
async function receiver(exe: string, path: string, n: number): Promise<() => Promise<{ got: number; bytes: number; seconds: number; cpu: number }>> {
  const r = spawn(exe, ['recv', path, String(n)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  r.stdout.setEncoding('utf8');
  await new Promise<void>((resolve, reject) => {
    r.stdout.on('data', (s: string) => {
      out += s;
      if (out.includes('ready\n')) resolve();
    });
    r.on('exit', () => reject(new Error('bench: the receiver ended')));
  });
  const done = new Promise<void>((resolve) => r.on('exit', () => resolve()));
  return async () => {
    await done;
    const [got, bytes, seconds, cpu] = out.split('\n')[1]!.trim().split(' ').map(Number);
    return { got: got!, bytes: bytes!, seconds: seconds!, cpu: cpu! };
  };
}

async function runC(exe: string, work: string, n: number): Promise<Run> {
  const path = join(work, 'log');
  const wait = await receiver(exe, path, n);
  // A private mount namespace where /dev/log is the receiver's socket.
  const setup = existsSync('/dev/log') ? '' : 'mount -t tmpfs tmpfs /dev && : > /dev/log && ';
  const out = execFileSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', `${setup}mount --bind "$1" /dev/log && exec "$2" send "$3"`, 'sh', path, exe, String(n)], {
    encoding: 'utf8',
  });
  const [, cpu] = out.trim().split(' ').map(Number);
  const r = await wait();
  return { messages: r.got, bytes: r.bytes, seconds: r.seconds, senderCpu: cpu!, receiverCpu: r.cpu };
}

async function runNode(exe: string, work: string, n: number): Promise<Run> {
  const path = join(work, 'log');
  const wait = await receiver(exe, path, n);
  const out = execFileSync(process.execPath, [new URL(import.meta.url).pathname, '--sender', String(n)], {
    encoding: 'utf8',
    env: { ...process.env, PLOG_SYSLOG_SOCKET: path },
  });
  const s = JSON.parse(out) as { cpu: number; dropped: number };
  const r = await wait();
  if (s.dropped > 0 || r.got !== n) throw new Error(`bench: syslog() dropped ${s.dropped}, the receiver got ${r.got} of ${n}`);
  return { messages: r.got, bytes: r.bytes, seconds: r.seconds, senderCpu: s.cpu, receiverCpu: r.cpu };
}

/** Child: the Node sender. */
async function sender(n: number): Promise<void> {
  const { openlog, syslog, defaultLogger, LOG_PID, LOG_NDELAY, LOG_USER, LOG_INFO } = await import('../src/syslog/index.js');
  openlog('bench', LOG_PID | LOG_NDELAY, LOG_USER);
  const log = defaultLogger();
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    syslog(LOG_INFO, FMT, i, 'bench', 'status ok');
    if (log.queued >= 256) await log.flush();
  }
  await log.flush();
  const c = process.cpuUsage(c0);
  process.stdout.write(JSON.stringify({ cpu: (c.user + c.system) / 1e6, dropped: log.dropped }) + '\n');
}

async function main(): Promise<void> {
  const n = numOpt('messages', 500_000);
  const reps = numOpt('reps', 5);
  const exe = cc(new URL('../../bench/syslogfloor.c', import.meta.url).pathname, 'syslogfloor');
  const work = tempDir('plog-bench-syslog-');
  await runC(exe, work, Math.round(n / 10));
  await runNode(exe, work, Math.round(n / 10));
  const c: Run[] = [];
  const js: Run[] = [];
  for (let i = 0; i < reps; i++) {
    if (i % 2 === 0) {
      c.push(await runC(exe, work, n));
      js.push(await runNode(exe, work, n));
    } else {
      js.push(await runNode(exe, work, n));
      c.push(await runC(exe, work, n));
    }
  }
  const rate = (r: Run): number => r.messages / r.seconds;
  const ratios = js.map((r, i) => rate(r) / rate(c[i]!));
  const row = (name: string, rs: Run[]): string[] => [
    name,
    n0(rs[0]!.messages),
    `${n0(rs[0]!.bytes / rs[0]!.messages)} B`,
    fmtSpread(spread(rs.map(rate)), 0),
    fmtSpread(spread(rs.map((r) => (r.senderCpu / r.messages) * 1e6)), 2),
    fmtSpread(spread(rs.map((r) => (r.receiverCpu / r.messages) * 1e6)), 2),
  ];
  const ratio = spread(ratios);
  say(`\n### syslog(): messages per second into a unix datagram receiver\n\nMachine: ${machine()}\n`);
  say(`Command: node dist/bench/syslog.js${process.argv.length > 2 ? ' ' + process.argv.slice(2).join(' ') : ''} (as root: the C floor needs a mount namespace)\n\n`);
  say(`${reps} runs each, alternating; median (min-max):\n\n`);
  say(
    table(
      ['sender', 'messages a run', 'message size', 'messages/s', 'sender CPU µs/message', 'receiver CPU µs/message'],
      [row('glibc syslog() in a C loop', c), row('plogkit/syslog syslog() in Node', js)],
    ),
  );
  say(`\nNode against glibc, per run: ${fmtSpread(ratio, 2)}x; goal ≥ 0.5x: ${ratio.median >= 0.5 ? 'met' : 'NOT met'}.\n`);
}

const si = process.argv.indexOf('--sender');
if (si >= 0) await sender(Number(process.argv[si + 1]));
else await main();
