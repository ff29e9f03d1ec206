"""Find a table's file in a data directory and read it as exported: CSV, Parquet or .xlsx.

Spreadsheet exports stray from the contract's letter in ways that say nothing about
the data: `Posts.csv` for `posts.csv`, semicolons or tabs between the cells, a
workbook instead of a CSV. Each is read, with a note (a warning) saying how; what
cannot be read unambiguously (two files that could be the table, lines that disagree
on the delimiter, text that is not UTF-8) is one problem saying how to fix the export.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from features.errors import Problem, Rule
from features.workbook import read_workbook

__all__ = ["FORMATS", "Located", "locate_table", "read_csv_bytes", "read_export"]

FORMATS = (".csv", ".parquet", ".xlsx")
"""The file formats a table may come in, in the order error messages name them."""

_DELIMITERS = {";": "semicolons (;)", "\t": "tabs", "|": "vertical bars (|)"}
_BOMS = {b"\xff\xfe": "UTF-16", b"\xfe\xff": "UTF-16"}
_UTF8_BOM = b"\xef\xbb\xbf"
_EXCEL_UTF8 = 'in Excel: File > Save As, file format "CSV UTF-8 (Comma delimited)"'


@dataclass(frozen=True)
class Located:
    """Where a table's file is (`path`), or why it is not (`problem`); `note` warns of a
    file found under a name that differs from the contract's only in case."""

    path: Path | None
    problem: Problem | None = None
    note: Problem | None = None


def locate_table(data_dir: Path, name: str) -> Located:
    """The file holding the table `name` in `data_dir`: `NAME.csv`, `.parquet` or `.xlsx`.

    Names are matched without regard to case (`Posts.csv`, with a note); two files
    that could both be the table are a problem naming them.
    """
    wanted = {f"{name}{suffix}" for suffix in FORMATS}
    try:
        candidates = sorted(p for p in data_dir.iterdir() if p.name.lower() in wanted)
        for path in candidates:  # a folder one may list but not search lists names only
            path.stat()
    except OSError as e:  # a folder this user may not search: one sentence, not a traceback
        msg = f"cannot be looked up in {data_dir}: {e.strerror or type(e).__name__}"
        return Located(None, Problem(f"{name}.csv", None, msg, rule=Rule.UNSEARCHABLE_DIRECTORY))
    if not candidates:
        expected = ", ".join(f"{name}{s}" for s in FORMATS[:-1]) + f" or {name}{FORMATS[-1]}"
        msg = f"missing from {data_dir}; expected {expected}"
        return Located(None, Problem(f"{name}.csv", None, msg, rule=Rule.MISSING_TABLE))
    if len(candidates) > 1:
        names = [p.name for p in candidates]
        listed = ", ".join(names[:-1]) + f" and {names[-1]}"
        msg = (
            f"{'both' if len(names) == 2 else 'all of'} {listed} exist in {data_dir}; keep only one"
        )
        return Located(None, Problem(f"{name}.csv", None, msg, rule=Rule.TWO_FORMATS))
    path = candidates[0]
    if path.name in wanted:
        return Located(path)
    msg = f"read as the {name} table; the contract names it {path.name.lower()}"
    note = Problem(path.name, None, msg, warning=True, rule=Rule.FILE_NAME_CASE)
    return Located(path, note=note)


def read_export(
    path: Path, table: str
) -> tuple[pd.DataFrame | None, Problem | None, list[Problem]]:
    """Read one table's file as raw text columns (CSV), typed columns (Parquet) or cells (.xlsx).

    Returns the frame, or a problem saying why the file cannot be read at all (empty,
    not UTF-8, mixed delimiters, no sheet for `table`, not a file of its kind), and the
    notes on what was read in a way the contract does not spell out. Never raises for a
    bad file.
    """
    suffix = path.suffix.lower()
    kind = {".parquet": "Parquet", ".xlsx": "an Excel workbook"}.get(suffix, "CSV")
    try:
        if suffix == ".parquet":
            return pd.read_parquet(path), None, []
        if suffix == ".xlsx":
            frame, problem = read_workbook(path, table)
            return frame, problem, []
        return read_csv_bytes(path.read_bytes(), path.name)
    except PermissionError as e:
        msg = f"cannot be read: {e.strerror or 'permission denied'}; let this user read it"
        return None, Problem(path.name, None, msg, rule=Rule.UNREADABLE_FILE), []
    except (pd.errors.ParserError, ValueError, OSError, KeyError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        msg = f"cannot be read as {kind}: {first}"
        return None, Problem(path.name, None, msg, rule=Rule.UNREADABLE_FILE), []


def read_csv_bytes(
    data: bytes, file: str
) -> tuple[pd.DataFrame | None, Problem | None, list[Problem]]:
    """A CSV export's bytes as raw text columns, as `read_export` reads a CSV file.

    Takes the bytes and the name problems give the file (an upload has no path). A UTF-8
    byte order mark is skipped and `;`, tab or `|` delimiters are read with a note; what
    cannot be read (empty, not UTF-8, mixed delimiters) is the problem returned instead.
    """
    text, problem = _decode(data, file)
    if problem is not None:
        return None, problem, []
    if not text.strip():
        msg = "is empty; expected a header line and rows"
        return None, Problem(file, None, msg, rule=Rule.EMPTY_FILE), []
    sep, problem, notes = _delimiter(text, file)
    if problem is not None:
        return None, problem, []
    frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False)
    # pandas renames a repeated header ("followers", "followers.1"); the contract's check
    # must see the export's own headers to say that one is there twice.
    header = next(csv.reader(io.StringIO(text), delimiter=sep))
    if len(header) == frame.shape[1] and len(set(header)) < len(header):
        frame.columns = pd.Index(header)
    return frame, None, notes


def _decode(data: bytes, file: str) -> tuple[str, Problem | None]:
    """The file's text, or where it stops being UTF-8 (the byte offset and line in the file)."""
    for bom, encoding in _BOMS.items():
        if data.startswith(bom):
            msg = f"is {encoding} text, not UTF-8; re-save it as UTF-8 ({_EXCEL_UTF8})"
            return "", Problem(file, None, msg, rule=Rule.NOT_UTF8)
    skip = len(_UTF8_BOM) if data.startswith(_UTF8_BOM) else 0
    try:
        return data[skip:].decode("utf-8"), None
    except UnicodeDecodeError as e:
        offset = skip + e.start
    line = data.count(b"\n", 0, offset) + 1
    byte = data[offset]
    if b"\x00" in data[:1000]:
        looks = "it looks like UTF-16"
    else:
        looks = f"it looks like Windows-1252, where 0x{byte:02X} is {_cp1252(byte)!r}"
    msg = (
        f"is not UTF-8 text (byte 0x{byte:02X} at byte offset {offset}, line {line}); "
        f"{looks}: re-save it as UTF-8 ({_EXCEL_UTF8})"
    )
    return "", Problem(file, None, msg, rule=Rule.NOT_UTF8)


def _cp1252(byte: int) -> str:
    return bytes([byte]).decode("cp1252", errors="replace")


def _delimiter(text: str, file: str) -> tuple[str, Problem | None, list[Problem]]:
    """The delimiter the header uses: commas unless it has none and uses `;`, tab or `|`.

    Another delimiter is read, with a note, when every line has as many fields as the
    header; otherwise it is one problem naming the delimiter and the first lines off.
    """
    header = text.split("\n", 1)[0]
    counts = {d: header.count(d) for d in _DELIMITERS}
    sep = max(counts, key=lambda d: counts[d])
    if "," in header or not counts[sep]:
        return ",", None, []
    reader = csv.reader(io.StringIO(text), delimiter=sep)
    width = 0
    off: list[int] = []
    for fields in reader:
        if not fields:
            continue
        width = width or len(fields)
        if len(fields) != width:
            off.append(reader.line_num)
    named = _DELIMITERS[sep]
    if off:
        lines = ", ".join(map(str, off[:5])) + (", ..." if len(off) > 5 else "")
        noun = "line" if len(off) == 1 else "lines"
        msg = (
            f"is delimited by {named}, but {len(off)} {noun} ({lines}) have another number "
            f"of fields than the header's {width}; export it again with one delimiter"
        )
        return sep, Problem(file, None, msg, rule=Rule.MIXED_DELIMITERS), []
    msg = f"is delimited by {named}, not commas; read as such"
    return sep, None, [Problem(file, None, msg, warning=True, rule=Rule.OTHER_DELIMITER)]
