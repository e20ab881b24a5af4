"""The audit page for admins: filters (who, kind, entity, dates) and a CSV export."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    g,
    render_template,
    request,
    url_for,
)

from mapserver.store import audit
from mapserver.web import i18n
from mapserver.web.access import require

bp = Blueprint("audit", __name__)

PAGE_ROWS = 200
CSV_COLUMNS: tuple[str, ...] = audit.COLUMNS
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _filter() -> audit.AuditFilter:
    """The filter of the request's query (``who``, ``kind``, ``entity``, ``from``, ``to``)."""
    args = request.args
    return audit.AuditFilter(
        actor=args.get("who", "").strip() or None,
        kind=args.get("kind", "").strip() or None,
        entity=args.get("entity", "").strip() or None,
        since=args.get("from", "").strip() or None,
        until=args.get("to", "").strip() or None,
    )


def _cell(value: object) -> str:
    """A CSV cell: JSON for structures; text that a spreadsheet would run as a formula
    is prefixed with an apostrophe."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def csv_lines(rows: Iterable[dict]) -> Iterator[str]:
    """The CSV text of audit rows, line by line: a UTF-8 BOM (Excel reads Chinese), a
    header, then one line per row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    yield "\ufeff" + buffer.getvalue()
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([_cell(row[c]) for c in CSV_COLUMNS])
        yield buffer.getvalue()


def in_words(value: object, lang: str) -> str:
    """An audit row's old or new value as a reader reads it: each key by its label in the
    translation table (``audit_key_*``, else the field's label), each known value too
    (``audit_value_*``, roles), lists joined, nothing left as JSON."""

    def word(text: str, prefix: str) -> str:
        for key in (f"{prefix}{text}", f"role_{text}"):
            if key in i18n.STRINGS:
                return i18n.translate(key, lang)
        return text

    if value is None:
        return ""
    if isinstance(value, bool):
        return i18n.translate("yes" if value else "no", lang)
    if isinstance(value, dict):
        parts = []
        for key, inner in value.items():
            label = next(
                (i18n.translate(k, lang)
                 for k in (f"audit_key_{key}", f"layer_{key}", f"field_{key}")
                 if k in i18n.STRINGS),
                key,
            )  # fmt: skip
            parts.append(f"{label}：{in_words(inner, lang)}")
        return "；".join(parts)
    if isinstance(value, list | tuple):
        return "、".join(in_words(v, lang) for v in value)
    if isinstance(value, str):
        return word(value, "audit_value_")
    return str(value)


@bp.get("/audit")
@require("audit.read")
def audit_page():
    """The latest audit rows matching the filters, newest first, with a link to older ones."""
    log = current_app.extensions["auditlog"]
    where = _filter()
    before = request.args.get("before", type=int)
    error = None
    try:
        rows = log.page(where, limit=PAGE_ROWS, before=before)
    except ValueError:
        rows = []
        bad = [args for args in (request.args.get("from"), request.args.get("to")) if args]
        error = i18n.translate("audit_bad_date", g.lang).format(value="、".join(bad))
    older = None
    if len(rows) == PAGE_ROWS:
        older = url_for(
            "audit.audit_page",
            **{k: v for k, v in request.args.items() if k != "before"},
            before=rows[-1]["seq"],
        )
    export = url_for("audit.audit_csv", **{k: v for k, v in request.args.items() if k != "before"})
    kinds = [(k, i18n.translate(f"audit_kind_{k}", g.lang)) for k in audit.KINDS]
    for row in rows:  # the details in words, not JSON
        row["old_words"] = in_words(row["old"], g.lang)
        row["new_words"] = in_words(row["new"], g.lang)
    return render_template(
        "audit.html",
        rows=rows,
        where=request.args,
        kinds=kinds,
        error=error,
        older=older,
        export=export,
    ), (400 if error else 200)


@bp.get("/audit.csv")
@require("audit.read")
def audit_csv():
    """Every audit row matching the filters, oldest first, as CSV (UTF-8 with BOM)."""
    log = current_app.extensions["auditlog"]
    where = _filter()
    try:
        log.check(where)  # a bad date is a 400 before the stream starts
    except ValueError as err:
        abort(400, description=str(err))
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return Response(
        csv_lines(log.rows(where)),
        mimetype="text/csv",
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="audit-{stamp}.csv"',
            "Cache-Control": "no-store",
        },
    )
