"""Errors of the features layer: problems with input data or with feature state."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum

__all__ = ["DataContractError", "FeaturesError", "NotFittedError", "Problem", "Rule"]

_MAX_ROWS_SHOWN = 5
_SPREADSHEETS = (".xlsx",)


class Rule(StrEnum):
    """Which rule of the data contract a `Problem` breaks: a stable name, never shown to users.

    Code that orders, groups or sorts problems looks at the rule (and the file and the
    column), never at the message, whose wording is for people and may change.
    """

    # The data directory and its files (`features.io`).
    NOT_A_DIRECTORY = "not_a_directory"
    UNSEARCHABLE_DIRECTORY = "unsearchable_directory"
    MISSING_TABLE = "missing_table"
    TWO_FORMATS = "two_formats"
    EMPTY_FILE = "empty_file"
    NOT_UTF8 = "not_utf8"
    UNREADABLE_FILE = "unreadable_file"
    MIXED_DELIMITERS = "mixed_delimiters"
    NO_SHEET = "no_sheet"
    COLUMNS_FILE = "columns_file"
    # A header two export columns could both be (`features.headers`).
    AMBIGUOUS_COLUMN = "ambiguous_column"
    # One table's columns and rows (`features.validate.coerce_table`).
    MISSING_COLUMN = "missing_column"
    EMPTY_CELLS = "empty_cells"
    WRONG_TYPE = "wrong_type"
    NEGATIVE = "negative"
    FRACTIONAL = "fractional"
    DUPLICATE_ROW = "duplicate_row"
    DUPLICATE_ID = "duplicate_id"
    # Across tables (`features.validate.check_references`).
    UNKNOWN_REFERENCE = "unknown_reference"
    # Warnings: the data is valid, but a result may mislead.
    THIN_HISTORY = "thin_history"
    DATED_AFTER_NOW = "dated_after_now"
    # Notes: an export read although it strays from the contract's letter (`features.files`).
    OTHER_DELIMITER = "other_delimiter"
    FILE_NAME_CASE = "file_name_case"


@dataclass(frozen=True)
class Problem:
    """One broken rule of the data contract, located in a file, a column and rows.

    `rows` holds the 0-based positions of the first offending rows (at most five)
    and `count` how many rows break the rule in all. In a CSV file they are shown
    as line numbers (the header is line 1, as a spreadsheet numbers rows); in a
    Parquet file as 1-based row numbers; in a workbook (`.xlsx`) as the sheet's own row
    numbers (the header is row 1). `values` holds the offending cells of the first rows
    (at most three, as text) and `hint` the likely cause and its fix, both shown after
    the rows. `rule` names the rule broken; it is not part of what users read
    (`str(problem)`), and every place that creates a problem sets it.
    """

    file: str
    column: str | None
    message: str
    rows: tuple[int, ...] = ()
    count: int = 0
    warning: bool = False
    rule: Rule = field(kw_only=True)
    values: tuple[str, ...] = field(default=(), kw_only=True)
    hint: str = field(default="", kw_only=True)

    def with_cells(self, values: tuple[str, ...], hint: str) -> Problem:
        """This problem showing the offending `values` and their likely cause `hint`."""
        return replace(self, values=values, hint=hint)

    def _number(self, row: int) -> tuple[str, int]:
        """The word and number users see for a 0-based row: line, sheet row or row."""
        name = self.file.lower()
        if name.endswith(".csv"):
            return "line", row + 2
        if name.endswith(_SPREADSHEETS):
            return "row", row + 2
        return "row", row + 1

    def __str__(self) -> str:
        where = self.file if self.column is None else f"{self.file}, column {self.column!r}"
        hint = f"; likely {self.hint}" if self.hint else ""
        if not self.count:
            return f"{where}: {self.message}{hint}."
        noun = "row" if self.count == 1 else "rows"
        numbered = [self._number(r) for r in self.rows[:_MAX_ROWS_SHOWN]]
        more = ", ..." if self.count > len(self.rows) else ""
        if not self.values:
            return (
                f"{where}: {self.message} in {self.count} {noun} ({_lines(numbered)}{more}){hint}."
            )
        shown = len(self.values)
        cells = ", ".join(
            f"{v!r} on {w} {n}" for v, (w, n) in zip(self.values, numbered, strict=False)
        )
        rest = ""
        if self.count > shown:
            listed = f" ({_lines(numbered[shown:])}{more})" if numbered[shown:] else ""
            rest = f", and {self.count - shown} more{listed}"
        return f"{where}: {self.message} in {self.count} {noun}: {cells}{rest}{hint}."


def _lines(numbered: list[tuple[str, int]]) -> str:
    """`line 4` or `lines 4, 9`: the word of the first, plural when there are several."""
    if not numbered:
        return "rows"
    label = numbered[0][0] + ("" if len(numbered) == 1 else "s")
    return f"{label} {', '.join(str(n) for _, n in numbered)}"


class FeaturesError(Exception):
    """Base class of every error the features layer raises on purpose."""

    exit_code = 1


@dataclass
class DataContractError(FeaturesError, ValueError):
    """The input tables break the data contract; `problems` lists every broken rule."""

    problems: list[Problem] = field(default_factory=list)
    exit_code = 2

    def __str__(self) -> str:
        n = len(self.problems)
        head = f"The data breaks the contract in {n} place{'s' if n != 1 else ''}"
        return head + ":\n" + "\n".join(f"  - {p}" for p in self.problems)


class NotFittedError(FeaturesError, ValueError, AttributeError):
    """Feature state was used before `fit` (subclasses what scikit-learn users catch)."""
