"""``init --osm`` on real extracts of Chinese cities: households, seals, footprints."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import shapely

from mapserver import crs, model
from mapserver.coverage.cordon import plan_cordon, tradeoff_curve
from mapserver.districting.osm_init import init_from_osm
from mapserver.districting.validate import cut_footprints
from mapserver.network.osm import read_osm_roads

EXTRACTS = ("nanjing-xinjiekou", "beijing-wangjing")


@pytest.fixture(scope="module", params=EXTRACTS)
def extract(request, realdata):
    path = realdata / f"{request.param}.osm"
    return path, init_from_osm(path)


def test_households_are_created_with_readable_ids(extract):
    _, result = extract
    buildings, households = result["buildings"], result["households"]
    assert list(households.columns) == list(model.HOUSEHOLD_COLUMNS)
    assert len(households) == buildings["households"].sum() > 1000
    assert households["household_id"].is_unique
    assert set(households["building_id"]) == set(buildings["building_id"])
    per_building = households.groupby("building_id")["residents"].sum()
    expected = buildings.set_index("building_id")["residents"]
    assert (per_building == expected[per_building.index]).all()
    first = households.iloc[0]
    assert first["household_id"] == f"{first['building_id']}-{first['unit']}-0101"


def test_roads_are_the_whole_extract(extract):
    path, result = extract
    _, full = read_osm_roads(path)
    kept = set(result["road_edges"]["edge_id"].str.split("/").str[0])
    assert set(full["edge_id"]) <= kept


def _leaks(grid, nodes, edges, plan) -> list[str]:
    """Independent check with networkx: inside nodes reaching outside past the closed edges."""
    metric = crs.metric_crs(tuple(grid.bounds))
    area = shapely.buffer(_series(grid).to_crs(metric).iloc[0], -0.5)
    pts = nodes.geometry.to_crs(metric).to_numpy()
    ids = nodes["node_id"].astype(str).to_numpy()
    inside = set(ids[shapely.contains(area, pts)])
    allowed = inside | set(plan.enclosed_nodes)
    cut = set(plan.cut_edge_ids())
    open_ = edges[~edges["closed"].astype(bool) & ~edges["edge_id"].isin(cut)]
    lines = open_.geometry.to_crs(metric).to_numpy()
    through = ~open_["u"].isin(allowed) & ~open_["v"].isin(allowed)
    crossing = through.to_numpy() & shapely.intersects(lines, area)
    graph = nx.Graph()
    graph.add_nodes_from(ids)
    graph.add_edges_from(zip(open_["u"], open_["v"], strict=True))
    reached = set().union(*(nx.node_connected_component(graph, n) for n in inside))
    return sorted(reached - allowed) + list(open_["edge_id"][crossing])


def _series(geom):
    import geopandas as gpd

    return gpd.GeoSeries([geom], crs=model.STORAGE_CRS)


def test_every_big_grid_cordon_seals_on_the_full_network(extract):
    _, result = extract
    grids, nodes, edges = result["grids"], result["road_nodes"], result["road_edges"]
    bigs = grids[grids["level"] == "big"]
    assert len(bigs) >= 5
    for grid_id, geom in zip(bigs["grid_id"], bigs.geometry, strict=True):
        plan = plan_cordon(geom, nodes, edges, buildings=result["buildings"])
        assert _leaks(geom, nodes, edges, plan) == [], grid_id


def test_no_footprint_is_cut(extract):
    _, result = extract
    cut = cut_footprints(result["buildings"], result["grids"])
    assert cut.empty or cut["cut_share"].max() <= 0.01


def test_micro_grids_are_single_polygons_holding_their_buildings(extract):
    _, result = extract
    grids, buildings = result["grids"], result["buildings"]
    leaves = grids[grids["level"] == "micro"].set_index("grid_id").geometry
    assert (leaves.geom_type == "Polygon").all() and leaves.is_valid.all()
    points = shapely.point_on_surface(buildings.geometry.to_numpy())
    holder = leaves.reindex(buildings["grid_id"]).to_numpy()
    assert shapely.covers(holder, points).all()


def test_compounds_are_big_grids_with_gates(extract):
    _, result = extract
    compounds, buildings, grids = result["compounds"], result["buildings"], result["grids"]
    assert len(compounds) >= 3
    named = set(grids.loc[grids["level"] == "big", "name"])
    assert any(str(n).startswith(tuple(compounds["name"].dropna())) for n in named)
    gates = result["gates"]
    inside = buildings[buildings["compound_id"].notna()]
    served = [
        g in gates[c] for c, g in zip(inside["compound_id"], inside["gate_node"], strict=True)
        if gates[c]
    ]  # fmt: skip
    assert served and all(served)
    assert buildings["gate_node"].notna().all()
    assert set(buildings["gate_node"]) <= set(result["road_nodes"]["node_id"])
    # moving the cordon outward now encloses households (their gates are road nodes)
    hh = buildings.groupby("gate_node")["households"].sum()
    enclosing = 0
    for geom in grids.loc[grids["level"] == "big"].geometry:
        plan = plan_cordon(
            geom, result["road_nodes"], result["road_edges"], max_outward_m=400.0,
            buildings=buildings,
        )  # fmt: skip
        extra = plan.enclosed_nodes - plan.inside_nodes
        assert plan.extra_households == hh.reindex(list(extra)).fillna(0).sum()
        if plan.extra_households > 0:
            curve = tradeoff_curve(
                geom, result["road_nodes"], result["road_edges"], max_outward_m=400.0,
                buildings=buildings,
            )  # fmt: skip
            assert max(p.extra_households for p in curve) == plan.extra_households
            enclosing += 1
            break
    assert enclosing


def test_big_buildings_are_flagged_and_split_by_units(realdata):
    path = realdata / "beijing-wangjing.osm"
    whole = init_from_osm(path)
    flagged = dict(whole["big_buildings"])
    assert flagged and min(flagged.values()) > 30
    assert max(flagged.values()) > 900  # a compound drawn as one outline
    split = init_from_osm(path, split_units=True)
    buildings = split["buildings"]
    assert set(split["split"]) == set(flagged)
    for bid, pieces in split["split"].items():
        rows = buildings[buildings["building_id"].isin(pieces)]
        assert rows["households"].sum() == flagged[bid]
        assert (rows["households"] <= 30).all() or len(rows) == rows["units"].sum()
    assert split["total_households"] == whole["total_households"]
    leaves = split["grids"][split["grids"]["level"] == "micro"]
    sums = buildings.groupby("grid_id")["households"].sum().reindex(leaves["grid_id"])
    whole_sums = whole["buildings"].groupby("grid_id")["households"].sum()
    assert np.mean((sums >= 20) & (sums <= 30)) > np.mean((whole_sums >= 20) & (whole_sums <= 30))
