"""Imperfect boundaries: overlaps refused, or cut from the smaller sibling with --repair."""

from __future__ import annotations

import re

import geopandas as gpd
import pytest
import shapely
from shapely.geometry import box

from mapserver import crs
from mapserver.errors import ValidationError
from mapserver.io.imports import load_import


@pytest.fixture
def overlapping(tmp_path):
    """Two 街道 side by side that overlap in a 0.001° strip, and a sliver gap in a third."""
    gdf = gpd.GeoDataFrame(
        {
            "grid_id": ["P", "A", "B", "C"],
            "parent_id": [None, "P", "P", "P"],
            "level": ["district", "subdistrict", "subdistrict", "subdistrict"],
            "name": ["区", "大街道", "小街道", "北街道"],
        },
        geometry=[
            box(120.0, 30.0, 120.03, 30.02),
            box(120.0, 30.0, 120.021, 30.01),  # A is the larger and overlaps B
            box(120.02, 30.0, 120.03, 30.01),
            box(120.0, 30.0101, 120.03, 30.02),  # leaves a sliver gap above A and B
        ],
        crs="EPSG:4326",
    )
    path = tmp_path / "grids.geojson"
    gdf.to_file(path, driver="GeoJSON")
    return path, gdf


def _m2(geom):
    return float(crs.to_metric(gpd.GeoSeries([geom], crs="EPSG:4326")).area.iloc[0])


def _reported_m2(note: str) -> float:
    return float(re.search(r"([\d,]+) m²", note).group(1).replace(",", ""))


def test_overlap_is_refused_by_default(overlapping):
    path, _ = overlapping
    with pytest.raises(ValidationError, match=r"'B' overlaps its sibling 'A'.*repair"):
        load_import({"grids": path})


def test_repair_cuts_the_smaller_sibling_and_lists_every_change(overlapping):
    path, source = overlapping
    notes: list[str] = []
    layers = load_import({"grids": path}, repair=True, notes=notes)
    grids = layers["grids"].set_index("grid_id")
    overlap = shapely.intersection(source.geometry.iloc[1], source.geometry.iloc[2])
    assert grids.loc["A", "geometry"].equals(source.geometry.iloc[1])  # the larger keeps it
    assert shapely.intersection(grids.loc["A", "geometry"], grids.loc["B", "geometry"]).area < 1e-12
    assert grids.loc["B", "geometry"].area == pytest.approx(
        source.geometry.iloc[2].area - overlap.area
    )
    cut = [n for n in notes if "loses" in n]
    assert len(cut) == 1 and "'B'" in cut[0] and "'A'" in cut[0]
    assert _reported_m2(cut[0]) == pytest.approx(_m2(overlap), rel=0.01)
    gaps = [n for n in notes if "gap" in n]
    assert len(gaps) == 1 and "inside 'P'" in gaps[0]
    sliver = box(120.0, 30.01, 120.03, 30.0101)
    assert _reported_m2(gaps[0]) == pytest.approx(_m2(sliver), rel=0.01)
