"""One import: read every uploaded file, validate them together, return model layers or raise."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from mapserver import crs
from mapserver.errors import ValidationError, ValidationIssue
from mapserver.io.checks import count, text, texts
from mapserver.io.gridtree import assign_parents, join_parts
from mapserver.io.mapping import ColumnMapping, apply_mapping, check_mapping
from mapserver.io.readers import TABLE_SUFFIXES, read_table, read_vector, to_wgs84
from mapserver.io.tables import normalise_columns, points_from_table
from mapserver.io.validate import (
    validate_buildings,
    validate_grids,
    validate_households,
    validate_status,
)
from mapserver.io.validate_grids import LEVEL_CODES as _LEVEL_CODES
from mapserver.model import (
    BUILDING_REQUIRED,
    GEOMETRY_LAYERS,
    GRID_LEVELS,
    GRID_REQUIRED,
    HOUSEHOLD_REQUIRED,
    ID_COLUMN,
    LAYERS,
    STATUS_COLUMNS,
    STORAGE_CRS,
    level_rank,
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
REQUIRED: dict[str, tuple[str, ...]] = {
    "grids": GRID_REQUIRED,
    "buildings": BUILDING_REQUIRED,
    "households": HOUSEHOLD_REQUIRED,
}
_INT_COLUMNS = frozenset(
    {"target_households", "version", "units", "households", "residents", "persons", "shifts"}
)
_BOOL_COLUMNS = frozenset({"oneway", "closed", "staffed"})
_TRUE = frozenset({"true", "1", "yes", "y", "t", "是", "有"})
_DEFAULTS: dict[str, object] = {"area_class": "none", "version": 1}


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
                frame = _fill_from_stored(
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
        checked = _grid_files(
            grid_files, stored_grids, repair=repair, parent_by=parent_by, issues=issues, notes=notes
        )
        if checked is not None:
            out["grids"] = checked
    grids = _merged(out.get("grids"), existing.get("grids"), "grid_id", merge=merge)
    if "buildings" in raw:
        out["buildings"] = validate_buildings(
            raw["buildings"], file=names["buildings"], grids=grids, repair=repair, issues=issues
        )
    building_ids = _id_set(out, existing, "buildings", "building_id", merge=merge)
    if "households" in raw:
        out["households"] = validate_households(
            raw["households"], file=names["households"], building_ids=building_ids, issues=issues
        )
    if "status" in raw:
        rows = validate_status(
            raw["status"],
            file=names["status"],
            scheme_codes=scheme_codes,
            household_ids=_id_set(out, existing, "households", "household_id", merge=merge),
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
    return {layer: _conform(layer, df) for layer, df in out.items()}


def _as_files(paths: dict[str, str | Path] | list[ImportFile]) -> list[ImportFile]:
    """The import's files as ImportFile objects."""
    if isinstance(paths, dict):
        return [ImportFile(Path(p), layer) for layer, p in paths.items()]
    return list(paths)


def _grid_files(
    grid_files: list[tuple[ImportFile, pd.DataFrame]],
    stored: pd.DataFrame | None,
    *,
    repair: bool,
    parent_by: str | None,
    issues: list[ValidationIssue],
    notes: list[str],
) -> gpd.GeoDataFrame | None:
    """Validate grid files from the top level down, each against the others and the store.

    Rows of one id in several parts are joined first; then blank parents are
    set by code or containment when asked.
    """

    def top_rank(frame: pd.DataFrame) -> int:
        if "level" not in frame.columns:
            return len(GRID_LEVELS)
        ranks = [
            level_rank(_LEVEL_CODES.get(str(v).strip().lower(), str(v))) for v in frame["level"]
        ]
        return min(ranks, default=len(GRID_LEVELS))

    ordered = sorted(grid_files, key=lambda pair: top_rank(pair[1]))
    done: list[gpd.GeoDataFrame] = []
    for item, frame in ordered:
        local: list[ValidationIssue] = []
        frame, joined = join_parts(frame, file=item.shown, issues=local)
        notes.extend(joined)
        context = _context_grids(done, stored)
        if parent_by and "level" in frame.columns and "grid_id" in frame.columns:
            probe = validate_grids(frame, file=item.shown, issues=[], repair=repair)
            frame, set_notes = assign_parents(
                probe, context, by=parent_by, file=item.shown, issues=local
            )
            notes.extend(set_notes)
        checked = validate_grids(
            frame,
            file=item.shown,
            repair=repair,
            parents_known=set(context["grid_id"]),
            context=context,
            issues=local,
            notes=notes,
        )
        issues.extend(local)
        if not local:
            done.append(checked)
    if not done:
        return None
    frames = [_conform("grids", d) for d in done]
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=STORAGE_CRS)


def _context_grids(done: list[gpd.GeoDataFrame], stored: pd.DataFrame | None) -> gpd.GeoDataFrame:
    """Grids already checked in this import, then stored grids with other ids."""
    frames = [_conform("grids", d)[["grid_id", "parent_id", "level", "geometry"]] for d in done]
    ids = {g for d in frames for g in d["grid_id"]}
    if stored is not None and len(stored):
        keep = stored[~stored["grid_id"].isin(ids)]
        frames.append(keep[["grid_id", "parent_id", "level", "geometry"]])
    if not frames:
        return gpd.GeoDataFrame(
            {"grid_id": [], "parent_id": [], "level": []}, geometry=[], crs=STORAGE_CRS
        )
    return gpd.GeoDataFrame(
        pd.concat(frames, ignore_index=True), geometry="geometry", crs=STORAGE_CRS
    )


def _fill_from_stored(
    layer: str, frame: pd.DataFrame, stored: pd.DataFrame | None, *, file: str
) -> pd.DataFrame:
    """Rows whose id is stored take the stored values of the columns the file lacks.

    A table without geometry becomes a GeoDataFrame with the stored geometry
    of its rows. Rows of new ids when the file lacks a required column raise
    ValidationError (one issue per row).
    """
    id_column = ID_COLUMN.get(layer)
    if stored is None or not len(stored) or id_column is None or id_column not in frame.columns:
        return frame
    by_id = stored.drop_duplicates(id_column).set_index(id_column)
    keys = [text(v) for v in frame[id_column]]
    missing = [c for c in LAYERS[layer] if c not in frame.columns and c in by_id.columns]
    if not missing:
        return frame
    required = [c for c in REQUIRED.get(layer, ()) if c in missing]
    if required:
        new = [i for i, k in enumerate(keys) if k not in by_id.index]
        reason = "'{}' is not stored yet, and a new {} needs {} (the file gives only: {})"
        issues = [
            ValidationIssue(
                file,
                i + 1,
                id_column,
                reason.format(
                    keys[i], layer, ", ".join(required), ", ".join(map(str, frame.columns))
                ),
            )
            for i in new
        ]
        if issues:
            raise ValidationError(issues)
    frame = frame.copy()
    for column in missing:
        if column != "geometry":
            frame[column] = by_id[column].reindex(keys).to_numpy(dtype=object)
    if "geometry" in missing:
        values = by_id["geometry"].reindex(keys).to_numpy(dtype=object)
        return gpd.GeoDataFrame(frame, geometry=list(values), crs=STORAGE_CRS)
    return frame


def _merged(new: pd.DataFrame | None, stored: pd.DataFrame | None, key: str, *, merge: bool):
    """The layer after the import: the new rows, plus the stored rows of other ids on a merge."""
    if new is None:
        return stored
    if not merge or stored is None or not len(stored):
        return new
    keep = stored[~stored[key].isin(set(new[key]))]
    return gpd.GeoDataFrame(pd.concat([new, keep], ignore_index=True), crs=STORAGE_CRS)


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


def _id_set(
    out: dict[str, pd.DataFrame],
    existing: dict[str, pd.DataFrame],
    layer: str,
    column: str,
    *,
    merge: bool = False,
) -> set[str]:
    """Ids of a layer after the import: the uploaded ones (plus the stored ones on a
    merge), else the stored ones, else none."""
    found: set[str] = set()
    frames = [out.get(layer, existing.get(layer))]
    if merge and layer in out:
        frames.append(existing.get(layer))
    for df in frames:
        if df is not None and column in df.columns:
            found |= {v for v in (text(x) for x in df[column]) if v is not None}
    return found


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


def _conform(layer: str, df: pd.DataFrame) -> pd.DataFrame:
    """Exactly the model columns of a layer, typed, defaults filled, geometry in EPSG:4326."""
    df = df.reset_index(drop=True).copy()
    if layer == "road_edges" and "length_m" not in df.columns and len(df):
        df["length_m"] = crs.to_metric(gpd.GeoSeries(df.geometry, crs=STORAGE_CRS)).length
    columns = [c for c in LAYERS[layer] if c != "geometry"]
    for column in columns:
        if column not in df.columns:
            df[column] = _DEFAULTS.get(column)
        if column in _INT_COLUMNS:
            df[column] = pd.array([count(v)[1] for v in df[column]], dtype="Int64")
        elif column in _BOOL_COLUMNS:
            df[column] = [_boolean(v) for v in df[column]]
        elif column == "length_m":
            df[column] = pd.to_numeric(df[column], errors="coerce").astype(float)
        else:
            df[column] = texts(df[column], df.index)
    if "area_class" in columns:
        df["area_class"] = df["area_class"].fillna("none")
    if "version" in columns:
        df["version"] = df["version"].fillna(1)
    if "geometry" not in LAYERS[layer]:
        return pd.DataFrame(df[columns])
    return gpd.GeoDataFrame(df[columns], geometry=list(df.geometry.values), crs=STORAGE_CRS)


def _boolean(value: object) -> bool:
    """A yes/no cell (true/1/是 ...) as bool; blank and anything else is False."""
    if isinstance(value, bool | np.bool_):
        return bool(value)
    raw = text(value)
    return raw is not None and raw.lower() in _TRUE
