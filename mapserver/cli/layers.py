"""`mapserver import`, `export` and `status`: layer files in and out, status tables in."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mapserver.cli.common import open_store_of, print_problems
from mapserver.config import load_settings
from mapserver.errors import NotFoundError, ValidationError
from mapserver.model import LAYERS


def cmd_import(args: argparse.Namespace) -> int:
    """Validate files together and import them in one transaction (merge by id by default)."""
    from mapserver.io.mapping import ColumnMapping, parse_mapping
    from mapserver.services.mapview import MapView
    from mapserver.services.statusio import import_files
    from mapserver.store import User

    store = open_store_of(args)
    # a folder's README (geodata/demo/README.txt) describes the data: `import folder/*` works
    files = [p for p in args.files if args.layer or Path(p).stem.lower() != "readme"]
    for skipped in [p for p in args.files if p not in files]:
        print(f"跳过说明文件 / skipped (documentation, not data): {skipped}")
    paths = {Path(p): Path(p).name for p in files}
    layer = args.layer
    try:
        mapping = ColumnMapping()
        if args.mapping:
            saved = store.get_mapping(args.mapping)
            mapping = ColumnMapping.from_dict(saved["mapping"])
            layer = layer or saved["layer"]
        mapping = mapping.merged(parse_mapping(args.map))
        if args.level:
            mapping = mapping.merged(ColumnMapping(constants={"level": args.level}))
        if args.save_mapping and layer is None:
            print("--save-mapping 需要 --layer / needs --layer", file=sys.stderr)
            return 2
        counts = import_files(
            store,
            MapView(store, load_settings().scheme),
            paths,
            layer_hint=dict.fromkeys(paths, layer) if layer else None,
            mappings=dict.fromkeys(paths, mapping),
            source_crs=args.crs,
            encoding=args.encoding,
            repair=args.repair,
            parent_by=args.parent_by,
            replace=args.replace,
            dry_run=args.dry_run,
            user=User("cli", "admin"),
        )
    except NotFoundError as err:
        print(f"未找到 / not found: {err}", file=sys.stderr)
        return 2
    except ValidationError as err:
        return print_problems(err, "导入被拒绝，未写入任何数据 / import rejected, nothing written:")
    if args.save_mapping:
        store.save_mapping(args.save_mapping, layer, mapping.to_dict(), user="cli")
        print(f"已保存列映射 / column mapping saved: {args.save_mapping}")
    _print_import(counts)
    return 0


def _print_import(counts: dict) -> None:
    """Print what an import did (or, on a dry run, would do)."""
    report = counts.pop("network_report", None)
    plan = counts.pop("plan", {})
    notes = counts.pop("notes", [])
    dry_run = counts.pop("dry_run", False)
    counts.pop("mode", None)
    if dry_run:
        print("试运行，未写入 / dry run, nothing written:")
    for note in notes:
        print(f"  说明 / note: {note}")
    for name, n in counts.items():
        change = plan.get(name, {})
        line = (
            f"{name}: {n} rows (新增 added {change.get('added', 0)}, "
            f"更新 updated {change.get('updated', 0)}"
        )
        if change.get("deleted"):
            shown = ", ".join(change["deleted_ids"][:5])
            more = " …" if change["deleted"] > 5 else ""
            line += f", 删除 deleted {change['deleted']}: {shown}{more}"
        print(line + ")")
    if report is not None:
        print(
            f"道路网 / road network: {report['n_nodes']} nodes, {report['n_edges']} edges, "
            f"{report['total_km']:.1f} km"
        )
        for fragment in report["fragments"]:
            print(
                f"  断开的片段 / disconnected fragment: {fragment['size']} nodes, "
                f"e.g. {', '.join(fragment['node_ids'][:3])}, bbox {fragment['bbox']}"
            )
        for key in ("dangling_edges", "self_loops", "zero_length_edges"):
            if report[key]:
                print(f"  {key}: {len(report[key])} (e.g. {', '.join(report[key][:3])})")


def cmd_export(args: argparse.Namespace) -> int:
    """Write the stored layers to a folder (GeoJSON and CSV) that imports back unchanged."""
    from mapserver.services.exports import export_layers

    store = open_store_of(args)
    written = export_layers(store, args.folder, layers=args.layers)
    for layer, path in written.items():
        print(f"{layer}: {path}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """Upload a status table (CSV/XLSX); all rows or none."""
    from mapserver.services.mapview import MapView
    from mapserver.services.statusio import apply_status_file
    from mapserver.store import User

    store = open_store_of(args)
    try:
        seq, n = apply_status_file(
            store,
            MapView(store, load_settings().scheme),
            Path(args.file),
            file=Path(args.file).name,
            user=User(args.user, "admin"),
            encoding=args.encoding,
        )
    except ValidationError as err:
        return print_problems(
            err, "状态表被拒绝，未写入任何数据 / status table rejected, nothing written:"
        )
    print(f"{n} rows written, change log at #{seq}")
    return 0


def add_parser(sub) -> None:
    """The ``import``, ``export`` and ``status`` commands."""
    imp = sub.add_parser(
        "import",
        help="import grids/buildings/households/status/roads/checkpoints files (merge by id)",
    )
    imp.add_argument("files", nargs="+")
    imp.add_argument("--layer", choices=[*LAYERS, "roads"])
    imp.add_argument(
        "--crs",
        help="source CRS: EPSG code, gcj02, bd09, a .prj file, WKT or PROJ (default: the file's)",
    )
    imp.add_argument(
        "--encoding", help="text encoding of the files, e.g. gbk (default: .cpg, else detected)"
    )
    imp.add_argument(
        "--map",
        help="column mapping field=column,...: grid_id=社区编码,parent_id=街道编码,name=社区",
    )
    imp.add_argument("--level", help="grid level of every row (community, 社区, big, 大网格…)")
    imp.add_argument("--mapping", help="use a saved column mapping by name")
    imp.add_argument("--save-mapping", help="save this column mapping under a name")
    imp.add_argument(
        "--parent-by",
        choices=["code", "containment"],
        help="fill blank parents from higher-level grids by id prefix or by containment",
    )
    imp.add_argument(
        "--repair",
        action="store_true",
        help="repair invalid polygons, cut sibling overlaps (larger grid keeps), report gaps",
    )
    imp.add_argument(
        "--replace",
        action="store_true",
        help="replace each imported layer whole (stored rows not in the files are deleted)",
    )
    imp.add_argument("--dry-run", action="store_true", help="check and report; write nothing")
    imp.set_defaults(func=cmd_import)

    export = sub.add_parser("export", help="write the stored layers to a folder")
    export.add_argument("folder")
    export.add_argument("--layers", nargs="+", choices=list(LAYERS))
    export.set_defaults(func=cmd_export)

    status = sub.add_parser("status", help="upload a status table (CSV/XLSX)")
    status.add_argument("file")
    status.add_argument("--user", default="cli")
    status.add_argument("--encoding", help="text encoding of a CSV (default: detected)")
    status.set_defaults(func=cmd_status)
