"""`mapserver closures`: close the roads a closure layer touches."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mapserver.cli.common import open_store_of
from mapserver.errors import ValidationError


def cmd_closures(args: argparse.Namespace) -> int:
    """Close the roads a closure layer (points, lines, polygons) touches."""
    from mapserver.io.readers import read_vector
    from mapserver.services.closures import close_roads

    store = open_store_of(args)
    try:
        layer = read_vector(Path(args.file), source_crs=args.crs)
        result = close_roads(store, layer, buffer_m=args.buffer, reopen=args.reopen)
    except (ValidationError, ValueError) as err:
        print(f"  {err}", file=sys.stderr)
        return 2
    print(
        f"封闭道路 / closed edges: {result['closed_before']} -> {result['closed_after']} "
        f"(new {len(result['newly_closed'])}, reopened {len(result['reopened'])})"
    )
    return 0


def add_parser(sub) -> None:
    """The ``closures`` command."""
    closures = sub.add_parser("closures", help="close roads touched by a closure layer")
    closures.add_argument("file", help="GeoJSON/GPKG/SHP.zip/KML of roadblocks or closed areas")
    closures.add_argument("--buffer", type=float, default=5.0, help="metres")
    closures.add_argument("--crs", help="source CRS: EPSG code, gcj02 or bd09")
    closures.add_argument("--reopen", action="store_true", help="open every road first")
    closures.set_defaults(func=cmd_closures)
