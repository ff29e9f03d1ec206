"""How results speak of cost: "per unit cost", or in the brand's currency, "per EUR".

Costs are numbers in whatever currency the placements' `cost` column was exported in;
the library never converts them. When the currency is configured (`INFLUENCE_CURRENCY`,
or `--currency` on `train`, `promote` and `compare`), every text that speaks of cost
names it: "clicks per EUR" where it would say "clicks per unit cost", "EUR per click"
for "cost per click", "6.49 EUR" for an amount. Not configured, the texts are those
they always were. Numbers, metric keys and file columns never change: only words do.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MAX_CURRENCY", "CostUnit", "check_currency", "one_action"]

MAX_CURRENCY = 8
"""The longest currency accepted: a code (EUR, USDT), a symbol (€, R$) or a short word."""


def one_action(target: str) -> str:
    """One of what a target counts, for "cost per ...": "click" for clicks, "unit of revenue"."""
    return {"revenue": "unit of revenue"}.get(target, target.removesuffix("s"))


def check_currency(text: str | None) -> str | None:
    """The currency as it will be shown (blanks around it dropped), or None for none.

    Raises ValueError with a plain sentence for text that cannot stand in "clicks per
    ___": empty, with spaces inside, or longer than `MAX_CURRENCY` characters.
    """
    if text is None:
        return None
    shown = text.strip()
    if not shown or len(shown) > MAX_CURRENCY or any(c.isspace() for c in shown):
        raise ValueError(
            "The currency must be a code or symbol such as EUR, USD or €, at most "
            f"{MAX_CURRENCY} characters without spaces; got {text!r}"
        )
    return shown


@dataclass(frozen=True)
class CostUnit:
    """The words for cost in results: `currency` (EUR) when configured, else "unit cost".

    Built with `CostUnit.of(text)`, which checks the text (`check_currency`).
    """

    currency: str | None = None

    @classmethod
    def of(cls, text: str | None) -> CostUnit:
        """The unit for a configured currency (None: none); ValueError for unusable text."""
        return cls(check_currency(text))

    def per(self, unnamed: str = "unit cost") -> str:
        """The phrase "per EUR", or "per unit cost" (`unnamed` where a table says "per cost")."""
        return f"per {self.currency or unnamed}"

    def cost_per(self, target: str) -> str:
        """The phrase "EUR per click", or "cost per click"."""
        return f"{self.currency or 'cost'} per {one_action(target)}"

    def amount(self, number: str) -> str:
        """A formatted amount with its currency ("6.49 EUR"), or the number alone."""
        return f"{number} {self.currency}" if self.currency else number
