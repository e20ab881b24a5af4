"""The board sheet (挂图板) of a grid, as the Hongkou neighbourhood office kept it in 2020:
each building a box of its households, each household a box with one dot per person in
its status colour (一户一人为一个点). Persons are counted as the map counts them: a status
row's persons when given, else the household's residents. No Flask here."""

from __future__ import annotations

import math

import pandas as pd

from mapserver.errors import NotFoundError
from mapserver.services.mapview import MapView, or_none

MAX_BUILDINGS = 400  # a sheet for more buildings than this is no sheet: pick a smaller grid


def _count(value: object) -> int:
    """A person count from a table cell: blanks and nonsense are 0."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0
    return 0 if math.isnan(number) or number < 0 else int(number)


def board_sheet(view: MapView, grid_id: str, *, lang: str = "zh") -> dict:
    """The board of ``grid_id`` (with every grid below it): ``grid`` (name, path, person
    in charge), ``buildings`` (each with its ``households``: unit, room, status code and
    ``persons``; a building whose status is its own has one household row for it),
    ``legend`` (each status code, its label, colour and households and persons on the
    sheet) and the sheet's totals."""
    layers = view.layers()
    grids = layers.grids
    if grid_id not in grids.index:
        raise NotFoundError(f"grid '{grid_id}' not found")
    under = [grid_id, *view.descendants(grid_id)]
    store = view.store
    buildings = store.read_buildings(grid_ids=under)
    if len(buildings) > MAX_BUILDINGS:
        msg = (
            f"grid '{grid_id}' holds {len(buildings)} buildings, more than a sheet's "
            f"{MAX_BUILDINGS}: choose a grid below it"
        )
        raise ValueError(msg)
    buildings = buildings.sort_values("building_id")
    ids = buildings["building_id"].astype(str).tolist()
    households = store.read_households(building_ids=ids) if ids else pd.DataFrame()
    own = store.read_status(entity_kind="household", ids=households["household_id"].tolist())
    own = own.set_index("entity_id") if len(own) else own
    whole = store.read_status(entity_kind="building", ids=ids) if ids else pd.DataFrame()
    whole = whole.set_index("entity_id") if len(whole) else whole
    scheme = view.scheme
    colours = {c.code: c.colour for c in scheme.codes}
    tally: dict[str | None, list[int]] = {}
    sheet = []
    for b in buildings.itertuples(index=False):
        rows = households[households["building_id"] == b.building_id] if len(households) else []
        boxes = []
        for h in rows.sort_values(["unit", "room"]).itertuples(index=False) if len(rows) else []:
            status = own.loc[h.household_id] if h.household_id in own.index else None
            code = None if status is None else or_none(status["status"])
            given = None if status is None else status["persons"]
            persons = _count(h.residents) if given is None or pd.isna(given) else _count(given)
            boxes.append(
                {
                    "id": str(h.household_id),
                    "unit": or_none(h.unit),
                    "room": or_none(h.room),
                    "status": code,
                    "colour": colours.get(code, scheme.none_colour),
                    "persons": persons,
                }
            )
        if not boxes and len(whole) and b.building_id in whole.index:
            status = whole.loc[b.building_id]
            code = or_none(status["status"])
            given = status["persons"]
            persons = _count(b.residents) if pd.isna(given) else _count(given)
            boxes.append(
                {
                    "id": str(b.building_id),
                    "unit": None,
                    "room": None,
                    "status": code,
                    "colour": colours.get(code, scheme.none_colour),
                    "persons": persons,
                }
            )
        for box in boxes:
            counts = tally.setdefault(box["status"], [0, 0])
            counts[0] += 1
            counts[1] += box["persons"]
        sheet.append(
            {
                "id": str(b.building_id),
                "name": or_none(b.name) or str(b.building_id),
                "address": or_none(b.address),
                "households": boxes,
            }
        )
    legend = [
        {
            "code": c.code,
            "label": c.label_zh if lang == "zh" else c.label_en,
            "colour": c.colour,
            "households": tally.get(c.code, [0, 0])[0],
            "persons": tally.get(c.code, [0, 0])[1],
        }
        for c in scheme.codes
    ]
    legend.append(
        {
            "code": None,
            "label": scheme.none_label_zh if lang == "zh" else scheme.none_label_en,
            "colour": scheme.none_colour,
            "households": tally.get(None, [0, 0])[0],
            "persons": tally.get(None, [0, 0])[1],
        }
    )
    path = [or_none(grids.at[a, "name"]) or a for a in reversed(layers.ancestors.get(grid_id, []))]
    return {
        "grid": {
            "id": grid_id,
            "name": or_none(grids.at[grid_id, "name"]) or grid_id,
            "path": path,
            "person": or_none(grids.at[grid_id, "person"]),
            "phone": or_none(grids.at[grid_id, "phone"]),
        },
        "buildings": sheet,
        "legend": legend,
        "households": sum(v[0] for v in tally.values()),
        "persons": sum(v[1] for v in tally.values()),
    }
