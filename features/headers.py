"""Match an export's headers to the contract's column names, and the options of a read.

Exports name columns for people: `Followers`, ` followers`, `Account ID`, `Posted At`.
A header matches a contract column when both read the same once case, spaces and
punctuation are set aside (`normalize`); other names are mapped in a TOML file
(`--columns map.toml`, docs/data-contract.md): one table per contract table, each
line `contract_column = "Export header"`. Two headers that could be one column are a
problem naming both: which one holds the data is the user's call, not a guess.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from features.contract import TABLES, TableSpec
from features.errors import DataContractError, Problem, Rule

__all__ = ["ReadOptions", "match_headers", "normalize", "read_options"]


@dataclass(frozen=True)
class ReadOptions:
    """How a data directory's exports are read: every command that reads one takes this.

    `columns` maps, per table, contract columns to the export's own headers (from
    `--columns`, `columns_file` naming the file in messages); `dayfirst` reads dates
    such as 25/03/2026 as day/month/year (`--dayfirst`). The default reads the
    contract as written, headers matched without regard to case, spaces or punctuation.
    """

    columns: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    dayfirst: bool = False
    columns_file: str = ""


def normalize(header: object) -> str:
    """A header as a contract name: lower case, runs of anything else than letters and
    digits as one `_`, none at either end (`" Posted At"` -> `posted_at`)."""
    return re.sub(r"[^0-9a-z]+", "_", str(header).strip().lower()).strip("_")


def read_options(columns_file: Path | None = None, dayfirst: bool = False) -> ReadOptions:
    """The read options of a command line: the mapping file (None: none) and `--dayfirst`.

    Raises DataContractError listing every problem of the file (not TOML, a table or
    column the contract does not have, a header that is not text).
    """
    if columns_file is None:
        return ReadOptions(dayfirst=dayfirst)
    file = str(columns_file)
    try:
        parsed = tomllib.loads(Path(columns_file).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        why = getattr(e, "strerror", None) or str(e).splitlines()[0]
        msg = f"cannot be read as a TOML column mapping: {why}"
        raise DataContractError([Problem(file, None, msg, rule=Rule.COLUMNS_FILE)]) from e
    problems: list[Problem] = []
    columns: dict[str, dict[str, str]] = {}
    for table, mapping in parsed.items():
        if table not in TABLES or not isinstance(mapping, dict):
            known = ", ".join(f"[{t}]" for t in TABLES)
            msg = f"has [{table}], which is not a table of the contract; expected {known}"
            problems.append(Problem(file, None, msg, rule=Rule.COLUMNS_FILE))
            continue
        for column, header in mapping.items():
            if column not in TABLES[table].names:
                msg = f"maps {column!r}, which is not a column of {table}"
                problems.append(Problem(file, f"{table}.{column}", msg, rule=Rule.COLUMNS_FILE))
            elif not isinstance(header, str) or not header.strip():
                msg = f"maps {column!r} to {header!r}; expected the export's header, as text"
                problems.append(Problem(file, f"{table}.{column}", msg, rule=Rule.COLUMNS_FILE))
            else:
                columns.setdefault(table, {})[column] = header
    if problems:
        raise DataContractError(problems)
    return ReadOptions(columns=columns, dayfirst=dayfirst, columns_file=file)


def match_headers(
    spec: TableSpec, raw: pd.DataFrame, file: str, options: ReadOptions
) -> tuple[pd.DataFrame, list[Problem]]:
    """`raw` with the headers that match contract columns renamed to them, and the problems.

    A column mapped in `options.columns` is the header named there (matched as
    `normalize` reads it); any other is the header that normalizes to its name. A mapped
    header the file lacks, or two headers for one column, is a problem; the first of two
    is still read as the column, so that its values are checked in the same pass.
    """
    mapped = options.columns.get(spec.name, {})
    headers = [str(h) for h in raw.columns]
    taken: dict[int, str] = {}  # by position: an export may repeat a header word for word
    problems: list[Problem] = []
    for column in spec.names:
        wanted = normalize(mapped.get(column, column))
        hits = [i for i, h in enumerate(headers) if normalize(h) == wanted and i not in taken]
        if column in mapped and not hits:
            msg = (
                f"missing; {options.columns_file} maps it to {mapped[column]!r}, which is not "
                f"a header of this file (its headers: {', '.join(map(repr, headers))})"
            )
            problems.append(Problem(file, column, msg, rule=Rule.MISSING_COLUMN))
            continue
        if len(hits) > 1:
            first, second = (headers[i] for i in hits[:2])
            if first == second:  # the same header twice: say where
                both = f"{first!r} twice (columns {hits[0] + 1} and {hits[1] + 1})"
                msg = f"the header is {both}; rename or remove one"
            else:
                msg = (
                    f"two headers could be it, {first!r} and {second!r}; rename or remove "
                    "one, or map the right one with --columns"
                )
            problems.append(Problem(file, column, msg, rule=Rule.AMBIGUOUS_COLUMN))
        if hits:
            taken[hits[0]] = column
    names = [taken.get(i, h) for i, h in enumerate(headers)]
    if names == list(raw.columns) and len(set(names)) == len(names):
        return raw, problems
    # A header not taken that is a contract name (a mapping chose another, or it repeats
    # one) steps aside, so that each contract column is one column.
    names = [
        taken.get(i, f"{h} (not mapped)" if h in spec.names else h) for i, h in enumerate(headers)
    ]
    return raw.set_axis(names, axis=1), problems
