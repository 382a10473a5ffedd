// sshmap live layer over the report's front end (sshmap.js): subscribes to
// /api/stream and folds each new event into the page with window.sshmap.append,
// draws a pulse at the attacker and an arc to the server, keeps a live feed,
// shows intrusion alerts prominently and replays the window at ×N speed.
// Attacker text is only ever set with textContent.
"use strict";
(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const LIVE = JSON.parse(document.getElementById("sshmap-live").textContent);
  const MAX_FEED = 200;
  const $ = (id) => document.getElementById(id);
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = String(text);
    return e;
  }
  function sv(tag, attrs) {
    const e = document.createElementNS(SVG, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  }

  // The live parts of the page, built here so the report's template stays the report's.
  const bar = el("section", "panel live-bar");
  const status = el("span", "live-status", "connecting…");
  const speed = el("select");
  [60, 600, 3600].forEach((n) => { const o = el("option", null, n); if (n === 600) o.selected = true; speed.appendChild(o); });
  const replay = el("button", null, "replay window");
  const lab = el("label", null, " replay ×"); lab.appendChild(speed);
  const clock = el("span", "live-clock"); clock.id = "replay-clock";
  const progress = el("progress"); progress.id = "replay-progress"; progress.max = 1; progress.value = 0; progress.hidden = true;
  bar.append(el("strong", null, "live "), status, el("span", "muted", ` · window ${(LIVE.window_seconds / 3600).toFixed(1)} h${LIVE.anonymized ? " · addresses anonymized" : ""} `), lab, replay, clock, progress);
  // Beside the map (a SOC wall's layout): a compact list of alerts grouped per
  // address and user, then the feed; the map stays above the fold however many come.
  const side = el("aside", "live-side");
  const alertsWrap = el("section", "panel live-alerts-panel");
  const alertsHead = el("div", "bar");
  // The rules with the server's thresholds (serve --alert-ip-failures, --alert-user-failures).
  const rules = el("p", "muted live-alert-rules", (LIVE.alert_rules || "alert on a suspicious login") + "; grouped per address and user");
  rules.id = "alert-rules";
  alertsHead.append(el("h2", null, "Intrusion alerts"));
  const alerts = el("ol", "live-alerts"); alerts.id = "alerts"; alerts.setAttribute("aria-live", "polite");
  const noAlerts = el("li", "muted", "none yet");
  alerts.appendChild(noAlerts);
  alertsWrap.append(alertsHead, rules, alerts);
  const feedWrap = el("section", "panel live-feed-panel"); feedWrap.appendChild(el("h2", null, "Live feed"));
  const feed = el("ol", "live-feed"); feed.id = "feed"; feedWrap.appendChild(feed);
  side.append(alertsWrap, feedWrap);
  const totals = $("totals");
  totals.parentNode.insertBefore(bar, totals);
  const mapPanel = $("map-panel");
  const row = el("div", "live-row");
  mapPanel.parentNode.insertBefore(row, mapPanel);
  row.append(mapPanel, side);
  const viewport = $("viewport") || $("map");
  const layer = sv("g", { id: "live" });
  viewport.appendChild(layer);
  if (LIVE.home) layer.appendChild(sv("circle", { cx: LIVE.home[0], cy: LIVE.home[1], r: 4, class: "live-home" }));

  function pulse(ev) {
    if (!ev.map) return;
    const [x, y] = ev.map;
    const c = sv("circle", { cx: x, cy: y, r: 3, class: ev.kind === "auth_success" ? "live-pulse ok" : "live-pulse" });
    layer.appendChild(c);
    setTimeout(() => c.remove(), 1600);
    if (LIVE.home) {
      const [hx, hy] = LIVE.home;
      const mx = (x + hx) / 2, my = Math.min(y, hy) - Math.abs(x - hx) / 4 - 10;
      const a = sv("path", { d: `M${x},${y}Q${mx},${my} ${hx},${hy}`, class: "live-arc" });
      layer.appendChild(a);
      setTimeout(() => a.remove(), 3100);
    }
  }

  function feedLine(text, cls) {
    const li = el("li", cls, text);
    feed.insertBefore(li, feed.firstChild);
    while (feed.children.length > MAX_FEED) feed.lastChild.remove();
  }

  // The report's event shape (see append() in sshmap.js).
  function toReport(ev) {
    const g = ev.geo || {};
    return {
      t: Math.floor(Date.parse(ev.ts) / 1000), attempts: ev.attempts || 0, success: ev.kind === "auth_success",
      ip: ev.ip, country: g.country || null, country_name: g.country_name || null, city: g.city || null,
      x: ev.map ? ev.map[0] : null, y: ev.map ? ev.map[1] : null, p: g.precision || null,
      asn: g.asn || null, org: g.org || null, user: ev.user, m: ev.method || null, k: ev.kind,
    };
  }

  // Folding into the report redraws every panel: batch it, at most four times a second.
  let pending = [];
  function flush() {
    if (pending.length && window.sshmap) window.sshmap.append(pending);
    pending = [];
  }
  setInterval(flush, 250);

  function onEvent(ev) {
    pending.push(toReport(ev));
    pulse(ev);
    const c = (ev.geo && ev.geo.country) || "??";
    feedLine(`${ev.ts.slice(11, 19)} ${ev.kind} ${ev.ip || "-"} (${c})${ev.user == null ? "" : " user=" + JSON.stringify(ev.user)}`, ev.kind);
  }

  // Alert groups keyed by address and user: the latest time, a count, a dismiss button.
  // The list is redrawn at most twice a second, however fast alerts arrive.
  const MAX_GROUPS = 8;
  const groups = new Map();
  let dirty = false;
  function onAlert(a, fresh) {
    const key = (a.ip || "?") + "\u0000" + (a.user == null ? "" : a.user);
    const g = groups.get(key) || { n: 0, dismissed: false };
    g.n += 1; g.last = a; g.t = Date.parse(a.ts) || Date.now(); g.dismissed = false;
    alerts.dataset.received = String(Number(alerts.dataset.received || 0) + 1);
    groups.delete(key); groups.set(key, g);
    while (groups.size > 50) groups.delete(groups.keys().next().value);
    dirty = true;
    // One feed line per group, moved to the top and counted: a burst does not push the events out.
    if (fresh) {
      const text = `${a.ts.slice(11, 19)} ALERT ${a.message}${g.n > 1 ? " ×" + g.n : ""}`;
      if (g.line && g.line.isConnected) { g.line.textContent = text; feed.insertBefore(g.line, feed.firstChild); }
      else { feedLine(text, "alert"); g.line = feed.firstChild; }
    }
  }
  function drawAlerts() {
    if (!dirty) return;
    dirty = false;
    const shown = [...groups.entries()].filter(([, g]) => !g.dismissed).reverse().slice(0, MAX_GROUPS);
    alerts.replaceChildren();
    if (!shown.length) { noAlerts.textContent = groups.size ? "all dismissed" : "none yet"; alerts.appendChild(noAlerts); return; }
    for (const [key, g] of shown) {
      const li = el("li", "live-alert");
      li.setAttribute("role", "alert");
      li.append(el("span", "when", g.last.ts.slice(11, 19)), el("span", "msg", "INTRUSION ALERT: " + g.last.message));
      if (g.n > 1) li.appendChild(el("span", "count", "×" + g.n));
      const x = el("button", "dismiss", "×");
      x.title = "dismiss";
      x.addEventListener("click", () => { g.dismissed = true; dirty = true; drawAlerts(); });
      li.appendChild(x);
      alerts.appendChild(li);
    }
    const hidden = [...groups.values()].filter((g) => !g.dismissed).length - shown.length;
    if (hidden > 0) alerts.appendChild(el("li", "muted", `… ${hidden} more groups`));
  }
  setInterval(drawAlerts, 500);

  let first = true;
  function connect() {
    const es = new EventSource("api/stream");
    es.addEventListener("snapshot", (m) => {
      const s = JSON.parse(m.data);
      // The page was drawn from the window a moment ago; a reconnect shows alerts again.
      groups.clear();
      for (const a of s.alerts) onAlert(a, false);
      dirty = true; drawAlerts();
      if (!first) feedLine("reconnected", "muted");
      first = false;
      status.textContent = "connected";
      status.className = "live-status on";
      document.body.setAttribute("data-live", "1");
      // `#once`: hang up after the snapshot (screenshots, headless checks).
      if (location.hash === "#once") es.close();
    });
    es.addEventListener("event", (m) => onEvent(JSON.parse(m.data)));
    es.addEventListener("alert", (m) => onAlert(JSON.parse(m.data), true));
    es.onerror = () => { status.textContent = "reconnecting…"; status.className = "live-status"; };
  }

  // Replay: from the first to the last event of the window, at ×N but never in
  // under 4 s, with a clock and progress; every panel is rewound (the report's
  // range set to "up to the clock") and restored at the end.
  // Seconds; milliseconds too while a short window replays (a window of a
  // second or two otherwise showed one frozen stamp for the whole replay).
  function stamp(ms, fine) { return new Date(ms).toISOString().replace("T", " ").slice(0, fine ? 23 : 19) + " UTC"; }
  replay.addEventListener("click", () => {
    if (replay.disabled) return;
    replay.disabled = true;
    fetch("api/events?limit=20000").then((r) => r.json()).then((evs) => {
      if (!evs.length) { replay.disabled = false; clock.textContent = "nothing to replay"; return; }
      const t0 = Date.parse(evs[0].ts), t1 = Date.parse(evs[evs.length - 1].ts), span = Math.max(1, t1 - t0);
      // Never over in less than 4 s: a short window slows down instead of flashing by.
      const n = Math.min(Number(speed.value) || 600, span / 4000);
      const D = window.sshmap && window.sshmap.data;
      const started = performance.now();
      let i = 0, lastRange = -1;
      progress.hidden = false;
      document.body.setAttribute("data-replay", "running");
      const timer = setInterval(() => {
        const virt = Math.min(t1, t0 + (performance.now() - started) * n);
        for (; i < evs.length && Date.parse(evs[i].ts) <= virt; i++) pulse(evs[i]);
        clock.textContent = "replay ×" + (n >= 10 ? Math.round(n) : n.toFixed(2)) + "  " + stamp(virt, span < 60000);
        progress.value = (virt - t0) / span;
        if (D && window.sshmap.setRange) {
          const b = Math.max(0, Math.min(D.series.length - 1, Math.floor((virt / 1000 - D.t0) / D.bin)));
          if (b !== lastRange) { lastRange = b; window.sshmap.setRange([0, b]); }
        }
        if (i >= evs.length && virt >= t1) {
          clearInterval(timer);
          replay.disabled = false;
          progress.hidden = true;
          clock.textContent = "replayed " + stamp(t0) + " – " + stamp(t1);
          if (window.sshmap.setRange) window.sshmap.setRange(null);
          document.body.setAttribute("data-replay", "done");
        }
      }, 100);
    }).catch(() => { replay.disabled = false; });
  });

  connect();
})();
