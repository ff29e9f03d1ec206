"""The planner page's words (serving/planner_page.py): the form as typed, contributions as
what they do to the expected value."""

from __future__ import annotations

import math

from serving.plan_schemas import Discovered, DiscoverResponse
from serving.planner_page import plan_view, read_form
from serving.schemas import Estimate, Portfolio


def test_the_form_is_read_as_an_analyst_types_it() -> None:
    form = read_form(
        {"brand": " Acme ", "topic": "trail running", "budget": "5,000", "min_followers": "1,000"}
    )
    assert form.problems == []
    assert (form.campaign, form.budget, form.objective) == (
        {"brand": "Acme", "topic": "trail running"},
        5000.0,
        "clicks",
    )
    assert (form.followers.low, form.followers.high) == (1000.0, None)
    bad = read_form({"brand": "", "topic": "x", "budget": "5k", "objective": "likes"})
    assert bad.problems == [
        "Give the campaign's brand.",
        "Give the budget as a number of at least 0.01, such as 5000 ('5k' is not).",
        "The objective must be one of clicks, referrals, conversions, revenue, roi, not 'likes'.",
    ]


def _account(parts: dict[str, float]) -> Discovered:
    return Discovered(
        index=0,
        account_id="a1",
        cost=100.0,
        cost_estimated=True,
        cost_low=80.0,
        cost_high=130.0,
        outcomes={"clicks": Estimate(expected=50.0, low=20.0, high=90.0)},
        roi=None,
        cost_per_action={"clicks": 2.0},
        followers_baseline={"clicks": 10.0},
        contributions={"clicks": {**parts, "bias": 1.0}},
        followers=12_000.0,
        chosen_by_model=True,
        chosen_by_follower_rule=False,
    )


def test_contributions_are_said_as_what_they_do_to_the_expected_value() -> None:
    parts = {"reach": math.log(0.8), "resonance": math.log(3.2), "relevance": math.log(1.4)}
    bought = Portfolio(
        account_ids=["a1"],
        indices=[0],
        cost=100.0,
        totals={"clicks": Estimate(expected=50.0, low=20.0, high=90.0)},
        roi=None,
    )
    answer = DiscoverResponse(
        request_id="r",
        model_version="1",
        objective="clicks",
        budget=100.0,
        considered=1,
        outside_range=0,
        accounts=[],
        portfolio=bought,
        follower_rule=bought,
        times_follower_rule=1.0,
        chosen=[_account({**parts, "track": 0.0})],
        errors=[],
    )
    view = plan_view(answer, "clicks", "1.0 times the clicks of the follower rule's")
    [chosen] = view["chosen"]
    assert chosen["why"]["words"] == (
        "Against the model's average account, expected clicks: resonance multiplies it by 3.2; "
        "relevance raises it by 40%; reach lowers it by 20%."
    )
    assert [b["value"] for b in chosen["why"]["bars"]] == ["-20%", "+220%", "+40%", "0%"]
    widths = [b["width"] for b in chosen["why"]["bars"]]
    assert widths[1] == max(widths)  # the largest contribution fills its half
    assert (chosen["estimated"], chosen["cost_interval"]) == (True, "80.00 to 130.00")
    assert view["model"]["per_action"] == "2.00"
