#!/usr/bin/env python3
"""Thừa Thiên Huế's districts as a small GeoJSON for the console's map.

    python3 cut-districts.py 46.json > hue-districts.geojson

Input: dvhcvn's data/gis/46.json (province 46, Thừa Thiên Huế: its nine districts, level2s, as
MultiPolygons in WGS 84). Each ring is simplified (open, then closed again) with Douglas-Peucker at 0.0005 degrees (as
hue-land.geojson, from cut-land.py) and rounded to 5 decimals.
"""
import json
import sys

from importlib.machinery import SourceFileLoader
from pathlib import Path

land = SourceFileLoader('cut_land', str(Path(__file__).with_name('cut-land.py'))).load_module()


def open_ring(ring):
    # a closed ring starts and ends on the same point: Douglas-Peucker needs two different ends
    return ring[:-1] if ring[0] == ring[-1] else ring


def close(ring):
    return ring + [ring[0]] if ring and ring[0] != ring[-1] else ring


def main(path):
    src = json.load(open(path, encoding='utf-8'))
    features = []
    for d in src['level2s']:
        polys = []
        for poly in d['coordinates']:
            rings = [close([[round(x, 5), round(y, 5)] for x, y in land.simplify(open_ring(ring), 0.0005)]) for ring in poly]
            rings = [r for r in rings if len(r) >= 4]
            if rings:
                polys.append(rings)
        features.append({
            'type': 'Feature',
            'properties': {'kind': 'district', 'code': d['level2_id'], 'name': d['name']},
            'geometry': {'type': 'MultiPolygon', 'coordinates': polys},
        })
    json.dump({'type': 'FeatureCollection', 'features': features}, sys.stdout, ensure_ascii=False, separators=(',', ':'))
    sys.stdout.write('\n')


if __name__ == '__main__':
    main(sys.argv[1])
