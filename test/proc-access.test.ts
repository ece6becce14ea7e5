// hiddenFrom (src/proc/access.ts): what /proc would show a user of a process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hiddenFrom } from '../src/proc/access.js';
import type { StatusIds } from '../src/proc/status.js';

const ids = (u: number[], g: number[]): StatusIds => ({ uid: u as StatusIds['uid'], gid: g as StatusIds['gid'], groups: [] });
const me = { uid: 1000, gid: 1000 };

test("a process that is wholly the user's, dumpable: shown", () => {
  assert.equal(hiddenFrom(ids([1000, 1000, 1000, 1000], [1000, 1000, 1000, 1000]), me, me), null);
});

test('root sees everything', () => {
  assert.equal(hiddenFrom(ids([0, 0, 0, 0], [0, 0, 0, 0]), { uid: 0, gid: 0 }, { uid: 0, gid: 0 }), null);
});

test('set-user-ID (effective or saved uid differs): hidden', () => {
  assert.match(hiddenFrom(ids([1000, 0, 0, 0], [1000, 1000, 1000, 1000]), { uid: 0, gid: 0 }, me)!, /uid 1000, effective 0, saved 0/);
  assert.match(hiddenFrom(ids([1000, 1000, 0, 1000], [1000, 1000, 1000, 1000]), me, me)!, /saved 0/);
});

test('set-group-ID, or another group: hidden', () => {
  assert.match(hiddenFrom(ids([1000, 1000, 1000, 1000], [1000, 42, 42, 42]), me, me)!, /gid 1000, effective 42/);
  assert.match(hiddenFrom(ids([1000, 1000, 1000, 1000], [5, 5, 5, 5]), me, me)!, /not your gid 1000/);
});

test('not dumpable (/proc/PID owned by root): hidden', () => {
  assert.match(hiddenFrom(ids([1000, 1000, 1000, 1000], [1000, 1000, 1000, 1000]), { uid: 0, gid: 0 }, me)!, /not dumpable/);
});
