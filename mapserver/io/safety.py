"""Untrusted files checked before any library parses them: format by content, sizes, rows.

GDAL picks a driver from a file's content, so a ``.geojson`` holding OGR VRT
XML would read any file the server can reach. Here every upload is sniffed by
us (suffix and content must agree), archives and spreadsheets are measured
before they are expanded, and GDAL's VRT and network access are switched off
for the whole process (:func:`harden_gdal`, run when ``mapserver.io`` is imported).
"""

from __future__ import annotations

import json
import os
import re
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from mapserver.errors import ValidationError, ValidationIssue

# GDAL drivers that read other files or the network on a file's say-so.
_SKIPPED_DRIVERS = (
    "OGR_VRT VRT HTTP WFS OAPIF WMS WMTS WCS CSW PLScenes EEDA NGW Elasticsearch "
    "GNMFile GNMDatabase OGCAPI STACIT STACTA DAAS"
)
_GDAL_OPTIONS = {
    "GDAL_SKIP": _SKIPPED_DRIVERS,
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".mapserver-never",
    "GDAL_HTTP_PROXY": "127.0.0.1:9",
    "GDAL_HTTP_MAX_RETRY": "0",
    "GDAL_HTTP_TIMEOUT": "1",
    "GDAL_HTTP_CONNECTTIMEOUT": "1",
    "CPL_VSIL_CURL_USE_HEAD": "NO",
}
SQLITE_MAGIC = b"SQLite format 3\x00"
# Parts a Shapefile may bring along in its zip; anything else is refused.
SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx", ".xml")
QUOTE_CHARS = 60


@dataclass(frozen=True)
class ReadLimits:
    """How much one uploaded file may hold once expanded.

    Attributes
    ----------
    max_rows
        Data rows (table rows or features) per file.
    max_expanded_bytes
        Sum of the uncompressed sizes of a zip or XLSX archive, bytes.
    max_ratio
        Largest uncompressed/compressed ratio of an archive member over 1 MB.
    """

    max_rows: int = 2_000_000
    max_expanded_bytes: int = 1 << 30
    max_ratio: float = 100.0


_LIMITS = [ReadLimits()]


def configure(limits: ReadLimits) -> None:
    """Use ``limits`` for every file read from now on in this process (set by the app)."""
    _LIMITS[0] = limits


def limits() -> ReadLimits:
    """The limits files are read under."""
    return _LIMITS[0]


def harden_gdal() -> None:
    """Switch off GDAL's VRT and network drivers and its URL access, process-wide.

    Sets the config options before GDAL registers its drivers when possible
    (environment), and again through pyogrio with the drivers re-registered,
    so the skip list holds even when pyogrio was imported first.
    """
    for key, value in _GDAL_OPTIONS.items():
        os.environ[key] = value
    import pyogrio

    pyogrio.set_gdal_config_options(_GDAL_OPTIONS)
    try:
        from pyogrio._ogr import _register_drivers
    except ImportError:  # pragma: no cover - private in pyogrio; the environment still holds
        return
    _register_drivers()


def quote(text: object, limit: int = QUOTE_CHARS) -> str:
    """``text`` cut to ``limit`` characters, for messages that must not echo a file."""
    value = str(text).replace("\n", " ")
    return value if len(value) <= limit else value[: limit - 1] + "…"


def refuse(file: str, reason: str, field: str | None = None) -> ValidationError:
    """A ValidationError about a whole file."""
    return ValidationError([ValidationIssue(file, None, field, reason)])


def check_rows(file: str, rows: int) -> None:
    """Refuse a file with more data rows than the limit allows."""
    cap = limits().max_rows
    if rows > cap:
        raise refuse(file, f"{rows:,} rows; at most {cap:,} rows per file")


def check_archive(path: Path, file: str) -> zipfile.ZipFile:
    """Open a zip (or XLSX) after checking its members' uncompressed sizes and ratios.

    Returns the open ZipFile (the caller closes it); raises ValidationError for
    a file that is not a zip, an encrypted or absolute/parent member, a total
    over ``max_expanded_bytes`` or a member over ``max_ratio``.
    """
    cap = limits()
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as err:
        raise refuse(file, "not a readable zip archive") from err
    total = 0
    for info in archive.infolist():
        name = PurePosixPath(info.filename)
        if info.flag_bits & 0x1:
            archive.close()
            raise refuse(file, f"member '{quote(info.filename)}' is encrypted")
        if name.is_absolute() or ".." in name.parts:
            archive.close()
            raise refuse(file, f"member '{quote(info.filename)}' points outside the archive")
        total += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > 1 << 20 and ratio > cap.max_ratio:
            archive.close()
            reason = (
                f"member '{quote(info.filename)}' expands {ratio:,.0f} times "
                f"(at most {cap.max_ratio:,.0f}): refused as a zip bomb"
            )
            raise refuse(file, reason)
    if total > cap.max_expanded_bytes:
        archive.close()
        reason = (
            f"expands to {total:,} bytes; at most {cap.max_expanded_bytes:,} bytes: "
            "refused as a zip bomb"
        )
        raise refuse(file, reason)
    return archive


def sniff_geojson(path: Path, file: str) -> int:
    """Check that a file is GeoJSON (JSON of a FeatureCollection, Feature or geometry).

    Returns the number of features. Raises ValidationError otherwise, quoting
    nothing of the file beyond its first characters' kind.
    """
    raw = path.read_bytes()
    if not raw[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        raise refuse(file, "not GeoJSON: the file does not start with a JSON object")
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except (ValueError, UnicodeDecodeError) as err:
        raise refuse(file, f"not GeoJSON: invalid JSON ({quote(err)})") from err
    kind = data.get("type") if isinstance(data, dict) else None
    geometries = {
        "Point",
        "LineString",
        "Polygon",
        "MultiPoint",
        "MultiLineString",
        "MultiPolygon",
        "GeometryCollection",
    }
    if kind == "FeatureCollection" and isinstance(data.get("features"), list):
        return len(data["features"])
    if kind == "Feature" or kind in geometries:
        return 1
    raise refuse(file, f"not GeoJSON: type '{quote(kind)}' is not a FeatureCollection")


def sniff_geopackage(path: Path, file: str) -> None:
    """Check that a file is a GeoPackage (an SQLite database)."""
    with path.open("rb") as handle:
        head = handle.read(len(SQLITE_MAGIC))
    if head != SQLITE_MAGIC:
        raise refuse(file, "not a GeoPackage: the file is not an SQLite database")


_DOCTYPE = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_KML_ROOT = re.compile(rb"^\s*(<\?xml[^>]*\?>\s*)?(<!--.*?-->\s*)*<(\w+:)?kml[\s>]", re.DOTALL)


def sniff_kml(path: Path, file: str) -> None:
    """Check that a file is KML: XML with a ``kml`` root, no DOCTYPE, entities or links."""
    data = path.read_bytes().removeprefix(b"\xef\xbb\xbf")
    if _DOCTYPE.search(data):
        raise refuse(file, "KML with a DOCTYPE or entities is refused")
    if not _KML_ROOT.match(data[:4096]):
        raise refuse(file, "not KML: the XML root is not <kml>")
    if re.search(rb"<(\w+:)?NetworkLink[\s>]", data):
        raise refuse(file, "KML network links are refused")


def shapefile_members(archive: zipfile.ZipFile, file: str) -> str:
    """The ``.shp`` member of a zip that holds exactly one Shapefile and nothing else."""
    names = [n for n in archive.namelist() if not n.endswith("/")]
    shps = [n for n in names if n.lower().endswith(".shp")]
    if len(shps) != 1:
        raise refuse(file, f"the zip must hold exactly one .shp file (found {len(shps)})")
    stem = shps[0][:-4]
    for name in names:
        base = PurePosixPath(name).name
        if base.startswith(".") or "__MACOSX" in name:
            continue  # Finder's resource forks: ignored by GDAL and by us
        suffix = name[len(stem) :].lower() if name.startswith(stem) else None
        if suffix not in SHAPEFILE_PARTS and not (suffix or "").endswith(".shp.xml"):
            raise refuse(file, f"the zip holds '{quote(name)}', which is not part of the Shapefile")
    found = {n.lower() for n in names}
    if (stem + ".shx").lower() not in found:
        raise refuse(file, "the zip has no .shx beside the .shp")
    return shps[0]


def check_shapefile_headers(shp_size: int, shx: bytes, shp_head: bytes, file: str) -> int:
    """Check that a Shapefile's ``.shp``/``.shx`` headers agree with the files' real sizes.

    Returns the record count. A header claiming more bytes or records than the
    files hold (a forged ``.shx``) raises ValidationError before GDAL reads it.
    """
    if len(shp_head) < 100 or len(shx) < 100:
        raise refuse(file, "the .shp or .shx is shorter than a Shapefile header")
    for name, head in ((".shp", shp_head), (".shx", shx)):
        if struct.unpack(">i", head[:4])[0] != 9994:
            raise refuse(file, f"the {name} is not a Shapefile (wrong file code)")
    shp_words = struct.unpack(">i", shp_head[24:28])[0]
    shx_words = struct.unpack(">i", shx[24:28])[0]
    if shp_words * 2 != shp_size:
        reason = f"the .shp header claims {shp_words * 2:,} bytes but the file has {shp_size:,}"
        raise refuse(file, reason)
    if shx_words * 2 != len(shx) or (len(shx) - 100) % 8:
        reason = f"the .shx header claims {shx_words * 2:,} bytes but the file has {len(shx):,}"
        raise refuse(file, reason)
    records = (len(shx) - 100) // 8
    check_rows(file, records)
    for index in range(records):
        offset, length = struct.unpack(">ii", shx[100 + 8 * index : 108 + 8 * index])
        if offset < 50 or length < 0 or (offset + 4 + length) * 2 > shp_size:
            reason = f"the .shx record {index + 1} points past the end of the .shp"
            raise refuse(file, reason)
    return records


def read_member(archive: zipfile.ZipFile, name: str, cap: int) -> bytes:
    """A zip member's bytes, never more than ``cap`` (sizes in a zip can be forged)."""
    with archive.open(name) as handle:
        data = handle.read(cap + 1)
    if len(data) > cap:
        raise refuse(Path(archive.filename or "zip").name, f"member '{quote(name)}' is too large")
    return data


def check_zipped_shapefile(path: Path, file: str) -> str:
    """Check a zipped Shapefile (sizes, members, headers); returns the ``.shp`` member name."""
    cap = limits().max_expanded_bytes
    with check_archive(path, file) as archive:
        shp = shapefile_members(archive, file)
        shx_name = next(n for n in archive.namelist() if n.lower() == shp[:-4].lower() + ".shx")
        shx = read_member(archive, shx_name, cap)
        shp_size = archive.getinfo(shp).file_size
        with archive.open(shp) as handle:
            shp_head = handle.read(100)
    check_shapefile_headers(shp_size, shx, shp_head, file)
    return shp


def check_shapefile(path: Path, file: str) -> None:
    """Check a loose ``.shp`` and its ``.shx`` (headers against the files' sizes)."""
    shx = next((p for p in path.parent.glob(path.stem + ".*") if p.suffix.lower() == ".shx"), None)
    if shx is None:
        raise refuse(file, "no .shx beside the .shp")
    with path.open("rb") as handle:
        shp_head = handle.read(100)
    check_shapefile_headers(path.stat().st_size, shx.read_bytes(), shp_head, file)


_DIMENSION = re.compile(rb'<(?:\w+:)?dimension\s+ref="[A-Z]+\d+(?::[A-Z]+(\d+))?"')
_ROW = re.compile(rb"<(?:\w+:)?row[\s>/]")


def check_xlsx(path: Path, file: str) -> None:
    """Measure an XLSX before openpyxl loads it: archive sizes, then rows of every sheet.

    The sheet's ``dimension`` is read first; the rows are then counted by
    streaming the sheet XML (the dimension may lie), stopping past the limit.
    """
    cap = limits()
    with check_archive(path, file) as archive:
        sheets = [
            n
            for n in archive.namelist()
            if n.startswith("xl/worksheets/") and n.endswith(".xml") and n.count("/") == 2
        ]
        for sheet in sheets:
            rows = 0
            tail = b""
            with archive.open(sheet) as handle:
                head = handle.read(4096)
                found = _DIMENSION.search(head)
                if found and found.group(1) and int(found.group(1)) - 1 > cap.max_rows:
                    claimed = int(found.group(1)) - 1
                    reason = (
                        f"sheet {PurePosixPath(sheet).stem} has {claimed:,} rows; at most "
                        f"{cap.max_rows:,} rows per file (refused before loading it)"
                    )
                    raise refuse(file, reason)
                chunk = head
                while chunk:
                    block = tail + chunk
                    rows += len(_ROW.findall(block)) - len(_ROW.findall(tail))
                    tail = block[-16:]
                    if rows - 1 > cap.max_rows:
                        reason = (
                            f"sheet {PurePosixPath(sheet).stem} has over {cap.max_rows:,} rows; "
                            "at most that many rows per file (refused before loading it)"
                        )
                        raise refuse(file, reason)
                    chunk = handle.read(1 << 20)
