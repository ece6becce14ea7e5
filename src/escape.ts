// Text that someone else controls, made safe to show: on a terminal, in a
// log line, in an SVG or HTML page. A command line, a process name, a
// strlog message, a log file's first line: any of them may carry escape
// sequences (ESC [2J clears a screen, ESC ] 0 ; ... BEL retitles it), the C1
// controls that some terminals take as ESC [ (U+009B is CSI), or the
// Unicode bidirectional overrides that make "exe.txt" look like "txt.exe".
// Every one of those is replaced by a visible escape; everything else is
// left as it is, so that ordinary text, accents included, reads unchanged.

/**
 * The characters that are never shown as themselves: C0 controls but tab,
 * DEL, the C1 controls, the bidirectional marks, embeddings, overrides and
 * isolates (Unicode TR9), the line and paragraph separators, and lone
 * surrogates (no terminal or XML parser takes them).
 */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
// eslint-disable-next-line no-control-regex
const UNSAFE_TEST = /[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]/;

const HEX = '0123456789abcdef';

/** How one unsafe character is written: \n \r as such, \xNN below U+0100, else \u{NNNN}. */
export function escapeChar(c: string): string {
  const n = c.charCodeAt(0);
  if (n === 0x0a) return '\\n';
  if (n === 0x0d) return '\\r';
  if (n < 0x100) return '\\x' + HEX[n >> 4] + HEX[n & 15];
  return `\\u{${n.toString(16)}}`;
}

/** Whether s holds anything escapeText() would change (a fast check first). */
export function hasUnsafe(s: string): boolean {
  if (!UNSAFE_TEST.test(s)) return false;
  UNSAFE.lastIndex = 0;
  return UNSAFE.test(s);
}

/**
 * s with every unsafe character (see UNSAFE) written as a visible escape:
 * `\x1b`, `\x9b`, `\u{202e}`, `\n`. Tab is kept (it is harmless and columns
 * use it); a backslash is not doubled (the escapes are for a person to read,
 * not to be decoded back).
 */
export function escapeText(s: string, one: (c: string) => string = escapeChar): string {
  if (!UNSAFE_TEST.test(s)) return s;
  UNSAFE.lastIndex = 0;
  return s.replace(UNSAFE, one);
}

/** An unsafe character as a JSON string escape: \u009b, \u202e. */
function jsonChar(c: string): string {
  return '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0');
}

/**
 * JSON.stringify(value) with every unsafe character (see UNSAFE) inside its
 * strings written as a \uNNNN escape. JSON.stringify already escapes the C0
 * controls and lone surrogates, but leaves DEL, the C1 controls and the bidi
 * marks as they are, and a terminal showing the line would act on them. The
 * escapes are JSON's own: JSON.parse() gives back the very same text.
 */
export function safeJson(value: unknown): string {
  return escapeText(JSON.stringify(value), jsonChar);
}
