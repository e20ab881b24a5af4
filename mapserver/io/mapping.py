"""Column mappings: which column of someone else's file holds each model field."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pandas as pd

from mapserver.errors import ValidationError, ValidationIssue
from mapserver.io.tables import KNOWN_COLUMNS, guess_column
from mapserver.model import LAYERS

# Fields a mapping may give as a constant for every row (``--level community``).
CONSTANT_FIELDS: frozenset[str] = frozenset({"level", "area_class", "entity_kind", "kind"})


@dataclass(frozen=True)
class ColumnMapping:
    """How one file's columns become a layer's model columns.

    Attributes
    ----------
    columns
        Model field -> the file's column holding it (``{"grid_id": "社区编码"}``).
    constants
        Model field -> one value for every row (``{"level": "community"}``).
    """

    columns: dict[str, str] = field(default_factory=dict)
    constants: dict[str, str] = field(default_factory=dict)

    def is_empty(self) -> bool:
        """True when the mapping changes nothing."""
        return not self.columns and not self.constants

    def to_dict(self) -> dict[str, dict[str, str]]:
        """Plain JSON form: ``{"columns": {...}, "constants": {...}}``."""
        return {"columns": dict(self.columns), "constants": dict(self.constants)}

    @classmethod
    def from_dict(cls, data: dict | None) -> ColumnMapping:
        """Inverse of :meth:`to_dict`; missing parts are empty."""
        data = data or {}
        return cls(
            columns={str(k): str(v) for k, v in (data.get("columns") or {}).items() if v},
            constants={str(k): str(v) for k, v in (data.get("constants") or {}).items() if v},
        )

    def merged(self, other: ColumnMapping) -> ColumnMapping:
        """This mapping with ``other``'s entries added on top (other wins)."""
        return ColumnMapping(
            columns={**self.columns, **other.columns},
            constants={**self.constants, **other.constants},
        )


def parse_mapping(spec: str | None, *, source: str = "--map") -> ColumnMapping:
    """Parse ``grid_id=社区编码,parent_id=街道编码,name=社区`` into a mapping.

    A value in quotes or after ``:=`` is a constant (``level:=community``).
    Raises ValidationError naming the bad part.
    """
    columns: dict[str, str] = {}
    constants: dict[str, str] = {}
    if not spec or not spec.strip():
        return ColumnMapping()
    for part in re.split(r"[,，;；]", spec):
        part = part.strip()
        if not part:
            continue
        constant = ":=" in part
        key, sep, value = part.partition(":=" if constant else "=")
        key, value = key.strip(), value.strip().strip("'\"")
        if not sep or not key or not value:
            reason = f"'{part}' is not field=column (e.g. grid_id=社区编码)"
            raise ValidationError([ValidationIssue(source, None, None, reason)])
        (constants if constant else columns)[key] = value
    return ColumnMapping(columns=columns, constants=constants)


def check_mapping(
    mapping: ColumnMapping, layer: str, columns: list[str], *, file: str
) -> list[ValidationIssue]:
    """Issues for fields the layer does not have and columns the file does not have."""
    issues: list[ValidationIssue] = []
    known = set(LAYERS.get(layer, ())) | KNOWN_COLUMNS.get(layer, set())
    for target, column in mapping.columns.items():
        if target not in known:
            reason = (
                f"'{target}' is not a field of layer {layer} (fields: {', '.join(sorted(known))})"
            )
            issues.append(ValidationIssue(file, None, target, reason))
        elif column not in columns:
            reason = f"column '{column}' for {target} is not in the file (columns: {columns})"
            issues.append(ValidationIssue(file, None, target, reason))
    for target in mapping.constants:
        if target not in known:
            reason = f"'{target}' is not a field of layer {layer}"
            issues.append(ValidationIssue(file, None, target, reason))
    return issues


def apply_mapping(df: pd.DataFrame, mapping: ColumnMapping) -> pd.DataFrame:
    """Copy the mapped columns to their model names and set the constants.

    The file's own columns stay (a mapped source keeps its name too), so one
    column may feed two fields (``name`` and ``address``). A model-named column
    that the mapping overrides is replaced.
    """
    if mapping.is_empty():
        return df
    out = df.copy()
    for target, column in mapping.columns.items():
        out[target] = df[column]
    for target, value in mapping.constants.items():
        out[target] = value
    return out


def suggest_mapping(columns: list[str], layer: str) -> dict[str, str]:
    """The model field each column would fill without a mapping (aliases, cut names).

    Returns field -> column for the columns that are recognised.
    """
    found: dict[str, str] = {}
    for column in columns:
        target = guess_column(column, layer)
        if target is not None and target not in found:
            found[target] = column
    return found
