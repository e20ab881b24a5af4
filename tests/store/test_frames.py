"""Tests of the conversion between layer frames and stored column values."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import Point, box

from mapserver.store.frames import build_frame, layer_values


def test_layer_values_coerces_text_numbers_ids_and_yes_no():
    frame = pd.DataFrame(
        {
            "edge_id": [1, 2],
            "u": ["a", "b"],
            "v": ["b", "a"],
            "oneway": ["yes", "0"],
            "length_m": ["12.5", None],
            "closed": [None, True],
        }
    )
    names, columns = layer_values(frame, "road_edges", dialect="sqlite")
    values = dict(zip(names, columns, strict=True))
    assert values["edge_id"] == ["1", "2"]
    assert values["oneway"] == [True, False]
    assert values["closed"] == [None, True]
    assert values["length_m"] == [12.5, None]
    assert values["name"] == [None, None]
    assert values["geometry"] == [None, None]


def test_layer_values_int_columns_from_text_and_floats():
    frame = pd.DataFrame(
        {"household_id": ["H1", "H2", "H3"], "building_id": "B", "residents": ["3", "", None]}
    )
    names, columns = layer_values(frame, "households", dialect="sqlite")
    assert dict(zip(names, columns, strict=True))["residents"] == [3, None, None]
    with pytest.raises(ValueError, match="'residents'"):
        layer_values(
            pd.DataFrame({"household_id": ["H1"], "residents": [2.5]}),
            "households",
            dialect="sqlite",
        )
    with pytest.raises(ValueError, match="yes/no"):
        layer_values(
            pd.DataFrame({"checkpoint_id": ["K"], "staffed": ["maybe"]}),
            "checkpoints",
            dialect="sqlite",
        )


def test_layer_values_geometry_bbox_and_postgis_ewkb():
    frame = gpd.GeoDataFrame(
        {"node_id": ["N1", "N2"]}, geometry=[Point(121.5, 31.2), None], crs="EPSG:4326"
    )
    names, columns = layer_values(frame, "road_nodes", dialect="postgresql")
    values = dict(zip(names, columns, strict=True))
    assert (values["minx"], values["maxy"]) == ([121.5, None], [31.2, None])
    assert shapely.get_srid(shapely.from_wkb(values["geometry"][0])) == 4326
    assert values["geometry"][1] is None


def test_build_frame_types_and_geometry():
    wkb = shapely.to_wkb(box(0, 0, 1, 1))
    rows = [("K1", "n", None, "land", 1, 3, wkb), ("K2", None, "N2", "minor", 0, None, None)]
    columns = ["checkpoint_id", "name", "node_id", "kind", "staffed", "shifts", "geometry"]
    frame = build_frame(columns, rows, geometry=True)
    assert frame.crs == "EPSG:4326"
    assert frame["staffed"].dtype == bool
    assert frame["shifts"].dtype == "Int64"
    assert frame.geometry.iloc[0].equals(box(0, 0, 1, 1))
    assert frame.geometry.iloc[1] is None
    empty = build_frame(columns, [], geometry=True)
    assert list(empty.columns) == columns
    assert empty["shifts"].dtype == np.int64
