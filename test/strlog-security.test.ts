// Attacks on strlogd and strerr by an unprivileged user (nobody, through
// setpriv) against real root daemons: floods bounded per uid with every
// loss said, text that would rewrite a terminal, answers sent where the
// attacker chose, sockets swapped under a chmod.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SL_ERROR, SL_NOTIFY } from '../src/strlog/index.js';
import { Driver, errorLog, FLOOD_SCRIPT, parseErrLine, runAsNobody, startStrerr, startStrtrace, strlogCmd, tempDir, waitErrorLog, waitFor } from './helpers/strlog.js';

/** A fake sendmail: appends its arguments and its input to `out`. */
function fakeMailer(dir: string, out: string): string {
  const path = join(dir, 'sendmail');
  writeFileSync(path, `#!/bin/sh\n{ echo "ARGS: $*"; cat; echo "--END--"; } >> '${out}'\n`);
  chmodSync(path, 0o755);
  return path;
}

const mails = (out: string): string[] => {
  if (!existsSync(out)) return [];
  const parts = readFileSync(out, 'utf8').split('--END--\n');
  parts.pop();
  return parts;
};

const NOTICE = /^strlogd: (\d+) messages from uid (\d+) \(pid (\d+)\) dropped: (\d+) over its rate limit \(200 a second, burst 1000\), (\d+) longer than 8192 bytes$/;

test('a flood from one uid: bounded in messages, text and mails; each loss counted and said (how many, from whom)', async () => {
  const d = await Driver.start({ args: ['-n'] });
  const logdir = tempDir();
  const out = join(tempDir(), 'mail');
  const strerr = await startStrerr(d, logdir, ['--mailer', fakeMailer(tempDir(), out)]);
  // 3,000 messages that expand to 32 KB each (32 %999d), then 3,000 short ones, flagged error|notify.
  const r = await runAsNobody(FLOOD_SCRIPT, [join(d.dir, 'submit'), '3000', '3000', String(SL_ERROR | SL_NOTIFY)]);
  assert.equal(r.code, 0, r.stderr);
  const pid = Number(r.stdout);
  await waitFor('the driver to take every datagram', async () => (await d.stats()).records === 6000, 30_000);
  // What went through, and the driver's own lines about the rest.
  const tally = (): { accepted: number; said: number; notices: string[] } => {
    const ls = errorLog(logdir).map(parseErrLine);
    const notices = ls.filter((l) => l.mid === 44 && l.sid === 0).map((l) => l.text);
    const accepted = ls.filter((l) => l.sid === pid).length;
    const said = notices.reduce((n, t) => n + Number(NOTICE.exec(t)?.[1] ?? 0), 0);
    return { accepted, said, notices };
  };
  const t = await waitFor('every message logged or said lost', () => {
    const x = tally();
    return x.accepted + x.said === 6000 ? x : null;
  });
  for (const n of t.notices) {
    const m = NOTICE.exec(n);
    assert.ok(m, n);
    assert.equal(Number(m[2]), 65534);
    assert.equal(Number(m[3]), pid);
  }
  const s = (await d.stats()) as unknown as Record<string, number>;
  assert.equal(s.tooLong, 3000, 'every message of 32 KB refused');
  assert.equal(s.rateLimited, 3000 - t.accepted);
  assert.ok(t.accepted >= 1000 && t.accepted < 3000, `${t.accepted} accepted`);
  const bytes = errorLog(logdir).reduce((n, l) => n + l.length + 1, 0);
  assert.ok(bytes < 1 << 20, `${bytes} bytes written`);
  // At most 10 mails a minute while it lasts; the rest in one summary when strerr stops.
  await waitFor('the first mails', () => mails(out).length >= 10);
  assert.equal(mails(out).length, 10);
  await strerr.stop();
  const all = mails(out);
  assert.equal(all.length, 11);
  assert.match(all[10]!, new RegExp(`Subject: STREAMS errors on \\S+: ${t.accepted - 10} more messages\\n`));
});

test('text a user sends reaches no terminal or file as C1 controls or bidi overrides (strerr, strtrace)', async () => {
  const d = await Driver.start({ args: ['-n'] });
  const logdir = tempDir();
  await startStrerr(d, logdir);
  const tr = await startStrtrace(d);
  const evil = 'next\u0085line \u009b2J\u009b31mred \u202eexe.txt \x1b[2J';
  const r = await strlogCmd(d.dir, ['-f', 'error,trace', 'user says %s', evil], { asNobody: true });
  assert.equal(r.code, 0, r.stderr);
  const [line] = await waitErrorLog(logdir, 1);
  const [tline] = await tr.waitLines(1);
  for (const l of [line!, tline!]) {
    assert.doesNotMatch(l, /[\u0080-\u009f\u202a-\u202e\u2066-\u2069\x00-\x08\x0a-\x1f]/, JSON.stringify(l));
    assert.ok(l.endsWith('user says next\\x85line \\x9b2J\\x9b31mred \\u{202e}exe.txt ^[[2J'), JSON.stringify(l));
  }
});
