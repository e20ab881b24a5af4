"""Tests for mapserver.status.scheme: shipped schemes, lookups and validation errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mapserver.errors import ValidationError
from mapserver.status.scheme import list_schemes, load_scheme, scheme_from_dict


def test_all_shipped_schemes_load():
    names = list_schemes()
    assert {"hongkou6", "area3", "hangzhou4"} <= set(names)
    for name in names:
        scheme = load_scheme(name)
        assert scheme.name == name
        assert scheme.description


def test_hongkou6_is_six_colours_in_stated_severity_order():
    s = load_scheme("hongkou6")
    assert s.kind == "status"
    worst = [c.code for c in s.codes_worst_first()]
    assert worst == ["red", "yellow", "grey", "blue", "green", "black"]
    colours = [c.colour for c in s.codes]
    assert len(set(colours)) == 6
    assert s.none_colour not in colours
    assert s.colour("grey") != s.none_colour


def test_area3_and_hangzhou4():
    a = load_scheme("area3")
    assert a.kind == "area_class"
    assert [c.code for c in a.codes_worst_first()] == ["sealed", "controlled", "precaution"]
    assert a.label("sealed", "zh") == "封控区"
    assert a.label(None, "zh") == "无"
    h = load_scheme("hangzhou4")
    assert [c.code for c in h.codes_worst_first()] == ["red", "orange", "yellow", "green"]


def test_lookups_fall_back_to_none():
    s = load_scheme("hongkou6")
    assert s.colour("red") == "#d62728"
    assert s.colour(None) == s.none_colour == "#cccccc"
    assert s.colour("purple") == s.none_colour
    assert s.severity("red") > s.severity("yellow") > s.severity("black") > s.severity(None)
    assert s.label("blue", "en") == "Away, not yet returned"
    assert s.label("nope", "en") == "No status recorded"
    with pytest.raises(ValueError, match="language 'fr'"):
        s.label("red", "fr")


def test_to_dict_round_trips_and_orders_worst_first():
    s = load_scheme("hangzhou4")
    d = s.to_dict()
    json.dumps(d)
    assert d["worst_first"] == ["red", "orange", "yellow", "green"]
    assert scheme_from_dict(d) == s


def test_unknown_name_lists_available():
    with pytest.raises(ValueError, match=r"unknown status scheme 'nope'.*hongkou6"):
        load_scheme("nope")


def _valid() -> dict:
    return load_scheme("area3").to_dict()


@pytest.mark.parametrize(
    ("edit", "field", "reason"),
    [
        (lambda d: d.pop("name"), "name", "missing"),
        (lambda d: d["codes"][1].update(code="sealed"), "codes[1].code", "appears twice"),
        (lambda d: d["codes"][0].update(colour="red"), "codes[0].colour", "#rrggbb"),
        (lambda d: d["codes"][2].update(severity="3"), "codes[2].severity", "not an integer"),
        (lambda d: d["codes"][2].update(severity=3), "codes[2].severity", "appears twice"),
        (lambda d: d["codes"][0]["label"].pop("en"), "codes[0].label.en", "missing"),
        (lambda d: d["codes"][0].update(code="none"), "codes[0].code", "reserved"),
        (lambda d: d.update(kind="colour"), "kind", "not one of"),
        (lambda d: d.pop("none"), "none", "missing"),
        (lambda d: d["none"].update(colour="#ccc"), "none.colour", "#rrggbb"),
        (lambda d: d.update(codes=[]), "codes", "empty"),
    ],
)
def test_validation_names_file_and_field(tmp_path: Path, edit, field, reason):
    data = _valid()
    edit(data)
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValidationError) as info:
        load_scheme(path)
    issue = next(i for i in info.value.issues if i.field == field)
    assert issue.file == "broken.json"
    assert reason in issue.reason
    assert f"broken.json field '{field}'" in str(info.value)


def test_bad_json_is_a_value_error(tmp_path: Path):
    path = tmp_path / "bad.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.json: not valid JSON"):
        load_scheme(str(path))


def test_reload_after_file_changes(tmp_path: Path):
    data = _valid()
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    assert load_scheme(path).colour("sealed") == "#b2182b"
    data["codes"][0]["colour"] = "#000000"
    path.write_text(json.dumps(data), encoding="utf-8")
    import os

    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert load_scheme(path).colour("sealed") == "#000000"
