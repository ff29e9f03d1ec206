"""Why a spreadsheet export's values break the contract, and how to fix the export.

Exports from spreadsheets and social-media tools write numbers and dates for people:
`8,200`, `8.2K`, `$120`, `12,5`, `25/03/2026`. The contract takes none of them, and
validation never reinterprets them (is `8.2K` 8,200 or 8,249?): it names the likely
cause and the fix. Day-first dates are the one exception, read when the user says so
(`--dayfirst`, `ReadOptions.dayfirst`), since the user then knows which is the day.
"""

from __future__ import annotations

import re

import pandas as pd

from features.contract import Kind

__all__ = ["DAY_FIRST_FORMATS", "likely_cause", "read_day_first"]

_MAX_LOOKED_AT = 1000  # offending values inspected for a cause; enough to see each kind

_NUMBER_CAUSES: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$"),
        "thousands separators ({value}): export the numbers without them ({plain})",
    ),
    (
        re.compile(r"^[+-]?\d+([.,]\d+)?\s*[kKmMbB]$"),
        "abbreviated numbers ({value}): export the full numbers (K and M are not read: "
        "8.2K may stand for anything from 8,150 to 8,249)",
    ),
    (
        re.compile(r"^[+-]?\s*[$€£¥]|[$€£¥]\s*$|^[A-Z]{3}\s*\d|\d\s*[A-Z]{3}$"),
        "currency symbols ({value}): export plain numbers ({plain}), one currency per column",
    ),
    (
        re.compile(r"^[+-]?\d+,\d+$"),
        "decimal commas ({value}): export numbers with a decimal point ({point})",
    ),
)
_SLASHED_DATE = re.compile(r"^\s*(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})")

DAY_FIRST_FORMATS = ("%d/%m/%Y", "%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S")
"""What `--dayfirst` reads (with `/`, `.` or `-` between day, month and year), as UTC."""


def likely_cause(kind: Kind, offending: pd.Series, dayfirst: bool = False) -> str:
    """The likely causes of `offending` values of a `kind` column and their fixes, or "".

    Takes the cells that failed to parse (as read) and whether day-first dates were
    read; returns the causes found, each with one example value, joined by "; or ".
    """
    texts = [str(v).strip() for v in offending.iloc[:_MAX_LOOKED_AT]]
    if kind in (Kind.COUNT, Kind.AMOUNT):
        return "; or ".join(_number_causes(texts))
    if kind is Kind.TIMESTAMP and not dayfirst:
        return _date_cause(texts)
    return ""


def _number_causes(texts: list[str]) -> list[str]:
    """One cause per kind found, each value counted under the first kind it matches
    (`8,200` is a thousands separator, not a decimal comma)."""
    examples: dict[int, str] = {}
    for text in texts:
        kind = next((i for i, (p, _) in enumerate(_NUMBER_CAUSES) if p.search(text)), None)
        if kind is not None:
            examples.setdefault(kind, text)
    causes = []
    for kind in sorted(examples):
        example = examples[kind]
        plain = re.sub(r"[^\d.,+-]", "", example).replace(",", "")
        point = example.replace(",", ".")
        causes.append(_NUMBER_CAUSES[kind][1].format(value=example, plain=plain, point=point))
    return causes


def _date_cause(texts: list[str]) -> str:
    dated = [t for t in texts if _SLASHED_DATE.match(t)]
    day_first = read_day_first(pd.Series(dated, dtype="string"))
    readable = [t for t, ok in zip(dated, day_first.notna(), strict=True) if ok]
    if not readable:  # 31/02/2025 is no date either way round
        return ""
    days = [t for t in readable if int(t.lstrip().split("/")[0].split(".")[0].split("-")[0]) > 12]
    if days:
        return (
            f"day-first dates ({days[0]}): pass --dayfirst to read them as day/month/year, "
            "or export ISO-8601 dates (2026-03-25)"
        )
    return (
        f"dates with the day or month first ({readable[0]}): export ISO-8601 dates "
        "(2026-03-25), or pass --dayfirst if the day comes first"
    )


def read_day_first(raw: pd.Series) -> pd.Series:
    """Day-first dates (`25/03/2026`, `25.03.2026 14:30`) in `raw` as UTC timestamps, else NaT."""
    text = raw.astype("string").str.strip()
    unified = text.str.replace(r"^(\d{1,2})[.-](\d{1,2})[.-](\d{4})", r"\1/\2/\3", regex=True)
    parsed = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[us, UTC]")
    for fmt in DAY_FIRST_FORMATS:
        found = pd.to_datetime(unified, format=fmt, errors="coerce", utc=True)
        parsed = parsed.fillna(found.dt.as_unit("us"))
    return parsed
