"""The structure a newcomer relies on: the core packages load without a database or a web
framework, and web views reach data only through the services."""

from __future__ import annotations

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
