"""Blank tables to fill in, one per layer a district keeps in spreadsheets: Chinese column
headings the import reads (:mod:`mapserver.io.tables`, :mod:`mapserver.io.events`) and one
example row, as UTF-8 CSV with a byte-order mark so that Excel shows the Chinese."""

from __future__ import annotations

import csv
import io

# layer -> (headings, example row); every heading is one the import recognises
TEMPLATES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "status": (
        ("户号", "状态", "人数", "更新时间"),
        ("B0001-1-0101", "{status}", "3", "2026-12-03 08:00"),
    ),
    "households": (
        ("户号", "楼栋编号", "单元", "房号", "人数"),
        ("B0001-1-0101", "B0001", "1", "0101", "3"),
    ),
    "buildings": (
        ("楼栋编号", "网格编号", "楼栋名称", "地址", "户数", "人数", "经度", "纬度"),
        (
            "B0001",
            "SD01-C01-B01-S01-M01",
            "海欣一村1号楼",
            "欧阳路1弄1号",
            "24",
            "60",
            "121.4851",
            "31.2661",
        ),
    ),
    "events": (
        ("事件编号", "发生时间", "类型", "名称", "地址", "经度", "纬度"),
        ("E0001", "2026-12-03 08:00", "病例", "海欣一村", "欧阳路1弄1号", "121.4851", "31.2661"),
    ),
}


def template_csv(layer: str, *, status_label: str = "一直在沪") -> str:
    """The blank table of ``layer`` (a key of :data:`TEMPLATES`) as CSV text with a BOM;
    ``status_label`` fills the example row's status (a label of the district's scheme)."""
    if layer not in TEMPLATES:
        msg = f"no template for layer {layer!r}; there are: {', '.join(TEMPLATES)}"
        raise ValueError(msg)
    headings, example = TEMPLATES[layer]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headings)
    writer.writerow([cell.format(status=status_label) for cell in example])
    return "\ufeff" + out.getvalue()
