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
from mapserver.services.recent import Recent
from mapserver.status.colour import effective_area_class, pick_codes
from mapserver.status.counts import TOTAL_ID, wide_counts
from mapserver.status.rollup import Rollup
from mapserver.status.scheme import Scheme, load_scheme
from mapserver.status.tree import grid_ancestors, grid_children
from mapserver.status.updates import grids_to_recount, patch_counts
from mapserver.store import Store

COLOUR_RULES = ("worst", "share")
CHANGES_MAX_BUILDINGS = 20_000  # beyond this many moved buildings a map reloads instead
HISTORY_KEPT = 16  # past snapshots kept per process
CHOICES_SHOWN = 5_000  # buildings a status form lists
BUILDINGS_KEPT = 50_000  # building statuses a snapshot keeps (most recently shown first)
TILED_FROM_BUILDINGS = 20_000  # from this many buildings maps draw levels from vector tiles
PATCH_LIMIT = 200_000  # beyond this many changes, re-read every count rather than patch
COORD_DECIMALS = 6  # about 0.1 m, enough for a map and a third of the bytes of full floats


@dataclass(frozen=True)
class _Layers:
    """The slowly changing layers, read once per data version: the grids and their tree.
    No building and no household is held: a worker's memory does not grow with the
    buildings or households of the district (they are read per view)."""

    version: int
    grids: pd.DataFrame
    building_count: int
    ancestors: dict[str, list[str]]
    children: dict[str, list[str]]
    area_class: pd.Series
    grid_bounds: np.ndarray  # (n, 4) minx, miny, maxx, maxy of each grid, in ``grids`` order


CARRIED = "carried"  # memo key: the previous snapshot's status tables and what moved since


def _carried_tables(old: _Snapshot, grids: set[str]) -> dict:
    """Grid status tables a new snapshot can patch instead of recounting: each table of
    ``old`` (or that ``old`` itself carried) with the grids that moved since."""
    carried = {
        key: (table, moved | grids) for key, (table, moved) in old.memo.get(CARRIED, {}).items()
    }
    for key, table in old.memo.items():
        if isinstance(key, tuple) and key[0] == "status":
            carried[key] = (table, set(grids))
    return carried


@dataclass(frozen=True)
class _Counts:
    """Households and persons per status code of every grid subtree and of the district,
    as the store keeps them (index ``grid_id``; one column per code and "none")."""

    grid_households: pd.DataFrame
    grid_persons: pd.DataFrame
    total_households: pd.Series
    total_persons: pd.Series


@dataclass(frozen=True)
class _Snapshot:
    """Every grid's counts as of one change-log sequence number; buildings' statuses are
    read when a view shows them and kept in ``buildings`` (bounded)."""

    seq: int
    counts: _Counts
    grid_codes: pd.Series
    buildings: Recent  # (building_id, rule) -> status dict
    past: bool = False  # counts as of a past moment (grids and district only)
    other_rules: dict = field(default_factory=dict)  # rule -> grid codes
    memo: dict = field(default_factory=dict)  # answers counted once per snapshot


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


def bounds_of(geom) -> list[float] | None:
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
        self._history = Recent(HISTORY_KEPT)  # (data version, seq) -> past snapshot

    # -- caches keyed by what the database says, never the only copy -------------
    def layers(self, *, max_age_s: float = 0.0) -> _Layers:
        """The grid layer and tree, re-read when the store's data version moves
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
                self._layers = _Layers(
                    version=version,
                    grids=grids.set_index("grid_id", drop=False),
                    building_count=self.store.building_count(),
                    ancestors=grid_ancestors(grids),
                    children=grid_children(grids),
                    area_class=effective_area_class(grids),
                    grid_bounds=shapely.bounds(grids.geometry.to_numpy()),
                )
                self._snapshot = None
            return self._layers

    def snapshot(self, *, max_age_s: float = 0.0) -> _Snapshot:
        """Every grid's counts as of the store's latest committed change.

        The counts are those the store keeps with every write (``status_counts``); no
        process rolls the status table up. The first call reads every grid's count rows
        and the district's; buildings are read when a view shows them
        (:meth:`building_rows`). Later calls read only the buildings the change-log rows
        after the cached sequence number touch, re-read the counts of those buildings'
        grids and every ancestor, and forget those buildings' statuses, so a batch
        reaches the map without re-reading the rest. Counts read are absolute: a row
        newer than the snapshot's ``seq`` is read again, to the same value, by the next
        one.

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
            counts = None
            carried: dict = {}
            if snap is not None:
                changed, touched = self.store.buildings_changed(snap.seq, seq)
                if changed <= PATCH_LIMIT:
                    grid_ids = grids_to_recount(
                        touched.values(), layers.ancestors, layers.grids.index
                    )
                    counts = self._patched(snap.counts, grid_ids)
                    carried = _carried_tables(snap, grid_ids)
                    rules = {self.colour_rule, *COLOUR_RULES}
                    buildings = snap.buildings.copy_without(
                        (b, rule) for b in touched for rule in rules
                    )
            if counts is None:
                counts = self._counted(layers)
                buildings = Recent(BUILDINGS_KEPT)
            self._snapshot = _Snapshot(
                seq=seq,
                counts=counts,
                grid_codes=pick_codes(
                    counts.grid_households,
                    self.scheme,
                    rule=self.colour_rule,
                    threshold=self.share_threshold,
                ),
                buildings=buildings,
                memo={CARRIED: carried} if carried else {},
            )
            self._checked_at = time.monotonic()
            return self._snapshot

    def _own_codes(self, building_ids: list[str]) -> pd.Series:
        """The scheme code of each building's own status row (None where it has none or a
        code the scheme does not know)."""
        rows = self.store.read_status(
            entity_kind="building", ids=building_ids, columns=("entity_kind", "entity_id", "status")
        )
        known = set(self.scheme.code_names)
        codes = [code if code in known else None for code in rows["status"].tolist()]
        return pd.Series(codes, index=rows["entity_id"].to_numpy(dtype=object), dtype=object)

    def _totals(self) -> tuple[pd.Series, pd.Series]:
        """The district's households and persons per code, as the store keeps them."""
        index = pd.Index([TOTAL_ID], dtype=object)
        rows = self.store.read_counts(level="total")
        households, persons = wide_counts(rows, self.scheme.code_names, index)
        return households.iloc[0], persons.iloc[0]

    def _counted(self, layers: _Layers) -> _Counts:
        """Every grid's counts and the district's as the store keeps them (no roll-up)."""
        g_index = pd.Index(layers.grids.index, dtype=object, name="grid_id")
        rows = self.store.read_counts(level="grid")
        g_hh, g_pp = wide_counts(rows, self.scheme.code_names, g_index)
        return _Counts(g_hh, g_pp, *self._totals())

    def last_seq(self) -> int:
        """The change log's last sequence number (what an answer is current to)."""
        return self.store.last_seq()

    def building(self, building_id: str) -> pd.Series | None:
        """One building's row (id, grid, name, geometry …), or None when unknown."""
        frame = self.store.read_buildings(ids=[building_id])
        return None if not len(frame) else frame.iloc[0]

    def history_span(self) -> dict:
        """The time span of the change log a history slider moves over
        (:meth:`Store.history_span`)."""
        return self.store.history_span()

    def seq_at(self, moment: str) -> int:
        """The change-log sequence number of a moment (ISO 8601 UTC text)."""
        return self.store.seq_at(moment)

    def snapshot_at(self, seq: int | None) -> _Snapshot:
        """Every grid's and the district's counts as of change-log sequence number ``seq``
        (the current snapshot when None or not in the past): today's counts with the
        buildings changed since counted by their status then, on today's grids
        (:mod:`mapserver.status.history`). Kept per data version and ``seq``."""
        if seq is None:
            return self.snapshot()
        layers = self.layers()
        found = self._history.get((layers.version, seq))
        if found is not None:
            return found
        last, rows = self.store.counts_as_of(seq)
        if seq >= last:
            return self.snapshot()
        codes = self.scheme.code_names
        g_index = pd.Index(layers.grids.index, dtype=object, name="grid_id")
        g_hh, g_pp = wide_counts(rows[rows["level"] == "grid"], codes, g_index)
        t_hh, t_pp = wide_counts(
            rows[rows["level"] == "total"], codes, pd.Index([TOTAL_ID], dtype=object)
        )
        counts = _Counts(g_hh, g_pp, t_hh.iloc[0], t_pp.iloc[0])
        snap = _Snapshot(
            seq=seq,
            counts=counts,
            grid_codes=pick_codes(
                g_hh, self.scheme, rule=self.colour_rule, threshold=self.share_threshold
            ),
            buildings=Recent(0),
            past=True,
        )
        self._history[(layers.version, seq)] = snap
        return snap

    def _patched(self, before: _Counts, grid_ids: set[str]) -> _Counts:
        """The counts of ``grid_ids`` and of the district as the store now keeps them; every
        other grid's as before (:func:`~mapserver.status.updates.patch_counts`)."""
        ids = sorted(grid_ids)
        households, persons = before.grid_households, before.grid_persons
        if ids:
            index = pd.Index(ids, dtype=object)
            rows = self.store.read_counts(level="grid", ids=ids)
            fresh_hh, fresh_pp = wide_counts(rows, self.scheme.code_names, index)
            households = patch_counts(households, fresh_hh)
            persons = patch_counts(persons, fresh_pp)
        return _Counts(households, persons, *self._totals())

    def building_rows(
        self, snap: _Snapshot, building_ids, rule: str | None = None
    ) -> dict[str, dict]:
        """Status dicts (as :meth:`building_status`) of some buildings: those the snapshot
        keeps, the others read from the store in one query per chunk and kept (the
        snapshot keeps :data:`BUILDINGS_KEPT`, most recently shown first)."""
        if snap.past:
            msg = "buildings are shown as they are now, not as of a past moment"
            raise ValueError(msg)
        rule = rule or self.colour_rule
        ids = [str(b) for b in building_ids]
        found: dict[str, dict] = {}
        missing: list[str] = []
        for building_id in ids:
            status = snap.buildings.get((building_id, rule))
            if status is None:
                missing.append(building_id)
            else:
                found[building_id] = status
        if missing:
            for building_id, status in self._read_building_rows(missing, rule).items():
                snap.buildings[(building_id, rule)] = status
                found[building_id] = status
        return {b: found[b] for b in ids}

    def _read_building_rows(self, ids: list[str], rule: str) -> dict[str, dict]:
        """Status dicts of ``ids`` from the counts the store keeps and their own status rows
        (a building with no households takes its own row's code)."""
        unique = list(dict.fromkeys(ids))
        index = pd.Index(unique, dtype=object, name="building_id")
        rows = self.store.read_counts(level="building", ids=unique)
        households, persons = wide_counts(rows, self.scheme.code_names, index)
        own = self._own_codes(unique).reindex(index).astype(object)
        few = Rollup(
            scheme=self.scheme,
            building_households=households,
            building_persons=persons,
            grid_households=households.iloc[:0],
            grid_persons=persons.iloc[:0],
            building_status=own.where(own.notna(), None),
        )
        codes = few.building_colour_codes(rule=rule, threshold=self.share_threshold)
        return self._table(households, persons, codes)

    # -- formatting ---------------------------------------------------------------
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

    def _grid_codes(self, snap: _Snapshot, rule: str | None) -> pd.Series:
        """Grid colour codes of a snapshot under ``rule`` (computed once per snapshot)."""
        rule = rule or self.colour_rule
        if rule == self.colour_rule:
            return snap.grid_codes
        found = snap.other_rules.get(rule)
        if found is None:
            found = snap.other_rules[rule] = pick_codes(
                snap.counts.grid_households, self.scheme, rule=rule, threshold=self.share_threshold
            )
        return found

    def _table(
        self, households: pd.DataFrame, persons: pd.DataFrame, codes: pd.Series
    ) -> dict[str, dict]:
        """Status dicts of the rows of ``households`` (persons and codes by the same ids), in
        one pass over the counts."""
        persons = persons.reindex(index=households.index, fill_value=0)
        codes = codes.reindex(households.index)
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

    def status_table(self, snap: _Snapshot, kind: str, rule: str | None = None) -> dict[str, dict]:
        """Status of every grid of a snapshot (``kind="grid"``), id -> the dict
        :meth:`grid_status` gives; counted once per snapshot in one pass over the count
        table (not a row look-up per id), and patched from the last snapshot's where
        writes moved it. Buildings have no whole table (:meth:`building_rows`)."""
        if kind != "grid":
            msg = "only grids have a whole status table; buildings are read per view"
            raise ValueError(msg)
        key = ("status", kind, rule or self.colour_rule)
        found = snap.memo.get(key)
        if found is not None:
            return found
        carried = snap.memo.get(CARRIED, {}).get(key)
        if carried is not None:  # the last snapshot's table, recounted where writes moved it
            table, touched = carried
            table = dict(table)
            table.update(self._grid_rows(snap, rule, [i for i in touched if i in table]))
        else:
            table = self._grid_rows(snap, rule, None)
        snap.memo[key] = table
        return table

    def _grid_rows(self, snap: _Snapshot, rule: str | None, ids: list[str] | None) -> dict:
        """Status dicts of the grids ``ids`` (None: every grid)."""
        households = snap.counts.grid_households
        if ids is not None:
            households = households.loc[households.index.intersection(ids)]
        return self._table(households, snap.counts.grid_persons, self._grid_codes(snap, rule))

    def grid_status(self, snap: _Snapshot, grid_id: str, rule: str | None = None) -> dict:
        """Counts, status code and colour of one grid in a snapshot."""
        table = snap.memo.get(("status", "grid", rule or self.colour_rule))
        if table is not None and grid_id in table:
            return table[grid_id]
        found = self._grid_rows(snap, rule, [grid_id])
        return found.get(grid_id) or self._status_dict({}, {}, None)

    def building_status(self, snap: _Snapshot, building_id: str, rule: str | None = None) -> dict:
        """Counts, status code and colour of one building in a snapshot."""
        return self.building_rows(snap, [building_id], rule)[building_id]

    def tiled(self, *, max_age_s: float = 0.0) -> bool:
        """Whether maps draw this district's levels from vector tiles and status tables
        (a large district: :data:`TILED_FROM_BUILDINGS` buildings or more)."""
        return self.layers(max_age_s=max_age_s).building_count >= TILED_FROM_BUILDINGS

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
        at: int | None = None,
    ) -> dict:
        """GeoJSON FeatureCollection of grids with status, filtered by level, parent, bbox, ids;
        colours by ``rule`` ("worst" or "share"; default: the server's setting); status as
        of change-log sequence number ``at`` when given (:meth:`snapshot_at`)."""
        layers = self.layers()
        snap = self.snapshot_at(at)
        grids = self.store.read_grids(level=level, parent_id=parent_id, bbox=bbox, ids=ids)
        features = []
        for row in grids.itertuples(index=False):
            gid = str(row.grid_id)
            props = {
                **grid_properties(row, gid, layers, self.area_scheme),
                **self.grid_status(snap, gid, rule),
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
        buildings = self.store.read_buildings(grid_ids=grid_ids, bbox=bbox, limit=limit + 1)
        truncated = len(buildings) > limit
        buildings = buildings.head(limit)
        statuses = self.building_rows(snap, buildings["building_id"], rule)
        features = []
        for row in buildings.itertuples(index=False):
            bid = str(row.building_id)
            props = {**building_properties(row, bid, layers), **statuses[bid]}
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

    def building_choices(self, area: set[str] | None) -> pd.DataFrame:
        """Buildings a status form offers (``building_id``, ``name``), sorted by id: those of
        ``area``'s grids, or the district's when None; at most :data:`CHOICES_SHOWN`."""
        grid_ids = None if area is None else sorted(area)
        frame = self.store.read_buildings(grid_ids=grid_ids, limit=CHOICES_SHOWN)
        return frame[["building_id", "name"]]

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

    def summary(
        self, *, grid_id: str | None = None, max_age_s: float = 0.0, at: int | None = None
    ) -> dict:
        """Counts per status code (households and persons) for one grid or the whole area
        (``max_age_s`` as for :meth:`snapshot`; as of change-log sequence number ``at``
        when given)."""
        snap = self.snapshot(max_age_s=max_age_s) if at is None else self.snapshot_at(at)
        return self._summary(snap, grid_id)

    def _summary(self, snap: _Snapshot, grid_id: str | None) -> dict:
        if grid_id is None and "summary" in snap.memo:
            return dict(snap.memo["summary"])
        if grid_id is None:
            counts, persons = snap.counts.total_households, snap.counts.total_persons
            status = {
                "counts": {str(k): int(v) for k, v in counts.items() if int(v) > 0},
                "person_counts": {str(k): int(v) for k, v in persons.items() if int(v) > 0},
            }
            status["households"] = sum(status["counts"].values())
            status["persons"] = sum(status["person_counts"].values())
        else:
            status = self.grid_status(snap, grid_id)
        answer = {"seq": snap.seq, "grid_id": grid_id, "scheme": self.scheme.name, **status}
        if grid_id is None:
            snap.memo["summary"] = answer
        return dict(answer)

    def changes(
        self,
        since: int,
        *,
        rule: str | None = None,
        max_age_s: float = 0.0,
        with_grids: bool = False,
    ) -> dict:
        """What changed after ``since``: new status and colour of every affected building
        and grid (all ancestors), and the new totals, as of one snapshot (``max_age_s`` as
        for :meth:`snapshot`; the answer's ``seq`` says how far it goes). ``with_grids``:
        each building's grid in ``building_grids`` too (to cut the answer to an area).
        When more than :data:`CHANGES_MAX_BUILDINGS` buildings moved the answer says
        ``reload`` instead of listing them (a map reloads its layers)."""
        layers = self.layers(max_age_s=max_age_s)
        snap = self.snapshot(max_age_s=max_age_s)
        # rows after the snapshot's seq: the next delta brings them
        changed, touched = self.store.buildings_changed(since, snap.seq)
        if len(touched) > CHANGES_MAX_BUILDINGS:  # too much to send one by one: reload
            return {
                "since": since,
                "seq": snap.seq,
                "changed": changed,
                "reload": True,
                "grids": {},
                "buildings": {},
                "summary": self._summary(snap, None),
            }
        grid_ids = grids_to_recount(touched.values(), layers.ancestors, layers.grids.index)
        rows = snap.memo.get(("status", "grid", rule or self.colour_rule))
        if rows is None:  # a delta of a few grids does not build the table of all of them
            rows = self._grid_rows(snap, rule, sorted(grid_ids))
        grids = {g: rows.get(g) or self.grid_status(snap, g, rule) for g in grid_ids}
        answer = {
            "since": since,
            "seq": snap.seq,
            "changed": changed,
            "grids": grids,
            "buildings": self.building_rows(snap, touched, rule),
            "summary": self._summary(snap, None),
        }
        if with_grids:
            answer["building_grids"] = touched
        return answer

    def recently_changed(self, since_seq: int, upto_seq: int | None = None) -> dict:
        """The grids (every level) and buildings whose status changed after change-log
        sequence number ``since_seq`` up to ``upto_seq`` (the latest when None), for a map
        that outlines what moved in the last hours."""
        layers = self.layers()
        upto = self.store.last_seq() if upto_seq is None else upto_seq
        changed, touched = self.store.buildings_changed(since_seq, upto)
        return {
            "since": since_seq,
            "seq": upto,
            "changed": changed,
            "grids": sorted(
                grids_to_recount(touched.values(), layers.ancestors, layers.grids.index)
            ),
            "buildings": len(touched),
        }
