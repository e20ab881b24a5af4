"""The app's JSON provider: every response is strict JSON (no NaN, no Infinity).

Python's ``json`` writes ``NaN`` and ``Infinity`` by default, which no browser's
``JSON.parse`` reads: one missing building name stopped the map drawing every
building. Values that may be missing are None at the source; this provider is
the net behind that. Under testing or debug a non-finite number raises
:class:`NonFiniteJSONError` so the regression fails loudly; in production the
number is written as ``null`` and the path to it is logged, so the answer
always parses.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from flask import has_request_context, request
from flask.json.provider import DefaultJSONProvider


class NonFiniteJSONError(RuntimeError):
    """A response held NaN or Infinity (raised under testing/debug only).

    Not a ``ValueError``: the app turns those into 400 answers, and this is a
    server bug, not a malformed request.
    """


def non_finite_paths(obj: Any, *, limit: int = 5) -> list[str]:
    """Return up to ``limit`` paths (``$.features[3].properties.name``) to NaN/Infinity in
    ``obj``, walking dicts, lists and tuples."""
    found: list[str] = []
    stack: list[tuple[str, Any]] = [("$", obj)]
    while stack and len(found) < limit:
        path, value = stack.pop()
        if isinstance(value, float):
            if not math.isfinite(value):
                found.append(path)
        elif isinstance(value, dict):
            stack.extend((f"{path}.{key}", item) for key, item in reversed(value.items()))
        elif isinstance(value, (list, tuple)):
            stack.extend((f"{path}[{i}]", item) for i, item in reversed(list(enumerate(value))))
    return found


def finite_or_null(obj: Any) -> Any:
    """Return a copy of ``obj`` (dicts, lists, tuples, dataclasses) with every NaN/Infinity
    float as None."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return finite_or_null(dataclasses.asdict(obj))
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {key: finite_or_null(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite_or_null(value) for value in obj]
    return obj


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON provider with ``allow_nan=False``.

    Strict (raise) when the app is testing or in debug; otherwise non-finite
    numbers become ``null`` with a warning in the app's log.
    """

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        """Serialise ``obj`` as strict JSON (see the class docstring for NaN/Infinity)."""
        kwargs["allow_nan"] = False
        try:
            return super().dumps(obj, **kwargs)
        except ValueError as err:
            if "JSON compliant" not in str(err):
                raise
            paths = non_finite_paths(obj)
            where = request.path if has_request_context() else "(no request)"
            msg = f"{where}: NaN or Infinity in the JSON answer at {', '.join(paths) or '?'}"
            if self._app.testing or self._app.debug:
                raise NonFiniteJSONError(msg) from err
            self._app.logger.warning("%s; written as null", msg)
            return super().dumps(finite_or_null(obj), **kwargs)
