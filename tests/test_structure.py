"""The structure a newcomer relies on: the core packages load without a database or a web
framework, and web views reach data only through the services."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import mapserver

CORE = ("model", "crs", "status", "network", "coverage", "routing", "districting", "io")
PACKAGE = Path(mapserver.__file__).parent

_PROBE = """
import importlib, pkgutil, sys
heavy = ("sqlalchemy", "flask")
for name in sys.argv[1:]:
    module = importlib.import_module(name)
    names = [name]
    if hasattr(module, "__path__"):
        names += [m.name for m in pkgutil.walk_packages(module.__path__, name + ".")]
    for each in names:
        importlib.import_module(each)
        loaded = [h for h in heavy if h in sys.modules]
        if loaded:
            print(each, "loads", ", ".join(loaded))
            sys.exit(1)
print("ok")
"""


def test_core_packages_load_without_a_database_or_a_web_framework():
    """Every module of every core package, imported in a fresh interpreter, leaves
    SQLAlchemy and Flask unloaded (the store and the web layer sit above them)."""
    names = [f"mapserver.{p}" for p in CORE]
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *names], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stdout + done.stderr[-2000:]


def _is_store(node: ast.expr) -> bool:
    """True for an expression that is the store: ``store``, ``x.store``,
    ``extensions["store"]`` or ``_store()``."""
    if isinstance(node, ast.Name):
        return node.id == "store"
    if isinstance(node, ast.Attribute):
        return node.attr == "store"
    if isinstance(node, ast.Subscript):
        return isinstance(node.slice, ast.Constant) and node.slice.value == "store"
    if isinstance(node, ast.Call):
        return isinstance(node.func, ast.Name) and node.func.id == "_store"
    return False


def store_calls(source: str) -> list[tuple[int, str]]:
    """(line, method) of every call of a store method in a module's source."""
    found = []
    for node in ast.walk(ast.parse(source)):
        method = isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
        if method and _is_store(node.func.value):
            found.append((node.lineno, node.func.attr))
    return found


def test_web_views_reach_data_only_through_services():
    """No module under web/ calls a store method: views parse and answer, the services
    hold the rules and talk to the store."""
    calls = {}
    for path in sorted(PACKAGE.joinpath("web").glob("*.py")):
        found = store_calls(path.read_text(encoding="utf-8"))
        if found:
            calls[path.name] = found
    assert not calls
    # the check sees what it is meant to see
    sample = 'store = current_app.extensions["store"]\nstore.read_grids()\n_store().list_users()\n'
    assert [m for _, m in store_calls(sample)] == ["read_grids", "list_users"]
    assert store_calls('view.store.last_seq()\nx = extensions["store"].get_job(1)\n')
