// plog web's log page: the chart of one log, or of several to compare
// (/log/ID?with=ID2&with=ID3), as plog plot draws it: memory (RSS, PSS,
// Swap) above, CPU% below, over one time axis; live as samples arrive
// (/api/log-events); zoom (drag, wheel, buttons) and pan (shift + wheel,
// buttons), the detail of a zoomed range fetched from the server; the
// figures of plog report beside it, and downloads. Charts are uPlot's.
'use strict';

(function () {
  const P = window.plog;
  const FIG = { rss: '#1f60c4', pss: '#e8790c', swap: '#c4162a', cpu: '#2a9d3a' };
  const RUN = ['#1f60c4', '#c4162a', '#2a9d3a', '#8e44ad', '#e8790c', '#6d4c41', '#d6338a', '#128a9a'];
  const DASH = { rss: undefined, pss: [7, 4], swap: [2, 3] };
  const LABEL = { rss: 'RSS', pss: 'PSS', swap: 'Swap' };

  const first = decodeURIComponent(location.pathname.replace(/^\/log\//, ''));
  const params = new URLSearchParams(location.search);
  const ids = [first, ...params.getAll('with').filter((x) => x !== first)].slice(0, 8);
  const multi = ids.length > 1;
  const logs = ids.map((id, i) => ({ id, i, color: RUN[i % RUN.length], row: null, report: null, full: null, shown: null }));
  const state = { mode: multi ? 'elapsed' : 'clock', following: true, swap: false, fetchSeq: 0, samplesReceived: 0, detailFetches: 0 };
  let mem = null;
  let cpu = null;
  let syncing = false;
  window.plogChart = {
    state,
    logs,
    get mem() {
      return mem;
    },
    get cpu() {
      return cpu;
    },
  };

  const back = document.getElementById('back');
  back.href = P.url('/');

  function notice(text) {
    const n = document.getElementById('notice');
    n.hidden = !text;
    n.textContent = text || '';
  }

  async function getJson(path, q) {
    const r = await fetch(P.url(path, q), { cache: 'no-store' });
    if (!r.ok) throw new Error(`${path}: ${r.status} ${(await r.text()).trim()}`);
    return r.json();
  }

  // ------------------------------------------------------------------ data

  /** The x value of a time (seconds: uPlot's time unit), per the axis mode. */
  function xOf(log, t) {
    return state.mode === 'clock' ? t / 1000 : (t - log.t0) / 1000;
  }
  function tOf(log, x) {
    return state.mode === 'clock' ? x * 1000 : log.t0 + x * 1000;
  }

  function median(a) {
    if (a.length === 0) return 0;
    const s = a.slice().sort((x, y) => x - y);
    return s[Math.floor(s.length / 2)];
  }

  /** One log's table [x, rss, pss, swap] and [x, cpu], a null where the log has a gap (as plog plot breaks its lines). */
  function tables(log, s) {
    const gaps = [];
    for (let i = 1; i < Math.min(s.t.length, 200); i++) gaps.push(s.t[i] - s.t[i - 1]);
    const gap = 3 * Math.max(1000, log.row && log.row.intervalMs ? log.row.intervalMs : median(gaps));
    const m = [[], [], [], []];
    const c = [[], []];
    for (let i = 0; i < s.t.length; i++) {
      if (i > 0 && s.t[i] - s.t[i - 1] > gap) {
        const x = xOf(log, (s.t[i] + s.t[i - 1]) / 2);
        m[0].push(x);
        m[1].push(null);
        m[2].push(null);
        m[3].push(null);
        c[0].push(x);
        c[1].push(null);
      }
      const x = xOf(log, s.t[i]);
      m[0].push(x);
      m[1].push(s.rss[i]);
      m[2].push(s.pss[i]);
      m[3].push(s.swap[i]);
      c[0].push(x);
      c[1].push(s.cpu[i]);
    }
    return { m, c };
  }

  function build() {
    const ts = logs.map((log) => tables(log, log.shown || log.full));
    if (!multi) return { m: ts[0].m, c: ts[0].c };
    // One x for all: uPlot.join marks the points a log lacks as undefined (drawn across), keeping its own nulls (gaps).
    return { m: uPlot.join(ts.map((t) => t.m)), c: uPlot.join(ts.map((t) => t.c)) };
  }

  function extent() {
    let lo = Infinity;
    let hi = -Infinity;
    for (const log of logs) {
      const s = log.full;
      if (!s || s.t.length === 0) continue;
      lo = Math.min(lo, xOf(log, s.t[0]));
      hi = Math.max(hi, xOf(log, s.t[s.t.length - 1]));
    }
    if (!Number.isFinite(lo)) return null;
    if (hi <= lo) hi = lo + 1;
    return [lo, hi];
  }

  // ---------------------------------------------------------------- charts

  function bytesAxis(u, splits) {
    const max = Math.max(...splits.map(Math.abs), 1);
    const [unit, f] = max >= 1024 ** 3 ? ['GiB', 1024 ** 3] : max >= 1024 ** 2 ? ['MiB', 1024 ** 2] : ['KiB', 1024];
    return splits.map((v) => `${+(v / f).toFixed(2)} ${unit}`);
  }

  function elapsedAxis(u, splits) {
    const span = u.scales.x.max - u.scales.x.min;
    return splits.map((v) => {
      const s = Math.round(v);
      const h = Math.floor(s / 3600);
      const mm = String(Math.floor(s / 60) % 60).padStart(2, '0');
      const ss = String(s % 60).padStart(2, '0');
      return h || span > 3600 ? `${h}:${mm}${span < 7200 ? `:${ss}` : ''}` : `${Math.floor(s / 60)}:${ss}`;
    });
  }

  /** Clock labels in the logs' time zone, 24-hour; the date where the day changes (and under the first). */
  function clockAxis(u, splits, axis, space, incr) {
    let prevDay = null;
    return splits.map((v) => {
      const ms = v * 1000;
      const d = P.day(ms);
      const t = incr >= 86400 ? '' : P.clock(ms, incr < 60);
      const label = d !== prevDay ? (t ? `${t}\n${d}` : d) : t;
      prevDay = d;
      return label;
    });
  }

  function xAxis() {
    return { stroke: '#444', grid: { stroke: '#eee' }, values: state.mode === 'clock' ? clockAxis : elapsedAxis, size: 50 };
  }

  /** Tick steps for sizes: 1, 2, 5 x 10^n of a binary unit. */
  const BYTE_INCRS = [];
  for (const f of [1, 1024, 1024 ** 2, 1024 ** 3, 1024 ** 4]) for (const m of [1, 2, 5, 10, 20, 50, 100, 200, 500]) BYTE_INCRS.push(m * f);

  /** Zoom with the wheel around the pointer; pan with shift + wheel (or a sideways wheel). */
  function wheelPlugin() {
    return {
      hooks: {
        ready(u) {
          u.over.addEventListener(
            'wheel',
            (e) => {
              e.preventDefault();
              const { min, max } = u.scales.x;
              const span = max - min;
              if (e.shiftKey || Math.abs(e.deltaX) > Math.abs(e.deltaY)) {
                // Some browsers turn shift + wheel into a sideways wheel (deltaX, deltaY 0): the larger one says which way.
                const along = Math.abs(e.deltaX) > Math.abs(e.deltaY) ? e.deltaX : e.deltaY;
                const d = (along > 0 ? 1 : -1) * span * 0.2;
                setRange(min + d, max + d);
                return;
              }
              const rect = u.over.getBoundingClientRect();
              const at = u.posToVal(e.clientX - rect.left, 'x');
              const k = e.deltaY < 0 ? 0.75 : 1 / 0.75;
              setRange(at - (at - min) * k, at + (max - at) * k);
            },
            { passive: false },
          );
          u.over.addEventListener('dblclick', () => showAll());
        },
      },
    };
  }

  const xSeries = () => ({ value: (u, v) => (v === null || v === undefined ? '-' : fmtX(v)) });

  function memSeries() {
    const s = [xSeries()];
    for (const log of logs) {
      for (const k of ['rss', 'pss', 'swap']) {
        s.push({
          label: multi ? `${log.row ? log.row.name : log.id} ${LABEL[k]}` : LABEL[k],
          stroke: multi ? log.color : FIG[k],
          dash: multi ? DASH[k] : undefined,
          width: k === 'rss' ? 2 : 1.5,
          show: k !== 'swap' || state.swap,
          value: (u, v) => P.bytes(v),
          points: { show: false },
        });
      }
    }
    return s;
  }

  function cpuSeries() {
    const s = [xSeries()];
    for (const log of logs) {
      s.push({
        label: multi ? `${log.row ? log.row.name : log.id} CPU%` : 'CPU%',
        stroke: multi ? log.color : FIG.cpu,
        width: 1.5,
        value: (u, v) => (v === null || v === undefined ? '-' : v.toFixed(1)),
        points: { show: false },
      });
    }
    return s;
  }

  function opts(kind, width) {
    const memory = kind === 'mem';
    return {
      width,
      height: memory ? 340 : 170,
      tzDate: (ts) => (window.__tz ? uPlot.tzDate(new Date(ts * 1e3), window.__tz) : new Date(ts * 1e3)),
      cursor: { sync: { key: 'plog' }, drag: { x: true, y: false, setScale: true }, bind: { dblclick: () => null } },
      scales: {
        x: { time: state.mode === 'clock' },
        y: { range: (u, lo, hi) => [0, hi > 0 ? hi * 1.08 : 1] },
      },
      axes: [
        xAxis(),
        memory ? { stroke: '#444', grid: { stroke: '#eee' }, values: bytesAxis, incrs: BYTE_INCRS, size: 80, label: 'memory' } : { stroke: '#444', grid: { stroke: '#eee' }, size: 80, label: 'CPU %' },
      ],
      series: memory ? memSeries() : cpuSeries(),
      legend: { live: true },
      plugins: [wheelPlugin()],
      hooks: {
        setScale: [
          (u, key) => {
            if (key !== 'x') return;
            showRange(u);
            if (syncing) return;
            syncing = true;
            const other = u === mem ? cpu : mem;
            if (other && (other.scales.x.min !== u.scales.x.min || other.scales.x.max !== u.scales.x.max)) other.setScale('x', { min: u.scales.x.min, max: u.scales.x.max });
            syncing = false;
            rangeChanged(u.scales.x.min, u.scales.x.max);
          },
        ],
      },
    };
  }

  function chartWidth() {
    return Math.max(400, document.querySelector('.charts').clientWidth - 4);
  }

  function draw() {
    const d = build();
    const w = chartWidth();
    if (mem) mem.destroy();
    if (cpu) cpu.destroy();
    mem = new uPlot(opts('mem', w), d.m, document.getElementById('mem'));
    cpu = new uPlot(opts('cpu', w), d.c, document.getElementById('cpu'));
    const ex = extent();
    if (ex) setRange(ex[0], ex[1], true);
  }

  function redraw() {
    if (!mem) return draw();
    const d = build();
    const keep = { min: mem.scales.x.min, max: mem.scales.x.max };
    syncing = true;
    mem.setData(d.m, false);
    cpu.setData(d.c, false);
    syncing = false;
    if (state.following) {
      const ex = extent();
      if (ex) setRange(ex[0], ex[1], true);
    } else setRange(keep.min, keep.max, true);
  }

  function setRange(min, max, quiet) {
    if (!mem || !(max > min)) return;
    if (quiet) syncing = true;
    mem.setScale('x', { min, max });
    cpu.setScale('x', { min, max });
    if (quiet) syncing = false;
    showRange(mem);
  }

  function fmtX(x) {
    if (state.mode === 'clock') return P.stamp(x * 1000);
    const s = Math.round(x);
    return `${Math.floor(s / 3600)}:${String(Math.floor(s / 60) % 60).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
  }

  function showRange(u) {
    const { min, max } = u.scales.x;
    if (!(max > min)) return;
    const r = document.getElementById('range');
    r.textContent = `showing ${fmtX(min)} to ${fmtX(max)} (${P.duration((max - min) * 1000)})${state.following ? ', live' : ''}`;
    r.dataset.min = String(min);
    r.dataset.max = String(max);
  }

  let detailTimer = null;

  /** After a zoom or a pan: follow the end again when the whole log is shown, else fetch the range's detail. */
  function rangeChanged(min, max) {
    const ex = extent();
    if (!ex) return;
    const whole = min <= ex[0] + (ex[1] - ex[0]) * 0.001 && max >= ex[1] - (ex[1] - ex[0]) * 0.001;
    state.following = whole;
    showRange(mem);
    clearTimeout(detailTimer);
    detailTimer = setTimeout(() => fetchDetail(min, max, whole), 200);
  }

  async function fetchDetail(min, max, whole) {
    const seq = ++state.fetchSeq;
    if (whole) {
      if (logs.every((l) => l.shown === null)) return;
      for (const l of logs) l.shown = null;
      redraw();
      return;
    }
    const points = Math.min(20000, Math.max(500, 2 * chartWidth()));
    try {
      const got = await Promise.all(logs.map((log) => getJson(`/api/log/${encodeURIComponent(log.id)}/series`, { from: Math.floor(tOf(log, min)), to: Math.ceil(tOf(log, max)), points })));
      if (seq !== state.fetchSeq) return;
      state.detailFetches++;
      logs.forEach((log, i) => (log.shown = got[i]));
      redraw();
    } catch (err) {
      notice(String(err.message || err));
    }
  }

  function showAll() {
    for (const l of logs) l.shown = null;
    state.following = true;
    redraw();
    const ex = extent();
    if (ex) setRange(ex[0], ex[1], true);
  }

  // --------------------------------------------------------------- reports

  function reportSection(log) {
    const sec = P.el('section');
    sec.id = `report-${log.i}`;
    const h = P.el('h2');
    if (multi) {
      const sw = P.el('span', 'swatch');
      sw.style.background = log.color;
      h.appendChild(sw);
    }
    h.appendChild(document.createTextNode(log.row ? `${log.row.name}${log.row.pid ? ` (pid ${log.row.pid})` : ''}` : log.id));
    sec.appendChild(h);
    const r = log.report;
    const row = log.row;
    if (multi && r && r.command) sec.appendChild(P.el('p', 'command', r.command));
    sec.appendChild(P.el('p', 'muted small', row ? `${row.status}: ${row.why}; owner ${row.owner}; ${row.file}` : ''));
    if (r && r.samples) {
      sec.appendChild(
        P.el('p', 'small', `${r.samples} samples, ${P.stamp(r.start_ms)} to ${P.stamp(r.end_ms)} (${P.duration(r.span_ms)})${r.interval_ms ? `, every ${P.duration(r.interval_ms)}` : ''}`),
      );
      const t = P.el('table');
      const head = P.el('tr');
      for (const c of ['memory', 'first', 'last', 'min', 'peak', 'mean', 'growth/h', 'r²', 'steady']) head.appendChild(P.el('th', c === 'memory' || c === 'steady' ? '' : 'num', c));
      t.appendChild(head);
      for (const [key, f] of Object.entries(r.memory)) {
        const tr = P.el('tr');
        const slope = f.slope_bytes_per_hour;
        const cells = [
          r.labels[key] || key,
          P.bytes(f.first_bytes),
          P.bytes(f.last_bytes),
          P.bytes(f.min_bytes),
          P.bytes(f.peak_bytes),
          P.bytes(f.mean_bytes),
          slope === null ? '-' : `${slope >= 0 ? '+' : '−'}${P.bytes(Math.abs(slope))}`,
          f.r2 === null ? '-' : f.r2.toFixed(2),
          f.steady ? 'yes' : '',
        ];
        cells.forEach((c, i) => tr.appendChild(P.el('td', i === 0 || i === 8 ? '' : 'num', c)));
        tr.title = `peak at ${P.stamp(f.peak_ms)}`;
        t.appendChild(tr);
      }
      sec.appendChild(t);
      const c = r.cpu;
      sec.appendChild(
        P.el(
          'p',
          'small',
          c.mean_percent === null
            ? 'CPU% not known yet'
            : `CPU: mean ${c.mean_percent.toFixed(1)}%, peak ${c.peak_percent.toFixed(1)}% at ${P.clock(c.peak_ms)}; CPU time ${P.duration(c.used_seconds * 1000)} during the log; threads up to ${c.max_threads}`,
        ),
      );
      const notes = [];
      if (r.bad_lines) notes.push(`${r.bad_lines} line${r.bad_lines > 1 ? 's' : ''} not understood`);
      if (r.partial_tail) notes.push('the last line is unfinished (being written?)');
      // As plog report says it (lacksText): the columns a plog 0.1.0 log does not have.
      if (r.lacks && r.lacks.length) notes.push(`a log of plog 0.1.0, which has no ${r.lacks.join('; no ')}`);
      if (notes.length) sec.appendChild(P.el('p', 'small muted', `note: ${notes.join('; ')}`));
      sec.appendChild(P.el('p', `verdict ${r.verdict.kind}`, r.verdict.text));
    } else {
      sec.appendChild(P.el('p', 'muted', 'no sample yet'));
    }
    const dl = P.el('p', 'downloads small');
    dl.appendChild(document.createTextNode('download: '));
    const link = (text, q) => {
      const a = P.el('a', '', text);
      a.href = P.url(`/log/${encodeURIComponent(log.id)}/download`, q);
      a.setAttribute('download', '');
      dl.appendChild(a);
    };
    link('log', { format: 'log' });
    link('CSV', { format: 'csv' });
    link('JSON lines', { format: 'jsonl' });
    link(multi && log.i === 0 ? 'SVG (all)' : 'SVG', multi && log.i === 0 ? { format: 'svg', with: ids.slice(1), time: state.mode } : { format: 'svg' });
    sec.appendChild(dl);
    return sec;
  }

  function showReports() {
    const box = document.getElementById('reports');
    box.replaceChildren(...logs.map(reportSection));
    const l0 = logs[0];
    const title = multi ? `${logs.length} runs compared` : l0.row ? `${l0.row.name}${l0.row.pid ? ` ${l0.row.pid}` : ''}` : l0.id;
    document.getElementById('title').textContent = title;
    document.title = `${title} - plog web`;
    document.getElementById('command').textContent = multi ? '' : l0.report ? l0.report.command : '';
  }

  // ------------------------------------------------------------------ live

  function append(log, s) {
    const f = log.full;
    const last = f.t.length ? f.t[f.t.length - 1] : -Infinity;
    for (let i = 0; i < s.t.length; i++) {
      if (s.t[i] <= last) continue;
      for (const k of ['t', 'rss', 'pss', 'swap', 'cpu']) f[k].push(s[k][i]);
      if (s.swap[i] > 0) state.swap = true;
    }
    if (log.t0 === undefined && f.t.length) log.t0 = f.t[0];
  }

  let redrawDue = false;
  function scheduleRedraw() {
    if (redrawDue) return;
    redrawDue = true;
    requestAnimationFrame(() => {
      redrawDue = false;
      if (mem && mem.series.length && state.swap && !mem.series[3].show) draw();
      else if (state.following) redraw();
    });
  }

  async function load() {
    try {
      const got = await Promise.all(logs.map((log) => getJson(`/api/log/${encodeURIComponent(log.id)}`)));
      got.forEach((g, i) => {
        logs[i].row = g.row;
        logs[i].report = g.report;
      });
      window.__tz = got[0].timeZone;
      P.setZone(got[0].timeZone);
      P.serverNow(got[0].now);
      const off = got[0].utcOffsetMin;
      document.getElementById('tz').textContent =
        state.mode === 'clock'
          ? `times: ${got[0].timeZone} (UTC${off >= 0 ? '+' : '−'}${String(Math.floor(Math.abs(off) / 60)).padStart(2, '0')}:${String(Math.abs(off) % 60).padStart(2, '0')}), the logs' own`
          : "time since each log's first sample";
      const series = await Promise.all(logs.map((log) => getJson(`/api/log/${encodeURIComponent(log.id)}/series`, { points: Math.min(20000, Math.max(2000, 2 * chartWidth())) })));
      logs.forEach((log, i) => {
        log.full = series[i];
        log.shown = null;
        log.t0 = series[i].t.length ? series[i].t[0] : undefined;
        if (series[i].swap.some((v) => v > 0)) state.swap = true;
      });
      showReports();
      draw();
      document.getElementById('axis').textContent = state.mode === 'clock' ? 'elapsed time' : 'clock time';
      notice('');
      document.body.dataset.ready = '1';
    } catch (err) {
      notice(String(err.message || err));
    }
  }

  function live() {
    P.events(
      '/api/log-events',
      { id: ids },
      {
        hello(ev) {
          P.serverNow(ev.now);
        },
        samples(ev) {
          const log = logs.find((l) => l.id === ev.id);
          if (!log || !log.full) return;
          state.samplesReceived += ev.t.length;
          append(log, ev);
          scheduleRedraw();
        },
        report(ev) {
          const log = logs.find((l) => l.id === ev.id);
          if (!log) return;
          P.serverNow(ev.now);
          log.row = ev.row;
          log.report = ev.report;
          const old = document.getElementById(`report-${log.i}`);
          if (old) old.replaceWith(reportSection(log));
        },
        reset() {
          load();
        },
      },
    );
  }

  document.getElementById('zoom-in').addEventListener('click', () => {
    const { min, max } = mem.scales.x;
    const q = (max - min) / 4;
    setRange(min + q, max - q);
  });
  document.getElementById('zoom-out').addEventListener('click', () => {
    const { min, max } = mem.scales.x;
    const h = (max - min) / 2;
    const ex = extent();
    setRange(Math.max(ex[0], min - h), Math.min(ex[1], max + h));
  });
  for (const [id, dir] of [
    ['pan-left', -1],
    ['pan-right', 1],
  ]) {
    document.getElementById(id).addEventListener('click', () => {
      const { min, max } = mem.scales.x;
      const d = dir * (max - min) * 0.5;
      setRange(min + d, max + d);
    });
  }
  document.getElementById('all').addEventListener('click', showAll);
  document.getElementById('axis').addEventListener('click', () => {
    state.mode = state.mode === 'clock' ? 'elapsed' : 'clock';
    state.following = true;
    for (const l of logs) l.shown = null;
    document.getElementById('axis').textContent = state.mode === 'clock' ? 'elapsed time' : 'clock time';
    showReports();
    draw();
  });
  let resizeTimer = null;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      if (mem) {
        mem.setSize({ width: chartWidth(), height: 340 });
        cpu.setSize({ width: chartWidth(), height: 170 });
      }
    }, 150);
  });

  load().then(live);
})();
