"""Tests of the CRS policy and the GCJ-02 / BD-09 shifts."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pyproj
import pytest
from shapely.geometry import Point, Polygon

from mapserver import crs

SHANGHAI = (121.4737, 31.2304)


def _metres(lon0, lat0, lon1, lat1) -> np.ndarray:
    """Geodesic distance in metres between WGS84 positions."""
    _, _, dist = pyproj.Geod(ellps="WGS84").inv(lon0, lat0, lon1, lat1)
    return np.asarray(dist)


def test_gcj02_offset_in_shanghai_is_hundreds_of_metres():
    lon, lat = crs.wgs84_to_gcj02(*SHANGHAI)
    offset = _metres(*SHANGHAI, lon, lat)
    assert 400 < offset < 700
    # Known published value for this point (GCJ-02 lies north-east of WGS84 here).
    assert lon == pytest.approx(121.47814, abs=2e-4)
    assert lat == pytest.approx(31.22844, abs=2e-4)


def test_gcj02_roundtrip_is_under_half_a_metre_on_a_grid_of_points():
    lon, lat = np.meshgrid(np.linspace(75, 134, 40), np.linspace(18, 53, 40))
    glon, glat = crs.wgs84_to_gcj02(lon.ravel(), lat.ravel())
    back_lon, back_lat = crs.gcj02_to_wgs84(glon, glat)
    assert _metres(lon.ravel(), lat.ravel(), back_lon, back_lat).max() < 0.5


def test_gcj02_leaves_points_outside_china_unchanged():
    lon, lat = crs.wgs84_to_gcj02(np.array([2.35, -74.0]), np.array([48.85, 40.7]))
    np.testing.assert_array_equal(lon, [2.35, -74.0])
    np.testing.assert_array_equal(lat, [48.85, 40.7])


def test_bd09_roundtrips_to_gcj02_and_wgs84():
    blon, blat = crs.wgs84_to_bd09(*SHANGHAI)
    assert _metres(*SHANGHAI, blon, blat) > 500  # BD-09 adds another ~700 m
    assert _metres(*SHANGHAI, *crs.bd09_to_wgs84(blon, blat)) < 0.5
    glon, glat = crs.wgs84_to_gcj02(*SHANGHAI)
    assert _metres(glon, glat, *crs.bd09_to_gcj02(*crs.gcj02_to_bd09(glon, glat))) < 0.5


def test_metric_crs_is_gauss_kruger_zone_in_china_and_utm_elsewhere():
    # Shanghai 121.47E: 3-degree zone with central meridian 120E is EPSG:4549.
    assert crs.metric_crs((121.4, 31.2, 121.5, 31.3)).to_epsg() == 4549
    assert crs.metric_crs((114.0, 22.5, 114.1, 22.6)).to_epsg() == 4547  # Shenzhen, CM 114E
    assert crs.metric_crs((2.3, 48.8, 2.4, 48.9)).to_epsg() == 32631  # Paris
    assert crs.metric_crs((151.1, -33.9, 151.2, -33.8)).to_epsg() == 32756  # Sydney


def test_to_metric_measures_in_metres_and_to_storage_returns_4326():
    square = Polygon([(121.47, 31.23), (121.48, 31.23), (121.48, 31.24), (121.47, 31.24)])
    gdf = gpd.GeoDataFrame(geometry=[square], crs="EPSG:4326")
    metric = crs.to_metric(gdf)
    assert metric.crs.to_epsg() == 4549
    assert 1.0e6 < metric.area.iloc[0] < 1.1e6  # about 951 m x 1109 m
    back = crs.to_storage(metric)
    assert back.crs.to_epsg() == 4326
    assert back.geometry.iloc[0].equals_exact(square, tolerance=1e-9)


def test_convert_to_wgs84_from_gcj02_bd09_and_gauss_kruger():
    wgs = Point(*SHANGHAI)
    gcj = Point(*crs.wgs84_to_gcj02(*SHANGHAI))
    bd = Point(*crs.wgs84_to_bd09(*SHANGHAI))
    for source, geom in (("gcj02", gcj), ("BD09", bd)):
        out = crs.convert_to_wgs84(gpd.GeoDataFrame(geometry=[geom], crs="EPSG:4326"), source)
        assert out.crs.to_epsg() == 4326
        assert _metres(*SHANGHAI, out.geometry.x.iloc[0], out.geometry.y.iloc[0]) < 0.5
    projected = gpd.GeoDataFrame(geometry=[wgs], crs="EPSG:4326").to_crs(4549)
    raw = gpd.GeoDataFrame(geometry=projected.geometry.values)  # no CRS on the file
    out = crs.convert_to_wgs84(raw, "EPSG:4549")
    assert _metres(*SHANGHAI, out.geometry.x.iloc[0], out.geometry.y.iloc[0]) < 0.01
    cgcs = crs.convert_to_wgs84(gpd.GeoDataFrame(geometry=[wgs]), "CGCS2000")
    assert _metres(*SHANGHAI, cgcs.geometry.x.iloc[0], cgcs.geometry.y.iloc[0]) < 1.0
    with pytest.raises(ValueError, match="nonsense"):
        crs.convert_to_wgs84(raw, "nonsense")


def test_transform_geometries_shifts_every_vertex_of_polygons_with_holes():
    shell = [(121.0, 31.0), (121.1, 31.0), (121.1, 31.1), (121.0, 31.1)]
    hole = [(121.02, 31.02), (121.05, 31.02), (121.05, 31.05)]
    series = gpd.GeoSeries([Polygon(shell, [hole])], crs="EPSG:4326")
    shifted = crs.transform_geometries(series, crs.wgs84_to_gcj02)
    coords = np.asarray(shifted.iloc[0].interiors[0].coords)
    expected = np.column_stack(crs.wgs84_to_gcj02(*np.asarray(hole + hole[:1]).T))
    np.testing.assert_allclose(coords, expected)
    assert shifted.crs == series.crs
