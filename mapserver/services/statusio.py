"""Status writes and data imports: validate at the door, then one store transaction."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mapserver.errors import ValidationError, ValidationIssue
from mapserver.io.checks import text
from mapserver.io.imports import ImportFile, detect_layer, load_import
from mapserver.io.mapping import ColumnMapping
from mapserver.io.readers import read_table
from mapserver.io.tables import normalise_columns
from mapserver.io.validate import validate_status
from mapserver.model import ID_COLUMN, LEVEL_LABELS
from mapserver.network.report import network_report
from mapserver.services.mapview import MapView, geometry_json
from mapserver.store import Store, User


def level_label(level: str, lang: str) -> str:
    """Human name of a grid level in a language (the level code when unknown)."""
    return LEVEL_LABELS.get(level, {}).get(lang, level)


def _outside_area(store: Store, view: MapView, user: User, rows: list) -> list[int]:
    """Positions of the rows a user may not write: outside a worker's grid subtree (a
    worker with no grid may write nothing); none for an admin."""
    if user.role == "admin":
        return []
    if not user.grid_id:
        return list(range(len(rows)))
    grid_ids = {user.grid_id, *view.descendants(user.grid_id)}
    owners = store.household_buildings(r.entity_id for r in rows if r.entity_kind == "household")
    building_of = [
        row.entity_id if row.entity_kind == "building" else owners.get(row.entity_id)
        for row in rows
    ]
    grid_of = store.building_grids(b for b in building_of if b is not None)
    return [i for i, b in enumerate(building_of) if grid_of.get(b) not in grid_ids]


def _batch_ids(frame: pd.DataFrame) -> set[str]:
    """Every id a status table names (its id columns' cells, as the validator reads them)."""
    found: set[str] = set()
    for column in ("entity_id", "household_id", "building_id"):
        if column in frame.columns:
            found.update(t for t in (text(v) for v in frame[column]) if t is not None)
    return found


def apply_status_records(
    store: Store,
    view: MapView,
    frame: pd.DataFrame,
    *,
    file: str,
    user: User,
    source: str,
) -> int:
    """Validate a status table and write it whole; returns the last change-log sequence.

    A worker may only write the buildings and households of their own grid subtree.
    Raises :class:`ValidationError` naming every bad row; nothing is written then.
    """
    # the ids the batch names (the store checks them again inside the write's transaction)
    household_ids, building_ids = store.existing_entities(_batch_ids(frame))
    rows = validate_status(
        frame,
        file=file,
        scheme_codes=view.scheme.spellings(),
        household_ids=household_ids,
        building_ids=building_ids,
    )
    outside = _outside_area(store, view, user, rows)
    if outside:
        raise ValidationError(
            [
                ValidationIssue(
                    file,
                    i + 1,
                    "entity_id",
                    f"'{rows[i].entity_id}' is outside grid '{user.grid_id or '-'}' "
                    f"of user '{user.username}'",
                    code="outside_area",
                    value=rows[i].entity_id,
                )
                for i in outside
            ]
        )
    return store.apply_status(rows, user=user.username, source=source)


def apply_status_once(
    store: Store,
    view: MapView,
    frame: pd.DataFrame,
    *,
    request_id: str,
    user: User,
    source: str,
) -> tuple[int, bool]:
    """Write a status batch a client may send more than once (a phone's queued entry,
    resent when the answer was lost): the first time it is written as
    :func:`apply_status_records` writes it, any later time nothing is written. Returns
    (last change-log seq, whether it was written now)."""
    if not store.claim_request(user.username, request_id):
        return store.last_seq(), False
    try:
        seq = apply_status_records(store, view, frame, file="request", user=user, source=source)
    except BaseException:
        store.release_request(user.username, request_id)  # not written: it may come again
        raise
    return seq, True


def apply_status_file(
    store: Store,
    view: MapView,
    path: Path,
    *,
    file: str,
    user: User,
    encoding: str | None = None,
) -> tuple[int, int]:
    """Read a CSV/XLSX status table and write its rows (merged by entity); all or nothing.

    Headers may be Chinese (户号, 楼栋, 状态, 人数) and statuses scheme labels
    (一直在沪). Returns (last change-log seq, rows applied).
    """
    try:
        frame = normalise_columns(read_table(path, encoding=encoding), "status")
    except ValidationError:
        raise
    except Exception as err:
        raise ValidationError([ValidationIssue(file, None, None, f"cannot read: {err}")]) from err
    seq = apply_status_records(store, view, frame, file=file, user=user, source=file)
    return seq, len(frame)


def import_files(
    store: Store,
    view: MapView,
    paths: dict[Path, str],
    *,
    layer_hint: dict[Path, str | None] | None = None,
    mappings: dict[Path, ColumnMapping] | None = None,
    source_crs: str | None = None,
    encoding: str | None = None,
    repair: bool = False,
    parent_by: str | None = None,
    replace: bool = False,
    dry_run: bool = False,
    user: User,
) -> dict:
    """Validate a set of uploaded files together and import them in one transaction.

    Parameters
    ----------
    paths
        Each saved file -> the name the user gave it (used in messages).
    layer_hint, mappings
        Per file: its layer (else guessed from the name) and column mapping.
    source_crs, encoding
        The coordinate system and text encoding of the files (None: detect).
    repair, parent_by
        See :func:`mapserver.io.imports.load_import`.
    replace
        Replace each imported layer whole (stored rows missing from the file
        are deleted). Without it the import merges by id: a status file
        updates the status of its households, a grid file of one 社区 updates
        those grids. A road network (OSM file or road lines) replaces the
        stored one, so it needs ``replace`` when roads are stored.
    dry_run
        Validate and say what would change; write nothing.

    Returns
    -------
    dict
        Rows per layer, ``plan`` (per layer: added, updated, deleted and the
        first deleted ids), ``notes`` (encodings used, parts joined, parents
        set, repairs with their areas, gaps), ``mode``, ``dry_run``, and for
        roads a ``network_report``.
    """
    files: list[ImportFile] = []
    issues: list[ValidationIssue] = []
    for path, shown in paths.items():
        layer = (layer_hint or {}).get(path) or detect_layer(Path(shown))
        if layer is None:
            issues.append(
                ValidationIssue(shown, None, None, "cannot tell which layer this file holds")
            )
            continue
        named = path.with_name(Path(shown).name.replace("/", "_").replace("\\", "_"))
        if named != path:
            path.rename(named)  # keep the user's file name: messages and layer guesses use it
        mapping = (mappings or {}).get(path) or ColumnMapping()
        files.append(ImportFile(named, layer, shown, mapping, encoding))
    if issues:
        raise ValidationError(issues)
    layers_given = {f.layer for f in files}
    existing = _stored_layers(store, layers_given)
    notes: list[str] = []
    layers = load_import(
        files,
        source_crs=source_crs,
        repair=repair,
        existing=existing,
        scheme_codes=view.scheme.spellings(),
        parent_by=parent_by,
        merge=not replace,
        notes=notes,
    )
    road_file = next((f.shown for f in files if f.layer == "roads"), None)
    plan = import_plan(
        layers,
        existing,
        replace=replace,
        replaced={"road_nodes", "road_edges"} if road_file else set(),
    )
    if road_file is not None and not replace and plan["road_edges"]["deleted"]:
        reason = (
            f"a road network replaces the stored one ({plan['road_edges']['deleted']} road "
            "edges would be deleted): import it with replace (--replace)"
        )
        raise ValidationError([ValidationIssue(road_file, None, None, reason)])
    network = {"road_nodes", "road_edges"} if road_file is not None else set()
    mode = {name: "replace" if replace or name in network else "merge" for name in layers}
    counts: dict = {name: len(frame) for name, frame in layers.items()}
    if not dry_run:
        store.import_layers(
            layers,
            user=user.username,
            mode=mode,
            log={
                "files": [f.shown for f in files],
                "summary": {"rows": dict(counts), "plan": plan},
            },
        )
    counts.update(plan=plan, notes=notes, mode=mode, dry_run=dry_run)
    if "road_edges" in layers and "road_nodes" in layers:
        counts["network_report"] = network_report(
            layers["road_nodes"], layers["road_edges"]
        ).to_dict()
    return counts


def _stored_layers(store: Store, layers: set[str]) -> dict[str, pd.DataFrame]:
    """The stored layers an import checks against or merges into."""
    existing = {
        "grids": store.read_grids(),
        "buildings": store.read_buildings(),
        "households": store.read_households(),
    }
    if "status" in layers:
        existing["status"] = store.read_status()
    wanted = {"roads": ("road_nodes", "road_edges")}
    for layer in layers:
        for name in wanted.get(layer, (layer,)):
            if name not in existing and name in ID_COLUMN:
                existing[name] = store.read_layer(name)
    return existing


def import_plan(
    layers: dict[str, pd.DataFrame],
    existing: dict[str, pd.DataFrame],
    *,
    replace: bool,
    replaced: set[str] | frozenset[str] = frozenset(),
) -> dict[str, dict]:
    """What an import changes per layer: rows added, updated and (on a replace) deleted.

    Layers in ``replaced`` are replaced even without ``replace`` (a road network).
    ``deleted_ids`` lists the first 20 ids a replace deletes (status: kind/id).
    """
    plan: dict[str, dict] = {}
    for layer, frame in layers.items():
        keys = _keys(layer, frame)
        stored = existing.get(layer)
        old = _keys(layer, stored) if stored is not None else set()
        gone = sorted(old - keys) if replace or layer in replaced else []
        plan[layer] = {
            "added": len(keys - old),
            "updated": len(keys & old),
            "deleted": len(gone),
            "deleted_ids": ["/".join(k) if isinstance(k, tuple) else k for k in gone[:20]],
        }
    return plan


def _keys(layer: str, frame: pd.DataFrame) -> set:
    """The identifiers of a layer's rows (status: (entity_kind, entity_id))."""
    if frame is None or not len(frame):
        return set()
    if layer == "status":
        kinds = frame["entity_kind"].fillna("household")
        return set(zip(kinds.astype(str), frame["entity_id"].astype(str), strict=True))
    column = ID_COLUMN.get(layer)
    if column is None or column not in frame.columns:
        return set()
    return set(frame[column].astype(str))


def layer_features(
    store: Store,
    name: str,
    *,
    bbox: tuple[float, float, float, float] | None = None,
    coords: str = "wgs84",
) -> dict:
    """A whole geometry layer (roads, checkpoints) as a GeoJSON FeatureCollection."""
    frame = store.read_layer(name)
    if bbox is not None and len(frame):
        frame = frame.cx[bbox[0] : bbox[2], bbox[1] : bbox[3]]
    features = []
    for record in frame.to_dict("records"):
        geom = record.pop("geometry")
        props = {
            k: (None if v is None or (isinstance(v, float) and pd.isna(v)) else v)
            for k, v in record.items()
        }
        props = {k: (v.item() if hasattr(v, "item") else v) for k, v in props.items()}
        features.append(
            {"type": "Feature", "properties": props, "geometry": geometry_json(geom, coords=coords)}
        )
    return {"type": "FeatureCollection", "features": features}
