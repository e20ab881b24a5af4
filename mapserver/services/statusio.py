"""Status writes and data imports: validate at the door, then one store transaction."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mapserver.errors import ValidationError, ValidationIssue
from mapserver.io.imports import detect_layer, load_import
from mapserver.io.readers import read_table
from mapserver.io.validate import validate_status
from mapserver.model import LEVEL_LABELS
from mapserver.network.report import network_report
from mapserver.services.mapview import MapView, geometry_json
from mapserver.store import Store, User


def level_label(level: str, lang: str) -> str:
    """Human name of a grid level in a language (the level code when unknown)."""
    return LEVEL_LABELS.get(level, {}).get(lang, level)


def _allowed_entities(view: MapView, user: User) -> tuple[set[str], set[str]] | None:
    """Building and household ids a worker may write; None means everything (admin).

    A worker with no grid may write nothing."""
    if user.role == "admin":
        return None
    if not user.grid_id:
        return set(), set()
    layers = view.layers()
    grid_ids = {user.grid_id, *view.descendants(user.grid_id)}
    buildings = layers.buildings
    building_ids = set(buildings.loc[buildings["grid_id"].isin(grid_ids), "building_id"])
    households = layers.households
    household_ids = set(
        households.loc[households["building_id"].isin(building_ids), "household_id"]
    )
    return building_ids, household_ids


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
    layers = view.layers()
    rows = validate_status(
        frame,
        file=file,
        scheme_codes=view.scheme.spellings(),
        household_ids=layers.household_ids,
        building_ids=layers.building_ids,
    )
    allowed = _allowed_entities(view, user)
    if allowed is not None:
        building_ids, household_ids = allowed
        issues = [
            ValidationIssue(
                file,
                i,
                "entity_id",
                f"'{row.entity_id}' is outside grid '{user.grid_id or '-'}' "
                f"of user '{user.username}'",
            )
            for i, row in enumerate(rows, start=1)
            if row.entity_id
            not in (building_ids if row.entity_kind == "building" else household_ids)
        ]
        if issues:
            raise ValidationError(issues)
    return store.apply_status(rows, user=user.username, source=source)


def apply_status_file(
    store: Store, view: MapView, path: Path, *, file: str, user: User
) -> tuple[int, int]:
    """Read a CSV/XLSX status table and write it whole; returns (last seq, rows applied)."""
    try:
        frame = read_table(path)
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
    source_crs: str | None = None,
    repair: bool = False,
    user: User,
) -> dict:
    """Validate a set of uploaded files together and import them in one transaction.

    ``paths`` maps each saved file to the name the user gave it (used in messages).
    Returns the number of rows imported per layer, and for roads a ``network_report``
    (fragments, dangling, looping and zero-length edges: reported, not dropped).
    """
    by_layer: dict[str, Path] = {}
    issues: list[ValidationIssue] = []
    for path, shown in paths.items():
        layer = (layer_hint or {}).get(path) or detect_layer(Path(shown))
        if layer is None:
            issues.append(
                ValidationIssue(shown, None, None, "cannot tell which layer this file holds")
            )
            continue
        if layer in by_layer:
            issues.append(ValidationIssue(shown, None, None, f"a second file for layer '{layer}'"))
            continue
        named = path.with_name(Path(shown).name.replace("/", "_").replace("\\", "_"))
        if named != path:
            path.rename(named)  # keep the user's file name: messages and layer guesses use it
        by_layer[layer] = named
    if issues:
        raise ValidationError(issues)
    existing = {
        "grids": store.read_grids(),
        "buildings": store.read_buildings(),
        "households": store.read_households(),
    }
    layers = load_import(
        by_layer,
        source_crs=source_crs,
        repair=repair,
        existing=existing,
        scheme_codes=view.scheme.spellings(),
    )
    store.import_layers(layers, user=user.username)
    counts: dict = {name: len(frame) for name, frame in layers.items()}
    if "road_edges" in layers and "road_nodes" in layers:
        counts["network_report"] = network_report(
            layers["road_nodes"], layers["road_edges"]
        ).to_dict()
    return counts


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
