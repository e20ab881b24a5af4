"""Grid and building layers of the command map as ready JSON text, cached.

Every ``/api/grids`` call used to read the layer from the store, rebuild each
geometry and serialise the whole collection. Here each feature's geometry and
fixed properties are serialised once per data version (and coordinate system),
each status once per change-log snapshot, and whole answers are kept by an
entity tag naming the data version, the snapshot and the query, so a repeated
query costs a lookup (or a 304). No Flask here.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mapserver.services.leveltable import compact, status_rows
from mapserver.services.mapview import (
    MapView,
    building_properties,
    geometry_json,
    grid_properties,
)
from mapserver.services.recent import Recent
from mapserver.services.statusio import layer_features

ANSWERS_KEPT = 64  # whole answers kept per process (each a few kB to a few MB)
ANSWER_BYTES_KEPT = 48 * 2**20  # and at most this many bytes of them (gzip copies: a fifth more)
KEPT_UP_TO = 5_000  # an answer of more features is serialised without keeping its texts
SKELETONS_KEPT = 256  # selected feature lists kept per data version
GZIP_MIN_BYTES = 1024
TILED_WARM_GRIDS = 2_000  # a tiled district's levels serialised at start: those this small


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


@dataclass
class Answer:
    """One layer answer: its (weak) entity tag and body (UTF-8 JSON), gzip made on first use."""

    etag: str
    body: bytes
    _gzipped: bytes | None = field(default=None, repr=False)

    def gzipped(self) -> bytes:
        """The body compressed with gzip (computed once)."""
        if self._gzipped is None:
            self._gzipped = gzip.compress(self.body, compresslevel=5)
        return self._gzipped


@dataclass
class _Skeleton:
    """The features one query selects: (id, text before the status, text after it); made
    as the answer is written (an iterator) when too many to keep."""

    items: list[tuple[str, str, str]] | Iterator[tuple[str, str, str]]
    extra: str  # members after "seq" (e.g. ``,"truncated":false``)


@dataclass
class _Pieces:
    """Serialised fixed parts of features, for one data version."""

    version: int
    text: Recent = field(default_factory=Recent)  # (kind, id, coords) -> (head, tail)
    skeletons: OrderedDict[str, _Skeleton] = field(default_factory=OrderedDict)


class MapJSON:
    """Cached JSON answers of the map layers of one :class:`MapView`.

    Parameters
    ----------
    view
        The live map view (layers per data version, status per snapshot).
    max_age_s
        Passed to :meth:`MapView.snapshot`: how stale a status snapshot may be
        (the answer names its ``seq``; the live feed brings the map on from there).
    """

    def __init__(self, view: MapView, *, max_age_s: float = 0.0) -> None:
        self.view = view
        self.max_age_s = max_age_s
        self._lock = threading.Lock()
        self._pieces: _Pieces | None = None
        self._answers: OrderedDict[str, Answer] = OrderedDict()
        # (kind, id, rule) -> (the status dict it was made from, its JSON text)
        self._status_text: Recent = Recent()  # (kind, id, rule) -> (status dict, text)

    # -- entity tags and the answer cache --------------------------------------------
    def _etag(self, kind: str, query: Sequence[object]) -> tuple[str, object, str]:
        layers = self.view.layers(max_age_s=self.max_age_s)
        snap = self.view.snapshot(max_age_s=self.max_age_s)
        digest = hashlib.sha1(_dumps([kind, *query]).encode()).hexdigest()[:16]
        return f"{layers.version}.{snap.seq}.{digest}", snap, digest

    def _answer(self, etag: str, build) -> Answer:
        with self._lock:
            found = self._answers.get(etag)
            if found is not None:
                self._answers.move_to_end(etag)
                return found
        body = build()
        answer = Answer(etag=etag, body=body if isinstance(body, bytes) else body.encode())
        if len(answer.body) > ANSWER_BYTES_KEPT // 4:  # a very large answer is not kept
            return answer
        with self._lock:
            self._answers[etag] = answer
            held = sum(len(a.body) for a in self._answers.values())
            while len(self._answers) > ANSWERS_KEPT or held > ANSWER_BYTES_KEPT:
                _, dropped = self._answers.popitem(last=False)
                held -= len(dropped.body)
        return answer

    def _fixed(self) -> _Pieces:
        layers = self.view.layers(max_age_s=self.max_age_s)
        with self._lock:
            if self._pieces is None or self._pieces.version != layers.version:
                self._pieces = _Pieces(version=layers.version)
                self._status_text = Recent()
            return self._pieces

    # -- feature text ----------------------------------------------------------------
    def _status(
        self, table: dict[str, dict], snap, kind: str, entity_id: str, rule, *, keep: bool = True
    ) -> str:
        """A feature's status members as JSON text. A snapshot's status table keeps the
        very dict of every entity no write moved, so its text is made once, not per write
        (``keep=False``: made, not kept)."""
        key = (kind, entity_id, rule or "")
        status = table.get(entity_id)
        found = self._status_text.get(key) if keep else None
        if found is not None and status is not None and found[0] is status:
            return found[1]
        if status is None:  # no counts row: the one-by-one answer (no counts)
            if kind == "grid":
                status = self.view.grid_status(snap, entity_id, rule)
            else:
                status = self.view.building_status(snap, entity_id, rule)
        text = _dumps(status)[1:]  # without the opening brace
        if keep:
            self._status_text[key] = (status, text)
        return text

    def _feature(
        self, pieces: _Pieces, layers, kind: str, row, coords: str, *, keep: bool = True
    ) -> tuple[str, str]:
        key = (kind, str(row.Index), coords)
        found = pieces.text.get(key)
        if found is not None:
            return found
        if kind == "grid":
            props = grid_properties(row, str(row.Index), layers, self.view.area_scheme)
        else:
            props = building_properties(row, str(row.Index), layers)
        head = f'{{"type":"Feature","id":{_dumps(props["id"])},"properties":{_dumps(props)[:-1]},'
        tail = f',"geometry":{_dumps(geometry_json(row.geometry, coords=coords))}}}'
        if keep:
            pieces.text[key] = (head, tail)
        return head, tail

    def _skeleton(self, digest: str, kind: str, select, coords: str) -> _Skeleton:
        """The features a query selects, as fixed text around their status, kept per data
        version: a write moves only the status, so the rows are not selected again."""
        pieces = self._fixed()
        with self._lock:
            found = pieces.skeletons.get(digest)
            if found is not None:
                pieces.skeletons.move_to_end(digest)
                return found
        layers = self.view.layers(max_age_s=self.max_age_s)
        frame, extra = select()
        if kind == "grid" and len(frame) > KEPT_UP_TO:  # a whole large level: made as written

            def made() -> Iterator[tuple[str, str, str]]:
                for row in frame.itertuples():
                    yield (
                        str(row.Index),
                        *self._feature(pieces, layers, kind, row, coords, keep=False),
                    )

            return _Skeleton(items=made(), extra=extra)
        items = []
        for row in frame.itertuples():
            head, tail = self._feature(pieces, layers, kind, row, coords)
            items.append((str(row.Index), head, tail))
        skeleton = _Skeleton(items=items, extra=extra)
        with self._lock:
            pieces.skeletons[digest] = skeleton
            while len(pieces.skeletons) > SKELETONS_KEPT:
                pieces.skeletons.popitem(last=False)
        return skeleton

    def _collection(self, kind: str, skeleton: _Skeleton, snap, rule) -> bytes:
        """The FeatureCollection of a skeleton with each feature's status, as UTF-8, written
        feature by feature (a level of 50,000 grids is never held twice as text)."""
        if kind == "grid":
            table = self.view.status_table(snap, kind, rule)
        else:
            table = self.view.building_rows(snap, [i for i, _h, _t in skeleton.items], rule)
        keep = isinstance(skeleton.items, list)
        out = io.BytesIO()
        out.write(
            f'{{"type":"FeatureCollection","seq":{snap.seq}{skeleton.extra},"features":['.encode()
        )
        for number, (entity_id, head, tail) in enumerate(skeleton.items):
            status = self._status(table, snap, kind, entity_id, rule, keep=keep)
            out.write(f"{',' if number else ''}{head}{status}{tail}".encode())
        out.write(b"]}")
        return out.getvalue()

    # -- the layers ------------------------------------------------------------------
    def grids(
        self,
        *,
        level: str | None = None,
        parent_id: str | None = None,
        bbox: tuple[float, float, float, float] | None = None,
        ids: list[str] | None = None,
        coords: str = "wgs84",
        rule: str | None = None,
    ) -> Answer:
        """Grids with status as a GeoJSON FeatureCollection (same content as
        :meth:`MapView.grid_features`), from the cache when nothing moved."""
        etag, snap, digest = self._etag("grids", [level, parent_id, bbox, ids, coords, rule])

        def select() -> tuple[pd.DataFrame, str]:
            frame = self.view.layers().grids
            mask = np.ones(len(frame), dtype=bool)
            if level is not None:
                mask &= (frame["level"] == level).to_numpy()
            if parent_id is not None:
                mask &= (frame["parent_id"] == parent_id).to_numpy()
            if ids is not None:
                mask &= frame.index.isin(ids)
            if bbox is not None:
                mask &= self.view.grids_in_bbox(bbox)
            return frame[mask], ""

        def build() -> str:
            return self._collection(
                "grid", self._skeleton(digest, "grid", select, coords), snap, rule
            )

        return self._answer(etag, build)

    def buildings(
        self,
        *,
        grid_id: str | None = None,
        bbox: tuple[float, float, float, float] | None = None,
        coords: str = "wgs84",
        limit: int = 5000,
        rule: str | None = None,
    ) -> Answer:
        """Buildings with status inside a grid's subtree or a bbox (same content as
        :meth:`MapView.building_features`), from the cache when nothing moved."""
        etag, snap, digest = self._etag("buildings", [grid_id, bbox, coords, limit, rule])

        def select() -> tuple[pd.DataFrame, str]:
            subtree = None
            if grid_id is not None:
                subtree = [grid_id, *self.view.descendants(grid_id)]
            chosen = self.view.store.read_buildings(grid_ids=subtree, bbox=bbox, limit=limit + 1)
            chosen = chosen.set_index("building_id", drop=False)
            truncated = "true" if len(chosen) > limit else "false"
            return chosen.head(limit), f',"truncated":{truncated}'

        def build() -> str:
            return self._collection(
                "building", self._skeleton(digest, "building", select, coords), snap, rule
            )

        return self._answer(etag, build)

    def status_table(
        self,
        kind: str,
        *,
        level: str | None = None,
        grid_id: str | None = None,
        bbox: tuple[float, float, float, float] | None = None,
        since: int | None = None,
        rule: str | None = None,
        at: int | None = None,
    ) -> Answer:
        """The compact status table of a level's grids (in ``bbox`` when given; as of ``at``
        when given) or a grid's buildings (:mod:`mapserver.services.leveltable`), from the
        cache when nothing moved."""
        etag, _snap, _digest = self._etag("status", [kind, level, grid_id, bbox, since, rule, at])

        def build() -> str:
            seq, rows = status_rows(
                self.view,
                kind,
                level=level,
                grid_id=grid_id,
                bbox=bbox,
                since=since,
                rule=rule,
                max_age_s=self.max_age_s,
                at=at,
            )
            codes = list(self.view.scheme.code_names)
            return _dumps(compact(seq, kind, rows, codes, level=level, since=since))

        return self._answer(etag, build)

    def layer(
        self,
        name: str,
        *,
        bbox: tuple[float, float, float, float] | None = None,
        coords: str = "wgs84",
    ) -> Answer:
        """A geometry layer without status (roads, checkpoints) as GeoJSON, kept per data
        version: every import that changes such a layer moves the version."""
        version = self.view.layers(max_age_s=self.max_age_s).version
        digest = hashlib.sha1(_dumps(["layer", name, bbox, coords]).encode()).hexdigest()[:16]
        etag = f"{version}.layer.{digest}"

        def build() -> str:
            return _dumps(layer_features(self.view.store, name, bbox=bbox, coords=coords))

        return self._answer(etag, build)

    def warm(self, *, coords: str = "wgs84") -> None:
        """Serialise every grid and building once (and the status tables), and the roads and
        checkpoints in ``coords``, so the first maps after a start do not all wait for it:
        later answers only select and join. A large district's maps draw levels from tiles
        and buildings only where zoomed in: its buildings, and its levels of more than
        :data:`TILED_WARM_GRIDS` grids, are not serialised ahead."""
        tiled = self.view.tiled()
        sizes = self.view.layers().grids["level"].value_counts()
        for level in self.view.levels():
            if not tiled or sizes.get(level, 0) <= TILED_WARM_GRIDS:
                self.grids(level=level)
        if not tiled:
            self.buildings()
        for name in ("road_edges", "checkpoints"):
            self.layer(name, coords=coords)
