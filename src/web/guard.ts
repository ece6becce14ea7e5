/**
 * plog web's guard and its responses: who may ask (the Host header, the
 * token compared in constant time) and the headers every response carries
 * (a Content-Security-Policy with this origin's own scripts, styles and
 * connections only, no framing, no sniffing, no referrer, nothing kept in
 * caches). http.ts says why.
 */
import type { ServerResponse } from 'node:http';
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { safeJson } from '../escape.js';

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy': CSP,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

/** Whether a Host header names this server acceptably (see the file's comment). */
export function hostAllowed(host: string | undefined, allowHost?: string): boolean {
  if (!host || host.length > 300) return false;
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(host);
  if (!m) return false;
  const name = m[1]!.toLowerCase(); // the group is not optional
  if (name === 'localhost') return true;
  if (allowHost !== undefined && name === allowHost.toLowerCase()) return true;
  if (name.startsWith('[')) return isIP(name.slice(1, -1)) === 6;
  return isIP(name) === 4;
}

/** Constant-time comparison of a presented token with the secret. */
export function tokenMatches(given: string | null, secret: string): boolean {
  if (given === null) return false;
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(secret).digest();
  return timingSafeEqual(a, b) && given.length === secret.length;
}

export function head(res: ServerResponse, status: number, type: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': type, ...extra });
}

export function plain(res: ServerResponse, status: number, text: string): void {
  head(res, status, 'text/plain; charset=utf-8', { 'Content-Length': String(Buffer.byteLength(text)) });
  res.end(text);
}

/**
 * A value as JSON to put inside a page's <script type="application/json">:
 * safeJson's, with every '<' (only ever inside a string) written \u003c, so
 * that no text of a log can end the element or open a comment in it.
 */
export function inlineJson(value: unknown): string {
  return safeJson(value).replaceAll('<', '\\u003c');
}

export function json(res: ServerResponse, value: unknown): void {
  const body = safeJson(value);
  head(res, 200, 'application/json; charset=utf-8', { 'Content-Length': String(Buffer.byteLength(body)) });
  res.end(body);
}
