// Helper of bench/scale.ts: register pids with a plogsrvd, one request at
// a time, as whatever uid this process runs as (scale.ts starts it with
// setpriv for the targets of a second uid). Prints one log path a line.
//
//   node dist/bench/register.js DIR INTERVAL_MS PID...
import { request } from '../src/plog/client.js';
import { encodeLog } from '../src/plog/protocol.js';

const [dir, ms, ...pids] = process.argv.slice(2);
for (const pid of pids) {
  for (;;) {
    const [reply] = await request(dir!, encodeLog(Number(pid), Number(ms)), { timeoutMs: 30_000 });
    if (reply?.startsWith('Rate limited')) {
      await new Promise((r) => setTimeout(r, 1000));
      continue;
    }
    if (!reply?.startsWith('Log file: ')) throw new Error(`register: pid ${pid}: ${reply}`);
    process.stdout.write(reply.slice('Log file: '.length) + '\n');
    break;
  }
}
