#!/usr/bin/env python3
"""Huế's communes and wards (xã, phường) as a small GeoJSON for the console's map.

    python3 cut-communes.py path/to/json/geojson/46_hue/wards > hue-communes.geojson

Input: the ward files of vietnamese-provinces-database (github.com/thanglequoc/vietnamese-provinces-database,
MIT), `json/geojson/46_hue/wards/*.geojson`: one FeatureCollection per unit of thành phố Huế (province
code 46) as reorganised on 1 July 2025 (40 xã and phường, no districts any more), each a MultiPolygon
in WGS 84 with `properties: { code, fullName, ... }`. Each ring is simplified (open, then closed
again) with Douglas-Peucker at 0.0005 degrees and rounded to 5 decimals, as cut-districts.py does.
The sha256 of the input files (concatenated in name order) goes to stderr, for README.md.
"""
import hashlib
import json
import sys

from importlib.machinery import SourceFileLoader
from pathlib import Path

land = SourceFileLoader('cut_land', str(Path(__file__).with_name('cut-land.py'))).load_module()
TOLERANCE = 0.0005


def open_ring(ring):
    # Douglas-Peucker needs two different ends: a closed ring starts and ends on the same point, and
    # some rings of the source repeat a point (their last two are both the first)
    pts = [p for i, p in enumerate(ring) if i == 0 or p != ring[i - 1]]
    while len(pts) > 1 and pts[0] == pts[-1]:
        pts.pop()
    return pts


def close(ring):
    return ring + [ring[0]] if ring and ring[0] != ring[-1] else ring


def cut(polygons):
    out = []
    for poly in polygons:
        rings = [close([[round(x, 5), round(y, 5)] for x, y in land.simplify(open_ring(ring), TOLERANCE)]) for ring in poly]
        # an outer ring that shrinks to nothing (an islet) takes its holes with it
        if len(rings[0]) < 4:
            continue
        out.append([rings[0]] + [r for r in rings[1:] if len(r) >= 4])
    return out


def main(folder):
    files = sorted(Path(folder).glob('*.geojson'))
    if not files:
        sys.exit(f'no *.geojson in {folder}')
    digest = hashlib.sha256()
    features = []
    for path in files:
        raw = path.read_bytes()
        digest.update(raw)
        (unit,) = json.loads(raw)['features']
        p, g = unit['properties'], unit['geometry']
        polygons = g['coordinates'] if g['type'] == 'MultiPolygon' else [g['coordinates']]
        features.append({
            'type': 'Feature',
            'properties': {'kind': 'commune', 'code': p['code'], 'name': p['fullName']},
            'geometry': {'type': 'MultiPolygon', 'coordinates': cut(polygons)},
        })
    features.sort(key=lambda f: f['properties']['code'])
    json.dump({'type': 'FeatureCollection', 'features': features}, sys.stdout, ensure_ascii=False, separators=(',', ':'))
    sys.stdout.write('\n')
    print(f'{len(files)} files, sha256 {digest.hexdigest()}', file=sys.stderr)


if __name__ == '__main__':
    main(sys.argv[1])
