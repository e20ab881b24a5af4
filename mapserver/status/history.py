"""Status as of a past moment, from the change log: which status each entity had then, and
how the counts of the buildings changed since differ from today's.

The state at a change-log sequence number ``seq`` is today's counts, with the buildings
that changed after ``seq`` counted again from their entities' status as of ``seq``: an
entity's latest log row up to ``seq`` (a row with no new status: removed by a replacing
import), else the old status of its first row after ``seq`` (the state before the log
began), else its status today. Counts are of today's grids, buildings and households.

Pure functions: the store reads the rows, :class:`~mapserver.services.mapview.MapView`
applies the differences.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import pandas as pd

from mapserver.status.counts import COLUMNS, TOTAL_ID

Key = tuple[str, str]  # (entity_kind, entity_id)
Status = tuple[str, int | None]  # (code, persons or None)


def status_as_of(
    seq: int, today: Mapping[Key, Status], log_rows: Iterable[Sequence]
) -> dict[Key, Status]:
    """Each entity's (code, persons) as of ``seq``.

    ``today``: the entities' status rows now; ``log_rows``: (seq, entity_kind, entity_id,
    old_status, new_status, persons) change-log rows of those entities, any order. An
    entity absent from the answer had no status then.
    """
    before: dict[Key, tuple[int, str | None, int | None]] = {}  # latest row <= seq
    after: dict[Key, tuple[int, str | None]] = {}  # first row > seq
    for row_seq, kind, entity_id, old, new, persons in log_rows:
        key = (kind, entity_id)
        if row_seq <= seq:
            if key not in before or row_seq > before[key][0]:
                before[key] = (row_seq, new, persons)
        elif key not in after or row_seq < after[key][0]:
            after[key] = (row_seq, old)
    then: dict[Key, Status] = dict(today)
    for key in after:
        then.pop(key, None)
        if key in before:
            _, code, persons = before[key]
            if code is not None:
                then[key] = (code, None if persons is None else int(persons))
        elif after[key][1] is not None:
            then[key] = (after[key][1], None)  # before the log began: persons unknown
    return then


def count_moves(
    now: Mapping[tuple[str, str], tuple[int, int]],
    then: Mapping[tuple[str, str], tuple[int, int]],
    chains: Mapping[str, Sequence[str]],
) -> pd.DataFrame:
    """What to add to today's counts to get those of then (columns level, entity_id, code,
    households, persons; level "grid" or "total"): the difference of some buildings'
    counts then and now, ``(building_id, code) -> (households, persons)``, added to each
    building's grid chain (``chains``: building -> its grid and every ancestor) and to the
    district."""
    moves: dict[tuple[str, str, str], list[int]] = {}
    for key in set(now) | set(then):
        building_id, code = key
        h_then, p_then = then.get(key, (0, 0))
        h_now, p_now = now.get(key, (0, 0))
        if h_then == h_now and p_then == p_now:
            continue
        targets = [("grid", g) for g in chains.get(building_id, [])]
        for level, entity in [*targets, ("total", TOTAL_ID)]:
            held = moves.setdefault((level, entity, code), [0, 0])
            held[0] += h_then - h_now
            held[1] += p_then - p_now
    rows = [(lv, e, c, h, p) for (lv, e, c), (h, p) in moves.items() if h or p]
    return pd.DataFrame(rows, columns=list(COLUMNS))


def moved(counts: pd.DataFrame, moves: pd.DataFrame) -> pd.DataFrame:
    """Count rows (columns of :data:`~mapserver.status.counts.COLUMNS`) with ``moves``
    added, rows left empty dropped."""
    both = pd.concat([counts[list(COLUMNS)], moves[list(COLUMNS)]], ignore_index=True)
    summed = both.groupby(["level", "entity_id", "code"], as_index=False, sort=True)[
        ["households", "persons"]
    ].sum()
    keep = (summed["households"] != 0) | (summed["persons"] != 0)
    return summed[keep].reset_index(drop=True)[list(COLUMNS)]
