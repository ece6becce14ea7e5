// The first module of every program of the project (plogsrvd, plog, strlogd,
// strerr, strtrace, strclean, strlog, and the kit's session leader): nothing
// else may run before it, so it imports nothing but Node's own modules.
//
// Node 20 answers SIGUSR1 by opening its inspector on 127.0.0.1:9229 (node(1),
// "--inspect"; Node 20 has no --disable-sigusr1), and whoever connects there
// runs code in the process: any local user, as root, in a root daemon. A
// logrotate postrotate that sends SIGUSR1 would open it. A JS listener for
// SIGUSR1 replaces Node's handler (libuv takes the signal over with
// sigaction(2)); from then on no SIGUSR1 opens anything, and taking the last
// listener away leaves SIG_DFL, never the inspector again. A program that has
// no SIGUSR1 listener of its own ends on SIGUSR1 as the default would: its
// 'exit' listeners run (plog unlinks its reply socket), then it dies of the
// signal (status 128+10 in a shell).
//
// Before this module runs (Node's own start, about 40 ms) Node's handler is
// still in place. An inspector a SIGUSR1 opened then is closed here, at once,
// and so is one opened later by a start Node had already queued. An
// inspector asked for on Node's command line (--inspect, in the arguments or
// NODE_OPTIONS) is the user's own choice and left alone.
//
// src/bin/*.js, the installed commands, import this module alone and then the
// program: an ES module runs only once every module it imports statically is
// loaded, so a first import in src/cli/NAME.ts would run after the whole
// program is read (127 ms after Node's handler against 42, RELIABILITY.md,
// signals and the service unit); the programs import it first too,
// for `node dist/src/cli/NAME.js`. The bundle of plog holds a copy of this
// module besides the one src/bin/plog.js imports: the first copy to run
// installs the guard, the others see its mark and do nothing.

import { createRequire } from 'node:module';
import { constants } from 'node:os';

const MARK = Symbol.for('plog.no-inspector');

function endAsTheDefault(): void {
  // Only when the program gave SIGUSR1 no meaning of its own.
  if (process.listenerCount('SIGUSR1') > 1) return;
  process.once('exit', () => {
    // The last listener gone, the disposition is SIG_DFL again: the signal ends us.
    process.removeListener('SIGUSR1', endAsTheDefault);
    process.kill(process.pid, 'SIGUSR1');
  });
  process.exit(128 + constants.signals.SIGUSR1);
}

const nodeOptions = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
const askedFor = nodeOptions.some((a) => /^--inspect(-brk|-wait)?(=|$)/.test(a));
const pendingDeprecation = nodeOptions.includes('--pending-deprecation');

/** Whether the inspector listens. process.binding('inspector') answers in
 * microseconds; loading node:inspector for its url() would cost every
 * program's start about 3 ms, so it is only the fallback (and the way under
 * --pending-deprecation, where the deprecated process.binding would warn). */
function inspectorListening(): boolean {
  if (!pendingDeprecation) {
    try {
      const b = (process as unknown as { binding(name: string): { isEnabled?: () => boolean } }).binding('inspector');
      if (typeof b.isEnabled === 'function') return b.isEnabled() === true;
    } catch {
      /* not in this Node: ask node:inspector */
    }
  }
  return loadInspector()?.url() !== undefined;
}

function loadInspector(): typeof import('node:inspector') | null {
  try {
    return createRequire(import.meta.url)('node:inspector') as typeof import('node:inspector');
  } catch {
    return null; // a Node built without it: no inspector to open either
  }
}

function closeInspector(): void {
  if (inspectorListening()) loadInspector()?.close();
}

if (!(MARK in process)) {
  Object.defineProperty(process, MARK, { value: true });
  process.on('SIGUSR1', endAsTheDefault);
  if (!askedFor && process.features.inspector) {
    closeInspector();
    // Node tells the process on its internal channel each time the inspector
    // starts (the cluster module listens for it to debug its workers too).
    (process as NodeJS.EventEmitter).on('internalMessage', (m: unknown) => {
      if ((m as { cmd?: unknown } | null)?.cmd === 'NODE_DEBUG_ENABLED') closeInspector();
    });
  }
}
