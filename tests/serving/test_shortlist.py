"""The shortlist reader (serving/shortlist.py) on bytes as spreadsheets export them."""

from __future__ import annotations

import pandas as pd
import pytest

from serving.errors import ShortlistError
from serving.scoring import CandidateIn
from serving.shortlist import read_shortlist


def test_a_spreadsheet_export_is_read_as_meant() -> None:
    data = "\ufeffAccount ID ; Cost;Posted At;Notes\r\na1;1,250.50;2026-01-03;x\r\na2;;;y\r\n"
    assert read_shortlist(data.encode(), "Shortlist.csv", 10) == [
        CandidateIn("a1", 1250.5, pd.Timestamp("2026-01-03", tz="UTC")),
        CandidateIn("a2", None),
    ]


def test_day_first_dates_are_read_when_asked() -> None:
    data = b"account_id,cost,posted_at\na1,10,25/03/2026\n"
    got = read_shortlist(data, "s.csv", 10, dayfirst=True)
    assert got[0].posted_at == pd.Timestamp("2026-03-25", tz="UTC")


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (
            b"name,cost\nx,1\n",
            "s.csv, column 'account_id': missing; a shortlist needs it (the file's headers: "
            "'name', 'cost').",
        ),
        (
            b"account_id\na\nb\nc\nd\n",
            "s.csv: has 4 rows; a shortlist may have at most 3 candidates, so split it, or "
            "leave it out to discover among every known account.",
        ),
        (b"", "s.csv: is empty; expected a header line and rows."),
        (
            b"account_id,cost\na,0\nb,0.001\n",
            "s.csv, column 'cost': costs below a cent (0.01; leave a cell empty for the model to "
            "price it) in 2 rows: '0' on line 2, '0.001' on line 3.",
        ),
    ],
)
def test_a_shortlist_that_cannot_be_used_says_why(data: bytes, problem: str) -> None:
    with pytest.raises(ShortlistError, match=r"^The shortlist cannot be used") as raised:
        read_shortlist(data, "s.csv", 3)
    assert [str(p) for p in raised.value.problems] == [problem]
    assert str(raised.value).endswith(f"1 problem:\n  - {problem}")
    assert raised.value.status_code == 422
    assert raised.value.exit_code == 2


def test_unknown_accounts_are_named_with_the_other_problems() -> None:
    data = b"account_id,cost\nknown,abc\nghost,5\n"
    with pytest.raises(ShortlistError, match="2 problems") as raised:
        read_shortlist(data, "s.csv", 10, known=lambda a: a == "known")
    assert [str(p) for p in raised.value.problems] == [
        "s.csv, column 'account_id': accounts the served data does not hold in 1 row: 'ghost' "
        "on line 3.",
        "s.csv, column 'cost': values that are not a number >= 0 in 1 row: 'abc' on line 2.",
    ]
