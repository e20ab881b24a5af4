"""Generated data for trying the product and for tests and benchmarks: the demo
sub-district (``district``: grids, buildings, households, status, roads, checkpoints,
laid out by ``layout`` on the roads of ``roads``) and a synthetic parent grid for the
planner (``synthetic``)."""

from mapserver.demo.district import generate_demo, read_demo, write_demo
from mapserver.demo.synthetic import synthetic_parent

__all__ = ["generate_demo", "read_demo", "synthetic_parent", "write_demo"]
