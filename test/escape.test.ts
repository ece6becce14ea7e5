// escapeText (src/escape.ts): what a terminal, a log or a page is never shown raw.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeText, hasUnsafe } from '../src/escape.js';

test('escape sequences, C1 controls and bidi overrides become visible escapes', () => {
  assert.equal(escapeText('a\x1b]0;owned\x07b'), 'a\\x1b]0;owned\\x07b');
  assert.equal(escapeText('\x1b[2J'), '\\x1b[2J');
  assert.equal(escapeText('x\u009b31mred'), 'x\\x9b31mred');
  assert.equal(escapeText('next\u0085line'), 'next\\x85line');
  assert.equal(escapeText('evil\u202etxt.exe'), 'evil\\u{202e}txt.exe');
  assert.equal(escapeText('\u2066iso\u2069'), '\\u{2066}iso\\u{2069}');
  assert.equal(escapeText('a\nb\rc\x7f'), 'a\\nb\\rc\\x7f');
  assert.equal(escapeText('nul\0'), 'nul\\x00');
});

test('ordinary text, tabs, accents and emoji are left alone', () => {
  for (const s of ['plain', 'tab\there', 'café é', 'naïve 日本語', 'smile 😀', 'back\\slash', '']) {
    assert.equal(escapeText(s), s);
    assert.equal(hasUnsafe(s), false);
  }
});

test('lone surrogates are escaped, pairs kept', () => {
  assert.equal(escapeText('a\ud800b'), 'a\\u{d800}b');
  assert.equal(escapeText('a\udc00b'), 'a\\u{dc00}b');
  assert.equal(escapeText('\ud83d\ude00'), '\ud83d\ude00');
  assert.equal(hasUnsafe('\ud83d\ude00'), false);
  assert.equal(hasUnsafe('\ud83d'), true);
});

test('a caller may choose its own form, e.g. caret notation', () => {
  assert.equal(
    escapeText('a\x1bb', (c) => '^' + String.fromCharCode(c.charCodeAt(0) + 64)),
    'a^[b',
  );
});

test('safeJson: JSON whose strings carry no raw DEL, C1 or bidi control, and that parses back to the same value', async () => {
  const { safeJson } = await import('../src/escape.js');
  const v = { s: 'a\x1b[2J\x7f\u009b\u202e\ud800z 😀 é', n: 1, list: ['\u0085'] };
  const j = safeJson(v);
  assert.equal(hasUnsafe(j), false);
  assert.ok(j.includes('\\u009b') && j.includes('\\u202e') && j.includes('\\u007f') && j.includes('\\ud800'));
  assert.deepEqual(JSON.parse(j), v);
  assert.equal(safeJson({ plain: 'café 😀' }), JSON.stringify({ plain: 'café 😀' }));
});
