"""Reading event tables: columns, CRS, row issues that skip, file errors that stop."""

from __future__ import annotations

import pandas as pd
import pytest

from mapserver import crs
from mapserver.errors import ValidationError
from mapserver.io.events import events_from_table, parse_time, read_events

WGS = [(120.1701, 30.2802), (120.1755, 30.2851), (120.1802, 30.2903)]


def _csv(tmp_path, rows: list[dict], name: str = "cases.csv"):
    path = tmp_path / name
    pd.DataFrame(rows).to_csv(path, index=False, encoding="utf-8-sig")
    return path


def test_chinese_headers_map_to_event_fields_and_extras_stay(tmp_path):
    path = _csv(
        tmp_path,
        [
            {
                "编号": "A-1",
                "发生时间": "2022年4月2日",
                "类型": "确诊",
                "名称": "朝晖一区",
                "地址": "朝晖路1号",
                "经度": WGS[0][0],
                "纬度": WGS[0][1],
                "备注": "首例",
            },
            {
                "编号": "A-2",
                "发生时间": "2022/4/3 14:20",
                "类型": "无症状",
                "名称": None,
                "地址": None,
                "经度": WGS[1][0],
                "纬度": WGS[1][1],
                "备注": None,
            },
        ],
    )
    table = read_events(path)
    assert table.fields == {
        "event_id": "编号",
        "occurred_at": "发生时间",
        "kind": "类型",
        "name": "名称",
        "address": "地址",
    }
    p = table.points
    assert p["event_id"].tolist() == ["A-1", "A-2"]
    assert p["occurred_at"].tolist() == ["2022-04-02", "2022-04-03T14:20:00"]
    assert p["day"].tolist() == ["2022-04-02", "2022-04-03"]
    assert p["kind"].tolist() == ["确诊", "无症状"]
    assert p.at[0, "name"] == "朝晖一区" and pd.isna(p.at[1, "name"])
    assert p["properties"].tolist() == [{"备注": "首例"}, {}]
    assert p.crs.to_epsg() == 4326
    assert (p.geometry.x.round(7).tolist(), p.geometry.y.round(7).tolist()) == (
        [WGS[0][0], WGS[1][0]],
        [WGS[0][1], WGS[1][1]],
    )
    assert table.issues == []


@pytest.mark.parametrize(
    ("source", "forward"), [("gcj02", crs.wgs84_to_gcj02), ("bd09", crs.wgs84_to_bd09)]
)
def test_shifted_coordinates_come_back_to_wgs84(tmp_path, source, forward):
    lon, lat = forward([x for x, _ in WGS], [y for _, y in WGS])
    rows = [{"lng": x, "lat": y} for x, y in zip(lon, lat, strict=True)]
    table = read_events(_csv(tmp_path, rows), source_crs=source)
    for point, (x, y) in zip(table.points.geometry, WGS, strict=True):
        assert point.x == pytest.approx(x, abs=1e-7)
        assert point.y == pytest.approx(y, abs=1e-7)
    # and the raw numbers are hundreds of metres off
    assert abs(lon[0] - WGS[0][0]) > 0.003


def test_rows_without_usable_coordinates_are_skipped_and_named(tmp_path):
    rows = [
        {"name": "好", "lon": WGS[0][0], "lat": WGS[0][1]},
        {"name": "空", "lon": None, "lat": None},
        {"name": "字", "lon": "东经120", "lat": "30.1"},
        {"name": "投影", "lon": 500123.0, "lat": 3350000.0},
        {"name": "零", "lon": 0, "lat": 0},
        {"name": "好二", "lon": WGS[1][0], "lat": WGS[1][1]},
    ]
    table = read_events(_csv(tmp_path, rows))
    assert table.points["name"].tolist() == ["好", "好二"]
    assert table.points["row"].tolist() == [1, 6]
    assert table.skipped == 4
    by_row = {i.row: i for i in table.issues}
    assert sorted(by_row) == [2, 3, 4, 5]
    assert all(i.file == "cases.csv" and i.field == "lon/lat" for i in table.issues)
    assert by_row[2].reason == "no coordinates"
    assert "not numbers" in by_row[3].reason
    assert "--crs" in by_row[4].reason
    assert "0, 0" in by_row[5].reason


def test_a_projected_crs_takes_metre_coordinates(tmp_path):
    rows = [{"x": 500_000.0, "y": 3_350_000.0}]
    table = read_events(_csv(tmp_path, rows), source_crs="EPSG:4549")
    point = table.points.geometry.iloc[0]
    assert point.x == pytest.approx(120.0, abs=1e-6)
    assert 30.2 < point.y < 30.3


def test_a_bad_date_is_left_blank_and_listed(tmp_path):
    rows = [
        {"日期": "上周", "lon": WGS[0][0], "lat": WGS[0][1]},
        {"日期": "20220405", "lon": WGS[1][0], "lat": WGS[1][1]},
    ]
    table = read_events(_csv(tmp_path, rows))
    assert table.points["day"].tolist()[1] == "2022-04-05"
    assert pd.isna(table.points["day"].tolist()[0])
    assert len(table.points) == 2
    (issue,) = table.issues
    assert (issue.row, issue.field) == (1, "日期")
    assert "上周" in issue.reason


def test_whole_file_problems_reject_it(tmp_path):
    with pytest.raises(ValidationError) as err:
        read_events(_csv(tmp_path, [{"名称": "无坐标", "地址": "某路"}]))
    assert err.value.issues[0].field == "lon/lat"
    assert "no coordinate columns" in err.value.issues[0].reason
    rows = [
        {"id": "1", "lon": WGS[0][0], "lat": WGS[0][1]},
        {"id": "2", "lon": WGS[1][0], "lat": WGS[1][1]},
        {"id": "1", "lon": WGS[2][0], "lat": WGS[2][1]},
    ]
    with pytest.raises(ValidationError) as err:
        read_events(_csv(tmp_path, rows, "dup.csv"))
    (issue,) = err.value.issues
    assert (issue.file, issue.row, issue.field) == ("dup.csv", 3, "id")
    assert "first at row 1" in issue.reason
    with pytest.raises(ValidationError) as err:
        read_events(_csv(tmp_path, rows[:2], "crs.csv"), source_crs="EPSG:999999")
    assert err.value.issues[0].field == "crs"


def test_ids_from_content_are_stable_when_rows_move():
    rows = pd.DataFrame(
        {"name": ["甲", "乙", "甲"], "lon": ["120.17", "120.18", "120.17"], "lat": ["30.28"] * 3}
    )
    first = events_from_table(rows, file="a.csv").points["event_id"].tolist()
    assert first[0] != first[1] and first[2] == f"{first[0]}-2"  # the same row twice
    moved = events_from_table(rows.iloc[[1, 0]].reset_index(drop=True), file="b.csv")
    assert moved.points["event_id"].tolist() == [first[1], first[0]]


def test_xlsx_is_read_like_csv(tmp_path):
    path = tmp_path / "cases.xlsx"
    pd.DataFrame({"事件编号": ["X1"], "经度": [WGS[0][0]], "纬度": [WGS[0][1]]}).to_excel(
        path, index=False
    )
    table = read_events(path)
    assert table.points["event_id"].tolist() == ["X1"]


def test_parse_time_formats():
    assert parse_time("2022-03-05").strftime("%Y-%m-%d") == "2022-03-05"
    assert parse_time("2022年3月5日 8时30分").strftime("%H:%M") == "08:30"
    assert parse_time("not a date") is None
    assert parse_time(None) is None
    assert parse_time("1066-10-14") is None
