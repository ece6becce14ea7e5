// plog web: what the list page and the log page share. Plain script, no
// build step. Text from logs arrives escaped by the server (escapeText) and
// is only ever put in with textContent or as an attribute value: never as
// markup.
'use strict';

(function () {
  const token = new URLSearchParams(location.search).get('token') || '';

  /** A URL of this server with the token and the parameters given (arrays repeat). */
  function url(path, params) {
    const q = new URLSearchParams();
    q.set('token', token);
    for (const [k, v] of Object.entries(params || {})) {
      if (Array.isArray(v)) for (const x of v) q.append(k, String(x));
      else if (v !== undefined && v !== null) q.set(k, String(v));
    }
    return `${path}?${q}`;
  }

  /** An element with a class and text. */
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  const UNITS = [
    ['GiB', 1024 ** 3],
    ['MiB', 1024 ** 2],
    ['KiB', 1024],
  ];

  /** Bytes as people read them: 3 significant digits, binary units (as plog report). */
  function bytes(b) {
    if (b === null || b === undefined || !Number.isFinite(b)) return '-';
    for (const [u, f] of UNITS) if (Math.abs(b) >= f) return `${sig3(b / f)} ${u}`;
    return `${Math.round(b)} B`;
  }

  function sig3(x) {
    const a = Math.abs(x);
    return a >= 100 ? x.toFixed(0) : a >= 10 ? x.toFixed(1) : x.toFixed(2);
  }

  /** A duration: 850 ms, 12 s, 5 min 3 s, 2 h 10 min, 3 d 4 h. */
  function duration(ms) {
    if (ms === null || ms === undefined || !Number.isFinite(ms)) return '-';
    if (ms === 0) return '0 s';
    if (ms < 1000) return `${Math.round(ms)} ms`;
    const s = Math.round(ms / 1000);
    if (s < 60) return `${s} s`;
    const m = Math.floor(s / 60);
    if (m < 60) return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
    const h = Math.floor(m / 60);
    if (h < 48) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
    const d = Math.floor(h / 24);
    return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
  }

  /** Wall-clock times in the server's time zone (the logs' own). */
  let zone;
  const fmtCache = new Map();
  function setZone(tz) {
    if (tz && tz !== zone) {
      zone = tz;
      fmtCache.clear();
    }
  }
  function fmt(opts) {
    const k = JSON.stringify(opts);
    let f = fmtCache.get(k);
    if (!f) {
      try {
        // Swedish writes dates as ISO 8601 does: 2024-01-15 09:30:00.
        f = new Intl.DateTimeFormat('sv-SE', { ...opts, timeZone: zone });
      } catch {
        f = new Intl.DateTimeFormat('sv-SE', opts);
      }
      fmtCache.set(k, f);
    }
    return f;
  }
  function clock(ms, seconds = true) {
    return fmt({ hour: '2-digit', minute: '2-digit', ...(seconds ? { second: '2-digit' } : {}), hour12: false }).format(ms);
  }
  /** MM-DD, as ISO 8601 writes it. */
  function day(ms) {
    const parts = fmt({ month: '2-digit', day: '2-digit' }).formatToParts(ms);
    const get = (t) => (parts.find((p) => p.type === t) || {}).value;
    return `${get('month')}-${get('day')}`;
  }
  function stamp(ms) {
    return fmt({ year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false }).format(ms);
  }

  /** The server's clock less ours (the page may be on another machine). */
  let skew = 0;
  function serverNow(now) {
    if (typeof now === 'number') skew = now - Date.now();
    return Date.now() + skew;
  }

  /** The connection state in the header. */
  function conn(state, text) {
    const c = document.getElementById('conn');
    if (!c) return;
    c.className = `conn ${state}`;
    c.textContent = text;
  }

  /** An EventSource whose state shows in the header. */
  function events(path, params, handlers) {
    const es = new EventSource(url(path, params));
    es.onopen = () => conn('live', 'live');
    es.onerror = () => conn('down', es.readyState === EventSource.CLOSED ? 'disconnected' : 'reconnecting');
    for (const [name, fn] of Object.entries(handlers)) {
      es.addEventListener(name, (ev) => fn(JSON.parse(ev.data)));
    }
    return es;
  }

  window.plog = { token, url, el, bytes, duration, clock, day, stamp, setZone, serverNow, conn, events, sig3 };
})();
