"""Readers, validation and writers: files in, validated model layers out."""

from mapserver.io.safety import harden_gdal

harden_gdal()  # before any reader runs: no VRT, no network access through GDAL

from mapserver.io.imports import detect_layer, load_import  # noqa: E402
from mapserver.io.readers import read_table, read_vector  # noqa: E402
from mapserver.io.writers import write_csv, write_geojson  # noqa: E402

__all__ = [
    "detect_layer",
    "load_import",
    "read_table",
    "read_vector",
    "write_csv",
    "write_geojson",
]
