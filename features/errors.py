"""Errors of the features layer: problems with input data or with feature state."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["DataContractError", "FeaturesError", "NotFittedError", "Problem"]

_MAX_ROWS_SHOWN = 5


@dataclass(frozen=True)
class Problem:
    """One broken rule of the data contract, located in a file, a column and rows.

    `rows` holds the 0-based positions of the first offending rows (at most five)
    and `count` how many rows break the rule in all. In a CSV file they are shown
    as line numbers (the header is line 1, as a spreadsheet numbers rows); in a
    Parquet file as 1-based row numbers.
    """

    file: str
    column: str | None
    message: str
    rows: tuple[int, ...] = ()
    count: int = 0
    warning: bool = False

    def __str__(self) -> str:
        where = self.file if self.column is None else f"{self.file}, column {self.column!r}"
        if not self.count:
            return f"{where}: {self.message}."
        noun = "row" if self.count == 1 else "rows"
        if self.file.endswith(".csv"):
            label = "line" if len(self.rows) == 1 else "lines"
            shown = ", ".join(str(r + 2) for r in self.rows[:_MAX_ROWS_SHOWN])
        else:
            label = "row" if len(self.rows) == 1 else "rows"
            shown = ", ".join(str(r + 1) for r in self.rows[:_MAX_ROWS_SHOWN])
        more = ", ..." if self.count > len(self.rows) else ""
        return f"{where}: {self.message} in {self.count} {noun} ({label} {shown}{more})."


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
