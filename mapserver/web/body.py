"""What a request carries, read one way by every view: its JSON body, an uploaded file."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import request

from mapserver.errors import ValidationError


def json_object(*, required: bool = False) -> dict:
    """The request's JSON body as an object: ``{}`` when there is none (a refusal when
    ``required``), and a refusal naming the body when it is JSON but not an object."""
    body = request.get_json(silent=True)
    if body is None and not required:
        return {}
    if not isinstance(body, dict):
        raise ValidationError.for_request(None, "body must be a JSON object")
    return body


@contextmanager
def uploaded_file(field: str = "file") -> Iterator[tuple[Path, str]]:
    """The uploaded file of ``field`` saved in a private temporary folder, as (path, the
    name the user gave). The saved name keeps the user's name and suffix (Chinese names
    too: readers detect layers and encodings by them) without folders, shortened; the
    folder and file are removed afterwards. No file is a refusal naming the field."""
    upload = request.files.get(field)
    if upload is None or not upload.filename:
        raise ValidationError.for_request(field, "no file uploaded")
    given = Path(upload.filename.replace("\\", "/")).name.replace("\x00", "")
    stem, suffix = Path(given).stem[:60], Path(given).suffix[:16]  # under 255 bytes in UTF-8
    name = f"{stem}{suffix}" if stem.strip(".") else f"upload{suffix}"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        upload.save(path)
        yield path, upload.filename
