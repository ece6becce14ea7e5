/**
 * /proc/PID/cmdline -> the first line of a log file.
 *
 * Escaping: every byte outside printable ASCII is written C-style, so the
 * log line is plain ASCII whatever the process put in its arguments:
 * '\n' '\t' '\r' as such, '\\' doubled, every other byte < 0x20 and every
 * byte >= 0x7f as \xNN (two lower-case hex digits). Multi-byte UTF-8 is
 * therefore escaped too (and invalid UTF-8 cannot reach the log): a
 * deliberate choice, so that no argument can carry terminal escape
 * sequences, C1 controls or bidi overrides to whoever reads the log.
 */

const HEX = '0123456789abcdef';

/** Escape bytes as described above. */
export function escapeBytes(buf: Uint8Array, start = 0, end = buf.length): string {
  let out = '';
  let run = start; // start of a run of bytes that need no escaping
  end = Math.min(end, buf.length);
  for (let i = start; i < end; i++) {
    const b = buf[i]!;
    if (b >= 0x20 && b < 0x7f && b !== 0x5c) continue;
    if (i > run) out += latin1(buf, run, i);
    if (b === 0x0a) out += '\\n';
    else if (b === 0x09) out += '\\t';
    else if (b === 0x0d) out += '\\r';
    else if (b === 0x5c) out += '\\\\';
    else out += '\\x' + HEX[b >> 4] + HEX[b & 15];
    run = i + 1;
  }
  if (end > run) out += latin1(buf, run, end);
  return out;
}

function latin1(buf: Uint8Array, s: number, e: number): string {
  return Buffer.from(buf.buffer, buf.byteOffset + s, e - s).toString('latin1');
}

/**
 * The bytes of a comm from parseStat(). Text decoded as latin1 (the reader's
 * way) maps back byte for byte; a string holding characters above U+00FF
 * (text decoded some other way) is taken as UTF-8.
 */
export function commBytes(comm: string): Buffer {
  for (let i = 0; i < comm.length; i++) {
    if (comm.charCodeAt(i) > 0xff) return Buffer.from(comm, 'utf8');
  }
  return Buffer.from(comm, 'latin1');
}

/** The process name escaped like the command line ('a\nb' -> 'a\\nb'). */
export function escapeComm(comm: string): string {
  return escapeBytes(commBytes(comm));
}

/**
 * Format /proc/PID/cmdline: NUL-separated arguments joined by single spaces
 * (one trailing NUL dropped; empty arguments kept as empty, so 'a\0\0b\0'
 * gives 'a  b'), bytes escaped as above. When that leaves nothing (an empty
 * cmdline: kernel threads, zombies; or a lone empty argument) the result is
 * `[comm]`, with comm escaped the same way.
 */
export function formatCmdline(buf: Uint8Array, comm: string): string {
  let end = buf.length;
  if (end > 0 && buf[end - 1] === 0) end--;
  if (end === 0) return `[${escapeComm(comm)}]`;
  let out = '';
  let s = 0;
  for (;;) {
    let nul = buf.indexOf(0, s);
    if (nul < 0 || nul > end) nul = end;
    out += escapeBytes(buf, s, nul);
    if (nul >= end) break;
    out += ' ';
    s = nul + 1;
  }
  return out;
}
