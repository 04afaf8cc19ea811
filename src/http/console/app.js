// OmniTraffick web console. Vanilla ES2020, no dependencies.
// Server text is only ever inserted with textContent / createElement.
'use strict';

(() => {
  const KEY_STORE = 'omnitraffick.key';
  const state = {
    me: null,
    board: null,          // last board response, while the board view is open
    ticketId: null,       // id of the open ticket page
    brands: null, markets: null, channels: null,
    guidelines: new Map(), // brand code -> documents
    docs: new Map(),       // doc id -> {document, pages}
    chat: { brand: '', messages: [] },
    renderSeq: 0,
  };

  // ---------- DOM helpers ----------
  const $ = (sel, root = document) => root.querySelector(sel);

  // el('div', {class: 'x', id: 'y', hidden: true}, 'text', child, ...)
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v === null || v === undefined || v === false) continue;
        if (k === 'class') node.className = v;
        else if (k === 'text') node.textContent = v;
        else if (k === 'dataset') Object.assign(node.dataset, v);
        else if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v);
        else if (v === true) node.setAttribute(k, '');
        else node.setAttribute(k, String(v));
      }
    }
    append(node, children);
    return node;
  }
  function append(node, children) {
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }
  function clear(node) { while (node.firstChild) node.firstChild.remove(); return node; }
  function setContent(node, ...children) { clear(node); return append(node, children); }
  const loading = (what) => el('p', { class: 'muted loading', 'aria-busy': 'true' }, `Loading ${what}…`);
  const pre = (value) => el('pre', { class: 'json' }, typeof value === 'string' ? value : JSON.stringify(value, null, 2));
  const has = (perm) => !!(state.me && Array.isArray(state.me.permissions) && state.me.permissions.includes(perm));
  const announce = (msg) => { const s = $('#status'); s.textContent = ''; setTimeout(() => { s.textContent = msg; }, 30); };

  function fmtTime(iso) {
    if (!iso) return '';
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return String(iso);
    return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  }
  const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;
  const timeEl = (iso) => el('time', { datetime: iso || '' }, fmtTime(iso));
  const STATUS_LABELS = { QA_FAILED: 'QA failed', READY_FOR_API: 'Ready', TRAFFICKED_SUCCESS: 'Trafficked', DEPLOY_FAILED: 'Deploy failed', FIX_PROPOSED: 'Fix proposed', PENDING_REVIEW: 'Pending review' };
  const humanStatus = (s) => STATUS_LABELS[s] || humanize(s);
  const humanize = (s) => (s ? String(s).replace(/_/g, ' ').toLowerCase().replace(/^./, (c) => c.toUpperCase()) : '');
  function statusBadge(status, id) {
    // The exact status code, as the API, CLI and MCP tools name it.
    return el('span', { class: `badge status-${String(status || '').toLowerCase()}`, id, dataset: { status: status || '' }, title: humanStatus(status) }, String(status || ''));
  }
  function dl(pairs) {
    const list = el('dl', { class: 'facts' });
    for (const [k, v] of pairs) {
      if (v === null || v === undefined || v === '') continue;
      list.append(el('div', null, el('dt', null, k), el('dd', null, v)));
    }
    return list;
  }

  // ---------- API ----------
  class ApiError extends Error {
    constructor(status, body, fallback) {
      const e = (body && body.error) || {};
      super(e.message || fallback || `HTTP ${status}`);
      this.status = status;
      this.code = e.code || (status === 0 ? 'NETWORK' : 'HTTP');
      this.field = e.field || null;
      this.body = body;
    }
  }
  const getKey = () => sessionStorage.getItem(KEY_STORE);

  async function api(method, path, body, opts = {}) {
    const headers = { Accept: 'application/json' };
    const key = opts.key || getKey();
    if (key) headers.Authorization = `Bearer ${key}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let res;
    try {
      res = await fetch(path, {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store', credentials: 'omit',
      });
    } catch (err) {
      throw new ApiError(0, null, `Could not reach the server: ${err.message || err}`);
    }
    let data = null;
    const text = await res.text();
    if (text) { try { data = JSON.parse(text); } catch { data = null; } }
    if (!res.ok) {
      const error = new ApiError(res.status, data, text && !data ? text.slice(0, 200) : `The server answered ${res.status}`);
      if (res.status === 401 && !opts.signin) expireSession();
      throw error;
    }
    return data;
  }

  // "message (field: x)" for display.
  function errText(err) {
    if (!err) return '';
    const msg = String(err.message || '');
    const field = err.field && !msg.startsWith(`${err.field}:`) && !msg.includes(`"${err.field}"`) ? ` (field: ${err.field})` : '';
    return `${msg}${field}`;
  }
  function errorBox(err, prefix = '') {
    return el('p', { class: 'error', role: 'alert' }, prefix + errText(err));
  }

  // ---------- Session ----------
  function showSignin(message) {
    stopEvents();
    state.me = null;
    // Forget everything the previous key could see.
    state.brands = state.markets = state.channels = null;
    state.guidelines.clear();
    state.docs.clear();
    state.chat = { brand: '', messages: [], log: [] };
    $('#nav').hidden = true;
    $('#session').hidden = true;
    const who = $('#whoami');
    if (who) who.remove();
    $('#app-view').hidden = true;
    clear($('#app-view'));
    $('#signin-view').hidden = false;
    $('#signin-error').textContent = message || '';
    const input = $('#api-key');
    input.value = '';
    input.focus();
  }

  function expireSession() {
    sessionStorage.removeItem(KEY_STORE);
    if (state.me) showSignin('Your key is no longer accepted; sign in again.');
  }

  async function signIn(key) {
    const me = await api('GET', '/api/v1/me', undefined, { key, signin: true });
    sessionStorage.setItem(KEY_STORE, key);
    state.me = me;
    $('#signin-view').hidden = true;
    $('#app-view').hidden = false;
    $('#session').hidden = false;
    // #whoami exists only while signed in.
    const old = $('#whoami');
    if (old) old.remove();
    $('#signout').before(el('span', { id: 'whoami' }, `${me.name} (${me.role})`));
    const nav = $('#nav');
    nav.hidden = !has('read') && !has('copilot');
    for (const a of nav.querySelectorAll('a[data-nav]')) {
      const need = a.dataset.nav === 'copilot' ? 'copilot' : 'read';
      a.parentElement.hidden = !has(need);
    }
    if (!location.hash || location.hash === '#' || location.hash === '#/') {
      location.hash = has('read') ? '#/board' : has('copilot') ? '#/copilot' : '#/board';
    } else {
      route();
    }
  }

  function initSignin() {
    $('#signin-form').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const input = $('#api-key');
      const key = input.value.trim();
      const errBox = $('#signin-error');
      if (!key) { errBox.textContent = 'Paste your API key into the "API key" field.'; input.focus(); return; }
      const btn = $('#signin-submit');
      btn.disabled = true; btn.textContent = 'Signing in…'; errBox.textContent = '';
      try {
        await signIn(key);
      } catch (err) {
        if (err.status === 401) errBox.textContent = `That key was not accepted: ${err.message}`;
        else if (err.status === 0) errBox.textContent = err.message;
        else errBox.textContent = `Could not reach the server: ${errText(err)}`;
        input.focus();
      } finally {
        btn.disabled = false; btn.textContent = 'Sign in';
      }
    });
    $('#signout').addEventListener('click', () => {
      sessionStorage.removeItem(KEY_STORE);
      history.replaceState(null, '', location.pathname);
      showSignin('You are signed out.');
    });
  }

  // ---------- Router ----------
  function parseHash() {
    const raw = location.hash.replace(/^#/, '');
    const [path, query = ''] = raw.split('?');
    return { parts: path.split('/').filter(Boolean), params: new URLSearchParams(query) };
  }

  function route() {
    if (!state.me) return;
    const { parts, params } = parseHash();
    const view = $('#app-view');
    const seq = ++state.renderSeq;
    state.board = null;
    state.ticketId = null;
    for (const a of document.querySelectorAll('#nav a')) {
      if (a.dataset.nav === (parts[0] || 'board')) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    clear(view);
    const isCurrent = () => seq === state.renderSeq;
    const [first, second, third] = parts;

    if (!has('read') && !has('copilot')) {
      view.append(el('h1', null, 'Nothing here for your key'),
        el('p', null, `Keys with the ${state.me.role} role have no use for the console. Ask an admin for an ops, viewer or admin key to see the board.`));
      return;
    }
    const need = first === 'copilot' || first === 'guidelines' ? 'copilot' : 'read';
    if (!has(need)) {
      view.append(el('h1', null, 'Not available'),
        el('p', null, `Your key (${state.me.role}) does not have the "${need}" permission needed for this page.`));
      return;
    }
    if (has('read')) ensureEvents(first === 'board' || !first ? undefined : null);

    let p;
    switch (first || 'board') {
      case 'board': p = viewBoard(view, params, isCurrent); break;
      case 'tickets': p = viewTicket(view, Number(second), isCurrent); break;
      case 'review':
        if (second === 'fix' || second === 'change') p = viewReviewDetail(view, second, Number(third), isCurrent);
        else p = viewReviewList(view, isCurrent);
        break;
      case 'copilot': p = viewCopilot(view, isCurrent); break;
      case 'guidelines': p = viewGuideline(view, Number(second), Number(third) || 1, isCurrent); break;
      case 'admin': p = viewAdmin(view, isCurrent); break;
      default:
        view.append(el('h1', null, 'Page not found'), el('p', null, el('a', { href: '#/board' }, 'Go to the board')));
    }
    if (p && p.catch) {
      p.catch((err) => {
        if (!isCurrent() || err.status === 401) return;
        view.append(errorBox(err, 'Could not load this page: '));
      });
    }
    const h1 = view.querySelector('h1');
    if (h1 && document.activeElement && document.activeElement.closest('#nav')) {
      h1.tabIndex = -1; h1.focus({ preventScroll: true });
    }
  }

  // ---------- Reference lists (brands, markets, channels) ----------
  async function refList(kind, force) {
    if (!state[kind] || force) {
      const data = await api('GET', `/api/v1/${kind}`);
      state[kind] = data[kind] || [];
    }
    return state[kind];
  }

  // ---------- Board ----------
  async function viewBoard(view, params, isCurrent) {
    const filters = { brand: params.get('brand') || '', market: params.get('market') || '', channel: params.get('channel') || '' };
    const heading = el('div', { class: 'view-head' }, el('h1', null, 'Board'));
    const filterBar = el('form', { class: 'filters', 'aria-label': 'Board filters' });
    const boardEl = el('div', { id: 'board', class: 'board', 'aria-live': 'polite' }, loading('the board'));
    view.append(heading, filterBar, boardEl);
    filterBar.addEventListener('submit', (e) => e.preventDefault());

    const specs = [['brand', 'Brand', 'brands'], ['market', 'Market', 'markets'], ['channel', 'Channel', 'channels']];
    for (const [name, label, kind] of specs) {
      const sel = el('select', { id: `filter-${name}`, name }, el('option', { value: '' }, 'All'));
      if (filters[name]) sel.append(el('option', { value: filters[name], selected: true }, filters[name]));
      sel.addEventListener('change', () => {
        filters[name] = sel.value;
        const q = new URLSearchParams(Object.entries(filters).filter(([, v]) => v)).toString();
        location.hash = `#/board${q ? `?${q}` : ''}`;
      });
      filterBar.append(el('div', { class: 'field' }, el('label', { for: `filter-${name}` }, label), sel));
      refList(kind).then((items) => {
        for (const it of items) {
          if (it.code === filters[name]) continue;
          sel.append(el('option', { value: it.code }, it.archived ? `${it.code} (archived)` : it.code));
        }
      }).catch(() => { /* filters stay "All"; the board still works */ });
    }
    await loadBoard(boardEl, filters, isCurrent);
  }

  async function loadBoard(boardEl, filters, isCurrent, quiet) {
    const q = new URLSearchParams(Object.entries(filters).filter(([, v]) => v)).toString();
    let data;
    try {
      data = await api('GET', `/api/v1/board${q ? `?${q}` : ''}`);
    } catch (err) {
      if (quiet && err.status !== 401) { announce(`The board could not refresh: ${errText(err)}`); return; }
      if (isCurrent()) setContent(boardEl, errorBox(err, 'Could not load the board: '));
      if (err.status !== 401) ensureEvents(null);
      return;
    }
    if (!isCurrent()) return;
    state.board = { data, filters, el: boardEl, isCurrent };
    const focused = document.activeElement && document.activeElement.closest && document.activeElement.closest('article.card');
    renderBoard(boardEl, data);
    if (focused) {
      const link = boardEl.querySelector(`article.card[data-ticket-id="${Number(focused.dataset.ticketId)}"] a`);
      if (link) link.focus();
    }
    ensureEvents(data.last_event_id);
  }

  function renderBoard(boardEl, data) {
    clear(boardEl);
    const byCol = new Map();
    for (const col of data.columns || []) byCol.set(col.id, []);
    for (const card of data.cards || []) {
      if (byCol.has(card.column)) byCol.get(card.column).push(card);
    }
    for (const col of data.columns || []) {
      const cards = byCol.get(col.id);
      const list = el('ol', { class: 'cards' });
      for (const c of cards) list.append(el('li', null, cardEl(c)));
      const count = el('span', { class: 'count' }, String(cards.length));
      const section = el('section', { class: 'column', dataset: { column: col.id }, 'aria-labelledby': `col-${col.id}` },
        el('h2', { id: `col-${col.id}` }, col.title, ' ', count),
        list,
        el('p', { class: 'muted empty' }, 'No tickets.'));
      boardEl.append(section);
    }
    if (data.truncated) {
      boardEl.after(el('p', { class: 'note', id: 'board-truncated' }, 'Only the newest tickets are shown. Filter by brand, market or channel to see the rest.'));
    } else {
      const t = $('#board-truncated'); if (t) t.remove();
    }
  }

  function cardEl(c) {
    return el('article', { class: 'card', dataset: { ticketId: c.id } },
      el('h3', null, el('a', { href: `#/tickets/${c.id}` }, c.platform_name || `Ticket ${c.id}`)),
      el('p', { class: 'card-status' }, statusBadge(c.status)),
      el('p', { class: 'muted' }, [c.campaign_name, [c.brand_code, c.market_code, c.channel_code].filter(Boolean).join(' · ')].filter(Boolean).join(' — ')),
      el('p', { class: 'muted small' }, `#${c.id} · updated `, timeEl(c.updated_at)));
  }

  function updateCount(section) {
    const n = section.querySelectorAll('article.card').length;
    const c = section.querySelector('.count'); if (c) c.textContent = String(n);
  }

  let boardRefetchTimer = null;
  function scheduleBoardRefetch() {
    clearTimeout(boardRefetchTimer);
    boardRefetchTimer = setTimeout(() => {
      const cur = state.board;
      if (cur && cur.isCurrent()) loadBoard(cur.el, cur.filters, cur.isCurrent, true);
    }, 300);
  }
  function onTicketEvent(ev) {
    const b = state.board;
    if (b && b.isCurrent()) {
      const card = b.el.querySelector(`article.card[data-ticket-id="${Number(ev.ticket_id)}"]`);
      if (card) {
        const from = card.closest('section.column');
        const to = ev.column ? b.el.querySelector(`section.column[data-column="${CSS.escape(String(ev.column))}"]`) : null;
        if (ev.to_status) {
          const badge = card.querySelector('.card-status');
          if (badge) setContent(badge, statusBadge(ev.to_status));
        }
        const t = card.querySelector('time');
        if (t && ev.at) { t.dateTime = ev.at; t.textContent = fmtTime(ev.at); }
        const li = card.parentElement;
        if (!to) {
          li.remove();
        } else if (to !== from) {
          to.querySelector('ol.cards').prepend(li);
        }
        if (from) updateCount(from);
        if (to) updateCount(to);
        card.classList.remove('flash');
        void card.offsetWidth; // restart the animation
        card.classList.add('flash');
        setTimeout(() => card.classList.remove('flash'), 2000);
        announce(`Ticket ${ev.ticket_id} is now ${ev.to_status}.`);
        // A rename or edit changes what the card shows: reload the board quietly.
        if (ev.event === 'RENAMED' || ev.event === 'EDITED') scheduleBoardRefetch();
      } else if (ev.column && (b.data.columns || []).some((c) => c.id === ev.column)
        // A full board shows only the newest tickets: a change to an older one would not
        // appear after a reload either, so only a new ticket is worth one.
        && (!b.data.truncated || ev.event === 'CREATED')) {
        scheduleBoardRefetch();
      }
    }
    if (state.ticketId && Number(ev.ticket_id) === state.ticketId && state.ticketRefresh) state.ticketRefresh();
  }

  // ---------- Server-sent events over fetch ----------
  const sse = { ctrl: null, lastId: null, running: false, backoff: 1000, timer: null };

  function setLive(text, ok) {
    const s = $('#live-status');
    s.textContent = text;
    s.classList.toggle('ok', !!ok);
  }

  // lastId: a number to start from if not yet running; undefined = wait for the board to give it.
  function ensureEvents(lastId) {
    if (sse.running) return;
    if (lastId === undefined) return; // the board view calls again with its last_event_id
    sse.running = true;
    sse.lastId = lastId === null ? null : String(lastId);
    sse.backoff = 1000;
    connectEvents();
  }

  function stopEvents() {
    sse.running = false;
    clearTimeout(sse.timer);
    if (sse.ctrl) sse.ctrl.abort();
    sse.ctrl = null;
    setLive('Offline', false);
  }

  async function connectEvents() {
    if (!sse.running) return;
    const key = getKey();
    if (!key) { stopEvents(); return; }
    const ctrl = new AbortController();
    sse.ctrl = ctrl;
    const headers = { Accept: 'text/event-stream', Authorization: `Bearer ${key}` };
    if (sse.lastId) headers['Last-Event-ID'] = sse.lastId;
    try {
      const res = await fetch('/api/v1/events', { headers, signal: ctrl.signal, cache: 'no-store', credentials: 'omit' });
      if (res.status === 401) { expireSession(); return; }
      // A refused Last-Event-ID: start again from now (the board refetch below catches up).
      if (res.status === 400 || res.status === 422) { sse.lastId = null; scheduleBoardRefetch(); }
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
      setLive('Live', true);
      sse.backoff = 1000;
      await readStream(res.body.getReader(), ctrl);
    } catch (err) {
      if (ctrl.signal.aborted && !ctrl.idle) return;
    }
    if (!sse.running || (ctrl.signal.aborted && !ctrl.idle)) return;
    setLive('Reconnecting…', false);
    const wait = sse.backoff;
    sse.backoff = Math.min(sse.backoff * 2, 15000);
    sse.timer = setTimeout(connectEvents, wait);
  }

  async function readStream(reader, ctrl) {
    const decoder = new TextDecoder();
    let buf = '';
    let frame = { id: null, event: '', data: [] };
    // The server sends a keep-alive every 15 s: 45 s of silence means the line is dead.
    let idle = null;
    const arm = () => {
      clearTimeout(idle);
      idle = setTimeout(() => { ctrl.idle = true; ctrl.abort(); }, 45000);
    };
    arm();
    for (;;) {
      let chunk;
      try { chunk = await reader.read(); } finally { clearTimeout(idle); }
      const { value, done } = chunk;
      if (done) break;
      arm();
      buf += decoder.decode(value, { stream: true });
      let m;
      while ((m = /\r\n|\r|\n/.exec(buf))) {
        // A lone \r at the end may be the first half of \r\n: wait for more.
        if (m[0] === '\r' && m.index === buf.length - 1) break;
        const line = buf.slice(0, m.index);
        buf = buf.slice(m.index + m[0].length);
        if (line === '') { dispatchFrame(frame); frame = { id: null, event: '', data: [] }; continue; }
        if (line.startsWith(':')) continue; // comment / keep-alive
        const colon = line.indexOf(':');
        const field = colon === -1 ? line : line.slice(0, colon);
        let val = colon === -1 ? '' : line.slice(colon + 1);
        if (val.startsWith(' ')) val = val.slice(1);
        if (field === 'id') { if (!val.includes('\0')) frame.id = val; }
        else if (field === 'event') frame.event = val;
        else if (field === 'data') frame.data.push(val);
        else if (field === 'retry') { const n = Number(val); if (n > 0) sse.backoff = Math.min(n, 15000); }
      }
    }
  }

  function dispatchFrame(frame) {
    if (frame.id !== null) sse.lastId = frame.id;
    if (!frame.data.length) return;
    let data;
    try { data = JSON.parse(frame.data.join('\n')); } catch { return; }
    const type = frame.event || 'message';
    if (type === 'resync' && data && data.last_event_id !== undefined) sse.lastId = String(data.last_event_id);
    // The stream's first frame when it started without an id: nothing to show.
    if (type === 'ready') return;
    if (data && data.ticket_id !== undefined) onTicketEvent(data);
    else if (type !== 'message' && state.board && state.board.isCurrent()) {
      // Unknown kind of event (e.g. the server says we missed too much): refetch.
      const cur = state.board;
      loadBoard(cur.el, cur.filters, cur.isCurrent);
    }
  }

  // A platform error (parsed JSON or text) as one readable line.
  function platformErrorText(e) {
    if (e === null || e === undefined) return '';
    if (typeof e !== 'object') return String(e);
    const parts = [e.user_title, e.user_message || e.error_user_msg, e.message].filter(Boolean);
    const uniq = parts.filter((p, i) => parts.indexOf(p) === i);
    const code = [e.code, e.subcode].filter((c) => c !== undefined && c !== null && c !== '').join('/');
    const text = uniq.join(' — ') || JSON.stringify(e);
    return code ? `${text} (${e.platform ? `${e.platform} ` : ''}code ${code})` : text;
  }

  // ---------- QA report ----------
  function qaReport(report) {
    if (report === null || report === undefined) return el('p', { class: 'muted' }, 'QA has not run yet.');
    if (typeof report !== 'object') return pre(report);
    const wrap = el('div');
    const results = Array.isArray(report.results) ? report.results : null;
    const outcome = report.outcome || '';
    if (outcome) {
      const label = { pass: 'Passed', warn: 'Passed with warnings', block: 'Blocked' }[outcome] || humanStatus(outcome);
      wrap.append(el('p', null, el('span', { class: `badge qa-${outcome}` }, label),
        report.blocking !== undefined ? ` ${report.blocking} blocking, ${plural(report.warnings || 0, 'warning')}` : '',
        report.ran_at ? ' · ran ' : '', report.ran_at ? timeEl(report.ran_at) : ''));
    }
    if (!results) { wrap.append(pre(report)); return wrap; }
    const shown = results.filter((r) => r.outcome !== 'pass');
    if (!shown.length) { wrap.append(el('p', null, `All ${results.length} checks passed.`)); return wrap; }
    const list = el('ul', { class: 'issues' });
    for (const r of shown) {
      const sev = String(r.outcome || '').toLowerCase();
      const path = r.path;
      list.append(el('li', { class: `issue qa-${sev}` },
        el('span', { class: `badge qa-${sev}` }, sev === 'block' ? 'Blocks' : sev === 'warn' ? 'Warning' : humanStatus(sev)), ' ',
        path ? el('code', null, path) : '', path ? ': ' : '',
        r.message || '',
        r.rule_id ? el('span', { class: 'muted small' }, ` (${r.rule_id})`) : ''));
    }
    wrap.append(list);
    const passed = results.length - shown.length;
    if (passed) wrap.append(el('p', { class: 'muted small' }, `${plural(passed, 'other check')} passed.`));
    return wrap;
  }

  function section(id, title, ...body) {
    return el('section', { id, class: 'panel', 'aria-labelledby': `${id}-h` }, el('h2', { id: `${id}-h` }, title), ...body);
  }

  // ---------- Ticket page ----------
  async function viewTicket(view, id, isCurrent) {
    if (!Number.isInteger(id) || id <= 0) { view.append(el('h1', null, 'No such ticket')); return; }
    const root = el('article', { id: 'ticket' },
      el('p', { class: 'crumbs' }, el('a', { href: '#/board' }, '← Board')),
      el('h1', { id: 'ticket-name' }, `Ticket ${id}`),
      el('p', null, 'Status: ', el('span', { id: 'ticket-status' }, '…')),
      el('div', { id: 'ticket-facts' }, loading('the ticket')));
    const qa = section('qa-report', 'QA report', loading('QA'));
    const payloads = section('payloads', 'Platform requests', loading('payloads'));
    const deploys = section('deploys', 'Deploys', loading('deploys'));
    const pacing = section('pacing', 'Pacing', loading('pacing'));
    const insights = section('insights', 'Insights', loading('insights'));
    const review = has('copilot') ? section('guideline-review', 'Guideline review') : null;
    const historyEl = section('ticket-history', 'History', loading('history'));
    append(root, [qa, payloads, deploys, pacing, insights, review, historyEl]);
    view.append(root);
    state.ticketId = id;

    if (review) {
      const out = el('div', { 'aria-live': 'polite' });
      const btn = el('button', { type: 'button', id: 'guideline-review-run' }, 'Review against guidelines');
      btn.addEventListener('click', async () => {
        btn.disabled = true;
        setContent(out, loading('the review (this can take a while)'));
        try {
          const r = await api('POST', `/api/v1/tickets/${id}/guideline-review`, {});
          setContent(out, guidelineFindings(r));
        } catch (err) {
          setContent(out, errorBox(err, 'The review did not run: '));
        } finally { btn.disabled = false; }
      });
      review.append(el('p', null, 'Checks this ticket against the brand\'s guideline documents.'), btn, out);
    }

    const loadAll = async () => {
      const t = await api('GET', `/api/v1/tickets/${id}`);
      if (!isCurrent()) return;
      renderTicket(root, t);
      const sub = [
        api('GET', `/api/v1/tickets/${id}/payloads`).then((p) => renderPayloads(payloads, p), (e) => sectionError(payloads, e, 'No payloads: ')),
        api('GET', `/api/v1/tickets/${id}/deploys`).then((d) => renderDeploys(deploys, d), (e) => sectionError(deploys, e, 'No deploy information: ')),
        api('GET', `/api/v1/tickets/${id}/pacing`).then((p) => renderPacing(pacing, p), (e) => sectionError(pacing, e, 'No pacing yet: ')),
        api('GET', `/api/v1/tickets/${id}/insights`).then((r) => renderInsights(insights, r), (e) => sectionError(insights, e, 'No insights yet: ')),
      ];
      await Promise.all(sub);
    };
    let pending = null;
    state.ticketRefresh = () => {
      clearTimeout(pending);
      pending = setTimeout(() => { if (isCurrent()) loadAll().catch(() => {}); }, 300);
    };
    try {
      await loadAll();
    } catch (err) {
      if (!isCurrent()) return;
      if (err.status === 401) return;
      if (err.status === 404) $('#ticket-name', root).textContent = `Ticket ${id} not found`;
      $('#ticket-status', root).parentElement.remove();
      setContent($('#ticket-facts', root), errorBox(err, err.status === 404 ? '' : 'Could not load the ticket: '));
      for (const s of [qa, payloads, deploys, pacing, insights, review, historyEl]) if (s) s.remove();
      state.ticketRefresh = null;
    }
  }

  function sectionError(sec, err, prefix) {
    if (err.status === 401) return;
    const h = sec.querySelector('h2');
    clear(sec).append(h, el('p', { class: err.status >= 500 || err.status === 0 ? 'error' : 'note' }, prefix + errText(err)));
  }

  function renderTicket(root, t) {
    $('#ticket-name', root).textContent = t.platform_name || `Ticket ${t.id}`;
    setContent($('#ticket-status', root), statusBadge(t.status));
    setContent($('#ticket-facts', root),
      dl([
        ['Ticket', `#${t.id} · version ${t.version}`],
        ['Campaign', t.campaign_id !== undefined ? `#${t.campaign_id}` : ''],
        ['Channel', [t.channel_code, t.platform].filter(Boolean).join(' · ')],
        ['Request', humanStatus(t.request_type)],
        ['Created', timeEl(t.created_at)],
        ['Updated', timeEl(t.updated_at)],
      ]),
      el('details', null, el('summary', null, 'Campaign spec (payload_config)'), pre(t.payload_config)),
      t.external_ids && Object.keys(t.external_ids).length
        ? el('details', null, el('summary', null, 'Platform object ids'), pre(t.external_ids)) : '',
      t.live_state ? el('details', null, el('summary', null, 'Live state on the platform'), pre(t.live_state)) : '');
    const qa = $('#qa-report', root);
    setContent(qa, qa.querySelector('h2'), qaReport(t.qa_report));
    const hist = $('#ticket-history', root);
    const h2 = hist.querySelector('h2');
    const items = (t.history || []).slice().reverse();
    if (!items.length) { setContent(hist, h2, el('p', { class: 'muted' }, 'No history yet.')); return; }
    const list = el('ol', { class: 'timeline' });
    for (const h of items) {
      list.append(el('li', null,
        timeEl(h.at), ' ',
        el('strong', null, humanStatus(h.event)), ' ',
        h.from_status ? `${h.from_status} → ${h.to_status}` : h.to_status,
        ` by ${h.actor}`,
        h.detail ? el('div', { class: 'muted small' }, h.detail) : ''));
    }
    setContent(hist, h2, list);
  }

  function renderPayloads(sec, p) {
    const h = sec.querySelector('h2');
    clear(sec).append(h);
    const reqs = p && Array.isArray(p.requests) ? p.requests : null;
    if (!reqs) { sec.append(pre(p)); return; }
    sec.append(el('p', { class: 'muted' }, `${p.platform || ''} API ${p.api_version || ''} · ${reqs.length} request${reqs.length === 1 ? '' : 's'}, sent in this order`));
    reqs.forEach((r, i) => {
      sec.append(el('div', { class: 'request' },
        el('h3', null, `${i + 1}. ${r.object || 'request'}`),
        el('p', null, el('code', null, `${r.method || ''} ${r.path || r.url || ''}`)),
        el('details', null, el('summary', null, `Request body (${r.object || 'request'})`), pre(r.body))));
    });
  }

  function renderDeploys(sec, d) {
    const h = sec.querySelector('h2');
    clear(sec).append(h);
    if (!d || typeof d !== 'object') { sec.append(pre(d)); return; }
    sec.append(dl([
      ['Ticket status', d.ticket_status ? statusBadge(d.ticket_status) : ''],
      ['Attempts', String(d.attempt_count ?? '')],
      ['Next retry', d.next_retry_at ? timeEl(d.next_retry_at) : ''],
      ['Deploy run', d.run ? [d.run.id !== undefined ? `#${d.run.id}` : '', humanStatus(d.run.state || d.run.status)].filter(Boolean).join(' · ') : ''],
    ]));
    if (d.last_error) {
      sec.append(el('div', { class: 'note' }, el('strong', null, 'Last error: '), platformErrorText(d.last_error),
        typeof d.last_error === 'object' ? el('details', null, el('summary', null, 'Full error'), pre(d.last_error)) : ''));
    }
    const attempts = Array.isArray(d.attempts) ? d.attempts : [];
    if (!attempts.length) { sec.append(el('p', { class: 'muted' }, 'Not deployed yet.')); return; }
    const tbody = el('tbody');
    for (const a of attempts) {
      const err = platformErrorText(a.error || a.error_message);
      tbody.append(el('tr', null,
        el('td', null, a.run_id !== undefined ? `#${a.run_id}` : ''),
        el('td', null, timeEl(a.started_at || a.at || a.created_at)),
        el('td', null, a.object || ''),
        el('td', null, [a.action, a.outcome || a.status].filter(Boolean).join(': ')),
        el('td', null, String(err))));
    }
    sec.append(el('div', { class: 'table-wrap' }, el('table', null,
      el('caption', { class: 'visually-hidden' }, 'Deploy attempts'),
      el('thead', null, el('tr', null, ['Run', 'Time', 'Object', 'Outcome', 'Platform error'].map((c) => el('th', { scope: 'col' }, c)))),
      tbody)));
  }

  function renderPacing(sec, p) {
    const h = sec.querySelector('h2');
    clear(sec).append(h);
    if (!p || typeof p !== 'object') { sec.append(pre(p)); return; }
    if (p.summary) sec.append(el('p', null, p.summary));
    sec.append(dl([
      ['Verdict', p.verdict ? el('span', { class: `badge verdict-${String(p.verdict).toLowerCase()}` }, humanStatus(p.verdict)) : ''],
      ['Planned to date', p.planned_to_date ? `${p.planned_to_date} ${p.currency || ''}` : ''],
      ['Actual to date', p.actual_to_date ? `${p.actual_to_date} ${p.currency || ''}` : ''],
      ['Pace', p.pace_percent ? `${p.pace_percent}%` : ''],
      ['Projected end spend', p.projected_end_spend ? `${p.projected_end_spend} ${p.currency || ''}` : ''],
    ]));
    const reasons = Array.isArray(p.reasons) ? p.reasons : [];
    if (reasons.length) {
      // Each reason names the object and the platform field it was read from.
      sec.append(el('ul', null, reasons.map((r) => el('li', null,
        el('strong', null, `${humanStatus(r.code)}: `), r.detail, ' ',
        el('code', null, `${r.object}.${r.field}`),
        r.suggestion ? el('span', { class: 'muted small' }, ` — ${r.suggestion}`) : ''))));
    }
    if (Array.isArray(p.skipped) && p.skipped.length) sec.append(el('p', { class: 'muted small' }, `Skipped: ${p.skipped.join('; ')}`));
  }

  // Daily metrics as of the last sync; money is the server's exact decimal text.
  function renderInsights(sec, r) {
    const h = sec.querySelector('h2');
    clear(sec).append(h);
    if (!r || typeof r !== 'object') { sec.append(pre(r)); return; }
    if (r.summary) sec.append(el('p', null, r.summary));
    const cur = r.currency || '';
    const t = r.totals || {};
    sec.append(dl([
      ['Spend', t.spend != null ? `${t.spend} ${cur}` : ''],
      ['Impressions', t.impressions != null ? String(t.impressions) : ''],
      ['Clicks', t.clicks != null ? String(t.clicks) : ''],
      ['Conversions', t.conversions != null ? String(t.conversions) : ''],
      ['CTR', t.ctr_percent ? `${t.ctr_percent}%` : ''],
    ]));
    const groups = Array.isArray(r.groups) ? r.groups : [];
    if (!groups.length) return;
    const head = el('tr', null, ['Day', `Spend (${cur})`, 'Impressions', 'Clicks', 'Conversions']
      .map((c) => el('th', { scope: 'col' }, c)));
    const rows = groups.map((g) => {
      const m = g.metrics || {};
      return el('tr', null, [g.key, m.spend, m.impressions, m.clicks, m.conversions]
        .map((v) => el('td', null, v == null ? '' : String(v))));
    });
    sec.append(el('div', { class: 'table-wrap' }, el('table', null,
      el('caption', { class: 'muted small' }, `${r.from} to ${r.to}`),
      el('thead', null, head), el('tbody', null, rows))));
  }

  function guidelineFindings(r) {
    const wrap = el('div');
    if (r.note) wrap.append(el('p', { class: 'note' }, r.note));
    const findings = Array.isArray(r.findings) ? r.findings : [];
    if (!findings.length) { wrap.append(el('p', null, 'No findings: nothing in the guidelines flags this ticket.')); return wrap; }
    const list = el('ul', { class: 'findings' });
    for (const f of findings) {
      const sev = String(f.severity || '').toUpperCase();
      list.append(el('li', { class: `finding sev-${sev.toLowerCase()}` },
        el('span', { class: `badge sev-${sev.toLowerCase()}` }, sev === 'VIOLATION' ? 'Violation' : sev === 'CHECK' ? 'Check' : humanStatus(sev)), ' ',
        el('strong', null, f.rule || ''),
        f.advice ? el('p', null, 'What to change: ', f.advice) : '',
        f.citation ? el('p', { class: 'muted small' }, 'Source: ', f.citation) : ''));
    }
    wrap.append(list, el('p', { class: 'muted small' }, `Mode: ${r.mode || ''} · retrieval: ${r.retrieval || ''}`));
    return wrap;
  }

  // ---------- Review queue ----------
  async function viewReviewList(view, isCurrent) {
    const listEl = el('div', { id: 'review-list', 'aria-live': 'polite' }, loading('the review queue'));
    view.append(el('h1', null, 'Review queue'),
      has('review') ? '' : el('p', { class: 'note' }, 'Your key can look but not decide: approving and rejecting need the "review" permission.'),
      listEl);
    const [fixes, changes] = await Promise.allSettled([
      api('GET', '/api/v1/fixes?status=PENDING_REVIEW'),
      api('GET', '/api/v1/changes?status=PENDING_REVIEW'),
    ]);
    if (!isCurrent()) return;
    clear(listEl);

    const fixSec = section('fixes', 'Fix proposals');
    if (fixes.status === 'rejected') fixSec.append(errorBox(fixes.reason, 'Could not load fix proposals: '));
    else {
      const items = fixes.value.proposals || [];
      if (!items.length) fixSec.append(el('p', { class: 'empty-state' }, 'No fix proposals are waiting for review.'));
      else fixSec.append(el('ul', { class: 'review-items' }, items.map((f) => el('li', null,
        el('a', { class: 'review-item', href: `#/review/fix/${f.id}`, dataset: { fixId: f.id } },
          el('span', { class: 'item-title' }, `Fix #${f.id} for ticket #${f.ticket_id}`),
          riskBadge(f.risk),
          el('span', { class: 'muted small' }, f.rationale || f.error_key || ''),
          el('span', { class: 'muted small' }, `by ${f.created_by || f.source || ''} · `, timeEl(f.created_at)))))));
      if (fixes.value.next_before_id) fixSec.append(el('p', { class: 'muted small' }, 'More proposals are waiting; decide these first to see the rest.'));
    }

    const chSec = section('changes', 'Changes to live campaigns');
    if (changes.status === 'rejected') chSec.append(errorBox(changes.reason, 'Could not load changes: '));
    else {
      const items = changes.value.changes || [];
      if (!items.length) chSec.append(el('p', { class: 'empty-state' }, 'No changes to live campaigns are waiting for review.'));
      else chSec.append(el('ul', { class: 'review-items' }, items.map((c) => el('li', null,
        el('a', { class: 'review-item', href: `#/review/change/${c.id}`, dataset: { changeId: c.id } },
          el('span', { class: 'item-title' }, `${humanStatus(c.kind)} #${c.id} on ticket #${c.ticket_id}`),
          riskBadge(c.risk),
          el('span', { class: 'muted small' }, c.reason || ''),
          el('span', { class: 'muted small' }, `by ${c.requested_by || ''} · `, timeEl(c.created_at)))))));
      if (changes.value.next_before_id) chSec.append(el('p', { class: 'muted small' }, 'More changes are waiting; decide these first to see the rest.'));
    }
    listEl.append(fixSec, chSec);
  }

  function riskBadge(risk, id) {
    const r = String(risk || 'UNKNOWN');
    const label = { SAFE: 'spends no more, reaches no one new', SPEND_INCREASE: 'may spend more', TARGETING_WIDENING: 'reaches new people', CREATIVE_CHANGE: 'changes what people see' }[r] || humanStatus(r);
    return el('span', { class: `badge risk risk-${r.toLowerCase().replace(/_/g, '-')}`, id, title: label, dataset: { risk: r } }, `Risk: ${r}`);
  }

  // One diff line -> {op, text}
  function diffLines(item) {
    const out = [];
    const d = item.diff;
    if (!Array.isArray(d)) return out;
    for (const line of d) {
      if (typeof line === 'string') {
        const m = /^(add|remove|replace|move|copy|test)\b/.exec(line);
        out.push({ op: m ? m[1] : 'replace', text: line });
      } else if (line && typeof line === 'object') {
        const path = line.path || line.field || '';
        const b = line.before, a = line.after;
        const show = (v) => JSON.stringify(v);
        if (b === undefined || b === null) out.push({ op: 'add', text: `add ${path}: ${show(a)}` });
        else if (a === undefined || a === null) out.push({ op: 'remove', text: `remove ${path} (was ${show(b)})` });
        else out.push({ op: 'replace', text: `replace ${path}: ${show(b)} -> ${show(a)}` });
      }
    }
    return out;
  }

  async function viewReviewDetail(view, kind, id, isCurrent) {
    const base = kind === 'fix' ? 'fixes' : 'changes';
    const root = el('article', { id: 'review-detail' },
      el('p', { class: 'crumbs' }, el('a', { href: '#/review' }, '← Review queue')),
      el('h1', null, kind === 'fix' ? `Fix proposal #${id}` : `Change #${id}`));
    const body = el('div', { class: 'detail-body' }, loading('the details'));
    root.append(body);
    let decision = null;
    const result = el('p', { id: 'decision-result', role: 'status', class: 'result' });
    const errorEl = el('p', { id: 'decision-error', role: 'alert', class: 'error' });
    if (has('review')) {
      const reason = el('textarea', { id: 'decision-reason', rows: '3', 'aria-describedby': 'decision-hint' });
      const approve = el('button', { type: 'button', id: 'approve' }, 'Approve');
      const reject = el('button', { type: 'button', id: 'reject', class: 'danger' }, 'Reject');
      decision = section('decision', 'Decision',
        el('label', { for: 'decision-reason' }, 'Reason'),
        el('p', { id: 'decision-hint', class: 'muted small' }, 'Optional when approving; required when rejecting.'),
        reason,
        el('div', { class: 'actions' }, approve, reject),
        result, errorEl);
      const decide = async (verb) => {
        errorEl.textContent = ''; result.textContent = '';
        const text = reason.value.trim();
        if (verb === 'reject' && !text) {
          errorEl.textContent = 'Write a reason in the "Reason" box before rejecting: it tells the requester what to fix.';
          reason.focus();
          return;
        }
        approve.disabled = reject.disabled = true;
        const label = verb === 'approve' ? 'Approving…' : 'Rejecting…';
        result.textContent = label;
        try {
          const out = await api('POST', `/api/v1/${base}/${id}/${verb}`, text ? { reason: text } : {});
          result.textContent = out && out.message ? out.message : (verb === 'approve' ? 'Approved.' : 'Rejected.');
          reason.value = '';
        } catch (err) {
          result.textContent = '';
          if (err.status === 401) return;
          errorEl.textContent = err.status === 409 ? `Not applied: ${errText(err)}` : errText(err);
        } finally {
          approve.disabled = reject.disabled = false;
        }
        if (isCurrent()) await load().catch(() => {});
      };
      approve.addEventListener('click', () => decide('approve'));
      reject.addEventListener('click', () => decide('reject'));
    }
    view.append(root);

    const load = async () => {
      const item = await api('GET', `/api/v1/${base}/${id}`);
      if (!isCurrent()) return;
      renderReviewItem(body, kind, item);
      if (decision && !decision.isConnected) root.append(decision);
      if (decision) {
        const pending = item.status === 'PENDING_REVIEW';
        let note = decision.querySelector('.state-note');
        if (!note) { note = el('p', { class: 'note state-note' }); decision.querySelector('h2').after(note); }
        note.textContent = pending ? '' : `This item is ${humanStatus(item.status).toLowerCase()}; it is no longer waiting for a decision.`;
        note.hidden = pending;
      }
    };
    try {
      await load();
    } catch (err) {
      if (isCurrent()) setContent(body, errorBox(err, err.status === 404 ? '' : 'Could not load this item: '));
    }
  }

  function renderReviewItem(body, kind, it) {
    clear(body);
    const facts = kind === 'fix'
      ? [
        ['Status', statusBadge(it.status)],
        ['Ticket', el('a', { href: `#/tickets/${it.ticket_id}` }, `#${it.ticket_id}`)],
        ['Platform error', it.error_key || ''],
        ['Proposed by', [it.source, it.created_by].filter(Boolean).join(' · ')],
        ['Created', timeEl(it.created_at)],
      ]
      : [
        ['Status', statusBadge(it.status)],
        ['Kind', humanStatus(it.kind)],
        ['Ticket', el('a', { href: `#/tickets/${it.ticket_id}` }, it.ticket_name ? `${it.ticket_name} (#${it.ticket_id})` : `#${it.ticket_id}`)],
        ['Platform', [it.platform, it.account_id].filter(Boolean).join(' · account ')],
        ['Daily spend', it.daily_before || it.daily_after ? `${it.daily_before ?? '—'} → ${it.daily_after ?? '—'} ${it.currency || ''}` : ''],
        ['Requested by', it.requested_by || ''],
        ['Created', timeEl(it.created_at)],
      ];
    body.append(el('p', null, riskBadge(it.risk, 'risk-badge')), dl(facts));
    if (it.damaged) body.append(el('p', { class: 'error' }, `Part of this record could not be read (${it.damaged}); it can be rejected but not approved.`));
    if (kind === 'fix' && it.rationale) body.append(el('p', null, el('strong', null, 'Why: '), it.rationale));
    if (kind === 'change' && it.reason) body.append(el('p', null, el('strong', null, 'Reason: '), it.reason));
    if (kind === 'fix' && it.error) {
      body.append(el('p', null, el('strong', null, 'The platform said: '), platformErrorText(it.error)),
        typeof it.error === 'object' ? el('details', null, el('summary', null, 'Full platform error'), pre(it.error)) : '');
    }
    if (kind === 'change' && it.last_error) body.append(el('p', { class: 'note' }, el('strong', null, 'Last error: '), platformErrorText(it.last_error)));

    const lines = diffLines(it);
    const diffSec = section('diff-section', 'What changes');
    if (!lines.length) diffSec.append(el('p', { class: 'muted' }, 'No field changes (the spec stays the same).'));
    else {
      const ul = el('ul', { class: 'diff' });
      for (const l of lines) {
        const label = { add: 'Added', remove: 'Removed', replace: 'Changed' }[l.op] || humanStatus(l.op);
        ul.append(el('li', { class: `diff-${l.op}` }, el('span', { class: 'diff-op' }, label), ' ', el('code', null, l.text)));
      }
      diffSec.append(ul);
    }
    diffSec.append(
      el('details', null, el('summary', null, 'Spec before'), pre(it.payload_before)),
      el('details', null, el('summary', null, 'Spec after'), pre(it.payload_after)));
    body.append(diffSec, section('review-qa', 'QA of the result', qaReport(it.qa_report)));

    const audit = Array.isArray(it.audit) ? it.audit : [];
    const auditSec = section('audit', 'Audit trail');
    if (!audit.length) auditSec.append(el('p', { class: 'muted' }, 'Nothing recorded yet.'));
    else auditSec.append(el('ol', { class: 'timeline' }, audit.map((a) => el('li', null,
      timeEl(a.at), ' ', el('strong', null, humanStatus(a.action)), ` by ${a.actor}`,
      a.detail ? el('div', { class: 'muted small' }, a.detail) : ''))));
    body.append(auditSec);
  }

  // ---------- Copilot ----------
  async function guidelineDocs(brand) {
    if (!state.guidelines.has(brand)) {
      const data = await api('GET', `/api/v1/guidelines?brand=${encodeURIComponent(brand)}`);
      state.guidelines.set(brand, data.documents || []);
    }
    return state.guidelines.get(brand);
  }

  async function viewCopilot(view, isCurrent) {
    const brandSel = el('select', { id: 'copilot-brand', name: 'brand' });
    const question = el('textarea', { id: 'copilot-question', rows: '3', 'aria-describedby': 'copilot-hint' });
    const ask = el('button', { type: 'submit', id: 'copilot-ask' }, 'Ask');
    const clearBtn = el('button', { type: 'button', class: 'secondary', id: 'copilot-clear' }, 'New conversation');
    const log = el('div', { id: 'copilot-log', 'aria-live': 'polite' });
    const err = el('p', { class: 'error', role: 'alert', id: 'copilot-error' });
    const form = el('form', { class: 'copilot-form' },
      el('div', { class: 'field' }, el('label', { for: 'copilot-brand' }, 'Brand'), brandSel),
      el('div', { class: 'field grow' }, el('label', { for: 'copilot-question' }, 'Question'), question,
        el('p', { id: 'copilot-hint', class: 'muted small' }, 'Ask about the brand\'s guidelines. Ctrl+Enter sends.')),
      el('div', { class: 'actions' }, ask, clearBtn), err);
    view.append(el('h1', null, 'Guidelines copilot'), form,
      el('h2', { class: 'visually-hidden' }, 'Conversation'), log);

    const renderLog = () => {
      clear(log);
      if (!state.chat.messages.length) log.append(el('p', { class: 'muted empty-state' }, 'Answers cite the brand\'s guideline pages. Ask a question to start.'));
      for (const entry of state.chat.log || []) log.append(entry);
    };
    if (state.chat.brand) brandSel.append(el('option', { value: state.chat.brand }, state.chat.brand));
    renderLog();

    try {
      const brands = (await refList('brands')).filter((b) => !b.archived);
      if (!isCurrent()) return;
      clear(brandSel);
      if (!brands.length) brandSel.append(el('option', { value: '' }, 'No brands available'));
      for (const b of brands) brandSel.append(el('option', { value: b.code }, `${b.code} — ${b.name}`));
      if (state.chat.brand && brands.some((b) => b.code === state.chat.brand)) brandSel.value = state.chat.brand;
      state.chat.brand = brandSel.value;
    } catch (e) {
      err.textContent = `Could not load brands: ${errText(e)}`;
    }
    brandSel.addEventListener('change', () => {
      if (state.chat.messages.length) { state.chat.messages = []; state.chat.log = []; renderLog(); announce('Brand changed; new conversation.'); }
      state.chat.brand = brandSel.value;
    });
    clearBtn.addEventListener('click', () => { state.chat.messages = []; state.chat.log = []; renderLog(); question.focus(); });
    question.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); form.requestSubmit(); }
    });
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      err.textContent = '';
      const q = question.value.trim();
      const brand = brandSel.value;
      if (!brand) { err.textContent = 'Pick a brand in the "Brand" list first.'; brandSel.focus(); return; }
      if (!q) { err.textContent = 'Type a question in the "Question" box.'; question.focus(); return; }
      const messages = state.chat.messages.concat([{ role: 'user', content: q }]);
      const pendingEl = el('div', { class: 'exchange' }, el('p', { class: 'question' }, el('strong', null, 'You: '), q), loading('the answer'));
      if (!state.chat.messages.length) clear(log);
      log.append(pendingEl);
      ask.disabled = true;
      try {
        const [answer, docs] = await Promise.all([
          api('POST', '/api/v1/copilot/chat', { brand_code: brand, messages }),
          guidelineDocs(brand).catch(() => []),
        ]);
        state.chat.messages = messages.concat([{ role: 'assistant', content: answer.answer || '' }]);
        const entry = el('div', { class: 'exchange' }, el('p', { class: 'question' }, el('strong', null, 'You: '), q), answerEl(answer, docs));
        pendingEl.replaceWith(entry);
        state.chat.log = (state.chat.log || []).concat([entry]);
        question.value = '';
      } catch (ex) {
        pendingEl.remove();
        if (!state.chat.messages.length) renderLog();
        err.textContent = errText(ex);
      } finally {
        ask.disabled = false;
        question.focus();
      }
    });
  }

  function answerEl(a, docs) {
    const found = a.found !== false;
    const box = el('div', { class: found ? 'answer' : 'answer not-covered' });
    if (!found) box.append(el('p', { class: 'not-covered-label' }, el('strong', null, 'The guidelines do not say.')));
    let text = String(a.answer || '').trim();
    if (!found && text.startsWith('The guidelines do not say.')) text = text.slice('The guidelines do not say.'.length).trim();
    if (text) box.append(el('div', { class: 'answer-text' }, text));
    if (a.note) box.append(el('p', { class: 'muted small' }, a.note));
    const cites = Array.isArray(a.citations) ? a.citations : [];
    if (cites.length) {
      const ol = el('ol', { class: 'citations' });
      for (const c of cites) {
        const doc = docs.find((d) => (d.file_name || d.name) === c.document);
        const label = c.citation || `${c.document} p.${c.page}`;
        const link = doc ? el('a', { href: `#/guidelines/${doc.id}/${c.page}` }, label) : el('span', null, label);
        ol.append(el('li', null, link, c.heading ? el('span', { class: 'muted small' }, ` — ${c.heading}`) : ''));
      }
      box.append(el('h3', { class: 'small-heading' }, 'Sources'), ol);
    }
    return box;
  }

  // ---------- Guideline page ----------
  async function viewGuideline(view, id, page, isCurrent) {
    const root = el('article', { id: 'guideline' },
      el('p', { class: 'crumbs' }, el('a', { href: '#/copilot' }, '← Copilot')),
      el('h1', null, 'Guideline'));
    const text = el('div', { id: 'guideline-page-text', class: 'page-text' }, loading('the page'));
    root.append(text);
    view.append(root);
    let data = state.docs.get(id);
    if (!data) {
      try { data = await api('GET', `/api/v1/guidelines/${id}`); } catch (err) {
        if (isCurrent()) setContent(text, errorBox(err, 'Could not load this document: '));
        return;
      }
      state.docs.set(id, data);
    }
    if (!isCurrent()) return;
    const doc = data.document || {};
    const pages = Array.isArray(data.pages) ? data.pages : [];
    const total = pages.length || doc.pages || 0;
    const pg = pages.find((p) => Number(p.page) === page);
    const docName = doc.file_name || doc.name || `Document ${id}`;
    root.querySelector('h1').textContent = pg ? `${docName} — page ${page}${total ? ` of ${total}` : ''}` : docName;
    const pager = el('nav', { class: 'pager', 'aria-label': 'Pages' },
      page > 1 ? el('a', { href: `#/guidelines/${id}/${Math.min(page - 1, Math.max(total, 1))}`, rel: 'prev' }, page > total && total ? `← Last page (${total})` : '← Previous page') : el('span'),
      page < total ? el('a', { href: `#/guidelines/${id}/${page + 1}`, rel: 'next' }, 'Next page →') : el('span'));
    root.insertBefore(el('p', { class: 'muted small' }, `${doc.brand_code || ''} · version ${doc.version ?? ''}`), text);
    setContent(text, pg ? (pg.text || el('span', { class: 'muted' }, 'This page has no text.')) : el('p', { class: 'error', role: 'alert' }, `This document has no page ${page}.`));
    root.append(pager);
  }

  // ---------- Admin ----------
  const minorDigits = (currency) => {
    try { return new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits; } catch { return 2; }
  };
  const toMajor = (minor, currency) => (minor === null || minor === undefined ? '' : (minor / 10 ** minorDigits(currency)).toFixed(minorDigits(currency)));

  // Column specs: key (input field name), label, read(entity) -> string|bool, type, editable
  const ADMIN = {
    markets: {
      title: 'Markets', segment: 'market', single: 'market',
      cols: [
        { key: 'new_code', label: 'Code', read: (m) => m.code },
        { key: 'country', label: 'Country', read: (m) => m.country },
        { key: 'region', label: 'Region', read: (m) => m.region },
        { key: 'archived', label: 'Archived', read: (m) => m.archived, type: 'bool' },
      ],
    },
    brands: {
      title: 'Brands', segment: 'brand', single: 'brand',
      cols: [
        { key: 'new_code', label: 'Code', read: (b) => b.code },
        { key: 'name', label: 'Name', read: (b) => b.name },
        { key: 'family_friendly', label: 'Family friendly', read: (b) => b.family_friendly, type: 'bool' },
        { key: 'currency', label: 'Currency', read: (b) => b.currency },
        { key: 'daily_budget_limit', label: 'Daily budget cap', read: (b) => toMajor(b.daily_budget_limit_minor, b.currency), hint: 'empty = default' },
        { key: 'lifetime_budget_limit', label: 'Lifetime budget cap', read: (b) => toMajor(b.lifetime_budget_limit_minor, b.currency), hint: 'empty = default' },
        { key: 'change_review_daily_amount', label: 'Review increases above (per day)', read: (b) => toMajor(b.change_review_daily_minor, b.currency), hint: 'empty = default' },
        { key: 'change_review_percent', label: 'Review above %', read: (b) => (b.change_review_percent ?? ''), type: 'int', hint: 'empty = default' },
        { key: 'meta_pixel_id', label: 'Meta pixel', read: (b) => b.meta_pixel_id || '' },
        { key: 'tiktok_pixel_code', label: 'TikTok pixel', read: (b) => b.tiktok_pixel_code || '' },
        { key: 'archived', label: 'Archived', read: (b) => b.archived, type: 'bool' },
      ],
    },
    channels: {
      title: 'Channels', segment: 'channel', single: 'channel',
      cols: [
        { key: 'new_code', label: 'Code', read: (c) => c.code },
        { key: 'platform', label: 'Platform', read: (c) => c.platform, readonly: true },
        { key: 'account_id', label: 'Ad account', read: (c) => c.account_id },
        { key: 'archived', label: 'Archived', read: (c) => c.archived, type: 'bool' },
      ],
    },
  };

  async function viewAdmin(view, isCurrent) {
    view.append(el('h1', null, 'Admin'),
      has('govern') ? el('p', { class: 'muted' }, 'Edit a row, then Save. Renaming a code shows what it affects before anything changes.')
        : el('p', { class: 'note' }, 'Read only: editing needs the "govern" permission.'));
    const holders = {};
    for (const kind of ['markets', 'brands', 'channels']) {
      holders[kind] = section(`admin-${kind}`, ADMIN[kind].title, loading(ADMIN[kind].title.toLowerCase()));
      view.append(holders[kind]);
    }
    await Promise.all(['markets', 'brands', 'channels'].map(async (kind) => {
      try {
        const items = await refList(kind, true);
        if (!isCurrent()) return;
        const h = holders[kind].querySelector('h2');
        setContent(holders[kind], h, el('p', { class: 'result admin-result', role: 'status' }), adminTable(kind, items));
      } catch (err) {
        if (isCurrent()) sectionError(holders[kind], err, `Could not load ${kind}: `);
      }
    }));
  }

  function adminTable(kind, items) {
    const spec = ADMIN[kind];
    const tbody = el('tbody');
    const table = el('table', { id: kind, class: 'admin' },
      el('caption', { class: 'visually-hidden' }, spec.title),
      el('thead', null, el('tr', null, spec.cols.map((c) => el('th', { scope: 'col' }, c.label)),
        has('govern') ? el('th', { scope: 'col', class: 'row-actions' }, el('span', { class: 'visually-hidden' }, 'Actions')) : '')),
      tbody);
    if (!items.length) tbody.append(el('tr', null, el('td', { colspan: String(spec.cols.length + 1), class: 'muted' }, `No ${kind} yet.`)));
    for (const item of items) tbody.append(adminRow(kind, item));
    return el('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': `${spec.title} table` }, table);
  }

  function cellText(col, v) {
    if (col.type === 'bool') return v ? 'Yes' : 'No';
    return v === '' || v === null || v === undefined ? '—' : String(v);
  }

  function adminRow(kind, item) {
    const spec = ADMIN[kind];
    const tr = el('tr', { dataset: { code: item.code } });
    for (const col of spec.cols) tr.append(el('td', { dataset: { label: col.label } }, cellText(col, col.read(item))));
    if (has('govern')) {
      const edit = el('button', { type: 'button', class: 'edit secondary', 'aria-label': `Edit ${item.code}` }, 'Edit');
      edit.addEventListener('click', () => startEdit(kind, item, tr));
      tr.append(el('td', { class: 'row-actions' }, edit));
    }
    return tr;
  }

  function rowError(tr, message) {
    let next = tr.nextElementSibling;
    if (next && next.classList.contains('row-error')) next.remove();
    if (!message) return;
    next = el('tr', { class: 'row-error' }, el('td', { colspan: String(tr.children.length), role: 'alert' }, message));
    tr.after(next);
  }

  function startEdit(kind, item, tr) {
    const spec = ADMIN[kind];
    const inputs = {};
    const base = `${kind}-${item.id}`;
    spec.cols.forEach((col, i) => {
      const td = tr.children[i];
      if (col.readonly) return;
      const id = `${base}-${col.key}`;
      const name = col.key === 'new_code' ? 'code' : col.key;
      const v = col.read(item);
      let input;
      if (col.type === 'bool') {
        input = el('input', { type: 'checkbox', id, name, checked: !!v });
      } else {
        input = el('input', { type: 'text', id, name, autocomplete: 'off', value: v === null || v === undefined ? '' : String(v), size: String(Math.max(4, Math.min(16, String(v ?? '').length + 2))), placeholder: col.hint || null });
        if (col.type === 'int') input.inputMode = 'numeric';
      }
      inputs[col.key] = input;
      setContent(td, el('label', { for: id, class: 'visually-hidden' }, `${col.label} of ${item.code}`), input);
    });
    const save = el('button', { type: 'button', class: 'save' }, 'Save');
    const cancel = el('button', { type: 'button', class: 'cancel secondary' }, 'Cancel');
    const actions = tr.querySelector('.row-actions');
    setContent(actions, save, ' ', cancel);
    tr.classList.add('editing');
    const first = Object.values(inputs)[0]; if (first) first.focus();

    const restore = (entity) => {
      rowError(tr, '');
      const fresh = adminRow(kind, entity);
      tr.replaceWith(fresh);
      return fresh;
    };
    cancel.addEventListener('click', () => { restore(item).querySelector('button.edit').focus(); });
    tr.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && tr.classList.contains('editing')) { e.preventDefault(); cancel.click(); }
      if (e.key === 'Enter' && e.target.tagName === 'INPUT' && e.target.type === 'text') { e.preventDefault(); save.click(); }
    });
    save.addEventListener('click', async () => {
      rowError(tr, '');
      const body = {};
      for (const col of spec.cols) {
        const input = inputs[col.key];
        if (!input) continue;
        const old = col.read(item);
        if (col.type === 'bool') { if (input.checked !== !!old) body[col.key] = input.checked; continue; }
        const val = input.value.trim();
        if (val === String(old ?? '')) continue;
        if (col.type === 'int') {
          if (val === '') { body[col.key] = -1; continue; }
          if (!/^-?\d+$/.test(val)) { rowError(tr, `${col.label}: enter a whole number, or leave it empty for the default.`); input.focus(); return; }
          body[col.key] = Number(val);
        } else if (col.key === 'new_code') {
          if (!val) { rowError(tr, 'Code: a code cannot be empty.'); input.focus(); return; }
          body.new_code = val;
        } else {
          body[col.key] = val;
        }
      }
      if (!Object.keys(body).length) { restore(item).querySelector('button.edit').focus(); announce('Nothing changed.'); return; }
      save.disabled = cancel.disabled = true;
      try {
        if (body.new_code !== undefined) {
          const q = new URLSearchParams({ segment: spec.segment, code: item.code, new_code: body.new_code });
          const impact = await api('GET', `/api/v1/rename-impact?${q}`);
          const ok = await confirmRename(impact);
          if (!ok) { save.disabled = cancel.disabled = false; save.focus(); return; }
        }
        const out = await api('PATCH', `/api/v1/${kind}/${encodeURIComponent(item.code)}`, body);
        const entity = out && out[spec.single] ? out[spec.single] : item;
        state[kind] = null; // reference lists changed
        const fresh = restore(entity);
        const msg = out && out.rename
          ? `${item.code} renamed to ${entity.code}: ${(out.rename.renamed_tickets || []).length} draft tickets renamed.`
          : `${entity.code} saved.`;
        announce(msg);
        const sec = fresh.closest('section');
        const note = sec && sec.querySelector('.admin-result');
        if (note) note.textContent = msg;
        fresh.classList.add('flash');
        setTimeout(() => fresh.classList.remove('flash'), 2000);
        fresh.querySelector('button.edit').focus();
      } catch (err) {
        save.disabled = cancel.disabled = false;
        if (err.status === 401) return;
        const col = spec.cols.find((c) => c.key === err.field || (err.field === 'code' && c.key === 'new_code'));
        const where = col ? `${col.label}: ` : err.field ? `${err.field}: ` : '';
        const msg = err.field && String(err.message).startsWith(`${err.field}: `) ? String(err.message).slice(err.field.length + 2) : err.message;
        rowError(tr, `Not saved. ${where}${msg}`);
        const input = col && inputs[col.key]; if (input) input.focus();
      }
    });
  }

  function confirmRename(impact) {
    const dlg = $('#rename-dialog');
    const box = $('#rename-impact');
    const confirm = $('#rename-confirm');
    const cancel = $('#rename-cancel');
    $('#rename-title').textContent = `Rename ${impact.segment} ${impact.code} to ${impact.new_code}?`;
    const renamed = impact.renamed_tickets || [];
    const kept = impact.unchanged_live_tickets || [];
    const camps = impact.campaign_ids || [];
    const list = (items, title) => {
      if (!items.length) return '';
      const shown = items.slice(0, 20);
      return el('div', null, el('h3', null, title), el('ul', { class: 'rename-list' }, shown.map((t) => el('li', null,
        el('code', null, t.current_name), t.new_name !== t.current_name ? [' → ', el('code', null, t.new_name)] : '', ` (${t.status})`))),
      items.length > shown.length ? el('p', { class: 'muted small' }, `…and ${items.length - shown.length} more.`) : '');
    };
    setContent(box,
      el('p', null, `${camps.length} ${camps.length === 1 ? 'campaign uses' : 'campaigns use'} this code (their own names do not change).`),
      el('p', null, `${renamed.length} ticket${renamed.length === 1 ? '' : 's'} not yet sent to a platform ${renamed.length === 1 ? 'is' : 'are'} renamed; ${kept.length} ticket${kept.length === 1 ? '' : 's'} already sent to a platform keep${kept.length === 1 ? 's' : ''} ${kept.length === 1 ? 'its' : 'their'} name.`),
      list(renamed, 'Renamed'), list(kept, 'Keep their names (already on the platform)'));
    return new Promise((resolve) => {
      const done = (v) => {
        confirm.removeEventListener('click', yes);
        cancel.removeEventListener('click', no);
        dlg.removeEventListener('close', closed);
        if (dlg.open) dlg.close();
        resolve(v);
      };
      const yes = () => done(true);
      const no = () => done(false);
      const closed = () => done(false); // Esc
      confirm.addEventListener('click', yes);
      cancel.addEventListener('click', no);
      dlg.addEventListener('close', closed);
      dlg.showModal();
      cancel.focus();
    });
  }

  // ---------- Boot ----------
  function boot() {
    initSignin();
    window.addEventListener('hashchange', route);
    const key = getKey();
    if (!key) { showSignin(''); return; }
    signIn(key).catch((err) => {
      if (err.status === 401) { sessionStorage.removeItem(KEY_STORE); showSignin('Your key is no longer accepted; sign in again.'); }
      else showSignin(err.status === 0 ? err.message : `Could not reach the server: ${errText(err)}`);
    });
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', boot);
  else boot();
})();
