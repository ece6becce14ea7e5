// Regular expressions from other users (plog -r), compiled for V8's
// linear-time engine: matching takes time proportional to the length of the
// text times the size of the expression, whatever the expression. The usual
// engine backtracks: /^(a+)+$/ against 30 a's and a '!' tries every way of
// splitting the a's (about 10 s, doubling with each a more).
//
// The engine comes with V8's flag --enable-experimental-regexp-engine, which
// gives RegExp the flag 'l'; V8 reads it when a RegExp is built, so setting
// it at run time (v8.setFlagsFromString) before the first one is enough
// (checked here, not assumed). It cannot do what needs backtracking:
// backreferences (\1, \k<name>), lookahead and lookbehind ((?=, (?!, (?<=,
// (?<!), counted repetitions over 16 ({17}, (?:a{4}){5}); nor, in Node 20,
// the flags i, m, s or u, which plog does not use.
import { setFlagsFromString } from 'node:v8';

/** Why the linear engine cannot be used, or null once it can. */
let unavailable: string | null | undefined;

function engine(): string | null {
  if (unavailable === undefined) {
    setFlagsFromString('--enable-experimental-regexp-engine');
    try {
      new RegExp('', 'l');
      unavailable = null;
    } catch {
      unavailable = `this Node (${process.version}) has no linear-time regular expression engine (V8's --enable-experimental-regexp-engine)`;
    }
  }
  return unavailable;
}

/** What the message of a pattern the engine refuses says. */
export const NOT_LINEAR = 'cannot be matched in linear time: backreferences (\\1, \\k<name>), lookahead and lookbehind ((?=, (?!, (?<=, (?<!) and counted repetitions over 16 are not allowed';

/**
 * Compile pattern for the linear-time engine: the RegExp (flag 'l'), or why
 * not, in words for the person who wrote it (no trailing period).
 */
export function compileLinear(pattern: string): RegExp | string {
  const no = engine();
  if (no !== null) return no;
  try {
    return new RegExp(pattern, 'l');
  } catch (err) {
    const msg = (err as Error).message;
    if (/Cannot be executed in linear time/.test(msg)) return NOT_LINEAR;
    return msg.replace(/^Invalid regular expression: \/.*\/l: /s, '');
  }
}
