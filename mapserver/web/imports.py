"""Data import over HTTP: preview a file's columns, map them, check (dry run), import."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from urllib.parse import quote

from flask import Blueprint, current_app, g, jsonify, request
from werkzeug.utils import secure_filename

from mapserver import params
from mapserver.errors import ValidationError
from mapserver.io.mapping import ColumnMapping, parse_mapping
from mapserver.services import statusio
from mapserver.services.importpreview import preview_file
from mapserver.web.access import check
from mapserver.web.auth import write_access
from mapserver.web.body import uploaded_file

bp = Blueprint("imports", __name__, url_prefix="/api")


@bp.get("/templates/<layer>.csv")
def template(layer: str):
    """A blank table to fill in for ``layer`` (status, households, buildings, events):
    Chinese headings the import reads and one example row."""
    from flask import Response

    from mapserver.io.templates import TEMPLATES, template_csv

    if layer not in TEMPLATES:
        raise ValidationError.for_request(
            "layer", f"'{layer}' is not one of {', '.join(TEMPLATES)}"
        )
    scheme = current_app.extensions["mapview"].scheme
    calm = min(scheme.codes, key=lambda c: c.severity)  # the example row's status
    text = template_csv(layer, status_label=calm.label_zh)
    names = {"status": "状态表", "households": "住户表", "buildings": "楼栋表", "events": "事件表"}
    return Response(
        text.encode("utf-8"),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="template-{layer}.csv"; '
            f"filename*=UTF-8''{quote(names[layer])}.csv"
        },
    )


def _store():
    return current_app.extensions["store"]


def _records():
    return current_app.extensions["imports"]


def _admin_reads() -> None:
    """Reading import records needs the import right (an admin login or token)."""
    check("import")


def _flag(name: str) -> bool:
    """A yes/no form field."""
    return params.flag(request.form.get(name))


def _mapping(key: str) -> ColumnMapping:
    """The column mapping of one uploaded file: a saved one by name, then the given one.

    ``map_<key>`` is JSON (``{"columns": {...}, "constants": {...}}``) or the
    command line's ``field=column,...`` text; ``level_<key>`` sets the level.
    """
    mapping = ColumnMapping()
    saved = request.form.get(f"mapping_{key}") or request.form.get("mapping")
    if saved:
        mapping = _records().mapping(saved)
    raw = request.form.get(f"map_{key}") or request.form.get("map")
    if raw:
        try:
            given = ColumnMapping.from_dict(json.loads(raw))
        except (ValueError, AttributeError):
            given = parse_mapping(raw, source=f"map_{key}")
        mapping = mapping.merged(given)
    level = request.form.get(f"level_{key}") or request.form.get("level")
    if level:
        mapping = mapping.merged(ColumnMapping(constants={"level": level}))
    return mapping


@bp.post("/import")
@write_access(capability="import")
def import_layers():
    """Import layer files; all files or nothing. Merges by id unless ``replace`` is set.

    With ``dry_run`` nothing is written and the answer says what would change
    (``plan``: per layer added, updated, deleted and the first deleted ids).
    """
    files = {key: f for key, f in request.files.items() if f and f.filename}
    if not files:
        raise ValidationError.for_request("file", "no file uploaded")
    save_as = (request.form.get("save_mapping") or "").strip()
    if save_as and len(files) != 1:
        reason = "a mapping is saved from one file at a time"
        raise ValidationError.for_request("save_mapping", reason)
    with tempfile.TemporaryDirectory() as tmp:
        paths, hints, mappings = {}, {}, {}
        for index, (key, upload) in enumerate(files.items()):
            folder = Path(tmp) / str(index)  # one folder per upload: equal names cannot clash
            folder.mkdir()
            path = folder / (secure_filename(upload.filename) or key)
            upload.save(path)
            paths[path] = upload.filename
            hints[path] = request.form.get(f"layer_{key}") or request.form.get("layer")
            mappings[path] = _mapping(key)
        counts = statusio.import_files(
            _store(),
            current_app.extensions["mapview"],
            paths,
            layer_hint=hints,
            mappings=mappings,
            source_crs=request.form.get("crs") or None,
            encoding=request.form.get("encoding") or None,
            repair=_flag("repair"),
            parent_by=request.form.get("parent_by") or None,
            replace=_flag("replace"),
            dry_run=_flag("dry_run"),
            user=g.user,
        )
        if save_as and not counts["dry_run"]:
            (path,) = paths
            layer = hints[path] or statusio.detect_layer(Path(paths[path]))
            _records().save_mapping(save_as, layer, mappings[path], user=g.user.username)
            counts["saved_mapping"] = save_as
    return jsonify(imported=counts)


@bp.post("/import/preview")
@write_access(capability="import")
def import_preview():
    """One file's columns, its first rows, the layer guessed and the mapping suggested."""
    with uploaded_file() as (path, _given):
        found = preview_file(
            path,
            layer=request.form.get("layer") or None,
            encoding=request.form.get("encoding") or None,
        )
    found["saved_mappings"] = _records().mappings()
    return jsonify(found)


@bp.get("/import/mappings")
def import_mappings():
    """The saved column mappings."""
    _admin_reads()
    return jsonify(mappings=_records().mappings())


@bp.get("/import/log")
def import_log():
    """The latest imports: who, when, which files, merge or replace, rows per layer."""
    _admin_reads()
    return jsonify(imports=_records().recent())
