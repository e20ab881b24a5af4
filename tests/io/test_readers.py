"""Tests of the file readers: every format in, EPSG:4326 out."""

from __future__ import annotations

import http.server
import io
import threading
import zipfile

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point

from mapserver import crs
from mapserver.errors import ValidationError
from mapserver.io import readers


def _assert_grids(gdf: gpd.GeoDataFrame, grids: gpd.GeoDataFrame) -> None:
    assert gdf.crs.to_epsg() == 4326
    assert list(gdf["grid_id"]) == ["C1", "M1", "M2"]
    assert list(gdf["level"]) == ["community", "micro", "micro"]
    for got, want in zip(gdf.geometry, grids.geometry, strict=True):
        assert got.symmetric_difference(want).area < 1e-12


@pytest.mark.parametrize("suffix,driver", [(".geojson", "GeoJSON"), (".gpkg", "GPKG")])
def test_read_vector_geojson_and_geopackage(tmp_path, grids, suffix, driver):
    path = tmp_path / f"grids{suffix}"
    grids.to_file(path, driver=driver)
    _assert_grids(readers.read_vector(path), grids)


def test_read_vector_zipped_shapefile(tmp_path, grids):
    folder = tmp_path / "shp"
    folder.mkdir()
    grids.to_file(folder / "grids.shp")
    archive = tmp_path / "grids.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for part in folder.iterdir():
            zf.write(part, part.name)
    _assert_grids(readers.read_vector(archive), grids)


def test_read_vector_kml_with_gdal_and_with_the_fallback_parser(tmp_path, grids):
    path = tmp_path / "grids.kml"
    grids.to_file(path, driver="KML")
    _assert_grids(readers.read_vector(path), grids)
    parsed = readers._parse_kml(path)
    assert list(parsed["grid_id"]) == ["C1", "M1", "M2"]
    assert parsed.geometry.iloc[1].symmetric_difference(grids.geometry.iloc[1]).area < 1e-12


def test_read_vector_projected_file_is_converted_to_4326(tmp_path, grids):
    path = tmp_path / "grids.gpkg"
    grids.to_crs(4549).to_file(path)
    _assert_grids(readers.read_vector(path), grids)


def test_read_vector_source_crs_overrides_and_undoes_gcj02(tmp_path):
    wgs = (121.4737, 31.2304)
    gcj = crs.wgs84_to_gcj02(*wgs)
    path = tmp_path / "buildings.geojson"
    gpd.GeoDataFrame({"building_id": ["B1"]}, geometry=[Point(gcj)], crs=4326).to_file(path)
    got = readers.read_vector(path, source_crs="gcj02").geometry.iloc[0]
    assert np.hypot(got.x - wgs[0], got.y - wgs[1]) < 1e-6  # ~0.1 m


def test_read_vector_rejects_unknown_suffix(tmp_path):
    path = tmp_path / "grids.txt"
    path.write_text("x")
    with pytest.raises(ValueError, match=r"grids\.txt.*'\.txt'"):
        readers.read_vector(path)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_read_table_csv_encodings_keep_ids_as_text(tmp_path, encoding):
    path = tmp_path / "楼栋.csv"
    path.write_bytes("楼栋编号,户数\n007,30\n B2 ,\n,\n".encode(encoding))
    df = readers.read_table(path)
    assert list(df.columns) == ["楼栋编号", "户数"]
    assert list(df["楼栋编号"]) == ["007", "B2"]  # trailing empty row dropped, blanks stripped
    assert df["户数"].iloc[0] == "30"
    assert pd.isna(df["户数"].iloc[1])


def test_read_table_keeps_row_numbers_across_empty_middle_rows(tmp_path):
    path = tmp_path / "status.csv"
    path.write_text("household_id,status\nH1,green\n,\nH3,red\n", encoding="utf-8")
    df = readers.read_table(path)
    assert len(df) == 3 and df["household_id"].iloc[2] == "H3"


def test_read_table_xlsx(tmp_path):
    path = tmp_path / "households.xlsx"
    pd.DataFrame({"household_id": ["H1", "H2"], "residents": [3, 2]}).to_excel(path, index=False)
    df = readers.read_table(path)
    assert list(df["household_id"]) == ["H1", "H2"]
    assert list(df["residents"]) == ["3", "2"]


# --- untrusted files: sniffed by us, measured before they are expanded -----------------

_VRT = (
    '<OGRVRTDataSource><OGRVRTLayer name="users"><SrcDataSource>{src}</SrcDataSource>'
    "<SrcSQL>SELECT * FROM users</SrcSQL></OGRVRTLayer></OGRVRTDataSource>"
)


@pytest.fixture
def limits():
    """Set read limits for one test, restoring the defaults after it."""
    from mapserver.io import safety

    before = safety.limits()
    yield lambda **kw: safety.configure(safety.ReadLimits(**kw))
    safety.configure(before)


def test_vrt_xml_named_geojson_is_refused_without_quoting_the_target(tmp_path):
    import sqlite3

    secret = tmp_path / "secret.sqlite"
    with sqlite3.connect(secret) as con:
        con.execute("CREATE TABLE users (username TEXT, hash TEXT)")
        con.execute("INSERT INTO users VALUES ('admin', 'pbkdf2:SECRETHASH')")
    path = tmp_path / "grids.geojson"
    path.write_text(_VRT.format(src=secret))
    with pytest.raises(ValidationError) as err:
        readers.read_vector(path)
    text = str(err.value)
    assert "grids.geojson" in text and "not GeoJSON" in text
    assert "SECRETHASH" not in text and "admin" not in text and "OGRVRT" not in text


def test_gdal_itself_no_longer_reads_vrt(tmp_path):
    import sqlite3

    import pyogrio

    import mapserver.io  # noqa: F401  (hardens GDAL on import)

    secret = tmp_path / "secret.sqlite"
    with sqlite3.connect(secret) as con:
        con.execute("CREATE TABLE users (username TEXT, hash TEXT)")
        con.execute("INSERT INTO users VALUES ('admin', 'pbkdf2:SECRETHASH')")
    path = tmp_path / "layer.vrt"
    path.write_text(_VRT.format(src=secret))
    with pytest.raises(pyogrio.errors.DataSourceError):
        pyogrio.read_dataframe(path)


class _Recorder(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []  # noqa: RUF012

    def do_GET(self):
        self.hits.append(self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b'{"type": "FeatureCollection", "features": []}')

    do_HEAD = do_GET

    def log_message(self, *args):
        pass


@pytest.fixture
def recorder():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    _Recorder.hits = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _Recorder.hits
    server.shutdown()
    server.server_close()


def test_geojson_pointing_at_a_url_is_refused_and_nothing_is_fetched(tmp_path, recorder):
    import pyogrio

    url, hits = recorder
    plain = tmp_path / "grids.geojson"
    plain.write_text(f"/vsicurl/{url}/grids.geojson")
    with pytest.raises(ValidationError, match="not GeoJSON"):
        readers.read_vector(plain)
    vrt = tmp_path / "buildings.geojson"
    vrt.write_text(_VRT.format(src=f"/vsicurl/{url}/x.geojson"))
    with pytest.raises(ValidationError, match="not GeoJSON"):
        readers.read_vector(vrt)
    with pytest.raises(pyogrio.errors.DataSourceError):  # GDAL's own URL access is off too
        pyogrio.read_dataframe(f"/vsicurl/{url}/direct.geojson")
    assert hits == []


@pytest.mark.parametrize(
    "name,content,reason",
    [
        ("grids.gpkg", b'{"type": "FeatureCollection", "features": []}', "not a GeoPackage"),
        ("grids.kml", b"<?xml version='1.0'?><OGRVRTDataSource/>", "not KML"),
        (
            "grids.kml",
            b'<?xml version="1.0"?><!DOCTYPE kml [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b"<kml>&x;</kml>",
            "DOCTYPE",
        ),
        ("grids.geojson", b'{"type": "Topology", "objects": {}}', "not GeoJSON"),
        ("grids.zip", b"PK\x03\x04 not really", "not a readable zip"),
    ],
)
def test_files_whose_content_is_not_their_format_are_refused(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ValidationError, match=reason):
        readers.read_vector(path)


def _shapefile_zip(tmp_path, grids, extra: dict[str, bytes] | None = None, shx=None):
    folder = tmp_path / "shp"
    folder.mkdir(exist_ok=True)
    grids.to_file(folder / "grids.shp")
    archive = tmp_path / "grids.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for part in folder.iterdir():
            data = shx if shx is not None and part.suffix == ".shx" else part.read_bytes()
            zf.writestr(part.name, data)
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return archive


def test_zip_with_anything_but_one_shapefile_is_refused(tmp_path, grids):
    archive = _shapefile_zip(tmp_path, grids, {"layer.vrt": _VRT.format(src="x").encode()})
    with pytest.raises(ValidationError, match="not part of the Shapefile"):
        readers.read_vector(archive)


def test_zip_bomb_is_refused_before_expanding(tmp_path, grids):
    archive = _shapefile_zip(tmp_path, grids, {"grids.xml": b"\0" * (64 << 20)})
    assert archive.stat().st_size < 1 << 20
    with pytest.raises(ValidationError, match="zip bomb"):
        readers.read_vector(archive)


def test_zip_bomb_by_total_size_is_refused(tmp_path, grids, limits):
    limits(max_expanded_bytes=1000)
    archive = _shapefile_zip(tmp_path, grids)
    with pytest.raises(ValidationError, match="at most 1,000 bytes"):
        readers.read_vector(archive)


def test_forged_shx_is_refused_before_gdal_reads_it(tmp_path, grids):
    import struct

    folder = tmp_path / "orig"
    folder.mkdir()
    grids.to_file(folder / "grids.shp")
    shx = bytearray((folder / "grids.shx").read_bytes())
    shx[24:28] = struct.pack(">i", 2_000_000_000)  # claims 4 GB of index
    archive = _shapefile_zip(tmp_path, grids, shx=bytes(shx))
    with pytest.raises(ValidationError, match=r"the \.shx header claims 4,000,000,000 bytes"):
        readers.read_vector(archive)
    forged = bytearray((folder / "grids.shx").read_bytes())
    forged[100:104] = struct.pack(">i", 1 << 28)  # first record far past the .shp's end
    (tmp_path / "shp2").mkdir()
    grids.to_file(tmp_path / "shp2" / "grids.shp")
    (tmp_path / "shp2" / "grids.shx").write_bytes(bytes(forged))
    with pytest.raises(ValidationError, match="record 1 points past the end"):
        readers.read_vector(tmp_path / "shp2" / "grids.shp")


def _xlsx_bomb(path, rows: int) -> None:
    """An XLSX whose one sheet holds ``rows`` identical rows (written as XML, compressed)."""
    sheet = io.BytesIO()
    sheet.write(
        b'<?xml version="1.0" encoding="UTF-8"?><worksheet '
        b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        b'<dimension ref="A1:B%d"/><sheetData>' % rows
    )
    cell = b'<c t="inlineStr"><is><t>%s</t></is></c>'
    row = b"<row>" + cell % b"H-1" + cell % b"red" + b"</row>"
    sheet.write(row * rows)
    sheet.write(b"</sheetData></worksheet>")
    source = io.BytesIO()
    pd.DataFrame({"household_id": ["H-1"], "status": ["red"]}).to_excel(source, index=False)
    with zipfile.ZipFile(source) as small, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info in small.infolist():
            data = small.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = sheet.getvalue()
            out.writestr(info.filename, data)


def test_xlsx_bomb_is_refused_before_openpyxl_loads_it(tmp_path):
    path = tmp_path / "status.xlsx"
    _xlsx_bomb(path, 1_000_000)
    assert path.stat().st_size < 2 << 20
    with pytest.raises(ValidationError, match="zip bomb"):
        readers.read_table(path)


def test_xlsx_rows_are_counted_before_loading(tmp_path, limits):
    path = tmp_path / "status.xlsx"
    _xlsx_bomb(path, 1_002)  # a header line and 1,001 data rows
    readers.read_table(path)  # within the default limit: read
    limits(max_rows=1_000)
    with pytest.raises(
        ValidationError, match=r"1,001 rows; at most 1,000 .*refused before loading"
    ):
        readers.read_table(path)
    small = tmp_path / "small.xlsx"
    pd.DataFrame({"a": [str(i) for i in range(2_000)]}).to_excel(small, index=False)
    with pytest.raises(ValidationError, match=r"over 1,000 rows"):  # no dimension to trust
        _drop_dimension(small)
        readers.read_table(small)


def _drop_dimension(path) -> None:
    with zipfile.ZipFile(path) as src:
        parts = {i.filename: src.read(i.filename) for i in src.infolist()}
    sheet = parts["xl/worksheets/sheet1.xml"]
    start = sheet.find(b"<dimension")
    parts["xl/worksheets/sheet1.xml"] = sheet[:start] + sheet[sheet.find(b"/>", start) + 2 :]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for name, data in parts.items():
            out.writestr(name, data)


def test_csv_rows_per_upload_are_bounded(tmp_path, limits):
    path = tmp_path / "status.csv"
    path.write_text("household_id,status\n" + "".join(f"H{i},red\n" for i in range(11)))
    limits(max_rows=10)
    with pytest.raises(ValidationError, match="11 rows; at most 10 rows per file"):
        readers.read_table(path)


def test_geojson_features_per_upload_are_bounded(tmp_path, grids, limits):
    path = tmp_path / "grids.geojson"
    grids.to_file(path, driver="GeoJSON")
    limits(max_rows=2)
    with pytest.raises(ValidationError, match="3 rows; at most 2"):
        readers.read_vector(path)
