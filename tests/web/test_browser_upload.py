"""The upload page's mapping step, check and replace confirmation in real headless Chromium."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}


def _phone_page(browser, live_server):
    """A phone-sized page logged in as the admin on the upload page; only 127.0.0.1 reachable."""
    context = browser.new_context(viewport=PHONE)
    context.route(
        "**/*",
        lambda r: r.continue_() if r.request.url.startswith("http://127.0.0.1") else r.abort(),
    )
    page = context.new_page()
    page.goto(f"{live_server.url}/upload")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "demo2020")
    page.click("button[type=submit]")
    page.wait_for_selector("#layer-import", timeout=10_000)
    # the page's script (end of body) must have run before a file is chosen, or the
    # change event finds no listener; the load event comes after it
    page.wait_for_load_state("load")
    return context, page


def _block(name: str) -> str:
    return f".import-file[data-name='{name}']"


def _wait_ready(page, name: str) -> None:
    page.wait_for_selector(f"{_block(name)}[data-ready='1'] select.layer", timeout=30_000)


def _map_file(page, name: str, layer: str, columns: dict[str, str], level: str) -> None:
    """Choose the layer, the column of every field (others not imported) and the level."""
    _wait_ready(page, name)
    if page.eval_on_selector(f"{_block(name)} select.layer", "el => el.value") != layer:
        page.select_option(f"{_block(name)} select.layer", layer)
        _wait_ready(page, name)
    fields = page.eval_on_selector_all(
        f"{_block(name)} select[data-field]", "els => els.map(e => e.dataset.field)"
    )
    assert {"grid_id", "parent_id", "level", "name"} <= set(fields)
    for field in fields:
        page.select_option(f"{_block(name)} select[data-field='{field}']", columns.get(field, ""))
    page.select_option(f"{_block(name)} select.level", level)


def _no_horizontal_overflow(page) -> None:
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.body.scrollWidth, innerWidth]"
    )
    wide = page.evaluate(
        """() => Array.from(document.querySelectorAll('body *'))
              .filter(e => e.getBoundingClientRect().right > innerWidth + 0.5)
              .slice(0, 5).map(e => `${e.tagName}.${e.className}#${e.id}`)"""
    )
    assert max(widths[:2]) <= widths[2], (widths, wide)


def _plan(page) -> dict[str, list[int]]:
    return page.evaluate(
        """() => Object.fromEntries(Array.from(document.querySelectorAll('.import-plan tbody tr'))
              .map(tr => [tr.dataset.layer, ['added', 'updated', 'deleted']
                  .map(k => Number(tr.querySelector('td.' + k).textContent))]))"""
    )


def test_hangzhou_street_and_community_layers_mapped_checked_and_imported(
    app, live_server, browser, realdata: Path
):
    """Two real layers with Chinese columns become one 街道 > 社区 tree, names intact."""
    folder = realdata / "hangzhou-xiacheng"
    street, community = folder / "xiacheng_street.geojson", folder / "xiacheng_community.geojson"
    streets = {
        f["properties"]["街道编码"]: f["properties"]["街道"]
        for f in json.loads(street.read_text(encoding="utf-8"))["features"]
    }
    communities = {
        f["properties"]["社区编码"]: f["properties"]
        for f in json.loads(community.read_text(encoding="utf-8"))["features"]
    }
    store = app.extensions["store"]
    before = set(store.read_grids()["grid_id"])
    assert not (set(streets) | set(communities)) & before

    context, page = _phone_page(browser, live_server)
    page.set_input_files("#import-files", [str(street), str(community)])
    _wait_ready(page, community.name)
    columns = page.eval_on_selector_all(
        f"{_block(community.name)} table.preview th", "els => els.map(e => e.textContent)"
    )
    assert columns == ["街道", "街道编码", "社区", "社区编码"]
    first = page.eval_on_selector_all(
        f"{_block(community.name)} table.preview tbody tr:first-child td",
        "els => els.map(e => e.textContent)",
    )
    assert first == [str(v) for v in next(iter(communities.values())).values()]
    _map_file(page, street.name, "grids", {"grid_id": "街道编码", "name": "街道"}, "subdistrict")
    _map_file(
        page,
        community.name,
        "grids",
        {"grid_id": "社区编码", "parent_id": "街道编码", "name": "社区"},
        "community",
    )
    page.select_option("#import-parent-by", "code")
    assert page.is_disabled("#import-run")
    _no_horizontal_overflow(page)

    page.click("#import-check")
    page.wait_for_selector("#import-result.ok .import-plan", timeout=20_000)
    assert _plan(page) == {"grids": [len(streets) + len(communities), 0, 0]}
    notes = page.eval_on_selector_all(".notes li", "els => els.map(e => e.textContent)")
    assert any("SQ-3" in n and "joined" in n for n in notes)
    assert set(store.read_grids()["grid_id"]) == before  # the check writes nothing
    _no_horizontal_overflow(page)

    page.click("#import-run")
    page.wait_for_selector("#layer-import[data-imported='1']", timeout=20_000)
    grids = store.read_grids().set_index("grid_id")
    assert set(grids.index) == before | set(streets) | set(communities)
    for code, props in communities.items():
        assert grids.at[code, "name"] == props["社区"]
        assert grids.at[code, "parent_id"] == props["街道编码"]
        assert grids.at[code, "level"] == "community"
    for code, name in streets.items():
        assert grids.at[code, "name"] == name
        assert grids.at[code, "level"] == "subdistrict"
    context.close()


def _square(x: float, y: float, d: float = 0.002) -> list:
    return [[[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]]


def _community_file(tmp_path: Path, rows: list[tuple[str, str, str, float]]) -> Path:
    """A small 社区 layer whose columns are named in Chinese (社区编码, 社区, 街道编码)."""
    features = [
        {
            "type": "Feature",
            "properties": {"社区编码": code, "社区": name, "街道编码": street},
            "geometry": {"type": "Polygon", "coordinates": _square(121.5 + x, 31.3)},
        }
        for code, name, street, x in rows
    ]
    path = tmp_path / "社区边界.geojson"
    collection = {"type": "FeatureCollection", "features": features}
    path.write_text(json.dumps(collection, ensure_ascii=False), encoding="utf-8")
    return path


def test_errors_listed_then_replace_asks_before_deleting(app, live_server, browser, tmp_path):
    """Every issue is listed; a replace shows what it deletes and writes only when confirmed."""
    rows = [("XC-1", "新村社区", "XC", 0.0), ("XC-2", "东苑社区", "XC", 0.01)]
    path = _community_file(tmp_path, rows)
    store = app.extensions["store"]
    before = store.read_grids()
    context, page = _phone_page(browser, live_server)
    page.set_input_files("#import-files", str(path))
    mapping = {"grid_id": "社区编码", "parent_id": "街道编码", "name": "社区"}
    _map_file(page, path.name, "grids", mapping, "community")

    page.click("#import-check")  # the parent 'XC' exists nowhere: one issue per row
    page.wait_for_selector("#import-result.error li", timeout=20_000)
    issues = page.eval_on_selector_all(
        "#import-result li",
        "els => els.map(e => [e.dataset.file, e.dataset.row, e.dataset.field, e.textContent])",
    )
    assert [i[:3] for i in issues] == [[path.name, "1", "parent_id"], [path.name, "2", "parent_id"]]
    assert all("'XC'" in i[3] and "neither in this file" in i[3] for i in issues)
    assert page.is_disabled("#import-run")

    page.select_option(f"{_block(path.name)} select[data-field='parent_id']", "")
    page.check("#import-replace")
    page.click("#import-check")
    page.wait_for_selector("#import-result.ok .import-plan", timeout=20_000)
    assert _plan(page) == {"grids": [2, 0, len(before)]}

    page.click("#import-run")  # asks first, in the page, with the count and the first ids
    page.wait_for_selector("#import-confirm[open] li[data-layer='grids']", timeout=20_000)
    assert page.text_content("#import-confirm li .count") == str(len(before))
    shown = page.text_content("#import-confirm li .ids").strip("()").removesuffix(" 等")
    ids = shown.split(", ")  # the first ids to be deleted, then 等 (and more)
    assert ids and set(ids) <= set(before["grid_id"]) and len(ids) < len(before)
    _no_horizontal_overflow(page)
    page.click("#import-confirm button[value=cancel]")
    page.wait_for_selector("#import-confirm", state="hidden")
    assert "已取消" in page.text_content("#import-result")
    assert set(store.read_grids()["grid_id"]) == set(before["grid_id"])  # nothing deleted

    page.fill(f"{_block(path.name)} input.save-name", "社区映射")
    page.click("#import-check")
    page.wait_for_selector("#import-result.ok .import-plan", timeout=20_000)
    page.click("#import-run")
    page.wait_for_selector("#import-confirm[open]", timeout=20_000)
    page.click("#import-confirm button[value=confirm]")
    page.wait_for_selector("#layer-import[data-imported='1']", timeout=20_000)
    grids = store.read_grids().set_index("grid_id")
    assert sorted(grids.index) == ["XC-1", "XC-2"]
    assert grids["name"].to_dict() == {code: name for code, name, _, _ in rows}
    assert set(grids["level"]) == {"community"}
    saved = store.get_mapping("社区映射")
    assert saved["layer"] == "grids"
    assert saved["mapping"]["columns"] == {"grid_id": "社区编码", "name": "社区"}
    assert saved["mapping"]["constants"] == {"level": "community"}

    page.reload()  # the saved mapping fills the selects of the next file
    page.set_input_files("#import-files", str(path))
    _wait_ready(page, path.name)
    page.select_option(f"{_block(path.name)} select.layer", "grids")
    page.wait_for_selector(f"{_block(path.name)}[data-ready='1'] select.saved", timeout=10_000)
    page.select_option(f"{_block(path.name)} select.saved", "社区映射")
    chosen = page.eval_on_selector_all(
        f"{_block(path.name)} select[data-field], {_block(path.name)} select.level",
        "els => els.map(e => [e.dataset.field || 'constant level', e.value])",
    )
    assert {k: v for k, v in chosen if v} == {
        "grid_id": "社区编码",
        "name": "社区",
        "constant level": "community",
    }
    context.close()


def test_status_form_still_uploads_and_lists_bad_rows(app, live_server, browser, tmp_path):
    """The status table form next to the import: a bad row is listed, a good file applies."""
    store = app.extensions["store"]
    ids = store.read_households()["household_id"].iloc[:2].tolist()
    bad = tmp_path / "状态.csv"
    bad.write_text(f"户号,状态\n{ids[0]},紫色\nNO-SUCH,red\n", encoding="utf-8")
    context, page = _phone_page(browser, live_server)
    page.set_input_files("#status-upload input[type=file]", str(bad))
    page.click("#status-upload button[type=submit]")
    page.wait_for_selector("#status-upload .result.error li", timeout=10_000)
    said = page.text_content("#status-upload .result")
    # each problem on the line the spreadsheet shows, in words, the allowed values by label
    assert "第 2 行" in said and "“紫色”不是可用的状态，请填写：" in said
    labels = [c.label_zh for c in app.extensions["mapview"].scheme.codes]
    assert "、".join(labels) in said
    assert "第 3 行" in said and "没有户号或楼栋编号为“NO-SUCH”的住户或楼栋" in said
    assert "户号" in said  # the field by its Chinese name
    good = tmp_path / "状态2.csv"
    good.write_text(f"户号,状态\n{ids[0]},red\n{ids[1]},grey\n", encoding="utf-8")
    page.set_input_files("#status-upload input[type=file]", str(good))
    page.click("#status-upload button[type=submit]")
    page.wait_for_selector("#status-upload .result.ok", timeout=10_000)
    assert "已写入 2 户状态" in page.text_content("#status-upload .result")
    status = store.read_status().set_index("entity_id")["status"]
    assert status[ids[0]] == "red" and status[ids[1]] == "grey"
    _no_horizontal_overflow(page)
    context.close()


def test_gbk_table_encoding_detected_overridden_and_columns_suggested(
    app, live_server, browser, tmp_path
):
    """A GBK CSV with Chinese headers: detected, re-read on override, columns pre-mapped."""
    store = app.extensions["store"]
    building = store.read_buildings()["building_id"].iloc[0]
    path = tmp_path / "住户名单.csv"
    rows = f"户号,楼栋,单元,室号,人数\nXH-1,{building},1,101,3\nXH-2,{building},1,102,2\n"
    path.write_bytes(rows.encode("gbk"))
    context, page = _phone_page(browser, live_server)
    page.set_input_files("#import-files", str(path))
    _wait_ready(page, path.name)
    assert "gb18030" in page.text_content(f"{_block(path.name)} .facts")
    suggested = page.eval_on_selector_all(
        f"{_block(path.name)} select[data-field]", "els => els.map(e => [e.dataset.field, e.value])"
    )
    assert {"household_id": "户号", "building_id": "楼栋"}.items() <= dict(suggested).items()

    page.select_option("#import-encoding", "utf-8")  # wrong: the file says why it is refused
    page.wait_for_selector(f"{_block(path.name)}[data-ready='1'] .result.error", timeout=10_000)
    assert "utf-8" in page.text_content(f"{_block(path.name)} .result.error li")
    page.select_option("#import-encoding", "gbk")
    _wait_ready(page, path.name)
    assert "gbk" in page.text_content(f"{_block(path.name)} .facts")
    headers = page.eval_on_selector_all(
        f"{_block(path.name)} table.preview th", "els => els.map(e => e.textContent)"
    )
    assert headers == ["户号", "楼栋", "单元", "室号", "人数"]
    page.select_option(f"{_block(path.name)} select[data-field='room']", "室号")
    page.select_option(f"{_block(path.name)} select[data-field='residents']", "人数")
    page.click("#import-check")
    page.wait_for_selector("#import-result.ok .import-plan", timeout=20_000)
    assert _plan(page)["households"] == [2, 0, 0]
    page.click("#import-run")
    page.wait_for_selector("#layer-import[data-imported='1']", timeout=20_000)
    households = store.read_households().set_index("household_id")
    assert households.loc[["XH-1", "XH-2"], "room"].tolist() == ["101", "102"]
    assert households.loc[["XH-1", "XH-2"], "residents"].tolist() == [3, 2]
    context.close()


def test_event_points_from_baidu_coordinates(app, live_server, browser, tmp_path):
    """A BD-09 case list: points land in their grids, rows without position are listed."""
    from mapserver import crs

    store = app.extensions["store"]
    grids = store.read_grids()
    micro = grids[~grids["grid_id"].isin(set(grids["parent_id"].dropna()))].iloc[0]  # a leaf
    inside = micro.geometry.representative_point()
    lon, lat = (float(v[0]) for v in crs.wgs84_to_bd09([inside.x], [inside.y]))
    path = tmp_path / "病例.csv"
    path.write_text(
        "编号,经度,纬度,日期,类型\n"
        f"E1,{lon:.7f},{lat:.7f},2022-04-01,确诊\n"
        "E2,,,2022-04-01,确诊\n"
        "E3,100.0,10.0,2022-04-02,上报\n",
        encoding="utf-8",
    )
    context, page = _phone_page(browser, live_server)
    try:
        page.set_input_files("#events-upload input[type=file]", str(path))
        page.select_option("#events-upload select[name=crs]", "bd09")
        page.click("#events-upload button[type=submit]")
        page.wait_for_selector("#events-upload .result.ok", timeout=15_000)
        text = page.inner_text("#events-upload .result")
        assert "事件点: 2" in text and "落入网格: 1" in text and "网格外事件: 1" in text
        # E2, the second data row, is line 3 of the spreadsheet (the header is line 1)
        assert "无坐标而跳过的行: 1" in text and "第 3 行" in text
        _no_horizontal_overflow(page)
    finally:
        context.close()
    joined = {e["event_id"]: e["grid_id"] for e in store.read_events().to_dict("records")}
    assert joined["E1"] == micro["grid_id"] and pd.isna(joined["E3"])
