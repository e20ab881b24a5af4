"""The JSON/GeoJSON API on the demo district: reads, writes, all-or-nothing batches, auth."""

from __future__ import annotations

import io
import re
import time

import numpy as np
import pandas as pd
import pytest

from mapserver.status.scheme import load_scheme

SCHEME = load_scheme("hongkou6")
COLOURS = {c.code: c.colour for c in SCHEME.codes}


def _auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def _all_tables(app) -> dict:
    store = app.extensions["store"]
    return {name: store.table_rows(name) for name in store.row_counts()}


def _household_counts(demo_layers: dict) -> pd.Series:
    """Brute force: households per community grid from the demo layers."""
    grids = demo_layers["grids"].set_index("grid_id")
    parent = grids["parent_id"].to_dict()

    def community_of(grid_id: str) -> str:
        while grids.at[grid_id, "level"] != "community":
            grid_id = parent[grid_id]
        return grid_id

    buildings = demo_layers["buildings"]
    per_building = demo_layers["households"].groupby("building_id").size()
    community = buildings["grid_id"].map(community_of)
    return per_building.reindex(buildings["building_id"]).fillna(0).groupby(community.values).sum()


def test_config_has_default_scheme_and_levels(viewer):
    client = viewer  # reading needs a login
    data = client.get("/api/config").get_json()
    assert data["scheme"]["name"] == "hongkou6"
    assert len(data["scheme"]["codes"]) == 6
    assert data["levels"][0] == "subdistrict"
    assert "micro" in data["levels"] and "homestead" in data["levels"]
    assert data["lang"] == "zh"
    assert client.get("/api/config?lang=en").get_json()["strings"]["legend"] == "Legend"


def test_grid_counts_roll_up_to_communities(viewer, demo_layers):
    client = viewer  # reading needs a login
    data = client.get("/api/grids?level=community").get_json()
    expected = _household_counts(demo_layers)
    assert len(data["features"]) == len(expected) >= 5
    for feature in data["features"]:
        props = feature["properties"]
        assert props["households"] == expected[props["id"]]
        assert props["colour"] in COLOURS.values()
        assert props["colour"] == COLOURS[props["status"]]


def test_bbox_and_parent_filters(viewer):
    client = viewer  # reading needs a login
    everything = client.get("/api/grids?level=micro").get_json()["features"]
    first = everything[0]
    xs = [pt[0] for pt in first["geometry"]["coordinates"][0]]
    ys = [pt[1] for pt in first["geometry"]["coordinates"][0]]
    bbox = f"{min(xs)},{min(ys)},{max(xs)},{max(ys)}"
    near = client.get(f"/api/grids?level=micro&bbox={bbox}").get_json()["features"]
    assert first["id"] in {f["id"] for f in near}
    assert len(near) < len(everything)
    parent = first["properties"]["parent_id"]
    children = client.get(f"/api/grids?parent={parent}").get_json()["features"]
    assert children and all(f["properties"]["parent_id"] == parent for f in children)
    bad = client.get("/api/grids?bbox=1,2,3")
    assert bad.status_code == 400 and bad.get_json()["issues"][0]["field"] == "bbox"


def test_gcj02_output_is_shifted_by_hundreds_of_metres(viewer):
    client = viewer  # reading needs a login
    plain = client.get("/api/grids?level=subdistrict").get_json()["features"][0]
    shifted = client.get("/api/grids?level=subdistrict&coords=gcj02").get_json()["features"][0]
    a = np.array(plain["geometry"]["coordinates"][0][0])
    b = np.array(shifted["geometry"]["coordinates"][0][0])
    metres = np.hypot((b[0] - a[0]) * 95_000, (b[1] - a[1]) * 111_000)
    assert 200 < metres < 1000


def test_write_requires_login_or_token(client):
    response = client.post("/api/status", json={"entity_id": "x", "status": "red"})
    assert response.status_code == 401


def test_status_write_recolours_building_and_grids(app, viewer, admin_token, demo_layers):
    client = viewer  # reading needs a login
    households = demo_layers["households"]
    building_id = households["building_id"].iloc[0]
    rows = [
        {"entity_kind": "household", "entity_id": h, "status": "red"}
        for h in households.loc[households["building_id"] == building_id, "household_id"]
    ]
    before = client.get("/api/config").get_json()["seq"]
    response = client.post("/api/status", json={"rows": rows}, headers=_auth(admin_token))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["seq"] > before
    changes = client.get(f"/api/changes?since={before}").get_json()
    assert changes["changed"] == len(rows)
    assert changes["buildings"][building_id]["colour"] == COLOURS["red"]
    assert changes["buildings"][building_id]["counts"] == {"red": len(rows)}
    leaf = demo_layers["buildings"].set_index("building_id").at[building_id, "grid_id"]
    assert changes["grids"][leaf]["status"] == "red"
    root = demo_layers["grids"].query("level == 'subdistrict'")["grid_id"].iloc[0]
    assert root in changes["grids"]


def test_bad_batch_is_rejected_whole(app, client, admin_token, demo_layers):
    ids = demo_layers["households"]["household_id"].iloc[:3].tolist()
    rows = [
        {"entity_id": ids[0], "status": "red"},
        {"entity_id": ids[1], "status": "purple"},
        {"entity_id": ids[2], "status": "yellow"},
    ]
    before = _all_tables(app)
    response = client.post("/api/status", json={"rows": rows}, headers=_auth(admin_token))
    assert response.status_code == 400
    issues = response.get_json()["issues"]
    assert [(i["row"], i["field"]) for i in issues] == [(2, "status")]
    assert "purple" in issues[0]["reason"]
    assert _all_tables(app) == before


def test_upload_with_one_bad_row_changes_nothing(app, client, admin_token, demo_layers):
    ids = demo_layers["households"]["household_id"].iloc[:4].tolist()
    csv = "household_id,status\n" + "\n".join(
        [f"{ids[0]},red", f"{ids[1]},green", "NO-SUCH-HOUSEHOLD,red", f"{ids[3]},blue"]
    )
    before = _all_tables(app)
    response = client.post(
        "/api/status/upload",
        data={"file": (io.BytesIO(csv.encode()), "status-today.csv")},
        headers=_auth(admin_token),
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    issue = response.get_json()["issues"][0]
    assert issue["file"] == "status-today.csv" and issue["row"] == 3
    assert "NO-SUCH-HOUSEHOLD" in issue["reason"]
    assert _all_tables(app) == before
    good = csv.replace("NO-SUCH-HOUSEHOLD", ids[2])
    response = client.post(
        "/api/status/upload",
        data={"file": (io.BytesIO(good.encode()), "status-today.csv")},
        headers=_auth(admin_token),
        content_type="multipart/form-data",
    )
    assert response.status_code == 200 and response.get_json()["applied"] == 4


def _login(client, username: str) -> str:
    page = client.get("/login")
    assert page.status_code == 200
    with client.session_transaction() as session:
        csrf = session["csrf"]
    form = {"username": username, "password": "demo2020", "csrf": csrf}
    response = client.post("/login", data=form)
    assert response.status_code == 302
    with client.session_transaction() as session:
        return session["csrf"]


def test_worker_may_write_only_own_grid(app, client, demo_layers):
    csrf = _login(client, "worker")
    store = app.extensions["store"]
    worker_grid = store.check_password("worker", "demo2020").grid_id
    buildings = demo_layers["buildings"]
    households = demo_layers["households"]
    own_building = buildings.loc[buildings["grid_id"] == worker_grid, "building_id"].iloc[0]
    own = households.loc[households["building_id"] == own_building, "household_id"].iloc[0]
    own_buildings = buildings.loc[buildings["grid_id"] == worker_grid, "building_id"]
    others = households.loc[~households["building_id"].isin(own_buildings), "household_id"]
    other = others.iloc[0]
    headers = {"X-CSRF-Token": csrf}
    ok = client.post("/api/status", json={"entity_id": own, "status": "grey"}, headers=headers)
    assert ok.status_code == 200, ok.get_json()
    refused = client.post(
        "/api/status", json={"entity_id": other, "status": "grey"}, headers=headers
    )
    assert refused.status_code == 400
    assert "outside grid" in refused.get_json()["issues"][0]["reason"]
    no_csrf = client.post("/api/status", json={"entity_id": own, "status": "red"})
    assert no_csrf.status_code == 403


def test_entry_page_needs_login_and_lists_own_buildings(client, demo_layers):
    assert client.get("/entry").status_code == 302
    _login(client, "worker")
    page = client.get("/entry").get_data(as_text=True)
    assert "住户状态登记" in page
    worker_grid = client.application.extensions["store"].get_user("worker").grid_id
    buildings = demo_layers["buildings"]
    own = buildings.loc[buildings["grid_id"] == worker_grid, "building_id"]
    listed = re.findall(r'<option value="([^"]+)">', page)
    assert sorted(listed) == sorted(own) and len(listed) > 0


def test_wrong_password_is_refused(client):
    client.get("/login")
    with client.session_transaction() as session:
        csrf = session["csrf"]
    response = client.post("/login", data={"username": "admin", "password": "nope", "csrf": csrf})
    assert response.status_code == 200
    assert "用户名或密码错误" in response.get_data(as_text=True)


def test_search_finds_grid_by_name(viewer, demo_layers):
    client = viewer  # reading needs a login
    name = demo_layers["grids"].query("level == 'community'")["name"].iloc[0]
    results = client.get(f"/api/search?q={name}").get_json()["results"]
    assert results and results[0]["name"] == name and len(results[0]["bbox"]) == 4


def test_openapi_lists_every_api_route(app, viewer):
    client = viewer  # reading needs a login
    doc = client.get("/api/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    routes = {
        (re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    documented = {(path, method) for path, item in doc["paths"].items() for method in item}
    assert not routes - documented, sorted(routes - documented)


@pytest.mark.parametrize("path", ["/", "/login", "/vendor/leaflet/leaflet.js", "/static/js/map.js"])
def test_pages_and_local_assets_are_served(viewer, path):
    assert viewer.get(path).status_code == 200


def test_roads_and_checkpoints_layers(viewer):
    client = viewer  # reading needs a login
    roads = client.get("/api/roads").get_json()["features"]
    checkpoints = client.get("/api/checkpoints").get_json()["features"]
    assert any(f["properties"]["road_class"] == "gate" for f in roads)
    assert len(checkpoints) >= 10


def test_colour_rule_per_request(viewer):
    client = viewer  # reading needs a login
    worst = client.get("/api/grids?level=community&rule=worst").get_json()["features"]
    share = client.get("/api/grids?level=community&rule=share").get_json()["features"]
    order = [c.code for c in SCHEME.codes_worst_first()]
    for feature in worst:
        present = [c for c in order if feature["properties"]["counts"].get(c)]
        assert feature["properties"]["status"] == present[0]
    for feature in share:
        counts = feature["properties"]["counts"]
        total = sum(counts.values())
        status = feature["properties"]["status"]
        over = [c for c in order if counts.get(c, 0) / total >= 0.1]
        assert status == (over[0] if over else max(counts, key=counts.get))
    assert {f["properties"]["status"] for f in share} != {f["properties"]["status"] for f in worst}
    assert client.get("/api/grids?rule=loudest").status_code == 400


def test_grids_answer_304_until_a_write_and_gzip_when_asked(viewer, admin_token, demo_layers):
    client = viewer  # reading needs a login
    import gzip
    import json

    first = client.get("/api/grids?level=community")
    etag = first.headers["ETag"]
    again = client.get("/api/grids?level=community", headers={"If-None-Match": etag})
    assert again.status_code == 304 and not again.data
    zipped = client.get("/api/grids?level=community", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(zipped.data)) == first.get_json()
    household = demo_layers["households"]["household_id"].iloc[0]
    write = {"entity_id": household, "status": "red"}
    assert client.post("/api/status", json=write, headers=_auth(admin_token)).status_code == 200
    time.sleep(1.1)  # past the age a map answer may have
    moved = client.get("/api/grids?level=community", headers={"If-None-Match": etag})
    assert moved.status_code == 200 and moved.headers["ETag"] != etag
    assert moved.get_json()["seq"] > first.get_json()["seq"]


def test_stream_event_carries_the_delta(app, viewer, demo_layers):
    client = viewer  # reading needs a login
    import json

    from mapserver.store import StatusRow

    households = demo_layers["households"]
    building = households["building_id"].iloc[0]
    ids = households.loc[households["building_id"] == building, "household_id"]
    behind = client.get("/api/config").get_json()["seq"] - 1
    response = client.get(f"/api/stream?since={behind}", buffered=False)
    chunks = iter(response.response)

    def next_event(kind: str) -> dict:
        for chunk in chunks:
            text = chunk.decode() if isinstance(chunk, bytes) else chunk
            if f"event: {kind}" in text:
                return json.loads(text.split("data: ", 1)[1].split("\n", 1)[0])
        raise AssertionError(f"no {kind} event")

    seq = next_event("hello")["seq"]
    catch_up = next_event("change")  # the map is one change behind: it is told to pull
    assert catch_up == {"seq": seq, "since": behind}
    rows = [StatusRow("household", h, "red") for h in ids]
    app.extensions["store"].apply_status(rows, user="t", source="t")  # as another process
    data = next_event("change")
    response.close()
    assert data["since"] == seq and data["changed"] == len(rows)
    assert data["buildings"][building]["colour"] == COLOURS["red"]
    leaf = demo_layers["buildings"].set_index("building_id").at[building, "grid_id"]
    assert data["grids"][leaf]["status"] == "red"
    assert data["summary"]["counts"]["red"] >= len(rows)


def test_stream_of_an_area_reader_carries_no_delta(app, client, demo_layers):
    import json

    from mapserver.store import StatusRow

    _login(client, "worker")  # a worker reads only their own grid
    seq = app.extensions["store"].last_seq()
    response = client.get(f"/api/stream?since={seq}", buffered=False)
    chunks = iter(response.response)
    household = demo_layers["households"]["household_id"].iloc[-1]
    for chunk in chunks:
        if b"event: hello" in (chunk if isinstance(chunk, bytes) else chunk.encode()):
            break
    app.extensions["store"].apply_status(
        [StatusRow("household", household, "red")], user="t", source="t"
    )
    for chunk in chunks:
        text = chunk.decode() if isinstance(chunk, bytes) else chunk
        if "event: change" in text:
            data = json.loads(text.split("data: ", 1)[1].split("\n", 1)[0])
            break
    response.close()
    assert data == {"seq": seq + 1, "since": seq}  # the map pulls /api/changes, cut to its area


def test_a_served_app_is_warm_before_it_serves(demo_db_url):
    import time

    from mapserver.web import create_served_app

    app = create_served_app({"database_url": demo_db_url, "secret_key": "w" * 32})
    try:
        cache = app.extensions.get("mapjson")
        assert cache is not None and cache._pieces is not None  # warm once it is returned
        assert len(cache._pieces.text) > 600  # every grid and building serialised
        held = [etag for etag in cache._answers if ".layer." in etag]
        assert len(held) == 2  # roads and checkpoints too
        roads = cache.layer("road_edges")
        assert roads.etag in held and roads.body.startswith(b'{"type"')
    finally:
        app.extensions["store"].dispose()
    cold = create_served_app({"database_url": demo_db_url, "secret_key": "w" * 32}, warm_wait_s=0)
    try:  # a warm-up longer than the wait goes on in the background: served at once
        assert cold.extensions.get("mapjson") is None or cold.extensions["mapjson"]._pieces is None
    finally:
        time.sleep(1.0)
        cold.extensions["store"].dispose()
