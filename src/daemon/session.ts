// The middle process of the double fork (APUE 13.3, "under System V-based
// systems ... call fork again"). The launcher starts this script with
// `detached: true`, so it runs as the leader of a new session that has no
// controlling terminal. It closes whatever descriptors it inherited, sets the
// daemon's umask, and starts the real daemon WITHOUT a new session: the daemon
// is then a member of this session but not its leader, so it can never acquire
// a controlling terminal. It relays the daemon's readiness words to the
// launcher (its own descriptor 3) and exits as soon as the daemon is ready,
// or, when the daemon dies first, reports how it died.
//
// Not part of the public API. Invoked as: node session.js '<json config>'.
import './no-inspector.js'; // first: SIGUSR1 must never open Node's inspector
import { spawn, type StdioOptions } from 'node:child_process';
import type { Readable } from 'node:stream';
import { closeInheritedFds } from './fds.js';
import { writeAllSync } from './io.js';
import { encode, READY_FD, WordReader, type Word } from './protocol.js';

interface SessionConfig {
  /** As detach() builds it: Node's own path first, then its options, the script and its arguments. */
  argv: [file: string, ...args: string[]];
  umask: number;
  keep: number[];
}

function send(w: Word): void {
  writeAllSync(READY_FD, encode(w));
}

function main(): void {
  const cfg = JSON.parse(process.argv[2] ?? '') as SessionConfig;
  closeInheritedFds({ keep: [READY_FD, ...cfg.keep] });
  process.umask(cfg.umask);
  // APUE ignores SIGHUP before the second fork: when this session leader
  // exits, its (orphaned) process group must not take the daemon with it.
  process.on('SIGHUP', () => {});

  const stdio: StdioOptions = [0, 1, 2, 'pipe'];
  for (const fd of cfg.keep) stdio[fd] = fd;
  // no holes: child_process skips them, which would renumber what follows
  for (let i = 4; i < stdio.length; i++) if (stdio[i] === undefined) stdio[i] = 'ignore';

  const [file, ...args] = cfg.argv;
  const child = spawn(file, args, { stdio, detached: false });
  let finished = false;
  let eof = false;
  let exited: Word | null = null;

  const finish = (status: number): void => {
    if (finished) return;
    finished = true;
    process.exit(status);
  };
  const reportExit = (): void => {
    if (exited && !finished) {
      send(exited);
      finish(0);
    }
  };

  child.on('error', (err) => {
    send({ t: 'error', message: `cannot start ${file}: ${err.message}` });
    finish(1);
  });
  if (child.pid === undefined) return; // 'error' follows
  send({ t: 'spawned', pid: child.pid });

  const chan = child.stdio[READY_FD] as Readable;
  const reader = new WordReader();
  chan.setEncoding('utf8');
  chan.on('data', (chunk: string) => {
    for (const w of reader.push(chunk)) {
      send(w);
      if (w.t === 'ready') {
        finish(0);
        return;
      }
    }
  });
  chan.on('error', () => {});
  chan.on('end', () => {
    eof = true;
    reportExit();
  });
  child.on('exit', (code, signal) => {
    exited = { t: 'exit', pid: child.pid!, code, signal };
    if (eof) reportExit();
    // The channel may still hold the daemon's last words, or be kept open by
    // a process the daemon started: give it a moment, then report anyway.
    else setTimeout(reportExit, 250);
  });
}

try {
  main();
} catch (err) {
  send({ t: 'error', message: `session leader: ${(err as Error).message}` });
  process.exit(1);
}
