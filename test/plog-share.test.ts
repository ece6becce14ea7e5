// Share: the part of the resident set shared with other processes, as plog
// 0.1.0 reports it (smaps Shared_Clean + Shared_Dirty over Rss), from the
// same read of smaps_rollup as PSS (under the Safe PSS budget, '*' when
// carried), statm's shared field only where smaps_rollup cannot be read
// (marked '~'). A process that maps a private 64 MB file shares nearly none
// of it: statm counts every file-backed page as shared.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { formatLine, type LineOptions } from '../src/plog/log/logline.js';
import { parseLogLine } from '../src/plog/log/lineparse.js';
import { machineSample } from '../src/plog/log/machine-format.js';
import { ProcessReader, type RawSample } from '../src/proc/reader.js';
import { parseSmaps } from '../src/proc/smaps.js';
import { parseStatm } from '../src/proc/statm.js';
import { lines, NOBODY, plog, Server, spawnChild, tempDir } from './helpers/plog.js';
import { quietStat } from './helpers/logs.js';

const tmp = mkdtempSync('/tmp/plog-share-');
after(() => rmSync(tmp, { recursive: true, force: true }));

const OPTS: LineOptions = { withSeconds: true, pageKb: 4, clkTck: 100 };

/** Maps argv[1] MAP_PRIVATE, reads every page, says so, and waits. */
const MAPPER_C = `
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
int main(int argc, char **argv) {
  int fd = open(argv[1], O_RDONLY);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) < 0) return 1;
  volatile unsigned char *p = mmap(0, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (p == MAP_FAILED) return 2;
  unsigned long sum = 0;
  for (off_t i = 0; i < st.st_size; i += 4096) sum += p[i];
  printf("ready %lu\\n", sum);
  fflush(stdout);
  pause();
  return 0;
}
`;

/** smaps_rollup's share of a pid, and statm's, in percent. */
function shares(pid: number): { smaps: number; statm: number } {
  const s = parseSmaps(readFileSync(`/proc/${pid}/smaps_rollup`, 'latin1'));
  const m = parseStatm(readFileSync(`/proc/${pid}/statm`, 'latin1'));
  return { smaps: ((s.sharedClean + s.sharedDirty) / s.rss) * 100, statm: (m.shared / m.resident) * 100 };
}

describe('a process mapping a private 64 MB file', () => {
  let bin = '';
  try {
    bin = join(tmp, 'mapper');
    writeFileSync(`${bin}.c`, MAPPER_C);
    execFileSync('cc', ['-O2', '-o', bin, `${bin}.c`], { stdio: 'ignore' });
  } catch {
    bin = '';
  }
  const data = join(tmp, 'private-64M');
  // Not in the page cache of any other process: only the mapper maps it.
  writeFileSync(data, Buffer.alloc(64 << 20, 7));

  /** A mapper, the only one: ended (and reaped) before the next test maps the file too. */
  async function withMapper(body: (pid: number) => void | Promise<void>): Promise<void> {
    const child = spawnChild(bin, [data], { stdout: true });
    await once(child.stdout!, 'data');
    try {
      await body(child.pid!);
    } finally {
      child.kill('SIGKILL');
      if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
    }
  }

  test("plogsrvd: Share is what it shares (a few %), as plog 0.1.0 says, not statm's 99%", async (t) => {
    if (!bin) return t.skip('no C compiler');
    await withMapper(async (pid) => {
      const before = shares(pid);
      assert.ok(before.statm > 90, `statm's share ${before.statm}`);
      assert.ok(before.smaps < 10, `smaps' share ${before.smaps}`);
      const srv = await Server.start({ foreground: true, args: ['-m', 'world'] });
      try {
        const r = await plog(['-d', srv.dir, '-p', String(pid), '-i', '1']);
        assert.equal(r.code, 0, r.stderr);
        const line = lines(join(srv.dir, `mapper.${pid}`))[2];
        assert.ok(line !== undefined, 'a first sample');
        const rec = parseLogLine(line)!;
        const share = rec.sharePercent!;
        const after = shares(pid);
        assert.ok(rec.residentKb > 64 * 1024, line);
        assert.match(line.split(/ +/)[11]!, /^\d+\.\d$/, 'no mark: from smaps_rollup');
        // The same figure as smaps_rollup's, read just before and after.
        assert.ok(share >= Math.min(before.smaps, after.smaps) - 0.2 && share <= Math.max(before.smaps, after.smaps) + 0.2, `${share} against ${before.smaps}..${after.smaps}`);
        assert.ok(share < 10, line);
      } finally {
        await srv.kill();
      }
    });
  });

  test("the reader: Share's parts come from the one read of smaps_rollup that gives PSS", async (t) => {
    if (!bin) return t.skip('no C compiler');
    await withMapper((pid) => {
      const r = new ProcessReader(pid);
      try {
        const s = r.sample();
        assert.ok(s.smaps!.rss > 64 * 1024);
        // the file's pages are private (clean, or dirty while not yet written back)
        assert.ok(s.smaps!.privateClean + s.smaps!.privateDirty >= 64 * 1024 - 64, JSON.stringify(s.smaps));
        const line = formatLine(s, null, OPTS);
        const share = Number(line.split(/ +/)[11]);
        assert.equal(share.toFixed(1), (((s.smaps!.sharedClean + s.smaps!.sharedDirty) / s.smaps!.rss) * 100).toFixed(1));
      } finally {
        r.close();
      }
    });
  });
});

describe('where smaps_rollup is not read', () => {
  const base = (over: Partial<RawSample> = {}): RawSample => ({
    timeMs: new Date(2024, 0, 5, 9, 7, 3).getTime(),
    stat: quietStat(),
    statm: { size: 25600, resident: 1000, shared: 800, text: 10, data: 900 },
    smaps: { rss: 4000, pss: 3000, swap: 0, sharedClean: 900, sharedDirty: 100, privateClean: 2000, privateDirty: 1000 },
    maps: { kb: 3500, complete: true },
    ...over,
  });

  test('formatLine: from smaps (25.0), carried with PSS (25.0*), from statm where unreadable (80.0~)', () => {
    const f = (s: RawSample): string | undefined => formatLine(s, null, OPTS).split(/ +/)[11];
    assert.equal(f(base()), '25.0');
    assert.equal(f(base({ smapsStale: true })), '25.0*');
    assert.equal(f(base({ smaps: null })), '80.0~');
    // a zombie: nothing resident
    assert.equal(
      f(base({ statm: { size: 0, resident: 0, shared: 0, text: 0, data: 0 }, smaps: { rss: 0, pss: 0, swap: 0, sharedClean: 0, sharedDirty: 0, privateClean: 0, privateDirty: 0 } })),
      '0.0',
    );
    assert.equal(f(base({ statm: { size: 0, resident: 0, shared: 0, text: 0, data: 0 }, smaps: null })), '0.0~');
    // read back, marks and all
    for (const s of [base(), base({ smapsStale: true }), base({ smaps: null })]) {
      const r = parseLogLine(formatLine(s, null, OPTS))!;
      assert.ok(r, formatLine(s, null, OPTS));
      assert.equal(r.sharePercent, s.smaps ? 25 : 80);
      assert.equal(r.shareFromStatm, s.smaps === null);
    }
  });

  test('csv and jsonl logs: share_percent from smaps, empty where smaps is not there', () => {
    const x = { io: null, fds: null, ctx: null };
    assert.equal(machineSample(base(), null, x, OPTS).sharePercent, 25);
    assert.equal(machineSample(base({ smaps: null }), null, x, OPTS).sharePercent, null);
  });

  test("a server run by nobody, root's process: smaps_rollup unreadable, Share from statm, marked '~'", async () => {
    const dir = join(tempDir(0o755), 'run');
    mkdirSync(dir);
    chownSync(dir, NOBODY, NOBODY);
    const own = await Server.start({ dir, asNobody: true, foreground: true, args: ['-m', 'world'] });
    try {
      const child = spawnChild('sleep', ['300']);
      const r = await plog(['-d', dir, '-p', String(child.pid), '-i', '1']);
      assert.equal(r.code, 0, r.stderr);
      const first = lines(join(dir, `sleep.${child.pid}`))[2];
      assert.ok(first !== undefined, 'a first sample');
      const f = first.split(/ +/);
      assert.equal(f[12], '-', 'smaps_rollup unreadable');
      assert.match(f[11]!, /^\d+\.\d~$/);
    } finally {
      await own.kill();
    }
  });
});
