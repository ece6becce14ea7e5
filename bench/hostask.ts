// Helper of bench/host.ts: another user's requests while plogsrvd logs a
// whole host. Run as that user (setpriv); asks {0, 2} (`plog -q pid`) one
// request at a time, every PAUSE ms for SECONDS, and prints the round trips
// in ms, one a line.
//
//   node dist/bench/hostask.js DIR SECONDS PAUSE_MS
import { request } from '../src/plog/client.js';
import { encodeQuery, Q_PID } from '../src/plog/protocol.js';

const [dir, secs, pause] = process.argv.slice(2);
const end = performance.now() + Number(secs) * 1000;
const out: string[] = [];
while (performance.now() < end) {
  const t0 = performance.now();
  const [reply] = await request(dir!, encodeQuery(Q_PID), { timeoutMs: 10_000 });
  const ms = performance.now() - t0;
  if (!reply || !/^\d+$/.test(reply)) throw new Error(`hostask: unexpected reply ${reply}`);
  out.push(ms.toFixed(3));
  await new Promise((r) => setTimeout(r, Number(pause)));
}
process.stdout.write(out.join('\n') + '\n');
