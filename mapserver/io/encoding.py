"""Text encodings of uploaded files: say which one was used, never guess silently."""

from __future__ import annotations

import codecs
import struct
import zipfile
from pathlib import Path

# Tried in this order when a file does not say: UTF-8, then the Chinese national set.
TRIAL_ENCODINGS: tuple[str, ...] = ("utf-8", "gb18030")
# dBASE language driver ids (byte 29 of a .dbf header) that name an encoding.
_LDID: dict[int, str] = {0x4D: "gbk", 0x7A: "gbk", 0x57: "cp1252", 0x03: "cp1252"}


def normal_encoding(name: str) -> str:
    """A Python codec name for an encoding label (``GBK``, ``UTF8``, ``936``…).

    Raises ValueError for a label no codec knows.
    """
    label = name.strip()
    if label.isdigit():
        label = f"cp{label}"
    try:
        return codecs.lookup(label).name
    except LookupError as exc:
        msg = f"unknown text encoding '{name}' (e.g. utf-8, gbk, gb18030)"
        raise ValueError(msg) from exc


def detect_text(data: bytes) -> str:
    """The first of TRIAL_ENCODINGS that decodes ``data`` whole (``latin-1`` as last resort)."""
    for encoding in TRIAL_ENCODINGS:
        try:
            data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return encoding
    return "latin-1"


def _dbf_text(dbf: bytes) -> bytes:
    """The record bytes of a dBASE file (the part that holds attribute text)."""
    if len(dbf) < 32:
        return b""
    header_length = struct.unpack("<H", dbf[8:10])[0]
    return dbf[header_length:]


def shapefile_encoding(path: Path) -> tuple[str, str]:
    """Encoding of a Shapefile's attributes (``.shp`` or a ``.zip`` holding one).

    Returns (codec name, how it was found): the ``.cpg`` file, else the
    dBASE language driver id, else a trial of UTF-8 then GB18030 on the text.
    """
    cpg, dbf = _shapefile_parts(path)
    if cpg is not None and cpg.strip():
        label = cpg.decode("ascii", "replace").strip()
        try:
            return normal_encoding(label), f".cpg ({label})"
        except ValueError:
            pass
    if dbf is None:
        return "utf-8", "no .dbf"
    ldid = dbf[29] if len(dbf) > 29 else 0
    text = _dbf_text(dbf)
    if ldid in _LDID and _LDID[ldid] != "cp1252":
        return _LDID[ldid], f"dBASE language id 0x{ldid:02X}"
    return detect_text(text), "trial (no .cpg)"


def _shapefile_parts(path: Path) -> tuple[bytes | None, bytes | None]:
    """The ``.cpg`` and ``.dbf`` bytes beside a ``.shp`` or inside a ``.zip``."""
    if path.suffix.lower() == ".zip":
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            shp = next((n for n in names if n.lower().endswith(".shp")), None)
            if shp is None:
                return None, None
            stem = shp[:-4].lower()
            found = {n.lower(): n for n in names}
            cpg = found.get(stem + ".cpg")
            dbf = found.get(stem + ".dbf")
            return (
                archive.read(cpg) if cpg else None,
                archive.read(dbf) if dbf else None,
            )
    parts = {}
    for suffix in (".cpg", ".dbf"):
        candidates = [p for p in path.parent.glob(path.stem + ".*") if p.suffix.lower() == suffix]
        parts[suffix] = candidates[0].read_bytes() if candidates else None
    return parts[".cpg"], parts[".dbf"]
