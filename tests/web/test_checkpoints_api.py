"""Checkpoint coverage through the API and the command line, on the demo district."""

from __future__ import annotations

import json

import pytest

from mapserver.cli import main as cli_main


@pytest.fixture
def client(viewer):
    """Entrances and cordons are read by a logged-in planner role: the admin's token."""
    return viewer


@pytest.fixture(scope="module")
def village(demo_layers) -> str:
    grids = demo_layers["grids"]
    villages = grids[(grids["level"] == "community") & grids["name"].str.contains("村")]
    return str(villages["grid_id"].iloc[0])


@pytest.fixture(scope="module")
def neighbourhood(demo_layers) -> str:
    grids = demo_layers["grids"]
    towns = grids[(grids["level"] == "community") & ~grids["name"].str.contains("村")]
    return str(towns["grid_id"].iloc[0])


def test_entrances_of_a_neighbourhood(client, neighbourhood):
    data = client.get(f"/api/entrances?grid={neighbourhood}").get_json()
    assert data["total"] == len(data["features"]) > 0
    assert sum(data["counts"].values()) == data["total"]
    states = {f["properties"]["state"] for f in data["features"]}
    assert states <= {"staffed", "closed", "uncovered"}
    assert data["area"]["geometry"]["type"] in ("Polygon", "MultiPolygon")


def test_village_entrances_match_its_checkpoints(client, village, demo_layers):
    data = client.get(f"/api/entrances?grid={village}").get_json()
    staffed = int(demo_layers["checkpoints"]["staffed"].sum())
    assert data["counts"]["staffed"] == staffed
    assert data["total"] == len(demo_layers["checkpoints"])


def test_village_cordon_needs_no_more_staff_than_now(client, village):
    replanned = client.post(
        "/api/cordon", json={"grids": [village], "keep_existing": False}
    ).get_json()
    assert replanned["sealing"] is True
    assert replanned["summary"]["staffed"] <= replanned["checkpoints_now"]
    assert replanned["rota"]["persons_per_day"] > 0
    moved = client.post(
        "/api/cordon", json={"grids": [village], "keep_existing": False, "max_outward_m": 300}
    ).get_json()
    assert moved["sealing"] is True
    assert moved["summary"]["staffed"] <= replanned["summary"]["staffed"]
    exits = moved["catchment"]["exits"]
    assert sum(e["households"] for e in exits) <= moved["catchment"]["households"]


def test_tradeoff_curve(client, neighbourhood):
    points = client.get(
        f"/api/cordon/tradeoff?grid={neighbourhood}&max_outward_m=300&keep_existing=false"
    ).get_json()["points"]
    assert points
    extra = [p["extra_households"] for p in points]
    assert extra == sorted(extra)
    assert points[0]["staffed"] >= points[-1]["staffed"] or len(points) == 1


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("", "grid"),
        ("grid=NO-SUCH-GRID", "grid"),
        ("grid=SD01&max_outward_m=-5", "max_outward_m"),
    ],
)
def test_bad_areas_are_refused_clearly(client, query, field):
    response = client.get(f"/api/cordon?{query}")
    assert response.status_code == 400
    body = response.get_json()
    assert body["issues"][0]["field"] == field and body["message"]


def test_whole_network_and_empty_areas_get_empty_plans(app, client):
    """An area holding every road needs no checkpoint; one no road reaches has no entrance."""
    big = {
        "type": "Polygon",
        "coordinates": [[[100, 20], [140, 20], [140, 40], [100, 40], [100, 20]]],
    }
    response = client.post("/api/cordon", json={"polygon": big})
    assert response.status_code == 200
    plan = response.get_json()
    nodes = app.extensions["store"].read_layer("road_nodes")
    assert plan["sealing"] is True and plan["summary"]["staffed"] == 0
    assert plan["summary"]["inside_nodes"] == len(nodes)
    outside = {"type": "Polygon", "coordinates": [[[0, 0], [0.01, 0], [0.01, 0.01], [0, 0]]]}
    response = client.post("/api/entrances", json={"polygon": outside})
    assert response.status_code == 200
    assert response.get_json()["total"] == 0 and response.get_json()["features"] == []


def test_cli_cordon_prints_and_writes(demo_db_url, village, tmp_path, capsys):
    out = tmp_path / "plan.geojson"
    code = cli_main(
        [
            "--database",
            demo_db_url,
            "cordon",
            "--grid",
            village,
            "--replan",
            "--outward",
            "300",
            "--tradeoff",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "staffed" in printed and "trade-off" in printed
    plan = json.loads(out.read_text(encoding="utf-8"))
    assert plan["type"] == "FeatureCollection" and plan["summary"]["staffed"] >= 1
    assert cli_main(["--database", demo_db_url, "cordon", "--grid", "NOPE"]) == 2


def test_closures_close_roads_via_api_and_cli(app, client, demo_layers, tmp_path):
    edges = demo_layers["road_edges"]
    street = edges[(edges["road_class"] == "street") & ~edges["closed"]].iloc[0]
    point = street.geometry.interpolate(0.5, normalized=True)
    body = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {},
                "geometry": {"type": "Point", "coordinates": [point.x, point.y]},
            }
        ],
    }
    token = app.extensions["store"].create_token("admin")
    response = client.post(
        "/api/roads/closures", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    assert street["edge_id"] in response.get_json()["newly_closed"]
    stored = app.extensions["store"].read_layer("road_edges").set_index("edge_id")
    assert bool(stored.at[street["edge_id"], "closed"])
    path = tmp_path / "closures.geojson"
    path.write_text(json.dumps(body), encoding="utf-8")
    url = app.config["SETTINGS"].database_url
    assert cli_main(["--database", url, "closures", str(path), "--reopen"]) == 0
