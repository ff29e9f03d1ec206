"""The data contract: the four tables a data directory holds, their columns and types.

This module is the single declaration of the public input format. Validation
(`features.validate`), loading (`features.io`), the simulator and the feature
builders all read column names from here, never from string literals of their own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "OUTCOMES",
    "TABLES",
    "Column",
    "Kind",
    "TableSpec",
    "in_outcome_order",
]


class Kind(StrEnum):
    """The type a column must hold, as the contract states it."""

    STRING = "string"
    TIMESTAMP = "timestamp"
    COUNT = "count"  # an integer >= 0
    AMOUNT = "amount"  # a float >= 0
    BOOL = "bool"

    @property
    def expected(self) -> str:
        """Words for error messages: what a value of this kind looks like."""
        return {
            Kind.STRING: "a non-empty string",
            Kind.TIMESTAMP: "an ISO-8601 timestamp such as 2025-03-01T12:00:00Z",
            Kind.COUNT: "a whole number >= 0",
            Kind.AMOUNT: "a number >= 0",
            Kind.BOOL: "true or false",
        }[self]


@dataclass(frozen=True)
class Column:
    """One column of a table.

    `required` columns must be present in the file; `nullable` columns may have
    empty cells (an optional column, when present, is always nullable).
    """

    name: str
    kind: Kind
    required: bool = True
    nullable: bool = False


@dataclass(frozen=True)
class TableSpec:
    """One table of the contract: its name, its columns and its unique key."""

    name: str
    columns: tuple[Column, ...]
    key: str

    def column(self, name: str) -> Column:
        """Return the column called `name`; KeyError if the contract has none."""
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        """All contract column names, required and optional, in contract order."""
        return [c.name for c in self.columns]


OUTCOMES: tuple[str, ...] = ("clicks", "referrals", "conversions", "revenue")
"""The downstream actions a placement can cause, in the order reports show them."""


def in_outcome_order(names: Iterable[str]) -> tuple[str, ...]:
    """`names` in the order of `OUTCOMES` (anything else after them, as given).

    The one order in which every table, plot, file and answer lists targets, whatever
    order they were asked for in (`--targets conversions,clicks` shows clicks first),
    so that two runs' outputs line up.
    """
    given = list(dict.fromkeys(names))
    return (*(o for o in OUTCOMES if o in given), *(n for n in given if n not in OUTCOMES))


ACCOUNTS = TableSpec(
    name="accounts",
    key="account_id",
    columns=(
        Column("account_id", Kind.STRING),
        Column("platform", Kind.STRING, required=False, nullable=True),
        Column("created_at", Kind.TIMESTAMP, required=False, nullable=True),
    ),
)

POSTS = TableSpec(
    name="posts",
    key="post_id",
    columns=(
        Column("post_id", Kind.STRING),
        Column("account_id", Kind.STRING),
        Column("posted_at", Kind.TIMESTAMP),
        Column("followers", Kind.COUNT),
        Column("following", Kind.COUNT, required=False, nullable=True),
        Column("likes", Kind.COUNT),
        Column("comments", Kind.COUNT),
        Column("shares", Kind.COUNT),
        Column("views", Kind.COUNT, required=False, nullable=True),
        Column("text", Kind.STRING, required=False, nullable=True),
        Column("sponsored", Kind.BOOL, required=False, nullable=True),
    ),
)

CAMPAIGNS = TableSpec(
    name="campaigns",
    key="campaign_id",
    columns=(
        Column("campaign_id", Kind.STRING),
        Column("brand", Kind.STRING),
        Column("topic", Kind.STRING),
        Column("starts_at", Kind.TIMESTAMP, required=False, nullable=True),
    ),
)

PLACEMENTS = TableSpec(
    name="placements",
    key="placement_id",
    columns=(
        Column("placement_id", Kind.STRING),
        Column("campaign_id", Kind.STRING),
        Column("account_id", Kind.STRING),
        Column("posted_at", Kind.TIMESTAMP),
        Column("cost", Kind.AMOUNT),
        Column("clicks", Kind.COUNT, required=False, nullable=True),
        Column("referrals", Kind.COUNT, required=False, nullable=True),
        Column("conversions", Kind.COUNT, required=False, nullable=True),
        Column("revenue", Kind.AMOUNT, required=False, nullable=True),
        Column("arm", Kind.STRING, required=False, nullable=True),
    ),
)

TABLES: dict[str, TableSpec] = {t.name: t for t in (ACCOUNTS, POSTS, CAMPAIGNS, PLACEMENTS)}
"""Every table of a data directory, by name, in the order they are validated."""
