"""Search of the command map: grids and buildings by id or name, with the path of grid
names above each hit; for readers who may see personal data, persons in charge, phone
numbers and rooms too."""

from __future__ import annotations

import pandas as pd

from mapserver.services.mapview import MapView, bounds_of, or_none
from mapserver.store import Store


def search(view: MapView, query: str, *, limit: int = 20, personal: bool = False) -> list[dict]:
    """Grids and buildings whose id or name contains ``query``, with their bounds and the
    path of grid names above them (so that five "第1微网格" are told apart); with
    ``personal``, grids whose person in charge or phone number matches too, and
    households by room ("502", "1-502", "5栋 502") (``match`` says which)."""
    query = query.strip().lower()
    if not query:
        return []
    layers = view.layers()
    grids = layers.grids

    def has(column: str) -> pd.Series:
        return grids[column].fillna("").astype(str).str.lower().str.contains(query, regex=False)

    by_name = has("name") | has("grid_id")
    by_person = (has("person") | has("phone")) & ~by_name if personal else by_name & False
    chosen = [
        ("grid", grids[by_name].head(limit), "name"),
        ("building", view.store.search_buildings(query, limit=limit), "name"),
        ("grid", grids[by_person].head(limit), "person"),
    ]
    hits: list[dict] = []
    for kind, frame, match in chosen:
        for row in frame.itertuples(index=False):
            grid_id = or_none(getattr(row, "grid_id", None))
            hit = {
                "kind": kind,
                "id": getattr(row, f"{kind}_id"),
                "name": or_none(row.name),
                "level": or_none(getattr(row, "level", None)),
                "grid_id": grid_id,
                "path": _path(grid_id, layers, own=kind == "building"),
                "match": match,
                "bbox": bounds_of(row.geometry),
            }
            if match == "person":
                hit.update(person=or_none(row.person), phone=or_none(row.phone))
            hits.append(hit)
        if personal and kind == "building":  # rooms before phone numbers that contain them
            hits.extend(_household_hits(view.store, query, layers, limit))
    return hits[:limit]


def _household_hits(store: Store, query: str, layers, limit: int) -> list[dict]:
    """Households whose room (or unit-room, or id) matches ``query``, each as a hit on
    its building with the room, for a reader who may see personal data."""
    found = store.search_households(query, limit=limit)
    if not len(found):
        return []
    buildings = store.read_buildings(ids=found["building_id"].astype(str).tolist())
    buildings = buildings.set_index("building_id")
    hits = []
    for row in found.itertuples(index=False):
        if row.building_id not in buildings.index:
            continue
        building = buildings.loc[row.building_id]
        grid_id = or_none(building["grid_id"])
        unit, room = or_none(row.unit), or_none(row.room)
        hits.append(
            {
                "kind": "household",
                "id": str(row.household_id),
                "name": f"{or_none(building['name']) or row.building_id} "
                f"{unit + '-' if unit else ''}{room or ''}".strip(),
                "level": None,
                "grid_id": grid_id,
                "building_id": str(row.building_id),
                "unit": unit,
                "room": room,
                "path": _path(grid_id, layers, own=True),
                "match": "room",
                "bbox": bounds_of(building["geometry"]),
            }
        )
    return hits


def _path(grid_id: str | None, layers, *, own: bool) -> list[str]:
    """Names of the grids above ``grid_id``, top first (and its own with ``own``)."""
    if grid_id is None or grid_id not in layers.grids.index:
        return []
    chain = list(reversed(layers.ancestors.get(grid_id, [])))
    if own:
        chain.append(grid_id)
    names = layers.grids["name"]
    return [str(or_none(names.get(g)) or g) for g in chain]
