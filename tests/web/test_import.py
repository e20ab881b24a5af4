"""Importing a user's own files through the web API and the command line, all or nothing."""

from __future__ import annotations

import io
import json
from pathlib import Path

from mapserver.cli import main as cli_main
from mapserver.store import open_store

X0, Y0 = 121.40, 31.20
D = 0.002


def _square(x: float, y: float, w: float, h: float) -> list:
    return [[[x, y], [x + w, y], [x + w, y + h], [x, y + h], [x, y]]]


def _grids_geojson() -> str:
    features = [
        ("NB", None, "community", "新村居委", _square(X0, Y0, 2 * D, D)),
        ("NB-1", "NB", "micro", "第1微网格", _square(X0, Y0, D, D)),
        ("NB-2", "NB", "micro", "第2微网格", _square(X0 + D, Y0, D, D)),
    ]
    return json.dumps(
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "properties": {"grid_id": g, "parent_id": p, "level": lvl, "name": n},
                    "geometry": {"type": "Polygon", "coordinates": c},
                }
                for g, p, lvl, n, c in features
            ],
        },
        ensure_ascii=False,
    )


def _files(status_rows: str) -> dict[str, tuple[str, bytes]]:
    buildings = "楼栋编号,名称,经度,纬度,户数,人数\n" + "\n".join(
        [f"B1,1号楼,{X0 + D / 2},{Y0 + D / 2},2,5", f"B2,2号楼,{X0 + 1.5 * D},{Y0 + D / 2},1,3"]
    )
    households = (
        "household_id,building_id,unit,room,residents\n"
        "H1,B1,1,101,2\nH2,B1,1,102,3\nH3,B2,1,101,3\n"
    )
    return {
        "grids": ("grids.geojson", _grids_geojson().encode()),
        "buildings": ("buildings.csv", buildings.encode()),
        "households": ("households.csv", households.encode()),
        "status": ("status.csv", status_rows.encode()),
    }


def _post(client, token: str, files: dict[str, tuple[str, bytes]], **form: str):
    data = {key: (io.BytesIO(body), name) for key, (name, body) in files.items()}
    data.update(form)
    return client.post(
        "/api/import",
        data=data,
        headers={"Authorization": f"Bearer {token}"},
        content_type="multipart/form-data",
    )


def test_import_replaces_layers_and_map_shows_them(app, client, admin_token):
    store = app.extensions["store"]
    before = store.row_counts()
    files = _files("household_id,status\nH1,red\nH2,green\nH3,blue\n")
    checked = _post(client, admin_token, files, replace="1", dry_run="1")
    assert checked.status_code == 200, checked.get_json()
    plan = checked.get_json()["imported"]["plan"]
    assert plan["grids"]["deleted"] == before["grids"]  # demo grids, none with these ids
    assert plan["status"]["deleted"] == before["status"]
    assert store.row_counts() == before  # a dry run writes nothing
    response = _post(client, admin_token, files, replace="1")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["imported"]["buildings"] == 2
    auth = {"Authorization": f"Bearer {admin_token}"}
    grids = client.get("/api/grids?level=micro", headers=auth).get_json()["features"]
    by_id = {f["id"]: f["properties"] for f in grids}
    assert set(by_id) == {"NB-1", "NB-2"}
    assert by_id["NB-1"]["counts"] == {"red": 1, "green": 1}
    assert by_id["NB-1"]["status"] == "red" and by_id["NB-2"]["status"] == "blue"
    buildings = client.get("/api/buildings?grid=NB", headers=auth).get_json()["features"]
    assert {f["properties"]["grid_id"] for f in buildings} == {"NB-1", "NB-2"}


def test_import_with_a_bad_row_writes_nothing(app, client, admin_token):
    store = app.extensions["store"]
    before = {name: store.table_rows(name) for name in store.row_counts()}
    response = _post(client, admin_token, _files("household_id,status\nH1,red\nH2,purple\n"))
    assert response.status_code == 400
    issues = response.get_json()["issues"]
    assert any(
        i["file"] == "status.csv" and i["row"] == 2 and i["field"] == "status" for i in issues
    )
    assert {name: store.table_rows(name) for name in store.row_counts()} == before


def test_import_needs_admin(client):
    response = _post(client, "not-a-token", _files("household_id,status\nH1,red\n"))
    assert response.status_code == 401


def test_cli_import_and_status(tmp_path: Path, capsys):
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    paths = []
    for name, body in _files("household_id,status\nH1,red\n").values():
        path = tmp_path / name
        path.write_bytes(body)
        paths.append(str(path))
    assert cli_main(["--database", url, "import", *paths]) == 0
    store = open_store(url)
    assert store.row_counts()["grids"] == 3
    bad = tmp_path / "status-bad.csv"
    bad.write_text("household_id,status\nH2,green\nH9,red\n", encoding="utf-8")
    assert cli_main(["--database", url, "status", str(bad)]) == 2
    assert "H9" in capsys.readouterr().err
    good = tmp_path / "status-good.csv"
    good.write_text("household_id,status\nH2,green\nH3,grey\n", encoding="utf-8")
    assert cli_main(["--database", url, "status", str(good)]) == 0
    assert set(store.read_status()["status"]) == {"red", "green", "grey"}
    store.dispose()


def test_blank_templates_import_back_and_lines_count_the_header(viewer, demo_layers, tmp_path):
    import csv
    import io as stdio

    status = viewer.get("/api/templates/status.csv")
    assert status.status_code == 200 and status.mimetype == "text/csv"
    text = status.data.decode("utf-8")
    assert text.startswith("\ufeff")  # Excel shows the Chinese
    rows = list(csv.reader(stdio.StringIO(text.lstrip("\ufeff"))))
    assert rows[0] == ["户号", "状态", "人数", "更新时间"] and len(rows) == 2
    # filled in with real households, the template imports as it is
    household = demo_layers["households"]["household_id"].iloc[0]
    filled = tmp_path / "状态表.csv"
    filled.write_text(
        "户号,状态,人数,更新时间\n"
        f"{household},{rows[1][1]},3,2026-12-03 08:00\n"
        f"NO-SUCH,{rows[1][1]},3,\n",
        encoding="utf-8",
    )
    with filled.open("rb") as handle:
        answer = viewer.post(
            "/api/status/upload",
            data={"file": (handle, "状态表.csv")},
            content_type="multipart/form-data",
        )
    assert answer.status_code == 400  # the bad row rejects the batch, named by its line
    issue = answer.get_json()["issues"][0]
    assert issue["row"] == 2 and issue["line"] == 3  # the header is line 1
    for layer in ("households", "buildings", "events"):
        assert viewer.get(f"/api/templates/{layer}.csv").status_code == 200
    assert viewer.get("/api/templates/users.csv").status_code == 400


def test_an_upload_with_a_long_chinese_name_or_a_path_is_read(app, admin_token, tmp_path):
    """A file name of 200 Chinese characters (600 bytes, over the file system's 255) or
    with folders in it is saved under a short safe name and read all the same."""
    client = app.test_client()
    auth = {"Authorization": f"Bearer {admin_token}"}
    household = app.extensions["store"].read_households()["household_id"].iloc[0]
    body = f"household_id,status\n{household},red\n".encode()
    for name in ("状" * 200 + ".csv", "../../etc/状态.csv", "..csv"):
        answer = client.post(
            "/api/status/upload",
            data={"file": (io.BytesIO(body), name)},
            headers=auth,
            content_type="multipart/form-data",
        )
        assert answer.status_code == 200, (name, answer.get_data(as_text=True))
        assert answer.get_json()["applied"] == 1 and answer.get_json()["file"] == name
