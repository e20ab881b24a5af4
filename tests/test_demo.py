"""Tests of the demo sub-district generator (scale 1, generated once per module)."""

from __future__ import annotations

import re

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely

from mapserver import model
from mapserver.demo import generate_demo, read_demo, write_demo

METRIC = "EPSG:4549"
TOL_DEG = 1e-8  # about 1 mm: the 4326 conversion bends long edges by less


@pytest.fixture(scope="module")
def layers() -> dict[str, pd.DataFrame]:
    return generate_demo()


@pytest.fixture(scope="module")
def grids(layers) -> gpd.GeoDataFrame:
    return layers["grids"].set_index("grid_id", drop=False)


@pytest.fixture(scope="module")
def leaf_households(layers) -> pd.Series:
    return layers["buildings"].groupby("grid_id")["households"].sum()


@pytest.fixture(scope="module")
def graph(layers) -> nx.Graph:
    edges = layers["road_edges"]
    g = nx.Graph()
    g.add_nodes_from(layers["road_nodes"]["node_id"])
    g.add_edges_from(zip(edges["u"], edges["v"], strict=True))
    return g


def _children(grids: pd.DataFrame) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for gid, parent in zip(grids["grid_id"], grids["parent_id"], strict=True):
        if isinstance(parent, str):
            out.setdefault(parent, []).append(gid)
    return out


def test_layers_have_model_columns_and_crs(layers):
    assert list(layers) == list(model.LAYERS)
    for name, columns in model.LAYERS.items():
        assert tuple(layers[name].columns) == columns, name
        if name in model.GEOMETRY_LAYERS:
            assert isinstance(layers[name], gpd.GeoDataFrame)
            assert layers[name].crs.to_epsg() == 4326
        id_col = model.ID_COLUMN.get(name)
        if id_col:
            assert layers[name][id_col].is_unique, name
            assert pd.api.types.is_string_dtype(layers[name][id_col])
    minx, miny, maxx, maxy = layers["grids"].total_bounds
    assert 121.1 < minx < maxx < 121.3
    assert 31.0 < miny < maxy < 31.2


def test_grid_tree_is_one_rooted_tree(grids):
    roots = grids[grids["parent_id"].isna()]
    assert list(roots["level"]) == ["subdistrict"]
    assert grids["parent_id"].dropna().isin(grids.index).all()
    rank = grids["level"].map(model.level_rank)
    parent_rank = grids["parent_id"].dropna().map(rank)
    assert (rank[parent_rank.index] > parent_rank).all()
    assert set(grids["area_class"]) <= set(model.AREA_CLASSES)
    assert grids["person"].str.len().between(2, 3).all()
    assert grids["phone"].str.fullmatch(r"13[5-9]\d{8}").all()


def test_communities_bigs_smalls_and_village(grids):
    kids = _children(grids)
    communities = grids[grids["level"] == "community"]
    village = communities[communities["name"] == "星火村"]
    urban = communities[communities["name"] != "星火村"]
    assert len(village) == 1 and len(urban) >= 4
    haixin = urban[urban["name"] == "海欣居民区"].index[0]
    assert len(kids[haixin]) == 7
    assert sum(len(kids[b]) for b in kids[haixin]) == 26
    bands = kids[village.index[0]]
    assert len(bands) == 4
    assert (grids.loc[bands, "level"] == "big").all()
    micros = [m for b in bands for m in kids[b]]
    assert len(micros) == 20
    assert (grids.loc[micros, "level"] == "micro").all()
    homesteads = [h for m in micros for h in kids[m]]
    assert (grids.loc[homesteads, "level"] == "homestead").all()
    assert grids.loc[homesteads, "name"].str.fullmatch(r".家宅基网格").all()


def test_leaf_household_ranges_and_targets(grids, leaf_households):
    kids = _children(grids)
    leaves = grids[~grids.index.isin(list(kids))]
    assert set(leaves["level"]) == {"micro", "homestead"}
    hh = leaf_households.reindex(leaves.index).fillna(0)
    micro = leaves["level"] == "micro"
    assert hh[micro].between(20, 30).all()
    assert hh[~micro].between(5, 15).all()
    assert (leaves.loc[micro, "target_households"] == 25).all()
    assert (leaves.loc[~micro, "target_households"] == 10).all()


def test_children_tile_their_parent(grids):
    metric = grids.to_crs(METRIC)
    area = metric.area
    for parent, kids in _children(grids).items():
        child_area = area[kids].sum()
        assert child_area == pytest.approx(area[parent], rel=1e-6), parent
        union = shapely.union_all(metric.geometry[kids].to_numpy()).area
        assert union == pytest.approx(child_area, rel=1e-6), parent  # no overlap
        outer = grids.geometry[parent].buffer(TOL_DEG)
        assert outer.covers(grids.geometry[kids]).all(), parent


def test_buildings_sit_in_their_leaf(layers, grids):
    b = layers["buildings"]
    assert len(b) >= 250
    kids = _children(grids)
    assert not b["grid_id"].isin(list(kids)).any()
    leaf = gpd.GeoSeries(grids.geometry[b["grid_id"]].to_numpy(), crs=grids.crs)
    assert leaf.contains(b.geometry.reset_index(drop=True)).all()
    assert (b.geometry.geom_type == "Polygon").all()
    urban = b["compound_id"].notna()
    assert urban.sum() > 0 and (~urban).sum() > 0
    assert b.loc[urban, "households"].between(10, 30).all()
    assert b.loc[~urban, "households"].between(1, 3).all()
    assert b["compound_id"].dropna().str.fullmatch(r"C\d+-\d+").all()
    assert b["gate_node"].isin(layers["road_nodes"]["node_id"]).all()
    kind = layers["road_nodes"].set_index("node_id")["kind"]
    assert (kind[b.loc[urban, "gate_node"]] == "gate").all()


def test_households_add_up(layers):
    hh, b = layers["households"], layers["buildings"]
    assert len(hh) >= 8000
    assert hh["residents"].sum() >= 20000
    assert hh["residents"].between(1, 5).all()
    assert 2.2 < hh["residents"].mean() < 2.8
    assert hh["household_id"].str.fullmatch(r"B\d{4,}-\d+-\d{4}").all()
    assert (hh["household_id"].str.split("-").str[0] == hh["building_id"]).all()
    by_b = hh.groupby("building_id").agg(n=("household_id", "size"), r=("residents", "sum"))
    by_b = by_b.reindex(b["building_id"])
    assert (by_b["n"].to_numpy() == b["households"].to_numpy()).all()
    assert (by_b["r"].to_numpy() == b["residents"].to_numpy()).all()
    assert (
        hh.groupby("building_id")["unit"].max().reindex(b["building_id"]) == b["units"].to_numpy()
    ).all()


def test_road_graph_is_connected_and_measured(layers, graph):
    edges, nodes = layers["road_edges"], layers["road_nodes"]
    assert edges["u"].isin(nodes["node_id"]).all() and edges["v"].isin(nodes["node_id"]).all()
    assert nx.is_connected(graph)
    assert set(edges["road_class"]) >= {"main", "street", "lane", "gate", "water"}
    assert set(edges["road_class"]) <= set(model.ROAD_CLASSES)
    assert set(edges["mode"]) == {"drive", "walk", "water"}
    assert (edges.loc[edges["road_class"] == "water", "mode"] == "water").all()
    assert set(nodes["kind"]) == {"junction", "gate", "checkpoint"}
    measured = edges.to_crs(METRIC).length
    assert np.allclose(measured, edges["length_m"], atol=0.05)
    assert (edges["length_m"] > 0).all()
    assert 2 <= edges["oneway"].sum() < len(edges) / 10
    assert 1 <= edges["closed"].sum() <= 2
    assert (edges.loc[edges["closed"], "road_class"] == "gate").all()


def test_every_compound_has_one_to_three_gates(layers, grids):
    b = layers["buildings"].dropna(subset=["compound_id"])
    gates = layers["road_edges"][layers["road_edges"]["road_class"] == "gate"]
    mid = gpd.GeoSeries(
        shapely.line_interpolate_point(gates.geometry.to_numpy(), 0.5, normalized=True),
        index=gates.index,
    )
    kind = layers["road_nodes"].set_index("node_id")["kind"]
    for compound, rows in b.groupby("compound_id"):
        big = rows["grid_id"].iloc[0].rsplit("-", 2)[0]
        assert grids.loc[big, "level"] == "big"
        inside = gates[mid.within(grids.geometry[big]).to_numpy()]
        assert 1 <= len(inside) <= 3, compound
        gate_nodes = set(inside["u"]) | set(inside["v"])
        assert rows["gate_node"].isin(gate_nodes).all(), compound
        assert (kind[list(gate_nodes)] == "gate").sum() == len(inside)


def test_one_compound_sealed_neighbours_controlled(grids):
    sealed = grids[grids["area_class"] == "sealed"]
    tops = sealed[~sealed["parent_id"].isin(sealed.index)]
    assert list(tops["level"]) == ["big"]
    controlled = grids[(grids["area_class"] == "controlled") & (grids["level"] == "big")]
    assert len(controlled) >= 2
    near = controlled.to_crs(METRIC).buffer(1.0).intersects(tops.to_crs(METRIC).geometry.iloc[0])
    assert near.all()
    assert (grids["area_class"] == "precaution").sum() > len(sealed)


def test_village_checkpoints_cover_every_entrance(layers, graph):
    cps = layers["checkpoints"]
    assert len(cps) >= 10
    assert cps["node_id"].isin(layers["road_nodes"]["node_id"]).all()
    assert set(cps["kind"]) == set(model.CHECKPOINT_KINDS)
    assert cps["staffed"].sum() >= len(cps) - 3 and not cps["staffed"].all()
    assert (cps["shifts"] == 3).all()
    b = layers["buildings"]
    urban = set(b.loc[b["compound_id"].notna(), "gate_node"])
    village = set(b.loc[b["compound_id"].isna(), "gate_node"])
    cut = graph.copy()
    cut.remove_nodes_from(cps["node_id"])
    for part in nx.connected_components(cut):
        assert not (part & urban and part & village)
    assert nx.has_path(graph, next(iter(urban)), next(iter(village)))


def test_status_scheme_and_shares(layers):
    st, hh = layers["status"], layers["households"]
    assert (st["entity_id"].to_numpy() == hh["household_id"].to_numpy()).all()
    assert set(st["status"]) == {"red", "yellow", "green", "blue", "grey", "black"}
    share = st["status"].value_counts(normalize=True)
    assert 0.75 < share["green"] < 0.85
    assert 0.005 < share["red"] < 0.03
    assert 0.02 < share["black"] < 0.06
    black = st["status"] == "black"
    assert (st.loc[black, "persons"] == 0).all()
    assert (st.loc[~black, "persons"].to_numpy() == hh.loc[~black, "residents"].to_numpy()).all()
    assert set(st["entity_kind"]) == {"household"} and set(st["source"]) == {"demo"}
    assert (st["seq"] == 0).all() and st["updated_at"].nunique() == 1


def test_same_seed_same_bytes(layers, tmp_path):
    first = write_demo(layers, tmp_path / "a")
    second = write_demo(generate_demo(), tmp_path / "b")
    assert [p.name for p in first] == [p.name for p in second]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
    other = generate_demo(seed=7)
    assert not other["households"]["residents"].equals(layers["households"]["residents"])


def test_write_read_roundtrip(layers, tmp_path):
    paths = write_demo(layers, tmp_path)
    names = {p.name for p in paths}
    assert {"grids.geojson", "households.csv", "status.csv", "README.txt"} <= names
    readme = (tmp_path / "README.txt").read_text(encoding="utf-8")
    assert "EPSG:4326" in readme and "网格" in readme
    back = read_demo(tmp_path)
    assert list(back) == list(model.LAYERS)
    for name, frame in layers.items():
        got = back[name]
        assert got.dtypes.to_dict() == frame.dtypes.to_dict(), name
        plain = [c for c in frame.columns if c != "geometry"]
        pd.testing.assert_frame_equal(got[plain], frame[plain])
        if name in model.GEOMETRY_LAYERS:
            assert got.geometry.geom_equals_exact(frame.geometry, 1e-12).all(), name
    assert back["households"]["room"].str.startswith("0").all()
    assert re.fullmatch(r"1\d{10}", back["grids"]["phone"].iloc[0])


def test_scale_multiplies_neighbourhoods():
    big = generate_demo(scale=2.0)
    communities = big["grids"][big["grids"]["level"] == "community"]
    assert len(communities) == 9  # 8 urban + the village
    assert len(big["households"]) > 16000
    assert nx.is_connected(
        nx.Graph(zip(big["road_edges"]["u"], big["road_edges"]["v"], strict=True))
    )


def test_scale_must_be_positive():
    with pytest.raises(ValueError, match="scale must be positive"):
        generate_demo(scale=0)


def test_demo_files_import_back_into_an_equal_store(tmp_path, capsys):
    """`mapserver import geodata/demo/*` (README included, road nodes with edges) into a
    fresh store gives the demo store: the same rows in every layer."""
    from mapserver.cli import main as cli_main
    from mapserver.config import DEFAULT_DEMO_DIR
    from mapserver.store import open_store

    files = sorted(str(p) for p in DEFAULT_DEMO_DIR.iterdir())
    assert any(p.endswith("road_nodes.geojson") for p in files)
    url = f"sqlite:///{tmp_path / 'imported.sqlite'}"
    assert cli_main(["--database", url, "import", *files]) == 0
    printed = capsys.readouterr().out
    assert "skipped (documentation, not data)" in printed and "README.txt" in printed
    assert "road_nodes:" in printed and "road_edges:" in printed
    imported = open_store(url)
    reference = open_store(f"sqlite:///{tmp_path / 'reference.sqlite'}")
    reference.import_layers(read_demo(DEFAULT_DEMO_DIR), user="demo")
    # the store stamps status rows with the write's time and sequence: compare the status itself
    bookkeeping = {"status": ["updated_at", "source", "seq"]}
    for name in model.LAYERS:
        got, want = imported.read_layer(name), reference.read_layer(name)
        assert len(want) > 0 and len(got) == len(want), name
        key = model.ID_COLUMN.get(name, ["entity_kind", "entity_id"])
        got = got.sort_values(key).reset_index(drop=True)
        want = want.sort_values(key).reset_index(drop=True)
        plain = [c for c in want.columns if c != "geometry" and c not in bookkeeping.get(name, [])]
        pd.testing.assert_frame_equal(got[plain], want[plain], check_dtype=False, obj=name)
        if name in model.GEOMETRY_LAYERS:
            assert got.geometry.geom_equals_exact(want.geometry, 1e-9).all(), name
    imported.dispose()
    reference.dispose()
