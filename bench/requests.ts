// The requests benchmark: round trips of 100 concurrent clients to an idle
// plogsrvd (scale.ts measures the same under load), and the wall time of
// the `plog` command against `node -e 0`.
//
//   npm run build && node dist/bench/requests.js [--clients N] [--rounds N] [--runs N] [--plog PATH]
//
// Round trips: N clients (default 100), each its own datagram socket, each
// sending {0, 2} (the server's pid) and sending again as soon as the reply
// is in, --rounds times (default 50) after 5 rounds of warm-up; every round
// trip is timed from sendto() to the reply's arrival in this process.
// Command: `plog -q pid` (a full request and reply), `plog -l` and `plog
// --version` (no request), --runs times each (default 20) after 3 of
// warm-up, alternating with `node -e 0` on the same Node; for a private
// build of the package made here (tsc only, then bundled with package.json's
// "bundle" script: both forms in one run, whatever state dist/ is in), and
// for dist/src/cli/plog.js as it is (or only --plog PATH).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { UnixSocket } from '../src/native.js';
import { encodeQuery, Q_PID } from '../src/plog/protocol.js';
import { ROOT, bin, opt, fmtSpread, machine, numOpt, privateTmpSockets, quantile, say, spread, startServer, stopServer, table, tempDir } from './lib.js';

export interface RoundTrips {
  clients: number;
  rtts: number[];
  seconds: number;
  /** Sends that found the server's queue full and were tried again. */
  retries: number;
}

/** `clients` sockets in a loop of {0, 2} requests to dir's plogsrvd. */
export async function roundTrips(dir: string, clients: number, rounds: number, warmup = 5): Promise<RoundTrips> {
  const sockDir = tempDir('plog-bench-rt-');
  const server = join(dir, 'plogd_sock');
  const req = encodeQuery(Q_PID);
  const rtts: number[] = [];
  let t0 = 0;
  let t1 = 0;
  let retries = 0;
  await new Promise<void>((resolve, reject) => {
    let left = clients;
    for (let i = 0; i < clients; i++) {
      const s = new UnixSocket();
      s.bind(join(sockDir, `c${i}`));
      let n = 0;
      let sent = 0;
      // The server's queue holds net.unix.max_dgram_qlen datagrams (often
      // 10): a send that finds it full is tried again on the next turn of
      // the event loop, as a blocking client would wait; the round trip
      // counts from the first try.
      const send = (again = false): void => {
        if (!again) sent = performance.now();
        try {
          if (s.trySend(req, server) < 0) {
            retries++;
            setImmediate(() => send(true));
          }
        } catch (err) {
          reject(err);
        }
      };
      s.setReadable(() => {
        while (s.recv(2048)) {
          const now = performance.now();
          n++;
          if (n === warmup + 1) t0 = t0 || now;
          if (n > warmup) rtts.push(now - sent);
          if (n < warmup + rounds) {
            send();
          } else {
            t1 = now;
            s.close();
            if (--left === 0) resolve();
            return;
          }
        }
      });
      send();
    }
  });
  return { clients, rtts, seconds: (t1 - t0) / 1000, retries };
}

export function rttRow(name: string, r: RoundTrips): string[] {
  const ms = (x: number): string => x.toFixed(2);
  return [
    name,
    String(r.clients),
    r.rtts.length.toLocaleString('en'),
    ms(quantile(r.rtts, 0.5)),
    ms(quantile(r.rtts, 0.99)),
    ms(Math.max(...r.rtts)),
    Math.round(r.rtts.length / r.seconds).toLocaleString('en'),
    r.retries.toLocaleString('en'),
  ];
}
export const RTT_HEAD = ['server', 'clients', 'round trips', 'p50 ms', 'p99 ms', 'max ms', 'requests/s', 'sends retried (queue full)'];

function wall(args: string[]): number {
  const t = performance.now();
  const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  const ms = performance.now() - t;
  if (r.status !== 0) throw new Error(`bench: node ${args.join(' ')} exited ${r.status}`);
  return ms;
}

/** n `plog -q pid` processes started at once: each one's wall time and exit code. */
async function concurrentCommands(dir: string, n: number, plog: string): Promise<{ ms: number[]; failed: Map<number, number> }> {
  const ms: number[] = [];
  const failed = new Map<number, number>();
  await Promise.all(
    Array.from({ length: n }, () => {
      const t = performance.now();
      const c = spawn(process.execPath, [plog, '-d', dir, '-q', 'pid'], { stdio: 'ignore' });
      return new Promise<void>((resolve) =>
        c.on('exit', (code) => {
          ms.push(performance.now() - t);
          if (code !== 0) failed.set(code ?? -1, (failed.get(code ?? -1) ?? 0) + 1);
          resolve();
        }),
      );
    }),
  );
  return { ms, failed };
}

/**
 * A private copy of the built package in a temporary directory, compiled
 * with tsc, so that both forms of the command are measured in the same run
 * whatever state the working tree's dist/ is in: plain-plog.js (tsc's
 * output) and plog.js bundled by package.json's own "bundle" script.
 * Null when esbuild is not installed.
 */
function privatePlogs(): { plain: string; bundled: string } | null {
  const esbuild = join(ROOT, 'node_modules/.bin/esbuild');
  if (!existsSync(esbuild)) return null;
  const root = tempDir('plog-bench-pkg-');
  copyFileSync(join(ROOT, 'package.json'), join(root, 'package.json'));
  cpSync(join(ROOT, 'build/Release'), join(root, 'build/Release'), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(root, 'node_modules'));
  execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.json'), '--outDir', join(root, 'dist')], { stdio: 'ignore' });
  const cli = join(root, 'dist/src/cli');
  copyFileSync(join(cli, 'plog.js'), join(cli, 'plain-plog.js'));
  const script = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.bundle!;
  execFileSync('sh', ['-c', script], { cwd: root, stdio: 'inherit', env: { ...process.env, PATH: `${join(ROOT, 'node_modules/.bin')}:${process.env.PATH}` } });
  return { plain: join(cli, 'plain-plog.js'), bundled: join(cli, 'plog.js') };
}

/** Mean CPU ms (task-clock, perf stat -r n) of `node args`, or NaN without perf. */
function cpuMs(args: string[], n: number): number {
  const r = spawnSync('perf', ['stat', '-x,', '-r', String(n), '-e', 'task-clock', process.execPath, ...args], { encoding: 'utf8' });
  if (r.status !== 0) return NaN;
  const line = r.stderr.split('\n').find((l) => l.includes('task-clock'));
  return line ? Number(line.split(',')[0]) : NaN;
}

const isBundle = (path: string): boolean => readFileSync(path, 'utf8').includes('__plogUrl');

async function main(): Promise<void> {
  privateTmpSockets();
  const clients = numOpt('clients', 100);
  const rounds = numOpt('rounds', 50);
  const runs = numOpt('runs', 20);
  const given = opt('plog');
  const dir = tempDir('plog-bench-req-');
  const d = await startServer(dir);
  try {
    const rt = await roundTrips(dir, clients, rounds);
    const plogs: Array<[string, string]> = [];
    if (given) {
      plogs.push([`plog (${given})`, given]);
    } else {
      const mine = privatePlogs();
      if (mine) plogs.push(['plog, tsc only', mine.plain], ['plog, bundled', mine.bundled]);
      plogs.push([`plog as built in dist/ (${isBundle(bin('plog')) ? 'bundled' : 'NOT bundled: run npm run build'})`, bin('plog')]);
    }
    const chosen = plogs.find(([name]) => name === 'plog, bundled')?.[1] ?? plogs[0]![1];
    await concurrentCommands(dir, 10, chosen);
    const cc = await concurrentCommands(dir, clients, chosen);
    const cmds: Array<[string, string[]]> = [];
    for (const [name, p] of plogs) {
      cmds.push([`${name}: -q pid`, [p, '-d', dir, '-q', 'pid']], [`${name}: -l`, [p, '-d', dir, '-l']], [`${name}: --version`, [p, '--version']]);
    }
    const base: number[] = [];
    const times = cmds.map(() => [] as number[]);
    for (let i = 0; i < 3; i++) {
      wall(['-e', '0']);
      for (const [, a] of cmds) wall(a);
    }
    for (let i = 0; i < runs; i++) {
      base.push(wall(['-e', '0']));
      cmds.forEach(([, a], k) => times[k]!.push(wall(a)));
    }
    const b = spread(base);
    // CPU, which the machine's other work disturbs less than wall time.
    const baseCpu = cpuMs(['-e', '0'], runs);
    const cpus = cmds.map(([, a]) => cpuMs(a, runs));
    say(`\n### Requests\n\nMachine: ${machine()}\nCommand: node dist/bench/requests.js${process.argv.length > 2 ? ' ' + process.argv.slice(2).join(' ') : ''}\n\n`);
    say(`Round trips of {0, 2} (the server's pid), ${clients} clients at once, ${rounds} each:\n\n`);
    say(table(RTT_HEAD, [rttRow('idle plogsrvd', rt)]));
    const fails = [...cc.failed].map(([code, k]) => `${k} exited ${code}`).join(', ') || 'none';
    say(
      `\n${clients} \`plog -q pid\` commands started at once (${given ?? (chosen === bin('plog') ? 'dist/src/cli/plog.js' : 'the bundle')}): wall time p50 ${quantile(cc.ms, 0.5).toFixed(0)} ms, p99 ${quantile(cc.ms, 0.99).toFixed(0)} ms; failures: ${fails}.\n`,
    );
    say(`\nThe plog command's wall time (spawn to exit, ${runs} runs each, all alternating with node -e 0; median (min-max)):\n\n`);
    say(
      table(
        ['command', 'wall ms', 'against node -e 0', 'goal ≤ 1.5x', 'CPU ms (perf stat, mean)', 'CPU against node -e 0'],
        [
          ['node -e 0', fmtSpread(b), '1.00', '', baseCpu.toFixed(1), '1.00'],
          ...cmds.map(([name], k) => {
            const s = spread(times[k]!);
            const ratio = s.median / b.median;
            return [name, fmtSpread(s), ratio.toFixed(2), ratio <= 1.5 ? 'met' : 'NOT met', cpus[k]!.toFixed(1), (cpus[k]! / baseCpu).toFixed(2)];
          }),
        ],
        ['---', '---:', '---:', '---', '---:', '---:'],
      ),
    );
  } finally {
    await stopServer(d);
  }
}

if (process.argv[1] && new URL(import.meta.url).pathname === process.argv[1]) await main();
