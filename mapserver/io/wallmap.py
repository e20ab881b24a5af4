"""Draw a wall map (挂图) to PDF or PNG at a paper size from A4 to A0: coloured grids with
labels that do not collide, a legend with counts, a scale bar, a north arrow, a title and
the time the data stands at. Pure drawing on matplotlib's object API (no pyplot, so it is
safe in a web worker's threads); every word it prints comes in from the caller, already
translated.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field, replace

import geopandas as gpd
import numpy as np
from matplotlib import font_manager, rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection, PatchCollection
from matplotlib.figure import Figure
from matplotlib.patches import PathPatch, Rectangle
from matplotlib.path import Path
from shapely.geometry.base import BaseGeometry

from mapserver.crs import metric_crs

PAPERS_MM: dict[str, tuple[float, float]] = {  # short side, long side
    "A4": (210.0, 297.0),
    "A3": (297.0, 420.0),
    "A2": (420.0, 594.0),
    "A1": (594.0, 841.0),
    "A0": (841.0, 1189.0),
}
FORMATS = ("pdf", "png")
PNG_DPI = {"A4": 200, "A3": 150, "A2": 120, "A1": 100, "A0": 72}  # about 5–25 megapixels
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK JP", "WenQuanYi Zen Hei", "Source Han Sans SC")
EDGE = "#3a3a3a"
MM_PER_INCH = 25.4


@dataclass(frozen=True)
class LegendRow:
    """One legend line: a colour box and its words (e.g. "3 – 7 户" and "12 个网格")."""

    colour: str
    label: str
    count: str


@dataclass(frozen=True)
class WallText:
    """The words of a wall map, translated by the caller."""

    title: str
    subtitle: str
    legend_title: str
    north: str = "北"
    metres: str = "米"
    kilometres: str = "公里"
    footer: str = ""
    notes: list[str] = field(default_factory=list)


def font_families() -> list[str]:
    """The installed CJK font to print Chinese with (first found), then matplotlib's own."""
    installed = {entry.name for entry in font_manager.fontManager.ttflist}
    return [*[name for name in CJK_FONTS if name in installed][:1], "DejaVu Sans"]


def _ring_path(coords: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    codes = np.full(len(coords), Path.LINETO, dtype=np.uint8)
    codes[0] = Path.MOVETO
    codes[-1] = Path.CLOSEPOLY
    return coords[:, :2], codes


def geometry_path(geom: BaseGeometry) -> Path | None:
    """A matplotlib path of a polygon or multipolygon (holes kept), None for other kinds."""
    parts = getattr(geom, "geoms", [geom])
    verts: list[np.ndarray] = []
    codes: list[np.ndarray] = []
    for part in parts:
        if part.geom_type != "Polygon" or part.is_empty:
            continue
        for ring in (part.exterior, *part.interiors):
            xy, code = _ring_path(np.asarray(ring.coords))
            verts.append(xy)
            codes.append(code)
    if not verts:
        return None
    return Path(np.concatenate(verts), np.concatenate(codes))


def nice_length(span_m: float) -> float:
    """A round scale-bar length (1, 2 or 5 × 10^k metres) near a fifth of ``span_m``."""
    target = max(span_m / 5.0, 1.0)
    power = 10 ** math.floor(math.log10(target))
    for step in (5, 2, 1):
        if step * power <= target:
            return float(step * power)
    return float(power)


def paper_inches(paper: str, landscape: bool) -> tuple[float, float]:
    """Width and height in inches of ``paper`` (A4 to A0) in the given orientation."""
    if paper not in PAPERS_MM:
        msg = f"paper {paper!r} is not one of {', '.join(PAPERS_MM)}"
        raise ValueError(msg)
    short, long = PAPERS_MM[paper]
    width, height = (long, short) if landscape else (short, long)
    return width / MM_PER_INCH, height / MM_PER_INCH


def _overlaps(box, kept) -> bool:
    return any(box.overlaps(other) for other in kept)


def wrap_text(text: str, chars: int) -> str:
    """``text`` broken into lines of at most ``chars`` characters (Chinese has no spaces
    to break at; existing line breaks stay)."""
    chars = max(chars, 4)
    lines = []
    for line in text.split("\n"):
        lines.extend(line[i : i + chars] for i in range(0, max(len(line), 1), chars))
    return "\n".join(lines)


def _draw_labels(fig, ax, points, labels, order, size: float, furniture) -> int:
    """Draw the labels in ``order`` (most important first), skipping any that would
    overlap one drawn, the scale bar or north arrow (``furniture``), or leave the map;
    returns how many were drawn."""
    renderer = FigureCanvasAgg(fig).get_renderer()
    frame = ax.get_window_extent(renderer)
    kept = [artist.get_window_extent(renderer).expanded(1.1, 1.2) for artist in furniture]
    halo = {"boxstyle": "round,pad=0.15", "facecolor": "white", "alpha": 0.65, "linewidth": 0}
    for i in order:
        if not labels[i]:
            continue
        x, y = points[i]
        text = ax.text(
            x, y, labels[i], ha="center", va="center", fontsize=size, color="#111",
            bbox=halo, zorder=5,
        )  # fmt: skip
        box = text.get_window_extent(renderer).expanded(1.08, 1.15)
        inside = frame.contains(box.x0, box.y0) and frame.contains(box.x1, box.y1)
        if not inside or _overlaps(box, kept):
            text.remove()
            continue
        kept.append(box)
    return len(kept) - len(furniture)


def _draw_scale_bar(ax, span_x: float, size: float, text: WallText) -> list:
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    length = nice_length(span_x)
    height = (y1 - y0) * 0.008
    left = x0 + (x1 - x0) * 0.03
    bottom = y0 + (y1 - y0) * 0.04
    artists = []
    for k in range(4):  # four alternating segments
        artists.append(
            ax.add_patch(
                Rectangle(
                (left + k * length / 4, bottom), length / 4, height,
                facecolor="black" if k % 2 == 0 else "white", edgecolor="black",
                linewidth=size / 12, zorder=6,
                )
            )
        )  # fmt: skip
    unit = f"{length / 1000:g} {text.kilometres}" if length >= 1000 else f"{length:g} {text.metres}"
    artists.append(
        ax.text(
            left + length / 2, bottom + height * 1.8, unit, ha="center", va="bottom",
            fontsize=size, zorder=6,
        )
    )  # fmt: skip
    artists.append(
        ax.text(left, bottom - height * 0.8, "0", ha="center", va="top", fontsize=size * 0.8)
    )
    return artists


def _draw_north_arrow(ax, size: float, text: WallText) -> list:
    arrow = ax.annotate(
        "", xy=(0.95, 0.95), xytext=(0.95, 0.84), xycoords="axes fraction",
        arrowprops={"facecolor": "black", "width": size / 3, "headwidth": size * 1.2},
        zorder=6,
    )  # fmt: skip
    letter = ax.text(
        0.95, 0.82, text.north, transform=ax.transAxes, ha="center", va="top",
        fontsize=size * 1.4, fontweight="bold", zorder=6,
    )  # fmt: skip
    return [arrow, letter]


def _draw_legend(fig, rect, rows: list[LegendRow], text: WallText, size: float) -> None:
    ax = fig.add_axes(rect)
    ax.set_axis_off()
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.text(0, 1, text.legend_title, va="top", fontsize=size * 1.15, fontweight="bold", wrap=True)
    step = min(0.07, 0.8 / max(len(rows), 1))
    y = 0.9
    for row in rows:
        ax.add_patch(
            Rectangle((0, y - step * 0.75), 0.16, step * 0.7, facecolor=row.colour,
                      edgecolor=EDGE, linewidth=0.6)
        )  # fmt: skip
        ax.text(0.2, y - step * 0.4, row.label, va="center", fontsize=size)
        ax.text(1.0, y - step * 0.4, row.count, va="center", ha="right", fontsize=size)
        y -= step
    for note in text.notes:
        y -= step * 0.3
        ax.text(0, y - step * 0.4, note, va="center", fontsize=size * 0.85, color="#333")
        y -= step * 0.6


def draw_wall_map(
    grids: gpd.GeoDataFrame,
    legend: list[LegendRow],
    text: WallText,
    *,
    paper: str = "A3",
    fmt: str = "pdf",
    roads: gpd.GeoSeries | None = None,
) -> bytes:
    """The wall map of ``grids`` (EPSG:4326; columns ``colour``, ``label`` and ``rank``:
    labels are placed in rising rank, 0 first) as PDF or PNG bytes at ``paper``.

    Orientation follows the area's shape; lengths are true in the local metric CRS the map
    is drawn in (north up), so the scale bar reads right. ``roads`` (lines, EPSG:4326) are
    drawn thin over the fills for orientation."""
    if fmt not in FORMATS:
        msg = f"format {fmt!r} is not one of {', '.join(FORMATS)}"
        raise ValueError(msg)
    if not len(grids):
        msg = "no grids to print"
        raise ValueError(msg)
    crs = metric_crs(grids)
    metric = grids.to_crs(crs)
    minx, miny, maxx, maxy = metric.total_bounds
    span_x, span_y = max(maxx - minx, 1.0), max(maxy - miny, 1.0)
    landscape = span_x >= span_y
    width_in, height_in = paper_inches(paper, landscape)
    scale = min(width_in, height_in) * MM_PER_INCH / PAPERS_MM["A4"][0]  # 1 at A4
    size = 9.0 * scale
    with rc_context(
        {"font.family": font_families(), "pdf.fonttype": 42, "axes.unicode_minus": False}
    ):
        fig = Figure(figsize=(width_in, height_in))
        fig.text(0.02, 0.975, text.title, va="top", fontsize=size * 2.2, fontweight="bold")
        fig.text(0.02, 0.925, text.subtitle, va="top", fontsize=size * 1.1, color="#333")
        if text.footer:
            fig.text(0.02, 0.012, text.footer, va="bottom", fontsize=size * 0.75, color="#555")
        map_rect = [0.02, 0.05, 0.72, 0.84]
        ax = fig.add_axes(map_rect)
        ax.set_aspect("equal")
        # fit the area into the map rectangle with a margin, keeping metres square
        box_w = width_in * map_rect[2]
        box_h = height_in * map_rect[3]
        per_inch = max(span_x / box_w, span_y / box_h) * 1.06
        cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
        ax.set_xlim(cx - per_inch * box_w / 2, cx + per_inch * box_w / 2)
        ax.set_ylim(cy - per_inch * box_h / 2, cy + per_inch * box_h / 2)
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_linewidth(0.8 * scale)
        patches, colours = [], []
        for geom, colour in zip(metric.geometry, metric["colour"], strict=True):
            path = geometry_path(geom)
            if path is not None:
                patches.append(PathPatch(path))
                colours.append(colour)
        ax.add_collection(
            PatchCollection(patches, facecolors=colours, edgecolors=EDGE,
                            linewidths=0.5 * scale, zorder=2)
        )  # fmt: skip
        if roads is not None and len(roads):
            lines = roads.to_crs(crs)
            segments = [
                np.asarray(part.coords)[:, :2]
                for geom in lines
                for part in getattr(geom, "geoms", [geom])
                if part.geom_type == "LineString"
            ]
            ax.add_collection(
                LineCollection(segments, colors="#9a9a9a", linewidths=0.3 * scale,
                               alpha=0.7, zorder=3)
            )  # fmt: skip
        points = np.column_stack(
            [metric.geometry.representative_point().x, metric.geometry.representative_point().y]
        )
        order = np.argsort(metric["rank"].to_numpy(), kind="stable")
        furniture = _draw_scale_bar(ax, (ax.get_xlim()[1] - ax.get_xlim()[0]), size, text)
        furniture += _draw_north_arrow(ax, size, text)
        _draw_labels(fig, ax, points, metric["label"].tolist(), order, size * 0.8, furniture)
        legend_rect = [0.77, 0.08, 0.21, 0.8]
        chars = int(width_in * legend_rect[2] * 72 / (size * 1.15))  # CJK: about 1 em each
        text = replace(text, legend_title=wrap_text(text.legend_title, chars))
        _draw_legend(fig, legend_rect, legend, text, size)
        out = io.BytesIO()
        if fmt == "pdf":
            fig.savefig(out, format="pdf", metadata={"Title": text.title, "Creator": "mapserver"})
        else:
            FigureCanvasAgg(fig)
            fig.savefig(out, format="png", dpi=PNG_DPI[paper])
    return out.getvalue()
