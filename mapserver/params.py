"""Request values parsed in one place: yes/no flags, numbers within bounds, bounding boxes.

Every number that comes from a request goes through :func:`number` or
:func:`integer` with its allowed range, so a value out of range answers 400
naming the field and the range, never a 500 further down.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from mapserver.errors import ValidationError
from mapserver.model import DISTRICT_TZ  # a time without an offset is China's

TRUE = frozenset({"1", "true", "on", "yes"})
FALSE = frozenset({"0", "false", "off", "no"})
QUOTE_CHARS = 40


def _shown(raw: object) -> str:
    text = str(raw)
    return text if len(text) <= QUOTE_CHARS else text[: QUOTE_CHARS - 1] + "…"


def flag(raw: object, *, default: bool = False) -> bool:
    """A yes/no value: ``1/true/on/yes`` or ``0/false/off/no`` (any case).

    Blank, missing or anything else gives ``default``.
    """
    if raw is None or raw == "":
        return default
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    return default


def number(
    raw: object,
    field: str,
    *,
    low: float,
    high: float,
    default: float | None = None,
    low_open: bool = False,
) -> float:
    """A finite number in ``[low, high]`` (``(low, high]`` with ``low_open``).

    ``None`` or blank gives ``default`` (required when no default). Raises
    ValidationError naming ``field`` and the allowed range otherwise.
    """
    if raw is None or raw == "":
        if default is None:
            raise ValidationError.for_request(field, f"required: a number from {low:g} to {high:g}")
        return float(default)
    if isinstance(raw, bool):
        raise ValidationError.for_request(field, f"'{_shown(raw)}' is not a number")
    try:
        value = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError) as err:
        raise ValidationError.for_request(field, f"'{_shown(raw)}' is not a number") from err
    too_low = value <= low if low_open else value < low
    if not math.isfinite(value) or too_low or value > high:
        bracket = "(" if low_open else "["
        reason = f"'{_shown(raw)}' is out of range: allowed {bracket}{low:g}, {high:g}]"
        raise ValidationError.for_request(field, reason)
    return value


def integer(raw: object, field: str, *, low: int, high: int, default: int | None = None) -> int:
    """A whole number in ``[low, high]``; ``None`` or blank gives ``default``.

    ``"3"``, ``3`` and ``3.0`` are accepted; ``3.5``, ``"abc"`` and ``1e308``
    raise ValidationError naming ``field`` and the range.
    """
    if raw is None or raw == "":
        if default is None:
            raise ValidationError.for_request(
                field, f"required: a whole number from {low} to {high}"
            )
        return int(default)
    if isinstance(raw, bool):
        raise ValidationError.for_request(field, f"'{_shown(raw)}' is not a whole number")
    try:
        value = int(raw) if isinstance(raw, int) else int(str(raw).strip())
    except (TypeError, ValueError):
        try:
            as_float = float(raw)  # type: ignore[arg-type]
        except (TypeError, ValueError, OverflowError):
            as_float = math.nan
        if not (math.isfinite(as_float) and as_float.is_integer()):
            raise ValidationError.for_request(
                field, f"'{_shown(raw)}' is not a whole number"
            ) from None
        value = int(as_float)
    if not low <= value <= high:
        raise ValidationError.for_request(
            field, f"'{_shown(raw)}' is out of range: allowed {low} to {high}"
        )
    return value


def integer_pair(
    raw: object, field: str, *, low: int, high: int, default: tuple[int, int]
) -> tuple[int, int]:
    """Two whole numbers ``[a, b]`` with ``low ≤ a ≤ b ≤ high``; ``None`` gives ``default``."""
    if raw is None or raw == "":
        return default
    if not isinstance(raw, (list, tuple)) or len(raw) != 2:
        raise ValidationError.for_request(
            field, f"give two whole numbers [min, max] from {low} to {high}"
        )
    a = integer(raw[0], field, low=low, high=high)
    b = integer(raw[1], field, low=low, high=high)
    if a > b:
        raise ValidationError.for_request(field, f"minimum {a} is above maximum {b}")
    return a, b


def bbox(raw: str | None) -> tuple[float, float, float, float] | None:
    """``minlon,minlat,maxlon,maxlat`` in degrees (or None when not given)."""
    if not raw:
        return None
    reason = f"'{_shown(raw)}' is not minlon,minlat,maxlon,maxlat in degrees"
    try:
        parts = tuple(float(x) for x in str(raw).split(","))
    except ValueError as err:
        raise ValidationError.for_request("bbox", reason) from err
    if (
        len(parts) != 4
        or not all(math.isfinite(p) for p in parts)
        or parts[0] > parts[2]
        or parts[1] > parts[3]
        or min(parts[0], parts[2]) < -180
        or max(parts[0], parts[2]) > 180
        or min(parts[1], parts[3]) < -90
        or max(parts[1], parts[3]) > 90
    ):
        raise ValidationError.for_request("bbox", reason)
    return parts  # type: ignore[return-value]


def moment(raw: str | None, field: str) -> str | None:
    """An ISO 8601 date-time (``2026-12-02T08:00``; without an offset it is China's time)
    as UTC text in the change log's form; None when blank."""
    if raw is None or not str(raw).strip():
        return None
    try:
        when = datetime.fromisoformat(str(raw).strip())
    except ValueError:
        reason = f"'{_shown(raw)}' is not a date and time such as 2026-12-02T08:00"
        raise ValidationError.for_request(field, reason) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=DISTRICT_TZ)
    return when.astimezone(UTC).isoformat(timespec="milliseconds")
