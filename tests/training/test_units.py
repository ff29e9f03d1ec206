"""The words for cost: unchanged without a currency, the currency's name with one."""

from __future__ import annotations

import pytest

from training.errors import TrainingError
from training.settings import TrainingSettings
from training.units import CostUnit, check_currency


def test_without_a_currency_results_say_unit_cost() -> None:
    unit = CostUnit.of(None)
    assert (unit.per(), unit.per("cost")) == ("per unit cost", "per cost")
    assert (unit.cost_per("clicks"), unit.cost_per("revenue")) == (
        "cost per click",
        "cost per unit of revenue",
    )
    assert unit.amount("6.49") == "6.49"


def test_a_currency_names_every_cost() -> None:
    unit = CostUnit.of(" EUR ")
    assert (unit.per(), unit.per("cost")) == ("per EUR", "per EUR")
    assert (unit.cost_per("conversions"), unit.amount("6.49")) == ("EUR per conversion", "6.49 EUR")
    assert CostUnit.of("R$").per() == "per R$"


@pytest.mark.parametrize("text", ["", "  ", "euro zone", "EUROCOINS"])
def test_a_currency_that_cannot_be_shown_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"^The currency must be") as raised:
        check_currency(text)
    assert str(raised.value) == (
        "The currency must be a code or symbol such as EUR, USD or €, at most 8 characters "
        f"without spaces; got {text!r}"
    )


def test_the_settings_currency_is_checked_where_it_is_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("INFLUENCE_CURRENCY", raising=False)
    assert TrainingSettings(currency="USD").cost_unit() == CostUnit("USD")
    assert TrainingSettings().cost_unit() == CostUnit()
    with pytest.raises(TrainingError, match=r"\(INFLUENCE_CURRENCY\)\.$") as raised:
        TrainingSettings(currency="US dollars").cost_unit()
    assert str(raised.value).startswith("The currency must be a code or symbol")
