"""Tests for mapserver.coverage.entrances."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from mapserver.coverage.area import area_polygon
from mapserver.coverage.entrances import find_entrances
from mapserver.crs import metric_crs


def _strictly_inside(area, nodes) -> set[str]:
    """Nodes more than 0.5 m inside the polygon, by plain geometry in metres."""
    crs = metric_crs(area.bounds)
    poly = gpd.GeoSeries([area], crs="EPSG:4326").to_crs(crs).iloc[0]
    pts = nodes.to_crs(crs).geometry.to_numpy()
    mask = shapely.contains(poly, pts) & ~shapely.dwithin(pts, poly.boundary, 0.5)
    return set(nodes["node_id"][mask])


def _crossing_edges(area, nodes, edges) -> set[str]:
    inside = _strictly_inside(area, nodes)
    one_end = edges["u"].isin(inside) ^ edges["v"].isin(inside)
    return set(edges["edge_id"][one_end])


def test_neighbourhood_lists_every_edge_crossing_its_boundary(demo):
    nodes, edges = demo["road_nodes"], demo["road_edges"]
    area = area_polygon(demo["grids"], "SD01-C01")
    found = find_entrances(area, nodes, edges, demo["checkpoints"])
    expected = _crossing_edges(area, nodes, edges)
    assert len(expected) > 5
    assert {e.edge_id for e in found.entrances} == expected
    assert len(found.entrances) == len(expected)  # one crossing each
    assert found.counts() == {"staffed": 0, "closed": 0, "uncovered": len(expected)}
    geo = found.to_geojson()
    assert len(geo["features"]) == len(expected)
    assert geo["features"][0]["geometry"]["type"] == "Point"


def test_compound_gates_are_its_entrances(demo):
    grids, nodes, edges = demo["grids"], demo["road_nodes"], demo["road_edges"]
    bigs = grids[grids["parent_id"] == "SD01-C01"]
    for gid, name in zip(bigs["grid_id"], bigs["name"], strict=True):
        area = area_polygon(grids, gid)
        found = find_entrances(area, nodes, edges)
        gates = edges[edges["road_class"] == "gate"]
        own = set(gates["edge_id"][gates["edge_id"].isin(_crossing_edges(area, nodes, edges))])
        assert own, f"{gid} {name}: no gate crosses its boundary"
        assert {e.edge_id for e in found.entrances} == own
        assert {e.road_class for e in found.entrances} == {"gate"}


def test_sealed_compound_side_gates_are_closed(demo):
    grids = demo["grids"]
    sealed = grids[(grids["level"] == "big") & (grids["area_class"] == "sealed")]
    found = find_entrances(
        area_polygon(grids, sealed["grid_id"].iloc[0]), demo["road_nodes"], demo["road_edges"]
    )
    counts = found.counts()
    assert counts["closed"] >= 1
    assert counts["uncovered"] == 1  # the main gate, open and unstaffed


def test_village_entrances_are_its_checkpoints(demo):
    grids, cps = demo["grids"], demo["checkpoints"]
    village = grids[(grids["level"] == "community") & grids["name"].str.contains("村")]
    found = find_entrances(
        area_polygon(grids, village["grid_id"].iloc[0]), demo["road_nodes"], demo["road_edges"], cps
    )
    assert len(found.entrances) == len(cps)
    staffed = set(cps["checkpoint_id"][cps["staffed"]])
    assert {e.checkpoint_id for e in found.entrances if e.state == "staffed"} == staffed
    assert found.counts()["uncovered"] == int((~cps["staffed"]).sum())
    assert {e.mode for e in found.entrances} == {"drive", "water"}
    no_water = find_entrances(
        area_polygon(grids, village["grid_id"].iloc[0]),
        demo["road_nodes"],
        demo["road_edges"],
        cps,
        modes=("drive", "walk"),
    )
    assert len(no_water.entrances) == len(cps) - int((cps["kind"] == "water").sum())


def test_road_through_the_area_gives_two_entrances(lattice, place_checkpoints):
    lat = lattice(3)
    nodes, edges = lat["nodes"], lat["edges"].copy()
    # the area: a thin strip across the middle of edge n0_1 - n1_1 plus node n1_1's corner
    line = edges.set_index("edge_id").geometry
    through = edges.index[(edges["u"] == "n0_0") & (edges["v"] == "n1_0")][0]
    mid = line.iloc[through].interpolate(0.5, normalized=True)
    strip = mid.buffer(0.0002).union(lat["square"]([(1, 1)]))
    edges.loc[through, "oneway"] = True
    found = find_entrances(strip, nodes, edges)
    crossing = [e for e in found.entrances if e.edge_id == edges["edge_id"][through]]
    assert len(crossing) == 2
    assert sorted(e.direction for e in crossing) == ["in", "out"]
    assert all(e.inside_node is None for e in crossing)
    assert sum(e.edge_id != edges["edge_id"][through] for e in found.entrances) == 4


def test_checkpoint_within_tolerance_staffs_an_entrance(lattice, place_checkpoints):
    lat = lattice(3)
    nodes, edges = lat["nodes"], lat["edges"]
    area = lat["square"]([(1, 1)])
    cps = place_checkpoints(["n1_1"], nodes)
    found = find_entrances(area, nodes, edges, cps)
    assert found.counts()["staffed"] == 4  # a checkpoint on the inside end covers all four
    cps_far = place_checkpoints(["n0_0"], nodes)
    assert find_entrances(area, nodes, edges, cps_far).counts()["staffed"] == 0
    closed = edges.copy()
    closed.loc[0:1, "closed"] = True
    states = find_entrances(area, nodes, closed).counts()
    assert states["closed"] == int(
        np.sum(closed["closed"] & (closed["u"].eq("n1_1") | closed["v"].eq("n1_1")))
    )


def test_area_holding_no_junction_has_the_crossings_of_its_road(lattice):
    import shapely

    lat = lattice(3, classes=("street",))
    pts = lat["nodes"].set_index("node_id").geometry
    mid = shapely.line_interpolate_point(
        shapely.LineString([pts["n1_0"], pts["n1_1"]]), 0.5, normalized=True
    )
    d = 10.0 / 100_000.0  # about 10 m
    area = shapely.box(mid.x - d, mid.y - d, mid.x + d, mid.y + d)
    found = find_entrances(area, lat["nodes"], lat["edges"])
    edges = lat["edges"]
    through = edges.loc[(edges["u"] == "n1_0") & (edges["v"] == "n1_1"), "edge_id"].iat[0]
    assert [e.edge_id for e in found.entrances] == [through, through]
    assert found.inside_nodes == 0 and found.counts()["uncovered"] == 2
    lats = sorted(e.lat for e in found.entrances)
    assert lats == [pytest.approx(mid.y - d, abs=1e-6), pytest.approx(mid.y + d, abs=1e-6)]
    off = find_entrances(shapely.box(100.0, 10.0, 100.01, 10.01), lat["nodes"], lat["edges"])
    assert off.entrances == ()
