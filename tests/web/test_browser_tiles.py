"""The command map drawn from vector tiles and a status table, in headless Chromium with the
network cut off: the canvas holds each grid's status colour, a write repaints it, a click
opens the grid's popup."""

from __future__ import annotations

import pytest
import requests

from mapserver.status.scheme import load_scheme
from tests.web.test_browser import _open_map, _pick_building

pytestmark = pytest.mark.browser

SCHEME = load_scheme("hongkou6")
COLOURS = {c.code: c.colour.lower() for c in SCHEME.codes}

PIXEL = """([lat, lon]) => {
    const map = window.msMap.map;
    const at = map.latLngToContainerPoint([lat, lon]);
    const box = map.getContainer().getBoundingClientRect();
    const x = box.left + at.x, y = box.top + at.y;
    const canvas = Array.from(document.querySelectorAll('canvas.ms-vtile')).find(c => {
        const r = c.getBoundingClientRect();
        return c.msTile && x >= r.left && x < r.right && y >= r.top && y < r.bottom
            && getComputedStyle(c).visibility !== 'hidden'
            && c.msTile.coords.z === window.msMap.gridTiles._tileZoom;
    });
    if (!canvas || !canvas.msTile) return null;
    const r = canvas.getBoundingClientRect();
    const k = canvas.width / r.width;
    const [red, green, blue, alpha] = canvas.getContext('2d')
        .getImageData(Math.floor((x - r.left) * k), Math.floor((y - r.top) * k), 1, 1).data;
    const hex = (v) => v.toString(16).padStart(2, '0');
    return {colour: '#' + hex(red) + hex(green) + hex(blue), alpha};
}"""


def _near(colour: str, expected: str) -> bool:
    a = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
    b = [int(expected[i : i + 2], 16) for i in (1, 3, 5)]
    return max(abs(x - y) for x, y in zip(a, b, strict=True)) <= 3


def test_tiled_map_paints_status_and_follows_writes(
    live_server, offline_page, admin_token, demo_layers
):
    page = offline_page
    _, leaf, households = _pick_building(demo_layers)
    grid = demo_layers["grids"].set_index("grid_id").geometry[leaf]
    inside = grid.representative_point()
    _open_map(page, live_server.url + "/?tiles=1&level=micro")
    assert page.evaluate("document.body.dataset.tiled") == "1"
    minx, miny, maxx, maxy = grid.bounds
    page.evaluate(
        "(b) => window.msMap.map.fitBounds([[b[1], b[0]], [b[3], b[2]]], {maxZoom: 18})",
        [minx, miny, maxx, maxy],
    )
    point = [inside.y, inside.x]
    page.wait_for_function(f"(p) => ({PIXEL})(p) !== null", arg=point, timeout=10_000)
    auth = {"Authorization": f"Bearer {admin_token}"}
    table = requests.get(
        f"{live_server.url}/api/status/grids?level=micro", headers=auth, timeout=10
    ).json()
    before = COLOURS.get(table["rows"][leaf][0], SCHEME.none_colour.lower())
    painted = page.evaluate(PIXEL, point)
    assert _near(painted["colour"], before) and 100 < painted["alpha"] < 180, painted
    assert before != COLOURS["red"]
    response = requests.post(
        f"{live_server.url}/api/status",
        json={"rows": [{"entity_id": h, "status": "red"} for h in households]},
        headers=auth,
        timeout=10,
    )
    assert response.status_code == 200, response.text
    page.wait_for_function(
        f"""([p, red]) => {{
            const got = ({PIXEL})(p);
            if (!got) return false;
            const d = [1, 3, 5].map(i => Math.abs(parseInt(got.colour.slice(i, i + 2), 16)
                                                  - parseInt(red.slice(i, i + 2), 16)));
            return Math.max(...d) <= 3;
        }}""",
        arg=[point, COLOURS["red"]],
        timeout=5_000,
    )
    # a click on the painted grid opens its popup (its own answer: name, counts, actions)
    box = page.evaluate(
        """([lat, lon]) => {
            const map = window.msMap.map, at = map.latLngToContainerPoint([lat, lon]);
            const r = map.getContainer().getBoundingClientRect();
            return [r.left + at.x, r.top + at.y];
        }""",
        point,
    )
    page.mouse.click(box[0], box[1])
    name = demo_layers["grids"].set_index("grid_id").at[leaf, "name"]
    page.wait_for_selector(".leaflet-popup-content .popup", timeout=5_000)
    assert name in page.inner_text(".leaflet-popup-content")
    assert not [u for u in page.blocked if "127.0.0.1" in u]
