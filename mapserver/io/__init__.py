"""Readers, validation and writers: files in, validated model layers out."""

from mapserver.io.imports import detect_layer, load_import
from mapserver.io.readers import read_table, read_vector
from mapserver.io.writers import write_csv, write_geojson

__all__ = [
    "detect_layer",
    "load_import",
    "read_table",
    "read_vector",
    "write_csv",
    "write_geojson",
]
