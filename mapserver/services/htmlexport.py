"""The command map of a level (or a grid's children) as one self-contained HTML file that
opens from disk with no network and no server: folium draws it, and Leaflet's script and
style are inlined from the installed xstatic-leaflet package (no CDN). No Flask here."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from datetime import datetime

import folium
import shapely

from mapserver.config import leaflet_dir
from mapserver.model import DISTRICT_TZ, LEVEL_LABELS
from mapserver.services.mapview import MapView
from mapserver.services.measures import grid_colour, measured_grids
from mapserver.services.wallprint import MEASURE_KEYS, WITHHELD_COLOUR, format_value
from mapserver.status.measures import ZERO_COLOUR

LABELLED_UP_TO = 120  # grids drawn with a name label (more: names on hover only)
SIMPLIFY_DEG = 0.00001  # about a metre: the file stays small, the shapes stay true
_EXTERNAL = re.compile(r"""<(?:script|link)\b[^>]*(?:src|href)=["'](?:https?:)?//""", re.I)


def _inline(page: str) -> str:
    """Replace the Leaflet placeholders with the package's script and style."""
    base = leaflet_dir()
    script = (base / "leaflet.js").read_text(encoding="utf-8").replace("</script", "<\\/script")
    style = (base / "leaflet.css").read_text(encoding="utf-8")
    page = re.sub(
        r'<script src="inline:leaflet.js"></script>', lambda _: f"<script>{script}</script>", page
    )
    page = re.sub(
        r'<link rel="stylesheet" href="inline:leaflet.css"/?>',
        lambda _: f"<style>{style}</style>",
        page,
    )
    if "inline:" in page or _EXTERNAL.search(page):
        msg = "the exported page would still load a file from elsewhere"
        raise RuntimeError(msg)
    return page


def _legend_html(found: dict, measure: str, title: str, t: Callable[[str], str]) -> str:
    rows = []
    for row in reversed(found["classes"]):
        low = format_value(row["above"], measure)
        high = format_value(row["upto"], measure)
        rows.append((row["colour"], f"&gt;{low} – {high}", row["grids"]))
    rows.append((ZERO_COLOUR, "0", found["zero"]["grids"]))
    body = "".join(
        f'<tr><td><i style="display:inline-block;width:18px;height:12px;background:{c};'
        f'border:1px solid #555"></i></td><td>{label}</td><td style="text-align:right">'
        f"{n} {html.escape(t('grids_unit'))}</td></tr>"
        for c, label, n in rows
    )
    return (
        '<div id="legend" style="position:fixed;right:10px;bottom:24px;z-index:1000;'
        "background:#fff;padding:8px 10px;border:1px solid #999;border-radius:4px;"
        'font:13px/1.4 sans-serif;max-width:45vw">'
        f"<strong>{html.escape(title)}</strong><table>{body}</table></div>"
    )


def offline_map(
    view: MapView,
    t: Callable[[str], str],
    *,
    lang: str = "zh",
    moment: datetime | None = None,
    area: set[str] | None = None,
    **options: object,
) -> str:
    """One HTML page with the grids of a level (or a grid's children) coloured as the
    command map colours them by a measure (``options``: the keyword arguments of
    :func:`mapserver.services.measures.level_measure`), with names, values and a legend;
    it needs nothing but a browser. ``moment``: the time the data stands at (now when
    None), printed under the title."""
    found, level, ids = measured_grids(view, area=area, **options)
    parent_id = options.get("parent_id")
    measure = str(found["measure"])
    grids = view.layers().grids.loc[ids]
    features = []
    for gid, geom in zip(
        ids, shapely.simplify(grids.geometry.to_numpy(), SIMPLIFY_DEG), strict=True
    ):
        value = found["grids"][gid][0]
        colour = grid_colour(found, gid, WITHHELD_COLOUR)
        features.append(
            {
                "type": "Feature",
                "geometry": shapely.geometry.mapping(geom),
                "properties": {
                    "id": gid,
                    "name": str(grids.at[gid, "name"] or gid),
                    "value": "—" if value is None else format_value(value, measure),
                    "colour": colour,
                },
            }
        )
    collection = {"type": "FeatureCollection", "features": features}
    minx, miny, maxx, maxy = grids.total_bounds
    fmap = folium.Map(tiles=None, control_scale=True, prefer_canvas=False)
    fmap.default_js = [("leaflet", "inline:leaflet.js")]
    fmap.default_css = [("leaflet_css", "inline:leaflet.css")]
    fmap.fit_bounds([[miny, minx], [maxy, maxx]])
    label = t(MEASURE_KEYS[measure])
    folium.GeoJson(
        collection,
        name=t("grids"),
        style_function=lambda f: {
            "fillColor": f["properties"]["colour"],
            "fillOpacity": 0.85,
            "color": "#333",
            "weight": 1,
        },
        tooltip=folium.GeoJsonTooltip(fields=["name", "value"], aliases=[t("grid"), label]),
    ).add_to(fmap)
    if len(features) <= LABELLED_UP_TO:
        for feature, point in zip(
            features, shapely.point_on_surface(grids.geometry.to_numpy()), strict=True
        ):
            p = feature["properties"]
            folium.Marker(
                [point.y, point.x],
                icon=folium.DivIcon(
                    html=(
                        '<div class="grid-label" style="font:12px sans-serif;text-align:center;'
                        "transform:translate(-50%,-50%);white-space:nowrap;"
                        'text-shadow:0 0 3px #fff,0 0 3px #fff">'
                        f"{html.escape(p['name'])}<br><b>{html.escape(p['value'])}</b></div>"
                    ),
                    icon_size=(0, 0),
                ),
            ).add_to(fmap)
    where = (
        str(view.layers().grids.at[parent_id, "name"])
        if parent_id is not None
        else LEVEL_LABELS.get(level or "", {}).get(lang, level or "")
    )
    when = (moment or datetime.now(DISTRICT_TZ)).astimezone(DISTRICT_TZ)
    title = f"{t('app_title')} · {where}"
    header = (
        '<div id="title" style="position:fixed;left:50px;top:10px;z-index:1000;background:#fff;'
        'padding:6px 10px;border:1px solid #999;border-radius:4px;font:14px sans-serif">'
        f"<strong>{html.escape(title)}</strong><br>{html.escape(t('as_of'))} "
        f"{when:%Y-%m-%d %H:%M}</div>"
    )
    fmap.get_root().header.add_child(folium.Element(f"<title>{html.escape(title)}</title>"))
    fmap.get_root().html.add_child(folium.Element(header))
    fmap.get_root().html.add_child(folium.Element(_legend_html(found, measure, label, t)))
    fmap.get_root().html.add_child(
        folium.Element(
            f'<script type="application/json" id="grid-count">{json.dumps(len(features))}</script>'
        )
    )
    page = fmap.get_root().render()
    return _inline(page).replace("<html>", f'<html lang="{"zh-CN" if lang == "zh" else "en"}">', 1)
