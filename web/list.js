// plog web's list: every log, updated live from /api/events (a snapshot,
// then the rows that changed). Sortable by any column, filterable by name.
'use strict';

(function () {
  const P = window.plog;
  const tbody = document.querySelector('#logs tbody');
  const filterBox = document.getElementById('filter');
  const rows = new Map(); // id -> { data, tr, cells }
  const selected = new Set();
  let sortKey = 'name';
  let sortDir = 1;
  let sortDue = false;
  // For the tests and the benchmark: how the page keeps up.
  // ages: how old each new sample was (by its own time) when the page showed it.
  // scriptAt, snapshotAt, paintedAt: when this script ran, the first rows were applied, and drawn (page clock);
  // allRowsAt: when every row of the first list was in (a screen's rows go first, the rest after that frame).
  const stats = {
    firstRows: 0,
    allRowsAt: 0,
    events: 0,
    rowsApplied: 0,
    lastLagMs: 0,
    maxLagMs: 0,
    maxApplyMs: 0,
    applyMs: 0,
    scriptAt: performance.now(),
    snapshotAt: 0,
    snapshotApplyMs: 0,
    paintedAt: 0,
    ages: [],
  };
  window.plogList = { rows, stats };

  const STATUS_ORDER = { running: 0, waiting: 1, ended: 2, unreadable: 3 };
  const VERDICT_ORDER = { 'leak-suspect': 0, 'grows-short': 1, steady: 2, empty: 3 };
  const VERDICT_TEXT = { 'leak-suspect': 'LEAK SUSPECT', 'grows-short': 'grows (short log)', steady: 'steady', empty: 'no samples' };

  function sortValue(r, key) {
    const d = r.data;
    switch (key) {
      case 'name':
        return `${d.name}\u0000${String(d.pid ?? '').padStart(10, '0')}\u0000${d.id}`;
      case 'pid':
        return d.pid ?? -1;
      case 'owner':
        return d.owner;
      case 'interval':
        return d.intervalMs;
      case 'status':
        return STATUS_ORDER[d.status] ?? 9;
      case 'age':
        return d.lastMs === null ? -Infinity : -d.lastMs;
      case 'rss':
        return d.rss ?? -1;
      case 'pss':
        return d.pss ?? -1;
      case 'cpu':
        return d.cpu ?? -1;
      case 'verdict':
        return VERDICT_ORDER[d.verdict.kind] ?? 9;
      default:
        return 0;
    }
  }

  function compare(a, b) {
    const x = sortValue(a, sortKey);
    const y = sortValue(b, sortKey);
    if (x < y) return -sortDir;
    if (x > y) return sortDir;
    return a.data.id < b.data.id ? -1 : a.data.id > b.data.id ? 1 : 0;
  }

  function resort(into = tbody) {
    sortDue = false;
    const list = [...rows.values()].sort(compare);
    // Move only what is out of place: a list of hundreds stays cheap to keep in order.
    let prev = null;
    for (const r of list) {
      const want = prev ? prev.nextSibling : into.firstChild;
      if (want !== r.tr) into.insertBefore(r.tr, want);
      prev = r.tr;
    }
  }

  function scheduleSort() {
    if (sortDue) return;
    sortDue = true;
    setTimeout(() => requestAnimationFrame(() => resort()), 300);
  }

  function matches(d, q) {
    if (!q) return true;
    return d.name.toLowerCase().includes(q) || d.id.toLowerCase().includes(q) || d.command.toLowerCase().includes(q);
  }

  // total: the logs of the list, of which only the first screen's may be in yet (the page's load).
  function applyFilter(total = rows.size) {
    const q = filterBox.value.trim().toLowerCase();
    let shown = 0;
    for (const r of rows.values()) {
      r.tr.hidden = !matches(r.data, q);
      if (!r.tr.hidden) shown++;
    }
    document.getElementById('count').textContent = q ? `${shown} of ${total} logs` : `${total} log${total === 1 ? '' : 's'}`;
    document.getElementById('empty').hidden = total > 0;
  }

  // In tenths of the drawn size (viewBox 0 0 1200 220): whole numbers,
  // which are quicker to write than toFixed's, 500 paths at a page's load.
  function sparkPath(spark) {
    const vals = spark.values;
    const W = 1200;
    const H = 220;
    let lo = Infinity;
    let hi = -Infinity;
    let count = 0;
    let only = 0;
    for (let i = 0; i < vals.length; i++) {
      const v = vals[i];
      if (v === null) continue;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
      count++;
      only = v;
    }
    if (count === 0) return '';
    // From zero when the swing is small, so that a flat line looks flat.
    if (hi - lo < hi * 0.05) lo = 0;
    const span = hi - lo || 1;
    const n = Math.max(vals.length - 1, 1);
    // One point: a short dash at the right end.
    if (count === 1) {
      const y = Math.round(H - 10 - ((only - lo) / span) * (H - 20));
      return `M${W - 60} ${y}L${W} ${y}`;
    }
    let d = '';
    let pen = false;
    for (let i = 0; i < vals.length; i++) {
      const v = vals[i];
      if (v === null) {
        pen = false;
        continue;
      }
      const x = Math.round((i / n) * W);
      const y = Math.round(H - 10 - ((v - lo) / span) * (H - 20));
      d += `${pen ? 'L' : 'M'}${x} ${y}`;
      pen = true;
    }
    return d;
  }

  const SVGNS = 'http://www.w3.org/2000/svg';
  /** "?token=...": what every link of a row ends with (P.url's, made once). */
  const TOKEN_QUERY = P.url('');

  // Every row is a copy of one made here (a clone is cheaper than building
  // a row's 14 elements one by one: 500 rows at a page's load).
  const CELLS = ['sel', 'name', 'pid', 'owner', 'interval', 'status', 'age', 'rss', 'pss', 'cpu', 'spark', 'verdict'];
  const CLASSES = { sel: 'sel', name: 'name', pid: 'num', interval: 'num', age: 'num', rss: 'num', pss: 'num', cpu: 'num' };
  const protoRow = (() => {
    const tr = P.el('tr');
    tr.setAttribute('role', 'row');
    for (const key of CELLS) tr.appendChild(P.el('td', CLASSES[key])).setAttribute('role', 'cell');
    const [sel, name, , , , status, , , , , spark, verdict] = tr.children;
    const box = P.el('input');
    box.type = 'checkbox';
    box.title = 'compare';
    sel.appendChild(box);
    name.appendChild(P.el('a'));
    name.appendChild(P.el('span', 'cmd'));
    status.appendChild(P.el('span', 'status'));
    const svg = document.createElementNS(SVGNS, 'svg');
    svg.setAttribute('class', 'spark');
    svg.setAttribute('width', '120');
    svg.setAttribute('height', '22');
    svg.setAttribute('viewBox', '0 0 1200 220');
    svg.appendChild(document.createElementNS(SVGNS, 'path'));
    spark.appendChild(svg);
    verdict.appendChild(P.el('span', 'badge'));
    return tr;
  })();

  function makeRow(d) {
    const tr = protoRow.cloneNode(true);
    const cells = {};
    let td = tr.firstElementChild;
    for (const key of CELLS) {
      cells[key] = td;
      td = td.nextElementSibling;
    }
    cells.box = cells.sel.firstChild;
    cells.link = cells.name.firstChild;
    cells.cmd = cells.name.lastChild;
    cells.statusBadge = cells.status.firstChild;
    cells.sparkPath = cells.spark.firstChild.firstChild;
    cells.badge = cells.verdict.firstChild;
    return { data: d, tr, cells, spark: null, shown: new Array(SLOTS) };
  }

  // One listener for every row's box (rows come and go by hundreds).
  tbody.addEventListener('change', (ev) => {
    const box = ev.target;
    const id = box.closest && box.closest('tr')?.dataset.id;
    if (!id || box.type !== 'checkbox') return;
    if (box.checked) selected.add(id);
    else selected.delete(id);
    updateCompare();
  });

  // A row's texts and attributes written only when they change: 500 rows
  // updated every second otherwise cost the page a third of its time
  // (bench/web.ts: its long tasks), most of it writing what was there.
  // What each was last written is kept in a slot of the row's `shown`
  // (an array: a key made of strings for each would be 10,000 strings made
  // at a page's load).
  // The slots, numbered in order (SLOTS, last, is how many there are).
  const [ID, CLS, LINK, HREF, FILE, CMD, CMD_TITLE, PID, OWNER, INTERVAL, STATUS_CLS, STATUS, WHY, RSS, PSS, CPU, BADGE_CLS, BADGE, VERDICT, AGE, STAMP, SLOTS] = Array.from(
    { length: 22 },
    (_, i) => i,
  );
  function put(r, slot, node, prop, v) {
    if (r.shown[slot] === v) return;
    r.shown[slot] = v;
    if (prop === 'text') node.textContent = v;
    else node[prop] = v;
  }

  /** The same values as the sparkline drawn last (a new object from each event that carries one). */
  function sameSpark(a, b) {
    if (a === b) return true;
    if (!a || !b || a.values.length !== b.values.length) return false;
    for (let i = 0; i < a.values.length; i++) if (a.values[i] !== b.values[i]) return false;
    return true;
  }

  function fill(r) {
    const d = r.data;
    const c = r.cells;
    put(r, CLS, r.tr, 'className', d.status);
    if (r.shown[ID] !== d.id) {
      r.shown[ID] = d.id;
      r.tr.dataset.id = d.id;
    }
    put(r, LINK, c.link, 'text', d.name);
    put(r, HREF, c.link, 'href', `/log/${encodeURIComponent(d.id)}${TOKEN_QUERY}`);
    put(r, FILE, c.link, 'title', d.file);
    put(r, CMD, c.cmd, 'text', d.command);
    put(r, CMD_TITLE, c.cmd, 'title', d.command);
    put(r, PID, c.pid, 'text', String(d.pid ?? ''));
    put(r, OWNER, c.owner, 'text', d.owner);
    put(r, INTERVAL, c.interval, 'text', d.intervalMs ? P.duration(d.intervalMs) : '');
    put(r, STATUS_CLS, c.statusBadge, 'className', `status ${d.status}`);
    put(r, STATUS, c.statusBadge, 'text', d.status);
    put(r, WHY, c.statusBadge, 'title', d.why);
    put(r, RSS, c.rss, 'text', P.bytes(d.rss));
    put(r, PSS, c.pss, 'text', P.bytes(d.pss));
    put(r, CPU, c.cpu, 'text', d.cpu === null ? '-' : d.cpu.toFixed(1));
    if (!sameSpark(d.spark, r.spark)) c.sparkPath.setAttribute('d', sparkPath(d.spark));
    r.spark = d.spark;
    put(r, BADGE_CLS, c.badge, 'className', `badge ${d.verdict.kind}`);
    put(r, BADGE, c.badge, 'text', VERDICT_TEXT[d.verdict.kind] ?? d.verdict.kind);
    put(r, VERDICT, c.badge, 'title', d.verdict.text);
    age(r);
  }

  function age(r) {
    const d = r.data;
    put(r, AGE, r.cells.age, 'text', d.lastMs === null ? '-' : `${P.duration(Math.max(0, P.serverNow() - d.lastMs))} ago`);
  }

  // The time of a row's last sample (Intl: slow) is its age's title, made
  // when the pointer comes to it, not for 500 rows at each update.
  tbody.addEventListener('pointerover', (ev) => {
    const td = ev.target.closest && ev.target.closest('td');
    const tr = td && td.parentElement;
    const r = tr && rows.get(tr.dataset.id);
    if (!r || td !== r.cells.age || r.stampOf === r.data.lastMs) return;
    r.stampOf = r.data.lastMs;
    put(r, STAMP, td, 'title', r.data.lastMs === null ? '' : P.stamp(r.data.lastMs));
  });

  // A snapshot's row is whole; an update's holds the id and what changed.
  function upsert(d, into = tbody) {
    let r = rows.get(d.id);
    if (!r) {
      if (d.name === undefined) return; // a change to a row this page never had: its next snapshot has it
      r = makeRow(d);
      rows.set(d.id, r);
      into.appendChild(r.tr);
      r.tr.hidden = !matches(d, filterBox.value.trim().toLowerCase());
    } else {
      if (d.samples > r.data.samples && d.lastMs !== undefined && d.lastMs !== null && stats.ages.length < 100000) stats.ages.push(P.serverNow() - d.lastMs);
      d = Object.assign({}, r.data, d);
    }
    r.data = d;
    fill(r);
  }

  function remove(id) {
    const r = rows.get(id);
    if (!r) return;
    r.tr.remove();
    rows.delete(id);
    selected.delete(id);
  }

  function meta(m) {
    P.setZone(m.timeZone);
    const where = document.getElementById('where');
    where.textContent = m.dir ? m.dir : '';
    const notes = [];
    if (m.dirError) notes.push(`${m.dir}: ${m.dirError}`);
    if (m.overflow) notes.push(`${m.overflow} more files are left out (too many logs)`);
    const n = document.getElementById('notice');
    n.hidden = notes.length === 0;
    n.textContent = notes.join('; ');
  }

  function updateCompare() {
    const a = document.getElementById('compare');
    const ids = [...selected].filter((id) => rows.has(id));
    a.hidden = ids.length < 2;
    if (ids.length >= 2) a.href = P.url(`/log/${encodeURIComponent(ids[0])}`, { with: ids.slice(1, 8) });
  }

  // When the frame that shows the first rows was on the screen: the page's
  // first contentful paint, where the browser reports it (where it honours
  // blocking="render", as Chromium does, rendering waits for these scripts
  // and that frame has the rows; elsewhere it may be the empty table's);
  // where it reports none, the start of the frame after it. A figure for
  // bench/web.ts and the tests only.
  function markPainted() {
    if (PerformanceObserver.supportedEntryTypes?.includes('paint')) {
      new PerformanceObserver((l, o) => {
        for (const e of l.getEntries()) {
          if (e.name !== 'first-contentful-paint') continue;
          stats.paintedAt = e.startTime;
          o.disconnect();
        }
      }).observe({ type: 'paint', buffered: true });
    } else {
      requestAnimationFrame(() => requestAnimationFrame(() => (stats.paintedAt = performance.now())));
    }
  }

  function applied(ev, t0, n) {
    stats.events++;
    stats.rowsApplied += n;
    const ms = performance.now() - t0;
    stats.applyMs += ms;
    if (ms > stats.maxApplyMs) stats.maxApplyMs = ms;
    stats.lastLagMs = P.serverNow() - ev.now;
    if (stats.lastLagMs > stats.maxLagMs) stats.maxLagMs = stats.lastLagMs;
  }

  const handlers = {
    snapshot(ev, total = ev.rows.length) {
      const t0 = performance.now();
      P.serverNow(ev.now);
      meta(ev);
      if (total === ev.rows.length) {
        const ids = new Set(ev.rows.map((d) => d.id));
        for (const id of [...rows.keys()]) if (!ids.has(id)) remove(id);
      }
      // New rows are made outside the document, in order, and put in at
      // once: 500 rows written into the page one by one took it twice as long.
      const into = document.createDocumentFragment();
      for (const d of ev.rows) upsert(d, into);
      resort(into);
      tbody.appendChild(into);
      resort();
      stats.snapshotRows = total;
      applyFilter(total);
      updateCompare();
      if (!stats.snapshotAt) {
        Object.assign(stats, { snapshotAt: performance.now(), snapshotApplyMs: performance.now() - t0 });
        markPainted();
      }
      if (rows.size >= total && !stats.allRowsAt) stats.allRowsAt = performance.now();
      applied(ev, t0, ev.rows.length);
      if (rows.size >= total) document.body.dataset.ready = '1';
    },
    rows(ev) {
      const t0 = performance.now();
      P.serverNow(ev.now);
      meta(ev);
      for (const id of ev.removed) remove(id);
      for (const d of ev.rows) upsert(d);
      if (ev.removed.length || ev.rows.length) {
        scheduleSort();
        applyFilter();
        updateCompare();
      }
      applied(ev, t0, ev.rows.length);
    },
  };
  // The list the document came with, drawn first; then the live updates
  // (whose own snapshot on connecting changes what moved meanwhile),
  // connected once that frame is out, so that their snapshot does not hold it up.
  const embedded = document.getElementById('snapshot');
  const live = () => P.events('/api/events', {}, handlers);
  if (embedded && embedded.textContent) {
    const ev = JSON.parse(embedded.textContent);
    embedded.remove();
    // The document carries the first rows of the list (the server's
    // ROWS_IN_PAGE, as the list is first sorted) and how many there are;
    // the live updates' first event brings every row. The rows a screen
    // shows go in first, the others once that frame is out: the first
    // frame's style and layout are then those of one screen of rows, not of
    // every row (bench/web.ts). The live updates connect after that frame
    // too, so that their first event does not hold it up.
    const total = ev.total ?? ev.rows.length;
    const first = Math.ceil(window.innerHeight / 30) + 10;
    const sorted = ev.rows.slice().sort((a, b) => compare({ data: a }, { data: b }));
    stats.firstRows = Math.min(first, sorted.length);
    handlers.snapshot({ ...ev, rows: sorted.slice(0, first) }, total);
    requestAnimationFrame(() =>
      setTimeout(() => {
        if (sorted.length > first) handlers.snapshot({ ...ev, rows: sorted.slice(first) }, total);
        live();
      }),
    );
  } else {
    live();
  }

  for (const th of document.querySelectorAll('th[data-key]')) {
    th.addEventListener('click', () => {
      const key = th.dataset.key;
      if (key === sortKey) sortDir = -sortDir;
      else {
        sortKey = key;
        sortDir = 1;
      }
      for (const h of document.querySelectorAll('th[data-key]')) h.removeAttribute('aria-sort');
      th.setAttribute('aria-sort', sortDir > 0 ? 'ascending' : 'descending');
      resort();
    });
  }
  filterBox.addEventListener('input', () => applyFilter());
  // Ages move on with the clock.
  setInterval(() => {
    for (const r of rows.values()) if (!r.tr.hidden) age(r);
  }, 1000);
})();
