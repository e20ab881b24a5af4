"""Status schemes: codes with labels, colours and severity, loaded from geodata/schemes/*.json."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from mapserver.config import SCHEMES_DIR
from mapserver.errors import ValidationError, ValidationIssue

SCHEME_KINDS: tuple[str, ...] = ("status", "area_class")
NONE_CODE = "none"
LANGUAGES: tuple[str, ...] = ("zh", "en")
_COLOUR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")
_Report = Callable[[str | None, str], None]


@dataclass(frozen=True)
class StatusCode:
    """One status code of a scheme; higher ``severity`` is worse."""

    code: str
    label_zh: str
    label_en: str
    colour: str
    severity: int


@dataclass(frozen=True)
class Scheme:
    """A status scheme: its codes in file order, and how to draw entities with no status."""

    name: str
    label_zh: str
    label_en: str
    kind: str
    codes: tuple[StatusCode, ...]
    none_label_zh: str
    none_label_en: str
    none_colour: str
    description: str = ""

    @property
    def code_names(self) -> tuple[str, ...]:
        """Return the code strings in file order."""
        return tuple(c.code for c in self.codes)

    def get(self, code: str | None) -> StatusCode | None:
        """Return the StatusCode for ``code``, or None when it is None or not in the scheme."""
        if code is None:
            return None
        for c in self.codes:
            if c.code == code:
                return c
        return None

    def colour(self, code: str | None) -> str:
        """Return the ``#rrggbb`` colour of ``code``; the none colour for None or unknown codes."""
        found = self.get(code)
        return found.colour if found else self.none_colour

    def severity(self, code: str | None) -> int:
        """Return the severity of ``code``; below every code for None or unknown codes."""
        found = self.get(code)
        if found:
            return found.severity
        return min(c.severity for c in self.codes) - 1

    def spellings(self) -> dict[str, str]:
        """Every accepted spelling of a status, folded to lower case -> its code.

        The code itself and its Chinese and English labels (``一直在沪``,
        ``Stayed in the city``); a label two codes share is left out.
        """
        found: dict[str, set[str]] = {}
        for c in self.codes:
            for word in (c.code, c.label_zh, c.label_en):
                found.setdefault(word.strip().lower(), set()).add(c.code)
        return {word: next(iter(codes)) for word, codes in found.items() if len(codes) == 1}

    def codes_worst_first(self) -> tuple[StatusCode, ...]:
        """Return the codes sorted by severity, most severe first."""
        return tuple(sorted(self.codes, key=lambda c: -c.severity))

    def label(self, code: str | None, lang: str = "zh") -> str:
        """Return the label of ``code`` in ``lang`` (``zh``/``en``); the none label if unknown."""
        if lang not in LANGUAGES:
            msg = f"language '{lang}' is not one of {', '.join(LANGUAGES)}"
            raise ValueError(msg)
        found = self.get(code)
        if found:
            return found.label_zh if lang == "zh" else found.label_en
        return self.none_label_zh if lang == "zh" else self.none_label_en

    def to_dict(self) -> dict[str, Any]:
        """Return the scheme as JSON-ready data (the file format plus ``worst_first``).

        The browser legend draws ``codes`` in file order and ``none`` last;
        ``worst_first`` lists the code strings by falling severity.
        """
        return {
            "name": self.name,
            "label": {"zh": self.label_zh, "en": self.label_en},
            "kind": self.kind,
            "description": self.description,
            "codes": [
                {
                    "code": c.code,
                    "label": {"zh": c.label_zh, "en": c.label_en},
                    "colour": c.colour,
                    "severity": c.severity,
                }
                for c in self.codes
            ],
            "none": {
                "label": {"zh": self.none_label_zh, "en": self.none_label_en},
                "colour": self.none_colour,
            },
            "worst_first": [c.code for c in self.codes_worst_first()],
        }


def list_schemes() -> list[str]:
    """Return the names of the shipped schemes (file stems in ``config.SCHEMES_DIR``), sorted."""
    return sorted(p.stem for p in Path(SCHEMES_DIR).glob("*.json"))


def load_scheme(name_or_path: str | Path) -> Scheme:
    """Load and validate a scheme by name (``geodata/schemes/<name>.json``) or by file path.

    Parameters
    ----------
    name_or_path
        A scheme name such as ``"hongkou6"``, or the path of a scheme JSON file.

    Returns
    -------
    Scheme
        The validated scheme (cached per file and modification time).

    Raises
    ------
    ValueError
        The name is unknown, or the file is not valid JSON.
    mapserver.errors.ValidationError
        (a ValueError) naming the file and each bad field: missing fields,
        duplicate codes or severities, colours not ``#rrggbb``.
    """
    text = str(name_or_path)
    path = Path(text)
    if not (text.endswith(".json") or path.is_file()):
        path = Path(SCHEMES_DIR) / f"{text}.json"
        if not path.is_file():
            msg = f"unknown status scheme '{text}'; available: {', '.join(list_schemes())}"
            raise ValueError(msg)
    elif not path.is_file():
        msg = f"status scheme file '{text}' does not exist"
        raise ValueError(msg)
    return _load_cached(str(path.resolve()), path.stat().st_mtime_ns)


@lru_cache(maxsize=64)
def _load_cached(path: str, _mtime_ns: int) -> Scheme:
    """Read and validate one scheme file; cached on path and modification time."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        msg = f"{Path(path).name}: not valid JSON: {exc}"
        raise ValueError(msg) from exc
    return scheme_from_dict(data, source=Path(path).name)


def scheme_from_dict(data: Any, *, source: str = "<scheme>") -> Scheme:
    """Validate scheme data (the JSON file format) and build a Scheme.

    Parameters
    ----------
    data
        The parsed JSON object.
    source
        File name used in error messages.

    Raises
    ------
    mapserver.errors.ValidationError
        Listing every problem as ``<source> field '<field>': <reason>``.
    """
    issues: list[ValidationIssue] = []

    def bad(field: str | None, reason: str) -> None:
        issues.append(ValidationIssue(source, None, field, reason))

    if not isinstance(data, dict):
        bad(None, "a scheme must be a JSON object")
        raise ValidationError(issues)
    name = _text(data, "name", "name", bad)
    label = _labels(data, "label", "label", bad)
    kind = data.get("kind")
    if kind not in SCHEME_KINDS:
        bad("kind", f"'{kind}' is not one of {', '.join(SCHEME_KINDS)}")
    description = data.get("description", "")
    if not isinstance(description, str):
        bad("description", "must be a string")
        description = ""
    codes = _codes(data.get("codes"), bad)
    none = data.get("none")
    none_label, none_colour = ("", ""), ""
    if not isinstance(none, dict):
        bad("none", "missing: an object with 'label' and 'colour'")
    else:
        none_label = _labels(none, "label", "none.label", bad)
        none_colour = _colour(none, "none.colour", bad)
    if issues:
        raise ValidationError(issues)
    return Scheme(
        name=name,
        label_zh=label[0],
        label_en=label[1],
        kind=str(kind),
        codes=tuple(codes),
        none_label_zh=none_label[0],
        none_label_en=none_label[1],
        none_colour=none_colour,
        description=description,
    )


def _text(obj: dict, key: str, field: str, bad: _Report) -> str:
    """Return a non-empty string field, or report it."""
    value = obj.get(key)
    if not isinstance(value, str) or not value.strip():
        bad(field, "missing or not a non-empty string")
        return ""
    return value


def _labels(obj: dict, key: str, field: str, bad: _Report) -> tuple[str, str]:
    """Return the (zh, en) pair of a label object, or report it."""
    value = obj.get(key)
    if not isinstance(value, dict):
        bad(field, "missing: an object with 'zh' and 'en'")
        return "", ""
    return _text(value, "zh", f"{field}.zh", bad), _text(value, "en", f"{field}.en", bad)


def _colour(obj: dict, field: str, bad: _Report) -> str:
    """Return a ``#rrggbb`` colour (lower case), or report it."""
    value = obj.get("colour")
    if not isinstance(value, str) or not _COLOUR_RE.match(value):
        bad(field, f"'{value}' is not a #rrggbb colour")
        return ""
    return value.lower()


def _codes(value: Any, bad: _Report) -> list[StatusCode]:
    """Validate the ``codes`` list: fields present, codes and severities unique."""
    if not isinstance(value, list) or not value:
        bad("codes", "missing or empty: a list of code objects")
        return []
    out: list[StatusCode] = []
    seen_code: dict[str, int] = {}
    seen_severity: dict[int, int] = {}
    for i, item in enumerate(value):
        field = f"codes[{i}]"
        if not isinstance(item, dict):
            bad(field, "must be an object")
            continue
        code = _text(item, "code", f"{field}.code", bad)
        if code == NONE_CODE:
            bad(f"{field}.code", f"'{NONE_CODE}' is reserved for entities with no status")
        elif code in seen_code:
            bad(f"{field}.code", f"code '{code}' appears twice (first at codes[{seen_code[code]}])")
        elif code:
            seen_code[code] = i
        label = _labels(item, "label", f"{field}.label", bad)
        colour = _colour(item, f"{field}.colour", bad)
        severity = item.get("severity")
        if not isinstance(severity, int) or isinstance(severity, bool):
            bad(f"{field}.severity", f"'{severity}' is not an integer")
            severity = 0
        elif severity in seen_severity:
            first = seen_severity[severity]
            bad(f"{field}.severity", f"severity {severity} appears twice (first at codes[{first}])")
        else:
            seen_severity[severity] = i
        out.append(StatusCode(code, label[0], label[1], colour, severity))
    return out
