// plog web: the logs of a runtime directory (and any log files named) as a
// live web page: a list of every log, and the chart of each, updated as
// samples arrive. Run by a user, as that user: it reads the log files with
// that user's rights and needs nothing of plogsrvd. The engine is
// src/web/engine.ts, the HTTP front src/web/http.ts; loaded by plog.ts on
// demand.
import { randomBytes } from 'node:crypto';
import v8 from 'node:v8';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { internalError } from '../bugs.js';
import { escapeText } from '../escape.js';
import { ExitError, type ExitCode } from '../plog/exitcodes.js';
import { READER } from '../plog/readers/exitcodes.js';
import { resolveRunDir } from '../plog/rundir.js';
import { errnoText } from '../plog/log/readlog.js';
import { Engine } from '../web/engine.js';
import { WebServer } from '../web/http.js';
import { Follower } from '../web/watch.js';
import { version } from '../version.js';
import { parseSub, usageError, warn } from './plog-sub.js';

const PROG = 'plog web';

/** plog web's exit codes: the readers' where they mean the same, and one of its own. */
export const WEB_EXIT = {
  OK: { code: 0, meaning: 'stopped by SIGINT or SIGTERM' },
  USAGE: READER.USAGE,
  READ: { code: 16, meaning: 'a log file named, or the directory given with -d, cannot be read' },
  NOT_A_LOG: { code: 17, meaning: 'a file named is not a plog log' },
  LISTEN: { code: 20, meaning: "cannot listen on the address (in use, not this machine's, not allowed)" },
  INTERNAL: READER.INTERNAL,
} as const satisfies Record<string, ExitCode>;

export function usage(): string {
  const codes = Object.values(WEB_EXIT as Record<string, ExitCode>)
    .map((c) => `  ${String(c.code).padStart(4)}  ${c.meaning}`)
    .join('\n');
  return `plog web ${version()} - every log, live, as charts in a web browser

Usage:
  plog web [-d DIR] [--listen ADDR:PORT] [--allow-host NAME] [--open] [FILE...]
  plog web -h | --help

Serves the logs of the runtime directory and any log FILEs named as a web
page: a list of every log (running or ended, RSS, PSS and CPU% now, RSS over
the last hour, the leak verdict of plog report) and the chart of each, both
updated as samples arrive. Prints the URL to open; it carries a secret
token, without which nothing is shown. Runs as the user who starts it and
shows only logs that user can read. Stop it with Ctrl-C.

Options:
  -d DIR              runtime directory (default $PLOGDIR, else /var/local/plog)
  --listen ADDR:PORT  where to listen (default 127.0.0.1:0: loopback, a free
                      port); an address of another interface is reachable
                      from the network, in plain HTTP: prefer an SSH tunnel
                      (ssh -L 8080:127.0.0.1:PORT host)
  --allow-host NAME   also accept requests for the host name NAME (behind a
                      reverse proxy); addresses and localhost always are
  --open              open the page in a browser, where one is at hand
                      ($BROWSER, or xdg-open on a desktop)
  -h, --help          this text

Exit status:
${codes}
`;
}

export interface WebArgs {
  dir: string | null;
  dirGiven: boolean;
  host: string;
  port: number;
  allowHost: string | undefined;
  open: boolean;
  files: string[];
}

/** Parse plog web's arguments (pure but for the environment's PLOGDIR). */
export function parse(argv: string[], env: NodeJS.ProcessEnv = process.env): WebArgs | 'help' {
  const { values, files } = parseSub(argv, {
    dir: { type: 'string', short: 'd' },
    listen: { type: 'string' },
    'allow-host': { type: 'string' },
    open: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return 'help';
  const rd = resolveRunDir(values.dir as string | undefined, env);
  // The runtime directory only has to be short enough for plogsrvd's socket; here any absolute path does.
  let dir: string | null = rd.dir;
  if (!rd.ok && rd.problem !== 'too-long') usageError(`-d: ${rd.message}`);
  if (dir === '') dir = null;
  let host = '127.0.0.1';
  let port = 0;
  if (values.listen !== undefined) {
    const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(String(values.listen));
    if (!m || Number(m[3]) > 65535) usageError(`--listen: ADDR:PORT, as 127.0.0.1:8080 or [::1]:8080, not '${String(values.listen)}'`);
    host = m[1] ?? m[2]!; // one of the two alternatives matched
    if (m[2] !== undefined && m[2] !== 'localhost' && isIP(m[2]) !== 4) usageError(`--listen: an address, not a host name: '${m[2]}'`);
    if (m[1] !== undefined && isIP(m[1]) !== 6) usageError(`--listen: not an IPv6 address: '${m[1]}'`);
    if (host === 'localhost') host = '127.0.0.1';
    port = Number(m[3]);
  }
  const allowHost = values['allow-host'] as string | undefined;
  if (allowHost !== undefined && !/^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$/.test(allowHost)) usageError(`--allow-host: a host name, not '${allowHost}'`);
  for (const f of files) if (f === '-') usageError('plog web follows files, not standard input');
  return { dir, dirGiven: values.dir !== undefined, host, port, allowHost, open: !!values.open, files };
}

/** Whether an address is the loopback's. */
export function isLoopback(host: string): boolean {
  return host === '::1' || /^127\./.test(host);
}

/**
 * Open the page in a browser without putting the token on a command line
 * (any local user can read command lines in /proc): the browser is given a
 * page of our own, readable by this user only, that forwards to the URL.
 */
function openBrowser(url: string): string | null {
  const env = process.env;
  const desktop = !!(env.DISPLAY || env.WAYLAND_DISPLAY);
  const browser = env.BROWSER ? env.BROWSER.split(':')[0] : desktop ? 'xdg-open' : null;
  if (!browser) return 'no browser here (no $BROWSER, no desktop): open the URL yourself';
  const dir = mkdtempSync(join(env.XDG_RUNTIME_DIR || tmpdir(), 'plog-web-'));
  const page = join(dir, 'open.html');
  writeFileSync(page, `<!DOCTYPE html><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=${url}"><a href="${url}">plog web</a>\n`, { mode: 0o600 });
  // Removed once a browser had time to read it.
  setTimeout(() => rmSync(dir, { recursive: true, force: true }), 60_000).unref();
  try {
    const child = spawn(browser, [`file://${page}`], { stdio: 'ignore', detached: true });
    child.on('error', () => warn(PROG, `could not run ${browser}: open the URL yourself`));
    child.unref();
  } catch (err) {
    return `could not run ${browser}: ${(err as Error).message}`;
  }
  return null;
}

/**
 * What plog web allocates dies young (a parse per appended line, an update
 * per flush); V8 would grow its young generation to 2 x 16 MB when busy (the
 * first reading of hundreds of logs is) and keep the pages: 30 MB of RSS
 * for nothing. Set before the heap grows, a 4 MB semi-space holds (unlike
 * plogsrvd's case, src/cli/plogsrvd.ts, set later); the scavenges it adds
 * are measured in BENCHMARKS.md. The old generation: V8 lets it grow to
 * about three times what is live before a full collection (11 MB live grew
 * to 42 MB with 500 logs at 1 s, and the first reading of the logs set the
 * peak); a growing factor of 1.25 keeps it near what is live, for full
 * collections of a small heap that cost little (BENCHMARKS.md: RSS 94 MB,
 * peak 96 MB instead of 110, CPU the same). PLOG_V8_YOUNG=default leaves
 * V8 alone.
 */
function keepYoungGenerationSmall(): void {
  if (process.env.PLOG_V8_YOUNG === 'default') return;
  try {
    v8.setFlagsFromString('--semi-space-growth-factor=1');
    v8.setFlagsFromString('--max-semi-space-size=4');
    v8.setFlagsFromString('--heap-growing-percent=25');
  } catch {
    /* not this V8's business */
  }
}

export async function main(argv: string[]): Promise<number> {
  try {
    return await serve(argv);
  } catch (err) {
    // A bug of ours, not a user's mistake: say so, with the stack and where to report it.
    for (const line of internalError(err).split('\n')) warn(PROG, line);
    return WEB_EXIT.INTERNAL.code;
  }
}

async function serve(argv: string[]): Promise<number> {
  keepYoungGenerationSmall();
  let args: WebArgs | 'help';
  try {
    args = parse(argv);
  } catch (err) {
    if (err instanceof ExitError) {
      warn(PROG, err.message);
      if (err.exitCode === WEB_EXIT.USAGE.code) warn(PROG, `Try '${PROG} --help'.`);
      return err.exitCode;
    }
    throw err;
  }
  if (args === 'help') {
    process.stdout.write(usage());
    return 0;
  }
  // The files named must be there and be logs; the directory must be there when given.
  for (const f of args.files) {
    try {
      if (!statSync(f).isFile()) throw Object.assign(new Error('not a regular file'), { code: 'EISDIR' });
    } catch (err) {
      warn(PROG, `${f}: ${errnoText(err)}`);
      return WEB_EXIT.READ.code;
    }
  }
  if (args.dir !== null) {
    try {
      if (!statSync(args.dir).isDirectory()) throw Object.assign(new Error('Not a directory'), { code: 'ENOTDIR' });
    } catch (err) {
      if (args.dirGiven) {
        warn(PROG, `${args.dir}: ${errnoText(err)}`);
        return WEB_EXIT.READ.code;
      }
      warn(PROG, `${args.dir}: ${errnoText(err)} (shown when it appears)`);
    }
  }
  const engine = new Engine({ dir: args.dir, files: args.files });
  engine.scan();
  // Read what there is before the page is served, as far as it goes in a
  // moment; a long backlog (logs of gigabytes) goes on in the background.
  const until = performance.now() + 2000;
  while (engine.service(16 << 20) > 0 && engine.backlog && performance.now() < until) {
    /* next step */
  }
  for (const f of args.files) {
    if (engine.isNotALog(resolve(f))) {
      warn(PROG, `${f}: not a plog log (no header and no sample line)`);
      return WEB_EXIT.NOT_A_LOG.code;
    }
  }
  const token = randomBytes(32).toString('base64url');
  const web = new WebServer({ engine, token, allowHost: args.allowHost });
  let where: { address: string; port: number };
  try {
    where = await web.listen(args.host, args.port);
  } catch (err) {
    warn(PROG, `cannot listen on ${args.host}:${args.port}: ${errnoText(err)}`);
    await web.close();
    return WEB_EXIT.LISTEN.code;
  }
  const follower = new Follower(
    engine,
    engine
      .ids()
      .map((id) => engine.get(id)!)
      .filter((e) => !e.inDir)
      .map((e) => e.path),
  );
  follower.start();
  const hostPart = where.address.includes(':') ? `[${where.address}]` : where.address;
  const url = `http://${hostPart}:${where.port}/?token=${token}`;
  const what = [args.dir !== null ? `the logs of ${args.dir}` : '', args.files.length ? `${args.files.length} file${args.files.length > 1 ? 's' : ''}` : ''].filter(Boolean).join(' and ');
  process.stderr.write(`${PROG}: serving ${escapeText(what)} (${engine.size} log${engine.size === 1 ? '' : 's'} now); Ctrl-C stops it\n`);
  if (!isLoopback(where.address)) {
    process.stderr.write(`${PROG}: listening on ${where.address}, beyond this machine, in plain HTTP: the token can be read on the way. An SSH tunnel is safer.\n`);
  }
  process.stdout.write(`${url}\n`);
  if (args.open) {
    const problem = openBrowser(url);
    if (problem) warn(PROG, problem);
  }
  await new Promise<void>((resolve) => {
    const stop = (): void => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  follower.stop();
  await web.close();
  return WEB_EXIT.OK.code;
}
