"""One import: read every uploaded file, validate them together, return model layers or raise."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import pandas as pd

from mapserver.errors import ValidationError, ValidationIssue
from mapserver.io.checks import text
from mapserver.io.conform import conform_layer
from mapserver.io.gridtree import check_grid_files
from mapserver.io.mapping import ColumnMapping, apply_mapping, check_mapping
from mapserver.io.merge import fill_from_stored, ids_after_import, merged_layer
from mapserver.io.readers import TABLE_SUFFIXES, read_table, read_vector, to_wgs84
from mapserver.io.tables import normalise_columns, points_from_table
from mapserver.io.validate import (
    validate_buildings,
    validate_households,
    validate_status,
)
from mapserver.model import (
    GEOMETRY_LAYERS,
    LAYERS,
    STATUS_COLUMNS,
)
from mapserver.network.lines import roads_from_lines
from mapserver.network.osm import read_osm_roads

IMPORT_LAYERS: tuple[str, ...] = (
    *LAYERS,
    "roads",  # OSM file or road line layer -> road_nodes + road_edges
)
OSM_SUFFIXES: tuple[str, ...] = (".pbf", ".osm")
# File-name words that name a layer, most specific first ("household_status" is status).
_LAYER_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("status", ("status", "状态")),
    ("checkpoints", ("checkpoint", "道口", "卡口")),
    ("households", ("household", "户")),
    ("buildings", ("building", "楼")),
    ("road_nodes", ("road_node", "node", "节点")),
    ("road_edges", ("edge",)),
    ("roads", ("road", "道路", "路网")),  # a line layer, noded into road_nodes and road_edges
    (
        "grids",
        ("grid", "网格", "community", "subdistrict", "社区", "街道", "居委", "boundary", "边界"),
    ),
)


def detect_layer(path: str | Path) -> str | None:
    """Guess the layer of a file from its name (``grids.geojson``, ``楼栋.xlsx``...), or None.

    OpenStreetMap files (``.osm.pbf``, ``.osm``) are ``"roads"``.
    """
    if Path(path).suffix.lower() in OSM_SUFFIXES:
        return "roads"
    name = Path(path).stem.lower()
    for layer, words in _LAYER_WORDS:
        if any(word in name for word in words):
            return layer
    return None


@dataclass(frozen=True)
class ImportFile:
    """One uploaded file and how to read it.

    Attributes
    ----------
    path
        Where the file is.
    layer
        Which layer it holds (see IMPORT_LAYERS).
    name
        The name the user gave it (used in messages); the path's name by default.
    mapping
        Which of its columns hold which model fields, and constants such as ``level``.
    encoding
        Its text encoding; ``None`` detects it.
    """

    path: Path
    layer: str
    name: str = ""
    mapping: ColumnMapping = field(default_factory=ColumnMapping)
    encoding: str | None = None

    @property
    def shown(self) -> str:
        """The file name shown in messages."""
        return self.name or Path(self.path).name


def load_import(
    paths: dict[str, str | Path] | list[ImportFile],
    *,
    source_crs: str | None = None,
    repair: bool = False,
    existing: dict[str, pd.DataFrame] | None = None,
    scheme_codes: set[str] | dict[str, str] | None = None,
    parent_by: str | None = None,
    merge: bool = False,
    notes: list[str] | None = None,
) -> dict[str, pd.DataFrame]:
    """Read and validate the files of one import; all or nothing.

    Parameters
    ----------
    paths
        Layer name (``grids``, ``buildings``, ``households``, ``status``,
        ``road_nodes``, ``road_edges``, ``roads``, ``checkpoints``) to file, or
        a list of :class:`ImportFile` (several grid files, e.g. 街道, 社区 and
        网格 layers, may come together). ``roads`` is an OSM file or a road
        line layer, noded into ``road_nodes`` and ``road_edges``.
    source_crs
        What the coordinates really are (EPSG code, ``"gcj02"``, ``"bd09"``, WKT,
        a PROJ string or a ``.prj`` path); ``None`` uses each file's own CRS,
        or EPSG:4326 when it has none.
    repair
        Repair invalid polygons with ``shapely.make_valid``, cut sibling
        overlaps from the smaller grid and report gaps (in ``notes``).
    existing
        The store's current layers: cross-checks of layers not uploaded
        (status against stored households/buildings, buildings against stored
        grids), and with ``merge`` the rows the import keeps.
    scheme_codes
        Allowed status codes, or accepted spellings -> code; ``None`` accepts any.
    parent_by
        ``"code"`` or ``"containment"``: fill blank grid parents from the
        grids of higher levels (see :func:`mapserver.io.gridtree.assign_parents`).
    merge
        The import updates the stored layers by id instead of replacing them:
        rows of stored ids take the stored values of columns the file lacks
        (a table of ``grid_id, area_class`` changes only the area class), and
        the tree, containment and overlap checks include the stored grids.
    notes
        Receives what was done that the user should know: encodings used,
        parts joined, parents set, repairs with their areas, gaps.

    Returns
    -------
    dict of layer name to (Geo)DataFrame
        The uploaded layers with exactly the model.py columns, optional ones
        filled (``version`` 1, ``area_class`` "none", building households and
        residents from the household table), geometry in EPSG:4326.

    Raises
    ------
    ValidationError
        With every issue of every file; nothing is returned then.
    """
    files = _as_files(paths)
    layers_given = [f.layer for f in files]
    unknown = sorted(set(layers_given) - set(IMPORT_LAYERS))
    if unknown:
        msg = f"unknown layer(s) {unknown}: use {list(IMPORT_LAYERS)}"
        raise ValueError(msg)
    if "roads" in layers_given and {"road_edges", "road_nodes"} & set(layers_given):
        msg = "give either 'roads' (to be noded) or 'road_edges' (edges as they are), not both"
        raise ValueError(msg)
    existing = existing or {}
    notes = notes if notes is not None else []
    issues: list[ValidationIssue] = []
    raw: dict[str, pd.DataFrame] = {}
    grid_files: list[tuple[ImportFile, pd.DataFrame]] = []
    names = {f.layer: f.shown for f in files}
    for item in files:
        try:
            if item.layer == "roads":
                raw["road_nodes"], raw["road_edges"] = _read_roads(item, source_crs)
                continue
            frame = _read(item, source_crs, issues, notes)
            if frame is None:
                continue
            if item.layer == "grids":
                grid_files.append((item, frame))
            elif item.layer in raw:
                reason = f"a second file for layer '{item.layer}'"
                issues.append(ValidationIssue(item.shown, None, None, reason))
            else:
                raw[item.layer] = frame
        except ValidationError as exc:
            issues.extend(exc.issues)
        except Exception as exc:  # any unreadable file is one issue, not a crash
            issues.append(ValidationIssue(item.shown, None, None, f"cannot read the file: {exc}"))
    if merge:
        filled = []
        for item, frame in [*grid_files, *((f, raw[f.layer]) for f in files if f.layer in raw)]:
            try:
                frame = fill_from_stored(
                    item.layer, frame, existing.get(item.layer), file=item.shown
                )
            except ValidationError as exc:
                issues.extend(exc.issues)
            filled.append((item, frame))
        grid_files = [(f, frame) for f, frame in filled if f.layer == "grids"]
        raw.update({f.layer: frame for f, frame in filled if f.layer != "grids"})
        if issues:
            raise ValidationError(issues)
    out: dict[str, pd.DataFrame] = {}
    stored_grids = existing.get("grids") if merge else None
    if grid_files:
        checked = check_grid_files(
            grid_files, stored_grids, repair=repair, parent_by=parent_by, issues=issues, notes=notes
        )
        if checked is not None:
            out["grids"] = checked
    grids = merged_layer(out.get("grids"), existing.get("grids"), "grid_id", merge=merge)
    if "buildings" in raw:
        out["buildings"] = validate_buildings(
            raw["buildings"], file=names["buildings"], grids=grids, repair=repair, issues=issues
        )
    building_ids = ids_after_import(out, existing, "buildings", "building_id", merge=merge)
    if "households" in raw:
        out["households"] = validate_households(
            raw["households"], file=names["households"], building_ids=building_ids, issues=issues
        )
    if "status" in raw:
        household_ids = ids_after_import(out, existing, "households", "household_id", merge=merge)
        rows = validate_status(
            raw["status"],
            file=names["status"],
            scheme_codes=scheme_codes,
            household_ids=household_ids,
            building_ids=building_ids,
            issues=issues,
        )
        out["status"] = _status_frame(rows, _times(raw["status"], rows, names["status"], issues))
    for layer in ("road_nodes", "road_edges", "checkpoints"):
        if layer in raw:
            out[layer] = raw[layer]
    if issues:
        raise ValidationError(issues)
    if "buildings" in out:
        households = out.get("households", existing.get("households"))
        out["buildings"] = _fill_from_households(out["buildings"], households)
    return {layer: conform_layer(layer, df) for layer, df in out.items()}


def _as_files(paths: dict[str, str | Path] | list[ImportFile]) -> list[ImportFile]:
    """The import's files as ImportFile objects."""
    if isinstance(paths, dict):
        return [ImportFile(Path(p), layer) for layer, p in paths.items()]
    return list(paths)


def _read(
    item: ImportFile, source_crs: str | None, issues: list[ValidationIssue], notes: list[str]
) -> pd.DataFrame | None:
    """Read one file as a layer: mapping applied, model column names, geometry in EPSG:4326."""
    path, layer = Path(item.path), item.layer
    if path.suffix.lower() in TABLE_SUFFIXES:
        df = read_table(path, encoding=item.encoding)
        _note_encoding(item, df, notes)
        df = _mapped(item, df, issues)
        if df is None:
            return None
        if layer in GEOMETRY_LAYERS:
            df = points_from_table(df)
            if isinstance(df, gpd.GeoDataFrame):
                df = to_wgs84(df, source_crs=source_crs, file=item.shown)
        return df
    gdf = read_vector(path, source_crs=source_crs, encoding=item.encoding)
    _note_encoding(item, gdf, notes)
    gdf = _mapped(item, gdf, issues)
    if gdf is None:
        return None
    if layer not in GEOMETRY_LAYERS:
        return pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    return gdf


def _mapped(item: ImportFile, df: pd.DataFrame, issues: list[ValidationIssue]):
    """The file's columns after its mapping and the usual aliases; None after reporting."""
    problems = check_mapping(item.mapping, item.layer, list(df.columns), file=item.shown)
    if problems:
        issues.extend(problems)
        return None
    mapped = apply_mapping(df, item.mapping)
    protected = set(item.mapping.columns) | set(item.mapping.constants)
    return normalise_columns(mapped, item.layer, keep=protected)


def _note_encoding(item: ImportFile, df: pd.DataFrame, notes: list[str]) -> None:
    """Say which text encoding a file was read in (a Shapefile always; a table unless UTF-8)."""
    used = df.attrs.get("encoding")
    quiet = Path(item.path).suffix.lower() in TABLE_SUFFIXES and used and used[0].startswith("utf")
    if used is not None and not quiet:
        notes.append(f"{item.shown}: text read as {used[0]} ({used[1]})")


def _read_roads(
    item: ImportFile, source_crs: str | None
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Road nodes and edges from an OSM file or a line layer (noded, measured in metres)."""
    path = Path(item.path)
    if path.suffix.lower() in OSM_SUFFIXES:
        return read_osm_roads(path)
    lines = read_vector(path, source_crs=source_crs, encoding=item.encoding)
    return roads_from_lines(lines, file=item.shown)


def _status_frame(rows: list, times: list[str | None] | None = None) -> pd.DataFrame:
    """Status rows as a model.STATUS_COLUMNS frame, source 'import', stamped with the
    file's own ``updated_at`` where it gives one, else now (UTC)."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    times = times or [None] * len(rows)
    return pd.DataFrame(
        {
            "entity_kind": [r.entity_kind for r in rows],
            "entity_id": [r.entity_id for r in rows],
            "status": [r.status for r in rows],
            "persons": pd.array([r.persons for r in rows], dtype="Int64"),
            "updated_at": [t or now for t in times],
            "source": ["import"] * len(rows),
            "seq": pd.array([None] * len(rows), dtype="Int64"),
        },
        columns=list(STATUS_COLUMNS),
    )


def _times(
    frame: pd.DataFrame, rows: list, file: str, issues: list[ValidationIssue]
) -> list[str | None] | None:
    """The ``updated_at`` of each status row as ISO 8601 text, when the file has the column.

    A cell that is not a date and time is an issue; blanks mean "now".
    """
    if "updated_at" not in frame.columns or len(rows) != len(frame):
        return None
    found: list[str | None] = []
    for i, raw in enumerate(frame["updated_at"]):
        value = text(raw)
        if value is None:
            found.append(None)
            continue
        try:
            stamp = datetime.fromisoformat(value)
        except ValueError:
            reason = f"'{value}' is not a date and time (e.g. 2022-04-01T08:30:00+08:00)"
            issues.append(ValidationIssue(file, i + 1, "updated_at", reason))
            found.append(None)
            continue
        found.append(value if stamp.tzinfo else stamp.replace(tzinfo=UTC).isoformat())
    return found


def _fill_from_households(
    buildings: gpd.GeoDataFrame, households: pd.DataFrame | None
) -> gpd.GeoDataFrame:
    """Fill blank building household and resident counts from the household table."""
    if households is None or not len(households) or "building_id" not in households.columns:
        return buildings
    ids = households["building_id"].map(text)
    counts = ids.value_counts()
    buildings = buildings.copy()
    per_building = buildings["building_id"].map(counts)
    current = buildings["households"] if "households" in buildings.columns else None
    buildings["households"] = per_building if current is None else current.fillna(per_building)
    if "residents" in households.columns:
        residents = pd.to_numeric(households["residents"], errors="coerce").groupby(ids).sum()
        summed = buildings["building_id"].map(residents)
        current = buildings["residents"] if "residents" in buildings.columns else None
        buildings["residents"] = summed if current is None else current.fillna(summed)
    return buildings
