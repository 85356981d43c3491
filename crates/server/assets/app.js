// ivcrush dashboard: vanilla JS, hand-written SVG, no external resources.
"use strict";
(function () {
  const KEY_STORE = "ivcrush.apiKey";
  const SVG = "http://www.w3.org/2000/svg";
  const $ = (id) => document.getElementById(id);
  let rows = [];
  // The server's order by default: tradeable rows first, then by score (never an untradeable
  // row above a tradeable one unless the user sorts by a column).
  let sortKey = "rank";
  let sortDir = 1;
  let selected = null;

  // Login: the key typed into the form is traded for an HttpOnly session cookie (POST
  // /login), so the page never keeps it and it never travels in a URL. Where the browser
  // refuses the cookie (Secure, over plain HTTP to another host), the key is kept in this tab's
  // memory only and sent as X-API-Key. `/#key=…` logs in the same way for kiosks and scripts:
  // what follows `#` is never sent to a server.
  let key = null;
  try { localStorage.removeItem(KEY_STORE); } catch (e) { /* older versions stored it */ }
  const urlKeyRefused = new URL(window.location.href).searchParams.has("key");
  if (urlKeyRefused) {
    const url = new URL(window.location.href);
    url.searchParams.delete("key");
    window.history.replaceState(null, "", url.pathname + url.search + url.hash);
  }
  function keyFromFragment() {
    const m = /(?:^#|&)key=([^&]*)/.exec(window.location.hash);
    if (!m) return "";
    window.history.replaceState(null, "", window.location.pathname + window.location.search);
    try { return decodeURIComponent(m[1]); } catch (e) { return ""; }
  }

  async function login(typed) {
    const resp = await fetch("/login", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ key: typed }).toString(),
      credentials: "same-origin",
      cache: "no-store",
    });
    if (resp.status === 401) throw new Error("unknown key");
    if (!resp.ok) throw new Error("login failed: " + resp.status);
    key = null;
    try {
      await api("/api/v1/openapi.json");
      document.body.dataset.auth = "cookie";
    } catch (e) {
      if (e.status !== 401) throw e;
      key = typed;
      document.body.dataset.auth = "header";
      status("the browser refused the session cookie (plain HTTP?): the key is kept in this tab only", false);
    }
  }

  function status(text, isError) {
    const s = $("status");
    s.textContent = text;
    s.className = isError ? "err" : "";
  }

  async function api(path, method) {
    const resp = await fetch(path, {
      method: method || "GET",
      headers: key ? { "X-API-Key": key } : {},
      credentials: "same-origin",
      cache: "no-store",
    });
    let body = null;
    try { body = await resp.json(); } catch (e) { body = null; }
    if (!resp.ok) {
      const msg = body && body.message ? body.message : resp.statusText;
      const err = new Error(resp.status + ": " + msg);
      err.status = resp.status;
      throw err;
    }
    return body;
  }

  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function svgEl(tag, attrs, text) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  const fmt = (x, d) => (typeof x === "number" && isFinite(x) ? x.toFixed(d === undefined ? 2 : d) : "–");

  // ---- scan table -------------------------------------------------------------------
  // "Implied %" is implied_move.interpolated_pct everywhere (the CLI's implied% too).
  const impliedPct = (r) => (r.implied_move ? r.implied_move.interpolated_pct : null);
  function bestText(r) {
    const b = r.best_strategy;
    return b ? b.kind + " cr " + fmt(b.credit) + " POP " + fmt(b.pop * 100, 0) + "%" : "–";
  }
  // A New York rendering of an instant: "2026-12-03 15:00 EST".
  function nyTime(iso) {
    const d = new Date(iso);
    if (isNaN(d)) return String(iso);
    try {
      const p = {};
      for (const x of new Intl.DateTimeFormat("en-US", { timeZone: "America/New_York", year: "numeric", month: "2-digit",
        day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZoneName: "short" }).formatToParts(d)) p[x.type] = x.value;
      return p.year + "-" + p.month + "-" + p.day + " " + p.hour + ":" + p.minute + " " + (p.timeZoneName || "ET");
    } catch (e) { return d.toISOString(); }
  }
  function rowValue(r, k) {
    switch (k) {
      case "rank": return rows.indexOf(r);
      case "days": return typeof r.days_to_event === "number" ? r.days_to_event : null;
      case "implied": return impliedPct(r);
      case "event": return r.implied_move ? r.implied_move.event_pct : null;
      case "basis": return r.vrp && r.vrp.basis ? r.vrp.basis : "";
      case "warnings": return Array.isArray(r.warnings) ? r.warnings.length : 0;
      case "best": return r.best_strategy ? r.best_strategy.kind : "";
      case "hist": return r.historical ? r.historical.mean_pct : null;
      case "vrp": return r.vrp ? r.vrp.ratio : null;
      case "tier": return r.vrp ? r.vrp.tier : "";
      case "liq": return r.liquidity ? r.liquidity.tier : "";
      case "tradeable": return r.tradeable ? 1 : 0;
      case "quality": return qualityRank(r);
      default: return r[k];
    }
  }

  // ---- data quality ------------------------------------------------------------------
  // Short labels of the codes for the badge (the CLI's table uses the same).
  const SHORT = {
    stale_quote: "stale", stale_option_quotes: "stale-opt", quote_without_date: "no-date",
    vendor_greeks_missing: "no-greeks", one_sided_near_atm: "one-sided", zero_bid_near_atm: "zero-bid",
    wide_spread: "wide", crossed_or_locked: "crossed", contracts_dropped: "dropped", premium_gated: "premium",
    rate_limited: "rate-ltd", cached_stale: "cached", outside_session: "off-hours",
  };
  const notesOf = (r) => (Array.isArray(r.data_quality) ? r.data_quality : []);
  const isBlocking = (r) => notesOf(r).some((n) => n.blocking);
  // Sort key: no notes first, then by count of notes, blocking rows last.
  const qualityRank = (r) => notesOf(r).length + (isBlocking(r) ? 1000 : 0);
  // Distinct codes, blocking ones first, each marked "!" when blocking.
  function qualityCodes(r) {
    const seen = new Map();
    for (const n of notesOf(r)) seen.set(n.code, (seen.get(n.code) || false) || !!n.blocking);
    return [...seen.entries()].sort((a, b) => Number(b[1]) - Number(a[1]));
  }
  function qualityBadge(r) {
    const codes = qualityCodes(r);
    if (!codes.length) return el("span", { class: "q q-ok", "data-quality": "ok" }, "ok");
    const blocking = isBlocking(r);
    const text = (blocking ? "! " : "") + (SHORT[codes[0][0]] || codes[0][0]) + (codes.length > 1 ? " +" + (codes.length - 1) : "");
    const title = codes.map(([c, b]) => c + (b ? " (blocking)" : "")).join("\n");
    return el("span", {
      class: "q " + (blocking ? "q-blocking" : "q-note"),
      "data-quality": blocking ? "blocking" : "notes",
      title,
      "aria-label": "data quality: " + codes.map(([c]) => c).join(", "),
    }, text);
  }
  function tierBadge(r) {
    const t = rowValue(r, "tier");
    const w = r.vrp && r.vrp.withheld_tier;
    const attrs = { class: "tier tier-" + t + (w ? " tier-withheld" : "") };
    if (w) attrs.title = r.vrp.withheld_reason || (w + " withheld: " + withheldBy(r.vrp));
    return el("span", attrs, t);
  }
  // What withheld the point tier: a blocking data-quality note or the ratio's interval.
  const withheldBy = (v) => (v.withheld_by === "uncertainty" ? "uncertainty" : "data quality");
  const tierText = (v) => (v ? v.tier + (v.withheld_tier ? " (" + v.withheld_tier + " withheld: " + withheldBy(v) + ")" : "") : "–");
  function renderQuality(rec) {
    const list = $("quality-list");
    list.replaceChildren();
    const notes = notesOf(rec);
    if (!notes.length) list.append(el("li", { class: "muted" }, "none"));
    for (const n of notes) {
      const li = el("li", { class: n.blocking ? "blocking" : "note", "data-code": n.code });
      if (n.blocking) li.append(el("span", { class: "q q-blocking" }, "BLOCKING"));
      li.append(el("code", {}, n.code), document.createTextNode(n.detail || ""));
      list.append(li);
    }
    $("detail-quality").dataset.notes = String(notes.length);
  }

  function renderWarnings(rec) {
    const list = $("warning-list");
    list.replaceChildren();
    const ws = Array.isArray(rec.warnings) ? rec.warnings : [];
    if (!ws.length) list.append(el("li", { class: "muted" }, "none"));
    for (const w of ws) list.append(el("li", { class: "note" }, w));
    $("detail-warnings").dataset.warnings = String(ws.length);
  }

  function renderTable() {
    const analyzed = rows.filter((r) => !r.error);
    const failed = rows.filter((r) => r.error);
    analyzed.sort((a, b) => {
      const x = rowValue(a, sortKey), y = rowValue(b, sortKey);
      if (x === y) return 0;
      if (x === null || x === undefined) return 1;
      if (y === null || y === undefined) return -1;
      return (x < y ? -1 : 1) * sortDir;
    });
    const tbody = $("scan").querySelector("tbody");
    tbody.replaceChildren();
    for (const r of analyzed) {
      const tr = el("tr", { class: "row" + (r.ticker === selected ? " selected" : ""), "data-ticker": r.ticker });
      tr.append(el("td", { class: "num" }, rows.indexOf(r) + 1), el("td", {}, r.ticker), el("td", {}, r.earnings_date),
        el("td", {}, r.timing), el("td", { class: "num" }, rowValue(r, "days") === null ? "–" : rowValue(r, "days")),
        el("td", {}, r.expiration || "–"),
        el("td", { class: "num" }, fmt(r.spot)), el("td", { class: "num", "data-col": "implied" }, fmt(rowValue(r, "implied"))),
        el("td", { class: "num" }, fmt(rowValue(r, "event"))),
        el("td", { class: "num" }, fmt(rowValue(r, "hist"))), el("td", { class: "num" }, fmt(rowValue(r, "vrp"))),
        el("td", { "data-col": "basis" }, rowValue(r, "basis") || "–"));
      const tier = el("td"); tier.append(tierBadge(r));
      const liq = el("td"); liq.append(el("span", { class: "tier tier-" + rowValue(r, "liq") }, rowValue(r, "liq")));
      tr.append(tier, liq, el("td", { class: "num" }, fmt(r.score, 1)),
        el("td", { class: r.tradeable ? "yes" : "no" }, r.tradeable ? "YES" : "no"));
      const q = el("td", { class: "quality" }); q.append(qualityBadge(r));
      const warns = Array.isArray(r.warnings) ? r.warnings : [];
      const w = el("td", { class: "num", "data-col": "warnings", title: warns.join("\n") }, warns.length ? warns.length : "–");
      tr.append(q, w, el("td", { "data-col": "best" }, bestText(r)));
      tr.addEventListener("click", () => selectTicker(r.ticker));
      tbody.append(tr);
    }
    for (const th of document.querySelectorAll("#scan th")) {
      th.classList.toggle("sorted-asc", th.dataset.key === sortKey && sortDir === 1);
      th.classList.toggle("sorted-desc", th.dataset.key === sortKey && sortDir === -1);
    }
    $("failed").textContent = failed.length
      ? "Failed: " + failed.map((f) => f.ticker + " (" + f.error + ")").join("; ")
      : "";
    $("scan").dataset.rows = String(analyzed.length);
    document.body.dataset.rows = String(analyzed.length);
  }

  async function loadScan(refresh) {
    status(refresh ? "scanning…" : "loading scan…");
    const scan = await api("/api/v1/scan" + (refresh ? "?refresh=true" : ""));
    rows = scan.rows || [];
    $("scan-meta").textContent = scan.from + " → " + scan.to + " · run " + scan.run_id + " · " + scan.trigger;
    $("asof").textContent = "as of " + nyTime(scan.as_of);
    renderTable();
    status("");
    const first = selected || (rows.find((r) => !r.error) || {}).ticker;
    if (first) await selectTicker(first);
  }

  // ---- charts ------------------------------------------------------------------------
  const W = 420, H = 240, M = { l: 40, r: 12, t: 14, b: 30 };
  function frame(label) {
    const svg = svgEl("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": label });
    svg.append(svgEl("line", { class: "axis", x1: M.l, y1: H - M.b, x2: W - M.r, y2: H - M.b }));
    svg.append(svgEl("line", { class: "axis", x1: M.l, y1: M.t, x2: M.l, y2: H - M.b }));
    return svg;
  }
  function scale(d0, d1, r0, r1) {
    const span = d1 - d0 || 1;
    return (v) => r0 + ((v - d0) / span) * (r1 - r0);
  }
  function yTicks(svg, y, lo, hi, unit) {
    for (let i = 0; i <= 4; i++) {
      const v = lo + ((hi - lo) * i) / 4;
      svg.append(svgEl("text", { x: M.l - 4, y: y(v) + 3, "text-anchor": "end" }, v.toFixed(1) + unit));
    }
  }
  function note(svg, text) {
    svg.append(svgEl("text", { x: W / 2, y: H / 2, "text-anchor": "middle" }, text));
  }

  function movesChart(rec) {
    const svg = frame("historical moves");
    const moves = (rec.historical_moves || []).slice(-12);
    const implied = impliedPct(rec);
    if (!moves.length) { note(svg, "no historical moves"); return svg; }
    const hi = Math.max(implied || 0, ...moves.map((m) => m.close_move_pct)) * 1.15 || 1;
    const y = scale(0, hi, H - M.b, M.t);
    const bw = (W - M.l - M.r) / moves.length;
    moves.forEach((m, i) => {
      const x = M.l + i * bw + bw * 0.15;
      const top = y(m.close_move_pct);
      const bar = svgEl("rect", { class: "bar" + (m.signed_close_pct < 0 ? " down" : ""), x: x.toFixed(1),
        y: top.toFixed(1), width: (bw * 0.7).toFixed(1), height: (H - M.b - top).toFixed(1) });
      bar.append(svgEl("title", {}, m.report_date + ": " + fmt(m.signed_close_pct) + "%"));
      svg.append(bar);
      if (i % 2 === 0) svg.append(svgEl("text", { x: x + bw * 0.35, y: H - M.b + 12, "text-anchor": "middle" }, m.report_date.slice(2, 7)));
    });
    if (implied !== null) {
      svg.append(svgEl("line", { class: "implied", x1: M.l, x2: W - M.r, y1: y(implied), y2: y(implied) }));
      svg.append(svgEl("text", { x: W - M.r, y: y(implied) - 4, "text-anchor": "end" }, "implied " + fmt(implied) + "%"));
    }
    if (rec.historical && typeof rec.historical.mean_pct === "number") {
      const mv = rec.historical.mean_pct;
      svg.append(svgEl("line", { class: "mean", x1: M.l, x2: W - M.r, y1: y(mv), y2: y(mv) }));
    }
    svg.append(svgEl("text", { x: M.l + 4, y: M.t + 4 }, "|close move| per report (purple: down) · dashed: mean"));
    yTicks(svg, y, 0, hi, "%");
    return svg;
  }

  function termChart(rec) {
    const svg = frame("term structure");
    const pts = (rec.term_structure && rec.term_structure.points) || [];
    if (!pts.length) { note(svg, "no term structure"); return svg; }
    const xs = pts.map((p) => p.days), ys = pts.map((p) => p.atm_iv * 100);
    const lo = Math.min(...ys) * 0.9, hi = Math.max(...ys) * 1.1;
    const x = scale(Math.min(...xs) - 1, Math.max(...xs) + 1, M.l + 10, W - M.r - 10);
    const y = scale(lo, hi, H - M.b, M.t);
    const d = pts.map((p, i) => (i ? "L" : "M") + x(p.days).toFixed(1) + "," + y(p.atm_iv * 100).toFixed(1)).join(" ");
    svg.append(svgEl("path", { class: "line", d }));
    for (const p of pts) {
      const c = svgEl("circle", { class: "pt", cx: x(p.days), cy: y(p.atm_iv * 100), r: 4 });
      c.append(svgEl("title", {}, p.expiration + ": " + fmt(p.atm_iv * 100) + "%"));
      svg.append(c);
      svg.append(svgEl("text", { x: x(p.days), y: H - M.b + 12, "text-anchor": "middle" }, p.expiration.slice(5) + " (" + p.days.toFixed(0) + "d)"));
    }
    yTicks(svg, y, lo, hi, "%");
    return svg;
  }

  function skewChart(rec) {
    const svg = frame("skew smile");
    const s = rec.skew || {};
    if (typeof s.level !== "number") { note(svg, "no skew fit"); return svg; }
    const spot = rec.spot;
    const ks = [];
    for (let i = 0; i <= 40; i++) ks.push(-0.25 + (0.5 * i) / 40);
    const vol = (k) => (s.level + s.slope * k + s.curvature * k * k) * 100;
    const vs = ks.map(vol);
    const marks = [];
    if (s.k25_put && s.iv25_put) marks.push(["25Δ put", s.k25_put, s.iv25_put * 100]);
    if (s.k25_call && s.iv25_call) marks.push(["25Δ call", s.k25_call, s.iv25_call * 100]);
    const all = vs.concat(marks.map((m) => m[2]));
    const lo = Math.min(...all) * 0.95, hi = Math.max(...all) * 1.05;
    const x = scale(spot * Math.exp(-0.25), spot * Math.exp(0.25), M.l + 4, W - M.r);
    const y = scale(lo, hi, H - M.b, M.t);
    const d = ks.map((k, i) => (i ? "L" : "M") + x(spot * Math.exp(k)).toFixed(1) + "," + y(vs[i]).toFixed(1)).join(" ");
    svg.append(svgEl("line", { class: "spot", x1: x(spot), x2: x(spot), y1: M.t, y2: H - M.b }));
    svg.append(svgEl("path", { class: "line", d }));
    for (const [label, k, v] of marks) {
      const c = svgEl("circle", { class: "pt", cx: x(k), cy: y(v), r: 4 });
      c.append(svgEl("title", {}, label + " " + fmt(k) + ": " + fmt(v) + "%"));
      svg.append(c);
    }
    for (const f of [-0.2, -0.1, 0, 0.1, 0.2]) {
      const k = spot * Math.exp(f);
      svg.append(svgEl("text", { x: x(k), y: H - M.b + 12, "text-anchor": "middle" }, k.toFixed(0)));
    }
    yTicks(svg, y, lo, hi, "%");
    return svg;
  }

  // ---- live implied move (server-sent events relayed from `ivcrush ticker`) --------------
  // Read with fetch rather than EventSource: the key (header mode) can be sent, and a 503
  // (live moves off) is told apart from a dropped connection, which is retried.
  let live = null;
  function showLive(state, figure, meta) {
    $("detail-live").dataset.live = state;
    $("live-implied").textContent = figure;
    $("live-meta").textContent = meta;
  }
  function onImplied(u) {
    if (u.underlying !== selected) return;
    const im = u.implied_move;
    const d = $("detail-live");
    d.dataset.seq = String(u.seq);
    if (im) {
      d.dataset.straddle = String(im.straddle_pct);
      showLive("on", `${fmt(im.interpolated_pct)}% (straddle ${fmt(im.straddle_pct)}%, event ${fmt(im.event_pct)}%)`,
        `spot ${fmt(u.spot)}, expiry ${u.expiration}, ${u.options} options, as of ${nyTime(u.as_of)}`);
    } else {
      showLive("on", "—", u.error || "no figure");
    }
  }
  function followLive(t) {
    if (live) live.abort();
    const ctl = new AbortController();
    live = ctl;
    showLive("connecting", "—", "connecting…");
    (async () => {
      for (let attempt = 0; !ctl.signal.aborted; attempt++) {
        try {
          const resp = await fetch("/api/v1/stream/implied?tickers=" + encodeURIComponent(t), {
            headers: key ? { "X-API-Key": key, Accept: "text/event-stream" } : { Accept: "text/event-stream" },
            credentials: "same-origin", cache: "no-store", signal: ctl.signal,
          });
          if (!resp.ok) {
            let msg = resp.statusText;
            try { msg = (await resp.json()).message || msg; } catch (e) { /* not JSON */ }
            showLive(resp.status === 404 ? "off" : resp.status === 503 ? "unavailable" : "error", "—", msg);
            // 503 (Redis down, too many streams) may pass: retried with backoff. 404: off here.
            if (resp.status !== 503) return;
            throw new Error(msg);
          }
          showLive("waiting", "—", "waiting for the ticker…");
          attempt = 0; // connected: a later drop starts the backoff afresh
          const reader = resp.body.getReader();
          const dec = new TextDecoder();
          let buf = "";
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            buf += dec.decode(value, { stream: true }).replace(/\r\n/g, "\n");
            let i;
            while ((i = buf.indexOf("\n\n")) >= 0) {
              const block = buf.slice(0, i);
              buf = buf.slice(i + 2);
              const data = block.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).replace(/^ /, "")).join("\n");
              if (data) { try { onImplied(JSON.parse(data)); } catch (e) { /* skip a bad event */ } }
            }
          }
        } catch (e) {
          if (ctl.signal.aborted) return;
        }
        await new Promise((r) => setTimeout(r, Math.min(30000, 1000 * 2 ** Math.min(attempt, 5))));
      }
    })();
  }

  async function selectTicker(t) {
    selected = t;
    followLive(t);
    renderTable();
    $("detail-title").textContent = t;
    try {
      const rec = await api("/api/v1/analyze/" + encodeURIComponent(t));
      const im = rec.implied_move || {};
      $("detail-summary").textContent =
        `${rec.ticker} reports ${rec.earnings_date} ${rec.timing} (in ${rec.days_to_event} days), expiry ${rec.expiration}, ` +
        `spot ${fmt(rec.spot)}, as of ${nyTime(rec.as_of)}; ` +
        `implied ${fmt(im.interpolated_pct)}% (event ${fmt(im.event_pct)}%), historical mean ${fmt(rec.historical.mean_pct)}%, ` +
        `VRP ${fmt(rec.vrp.ratio)}` + (rec.vrp.basis ? ` (${rec.vrp.basis} basis` +
          (typeof rec.vrp.straddle_ratio === "number" ? `; straddle ${fmt(rec.vrp.straddle_ratio)}` : "") + ")" : "") +
        ` ${tierText(rec.vrp)}, score ${fmt(rec.score, 1)}` + (rec.tradeable ? " — TRADEABLE" : "") +
        `; best ${bestText(rec)}` + (rec.data && rec.data.stale ? " (stale data)" : "");
      renderQuality(rec);
      renderWarnings(rec);
      $("chart-moves").replaceChildren(movesChart(rec));
      $("chart-term").replaceChildren(termChart(rec));
      $("chart-skew").replaceChildren(skewChart(rec));
      document.body.dataset.detail = t;
    } catch (e) {
      $("detail-summary").textContent = t + ": " + e.message;
      $("warning-list").replaceChildren();
      $("quality-list").replaceChildren();
      $("detail-quality").dataset.notes = "0";
    }
  }

  // ---- health and breakers -----------------------------------------------------------
  function msgRow(text) {
    const tr = el("tr");
    tr.append(el("td", { colspan: 5, class: "muted" }, text));
    return tr;
  }

  async function loadHealth() {
    let h;
    try {
      const r = await fetch("/health/ready", { cache: "no-store" });
      h = await r.json();
    } catch (e) { h = null; }
    const tbody = $("deps").querySelector("tbody");
    tbody.replaceChildren();
    if (h) {
      const badge = $("health-status");
      badge.textContent = h.status;
      badge.className = "badge st-" + h.status;
      for (const d of h.dependencies) {
        const tr = el("tr");
        const st = el("td"); st.append(el("span", { class: "badge st-" + d.status }, d.status));
        tr.append(el("td", {}, d.name), st, el("td", {}, d.critical ? "yes" : "no"),
          el("td", { class: "num" }, d.latency_ms), el("td", {}, d.message));
        tbody.append(tr);
      }
    }
    const bt = $("breakers").querySelector("tbody");
    bt.replaceChildren();
    try {
      const b = await api("/api/v1/breakers");
      if (!b.breakers.length) bt.append(msgRow("no breakers (simulated market)"));
      for (const s of b.breakers) {
        const tr = el("tr");
        const st = el("td"); st.append(el("span", { class: "badge st-" + s.state }, s.state));
        const act = el("td");
        for (const [label, op] of [["reset", "reset"], ["force open", "force-open"]]) {
          const btn = el("button", { type: "button" }, label);
          btn.addEventListener("click", async () => {
            try { await api("/api/v1/breakers/" + encodeURIComponent(s.name) + "/" + op, "POST"); } catch (e) { status(e.message, true); }
            loadHealth();
          });
          act.append(btn);
        }
        tr.append(el("td", {}, s.name), st, el("td", { class: "num" }, s.failed_calls),
          el("td", { class: "num" }, s.not_permitted_calls), act);
        bt.append(tr);
      }
    } catch (e) {
      bt.append(msgRow(e.message));
    }
  }

  // ---- layout ------------------------------------------------------------------------
  // Records on <body> how the page is laid out (the browser test reads it): `stacked` (one
  // column) or `columns` (health beside the detail), whether the page itself scrolls sideways
  // and whether the scan and the dependency tables scroll inside their own boxes.
  function recordLayout() {
    const r = (id) => $(id).getBoundingClientRect();
    const scan = r("scan-panel"), health = r("health-panel"), detail = r("detail-panel");
    const stacked = Math.abs(health.left - scan.left) < 2 && health.top >= detail.bottom - 1;
    // Widths are rounded separately: a pixel of difference is not a scroll bar.
    const scrolls = (e) => (e.scrollWidth > e.clientWidth + 1 ? "yes" : "no");
    const doc = document.documentElement;
    const box = $("scan").parentElement;
    document.body.dataset.layout = stacked ? "stacked" : "columns";
    document.body.dataset.pageScrollX = scrolls(doc);
    document.body.dataset.scanScrollX = scrolls(box);
    document.body.dataset.healthScrollX = scrolls($("deps").parentElement);
  }

  // ---- backtest ----------------------------------------------------------------------
  function equityChart(trades) {
    const svg = frame("equity curve");
    if (!trades.length) { note(svg, "no trades in the window"); return svg; }
    let cum = 0;
    const pts = [0, ...trades.map((t) => (cum += t.pnl_per_contract))];
    const lo = Math.min(0, ...pts), hi = Math.max(0, ...pts) || 1;
    const x = scale(0, pts.length - 1, M.l, W - M.r), y = scale(lo, hi, H - M.b, M.t);
    svg.append(svgEl("line", { class: "mean", x1: M.l, x2: W - M.r, y1: y(0), y2: y(0) }));
    svg.append(svgEl("polyline", { class: "line", points: pts.map((v, i) => x(i).toFixed(1) + "," + y(v).toFixed(1)).join(" ") }));
    for (let i = 0; i <= 4; i++) {
      const v = lo + ((hi - lo) * i) / 4;
      svg.append(svgEl("text", { x: M.l - 4, y: y(v) + 3, "text-anchor": "end" }, v.toFixed(0)));
    }
    svg.append(svgEl("text", { x: W - M.r, y: H - M.b + 14, "text-anchor": "end" }, trades.length + " trades"));
    return svg;
  }
  function calibrationChart(buckets) {
    const svg = frame("calibration");
    const x = scale(0, 1, M.l, W - M.r), y = scale(0, 1, H - M.b, M.t);
    svg.append(svgEl("line", { class: "diag", x1: x(0), y1: y(0), x2: x(1), y2: y(1) }));
    if (!buckets.length) { note(svg, "no trades to calibrate"); return svg; }
    for (const b of buckets) {
      const c = svgEl("circle", { class: "pt", cx: x(b.predicted).toFixed(1), cy: y(b.realised).toFixed(1), r: Math.min(9, 2 + Math.sqrt(b.count)) });
      c.append(svgEl("title", {}, b.bucket + ": predicted " + fmt(b.predicted * 100, 0) + "%, realised " + fmt(b.realised * 100, 0) + "% over " + b.count));
      svg.append(c);
    }
    yTicks(svg, (v) => y(v / 100), 0, 100, "%");
    svg.append(svgEl("text", { x: W - M.r, y: H - M.b + 14, "text-anchor": "end" }, "predicted POP (lognormal) →"));
    return svg;
  }
  function tierChart(byTier) {
    const svg = frame("P&L by tier");
    const tiers = Object.keys(byTier || {});
    if (!tiers.length) { note(svg, "no trades"); return svg; }
    const vals = tiers.map((t) => byTier[t].total_pnl);
    const lo = Math.min(0, ...vals), hi = Math.max(0, ...vals) || 1;
    const y = scale(lo, hi, H - M.b, M.t), bw = (W - M.l - M.r) / tiers.length;
    tiers.forEach((t, i) => {
      const v = vals[i], top = Math.min(y(v), y(0)), h = Math.abs(y(v) - y(0));
      const bar = svgEl("rect", { class: "bar" + (v < 0 ? " loss" : ""), x: (M.l + i * bw + bw * 0.2).toFixed(1), y: top.toFixed(1), width: (bw * 0.6).toFixed(1), height: h.toFixed(1) });
      bar.append(svgEl("title", {}, t + ": " + byTier[t].trades + " trades, total " + fmt(v, 0)));
      svg.append(bar);
      svg.append(svgEl("text", { x: M.l + i * bw + bw / 2, y: H - M.b + 12, "text-anchor": "middle" }, t));
    });
    for (let i = 0; i <= 4; i++) {
      const v = lo + ((hi - lo) * i) / 4;
      svg.append(svgEl("text", { x: M.l - 4, y: y(v) + 3, "text-anchor": "end" }, v.toFixed(0)));
    }
    return svg;
  }
  // Implied (amber) against the absolute reaction (blue inside, red outside) on one scale.
  function miniBars(e, max) {
    const svg = svgEl("svg", { class: "mini", viewBox: "0 0 140 16", role: "img", "aria-label": "implied vs realised" });
    const w = (v) => Math.max(1, (Math.abs(v) / max) * 138).toFixed(1);
    svg.append(svgEl("rect", { class: "implied", x: 1, y: 1, width: w(e.implied_move_pct), height: 6 }));
    svg.append(svgEl("rect", { class: "realised" + (e.inside ? "" : " outside"), x: 1, y: 9, width: w(e.realised_move_pct), height: 6 }));
    return svg;
  }
  function renderBacktest(r) {
    const panel = $("backtest-panel");
    const s = r.summary;
    panel.dataset.trades = String(r.trades.length);
    panel.dataset.events = String(r.per_event.length);
    $("backtest-meta").textContent = r.from + " → " + r.to + " · " + r.strategy + " · exit " + r.exit;
    $("bt-from").value = r.from; $("bt-to").value = r.to;
    $("backtest-summary").textContent = r.events + " reports, " + s.trades + " trades: win rate " +
      (s.win_rate === null ? "–" : fmt(s.win_rate * 100, 0) + "%") + ", mean " + fmt(s.mean_pnl, 0) +
      ", total " + fmt(s.total_pnl, 0) + " per contract, Sharpe " + fmt(s.sharpe) + " per trade, max drawdown " +
      fmt(s.max_drawdown, 0) + "; " + r.skipped.length + " reports skipped (reasons in the API's skipped[]).";
    $("chart-equity").replaceChildren(equityChart(r.trades));
    $("chart-calibration").replaceChildren(calibrationChart(s.calibration || []));
    $("chart-tiers").replaceChildren(tierChart(s.by_tier));
    const tbody = $("events").querySelector("tbody");
    tbody.replaceChildren();
    const max = Math.max(1, ...r.per_event.map((e) => Math.max(e.implied_move_pct, Math.abs(e.realised_move_pct))));
    for (const e of r.per_event.slice().reverse()) {
      const tr = el("tr", {});
      tr.append(el("td", {}, e.ticker), el("td", {}, e.report_date), el("td", { class: "num" }, fmt(e.implied_move_pct)),
        el("td", { class: "num" }, fmt(e.realised_move_pct)));
      const bars = el("td", {}); bars.append(miniBars(e, max)); tr.append(bars);
      tr.append(el("td", { class: e.inside ? "yes" : "no" }, e.inside ? "yes" : "no"),
        el("td", { class: "num" }, fmt(e.straddle_pnl_pct)), el("td", { class: e.traded ? "yes" : "no" }, e.traded ? "yes" : "no"));
      tbody.append(tr);
    }
    panel.dataset.state = "ready";
  }
  async function loadBacktest(form) {
    const q = new URLSearchParams();
    if (form) {
      if ($("bt-from").value) q.set("from", $("bt-from").value);
      if ($("bt-to").value) q.set("to", $("bt-to").value);
      q.set("strategy", $("bt-strategy").value);
      q.set("exit", $("bt-exit").value);
    }
    $("backtest-panel").dataset.state = "loading";
    try {
      renderBacktest(await api("/api/v1/backtest" + (q.toString() ? "?" + q : "")));
    } catch (e) {
      $("backtest-summary").textContent = "backtest: " + e.message;
      $("backtest-panel").dataset.state = "error";
    }
  }

  // ---- wiring ------------------------------------------------------------------------
  async function start(refresh) {
    try {
      await loadScan(refresh);
      recordLayout();
      document.body.dataset.state = "ready";
      return true;
    } catch (e) {
      if (e.status === 401) {
        status(urlKeyRefused
          ? "keys in the address are refused (proxies log them): type the key here"
          : "log in with an API key", true);
        document.body.dataset.state = "nokey";
      } else {
        status(e.message, true);
        document.body.dataset.state = "error";
      }
      return false;
    }
  }

  // ---- alerts ---------------------------------------------------------------------------
  async function loadAlerts() {
    const body = document.querySelector("#alerts tbody");
    try {
      const r = await api("/api/v1/alerts?days=7&limit=50");
      const rows = r.alerts || [];
      $("alerts-panel").dataset.alerts = String(rows.length);
      if (!rows.length) {
        const tr = el("tr");
        tr.append(el("td", { colspan: 5, class: "muted" }, "No alerts in the last 7 days."));
        body.replaceChildren(tr);
        return;
      }
      body.replaceChildren(...rows.map((a) => {
        const tr = el("tr", { "data-kind": a.kind });
        tr.append(el("td", {}, nyTime(a.created_at)), el("td", {}, a.kind), el("td", {}, a.ticker || ""),
          el("td", {}, a.message), el("td", { class: "num" }, String(a.delivered)));
        return tr;
      }));
    } catch (e) {
      const tr = el("tr");
      tr.append(el("td", { colspan: 5, class: "muted" }, "alerts: " + e.message));
      body.replaceChildren(tr);
    }
  }

  async function loginAndStart(typed) {
    try {
      await login(typed);
    } catch (e) {
      status(e.message, true);
      document.body.dataset.state = "nokey";
      return;
    }
    $("key").value = "";
    if (await start(false)) { loadBacktest(false); loadAlerts(); }
    loadHealth();
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("keyform").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const v = $("key").value.trim();
      if (v) loginAndStart(v);
    });
    $("logout").addEventListener("click", async () => {
      key = null;
      if (live) live.abort();
      try { await fetch("/logout", { method: "POST", credentials: "same-origin" }); } catch (e) { /* offline */ }
      document.body.dataset.state = "nokey";
      delete document.body.dataset.auth;
      status("logged out", false);
    });
    $("refresh").addEventListener("click", () => { start(true); loadAlerts(); });
    for (const th of document.querySelectorAll("#scan th[data-key]")) {
      th.addEventListener("click", () => {
        const k = th.dataset.key;
        sortDir = sortKey === k ? -sortDir : (["rank", "ticker", "earnings_date", "days", "expiration"].includes(k) ? 1 : -1);
        sortKey = k;
        renderTable();
      });
    }
    window.addEventListener("resize", recordLayout);
    setInterval(() => { if (document.body.dataset.state === "ready") loadAlerts(); }, 60000);
    $("backtest-form").addEventListener("submit", (ev) => { ev.preventDefault(); loadBacktest(true); });
    const fromFragment = keyFromFragment();
    if (fromFragment) {
      loginAndStart(fromFragment).then(recordLayout);
    } else {
      start(false).then((ok) => { if (ok) { loadBacktest(false); loadAlerts(); } });
      loadHealth().then(recordLayout);
    }
  });
})();
