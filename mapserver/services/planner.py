"""The micro-grid planner for the web and the command line.

Loads a parent grid with its buildings and current children, runs proposals and
hand edits through the pure districting core, recomputes boundaries and totals,
validates, and saves, publishes, compares and rolls back versions in the store.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import geopandas as gpd
import pandas as pd
from shapely import wkt
from shapely.geometry import mapping

from mapserver.coverage.area import as_area
from mapserver.districting.adjacency import barrier_lines
from mapserver.districting.boundaries import cell_polygons
from mapserver.districting.edit import (
    assign_by_polygon,
    diff_assignments,
    keep_old_names,
    merge_cells,
    move_buildings,
    split_cell,
)
from mapserver.districting.partition import propose_partition
from mapserver.districting.people import assign_persons, assign_volunteers
from mapserver.districting.redraw import redraw_cells
from mapserver.districting.target import HOMESTEAD, MICRO, Target
from mapserver.districting.validate import validate_plan
from mapserver.errors import NotFoundError, ValidationError
from mapserver.services.mapview import geometry_json, or_none
from mapserver.store import Store


def _current(buildings: gpd.GeoDataFrame) -> dict[str, str]:
    """Building id -> the grid holding it now."""
    return dict(zip(buildings["building_id"], buildings["grid_id"], strict=True))


def _text_map(value: object, field: str) -> dict[str, str]:
    """A {cell id: text} mapping from a request, or a clear refusal."""
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str | None) for k, v in value.items()
    ):
        raise ValidationError.for_request(field, f"{field} must map cell ids to text")
    return {k: v for k, v in value.items() if v}


@dataclass(frozen=True)
class ParentView:
    """A parent grid with what the planner works on."""

    parent_id: str
    name: str | None
    geometry: object
    child_level: str
    buildings: gpd.GeoDataFrame  # what moves, with its current cell in grid_id
    children: gpd.GeoDataFrame
    target: Target
    units: str = "buildings"  # or "grids": whole sub-grids move (a plan above the leaves)


class PlannerService:
    """Micro-grid plans of one store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- loading --------------------------------------------------------------------
    def parent(self, parent_id: str) -> ParentView:
        """The parent grid, its children (the cells) and the buildings they hold."""
        grids = self.store.read_grids()
        found = grids[grids["grid_id"] == parent_id]
        if not len(found):
            msg = f"grid '{parent_id}' not found"
            raise NotFoundError(msg)
        row = found.iloc[0]
        children = grids[grids["parent_id"] == parent_id]
        grandchildren = grids[grids["parent_id"].isin(children["grid_id"])]
        if len(grandchildren):
            return self._parent_of_grids(row, children, grids)
        level = str(children["level"].iloc[0]) if len(children) else "micro"
        held = [parent_id, *children["grid_id"]]
        buildings = self.store.read_buildings(grid_ids=held)
        targets = children["target_households"].dropna() if len(children) else pd.Series([])
        if level == "homestead":
            target = HOMESTEAD
        elif len(targets):
            middle = int(targets.median())
            target = Target(max(1, middle - 5), middle + 5) if middle != 25 else MICRO
        else:
            target = MICRO
        return ParentView(
            parent_id=parent_id,
            name=or_none(row["name"]),
            geometry=row.geometry,
            child_level=level,
            buildings=buildings,
            children=children,
            target=target,
        )

    def _parent_of_grids(
        self, row: pd.Series, children: gpd.GeoDataFrame, grids: gpd.GeoDataFrame
    ) -> ParentView:
        """A parent above the leaves: its children are redrawn by moving whole grids of the
        level below them (each with its subtree's households and residents)."""
        units = grids[grids["parent_id"].isin(children["grid_id"])]
        unit_of = {str(g): str(g) for g in units["grid_id"]}
        frontier = list(unit_of)
        while frontier:  # every grid below a unit counts for that unit
            below = grids[grids["parent_id"].isin(frontier)]
            for grid, parent in zip(below["grid_id"], below["parent_id"], strict=True):
                unit_of[str(grid)] = unit_of[str(parent)]
            frontier = [str(g) for g in below["grid_id"]]
        held = self.store.read_buildings(grid_ids=list(unit_of))
        unit = held["grid_id"].astype(str).map(unit_of)
        sums = (
            pd.DataFrame(
                {
                    "unit": unit,
                    "households": held["households"].fillna(0).astype(int),
                    "residents": held["residents"].fillna(0).astype(int),
                }
            )
            .groupby("unit")[["households", "residents"]]
            .sum()
        )
        frame = gpd.GeoDataFrame(
            {
                "building_id": units["grid_id"].astype(str).to_numpy(),
                "name": units["name"].to_numpy(),
                "grid_id": units["parent_id"].astype(str).to_numpy(),
            },
            geometry=units.geometry.to_numpy(),
            crs=units.crs,
        )
        frame["households"] = frame["building_id"].map(sums["households"]).fillna(0).astype(int)
        frame["residents"] = frame["building_id"].map(sums["residents"]).fillna(0).astype(int)
        per_child = frame.groupby("grid_id")["households"].sum()
        middle = int(per_child.median()) if len(per_child) else 0
        if middle > 0:  # about the size the children have now
            target = Target(max(1, round(0.8 * middle)), max(2, round(1.2 * middle)))
        else:  # no households loaded below this grid: no size to hold the cells to
            target = Target(0, 10**9)
        return ParentView(
            parent_id=str(row["grid_id"]),
            name=or_none(row["name"]),
            geometry=row.geometry,
            child_level=str(children["level"].iloc[0]),
            buildings=frame,
            children=children,
            target=target,
            units="grids",
        )

    def open(self, parent_id: str) -> dict:
        """Everything the planner page needs to start editing a parent grid."""
        view = self.parent(parent_id)
        assignment = {
            b: g
            for b, g in zip(view.buildings["building_id"], view.buildings["grid_id"], strict=True)
        }
        cells = [
            {
                "cell_id": c.grid_id,
                "name": or_none(c.name),
                "person": None if pd.isna(c.person) else c.person,
            }
            for c in view.children.itertuples(index=False)
        ]
        return {
            "parent": {
                "grid_id": view.parent_id,
                "name": view.name,
                "geometry": geometry_json(view.geometry),
            },
            "child_level": view.child_level,
            "units": view.units,
            "target": {
                "minimum": view.target.minimum,
                "maximum": view.target.maximum,
                "measure": view.target.measure,
            },
            "version": self.store.latest_plan_version(parent_id),
            "versions": self.store.list_plans(parent_id),
            "buildings": self._buildings_json(view.buildings),
            "assignment": assignment,
            "cells": cells,
            "polygons": self._polygons_json(
                view.children[["grid_id", "geometry"]].rename(columns={"grid_id": "cell_id"})
            ),
        }

    @staticmethod
    def _buildings_json(buildings: gpd.GeoDataFrame) -> dict:
        features = []
        for b in buildings.itertuples(index=False):
            features.append(
                {
                    "type": "Feature",
                    "id": b.building_id,
                    "properties": {
                        "id": b.building_id,
                        "name": or_none(b.name),
                        "households": 0 if pd.isna(b.households) else int(b.households),
                        "residents": 0 if pd.isna(b.residents) else int(b.residents),
                    },
                    "geometry": geometry_json(b.geometry),
                }
            )
        return {"type": "FeatureCollection", "features": features}

    @staticmethod
    def _polygons_json(polygons: gpd.GeoDataFrame) -> dict:
        return {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "id": str(p.cell_id),
                    "properties": {"cell_id": str(p.cell_id)},
                    "geometry": geometry_json(p.geometry),
                }
                for p in polygons.itertuples(index=False)
            ],
        }

    # -- computing ------------------------------------------------------------------
    def _roads(self, view: ParentView) -> gpd.GeoDataFrame:
        """The road edges around the parent and its buildings (not the city's)."""
        bounds = view.geometry.bounds
        if len(view.buildings):
            low, high = view.buildings.total_bounds[:2], view.buildings.total_bounds[2:]
            bounds = (*map(min, bounds[:2], low), *map(max, bounds[2:], high))
        return self.store.read_features("road_edges", bbox=bounds)

    def _polygons(
        self, view: ParentView, assignment: dict[str, str], roads: gpd.GeoDataFrame | None = None
    ) -> gpd.GeoDataFrame:
        """The cells' polygons: redrawn from the current cells only where buildings moved,
        along roads where they can (the buildings' own regions when there are no cells)."""
        if view.units == "grids":  # each cell is the union of the grids it holds
            cells = view.buildings["building_id"].map(assignment)
            frame = view.buildings[cells.notna()].assign(cell_id=cells[cells.notna()])
            merged = frame.dissolve(by="cell_id", as_index=False)[["cell_id", "geometry"]]
            return merged.sort_values("cell_id", ignore_index=True)
        if not len(view.children):
            return cell_polygons(view.buildings, assignment, view.geometry)
        current = view.children[["grid_id", "geometry"]].rename(columns={"grid_id": "cell_id"})
        roads = self._roads(view) if roads is None else roads
        return redraw_cells(
            view.buildings,
            assignment,
            view.geometry,
            current,
            roads=roads.geometry if len(roads) else None,
        )

    def _target(self, view: ParentView, target: dict | None) -> Target:
        if not target:
            return view.target
        if not isinstance(target, dict):
            raise ValidationError.for_request(
                "target", "an object with minimum, maximum and measure"
            )
        try:
            return Target(
                int(target.get("minimum", view.target.minimum)),
                int(target.get("maximum", view.target.maximum)),
                str(target.get("measure", view.target.measure)),
            )
        except (TypeError, ValueError) as err:
            raise ValidationError.for_request("target", err) from err

    def _check_assignment(self, view: ParentView, assignment: dict) -> dict[str, str]:
        known = set(view.buildings["building_id"])
        unknown = sorted(set(assignment) - known)
        if unknown:
            raise ValidationError.for_request(
                "assignment", f"buildings not in this grid: {', '.join(unknown[:5])}"
            )
        return {str(b): str(c) for b, c in assignment.items()}

    def evaluate(self, parent_id: str, assignment: dict, *, target: dict | None = None) -> dict:
        """Boundaries, totals and validation issues of an assignment (after hand edits)."""
        return self._evaluate(self.parent(parent_id), assignment, target)

    def _evaluate(
        self,
        view: ParentView,
        assignment: dict,
        target: dict | None,
        roads: gpd.GeoDataFrame | None = None,
    ) -> dict:
        """:meth:`evaluate` of a parent already read (and its roads, when read)."""
        assignment = self._check_assignment(view, assignment)
        goal = self._target(view, target)
        polygons = self._polygons(view, assignment, roads)
        issues = validate_plan(view.geometry, polygons, view.buildings, assignment, target=goal)
        totals = self._totals(view.buildings, assignment, goal)
        return {
            "assignment": assignment,
            "polygons": self._polygons_json(polygons),
            "totals": totals,
            "issues": [{"kind": i.kind, "subject": i.subject, "detail": i.detail} for i in issues],
        }

    @staticmethod
    def _totals(buildings: gpd.GeoDataFrame, assignment: dict, target: Target) -> list[dict]:
        frame = pd.DataFrame(
            {
                "cell_id": buildings["building_id"].map(assignment),
                "households": buildings["households"].fillna(0).astype(int),
                "residents": buildings["residents"].fillna(0).astype(int),
            }
        ).dropna(subset=["cell_id"])
        sums = frame.groupby("cell_id")[["households", "residents"]].sum()
        counts = frame.groupby("cell_id").size()
        return [
            {
                "cell_id": str(cell),
                "households": int(row.households),
                "residents": int(row.residents),
                "buildings": int(counts[cell]),
                "within_target": target.contains(int(getattr(row, target.measure))),
            }
            for cell, row in sums.iterrows()
        ]

    def propose(
        self, parent_id: str, *, target: dict | None = None, keep_current: bool = True
    ) -> dict:
        """An automatic proposal (re-plan from the current cells when ``keep_current``)."""
        view = self.parent(parent_id)
        goal = self._target(view, target)
        edges = self._roads(view)
        barriers = barrier_lines(edges) if len(edges) else None
        before = dict(zip(view.buildings["building_id"], view.buildings["grid_id"], strict=True))
        before = {b: g for b, g in before.items() if g != parent_id and isinstance(g, str)}
        current = before if keep_current and len(view.children) else None
        try:
            partition = propose_partition(
                view.buildings,
                view.geometry,
                target=goal,
                barriers=barriers,
                current=current,
                id_prefix=f"{parent_id}-{'G' if view.units == 'grids' else 'M'}",
            )
        except ValueError as err:
            raise ValidationError.for_request("parent", err) from err
        assignment = partition.assignment
        if before:  # the old cells' names and persons stay with the groups overlapping them
            weights = dict(
                zip(
                    view.buildings["building_id"].astype(str),
                    view.buildings["households"].fillna(0).astype(int),
                    strict=True,
                )
            )
            assignment = keep_old_names(assignment, before, weights)
        result = self._evaluate(
            view,
            assignment,
            {"minimum": goal.minimum, "maximum": goal.maximum, "measure": goal.measure},
            edges,
        )
        result["summary"] = partition.summary()
        result["exceptions"] = [
            {"subject": e.subject, "reason": e.reason} for e in partition.exceptions
        ]
        moved = diff_assignments(before, result["assignment"], view.buildings) if before else []
        result["moved"] = [
            {"building_id": b, "from": a, "to": c, "households": h} for b, a, c, h in moved
        ]
        result["changed_households"] = int(sum(m[3] for m in moved))
        result["names"] = {
            str(row.grid_id): {"name": or_none(row.name), "person": or_none(row.person)}
            for row in view.children.itertuples(index=False)
            if row.grid_id in set(result["assignment"].values())
        }
        return result

    def edit(self, parent_id: str, operation: dict) -> dict:
        """Apply one hand edit (move, split, merge, draw) to an assignment and evaluate it."""
        view = self.parent(parent_id)
        assignment = self._check_assignment(view, operation.get("assignment") or {})
        kind = operation.get("op")
        try:
            if kind == "move":
                assignment = move_buildings(
                    assignment, list(operation["buildings"]), str(operation["to"])
                )
            elif kind == "split":
                assignment = split_cell(
                    assignment, view.buildings, str(operation["cell"]), parent=view.geometry
                )
            elif kind == "merge":
                assignment = merge_cells(
                    assignment, str(operation["keep"]), str(operation["remove"])
                )
            elif kind == "draw":
                polygon = as_area(operation["polygon"])
                assignment = assign_by_polygon(
                    assignment, view.buildings, polygon, str(operation["cell"])
                )
            else:
                raise ValidationError.for_request(
                    "op", f"unknown edit '{kind}' (move, split, merge, draw)"
                )
        except KeyError as err:
            raise ValidationError.for_request("op", f"edit '{kind}' needs '{err.args[0]}'") from err
        except ValueError as err:
            raise ValidationError.for_request("op", err) from err
        return self._evaluate(view, assignment, operation.get("target"))

    def people(
        self,
        parent_id: str,
        assignment: dict,
        *,
        people: list[str] | None = None,
        volunteers: list[str] | None = None,
        per_volunteer: tuple[int, int] = (3, 5),
    ) -> dict:
        """A responsible person per cell and a balanced, compact group of households per
        volunteer (straight-line metres between homes), for the cells of ``assignment``."""
        view = self.parent(parent_id)
        assignment = self._check_assignment(view, assignment)
        result: dict = {"persons": {}, "volunteers": {}}
        try:
            if people:
                cells = sorted(set(assignment.values()))
                result["persons"] = assign_persons(cells, people)
            if volunteers and view.units == "grids":
                raise ValueError("volunteers are shared out within a grid of the lowest level")
            if volunteers:
                households = self.store.read_households(
                    building_ids=list(view.buildings["building_id"])
                )
                if not len(households):
                    raise ValueError("this grid has no household list to share out")
                groups = assign_volunteers(
                    households[["household_id", "building_id"]],
                    volunteers,
                    per_volunteer=per_volunteer,
                    buildings=view.buildings,
                )
                result["volunteers"] = groups
                result["volunteer_sizes"] = {v: len(h) for v, h in groups.items()}
        except ValueError as err:
            raise ValidationError.for_request("people", err) from err
        return result

    # -- versions -------------------------------------------------------------------
    def save(
        self,
        parent_id: str,
        *,
        base_version: int | None,
        assignment: dict,
        names: dict | None = None,
        persons: dict | None = None,
        user: str,
        label: str | None = None,
    ) -> dict:
        """Save a draft version (ConflictError when someone saved after ``base_version``)."""
        view = self.parent(parent_id)
        assignment = self._check_assignment(view, assignment)
        polygons = self._polygons(view, assignment)
        totals = {t["cell_id"]: t for t in self._totals(view.buildings, assignment, view.target)}
        names = _text_map(names, "names")
        persons = _text_map(persons, "persons")
        old = view.children.set_index("grid_id") if len(view.children) else None
        cells = []
        for p in polygons.itertuples(index=False):
            cid = str(p.cell_id)
            keep = old is not None and cid in old.index
            cells.append(
                {
                    "grid_id": cid,
                    "name": names.get(cid) or (old.at[cid, "name"] if keep else cid),
                    "person": persons.get(cid) or (old.at[cid, "person"] if keep else None),
                    "target_households": int(view.target.middle),
                    "households": totals.get(cid, {}).get("households", 0),
                    "geometry": p.geometry.wkt,
                }
            )
        cells = [
            {k: (None if pd.isna(v) else v) if not isinstance(v, str) else v for k, v in c.items()}
            for c in cells
        ]
        version = self.store.save_plan(
            parent_id,
            base_version=base_version,
            level=view.child_level,
            cells=cells,
            assignment=assignment,
            user=user,
            label=label,
            units=view.units,
        )
        return {"version": version, "cells": len(cells)}

    def versions(self, parent_id: str) -> list[dict]:
        """Saved versions of a parent grid, newest first."""
        return self.store.list_plans(parent_id)

    def parent_of_version(self, version_id: int) -> str:
        """The parent grid a saved version plans (NotFoundError for an unknown version)."""
        return str(self.store.get_plan(version_id)["parent_id"])

    def publish(self, version_id: int) -> dict:
        """Make a saved version the live children of its parent (the command map follows)."""
        try:
            return self.store.publish_plan(version_id)
        except ValueError as err:
            raise ValidationError.for_request("version", err) from err

    def compare(self, version_a: int, version_b: int) -> dict:
        """Buildings and households that moved between two versions, as a table and GeoJSON."""
        a = self.store.get_plan(version_a)
        b = self.store.get_plan(version_b)
        if a["parent_id"] != b["parent_id"]:
            raise ValidationError.for_request("version", "the two versions plan different grids")
        view = self.parent(a["parent_id"])
        moved = diff_assignments(a["data"]["assignment"], b["data"]["assignment"], view.buildings)
        points = view.buildings.set_index("building_id")
        features = [
            {
                "type": "Feature",
                "properties": {"building_id": bid, "from": src, "to": dst, "households": hh},
                "geometry": mapping(points.at[bid, "geometry"].representative_point()),
            }
            for bid, src, dst, hh in moved
            if bid in points.index
        ]
        return {
            "from_version": version_a,
            "to_version": version_b,
            "buildings": len(moved),
            "households": int(sum(m[3] for m in moved)),
            "moves": [
                {"building_id": bid, "from": src, "to": dst, "households": hh}
                for bid, src, dst, hh in moved
            ],
            "geojson": {"type": "FeatureCollection", "features": features},
        }

    def rollback(self, parent_id: str, version_id: int, *, user: str) -> dict:
        """Publish an earlier version again, as a new version on top of the latest (one
        transaction: a version that cannot be published leaves nothing behind)."""
        try:
            return self.store.republish_plan(parent_id, version_id, user=user)
        except ValueError as err:
            raise ValidationError.for_request("version", err) from err

    def export(self, version_id: int) -> dict:
        """A version's cells as GeoJSON (EPSG:4326) with households and assigned buildings."""
        plan = self.store.get_plan(version_id)
        data = plan["data"]
        members: dict[str, list[str]] = {}
        for building, cell in data["assignment"].items():
            members.setdefault(cell, []).append(building)
        features = []
        for cell in data["cells"]:
            features.append(
                {
                    "type": "Feature",
                    "properties": {
                        **{k: v for k, v in cell.items() if k != "geometry"},
                        "parent_id": plan["parent_id"],
                        "level": data["level"],
                        "version": version_id,
                        "buildings": sorted(members.get(cell["grid_id"], [])),
                    },
                    "geometry": mapping(wkt.loads(cell["geometry"])),
                }
            )
        return {"type": "FeatureCollection", "features": features}

    def export_text(self, version_id: int) -> str:
        """The export as GeoJSON text."""
        return json.dumps(self.export(version_id), ensure_ascii=False)
