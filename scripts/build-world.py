#!/usr/bin/env python3
"""Builds assets/world/ (the embedded world map) from npm registry packages.

Inputs (fetched with `npm pack` into a temporary directory, nothing installed):
  - world-atlas@2.0.2          Natural Earth admin-0 countries, 1:50m and 1:110m (public domain)
  - i18n-iso-countries@7.14.0  numeric -> alpha-2 codes and English names (MIT)

Outputs (committed):
  - assets/world/countries.tsv   iso2, name, label lat, label lon (empty when unplaceable)
  - assets/world/countries-50m.bin, countries-110m.bin   quantized rings, see FORMAT below

Geometry is made safe for flat maps here, once, so the renderer never has to care:
rings that cross ±180° are unwrapped, rings that go round a pole (Antarctica) are
closed through it, and every ring is clipped to [-180, 180] together with copies
shifted by ±360°. Long edges (clip and pole edges) are densified so they bend
correctly on a globe. Each country is a list of rings filled with the even-odd
rule, so holes (Lesotho in South Africa) need no special structure.

FORMAT (little-endian): b"SSHMAPW1", u16 country count, then per country:
2 ASCII bytes ISO code, u16 ring count, per ring: varint point count, then
points as zigzag-varint deltas (from the previous point, starting at 0,0) of
x = round((lon + 180) / 360 * 65535), y = round((lat + 90) / 180 * 65535).

Usage: python3 scripts/build-world.py   (run from anywhere; needs node's npm)
"""

import heapq
import json
import math
import os
import struct
import subprocess
import sys
import tarfile
import tempfile

WORLD_ATLAS = "world-atlas@2.0.2"
ISO = "i18n-iso-countries@7.14.0"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "assets", "world")

# Natural Earth features without an ISO id: fold them into the country whose
# addresses GeoIP databases report for them.
NO_ID = {
    "Kosovo": "XK",
    "Somaliland": "SO",
    "N. Cyprus": "CY",
    "Siachen Glacier": "IN",  # administered by India
    "Indian Ocean Ter.": "CX",  # split below: Christmas Island CX, Cocos (Keeling) CC
}

# Territories drawn as part of another feature in Natural Earth but reported
# under their own code by GeoIP: (code, parent, lat, lon, radius in degrees).
SPLIT = [
    ("GF", "FR", 3.93, -53.13, 4.0),
    ("GP", "FR", 16.25, -61.58, 1.0),
    ("MQ", "FR", 14.64, -61.02, 0.5),
    ("RE", "FR", -21.12, 55.53, 1.0),
    ("YT", "FR", -12.83, 45.14, 0.6),
    ("SJ", "NO", 78.5, 20.0, 10.0),
    ("BQ", "NL", 12.18, -68.25, 1.0),
    ("CC", "CX", -12.17, 96.84, 1.0),
]

# Label points for ISO countries too small for the 50m data (capital or main island).
EXTRA_POINTS = {
    "BQ": (12.18, -68.25), "BV": (-54.43, 3.38), "CC": (-12.17, 96.84), "CX": (-10.49, 105.62),
    "GF": (3.93, -53.13), "GI": (36.14, -5.35), "GP": (16.25, -61.58), "MQ": (14.64, -61.02),
    "RE": (-21.12, 55.53), "SJ": (78.22, 15.65), "TK": (-9.17, -171.82), "TV": (-8.52, 179.2),
    "UM": (19.28, 166.65), "YT": (-12.83, 45.14),
}

# Shorter everyday names where the ISO name is long or formal.
NAMES = {
    "US": "United States", "GB": "United Kingdom", "RU": "Russia", "KR": "South Korea",
    "KP": "North Korea", "IR": "Iran", "SY": "Syria", "VN": "Vietnam", "TW": "Taiwan",
    "BO": "Bolivia", "VE": "Venezuela", "TZ": "Tanzania", "MD": "Moldova", "LA": "Laos",
    "CD": "DR Congo", "CG": "Congo", "BN": "Brunei", "FM": "Micronesia", "PS": "Palestine",
    "MK": "North Macedonia", "CZ": "Czechia", "VA": "Vatican City", "XK": "Kosovo",
    "CN": "China", "GM": "Gambia", "FK": "Falkland Islands", "VG": "British Virgin Islands",
    "BQ": "Caribbean Netherlands",
}


def npm_pack(spec, dest):
    out = subprocess.run(["npm", "pack", spec, "--silent"], cwd=dest, check=True, capture_output=True, text=True)
    tgz = os.path.join(dest, out.stdout.strip().splitlines()[-1])
    d = os.path.join(dest, spec.split("@")[0] or spec)
    os.makedirs(d, exist_ok=True)
    with tarfile.open(tgz) as t:
        t.extractall(d, filter="data") if sys.version_info >= (3, 12) else t.extractall(d)
    return os.path.join(d, "package")


def decode_topology(topo):
    sx, sy = topo["transform"]["scale"]
    tx, ty = topo["transform"]["translate"]
    arcs = []
    for arc in topo["arcs"]:
        x = y = 0
        pts = []
        for dx, dy in arc:
            x += dx
            y += dy
            pts.append((x * sx + tx, y * sy + ty))
        arcs.append(pts)
    return arcs


def ring_from_arcs(arcs, idx):
    ring = []
    for i in idx:
        pts = arcs[i] if i >= 0 else arcs[~i][::-1]
        ring.extend(pts if not ring else pts[1:])
    return ring


def feature_polygons(arcs, geom):
    if geom["type"] == "Polygon":
        polys = [geom["arcs"]]
    elif geom["type"] == "MultiPolygon":
        polys = geom["arcs"]
    else:
        return []
    return [[ring_from_arcs(arcs, r) for r in poly] for poly in polys]


def unwrap(ring):
    """Longitudes made continuous (a ring crossing ±180° may go past it)."""
    out = [ring[0]]
    shift = 0.0
    for (x0, _), (x1, y1) in zip(ring, ring[1:]):
        d = x1 - x0
        if d > 180:
            shift -= 360
        elif d < -180:
            shift += 360
        out.append((x1 + shift, y1))
    return out


def close_polar(ring):
    """A ring whose longitudes wind once round the globe encloses a pole: route it through the pole."""
    span = ring[-1][0] - ring[0][0]
    if abs(span) < 180:
        return ring
    pole = -90.0 if sum(p[1] for p in ring) / len(ring) < 0 else 90.0
    x_end, x_start = ring[-1][0], ring[0][0]
    return ring + [(x_end, pole), (x_start, pole), ring[0]]


def ring_area(ring):
    a = 0.0
    for (x0, y0), (x1, y1) in zip(ring, ring[1:] + ring[:1]):
        a += x0 * y1 - x1 * y0
    return a / 2


def clip_half(ring, inside, intersect):
    out = []
    n = len(ring)
    for i in range(n):
        cur, prev = ring[i], ring[i - 1]
        if inside(cur):
            if not inside(prev):
                out.append(intersect(prev, cur))
            out.append(cur)
        elif inside(prev):
            out.append(intersect(prev, cur))
    return out


def x_cross(x):
    def f(a, b):
        t = (x - a[0]) / (b[0] - a[0])
        return (x, a[1] + t * (b[1] - a[1]))
    return f


def clip_lon(ring):
    ring = clip_half(ring, lambda p: p[0] <= 180.0, x_cross(180.0))
    if ring:
        ring = clip_half(ring, lambda p: p[0] >= -180.0, x_cross(-180.0))
    return ring


def densify(ring, step=1.0):
    out = []
    n = len(ring)
    for i in range(n):
        a, b = ring[i], ring[(i + 1) % n]
        out.append(a)
        k = int(max(abs(b[0] - a[0]), abs(b[1] - a[1])) / step)
        for j in range(1, k + 1):
            t = j / (k + 1)
            out.append((a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])))
    return out


# --- polylabel (pole of inaccessibility), after mapbox/polylabel (ISC), on a
# plane where longitude is scaled by cos(latitude) so "far from the edge" means
# far on the ground.

def seg_dist_sq(px, py, a, b):
    x, y = a
    dx, dy = b[0] - x, b[1] - y
    if dx or dy:
        t = ((px - x) * dx + (py - y) * dy) / (dx * dx + dy * dy)
        if t > 1:
            x, y = b
        elif t > 0:
            x += dx * t
            y += dy * t
    dx, dy = px - x, py - y
    return dx * dx + dy * dy


def point_to_polygon(x, y, poly):
    inside = False
    best = math.inf
    for ring in poly:
        n = len(ring)
        j = n - 1
        for i in range(n):
            a, b = ring[i], ring[j]
            if (a[1] > y) != (b[1] > y) and x < (b[0] - a[0]) * (y - a[1]) / (b[1] - a[1]) + a[0]:
                inside = not inside
            best = min(best, seg_dist_sq(x, y, a, b))
            j = i
    return (1 if inside else -1) * math.sqrt(best)


def polylabel(poly, precision):
    xs = [p[0] for p in poly[0]]
    ys = [p[1] for p in poly[0]]
    minx, miny, maxx, maxy = min(xs), min(ys), max(xs), max(ys)
    w, h = maxx - minx, maxy - miny
    size = min(w, h)
    if size == 0:
        return (minx, miny)
    half = size / 2
    heap = []

    def push(x, y, hh):
        d = point_to_polygon(x, y, poly)
        heapq.heappush(heap, (-(d + hh * math.sqrt(2)), d, x, y, hh))

    x = minx
    while x < maxx:
        y = miny
        while y < maxy:
            push(x + half, y + half, half)
            y += size
        x += size
    # Start from the area centroid as well: it is often already good.
    a = cx = cy = 0.0
    r = poly[0]
    for (x0, y0), (x1, y1) in zip(r, r[1:] + r[:1]):
        f = x0 * y1 - x1 * y0
        cx += (x0 + x1) * f
        cy += (y0 + y1) * f
        a += f * 3
    best = (point_to_polygon(cx / a, cy / a, poly), cx / a, cy / a) if a else (-math.inf, minx, miny)
    d = point_to_polygon(minx + w / 2, miny + h / 2, poly)
    if d > best[0]:
        best = (d, minx + w / 2, miny + h / 2)
    while heap:
        _, d, x, y, hh = heapq.heappop(heap)
        if d > best[0]:
            best = (d, x, y)
        if d + hh * math.sqrt(2) - best[0] <= precision:
            continue
        hh /= 2
        push(x - hh, y - hh, hh)
        push(x + hh, y - hh, hh)
        push(x - hh, y + hh, hh)
        push(x + hh, y + hh, hh)
    return best[1], best[2]


def label_point(polys):
    """(lat, lon) of the pole of inaccessibility of the largest polygon (by ground area)."""
    def ground_area(poly):
        r = poly[0]
        c = math.cos(math.radians(sum(p[1] for p in r) / len(r)))
        return abs(ring_area(r)) * c

    poly = max(polys, key=ground_area)
    lat0 = sum(p[1] for p in poly[0]) / len(poly[0])
    if lat0 < -60:  # Antarctica: any interior point of the ice is fine, pick the pole's side
        return (-82.0, 45.0)
    c = max(math.cos(math.radians(lat0)), 0.2)
    scaled = [[(x * c, y) for x, y in ring] for ring in poly]
    x, y = polylabel(scaled, 0.02)
    lon = x / c
    lon = (lon + 180) % 360 - 180
    return (round(y, 3), round(lon, 3))


def quant(lon, lat):
    return (round((lon + 180) / 360 * 65535), round((lat + 90) / 180 * 65535))


def varint(n, out):
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return


def zigzag(n):
    return (n << 1) ^ (n >> 63)


def build(topo, codes, split=True):
    arcs = decode_topology(topo)
    countries = {}
    for g in topo["objects"]["countries"]["geometries"]:
        name = g.get("properties", {}).get("name", "")
        iso = codes.get(g.get("id")) or NO_ID.get(name)
        if not iso:
            print(f"warning: no code for {name!r} (id {g.get('id')}); left out", file=sys.stderr)
            continue
        countries.setdefault(iso, []).extend(feature_polygons(arcs, g))
    if split:
        for code, parent, lat, lon, radius in SPLIT:
            keep, move = [], []
            for poly in countries.get(parent, []):
                r = poly[0]
                cx = sum(p[0] for p in r) / len(r)
                cy = sum(p[1] for p in r) / len(r)
                (move if abs(cx - lon) <= radius and abs(cy - lat) <= radius else keep).append(poly)
            if move:
                countries[parent] = keep
                countries.setdefault(code, []).extend(move)
    crossing = 0
    out = {}
    labels = {}
    for iso, polys in countries.items():
        unwrapped = []
        for poly in polys:
            rings = []
            for ring in poly:
                u = unwrap(ring)
                if u != ring:
                    crossing += 1
                rings.append(close_polar(u))
            unwrapped.append(rings)
        labels[iso] = label_point(unwrapped)
        rings = []
        for poly in unwrapped:
            for ring in poly:
                for shift in (0.0, -360.0, 360.0):
                    r = [(x + shift, y) for x, y in ring]
                    if max(p[0] for p in r) < -180 or min(p[0] for p in r) > 180:
                        continue
                    c = clip_lon(r)
                    if len(c) >= 3 and abs(ring_area(c)) > 1e-9:
                        rings.append(densify(c))
        out[iso] = rings
    return out, labels, crossing


def encode(countries):
    buf = bytearray(b"SSHMAPW1")
    buf += struct.pack("<H", len(countries))
    points = 0
    for iso in sorted(countries):
        qrings = []
        for ring in countries[iso]:
            q = []
            for lon, lat in ring:
                p = quant(lon, lat)
                if not q or q[-1] != p:
                    q.append(p)
            if len(q) > 1 and q[0] == q[-1]:
                q.pop()
            if len(q) >= 3:
                qrings.append(q)
        buf += iso.encode("ascii")
        buf += struct.pack("<H", len(qrings))
        for q in qrings:
            varint(len(q), buf)
            px = py = 0
            for x, y in q:
                varint(zigzag(x - px), buf)
                varint(zigzag(y - py), buf)
                px, py = x, y
            points += len(q)
    return bytes(buf), points


def main():
    os.makedirs(OUT, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        atlas = npm_pack(WORLD_ATLAS, tmp)
        iso = npm_pack(ISO, tmp)
        with open(os.path.join(iso, "codes.json")) as f:
            codes = {row[2]: row[0] for row in json.load(f)}
        with open(os.path.join(iso, "langs", "en.json")) as f:
            en = json.load(f)["countries"]
        labels = {}
        for res in ("50m", "110m"):
            with open(os.path.join(atlas, f"countries-{res}.json")) as f:
                topo = json.load(f)
            countries, lab, crossing = build(topo, codes)
            data, points = encode(countries)
            with open(os.path.join(OUT, f"countries-{res}.bin"), "wb") as f:
                f.write(data)
            print(f"{res}: {len(countries)} countries, {points} points, {len(data)} bytes, "
                  f"{crossing} rings crossed ±180°", file=sys.stderr)
            if res == "50m":
                labels = lab
    rows = []
    for code in sorted(set(en) | set(labels) | set(EXTRA_POINTS)):
        name = NAMES.get(code) or en.get(code) or code
        if isinstance(name, list):
            name = name[0]
        lat, lon = labels.get(code) or EXTRA_POINTS.get(code) or ("", "")
        rows.append(f"{code}\t{name}\t{lat}\t{lon}\n")
    with open(os.path.join(OUT, "countries.tsv"), "w") as f:
        f.write("# iso2\tname\tlabel_lat\tlabel_lon  (generated by scripts/build-world.py)\n")
        f.writelines(rows)
    print(f"countries.tsv: {len(rows)} rows", file=sys.stderr)


if __name__ == "__main__":
    main()
