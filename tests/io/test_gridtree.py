"""A tree from separate layers: parts joined, parents by code or containment, partial updates."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import box

from mapserver.errors import ValidationError
from mapserver.io.imports import ImportFile, load_import
from mapserver.io.mapping import parse_mapping


def _write(tmp_path, name, records, geoms):
    path = tmp_path / name
    gpd.GeoDataFrame(records, geometry=geoms, crs="EPSG:4326").to_file(path, driver="GeoJSON")
    return path


@pytest.fixture
def three_layers(tmp_path):
    """街道 (2), 社区 (3, one in two parts), 网格 (4) with only codes and containment."""
    streets = _write(
        tmp_path,
        "street.geojson",
        {"街道": ["石桥街道", "东新街道"], "街道编码": ["SQ", "DX"]},
        [box(0, 0, 0.02, 0.02), box(0.02, 0, 0.04, 0.02)],
    )
    communities = _write(
        tmp_path,
        "community.geojson",
        {
            "社区": ["华丰社区", "华丰社区", "石桥社区", "三塘社区"],
            "社区编码": ["SQ-3", "SQ-3", "SQ-1", "DX-3"],
            "街道编码": ["SQ", "SQ", "SQ", "DX"],
        },
        [
            box(0, 0, 0.01, 0.01),
            box(0, 0.01, 0.01, 0.02),
            box(0.01, 0, 0.02, 0.02),
            box(0.02, 0, 0.04, 0.02),
        ],
    )
    grids = _write(
        tmp_path,
        "grid.geojson",
        {
            "所属组织": [
                "华丰社区第一网格",
                "华丰社区第二网格",
                "石桥社区第一网格",
                "三塘社区第一网格",
            ],
            "网格编号": ["SQ-3-1", "SQ-3-2", "SQ-1-1", "DX-3-1"],
        },
        [
            box(0, 0, 0.01, 0.01),
            box(0, 0.01, 0.01, 0.02),
            box(0.01, 0, 0.02, 0.02),
            box(0.02, 0, 0.04, 0.02),
        ],
    )
    return streets, communities, grids


def _files(three_layers, *, community_parent: bool):
    streets, communities, grids = three_layers
    community_map = "grid_id=社区编码,name=社区,level:=社区"
    if community_parent:
        community_map += ",parent_id=街道编码"
    return [
        ImportFile(
            grids, "grids", mapping=parse_mapping("grid_id=网格编号,name=所属组织,level:=small")
        ),
        ImportFile(communities, "grids", mapping=parse_mapping(community_map)),
        ImportFile(
            streets, "grids", mapping=parse_mapping("grid_id=街道编码,name=街道,level:=街道")
        ),
    ]


def _tree(layers):
    grids = layers["grids"]
    return dict(zip(grids["grid_id"], grids["parent_id"], strict=True))


@pytest.mark.parametrize("by", ["containment", "code"])
def test_three_layers_make_one_tree(three_layers, by):
    notes: list[str] = []
    layers = load_import(_files(three_layers, community_parent=False), parent_by=by, notes=notes)
    assert _tree(layers) == {
        "SQ": None,
        "DX": None,
        "SQ-3": "SQ",
        "SQ-1": "SQ",
        "DX-3": "DX",
        "SQ-3-1": "SQ-3",
        "SQ-3-2": "SQ-3",
        "SQ-1-1": "SQ-1",
        "DX-3-1": "DX-3",
    }
    grids = layers["grids"].set_index("grid_id")
    assert grids.loc["SQ-3", "name"] == "华丰社区"
    assert grids.loc["SQ-3", "geometry"].area == pytest.approx(0.0002)  # both parts
    assert any("'SQ-3' 2 parts" in n for n in notes)


def test_parent_column_by_code_mapping(three_layers):
    files = _files(three_layers, community_parent=True)
    layers = load_import(files, parent_by="containment")
    assert _tree(layers)["DX-3"] == "DX"


def test_code_prefix_needs_a_separator(tmp_path):
    path = _write(
        tmp_path,
        "grids.geojson",
        {
            "grid_id": ["SQ-1", "SQ-3", "SQ-31", "330103001", "330103001002"],
            "name": ["a", "b", "c", "d", "e"],
            "level": ["community", "community", "small", "community", "small"],
        },
        [box(0, 0, 1, 1), box(1, 0, 2, 1), box(1, 0, 1.5, 0.5), box(3, 0, 4, 1), box(3, 0, 3.5, 1)],
    )
    with pytest.raises(ValidationError) as err:
        load_import({"grids": path}, parent_by="code")
    reasons = [i.reason for i in err.value.issues if i.field == "parent_id"]
    assert reasons == ["no parent found for 'SQ-31' by code: no grid id starts it"]
    assert not any("330103001002" in i.reason for i in err.value.issues)


def test_containment_without_a_parent_is_reported(three_layers, tmp_path):
    streets, _communities, _ = three_layers
    stray = _write(
        tmp_path,
        "stray.geojson",
        {"社区编码": ["X-1"], "社区": ["外网格区域"]},
        [box(5, 5, 5.01, 5.01)],
    )
    files = [
        ImportFile(
            streets, "grids", mapping=parse_mapping("grid_id=街道编码,name=街道,level:=街道")
        ),
        ImportFile(stray, "grids", mapping=parse_mapping("grid_id=社区编码,name=社区,level:=社区")),
    ]
    with pytest.raises(ValidationError, match="no grid of a higher level holds it"):
        load_import(files, parent_by="containment")


def test_partial_update_of_one_grid_keeps_the_rest(tmp_path, grids):
    path = tmp_path / "grids.csv"
    pd.DataFrame({"grid_id": ["M2"], "area_class": ["封控区"]}).to_csv(path, index=False)
    layers = load_import({"grids": path}, existing={"grids": grids}, merge=True)
    row = layers["grids"].iloc[0]
    assert (row["grid_id"], row["area_class"], row["name"]) == ("M2", "sealed", "微网格二")
    assert row["geometry"].equals(grids.geometry.iloc[2])


def test_one_subtree_with_a_stored_parent(tmp_path, grids):
    path = _write(
        tmp_path,
        "grids.geojson",
        {
            "grid_id": ["M2-a", "M2-b"],
            "parent_id": ["M2", "M2"],
            "level": ["homestead"] * 2,
            "name": ["宅基一", "宅基二"],
        },
        [box(121.41, 31.20, 121.415, 31.22), box(121.415, 31.20, 121.42, 31.22)],
    )
    with pytest.raises(ValidationError, match="neither in this file nor already stored"):
        load_import({"grids": path})
    layers = load_import({"grids": path}, existing={"grids": grids}, merge=True)
    assert list(layers["grids"]["parent_id"]) == ["M2", "M2"]


def test_a_new_grid_without_geometry_is_named(tmp_path, grids):
    path = tmp_path / "grids.csv"
    pd.DataFrame({"grid_id": ["M9"], "area_class": ["sealed"]}).to_csv(path, index=False)
    with pytest.raises(ValidationError, match="'M9' is not stored yet"):
        load_import({"grids": path}, existing={"grids": grids}, merge=True)


def test_a_stored_cycle_is_refused(tmp_path, grids):
    path = tmp_path / "grids.csv"
    pd.DataFrame({"grid_id": ["C1"], "parent_id": ["M1"]}).to_csv(path, index=False)
    with pytest.raises(ValidationError, match="below 'C1' in the stored tree"):
        load_import({"grids": path}, existing={"grids": grids}, merge=True)
