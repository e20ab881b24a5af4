"""The command map's exports on the demo: the wall map as PDF (A3: the map area drawn in
the class colours, a legend with the API's counts, a scale bar) and PNG, the panel's table
as JSON and XLSX, the offline HTML map opened from disk in Chromium with the network cut,
and ``mapserver print``."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from openpyxl import load_workbook
from PIL import Image
from pypdf import PdfReader

MM_TO_PT = 72 / 25.4


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def _pdf_fills(page) -> set[tuple[int, int, int]]:
    data = page.get_contents().get_data().decode("latin-1")
    found = set()
    for r, g, b in re.findall(r"([\d.]+) ([\d.]+) ([\d.]+) rg", data):
        found.add(tuple(round(float(v) * 255) for v in (r, g, b)))
    return found


def test_a3_pdf_has_the_map_legend_counts_and_scale_bar(viewer):
    measure = viewer.get("/api/measure?level=big").get_json()
    answer = viewer.get("/api/print?level=big&paper=A3")
    assert answer.status_code == 200
    assert answer.mimetype == "application/pdf"
    assert "attachment" in answer.headers["Content-Disposition"]
    page = PdfReader(io.BytesIO(answer.data)).pages[0]
    size = sorted([float(page.mediabox.width), float(page.mediabox.height)])
    assert size == pytest.approx([297 * MM_TO_PT, 420 * MM_TO_PT], abs=1)
    text = page.extract_text()
    # the legend: every class's grid count, as the API counts them
    for row in measure["classes"]:
        assert f"{row['grids']} 个网格" in text
    assert "大网格" in text and "截至" in text
    # the scale bar: a round length in metres or kilometres
    assert re.search(r"\b\d+(\.\d+)? (米|公里)", text)
    assert "北" in text  # the north arrow's letter
    # the map area is drawn: the fills of every class that holds grids
    fills = _pdf_fills(page)
    for row in measure["classes"]:
        if row["grids"]:
            assert _rgb(row["colour"]) in fills
    # labels: the top-ranked grid's name is printed on the map
    assert measure["ranking"][0]["name"] in text


def test_png_wall_map_is_not_blank(viewer):
    measure = viewer.get("/api/measure?level=community").get_json()
    answer = viewer.get("/api/print?level=community&paper=A4&format=png")
    assert answer.status_code == 200 and answer.mimetype == "image/png"
    image = np.asarray(Image.open(io.BytesIO(answer.data)).convert("RGB"))
    height, width, _ = image.shape
    assert width > height  # the demo district is wider than tall: landscape
    map_area = image[int(height * 0.15) : int(height * 0.9), : int(width * 0.72)]
    painted = np.zeros(map_area.shape[:2], dtype=bool)
    for row in measure["classes"]:
        if row["grids"]:
            painted |= np.abs(map_area.astype(int) - _rgb(row["colour"])).sum(axis=2) < 12
    assert painted.mean() > 0.1  # a tenth of the map area in the class colours at least


def test_print_refuses_unknown_paper_and_needs_a_login(client, viewer):
    bad = viewer.get("/api/print?paper=B5")
    assert bad.status_code == 400
    assert bad.get_json()["issues"][0]["field"] == "paper"
    assert viewer.get("/api/print?format=svg").status_code == 400
    assert client.get("/api/print").status_code == 401


def test_table_rows_and_xlsx_agree_with_the_counts(viewer):
    table = viewer.get("/api/table?level=big").get_json()
    grids = viewer.get("/api/grids?level=big").get_json()["features"]
    assert len(table["rows"]) == len(grids)
    values = [r["value"] for r in table["rows"]]
    assert values == sorted(values, reverse=True)
    by_id = {f["properties"]["id"]: f["properties"] for f in grids}
    for row in table["rows"]:
        props = by_id[row["id"]]
        assert row["households"] == props["households"]
        assert row["counts"] == {k: v for k, v in props["counts"].items() if v}
    book = viewer.get("/api/table.xlsx?level=big")
    assert book.status_code == 200
    sheet = load_workbook(io.BytesIO(book.data)).active
    lines = list(sheet.iter_rows(values_only=True))
    assert lines[1][:5] == ("网格", "网格编号", "所选状态户数", "总户数", "总人数")
    body = lines[2:]
    assert [line[1] for line in body] == [r["id"] for r in table["rows"]]
    assert [line[3] for line in body] == [r["households"] for r in table["rows"]]


def test_offline_html_export_opens_from_disk_with_the_network_cut(viewer, browser, tmp_path):
    answer = viewer.get("/api/export/map.html?level=big")
    assert answer.status_code == 200
    page_text = answer.data.decode("utf-8")
    # every script and style is inline: nothing to fetch from a CDN or our server
    assert re.search(r"<(script|link)\b[^>]*\b(src|href)=", page_text) is None
    path = tmp_path / "map.html"
    path.write_bytes(answer.data)
    grids = viewer.get("/api/grids?level=big").get_json()["features"]
    context = browser.new_context(viewport={"width": 1200, "height": 800}, offline=True)
    asked: list[str] = []

    def _route(route):
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            asked.append(route.request.url)
            route.abort()

    context.route("**/*", _route)
    page = context.new_page()
    try:
        page.goto(path.as_uri())
        page.wait_for_function(
            f"document.querySelectorAll('path.leaflet-interactive').length >= {len(grids)}",
            timeout=10_000,
        )
        assert page.locator(".grid-label").count() == len(grids)
        assert page.locator("#legend").inner_text().count("个网格") >= 2
        assert asked == []  # nothing asked of any network
    finally:
        context.close()


def test_cli_print_writes_pdf_png_and_html(demo_db_url, tmp_path, monkeypatch, capsys):
    from mapserver.cli import main

    monkeypatch.setenv("DATABASE_URL", demo_db_url)
    for name in ("wall.pdf", "wall.png", "wall.html"):
        out = tmp_path / name
        assert main(["print", str(out), "--level", "community", "--paper", "A4"]) == 0
        assert out.stat().st_size > 10_000
    assert (tmp_path / "wall.pdf").read_bytes().startswith(b"%PDF")
    assert (tmp_path / "wall.png").read_bytes().startswith(b"\x89PNG")
    assert main(["print", str(tmp_path / "wall.svg")]) == 2
    assert main(["print", str(tmp_path / "x.pdf"), "--level", "nowhere"]) == 2
    assert "无此层级" in capsys.readouterr().err
