"""Delivery and patrol requests parsed once, for the web and the command line alike:
unknown fields and numbers out of range are refused with the field named."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

from mapserver import params
from mapserver.errors import ValidationError, ValidationIssue
from mapserver.model import AREA_CLASSES
from mapserver.services.delivery import DeliveryRequest

# Allowed ranges of the numbers of a delivery request (vehicles: the settings' maximum).
DELIVERY_BOUNDS: dict[str, tuple[float, float]] = {
    "boxes_per_household": (1, 100),
    "trips": (1, 20),
    "time_limit_s": (0.5, 600),
}
PATROL_KINDS: tuple[str, ...] = ("streets", "checkpoints")
MAX_TEAMS = 50
MAX_SHIFT_H = 24.0


def delivery_request(body: Mapping, *, max_vehicles: int, max_job_time_s: float) -> DeliveryRequest:
    """A delivery request from its fields (as a JSON body has them); every unknown field
    and every bad value is named at once. Vehicle counts are bounded by
    ``max_vehicles``; the solve time is clamped to ``max_job_time_s``."""
    bounds = {**DELIVERY_BOUNDS, "vans": (0, max_vehicles), "tricycles": (0, max_vehicles)}
    known = {f.name: f for f in fields(DeliveryRequest)}
    issues = [
        ValidationIssue("request", None, key, "unknown field") for key in body if key not in known
    ]
    values: dict = {}
    for key, value in body.items():
        if key not in known:
            continue
        default = known[key].default
        low, high = bounds.get(key, (0, 10**6))
        try:
            if isinstance(default, bool):
                values[key] = params.flag(value)
            elif isinstance(default, int):
                values[key] = params.integer(value, key, low=int(low), high=int(high))
            elif isinstance(default, float):
                values[key] = params.number(value, key, low=low, high=high)
            elif isinstance(default, tuple):
                items = [value] if isinstance(value, str) else list(value or [])
                values[key] = tuple(str(v) for v in items)
            else:
                values[key] = None if value in (None, "") else str(value)
        except ValidationError as err:
            issues.extend(err.issues)
        except TypeError:
            issues.append(ValidationIssue("request", None, key, f"bad value {value!r:.40}"))
    unknown = sorted(set(values.get("area_classes", ())) - set(AREA_CLASSES))
    if unknown:
        reason = f"{', '.join(unknown)} is not one of {', '.join(AREA_CLASSES)}"
        issues.append(ValidationIssue("request", None, "area_classes", reason))
    if values.get("run", "morning") not in ("morning", "afternoon"):
        issues.append(ValidationIssue("request", None, "run", "must be morning or afternoon"))
    if values.get("solver", "pyvrp") not in ("pyvrp", "ortools"):
        issues.append(ValidationIssue("request", None, "solver", "must be pyvrp or ortools"))
    if issues:
        raise ValidationError(issues)
    values["time_limit_s"] = min(values.get("time_limit_s", 5.0), max_job_time_s)
    return DeliveryRequest(**values)


@dataclass(frozen=True)
class PatrolRequest:
    """What to patrol: every street of ``grids`` or every checkpoint (of the grids, or
    all), shared among ``teams`` walking ``shift_h`` hours each."""

    kind: str = "streets"
    grids: tuple[str, ...] = ()
    teams: int = 1
    shift_h: float = 8.0


def patrol_request(body: Mapping) -> PatrolRequest:
    """A patrol request from its fields (``kind``, ``grids``, ``teams``, ``shift_h``)."""
    kind = body.get("kind", "streets")
    grids = body.get("grids") or []
    if isinstance(grids, str):
        grids = [grids]
    if not isinstance(grids, list | tuple):
        raise ValidationError.for_request("grids", "a list of grid ids")
    teams = params.integer(body.get("teams"), "teams", low=1, high=MAX_TEAMS, default=1)
    shift_h = params.number(
        body.get("shift_h"), "shift_h", low=0, high=MAX_SHIFT_H, default=8, low_open=True
    )
    if kind not in PATROL_KINDS:
        raise ValidationError.for_request("kind", "must be streets or checkpoints")
    if kind == "streets" and not grids:
        raise ValidationError.for_request("grids", "give grid ids")
    return PatrolRequest(kind, tuple(str(g) for g in grids), teams, shift_h)
