/* sshmap front end: renders a data snapshot (src/report/snapshot.rs) into the
 * totals, time histogram with brush, world map (choropleth, points, heat),
 * sortable top tables, successful logins and per-address details.
 * Shared by the static HTML report and the live map: everything is drawn from
 * the snapshot object, and append() folds new events into it.
 * Attacker text is only ever set with textContent, never parsed as HTML. */
(function () {
  'use strict';
  var SVGNS = 'http://www.w3.org/2000/svg';
  var D = JSON.parse(document.getElementById('sshmap-data').textContent);
  var S = { range: null, sort: {}, view: null, labels: true, points: true, heat: false };

  // ---------- small helpers ----------
  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function sv(tag, attrs) {
    var e = document.createElementNS(SVGNS, tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  }
  function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); }
  function num(n) { return Number(n).toLocaleString('en-US'); }
  function pad(n) { return (n < 10 ? '0' : '') + n; }
  function time(secs) {
    var d = new Date((secs + D.offset) * 1000);
    var o = Math.abs(D.offset), sign = D.offset < 0 ? '-' : '+';
    return d.getUTCFullYear() + '-' + pad(d.getUTCMonth() + 1) + '-' + pad(d.getUTCDate()) + ' ' +
      pad(d.getUTCHours()) + ':' + pad(d.getUTCMinutes()) + ':' + pad(d.getUTCSeconds()) +
      ' ' + sign + pad(Math.floor(o / 3600)) + pad(Math.floor(o / 60) % 60);
  }
  // An RFC 3339 time from the snapshot in the page's one format (time()); other text as is.
  function stamp(x) { var ms = Date.parse(x); return isNaN(ms) ? x : time(Math.floor(ms / 1000)); }
  function nbins() { return D.series.length; }
  function lo() { return S.range ? S.range[0] : 0; }
  function hi() { return S.range ? S.range[1] : nbins() - 1; }
  // Sums a flat [bin, a, e, …] (stride 3) or [bin, a, …] (stride 2) series over the range.
  function sum(s, stride) {
    var a = 0, e = 0, l = lo(), h = hi();
    for (var i = 0; i < s.length; i += stride) {
      var b = s[i];
      if (b < l || b > h) continue;
      a += s[i + 1];
      if (stride === 3) e += s[i + 2];
    }
    return stride === 3 ? [a, e] : a;
  }
  function country(i) { return i === null || i === undefined ? null : D.countries[i]; }

  // ---------- the filtered view of the snapshot ----------
  function compute() {
    var v = { attempts: 0, events: 0, successes: 0, ips: [], countries: [], users: [], asns: [] };
    var l = lo(), h = hi();
    for (var b = l; b <= h; b++) {
      var c = D.series[b];
      v.attempts += c[0]; v.events += c[1]; v.successes += c[2];
    }
    D.countries.forEach(function (c, i) {
      var ae = sum(c.s, 3);
      if (ae[1] > 0) v.countries.push({ i: i, cc: c.cc, name: c.name, a: ae[0], e: ae[1], ips: 0, rest: ae[0] });
    });
    var byC = {};
    v.countries.forEach(function (c) { byC[c.i] = c; });
    D.ips.forEach(function (r, i) {
      var ae = S.range ? sum(r.s, 3) : [r.a, r.e];
      if (ae[1] === 0) return;
      v.ips.push({ i: i, r: r, a: ae[0], e: ae[1] });
      var c = byC[r.c];
      if (c) { c.ips++; c.rest -= ae[0]; }
    });
    var others = 0, iv = D.others.iv;
    for (var k = 0; k < iv.length; k += 3) if (iv[k] <= h && iv[k + 1] >= l) others += iv[k + 2];
    v.uniqueIps = v.ips.length + others;
    v.others = others;
    D.users.forEach(function (u) { var a = sum(u.s, 2); if (a > 0) v.users.push({ u: u.u, a: a }); });
    D.asns.forEach(function (r) { var ae = sum(r.s, 3); if (ae[1] > 0) v.asns.push({ asn: r.asn, org: r.org, a: ae[0], e: ae[1] }); });
    if (!S.range) {
      // The whole range: the exact totals computed in Rust (the same as `sshmap stats --json`).
      v.attempts = D.totals.attempts; v.events = D.totals.events; v.successes = D.totals.successes;
      v.uniqueIps = D.totals.unique_ips;
    }
    return v;
  }

  // ---------- totals ----------
  function renderTotals(v) {
    $('t-attempts').textContent = num(v.attempts);
    $('t-ips').textContent = num(v.uniqueIps);
    $('t-countries').textContent = num(v.countries.length);
    $('t-successes').textContent = num(v.successes);
    $('t-events').textContent = num(v.events);
    var r = $('range');
    if (!D.from) r.textContent = 'No events.';
    else if (S.range) r.textContent = 'Showing ' + time(D.t0 + lo() * D.bin) + ' – ' + time(D.t0 + (hi() + 1) * D.bin) + ' (of ' + stamp(D.from) + ' – ' + stamp(D.to) + ')';
    else r.textContent = stamp(D.from) + ' – ' + stamp(D.to) + (D.anonymized ? ' · addresses anonymized' : '');
  }

  // ---------- time histogram with brush ----------
  // The axis starts at the first bin with events when the leading empty part is most
  // of the range (a fresh live server's window), so the data fills the width.
  var TL = { w: 0, h: 120, left: 44, bottom: 18, drag: null, first: 0 };
  function shown() { return Math.max(1, nbins() - TL.first); }
  function tlX(bin) { return TL.left + (bin - TL.first) * (TL.w - TL.left - 4) / shown(); }
  function tlBin(x) {
    var b = TL.first + Math.floor((x - TL.left) * shown() / Math.max(1, TL.w - TL.left - 4));
    return Math.max(TL.first, Math.min(nbins() - 1, b));
  }
  function firstBin() {
    var f = 0;
    while (f < nbins() - 1 && D.series[f][1] === 0) f++;
    // Keep a little room before the first event: a tenth of what follows.
    f = Math.max(0, f - Math.ceil((nbins() - f) / 10));
    return f > nbins() / 2 ? f : 0;
  }
  function renderTimeline() {
    var svg = $('timeline');
    TL.w = svg.clientWidth || 900;
    TL.first = firstBin();
    svg.setAttribute('viewBox', '0 0 ' + TL.w + ' ' + TL.h);
    clear(svg);
    var max = 1;
    D.series.forEach(function (c) { if (c[0] > max) max = c[0]; });
    var ph = TL.h - TL.bottom - 6, bw = Math.max(1, tlX(1) - tlX(0) - (nbins() > 150 ? 0 : 1));
    svg.appendChild(sv('line', { x1: TL.left, x2: TL.w, y1: TL.h - TL.bottom, y2: TL.h - TL.bottom, 'class': 'axis' }));
    D.series.forEach(function (c, b) {
      if (b < TL.first) return;
      if (c[0] > 0) {
        var hgt = Math.max(1, ph * (S.log ? Math.log(1 + c[0]) / Math.log(1 + max) : c[0] / max));
        svg.appendChild(sv('rect', { x: tlX(b), y: TL.h - TL.bottom - hgt, width: bw, height: hgt, 'class': 'b' }));
      }
      if (c[2] > 0) svg.appendChild(sv('rect', { x: tlX(b), y: TL.h - TL.bottom + 2, width: Math.max(bw, 2), height: 4, 'class': 's' }));
    });
    var t = sv('text', { x: TL.left - 4, y: 12, 'text-anchor': 'end' }); t.textContent = num(max); svg.appendChild(t);
    t = sv('text', { x: TL.left - 4, y: TL.h - TL.bottom, 'text-anchor': 'end' }); t.textContent = '0'; svg.appendChild(t);
    // Ticks on round times of the log's own zone (every 5 min … 7 days), at most about six.
    var span = shown() * D.bin, steps = [300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800];
    var step = steps.filter(function (x) { return span / x <= 6; })[0] || 604800;
    var t0 = D.t0 + TL.first * D.bin;
    var first = Math.ceil((t0 + D.offset) / step) * step - D.offset;
    for (var tt = first; tt <= t0 + span; tt += step) {
      var tx = TL.left + (tt - t0) / D.bin * (TL.w - TL.left - 4) / shown();
      svg.appendChild(sv('line', { x1: tx, x2: tx, y1: TL.h - TL.bottom, y2: TL.h - TL.bottom + 3, 'class': 'axis' }));
      var lab = sv('text', { x: tx, y: TL.h - 4, 'text-anchor': tx > TL.w - 40 ? 'end' : tx < TL.left + 30 ? 'start' : 'middle' });
      var full = time(tt);
      lab.textContent = step >= 86400 ? full.slice(5, 10) : span > 86400 ? full.slice(5, 16) : full.slice(11, 16);
      svg.appendChild(lab);
    }
    var sel = sv('rect', { id: 'brush', 'class': 'sel', y: 2, height: TL.h - TL.bottom - 2, x: 0, width: 0 });
    if (S.range) { var r0 = Math.max(S.range[0], TL.first); sel.setAttribute('x', tlX(r0)); sel.setAttribute('width', Math.max(0, tlX(S.range[1] + 1) - tlX(r0))); }
    svg.appendChild(sel);
  }
  function tlPoint(ev) {
    var svg = $('timeline'), r = svg.getBoundingClientRect();
    return (ev.clientX - r.left) * TL.w / r.width;
  }
  function setupBrush() {
    var svg = $('timeline');
    svg.addEventListener('mousedown', function (ev) {
      TL.drag = { from: tlBin(tlPoint(ev)), to: tlBin(tlPoint(ev)) };
      ev.preventDefault();
    });
    window.addEventListener('mousemove', function (ev) {
      if (!TL.drag) return;
      TL.drag.to = tlBin(tlPoint(ev));
      var a = Math.min(TL.drag.from, TL.drag.to), b = Math.max(TL.drag.from, TL.drag.to);
      var sel = $('brush');
      sel.setAttribute('x', tlX(a)); sel.setAttribute('width', tlX(b + 1) - tlX(a));
    });
    window.addEventListener('mouseup', function () {
      if (!TL.drag) return;
      var a = Math.min(TL.drag.from, TL.drag.to), b = Math.max(TL.drag.from, TL.drag.to);
      TL.drag = null;
      setRange(a <= TL.first && b === nbins() - 1 ? null : [a, b]);
    });
    $('brush-clear').addEventListener('click', function () { setRange(null); });
    $('t-log').addEventListener('change', function (e) { S.log = e.target.checked; renderTimeline(); });
  }
  function setRange(r) {
    S.range = r;
    $('brush-clear').hidden = !r;
    render();
  }

  // ---------- map ----------
  var M = { groups: [], drag: null, moved: false };
  function colorFor(a, max) {
    if (a <= 0) return null;
    var t = Math.log(1 + a) / Math.log(1 + max);
    // dark red → orange → yellow
    var r = Math.round(90 + 165 * Math.min(1, t * 1.4));
    var g = Math.round(30 + 190 * Math.max(0, t - 0.35) / 0.65);
    var b = Math.round(40 + 20 * t);
    return 'rgb(' + r + ',' + g + ',' + b + ')';
  }
  function zoomK() { return S.view ? D.world.w / S.view[2] : 1; }
  function setView(v) {
    var W = D.world.w, H = D.world.h;
    var w = Math.max(W / 40, Math.min(W, v[2])), h = w * H / W;
    var x = Math.max(0, Math.min(W - w, v[0])), y = Math.max(0, Math.min(H - h, v[1]));
    S.view = [x, y, w, h];
    $('map').setAttribute('viewBox', x + ' ' + y + ' ' + w + ' ' + h);
  }
  function renderMap(v) {
    var maxC = 1;
    v.countries.forEach(function (c) { if (c.a > maxC) maxC = c.a; });
    var byCC = {};
    v.countries.forEach(function (c) { byCC[c.cc] = c; });
    var paths = $('countries').children;
    for (var i = 0; i < paths.length; i++) {
      var p = paths[i], c = byCC[p.getAttribute('data-cc')];
      var col = c ? colorFor(c.a, maxC) : null;
      if (col) { p.setAttribute('fill', col); p.classList.add('hit'); } else { p.removeAttribute('fill'); p.classList.remove('hit'); }
      p.style.fill = col || '';
    }
    // Points: addresses grouped by where they are drawn, plus each country's other addresses.
    var groups = {}, list = [];
    function group(x, y, key) {
      var g = groups[key];
      if (!g) { g = groups[key] = { x: x, y: y, ips: [], a: 0, rest: 0, c: null, city: false, ok: 0 }; list.push(g); }
      return g;
    }
    v.ips.forEach(function (it) {
      var r = it.r;
      if (r.x === null || r.x === undefined) return;
      var g = group(r.x, r.y, r.x + ',' + r.y);
      g.ips.push(it); g.a += it.a; if (r.p === 'city') g.city = true; if (r.ok) g.ok += r.ok;
      if (g.c === null) g.c = r.c;
    });
    v.countries.forEach(function (c) {
      var cc = D.countries[c.i];
      if (c.rest <= 0 || cc.x === null || cc.x === undefined) return;
      var g = group(cc.x, cc.y, cc.x + ',' + cc.y);
      g.rest += c.rest; g.a += c.rest; g.c = c.i;
    });
    list.sort(function (a, b) { return b.a - a.a; });
    M.groups = list;
    drawPoints();
    var leg = $('legend');
    clear(leg);
    leg.appendChild(el('span', null, 'attempts per country:'));
    [1, Math.round(Math.sqrt(maxC)), maxC].filter(function (a, i, all) { return a >= 1 && all.indexOf(a) === i; }).forEach(function (a) {
      var sw = el('span', 'ramp'); sw.style.background = colorFor(Math.max(1, a), maxC);
      leg.appendChild(sw); leg.appendChild(el('span', null, num(a)));
    });
    leg.appendChild(el('span', null, ' · point area ∝ attempts; yellow = city precision, red = country precision · '));
    var ring = el('span', 'ring-key'); leg.appendChild(ring);
    leg.appendChild(el('span', null, 'ring = an address that logged in · label: place, attempts (addresses)'));
  }
  function drawPoints() {
    var pts = $('points'), heat = $('heat'), labels = $('labels');
    clear(pts); clear(heat); clear(labels);
    var list = M.groups, max = list.length ? list[0].a : 1, k = Math.pow(zoomK(), 0.75);
    for (var i = list.length - 1; i >= 0; i--) {
      var g = list[i], r = (1.6 + 16 * Math.sqrt(g.a / max)) / k;
      if (S.heat) heat.appendChild(sv('circle', { cx: g.x, cy: g.y, r: r * 2.2, 'fill-opacity': 0.25 + 0.75 * Math.sqrt(g.a / max) }));
      if (!S.points) continue;
      var cls = (g.city ? 'city' : '') + (g.ok ? ' ok' : '');
      pts.appendChild(sv('circle', { cx: g.x, cy: g.y, r: r, 'class': cls, 'data-g': i }));
    }
    if (!S.labels || !S.points) return;
    // Labels keep one size on screen whatever the zoom or the page width: sizes are
    // in screen pixels times the user units per pixel. The busiest groups are labelled
    // first; a label that would overlap one already placed is dropped.
    var px = S.view[2] / ($('map').getBoundingClientRect().width || D.world.w);
    var placed = [], fs = 11 * px, shown = 0;
    for (var j = 0; j < list.length && shown < 20; j++) {
      var gg = list[j], text = groupLabel(gg);
      var x = gg.x + (2 + 16 * Math.sqrt(gg.a / max)) / k + 2 * px, y = gg.y + fs * 0.35;
      var box = [x - 2 * px, y - fs, x + text.length * fs * 0.62 + 2 * px, y + fs * 0.3];
      if (placed.some(function (b) { return box[0] < b[2] && b[0] < box[2] && box[1] < b[3] && b[1] < box[3]; })) continue;
      placed.push(box);
      var t = sv('text', { x: x, y: y, 'font-size': fs, 'stroke-width': 3 * px });
      t.textContent = text;
      labels.appendChild(t);
      shown++;
    }
  }
  function groupLabel(g) {
    var n = g.ips.length + (g.rest > 0 ? 1 : 0);
    if (g.ips.length === 1 && g.rest <= 0) return g.ips[0].r.ip + ' ' + num(g.a) + (g.ok ? ' · logged in' : '');
    var c = country(g.c), where = g.ips.length && g.ips[0].r.city ? g.ips[0].r.city : c ? c.cc : '';
    // "32 IPs" listed one by one; "32 IPs and more" when small ones are only counted per country.
    return where + ' ' + num(g.a) + (n > 1 ? ' (' + num(g.ips.length) + ' IP' + (g.ips.length === 1 ? '' : 's') + (g.rest > 0 ? ' and more' : '') + ')' : '') + (g.ok ? ' · logged in' : '');
  }
  function ipLines(it) {
    var r = it.r, c = country(r.c), L = [];
    L.push(r.ip + (r.ok ? '  ⚠ logged in ' + num(r.ok) + '×' : ''));
    L.push([r.city, c ? c.name : null].filter(Boolean).join(', ') + (r.p ? ' (' + r.p + ' precision)' : ''));
    if (r.asn !== null && r.asn !== undefined) L.push('AS' + r.asn + (r.org ? ' ' + r.org : ''));
    L.push('attempts: ' + num(it.a) + (S.range ? ' in range (' + num(r.a) + ' total)' : ''));
    if (r.u.length) L.push('users: ' + r.u.slice(0, 8).map(function (u) { return u[0]; }).join(', ') + (r.u.length > 8 || r.um ? ', …' : ''));
    L.push('first: ' + time(r.f));
    L.push('last:  ' + time(r.l));
    return L;
  }
  function groupLines(g) {
    if (g.ips.length === 1 && g.rest <= 0) return ipLines(g.ips[0]);
    var c = country(g.c), L = [];
    var head = (g.ips.length && g.ips[0].r.city ? g.ips[0].r.city + ', ' : '') + (c ? c.name : '');
    L.push(head + ': ' + num(g.a) + ' attempts');
    g.ips.slice().sort(function (a, b) { return b.a - a.a; }).slice(0, 8).forEach(function (it) {
      L.push(it.r.ip + '  ' + num(it.a) + (it.r.asn ? '  AS' + it.r.asn : ''));
    });
    if (g.ips.length > 8) L.push('… ' + num(g.ips.length - 8) + ' more addresses');
    if (g.rest > 0) L.push('other addresses: ' + num(g.rest) + ' attempts');
    L.push('click for details');
    return L;
  }
  function countryLines(cc) {
    var v = S.v, c = null;
    v.countries.forEach(function (x) { if (x.cc === cc) c = x; });
    var name = (D.countries.filter(function (x) { return x.cc === cc; })[0] || {}).name || cc;
    if (!c) return [name + ': no attempts' + (S.range ? ' in range' : '')];
    return [name + ' (' + cc + ')', 'attempts: ' + num(c.a), 'events: ' + num(c.e), 'addresses shown: ' + num(c.ips)];
  }
  function showTip(ev, lines) {
    var tip = $('tip'), wrap = $('map-wrap').getBoundingClientRect();
    tip.textContent = lines.join('\n');
    tip.hidden = false;
    var x = ev.clientX - wrap.left + 14, y = ev.clientY - wrap.top + 14;
    if (x + 340 > wrap.width) x = Math.max(0, x - 360);
    tip.style.left = x + 'px'; tip.style.top = y + 'px';
  }
  function setupMap() {
    var svg = $('map');
    setView([0, 0, D.world.w, D.world.h]);
    svg.addEventListener('mousemove', function (ev) {
      if (M.drag) return;
      var t = ev.target;
      if (t.hasAttribute && t.hasAttribute('data-g')) showTip(ev, groupLines(M.groups[+t.getAttribute('data-g')]));
      else if (t.hasAttribute && t.hasAttribute('data-cc') && t.classList.contains('hit')) showTip(ev, countryLines(t.getAttribute('data-cc')));
      else $('tip').hidden = true;
    });
    svg.addEventListener('mouseleave', function () { $('tip').hidden = true; });
    svg.addEventListener('click', function (ev) {
      if (M.moved) return;
      var t = ev.target;
      if (t.hasAttribute('data-g')) showGroup(M.groups[+t.getAttribute('data-g')]);
      else if (t.hasAttribute('data-cc') && t.classList.contains('hit')) showCountry(t.getAttribute('data-cc'));
    });
    svg.addEventListener('wheel', function (ev) {
      ev.preventDefault();
      zoomAt(ev.deltaY < 0 ? 1.25 : 0.8, ev);
    }, { passive: false });
    svg.addEventListener('mousedown', function (ev) {
      M.drag = { x: ev.clientX, y: ev.clientY, v: S.view.slice() }; M.moved = false;
    });
    window.addEventListener('mousemove', function (ev) {
      if (!M.drag) return;
      var r = svg.getBoundingClientRect(), s = S.view[2] / r.width;
      var dx = ev.clientX - M.drag.x, dy = ev.clientY - M.drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 3) { M.moved = true; svg.classList.add('dragging'); $('tip').hidden = true; }
      if (M.moved) setView([M.drag.v[0] - dx * s, M.drag.v[1] - dy * s, M.drag.v[2]]);
    });
    window.addEventListener('mouseup', function () { M.drag = null; svg.classList.remove('dragging'); });
    $('zoom-in').addEventListener('click', function () { zoomAt(1.5); });
    $('zoom-out').addEventListener('click', function () { zoomAt(1 / 1.5); });
    $('zoom-reset').addEventListener('click', function () { setView([0, 0, D.world.w, D.world.h]); drawPoints(); });
    $('t-points').addEventListener('change', function (e) { S.points = e.target.checked; drawPoints(); });
    $('t-heat').addEventListener('change', function (e) { S.heat = e.target.checked; drawPoints(); });
    $('t-labels').addEventListener('change', function (e) { S.labels = e.target.checked; drawPoints(); });
  }
  function zoomAt(f, ev) {
    var v = S.view, cx = v[0] + v[2] / 2, cy = v[1] + v[3] / 2;
    if (ev) {
      var r = $('map').getBoundingClientRect();
      cx = v[0] + (ev.clientX - r.left) / r.width * v[2];
      cy = v[1] + (ev.clientY - r.top) / r.height * v[3];
    }
    var w = v[2] / f, h = v[3] / f;
    setView([cx - (cx - v[0]) / f, cy - (cy - v[1]) / f, w, h]);
    drawPoints();
  }

  // ---------- details (a point, a country, an address) ----------
  function openDetail(title) {
    var d = $('detail');
    if (S.expand) S.expand.det = 0;
    d.hidden = false;
    $('detail-title').textContent = title;
    var body = $('detail-body');
    clear(body);
    return body;
  }
  function showGroup(g) {
    if (g.ips.length === 1 && g.rest <= 0) return showIp(g.ips[0].i);
    var c = country(g.c);
    var body = openDetail((c ? c.name : 'Addresses') + ' — ' + num(g.a) + ' attempts');
    body.appendChild(ipTable(g.ips, 'det'));
    if (g.rest > 0) body.appendChild(el('p', 'muted', num(g.rest) + ' attempts from addresses too small to list individually.'));
    $('detail').scrollIntoView({ block: 'nearest' });
  }
  function showCountry(cc) {
    var items = S.v.ips.filter(function (it) { var c = country(it.r.c); return c && c.cc === cc; });
    var lines = countryLines(cc);
    var body = openDetail(lines[0]);
    body.appendChild(el('p', 'muted', lines.slice(1).join(' · ')));
    body.appendChild(ipTable(items, 'det'));
    $('detail').scrollIntoView({ block: 'nearest' });
  }
  // A user name: the addresses that tried it and its logins.
  function showUser(name) {
    var body = openDetail('user ' + (name === '' ? '(empty)' : name));
    var items = S.v.ips.filter(function (it) { return it.r.u.some(function (u) { return u[0] === name; }); });
    var tried = 0;
    items.forEach(function (it) { it.r.u.forEach(function (u) { if (u[0] === name) tried += u[1]; }); });
    body.appendChild(el('p', 'muted', num(tried) + ' attempts on this name from ' + num(items.length) + ' listed address' + (items.length === 1 ? '' : 'es') + ' (click one for its sessions)'));
    body.appendChild(ipTable(items, 'det'));
    var logins = D.successes.filter(function (s) { return s.u === name; });
    body.appendChild(el('h2', null, 'Logins of this user'));
    if (!logins.length) body.appendChild(el('p', 'muted', 'None.'));
    logins.sort(loginRank).slice(0, 10).forEach(function (s) { body.appendChild(loginCard(s)); });
    if (logins.length > 10) body.appendChild(el('p', 'muted', '… ' + num(logins.length - 10) + ' more in Successful logins (filter by the name).'));
    $('detail').scrollIntoView({ block: 'nearest' });
  }
  function sessionTable(list, mark) {
    var t = el('table');
    var hr = el('tr');
    ['start', 'end', 'host', 'pid', 'port', 'attempts', 'users', 'what happened'].forEach(function (h) { hr.appendChild(el('th', null, h)); });
    t.appendChild(hr);
    list.forEach(function (s) {
      var tr = el('tr', mark && s.start <= mark && mark <= s.end + 1 ? 'okrow' : '');
      [time(s.start), time(s.end).slice(11), s.host, s.pid, s.port, num(s.attempts), s.users.join(', ')].forEach(function (x) { tr.appendChild(el('td', null, x === null ? '' : x)); });
      var td = el('td');
      s.kinds.forEach(function (k) { td.appendChild(el('span', 'kind', k)); });
      tr.appendChild(td);
      t.appendChild(tr);
    });
    return t;
  }
  function showIp(i, login) {
    var r = D.ips[i], it = null;
    S.v.ips.forEach(function (x) { if (x.i === i) it = x; });
    var body = openDetail(r.ip);
    ipLines(it || { r: r, a: 0 }).slice(1).forEach(function (l) { body.appendChild(el('div', null, l)); });
    if (r.u.length) {
      body.appendChild(el('h2', null, 'Users tried'));
      body.appendChild(el('div', 'mono', r.u.map(function (u) { return u[0] + ' (' + u[1] + ')'; }).join(', ') + (r.um ? ', …' : '')));
    }
    if (login && login.ss) {
      // The sessions of this address up to the login the user came from, then the login itself.
      body.appendChild(el('h2', null, 'Sessions around the login at ' + time(login.t)));
      var around = login.ss.slice();
      if (!around.some(function (s) { return s.start <= login.t && login.t <= s.end + 1; }))
        around.push({ start: login.t, end: login.t, host: null, pid: null, port: null, attempts: 0, users: login.u === null ? [] : [login.u], kinds: ['auth_success'] });
      body.appendChild(sessionTable(around, login.t));
      var after = (r.ss || []).filter(function (s) { return s.start > login.t; }).slice(0, 4);
      if (after.length) { body.appendChild(el('div', 'muted', 'later sessions (the earliest of those kept):')); body.appendChild(sessionTable(after)); }
    }
    body.appendChild(el('h2', null, login ? 'Latest sessions of this address' : 'Sessions'));
    if (!r.ss) { body.appendChild(el('p', 'muted', 'Sessions are kept for the busiest addresses and those that logged in.')); return; }
    body.appendChild(sessionTable(r.ss));
    body.appendChild(el('p', 'muted', 'The last ' + r.ss.length + ' sessions of this address.'));
    $('detail').scrollIntoView({ block: 'nearest' });
  }

  // ---------- sortable tables ----------
  var ROWS = 25;
  function table(id, cols, rows, onClick) {
    var t = typeof id === 'string' ? $(id) : id;
    clear(t);
    var key = typeof id === 'string' ? id : 'det';
    var st = S.sort[key] || { col: cols.findIndex(function (c) { return c.sort; }), asc: false };
    var col = cols[st.col];
    rows = rows.slice().sort(function (a, b) {
      var x = col.v(a), y = col.v(b), r = typeof x === 'number' ? x - y : String(x).localeCompare(String(y));
      return st.asc ? r : -r;
    });
    var hr = el('tr');
    cols.forEach(function (c, i) {
      var th = el('th', (c.num ? 'num' : '') + (i === st.col ? ' sorted' + (st.asc ? ' asc' : '') : ''), c.label);
      if (c.title) th.title = c.title;
      th.addEventListener('click', function () {
        S.sort[key] = { col: i, asc: i === st.col ? !st.asc : !c.num };
        render();
      });
      hr.appendChild(th);
    });
    t.appendChild(hr);
    var max = 1;
    rows.forEach(function (r) { if (r.a > max) max = r.a; });
    var limit = (S.expand && S.expand[key]) || ROWS;
    rows.slice(0, limit).forEach(function (r) {
      var tr = el('tr', (onClick ? 'click' : '') + (r.r && r.r.ok ? ' okrow' : ''));
      cols.forEach(function (c) {
        var td = el('td', c.num ? 'num' : c.cls || null);
        if (c.bar) { var b = el('span', 'pct'); b.style.width = Math.round(40 * r.a / max) + 'px'; td.appendChild(b); }
        td.appendChild(document.createTextNode(c.f ? c.f(r) : String(c.v(r))));
        tr.appendChild(td);
      });
      if (onClick) tr.addEventListener('click', function () { onClick(r); });
      t.appendChild(tr);
    });
    if (rows.length > limit) {
      // "… N more" opens the next rows (a hundred at a time) in place.
      var tr = el('tr', 'more'), td = el('td'), more = el('button', 'expand', '… ' + num(rows.length - limit) + ' more — show ' + num(Math.min(100, rows.length - limit)));
      more.addEventListener('click', function () {
        S.expand = S.expand || {}; S.expand[key] = limit + 100;
        // A detail panel's table is redrawn in place; the page's tables with everything else.
        if (key === 'det') table(t, cols, rows, onClick); else render();
      });
      td.appendChild(more);
      td.colSpan = cols.length; tr.appendChild(td); t.appendChild(tr);
    }
    return t;
  }
  // City and network columns only when some database gave them.
  var HAS_CITY = D.ips.some(function (r) { return r.city; });
  var HAS_ASN = D.asns.length > 0 || D.ips.some(function (r) { return r.asn !== null && r.asn !== undefined; });
  function ipTable(items, id) {
    return table(typeof id === 'string' && id !== 'det' ? id : el('table'), [
      { label: 'IP', cls: 'mono nowrap', v: function (x) { return x.r.ip; } },
      { label: 'country', v: function (x) { var c = country(x.r.c); return c ? c.cc : ''; } },
      HAS_CITY && { label: 'city', v: function (x) { return x.r.city || ''; } },
      HAS_ASN && { label: 'ASN', v: function (x) { return x.r.asn ? 'AS' + x.r.asn + (x.r.org ? ' ' + x.r.org : '') : ''; } },
      { label: 'attempts', num: true, sort: true, bar: true, v: function (x) { return x.a; }, f: function (x) { return num(x.a); } },
      { label: 'users tried', v: function (x) { return x.r.u.length; }, f: function (x) { return x.r.u.slice(0, 4).map(function (u) { return u[0]; }).join(', ') + (x.r.u.length > 4 || x.r.um ? ', …' : ''); } },
      { label: 'first seen', cls: 'nowrap', v: function (x) { return x.r.f; }, f: function (x) { return time(x.r.f).slice(5, 16); } },
      { label: 'last seen', cls: 'nowrap', v: function (x) { return x.r.l; }, f: function (x) { return time(x.r.l).slice(5, 16); } }
    ].filter(Boolean), items, function (x) { showIp(x.i); });
  }
  // The search box filters every table: IP, user, country (code or name), network (ASN or name).
  function query() { return (S.query || '').trim().toLowerCase(); }
  function has(q) { return function () { for (var i = 0; i < arguments.length; i++) { var x = arguments[i]; if (x !== null && x !== undefined && String(x).toLowerCase().indexOf(q) >= 0) return true; } return false; }; }
  function renderTables(v) {
    var q = query(), m = has(q);
    if (q) {
      v = {
        countries: v.countries.filter(function (c) { return m(c.cc, c.name); }),
        ips: v.ips.filter(function (x) { var c = country(x.r.c); return m(x.r.ip, x.r.city, x.r.org, x.r.asn === null || x.r.asn === undefined ? null : 'AS' + x.r.asn, c ? c.cc : null, c ? c.name : null) || x.r.u.some(function (u) { return m(u[0]); }); }),
        users: v.users.filter(function (u) { return m(u.u); }),
        asns: v.asns.filter(function (r) { return m('AS' + r.asn, r.org); })
      };
    }
    if ($('search-info')) $('search-info').textContent = q ? num(v.ips.length) + ' addresses, ' + num(v.users.length) + ' users, ' + num(v.countries.length) + ' countries, ' + num(v.asns.length) + ' networks match' : '';
    table('tbl-countries', [
      { label: 'country', v: function (c) { return c.name; }, f: function (c) { return c.name + ' (' + c.cc + ')'; } },
      { label: 'attempts', num: true, sort: true, bar: true, v: function (c) { return c.a; }, f: function (c) { return num(c.a); } },
      { label: 'events', num: true, v: function (c) { return c.e; }, f: function (c) { return num(c.e); } },
      { label: 'addresses', title: 'addresses listed one by one (the busiest); the others are counted in attempts', num: true, v: function (c) { return c.ips; }, f: function (c) { return num(c.ips); } }
    ], v.countries, function (c) { showCountry(c.cc); });
    ipTable(v.ips, 'tbl-ips');
    table('tbl-users', [
      { label: 'user', v: function (u) { return u.u; }, f: function (u) { return u.u === '' ? '(empty)' : u.u; } },
      { label: 'attempts', num: true, sort: true, bar: true, v: function (u) { return u.a; }, f: function (u) { return num(u.a); } }
    ], v.users, function (u) { showUser(u.u); });
    table('tbl-asns', [
      { label: 'ASN', v: function (r) { return r.asn; }, f: function (r) { return 'AS' + r.asn; } },
      { label: 'network', v: function (r) { return r.org || ''; } },
      { label: 'attempts', num: true, sort: true, bar: true, v: function (r) { return r.a; }, f: function (r) { return num(r.a); } }
    ], v.asns);
    $('tbl-asns').parentNode.hidden = !HAS_ASN;
  }

  // ---------- successful logins ----------
  // Suspicious logins (after failures from the address or for the user, or from a
  // new country for the user) come first as cards; the others are collapsed
  // into one line with counts until the user asks for them.
  var LOGIN_STEP = 10, ROUTINE_STEP = 50;
  function suspicious(s) { return s.fb > 0 || s.fu > 0 || s.nc; }
  function loginRank(a, b) {
    return (b.fb - a.fb) || ((b.nc ? 1 : 0) - (a.nc ? 1 : 0)) || ((b.fu || 0) - (a.fu || 0)) || (a.t - b.t);
  }
  function loginMatches(s, q) {
    if (!q) return true;
    var hay = [s.u, s.ip, s.c, s.m, (s.pw || []).map(function (p) { return p[1]; }).join(' '),
      (s.cmd || []).map(function (c) { return c[1]; }).join(' '), s.c ? (country(D.countries.findIndex(function (x) { return x.cc === s.c; })) || {}).name : null]
      .filter(function (x) { return x !== null && x !== undefined; }).join(' ').toLowerCase();
    return hay.indexOf(q) >= 0;
  }
  function loginWhy(s) {
    var w = [];
    if (s.fb > 0) w.push('after ' + num(s.fb) + ' failed attempt' + (s.fb > 1 ? 's' : '') + ' from this address');
    if (s.fu > 0) w.push((w.length ? '' : 'after ') + num(s.fu) + ' failed attempt' + (s.fu > 1 ? 's' : '') + ' for this user');
    if (s.nc) w.push('first login of this user from ' + (s.c || 'this country'));
    return w.join(', ');
  }
  function loginCard(s) {
    var d = el('div', 'success' + (suspicious(s) ? ' brute' : ''));
    var c = s.c ? ' (' + s.c + ')' : '';
    d.appendChild(el('div', 'head', time(s.t) + '  ' + (s.u === null ? '?' : s.u) + ' from ' + (s.ip || 'unknown address') + c + (s.m ? ' by ' + s.m : '')));
    d.appendChild(el('div', null, loginWhy(s)));
    if (s.fb > 0 && s.rf.length) {
      d.appendChild(el('div', 'muted', 'the last failures from this address:'));
      var ul = el('ul');
      s.rf.forEach(function (f) {
        ul.appendChild(el('li', null, time(f.t) + '  ' + f.k + '  ' + (f.u === null ? '' : f.u) + (f.p !== undefined ? '  password ' + f.p : '')));
      });
      d.appendChild(ul);
    }
    // A honeypot's record (Cowrie): the passwords tried on this connection and
    // the commands typed after the login. Attacker text: textContent only.
    if (s.pw && s.pw.length) {
      d.appendChild(el('div', 'muted', 'passwords tried on this connection (the last one got in):'));
      var pl = el('ol', 'pw');
      s.pw.forEach(function (p) { pl.appendChild(el('li', null, (p[0] === null ? '?' : p[0]) + '  ' + p[1])); });
      d.appendChild(pl);
    }
    if (s.cmd && s.cmd.length) {
      d.appendChild(el('div', 'muted', 'commands typed after the login:'));
      var pre = el('pre', 'cmd', s.cmd.map(function (c) { return time(c[0]) + '  $ ' + c[1]; }).join('\n') +
        (s.cmdm ? '\n… ' + num(s.cmdm) + ' more' : ''));
      d.appendChild(pre);
    }
    if (s.i !== null && s.i !== undefined) {
      var b = el('button', null, 'sessions of ' + s.ip);
      b.addEventListener('click', function () { showIp(s.i, s); });
      d.appendChild(b);
    }
    return d;
  }
  function renderSuccesses() {
    var box = $('successes');
    clear(box);
    var t1 = D.t0 + lo() * D.bin, t2 = D.t0 + (hi() + 1) * D.bin;
    var q = (S.loginQuery || '').trim().toLowerCase();
    var inRange = D.successes.filter(function (s) { return s.t >= t1 && s.t < t2; });
    var shown = inRange.filter(function (s) { return loginMatches(s, q); });
    var sus = shown.filter(suspicious).sort(loginRank);
    var routine = shown.filter(function (s) { return !suspicious(s); }).sort(function (a, b) { return a.t - b.t; });
    // Without a filter or range, the count of routine logins is the true total, not the page's cut list.
    var routineAll = !q && !S.range && D.totals.suspicious !== undefined ? Math.max(routine.length, D.totals.successes - D.totals.suspicious) : routine.length;
    var bar = el('div', 'bar');
    var input = el('input');
    input.type = 'search'; input.id = 'login-filter'; input.placeholder = 'filter: user, IP, country, method';
    input.value = S.loginQuery || '';
    input.addEventListener('input', function () {
      S.loginQuery = input.value; S.loginShow = LOGIN_STEP; S.routineShow = 0;
      renderSuccesses();
      var again = $('login-filter'); again.focus(); again.setSelectionRange(again.value.length, again.value.length);
    });
    bar.appendChild(input);
    bar.appendChild(el('span', 'muted', num(sus.length) + ' suspicious · ' + num(routineAll) + ' other' +
      (q ? ' matching' : '') + (S.range ? ' in this range' : '') +
      ' · suspicious: after failures from the address or for the user, or the user’s first login from a country'));
    box.appendChild(bar);
    if (!inRange.length) { box.appendChild(el('p', 'muted', 'No successful login' + (S.range ? ' in this range.' : '.'))); return; }
    var limit = S.loginShow || LOGIN_STEP;
    sus.slice(0, limit).forEach(function (s) { box.appendChild(loginCard(s)); });
    if (sus.length > limit) {
      var more = el('button', 'more-logins', 'show ' + num(Math.min(LOGIN_STEP * 5, sus.length - limit)) + ' more of ' + num(sus.length - limit) + ' suspicious');
      more.addEventListener('click', function () { S.loginShow = limit + LOGIN_STEP * 5; renderSuccesses(); });
      box.appendChild(more);
    }
    if (routine.length) {
      // One line for the routine logins: who, from how many addresses, and a button.
      var users = {}, ips = {};
      routine.forEach(function (s) { var u = s.u === null ? '?' : s.u; users[u] = (users[u] || 0) + 1; if (s.ip) ips[s.ip] = 1; });
      var top = Object.keys(users).sort(function (a, b) { return users[b] - users[a]; });
      var line = el('div', 'routine');
      var all = routineAll, cut = all > routine.length;
      line.appendChild(el('span', null, num(all) + ' other login' + (all > 1 ? 's' : '') + ' (no failure before, known country)' +
        (cut ? '; of the ' + num(routine.length) + ' kept in this page: ' : ': ') +
        top.slice(0, 5).map(function (u) { return u + ' ×' + num(users[u]); }).join(', ') + (top.length > 5 ? ', …' : '') +
        ' from ' + num(Object.keys(ips).length) + ' address' + (Object.keys(ips).length === 1 ? '' : 'es') + ' '));
      var n = S.routineShow || 0;
      var tog = el('button', 'routine-toggle', n ? 'hide' : 'show');
      tog.addEventListener('click', function () { S.routineShow = n ? 0 : ROUTINE_STEP; renderSuccesses(); });
      line.appendChild(tog);
      box.appendChild(line);
      if (n) {
        var t = el('table', 'routine-list'), hr = el('tr');
        ['time', 'user', 'address', 'country', 'method'].forEach(function (h) { hr.appendChild(el('th', null, h)); });
        t.appendChild(hr);
        routine.slice(0, n).forEach(function (s) {
          var tr = el('tr', s.i !== null && s.i !== undefined ? 'click' : '');
          [time(s.t), s.u === null ? '?' : s.u, s.ip || '', s.c || '', s.m || ''].forEach(function (x) { tr.appendChild(el('td', null, x)); });
          if (s.i !== null && s.i !== undefined) tr.addEventListener('click', function () { showIp(s.i, s); });
          t.appendChild(tr);
        });
        box.appendChild(t);
        if (routine.length > n) {
          var mb = el('button', 'more-logins', 'show ' + num(Math.min(ROUTINE_STEP, routine.length - n)) + ' more of ' + num(routine.length - n));
          mb.addEventListener('click', function () { S.routineShow = n + ROUTINE_STEP; renderSuccesses(); });
          box.appendChild(mb);
        }
      }
    }
    if (D.successes.length < D.totals.successes && !S.range)
      box.appendChild(el('p', 'muted', 'The page keeps ' + num(D.successes.length) + ' of ' + num(D.totals.successes) +
        ' logins: every suspicious one up to 1,000, and the first 1,000 others.'));
  }

  // ---------- live updates ----------
  function userFailures(u) {
    if (u === null) return 0;
    var un = D.users.filter(function (x) { return x.u === u; })[0], n = 0;
    if (un) for (var i = 1; i < un.s.length; i += 2) n += un.s[i];
    return n;
  }
  function newCountry(u, cc) {
    if (u === null || !cc) return false;
    var before = D.successes.filter(function (s) { return s.u === u && s.c; });
    return before.length > 0 && !before.some(function (s) { return s.c === cc; });
  }
  // Folds one event into the snapshot (the live map's stream):
  // {t, attempts, success, ip, country, country_name, city, x, y, p, asn, org, user}.
  function append(ev) {
    var b = Math.floor((ev.t - D.t0) / D.bin);
    if (b < 0) return;
    while (D.series.length <= b) D.series.push([0, 0, 0]);
    var a = ev.attempts || 0, c = D.series[b];
    c[0] += a; c[1] += 1; if (ev.success) c[2] += 1;
    if (!D.from) D.from = time(ev.t);
    if (D.lastT === undefined || ev.t >= D.lastT) { D.lastT = ev.t; D.to = time(ev.t); }
    D.totals.attempts += a; D.totals.events += 1; if (ev.success) D.totals.successes += 1;
    function bump(s, stride, a2) {
      var n = s.length;
      if (n && s[n - stride] === b) { s[n - stride + 1] += a2; if (stride === 3) s[n - 1] += 1; }
      else if (stride === 3) s.push(b, a2, 1); else s.push(b, a2);
    }
    var ci = null;
    if (ev.country) {
      ci = D.countries.findIndex(function (x) { return x.cc === ev.country; });
      if (ci < 0) { D.countries.push({ cc: ev.country, name: ev.country_name || ev.country, x: null, y: null, s: [] }); ci = D.countries.length - 1; D.totals.countries++; }
      bump(D.countries[ci].s, 3, a);
    }
    if (ev.ip) {
      var r = D.ips.filter(function (x) { return x.ip === ev.ip; })[0];
      if (!r) {
        r = { ip: ev.ip, c: ci, city: ev.city || null, p: ev.p || null, x: ev.x, y: ev.y, asn: ev.asn || null, org: ev.org || null, a: 0, e: 0, f: ev.t, l: ev.t, u: [], um: false, ok: 0, s: [] };
        D.ips.push(r); D.totals.unique_ips++;
      }
      if (ev.success) {
        var uu = ev.user === undefined ? null : ev.user;
        D.successes.push({ t: ev.t, i: D.ips.indexOf(r), ip: ev.ip, u: uu, m: ev.m || null,
          c: ev.country || null, fb: r.a, fu: userFailures(uu), nc: newCountry(uu, ev.country), rf: (r.rf || []).slice() });
        if (suspicious(D.successes[D.successes.length - 1])) D.totals.suspicious = (D.totals.suspicious || 0) + 1;
      }
      r.a += a; r.e += 1; r.l = Math.max(r.l, ev.t); if (ev.success) r.ok++;
      if (a) {
        // The last failures from this address, for a later successful login's "the last:" list.
        r.rf = (r.rf || []).concat([{ t: ev.t, u: ev.user === undefined ? null : ev.user, k: ev.k || 'auth_failure' }]).slice(-5);
      }
      if (a && ev.user !== undefined && ev.user !== null) {
        var u = r.u.filter(function (x) { return x[0] === ev.user; })[0];
        if (u) u[1] += a; else r.u.push([ev.user, a]);
      }
      bump(r.s, 3, a);
      if (D.successes.length > 1000) D.successes.shift();
    } else if (ev.success) {
      D.successes.push({ t: ev.t, i: null, ip: null, u: ev.user === undefined ? null : ev.user, m: ev.m || null, c: null, fb: 0, rf: [] });
    }
    if (a && ev.user !== undefined && ev.user !== null) {
      var un = D.users.filter(function (x) { return x.u === ev.user; })[0];
      if (!un) { un = { u: ev.user, s: [] }; D.users.push(un); }
      bump(un.s, 2, a);
    }
    if (ev.asn) {
      var as = D.asns.filter(function (x) { return x.asn === ev.asn; })[0];
      if (!as) { as = { asn: ev.asn, org: ev.org || null, s: [] }; D.asns.push(as); }
      bump(as.s, 3, a);
    }
  }

  // ---------- top level ----------
  function render() {
    var v = compute();
    S.v = v;
    renderTotals(v);
    renderTimeline();
    renderMap(v);
    renderTables(v);
    renderSuccesses();
    if (!S.firstRenderMs) S.firstRenderMs = performance.now();
    document.body.setAttribute('data-rendered', '1');
  }
  $('detail-close').addEventListener('click', function () { $('detail').hidden = true; });
  // Say what the missing databases would add, once, under the tables.
  if (!HAS_CITY || !HAS_ASN) {
    var miss = [];
    if (!HAS_CITY) miss.push('cities (points at city precision): --geoip PATH with a city database (GeoLite2-City or DB-IP City Lite; `sshmap geoip update` fetches DB-IP)');
    if (!HAS_ASN) miss.push('networks (ASN): --asn PATH with an ASN database (GeoLite2-ASN or DB-IP ASN Lite)');
    var note = el('p', 'muted', 'Not in this report: ' + miss.join('; ') + '.');
    note.id = 'geo-missing';
    $('footer').parentNode.insertBefore(note, $('footer'));
  }
  if ($('search')) $('search').addEventListener('input', function (e) { S.query = e.target.value; S.expand = {}; renderTables(S.v); });
  setupBrush();
  setupMap();
  render();
  var resizeTimer = null;
  window.addEventListener('resize', function () { clearTimeout(resizeTimer); resizeTimer = setTimeout(function () { renderTimeline(); drawPoints(); }, 150); });
  window.sshmap = { data: D, firstRenderMs: S.firstRenderMs, render: render, append: function (evs) { evs.forEach(append); render(); }, setRange: setRange };
})();
