import osmium
import pyproj
import pytest
from shapely.geometry import box

from mapserver.io import detect_layer, load_import
from mapserver.model import ROAD_CLASSES, ROAD_EDGE_COLUMNS, ROAD_NODE_COLUMNS
from mapserver.network import read_osm_roads

GEOD = pyproj.Geod(ellps="WGS84")

OSM_XML = """<?xml version='1.0' encoding='UTF-8'?>
<osm version="0.6" generator="test">
  <node id="1" lat="31.100" lon="121.200" version="1"/>
  <node id="2" lat="31.100" lon="121.201" version="1"/>
  <node id="3" lat="31.100" lon="121.202" version="1">
    <tag k="barrier" v="gate"/>
  </node>
  <node id="4" lat="31.100" lon="121.203" version="1"/>
  <node id="5" lat="31.101" lon="121.201" version="1"/>
  <node id="6" lat="31.099" lon="121.201" version="1"/>
  <node id="7" lat="31.099" lon="121.200" version="1"/>
  <way id="10" version="1">
    <nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="4"/>
    <tag k="highway" v="secondary"/><tag k="name" v="盈港公路"/>
  </way>
  <way id="11" version="1">
    <nd ref="5"/><nd ref="2"/><nd ref="6"/>
    <tag k="highway" v="residential"/><tag k="oneway" v="-1"/><tag k="name:zh" v="华青路"/>
  </way>
  <way id="12" version="1">
    <nd ref="6"/><nd ref="7"/>
    <tag k="highway" v="service"/><tag k="access" v="private"/>
  </way>
  <way id="13" version="1">
    <nd ref="7"/><nd ref="1"/>
    <tag k="route" v="ferry"/>
  </way>
  <way id="14" version="1">
    <nd ref="1"/><nd ref="7"/>
    <tag k="building" v="yes"/>
  </way>
</osm>
"""


def test_pbf_roads_have_model_columns_classes_and_metric_lengths(osm_roads):
    nodes, edges = osm_roads
    assert list(nodes.columns) == list(ROAD_NODE_COLUMNS)
    assert list(edges.columns) == list(ROAD_EDGE_COLUMNS)
    assert nodes.crs.to_epsg() == 4326 and edges.crs.to_epsg() == 4326
    assert len(edges) > 500
    assert set(edges["road_class"]) <= set(ROAD_CLASSES)
    assert {"main", "street", "lane", "path"} <= set(edges["road_class"])
    assert edges["edge_id"].is_unique and nodes["node_id"].is_unique
    assert edges["edge_id"].str.match(r"^osm:\d+:\d+$").all()
    assert set(edges["u"]) | set(edges["v"]) <= set(nodes["node_id"])
    # every motorway piece is one way; paths are walked
    motorway_like = edges["road_class"] == "main"
    assert edges.loc[motorway_like, "oneway"].any()
    assert (edges.loc[edges["road_class"] == "path", "mode"] == "walk").all()
    for _, edge in edges.sample(20, random_state=1).iterrows():
        lon, lat = edge.geometry.xy
        geodesic = GEOD.line_length(lon, lat)
        assert edge["length_m"] == pytest.approx(geodesic, rel=0.01)


def test_pbf_edges_end_at_their_nodes(osm_roads):
    nodes, edges = osm_roads
    where = dict(zip(nodes["node_id"], nodes.geometry, strict=True))
    for _, edge in edges.head(50).iterrows():
        first, last = edge.geometry.coords[0], edge.geometry.coords[-1]
        assert where[edge["u"]].coords[0] == pytest.approx(first)
        assert where[edge["v"]].coords[0] == pytest.approx(last)


def test_bbox_keeps_only_ways_touching_it(osm_pbf, osm_roads):
    _, edges = osm_roads
    minx, miny, maxx, maxy = edges.total_bounds
    area = (minx, miny, (minx + maxx) / 2, (miny + maxy) / 2)
    _, part = read_osm_roads(osm_pbf, bbox=area)
    assert 0 < len(part) < len(edges)
    way = part["edge_id"].str.rsplit(":", n=1).str[0]
    assert part.intersects(box(*area)).groupby(way).any().all()


def test_pbf_written_back_as_xml_reads_the_same(tmp_path, osm_pbf, osm_roads):
    path = tmp_path / "extract.osm"
    writer = osmium.SimpleWriter(str(path))
    for obj in osmium.FileProcessor(osm_pbf):
        writer.add(obj)
    writer.close()
    _, edges = read_osm_roads(path)
    assert sorted(edges["edge_id"]) == sorted(osm_roads[1]["edge_id"])
    assert edges["length_m"].sum() == pytest.approx(osm_roads[1]["length_m"].sum(), rel=1e-6)


def test_xml_split_at_junctions_gates_with_oneway_ferry_and_access(tmp_path):
    path = tmp_path / "tiny.osm"
    path.write_text(OSM_XML, encoding="utf-8")
    nodes, edges = read_osm_roads(path)
    by_id = edges.set_index("edge_id")
    # way 10 is cut at the junction (node 2) and at the gate (node 3)
    assert [by_id.loc[f"osm:10:{k}", "u"] for k in range(3)] == ["osm:1", "osm:2", "osm:3"]
    assert by_id.loc["osm:10:0", "road_class"] == "main"
    assert by_id.loc["osm:10:0", "name"] == "盈港公路"
    assert not by_id.loc["osm:10:0", "oneway"]
    # oneway=-1: reversed, so u -> v runs against the drawing
    assert (by_id.loc["osm:11:0", "u"], by_id.loc["osm:11:0", "v"]) == ("osm:2", "osm:5")
    assert by_id.loc["osm:11:0", "oneway"] and by_id.loc["osm:11:0", "name"] == "华青路"
    assert by_id.loc["osm:11:0", "geometry"].coords[0] == pytest.approx((121.201, 31.100))
    assert by_id.loc["osm:12:0", "closed"] and by_id.loc["osm:12:0", "road_class"] == "lane"
    assert by_id.loc["osm:13:0", "mode"] == "water"
    assert not edges["edge_id"].str.startswith("osm:14").any()
    kinds = nodes.set_index("node_id")["kind"]
    assert kinds["osm:3"] == "gate" and kinds["osm:2"] == "junction"
    _, _, geodesic = GEOD.inv(121.200, 31.100, 121.201, 31.100)
    assert by_id.loc["osm:10:0", "length_m"] == pytest.approx(geodesic, rel=1e-3)


def test_load_import_reads_an_osm_file_as_roads(tmp_path):
    path = tmp_path / "district.osm"
    path.write_text(OSM_XML, encoding="utf-8")
    assert detect_layer(path) == "roads"
    assert detect_layer("shanghai-latest.osm.pbf") == "roads"
    layers = load_import({"roads": path})
    assert set(layers) == {"road_nodes", "road_edges"}
    assert list(layers["road_edges"].columns) == list(ROAD_EDGE_COLUMNS)
    assert layers["road_edges"]["closed"].sum() == 1
    assert set(layers["road_nodes"]["node_id"]) >= {"osm:1", "osm:7"}
