"""One column's cells parsed as the contract's kind: what `features.validate` checks.

Strings are stripped, timestamps read as ISO-8601 in UTC (or day-first when the user
says the export writes dates so), counts and amounts as float64, booleans from the
usual words. A cell that does not parse is flagged, never guessed at.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.causes import read_day_first
from features.contract import Column, Kind

__all__ = ["TIMESTAMP_DTYPE", "empty_column", "missing_cells", "parse_column"]

TIMESTAMP_DTYPE = "datetime64[us, UTC]"

_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


def missing_cells(raw: pd.Series) -> pd.Series:
    """Empty cells: NaN/None, or strings that are blank."""
    missing = raw.isna()
    if raw.dtype == object or pd.api.types.is_string_dtype(raw):
        missing |= raw.astype("string").str.strip().fillna("") == ""
    return missing.astype(bool)


def parse_column(
    col: Column, raw: pd.Series, dayfirst: bool = False
) -> tuple[pd.Series, pd.Series, str]:
    """Parse one column; return the typed values, a mask of unparseable cells and why.

    With `dayfirst`, timestamps that are not ISO-8601 are read as day/month/year
    (`features.causes.DAY_FIRST_FORMATS`); ISO-8601 cells read the same either way.
    """
    missing = missing_cells(raw)
    if col.kind is Kind.STRING:
        values = raw.astype("string").str.strip().astype(object)
        values = values.where(~missing, None)
        return values, pd.Series(False, index=raw.index), ""
    if col.kind is Kind.TIMESTAMP:
        parsed = pd.to_datetime(raw, errors="coerce", utc=True, format="ISO8601")
        if pd.api.types.is_datetime64_any_dtype(parsed):
            parsed = parsed.dt.as_unit("us")
        else:  # every cell unparseable: to_datetime may hand back objects
            parsed = pd.Series(pd.NaT, index=raw.index, dtype=TIMESTAMP_DTYPE)
        if dayfirst:
            unread = parsed.isna() & ~missing
            if unread.any():
                parsed = parsed.where(~unread, read_day_first(raw.where(unread, "")))
        return parsed, parsed.isna() & ~missing, "values that are not " + col.kind.expected
    if col.kind is Kind.BOOL:
        if pd.api.types.is_bool_dtype(raw):
            return raw.astype("boolean"), pd.Series(False, index=raw.index), ""
        text = raw.astype("string").str.strip().str.lower()
        values = pd.Series(pd.NA, index=raw.index, dtype="boolean")
        values[text.isin(_TRUE).fillna(False).astype(bool)] = True
        values[text.isin(_FALSE).fillna(False).astype(bool)] = False
        return values, values.isna() & ~missing, "values that are not " + col.kind.expected
    # COUNT and AMOUNT: numbers
    if pd.api.types.is_bool_dtype(raw):
        raw = raw.astype("string")
    numbers = pd.to_numeric(raw, errors="coerce").astype("float64")
    bad = (numbers.isna() | ~np.isfinite(numbers.fillna(0.0))) & ~missing
    return numbers.where(~bad), bad, "values that are not " + col.kind.expected


def empty_column(col: Column, n: int) -> pd.Series:
    """An absent optional column as `coerce_table` returns it: n missing values of its kind."""
    if col.kind is Kind.TIMESTAMP:
        return pd.Series(pd.NaT, index=range(n), dtype=TIMESTAMP_DTYPE)
    if col.kind is Kind.BOOL:
        return pd.Series(pd.NA, index=range(n), dtype="boolean")
    if col.kind is Kind.STRING:
        return pd.Series(None, index=range(n), dtype=object)
    return pd.Series(np.nan, index=range(n), dtype="float64")
