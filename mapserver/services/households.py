"""The households of one building with their current status, for readers who may see
personal data, within their own area only."""

from __future__ import annotations

import pandas as pd

from mapserver.errors import ForbiddenError
from mapserver.store import Store


def building_households(store: Store, building: str, scope: set[str] | None) -> list[dict]:
    """Households of ``building`` by unit and room, with status and time of the last
    change; ForbiddenError when the building is outside ``scope`` (None: everywhere)."""
    if scope is not None and store.building_grids([building]).get(building) not in scope:
        raise ForbiddenError(f"building '{building}' is outside your grid")
    frame = store.read_households(building_ids=[building])
    status = store.read_status(entity_kind="household", ids=frame["household_id"].tolist())
    status = status.set_index("entity_id")
    rows = []
    for row in frame.sort_values(["unit", "room"]).itertuples(index=False):
        code = status["status"].get(row.household_id)
        when = status["updated_at"].get(row.household_id) if len(status) else None
        rows.append(
            {
                "household_id": row.household_id,
                "unit": None if pd.isna(row.unit) else str(row.unit),
                "room": None if pd.isna(row.room) else str(row.room),
                "residents": None if pd.isna(row.residents) else int(row.residents),
                "status": None if code is None or pd.isna(code) else str(code),
                "updated_at": None if when is None or pd.isna(when) else str(when),
            }
        )
    return rows
