"""Road network: OSM and line-layer readers, graphs, closures, reports and distance matrices."""

from mapserver.network.graph import RoadGraph, apply_closures, build_graph
from mapserver.network.lines import roads_from_lines
from mapserver.network.matrix import distance_matrix, nearest_node, shortest_path
from mapserver.network.osm import read_osm_roads
from mapserver.network.report import NetworkReport, network_report

__all__ = [
    "NetworkReport",
    "RoadGraph",
    "apply_closures",
    "build_graph",
    "distance_matrix",
    "nearest_node",
    "network_report",
    "read_osm_roads",
    "roads_from_lines",
    "shortest_path",
]
