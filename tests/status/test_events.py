"""Events joined to grids and nearest buildings; counts through the tree and by day."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, box

from mapserver.status.events import (
    NO_EVENTS_COLOUR,
    colour_classes,
    colour_of,
    daily_totals,
    event_counts,
    event_counts_by_day,
    join_events,
)

# CGCS2000 Gauss–Krüger CM 120°E: the metric CRS the join picks near Hangzhou.
METRIC = "EPSG:4549"
X0, Y0 = 500_000.0, 3_350_000.0  # about 120.0 E, 30.27 N


def _metric(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return frame.set_crs(METRIC).to_crs("EPSG:4326")


@pytest.fixture
def tree() -> gpd.GeoDataFrame:
    """District D > sub-districts S1, S2 > micro-grids; S2 has a gap its children leave.

    Squares in metres: D 0..400 x 0..200; S1 west half, S2 east half; S1 split into
    M1 (0..100) and M2 (100..200); S2 holds M3 (200..300) only, 300..400 is a gap.
    """
    cells = {
        "D": (0, 0, 400, 200),
        "S1": (0, 0, 200, 200),
        "S2": (200, 0, 400, 200),
        "M1": (0, 0, 100, 200),
        "M2": (100, 0, 200, 200),
        "M3": (200, 0, 300, 200),
    }
    frame = gpd.GeoDataFrame(
        {
            "grid_id": list(cells),
            "parent_id": [None, "D", "D", "S1", "S1", "S2"],
            "level": ["district", "subdistrict", "subdistrict", "micro", "micro", "micro"],
            "name": ["区", "街道一", "街道二", "微网格一", "微网格二", "微网格三"],
        },
        geometry=[box(X0 + a, Y0 + b, X0 + c, Y0 + d) for a, b, c, d in cells.values()],
    )
    return _metric(frame)


def _points(xy: list[tuple[float, float]], **columns) -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame(
        {"event_id": [f"E{i}" for i in range(len(xy))], **columns},
        geometry=[Point(X0 + x, Y0 + y) for x, y in xy],
    )
    return _metric(frame)


def _buildings(xy: dict[str, tuple[float, float]], households=None) -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame(
        {"building_id": list(xy), "households": households or [10] * len(xy)},
        geometry=[box(X0 + x - 5, Y0 + y - 5, X0 + x + 5, Y0 + y + 5) for x, y in xy.values()],
    )
    return _metric(frame)


def test_nearest_building_within_the_stated_distance(tree):
    # footprints are 10 m squares: the edge is 5 m nearer than the centre
    buildings = _buildings({"B2": (50, 100), "B1": (150, 100), "B3": (50, 150)})
    points = _points([(50, 65), (100, 100), (350, 100), (50, 40)])
    joined = join_events(points, tree, buildings, max_distance_m=30)
    events = joined.events.set_index("event_id")
    assert events.at["E0", "building_id"] == "B2"  # 30 m from B2's edge, farther from B3
    assert events.at["E0", "building_distance_m"] == pytest.approx(30.0, abs=0.01)
    # equally far from B1 and B2 (45 m): out of 30 m reach
    assert pd.isna(events.at["E1", "building_id"])
    assert pd.isna(events.at["E3", "building_id"])  # 55 m from B2
    assert joined.counts()["no_building"] == 3
    wider = join_events(points, tree, buildings, max_distance_m=50).events.set_index("event_id")
    assert wider.at["E1", "building_id"] == "B1"  # a tie is broken by building id
    assert wider.at["E1", "building_distance_m"] == pytest.approx(45.0, abs=0.01)
    assert pd.isna(wider.at["E3", "building_id"])
    assert pd.isna(wider.at["E2", "building_id"])


def test_points_join_the_deepest_grid_and_outside_points_are_listed(tree):
    points = _points([(50, 50), (150, 50), (250, 50), (350, 50), (450, 50), (100, 20)])
    joined = join_events(points, tree, tree.iloc[0:0].assign(building_id=[]))
    events = joined.events.set_index("event_id")
    assert events["grid_id"].tolist()[:4] == ["M1", "M2", "M3", "S2"]
    assert pd.isna(events.at["E4", "grid_id"])  # east of the district
    assert events.at["E5", "grid_id"] == "M1"  # on the M1/M2 edge: first in table order
    assert list(joined.outside["event_id"]) == ["E4"]
    assert list(joined.not_in_leaf["event_id"]) == ["E3"]
    assert joined.counts() == {
        "total": 6,
        "joined": 5,
        "outside": 1,
        "not_in_leaf": 1,
        "with_building": 0,
        "no_building": 6,
    }


def test_counts_roll_up_through_every_level_as_brute_force(tree):
    rng = np.random.default_rng(7)
    xy = list(zip(rng.uniform(-50, 450, 300), rng.uniform(-20, 220, 300), strict=True))
    xy += [(100, 10), (200, 30), (300, 40), (0, 0)]  # on shared edges and the corner
    points = _points(xy)
    buildings = _buildings({"B1": (50, 50), "B2": (150, 50), "B3": (250, 150)}, [20, 30, 50])
    buildings["grid_id"] = ["M1", "M2", "M3"]
    joined = join_events(points, tree, buildings)
    counts = event_counts(joined.events, tree, buildings=buildings).set_index("grid_id")
    # brute force: each point to the deepest grid covering it (first in table order on
    # a tie), then a grid counts the points assigned to it or to any grid below it
    depth = {"D": 0, "S1": 1, "S2": 1, "M1": 2, "M2": 2, "M3": 2}
    below = {"D": set(depth), "S1": {"S1", "M1", "M2"}, "S2": {"S2", "M3"}}
    assigned = []
    for point in points.geometry:
        hits = [g.grid_id for g in tree.itertuples() if g.geometry.covers(point)]
        assigned.append(max(hits, key=lambda g: depth[g]) if hits else None)
    for grid_id in depth:
        expected = sum(a in below.get(grid_id, {grid_id}) for a in assigned)
        assert counts.at[grid_id, "events"] == expected, grid_id
    assert counts.at["D", "events"] == len(joined.events) - len(joined.outside)
    assert counts.at["S1", "events"] == counts.at["M1", "events"] + counts.at["M2", "events"]
    assert counts.at["S2", "events"] == counts.at["M3", "events"] + len(joined.not_in_leaf)
    assert counts["households"].to_dict() == {
        "D": 100,
        "S1": 50,
        "S2": 50,
        "M1": 20,
        "M2": 30,
        "M3": 50,
    }
    assert counts.at["M2", "per_1000"] == pytest.approx(counts.at["M2", "events"] * 1000 / 30)
    assert counts.at["S1", "per_1000"] == pytest.approx(counts.at["S1", "events"] * 1000 / 50)


def test_rate_is_none_where_a_grid_holds_no_households(tree):
    events = pd.DataFrame({"grid_id": ["M1", "M1", "M3"]})
    buildings = pd.DataFrame({"grid_id": ["M1"], "households": [4]})
    counts = event_counts(events, tree, buildings=buildings).set_index("grid_id")
    assert counts.at["M1", "per_1000"] == 500.0
    assert counts.at["M3", "per_1000"] is None
    assert counts.at["D", "events"] == 3
    assert counts.at["D", "per_1000"] == 750.0
    assert counts.at["D", "parent_id"] is None


def test_counts_by_day_through_the_tree():
    grids = pd.DataFrame({"grid_id": ["D", "S1", "M1", "M2"], "parent_id": [None, "D", "S1", "S1"]})
    events = pd.DataFrame(
        {
            "grid_id": ["M1", "M1", "M2", "S1", None, "M2", "GONE"],
            "day": [
                "2022-04-02",
                "2022-04-01",
                "2022-04-01",
                "2022-04-01",
                "2022-04-01",
                None,
                "x",
            ],
        }
    )
    days = event_counts_by_day(events, grids)
    got = {(r.grid_id, r.day): r.events for r in days.itertuples()}
    assert got == {
        ("D", "2022-04-01"): 3,
        ("D", "2022-04-02"): 1,
        ("D", None): 1,
        ("S1", "2022-04-01"): 3,
        ("S1", "2022-04-02"): 1,
        ("S1", None): 1,
        ("M1", "2022-04-01"): 1,
        ("M1", "2022-04-02"): 1,
        ("M2", "2022-04-01"): 1,
        ("M2", None): 1,
    }
    totals = daily_totals(events)
    assert totals.to_dict("records") == [
        {"day": "2022-04-01", "events": 4},
        {"day": "2022-04-02", "events": 1},
        {"day": "x", "events": 1},
        {"day": None, "events": 1},
    ]


def test_colour_classes_cover_the_values_light_to_dark():
    classes = colour_classes([0, 1, 2, 3, 10, None, float("nan")])
    assert classes[0]["min"] == 0 and classes[-1]["max"] == 10
    assert [c["max"] for c in classes] == sorted(c["max"] for c in classes)
    assert colour_of(0, classes) == NO_EVENTS_COLOUR
    assert colour_of(1, classes) == classes[0]["colour"]
    assert colour_of(10, classes) == classes[-1]["colour"]
    assert colour_of(None, classes) == NO_EVENTS_COLOUR
    assert len(colour_classes([1, 2])) == 2  # two small counts: two classes, not five
    assert colour_classes([0, None]) == []


def test_negative_distance_is_refused(tree):
    with pytest.raises(ValueError, match="metres"):
        join_events(_points([(1, 1)]), tree, tree.iloc[0:0], max_distance_m=-1)
