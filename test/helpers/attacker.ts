// An unprivileged client that misbehaves, run as its own process (under
// setpriv, as nobody) against a real root plogsrvd:
//
//   node dist/test/helpers/attacker.js swap SERVER_SOCKET TARGET N
//     binds a socket in a fresh directory of its own, sends N `plog -x`
//     requests whose reply echoes a name with a newline in it, never reads,
//     then renames its socket away and puts a symlink to TARGET at its name.
//     Prints {"sent","socket"} as JSON once swapped, then waits for its
//     standard input to close (so that its socket lives as long as the test
//     wants).
import { mkdtempSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { UnixSocket } from '../../src/native.js';
import { encodeStopBy } from '../../src/plog/protocol.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function swap(server: string, target: string, n: number): Promise<void> {
  const home = mkdtempSync('/tmp/plog-attacker-');
  process.on('exit', () => rmSync(home, { recursive: true, force: true }));
  const path = join(home, 's');
  const s = new UnixSocket();
  s.bind(path);
  const req = encodeStopBy('-99998 x\nforged');
  let sent = 0;
  while (sent < n) {
    if (s.trySend(req, server) >= 0) sent++;
    else await sleep(1);
  }
  renameSync(path, join(home, 'away'));
  symlinkSync(target, path);
  process.stdout.write(JSON.stringify({ sent, socket: path }) + '\n');
  process.stdin.resume();
  await new Promise((r) => process.stdin.once('close', r));
  s.close();
}

const [mode, a, b, c] = process.argv.slice(2);
if (mode === 'swap') await swap(a!, b!, Number(c));
else {
  process.stderr.write('usage: attacker.js swap SERVER_SOCKET TARGET N\n');
  process.exit(2);
}
