"""What the command map shows: grids and buildings with their live status, as GeoJSON-ready dicts.

Reads the layers and the status counts the store keeps per building and grid subtree
(cached per change-log sequence number, so several processes reading one database
agree) and formats features. No Flask here.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import shapely
from shapely.geometry import mapping

from mapserver.crs import wgs84_to_gcj02
from mapserver.model import level_rank
from mapserver.status.colour import effective_area_class
from mapserver.status.counts import wide_counts
from mapserver.status.rollup import Rollup
from mapserver.status.scheme import Scheme, load_scheme
from mapserver.status.tree import grid_ancestors, grid_children
from mapserver.store import Store

BUILDING_COLUMNS = ("building_id", "grid_id", "name", "address", "geometry")  # held per worker
TILED_FROM_BUILDINGS = 20_000  # from this many buildings maps draw levels from vector tiles
PATCH_LIMIT = 200_000  # beyond this many changes, re-read every count rather than patch
COORD_DECIMALS = 6  # about 0.1 m, enough for a map and a third of the bytes of full floats


@dataclass(frozen=True)
class _Layers:
    """The slowly changing layers, read once per data version (grids and buildings; no
    household: a worker's memory does not grow with the households of the district)."""

    version: int
    grids: pd.DataFrame
    buildings: pd.DataFrame
    ancestors: dict[str, list[str]]
    children: dict[str, list[str]]
    area_class: pd.Series
    grid_bounds: np.ndarray  # (n, 4) minx, miny, maxx, maxy of each grid, in ``grids`` order


CARRIED = "carried"  # memo key: the previous snapshot's status tables and what moved since


def _carried_tables(old: _Snapshot, grids: set[str], buildings: set[str]) -> dict:
    """Status tables a new snapshot can patch instead of recounting: each table of ``old``
    (or that ``old`` itself carried) with the grids and buildings that moved since."""
    carried = {
        key: (table, moved_grids | grids, moved_buildings | buildings)
        for key, (table, moved_grids, moved_buildings) in old.memo.get(CARRIED, {}).items()
    }
    for key, table in old.memo.items():
        if isinstance(key, tuple) and key[0] == "status":
            carried[key] = (table, set(grids), set(buildings))
    return carried


@dataclass(frozen=True)
class _Snapshot:
    """A roll-up of every status as of one change-log sequence number."""

    seq: int
    result: Rollup
    grid_codes: pd.Series
    building_codes: pd.Series
    other_rules: dict = field(default_factory=dict)  # rule -> (grid codes, building codes)
    memo: dict = field(default_factory=dict)  # answers counted once per snapshot

    def codes(self, rule: str, threshold: float, default: str) -> tuple[pd.Series, pd.Series]:
        """Grid and building colour codes under ``rule`` (computed once per snapshot)."""
        if rule == default:
            return self.grid_codes, self.building_codes
        if rule not in self.other_rules:
            self.other_rules[rule] = (
                self.result.grid_colour_codes(rule=rule, threshold=threshold),
                self.result.building_colour_codes(rule=rule, threshold=threshold),
            )
        return self.other_rules[rule]


def _round_coords(coords: np.ndarray) -> np.ndarray:
    return np.round(coords, COORD_DECIMALS)


def _shift_gcj02(coords: np.ndarray) -> np.ndarray:
    lon, lat = wgs84_to_gcj02(coords[:, 0], coords[:, 1])
    return np.column_stack([lon, lat])


def boxes_meeting(bounds: np.ndarray, bbox) -> np.ndarray:
    """A mask over ``(n, 4)`` bounds (minx, miny, maxx, maxy): the boxes meeting ``bbox``."""
    minx, miny, maxx, maxy = (float(v) for v in bbox)
    return (
        (bounds[:, 2] >= minx)
        & (bounds[:, 0] <= maxx)
        & (bounds[:, 3] >= miny)
        & (bounds[:, 1] <= maxy)
    )


def or_none(value: object) -> object:
    """Return None for a missing value (None, NaN, ``pd.NA``, ``NaT``), else ``value``.

    Missing cells of a frame read from the store are NaN, which ``json`` writes as a
    bare ``NaN`` that no browser parses; every optional field of an answer goes
    through here.
    """
    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        return None
    return value


def grid_properties(row, grid_id: str, layers, area_scheme) -> dict:
    """The fixed GeoJSON properties of a grid row (no status): names, tree, area class."""
    area = str(layers.area_class.get(grid_id, "none"))
    return {
        "id": grid_id,
        "kind": "grid",
        "name": or_none(row.name),
        "level": or_none(row.level),
        "parent_id": or_none(row.parent_id),
        "person": or_none(row.person),
        "phone": or_none(row.phone),
        "target_households": (
            None if pd.isna(row.target_households) else int(row.target_households)
        ),
        "area_class": area,
        "area_colour": area_scheme.colour(None if area == "none" else area),
        "children": len(layers.children.get(grid_id, [])),
    }


def building_properties(row, building_id: str, layers) -> dict:
    """The fixed GeoJSON properties of a building row (no status): names and its grid."""
    grid_id = row.grid_id
    return {
        "id": building_id,
        "kind": "building",
        "name": or_none(row.name),
        "address": or_none(row.address),
        "grid_id": or_none(grid_id),
        "grid_name": (
            or_none(layers.grids.at[grid_id, "name"]) if grid_id in layers.grids.index else None
        ),
    }


def _bounds(geom) -> list[float] | None:
    """``[minx, miny, maxx, maxy]`` of a geometry, or None when it is missing or empty."""
    if geom is None or geom.is_empty:
        return None
    return list(geom.bounds)


def geometry_json(geom, *, coords: str = "wgs84") -> dict:
    """Return a GeoJSON geometry dict, rounded to 6 decimals; ``coords="gcj02"`` shifts it
    onto Gaode/Tencent basemaps."""
    if coords == "gcj02":
        geom = shapely.transform(geom, _shift_gcj02)
    return mapping(shapely.transform(geom, _round_coords))


class MapView:
    """Live map data for one store and one status scheme.

    Parameters
    ----------
    store
        The store holding grids, buildings, households and status.
    scheme
        Status scheme name (``geodata/schemes``) or a loaded :class:`Scheme`.
    colour_rule
        ``"worst"`` or ``"share"``; ``share_threshold`` applies to the latter.
    """

    def __init__(
        self,
        store: Store,
        scheme: str | Scheme = "hongkou6",
        *,
        colour_rule: str = "worst",
        share_threshold: float = 0.1,
    ) -> None:
        self.store = store
        self.scheme = scheme if isinstance(scheme, Scheme) else load_scheme(scheme)
        self.area_scheme = load_scheme("area3")
        self.colour_rule = colour_rule
        self.share_threshold = share_threshold
        self._lock = threading.Lock()
        self._layers: _Layers | None = None
        self._snapshot: _Snapshot | None = None
        self._checked_at = -math.inf  # when the cached snapshot was last found current
        self._layers_checked_at = -math.inf  # when the layers' data version was last asked
        # the store's count of this process's imports when the layers were last found
        # current: a process sees its own imports at once, others' within ``max_age_s``
        self._layers_writes = -1

    # -- caches keyed by what the database says, never the only copy -------------
    def layers(self, *, max_age_s: float = 0.0) -> _Layers:
        """The grid/building/household layers, re-read when the store's data version moves
        (``max_age_s`` > 0: layers found current less than that many seconds ago answer
        without asking the store, as for :meth:`snapshot`)."""
        if max_age_s > 0:  # no lock: a reader never waits behind a thread reading the store
            held = self._layers
            young = time.monotonic() - self._layers_checked_at < max_age_s
            if held is not None and young and self._layers_writes == self.store.layer_writes:
                return held
        writes = self.store.layer_writes  # before asking: a later import is seen next time
        version = self.store.data_version()
        with self._lock:
            self._layers_checked_at = time.monotonic()
            self._layers_writes = writes
            if self._layers is None or self._layers.version != version:
                grids = self.store.read_grids()
                # only what maps show and scope checks need (not households, gates, units)
                buildings = self.store.read_features("buildings", columns=BUILDING_COLUMNS)
                self._layers = _Layers(
                    version=version,
                    grids=grids.set_index("grid_id", drop=False),
                    buildings=buildings.set_index("building_id", drop=False),
                    ancestors=grid_ancestors(grids),
                    children=grid_children(grids),
                    area_class=effective_area_class(grids),
                    grid_bounds=shapely.bounds(grids.geometry.to_numpy()),
                )
                self._snapshot = None
            return self._layers

    def snapshot(self, *, max_age_s: float = 0.0) -> _Snapshot:
        """Every building's and grid's counts as of the store's latest committed change.

        The counts are those the store keeps with every write (``status_counts``); no
        process rolls the status table up. The first call reads every building's and
        grid's count rows. Later calls read only the change-log rows after the cached
        sequence number and re-read the counts of the buildings they touch and of
        those buildings' grids and every ancestor, so a batch reaches the map without
        re-reading the rest. Counts read are absolute: a row newer than the snapshot's
        ``seq`` is read again, to the same value, by the next one.

        ``max_age_s`` > 0 lets a snapshot found current less than that many seconds
        ago answer without looking at the store: under many writes a second each
        process then recounts a few times a second, not once per request. Every
        answer names its ``seq``, and the live feed brings the map on from there
        (its deltas are always computed with ``max_age_s=0``).
        """
        if max_age_s > 0:
            # No lock on this path: while one thread brings the snapshot on (store round
            # trips), the others answer from the one held rather than queue behind it.
            snap = self._snapshot
            if snap is not None and time.monotonic() - self._checked_at < max_age_s:
                return snap
            if snap is not None and self._lock.locked():
                return snap
        layers = self.layers()
        seq = self.store.last_seq()
        with self._lock:
            snap = self._snapshot
            if snap is not None and snap.seq >= seq:
                self._checked_at = time.monotonic()
                return snap
            result = None
            carried: dict = {}
            if snap is not None:
                changed, touched = self.store.buildings_changed(snap.seq, seq)
                if changed <= PATCH_LIMIT:
                    building_ids = [b for b in touched if b in layers.buildings.index]
                    result = self._patched(snap.result, building_ids, layers)
                    carried = _carried_tables(snap, *self._touched_ids(building_ids, layers))
            if result is None:
                result = self._counted(layers)
            self._snapshot = _Snapshot(
                seq=seq,
                result=result,
                grid_codes=result.grid_colour_codes(
                    rule=self.colour_rule, threshold=self.share_threshold
                ),
                building_codes=result.building_colour_codes(
                    rule=self.colour_rule, threshold=self.share_threshold
                ),
                memo={CARRIED: carried} if carried else {},
            )
            self._checked_at = time.monotonic()
            return self._snapshot

    def _own_codes(self, building_ids: list[str] | None) -> pd.Series:
        """The scheme code of each building's own status row (None where it has none or a
        code the scheme does not know), for ``building_ids`` or every building."""
        rows = self.store.read_status(
            entity_kind="building", ids=building_ids, columns=("entity_kind", "entity_id", "status")
        )
        known = set(self.scheme.code_names)
        codes = [code if code in known else None for code in rows["status"].tolist()]
        return pd.Series(codes, index=rows["entity_id"].to_numpy(dtype=object), dtype=object)

    def _counted(self, layers: _Layers) -> Rollup:
        """Every building's and grid's counts as the store keeps them (no roll-up here)."""
        codes = self.scheme.code_names
        b_index = pd.Index(layers.buildings.index, dtype=object, name="building_id")
        g_index = pd.Index(layers.grids.index, dtype=object, name="grid_id")
        b_hh, b_pp = wide_counts(self.store.read_counts(level="building"), codes, b_index)
        g_hh, g_pp = wide_counts(self.store.read_counts(level="grid"), codes, g_index)
        own = self._own_codes(None).reindex(b_index).astype(object)
        own = own.where(own.notna(), None).rename("status")
        return Rollup(
            scheme=self.scheme,
            building_households=b_hh,
            building_persons=b_pp,
            grid_households=g_hh,
            grid_persons=g_pp,
            building_status=own,
        )

    @staticmethod
    def _touched_ids(building_ids: list[str], layers: _Layers) -> tuple[set[str], set[str]]:
        """Grids (leaf and every ancestor) and buildings whose counts these buildings move."""
        grid_ids: set[str] = set()
        for leaf in layers.buildings.loc[building_ids, "grid_id"].dropna().unique():
            grid_ids.add(leaf)
            grid_ids.update(layers.ancestors.get(leaf, []))
        return grid_ids, set(building_ids)

    def _patched(self, before: Rollup, building_ids: list[str], layers: _Layers) -> Rollup:
        """The counts of the buildings a change-log slice touches, and of their grids and
        every ancestor, as the store now keeps them; every other row as before."""
        if not building_ids:
            return before
        grid_ids, _ = self._touched_ids(building_ids, layers)
        grid_ids = sorted(g for g in grid_ids if g in before.grid_households.index)
        codes = self.scheme.code_names
        frames = {}
        for kind, ids in (("building", building_ids), ("grid", grid_ids)):
            index = pd.Index(ids, dtype=object)
            rows = self.store.read_counts(level=kind, ids=ids) if ids else None
            new = wide_counts(rows if rows is not None else pd.DataFrame(), codes, index)
            for name, fresh in zip(("households", "persons"), new, strict=True):
                frame = getattr(before, f"{kind}_{name}").copy()
                if ids:
                    frame.loc[index] = fresh.to_numpy()
                frames[f"{kind}_{name}"] = frame
        building_status = before.building_status.copy()
        own = self._own_codes(building_ids).reindex(building_ids)
        building_status.loc[building_ids] = own.where(own.notna(), None).to_numpy(dtype=object)
        return Rollup(scheme=before.scheme, building_status=building_status, **frames)

    # -- formatting ---------------------------------------------------------------
    def _counts(self, frame: pd.DataFrame, key: str) -> dict[str, int]:
        if key not in frame.index:
            return {}
        row = frame.loc[key]
        return {str(code): int(n) for code, n in row.items() if int(n) > 0}

    def _status(self, households: pd.DataFrame, persons: pd.DataFrame, codes, key: str) -> dict:
        return self._status_dict(
            self._counts(households, key), self._counts(persons, key), codes.get(key)
        )

    def _status_dict(self, counts: dict, person_counts: dict, code: object) -> dict:
        """The status members of one grid or building (counts, totals, code, colour)."""
        code = None if code is None or pd.isna(code) else str(code)
        return {
            "counts": counts,
            "person_counts": person_counts,
            "households": int(sum(counts.values())),
            "persons": int(sum(person_counts.values())),
            "status": code,
            "colour": self.scheme.colour(code),
        }

    def _codes(self, snap: _Snapshot, rule: str | None) -> tuple[pd.Series, pd.Series]:
        return snap.codes(rule or self.colour_rule, self.share_threshold, self.colour_rule)

    def _grid_status(self, snap: _Snapshot, grid_id: str, rule: str | None = None) -> dict:
        result = snap.result
        codes = self._codes(snap, rule)[0]
        return self._status(result.grid_households, result.grid_persons, codes, grid_id)

    def _building_status(self, snap: _Snapshot, building_id: str, rule: str | None = None) -> dict:
        result = snap.result
        codes = self._codes(snap, rule)[1]
        return self._status(result.building_households, result.building_persons, codes, building_id)

    def status_table(self, snap: _Snapshot, kind: str, rule: str | None = None) -> dict[str, dict]:
        """Status of every grid (``kind="grid"``) or building of a snapshot, id -> the
        dict :meth:`grid_status` / :meth:`building_status` gives; counted once per snapshot
        in one pass over the count tables (not a row look-up per id)."""
        key = ("status", kind, rule or self.colour_rule)
        found = snap.memo.get(key)
        if found is not None:
            return found
        carried = snap.memo.get(CARRIED, {}).get(key)
        if carried is not None:  # the last snapshot's table, recounted where writes moved it
            table, touched_grids, touched_buildings = carried
            touched = touched_grids if kind == "grid" else touched_buildings
            table = dict(table)
            table.update(self._status_rows(snap, kind, rule, [i for i in touched if i in table]))
        else:
            table = self._status_rows(snap, kind, rule, None)
        snap.memo[key] = table
        return table

    def _status_rows(
        self, snap: _Snapshot, kind: str, rule: str | None, ids: list[str] | None
    ) -> dict[str, dict]:
        """Status dicts of ``ids`` (None: every counted entity), in one pass over the counts."""
        result = snap.result
        households = result.grid_households if kind == "grid" else result.building_households
        if ids is not None:
            households = households.loc[households.index.intersection(ids)]
        persons = result.grid_persons if kind == "grid" else result.building_persons
        persons = persons.reindex(index=households.index, fill_value=0)
        codes = self._codes(snap, rule)[0 if kind == "grid" else 1].reindex(households.index)
        h_cols = [str(c) for c in households.columns]
        p_cols = [str(c) for c in persons.columns]
        table: dict[str, dict] = {}
        rows = zip(
            households.index,
            households.to_numpy().tolist(),
            persons.to_numpy().tolist(),
            codes.tolist(),
            strict=True,
        )
        for entity_id, h_row, p_row, code in rows:
            counts = {c: int(n) for c, n in zip(h_cols, h_row, strict=True) if n > 0}
            person_counts = {c: int(n) for c, n in zip(p_cols, p_row, strict=True) if n > 0}
            table[str(entity_id)] = self._status_dict(counts, person_counts, code)
        return table

    def grid_status(self, snap: _Snapshot, grid_id: str, rule: str | None = None) -> dict:
        """Counts, status code and colour of one grid in a snapshot."""
        return self._grid_status(snap, grid_id, rule)

    def building_status(self, snap: _Snapshot, building_id: str, rule: str | None = None) -> dict:
        """Counts, status code and colour of one building in a snapshot."""
        return self._building_status(snap, building_id, rule)

    def tiled(self, *, max_age_s: float = 0.0) -> bool:
        """Whether maps draw this district's levels from vector tiles and status tables
        (a large district: :data:`TILED_FROM_BUILDINGS` buildings or more)."""
        return len(self.layers(max_age_s=max_age_s).buildings) >= TILED_FROM_BUILDINGS

    def grids_in_bbox(self, bbox: tuple[float, float, float, float]) -> np.ndarray:
        """A mask over the layer's grids: those whose bounding box meets ``bbox``."""
        return boxes_meeting(self.layers().grid_bounds, bbox)

    def levels(self) -> list[str]:
        """Grid levels present in the data, top first."""
        grids = self.layers().grids
        return sorted(grids["level"].dropna().unique().tolist(), key=level_rank)

    def grid_features(
        self,
        *,
        level: str | None = None,
        parent_id: str | None = None,
        bbox: tuple[float, float, float, float] | None = None,
        ids: list[str] | None = None,
        coords: str = "wgs84",
        rule: str | None = None,
    ) -> dict:
        """GeoJSON FeatureCollection of grids with status, filtered by level, parent, bbox, ids;
        colours by ``rule`` ("worst" or "share"; default: the server's setting)."""
        layers = self.layers()
        snap = self.snapshot()
        grids = self.store.read_grids(level=level, parent_id=parent_id, bbox=bbox, ids=ids)
        features = []
        for row in grids.itertuples(index=False):
            gid = str(row.grid_id)
            props = {
                **grid_properties(row, gid, layers, self.area_scheme),
                **self._grid_status(snap, gid, rule),
            }
            features.append(
                {
                    "type": "Feature",
                    "id": gid,
                    "properties": props,
                    "geometry": geometry_json(row.geometry, coords=coords),
                }
            )
        return {"type": "FeatureCollection", "seq": snap.seq, "features": features}

    def building_features(
        self,
        *,
        grid_id: str | None = None,
        bbox: tuple[float, float, float, float] | None = None,
        coords: str = "wgs84",
        limit: int = 5000,
        rule: str | None = None,
    ) -> dict:
        """GeoJSON FeatureCollection of buildings with status, inside a grid's subtree or a bbox."""
        layers = self.layers()
        snap = self.snapshot()
        grid_ids = None
        if grid_id is not None:
            grid_ids = [grid_id, *self.descendants(grid_id)]
        buildings = self.store.read_buildings(grid_ids=grid_ids, bbox=bbox)
        truncated = len(buildings) > limit
        features = []
        for row in buildings.head(limit).itertuples(index=False):
            bid = str(row.building_id)
            props = {
                **building_properties(row, bid, layers),
                **self._building_status(snap, bid, rule),
            }
            features.append(
                {
                    "type": "Feature",
                    "id": bid,
                    "properties": props,
                    "geometry": geometry_json(row.geometry, coords=coords),
                }
            )
        return {
            "type": "FeatureCollection",
            "seq": snap.seq,
            "truncated": truncated,
            "features": features,
        }

    def descendants(self, grid_id: str) -> list[str]:
        """Every grid below ``grid_id`` in the tree."""
        children = self.layers().children
        out: list[str] = []
        stack = list(children.get(grid_id, []))
        while stack:
            gid = stack.pop()
            out.append(gid)
            stack.extend(children.get(gid, []))
        return out

    def summary(self, *, grid_id: str | None = None, max_age_s: float = 0.0) -> dict:
        """Counts per status code (households and persons) for one grid or the whole area
        (``max_age_s`` as for :meth:`snapshot`)."""
        return self._summary(self.snapshot(max_age_s=max_age_s), grid_id)

    def _summary(self, snap: _Snapshot, grid_id: str | None) -> dict:
        if grid_id is None and "summary" in snap.memo:
            return dict(snap.memo["summary"])
        if grid_id is None:
            counts = snap.result.building_households.sum(axis=0)
            persons = snap.result.building_persons.sum(axis=0)
            status = {
                "counts": {str(k): int(v) for k, v in counts.items() if int(v) > 0},
                "person_counts": {str(k): int(v) for k, v in persons.items() if int(v) > 0},
            }
            status["households"] = sum(status["counts"].values())
            status["persons"] = sum(status["person_counts"].values())
        else:
            status = self._grid_status(snap, grid_id)
        answer = {"seq": snap.seq, "grid_id": grid_id, "scheme": self.scheme.name, **status}
        if grid_id is None:
            snap.memo["summary"] = answer
        return dict(answer)

    def changes(self, since: int, *, rule: str | None = None, max_age_s: float = 0.0) -> dict:
        """What changed after ``since``: new status and colour of every affected building
        and grid (all ancestors), and the new totals, as of one snapshot (``max_age_s`` as
        for :meth:`snapshot`; the answer's ``seq`` says how far it goes)."""
        layers = self.layers(max_age_s=max_age_s)
        snap = self.snapshot(max_age_s=max_age_s)
        # rows after the snapshot's seq: the next delta brings them
        changed, touched = self.store.buildings_changed(since, snap.seq)
        building_ids = [b for b in touched if b in layers.buildings.index]
        grid_ids, _ = self._touched_ids(building_ids, layers)
        grids = self._statuses(snap, "grid", rule, [g for g in grid_ids if g in layers.grids.index])
        buildings = self._statuses(snap, "building", rule, building_ids)
        return {
            "since": since,
            "seq": snap.seq,
            "changed": changed,
            "grids": grids,
            "buildings": buildings,
            "summary": self._summary(snap, None),
        }

    def _statuses(
        self, snap: _Snapshot, kind: str, rule: str | None, ids: list[str]
    ) -> dict[str, dict]:
        """Status dicts of some grids or buildings: from the snapshot's table when it was
        made already, else counted for these ids alone (a delta of a few buildings does
        not build the table of 500,000)."""
        table = snap.memo.get(("status", kind, rule or self.colour_rule))
        one = self._grid_status if kind == "grid" else self._building_status
        if table is None:
            table = self._status_rows(snap, kind, rule, ids)
        return {i: table.get(i) or one(snap, i, rule) for i in ids}

    def search(self, query: str, *, limit: int = 20) -> list[dict]:
        """Grids and buildings whose id or name contains ``query``, with their bounds."""
        query = query.strip().lower()
        if not query:
            return []
        layers = self.layers()
        hits: list[dict] = []
        for kind, frame, id_col in (
            ("grid", layers.grids, "grid_id"),
            ("building", layers.buildings, "building_id"),
        ):
            names = frame["name"].fillna("").astype(str).str.lower()
            ids = frame[id_col].astype(str).str.lower()
            mask = names.str.contains(query, regex=False) | ids.str.contains(query, regex=False)
            for row in frame[mask].head(limit).itertuples(index=False):
                hits.append(
                    {
                        "kind": kind,
                        "id": getattr(row, id_col),
                        "name": or_none(row.name),
                        "level": or_none(getattr(row, "level", None)),
                        "grid_id": or_none(getattr(row, "grid_id", None)),
                        "bbox": _bounds(row.geometry),
                    }
                )
        return hits[:limit]
