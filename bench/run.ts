// `npm run bench`: every benchmark, one after the other (never in
// parallel: they measure CPU), each in its own process; their Markdown
// goes to stdout, progress to stderr. Not part of `npm test`.
//
//   npx tsc -p . && node dist/bench/run.js [--only sampler,scale,host,requests,syslog,pss,strlog,metrics,web]
//
// Options after the names are not passed on: run a benchmark's own file
// for its options (see the head of each bench/*.ts).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ALL = ['sampler', 'scale', 'host', 'requests', 'syslog', 'pss', 'strlog', 'metrics', 'web'];
const i = process.argv.indexOf('--only');
const which = i < 0 ? ALL : process.argv[i + 1]!.split(',');
let failed = 0;
for (const name of which) {
  if (!ALL.includes(name)) throw new Error(`bench: no benchmark '${name}' (${ALL.join(', ')})`);
  process.stderr.write(`bench: ${name}\n`);
  const r = spawnSync(process.execPath, [fileURLToPath(new URL(`./${name}.js`, import.meta.url))], { stdio: 'inherit' });
  if (r.status !== 0) {
    process.stderr.write(`bench: ${name} exited ${r.status ?? r.signal}\n`);
    failed++;
  }
}
process.exitCode = failed ? 1 : 0;
