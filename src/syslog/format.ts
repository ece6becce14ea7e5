// Pure builders of what goes on the wire: glibc's local line, RFC 3164 and
// RFC 5424 messages, and the framings (RFC 6587 octet counting, NUL).
// Everything here is a function of its arguments (the clock and the host
// name are passed in) so that it can be tested byte for byte.

import { Buffer } from 'node:buffer';
import { escapeChar } from '../escape.js';

/** One message, with its priority already resolved (facility | level). */
export interface SyslogMessage {
  pri: number;
  /** Milliseconds since the epoch; a fraction carries microseconds. */
  time: number;
  /** The tag; may be empty (glibc then prints nothing before "[pid]: "). */
  ident: string;
  /** Process id to show, or undefined for none (no LOG_PID). */
  pid?: number | undefined;
  msg: string;
  /** RFC 5424 MSGID (NILVALUE when absent). */
  msgid?: string | undefined;
  /** RFC 5424 STRUCTURED-DATA. */
  structuredData?: StructuredData | undefined;
}

/** SD-ID -> parameters. A parameter given an array is repeated, as RFC 5424
 * allows (`[x@1 ip="a" ip="b"]`). */
export type StructuredData = Record<string, Record<string, SdValue | SdValue[]>>;
export type SdValue = string | number | boolean | bigint;

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

const two = (n: number): string => (n < 10 ? '0' : '') + n;

/** glibc's strftime "%h %e %T" in the C locale and local time:
 * `Nov  5 09:03:01` (day padded with a space, not a zero). */
export function bsdTimestamp(time: number): string {
  const d = new Date(Math.floor(time));
  const day = d.getDate();
  return `${MONTHS[d.getMonth()]} ${day < 10 ? ' ' : ''}${day} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

/** "ident[pid]" or "ident": glibc's tag. */
export function tag(m: Pick<SyslogMessage, 'ident' | 'pid'>): string {
  return m.pid === undefined ? m.ident : `${m.ident}[${m.pid}]`;
}

/**
 * What glibc's syslog() sends to /dev/log: `<PRI>Mmm dd hh:mm:ss tag: msg`.
 * No host name (rsyslog's local parser would take it for the tag), no
 * trailing newline added, embedded newlines sent as they are.
 */
export function formatLocal(m: SyslogMessage): string {
  return localPrefix(m) + m.msg;
}

/** formatLocal() without the message: `<PRI>Mmm dd hh:mm:ss tag: `, the
 * same for every message of one priority and tag within a second. */
export function localPrefix(m: Pick<SyslogMessage, 'pri' | 'time' | 'ident' | 'pid'>): string {
  return `<${m.pri}>${bsdTimestamp(m.time)} ${tag(m)}: `;
}

/** RFC 3164 for a remote receiver: the local line with the host name after
 * the timestamp (`<PRI>Mmm dd hh:mm:ss host tag: msg`), the tag cleaned
 * (rfc3164Tag). */
export function formatRfc3164(m: SyslogMessage, hostname: string): string {
  const host = headerField(hostname.split('.')[0] ?? '', 255);
  return `<${m.pri}>${bsdTimestamp(m.time)} ${host} ${tag({ ident: rfc3164Tag(m.ident), pid: m.pid })}: ${m.msg}`;
}

/**
 * An RFC 3164 TAG from an ident: at most 32 characters (RFC 3164 4.1.3),
 * each an ASCII letter or digit, or one of `-_./`, which program names use
 * and receivers keep in the tag; anything else (a space, ':', '[', ']',
 * a control, non-ASCII) becomes '_', as headerField() does for RFC 5424's
 * APP-NAME. A receiver ends the TAG at the first such character and takes
 * the rest for the message: ident "my app é" went out as tag "my".
 * Empty stays empty, as glibc's line with an empty ident.
 */
export function rfc3164Tag(ident: string): string {
  let out = '';
  for (const ch of ident) {
    out += /^[A-Za-z0-9\-_./]$/.test(ch) ? ch : '_';
    if (out.length >= 32) break;
  }
  return out;
}

/** RFC 3339 timestamp with the local offset and exactly six fractional
 * digits (RFC 5424 allows at most six): 2024-11-05T09:03:01.123456+01:00. */
export function rfc5424Timestamp(time: number): string {
  let micros = Math.round(time * 1000);
  const secMs = Math.floor(micros / 1e6) * 1000;
  micros -= secMs * 1000;
  const d = new Date(secMs);
  const off = -d.getTimezoneOffset();
  const sign = off < 0 ? '-' : '+';
  const abs = Math.abs(off);
  return (
    `${d.getFullYear().toString().padStart(4, '0')}-${two(d.getMonth() + 1)}-${two(d.getDate())}` +
    `T${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${micros.toString().padStart(6, '0')}` +
    (off === 0 ? 'Z' : `${sign}${two(Math.floor(abs / 60))}:${two(abs % 60)}`)
  );
}

/**
 * An RFC 5424 header field: PRINTUSASCII only (33..126), at most `max`
 * characters, NILVALUE "-" when empty. Other characters (spaces, controls,
 * non-ASCII) become "_" rather than being dropped, so that "my app" stays
 * recognisable as "my_app".
 */
export function headerField(s: string, max: number): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    out += c >= 33 && c <= 126 ? ch : '_';
    if (out.length >= max) break;
  }
  return out === '' ? '-' : out;
}

/** An SD-NAME (SD-ID or PARAM-NAME): PRINTUSASCII except '=', ' ', ']' and
 * '"', at most 32 characters. Invalid characters are removed. */
export function sdName(s: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (c >= 33 && c <= 126 && ch !== '=' && ch !== ']' && ch !== '"') out += ch;
    if (out.length >= 32) break;
  }
  return out;
}

/** PARAM-VALUE escaping: '"', '\' and ']' get a backslash (RFC 5424 6.3.3);
 * a NUL is written \x00 (see noNul). */
export function escapeParamValue(v: string): string {
  return noNul(v).replace(/["\\\]]/g, (c) => '\\' + c);
}

/**
 * s with every NUL written as the four characters `\x00` (escapeChar). glibc
 * cannot send a NUL (its strings end there), and a receiver on a stream
 * /dev/log takes one for the end of a record (glibc's own framing): a NUL
 * in an argument, a format or the ident would end the record there and
 * make what follows a record of its own, with whatever priority and tag it
 * claims. So no NUL goes on any wire; the text after it is kept, visibly.
 */
export function noNul(s: string): string {
  return s.includes('\0') ? s.replace(/\0/g, escapeChar) : s;
}

/** STRUCTURED-DATA, or the NILVALUE "-" when there is none. Elements whose
 * SD-ID is empty after cleaning are left out. */
export function formatStructuredData(sd: StructuredData | undefined): string {
  if (!sd) return '-';
  let out = '';
  for (const [id, params] of Object.entries(sd)) {
    const sid = sdName(id);
    if (!sid) continue;
    out += '[' + sid;
    for (const [name, value] of Object.entries(params ?? {})) {
      const pn = sdName(name);
      if (!pn) continue;
      for (const v of Array.isArray(value) ? value : [value]) out += ` ${pn}="${escapeParamValue(String(v))}"`;
    }
    out += ']';
  }
  return out === '' ? '-' : out;
}

export interface Rfc5424Options {
  hostname: string;
  /** Prefix MSG with the UTF-8 byte order mark, telling the receiver that
   * MSG is UTF-8 (RFC 5424 6.4). */
  bom?: boolean;
}

/** `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA [MSG]` */
export function formatRfc5424(m: SyslogMessage, opts: Rfc5424Options): string {
  const header =
    `<${m.pri}>1 ${rfc5424Timestamp(m.time)} ${headerField(opts.hostname, 255)} ` +
    `${headerField(m.ident, 48)} ${m.pid === undefined ? '-' : headerField(String(m.pid), 128)} ` +
    `${headerField(m.msgid ?? '', 32)} ${formatStructuredData(m.structuredData)}`;
  if (m.msg === '') return header;
  return `${header} ${opts.bom ? '\uFEFF' : ''}${m.msg}`;
}

/** RFC 6587 octet counting (TCP, and RFC 5425 TLS): "LEN SP MSG", LEN in bytes. */
export function octetFrame(msg: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${msg.length} `), msg]);
}

/**
 * glibc's record terminator on a SOCK_STREAM /dev/log: one NUL byte. Some
 * stream receivers (rsyslog's imptcp on a unix socket) also end a record at
 * a newline, so a newline in the text would let whoever wrote the text start
 * a record of their own, with any priority and tag: on a stream, a final
 * newline is dropped and any other is sent as the two characters \n (a
 * datagram carries one record whatever it holds, and keeps its newlines).
 */
export function nulFrame(msg: Buffer): Buffer {
  let end = msg.length;
  if (end > 0 && msg[end - 1] === 0x0a) end--;
  const nl = msg.indexOf(0x0a);
  if (nl < 0 || nl >= end) return Buffer.concat([msg.subarray(0, end), Buffer.alloc(1)]);
  const parts: Buffer[] = [];
  let from = 0;
  for (let i = nl; i >= 0 && i < end; i = msg.indexOf(0x0a, from)) {
    parts.push(msg.subarray(from, i), NEWLINE_TEXT);
    from = i + 1;
  }
  parts.push(msg.subarray(from, end), Buffer.alloc(1));
  return Buffer.concat(parts);
}

const NEWLINE_TEXT = Buffer.from('\\n');

/** LOG_PERROR's line: `tag: msg` and a newline unless msg ends with one
 * (glibc: dprintf(2, "%s%s", buf + msgoff, "\n" + (last == '\n'))). */
export function perrorLine(m: SyslogMessage): string {
  const s = `${tag(m)}: ${m.msg}`;
  return s.endsWith('\n') ? s : s + '\n';
}

/** LOG_CONS's line on /dev/console: `tag: msg\r\n` as glibc writes it. */
export function consoleLine(m: SyslogMessage): string {
  return `${tag(m)}: ${m.msg}\r\n`;
}
