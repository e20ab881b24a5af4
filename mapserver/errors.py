"""Error types that carry the data's own words: file, row, field and reason."""

from __future__ import annotations

from dataclasses import dataclass

TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".xls")  # files with a header line


@dataclass(frozen=True)
class ValidationIssue:
    """One problem found in input data.

    ``row`` is the 1-based data row (CSV/XLSX, header excluded) or feature index
    (vector files) as the user would count it; ``None`` when the problem is about
    the whole file (e.g. a missing column).
    """

    file: str
    row: int | None
    field: str | None
    reason: str
    code: str | None = None  # what kind of problem, for a page to say it in the reader's words
    value: str | None = None  # the value the problem is about, as given

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f" row {self.row}"
        if self.field:
            where += f" field '{self.field}'"
        return f"{where}: {self.reason}"

    @property
    def line(self) -> int | None:
        """The row as a spreadsheet shows it (the header is line 1) for a CSV or Excel
        file; None for other files and for problems of the whole file."""
        if self.row is None or not str(self.file).lower().endswith(TABLE_SUFFIXES):
            return None
        return self.row + 1

    def to_dict(self) -> dict:
        """Return the issue as a JSON-ready dict (``line``: as the spreadsheet shows it)."""
        return {
            "file": self.file,
            "row": self.row,
            "line": self.line,
            "field": self.field,
            "reason": self.reason,
            "code": self.code,
            "value": self.value,
        }


class ValidationError(ValueError):
    """Input rejected whole; ``issues`` lists every problem found."""

    code = "validation_failed"

    def __init__(self, issues: list[ValidationIssue]):
        self.issues = list(issues)
        head = "; ".join(str(i) for i in self.issues[:5])
        more = f" (and {len(self.issues) - 5} more)" if len(self.issues) > 5 else ""
        super().__init__(f"{len(self.issues)} problem(s): {head}{more}")

    @classmethod
    def for_request(cls, field: str | None, reason: object) -> ValidationError:
        """A request refused for one reason (an exception is taken for its message),
        naming the field: the one way every layer raises a request validation error."""
        return cls([ValidationIssue("request", None, field, str(reason))])


class NotFoundError(LookupError):
    """A requested entity (grid, building, route...) does not exist."""

    code = "not_found"


class ConflictError(RuntimeError):
    """A write based on an outdated version; nothing was written."""

    code = "conflict"


class ForbiddenError(PermissionError):
    """The reader may not see or change this (outside their area, or not their role)."""

    code = "forbidden"
