// sshmap live map: subscribes to /api/stream (a snapshot of the window, then
// each event and alert) and draws pulses, arcs, counters, top lists and a feed.
// All attacker text goes through textContent, never innerHTML.
"use strict";
(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const W = 1000, H = 500, MAX_FEED = 200, MAX_MARKERS = 5000;
  const $ = (id) => document.getElementById(id);
  const st = { events: [], home: null, windowSecs: 0, alerts: 0, markers: new Map(), replaying: false };

  function proj(lat, lon) { return [(lon + 180) / 360 * W, (90 - lat) / 180 * H]; }
  function el(name, attrs, parent) {
    const e = document.createElementNS(SVG, name);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }

  (function graticule() {
    const g = $("graticule");
    for (let lon = -180; lon <= 180; lon += 30) { const [x] = proj(0, lon); el("path", { d: `M${x},0V${H}` }, g); }
    for (let lat = -60; lat <= 60; lat += 30) { const [, y] = proj(lat, 0); el("path", { d: `M0,${y}H${W}` }, g); }
  })();

  function where(ev) {
    const g = ev.geo;
    return g && typeof g.lat === "number" && typeof g.lon === "number" ? [g.lat, g.lon] : null;
  }

  function marker(ev) {
    const p = where(ev);
    if (!p) return null;
    const key = p[0].toFixed(2) + "," + p[1].toFixed(2);
    let m = st.markers.get(key);
    if (!m) {
      if (st.markers.size >= MAX_MARKERS) return null;
      const [x, y] = proj(p[0], p[1]);
      const c = el("circle", { cx: x.toFixed(1), cy: y.toFixed(1), r: 2, class: "marker" }, $("markers"));
      m = { c, n: 0 };
      st.markers.set(key, m);
    }
    m.n += 1;
    m.c.setAttribute("r", (2 + Math.log2(m.n)).toFixed(1));
    m.c.setAttribute("data-country", (ev.geo && ev.geo.country) || "");
    if (ev.kind === "auth_success") m.c.classList.add("success");
    const t = document.createElementNS(SVG, "title");
    t.textContent = `${(ev.geo && ev.geo.country) || "?"} · ${m.n} events`;
    m.c.replaceChildren(t);
    return m;
  }

  function pulse(ev) {
    const p = where(ev);
    if (!p) return;
    const [x, y] = proj(p[0], p[1]);
    const c = el("circle", { cx: x, cy: y, r: 2, class: "pulse" }, $("pulses"));
    setTimeout(() => c.remove(), 1600);
    if (st.home) {
      const [hx, hy] = proj(st.home[0], st.home[1]);
      const mx = (x + hx) / 2, my = Math.min(y, hy) - Math.abs(x - hx) / 4 - 10;
      const a = el("path", { d: `M${x},${y}Q${mx},${my} ${hx},${hy}`, class: "arc" }, $("arcs"));
      setTimeout(() => a.remove(), 3100);
    }
  }

  function feedLine(text, cls) {
    const li = document.createElement("li");
    li.textContent = text;
    if (cls) li.className = cls;
    const f = $("feed");
    f.insertBefore(li, f.firstChild);
    while (f.children.length > MAX_FEED) f.lastChild.remove();
  }

  function describe(ev) {
    const c = (ev.geo && ev.geo.country) || "??";
    const u = ev.user == null ? "" : ` user=${JSON.stringify(ev.user)}`;
    return `${ev.ts.slice(11, 19)} ${ev.kind} ${ev.ip || "-"} (${c})${u}`;
  }

  let dirty = false;
  function schedule() { if (!dirty) { dirty = true; requestAnimationFrame(render); } }
  function render() {
    dirty = false;
    const ips = new Map(), countries = new Map(), users = new Map();
    let attempts = 0;
    const since = Date.now() - st.windowSecs * 1000;
    st.events = st.events.filter((e) => !st.windowSecs || Date.parse(e.ts) >= since);
    for (const e of st.events) {
      const a = e.attempts || 0;
      attempts += a;
      if (e.ip) ips.set(e.ip, (ips.get(e.ip) || 0) + a);
      const c = e.geo && e.geo.country;
      if (c) countries.set(c, (countries.get(c) || 0) + a);
      if (a && e.user != null) users.set(e.user, (users.get(e.user) || 0) + a);
    }
    $("c-events").textContent = st.events.length;
    $("c-attempts").textContent = attempts;
    $("c-ips").textContent = ips.size;
    $("c-countries").textContent = countries.size;
    $("c-alerts").textContent = st.alerts;
    top("top-countries", countries); top("top-users", users); top("top-ips", ips);
  }
  function top(id, map) {
    const ol = $(id);
    const rows = [...map.entries()].sort((a, b) => b[1] - a[1]).slice(0, 10).map(([k, n]) => {
      const li = document.createElement("li");
      const name = document.createElement("span"); name.textContent = k;
      const num = document.createElement("span"); num.textContent = n;
      li.append(name, num);
      return li;
    });
    ol.replaceChildren(...rows);
  }

  function onEvent(ev, live) {
    st.events.push(ev);
    marker(ev);
    if (live) { pulse(ev); feedLine(describe(ev), ev.kind); }
    schedule();
  }

  function onAlert(a, live) {
    st.alerts += 1;
    const box = document.createElement("div");
    box.className = "alert";
    box.setAttribute("role", "alert");
    box.textContent = "INTRUSION ALERT: " + a.message;
    const list = $("alerts");
    list.insertBefore(box, list.firstChild);
    while (list.children.length > 5) list.lastChild.remove();
    if (live) feedLine(`${a.ts.slice(11, 19)} ALERT ${a.message}`, "alert");
    schedule();
  }

  function connect() {
    const es = new EventSource("api/stream");
    es.addEventListener("snapshot", (m) => {
      const s = JSON.parse(m.data);
      st.events = []; st.alerts = 0; st.markers.clear();
      $("markers").replaceChildren(); $("alerts").replaceChildren(); $("home").replaceChildren();
      st.home = s.home; st.windowSecs = s.window_seconds;
      $("window").textContent = (s.window_seconds / 3600).toFixed(1) + " h" + (s.anonymized ? " · addresses anonymized" : "");
      if (st.home) { const [x, y] = proj(st.home[0], st.home[1]); el("circle", { cx: x, cy: y, r: 4, class: "home" }, $("home")); }
      for (const e of s.events) onEvent(e, false);
      for (const a of s.alerts) onAlert(a, false);
      $("status").textContent = "live"; $("status").className = "status live";
      // `#once`: render the snapshot and hang up (screenshots, headless checks).
      if (location.hash === "#once") { es.close(); $("status").textContent = "snapshot"; }
    });
    es.addEventListener("event", (m) => onEvent(JSON.parse(m.data), !st.replaying));
    es.addEventListener("alert", (m) => onAlert(JSON.parse(m.data), true));
    es.onerror = () => { $("status").textContent = "reconnecting…"; $("status").className = "status"; };
  }

  $("replay").addEventListener("click", () => {
    if (st.replaying || !st.events.length) return;
    st.replaying = true;
    const speed = Number($("speed").value) || 600;
    const evs = st.events.slice().sort((a, b) => Date.parse(a.ts) - Date.parse(b.ts));
    const t0 = Date.parse(evs[0].ts), started = performance.now();
    $("markers").replaceChildren(); st.markers.clear();
    let i = 0;
    const timer = setInterval(() => {
      const virt = t0 + (performance.now() - started) * speed;
      for (; i < evs.length && Date.parse(evs[i].ts) <= virt; i++) { marker(evs[i]); pulse(evs[i]); }
      if (i >= evs.length) { clearInterval(timer); st.replaying = false; }
    }, 50);
  });

  connect();
})();
