"""The model's page (serving/model_page.py) through a real TestClient on the trained
workspace: what it bought against the follower count, the project's latest backtest and its
full report, the words for cost."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from click.testing import Result
from fastapi.testclient import TestClient

from features.io import load_dataset
from serving.app import create_app
from serving.model_page import backtest_page
from serving.settings import ServingSettings

ServingTrained = Callable[..., ServingSettings]  # the `serving_trained` fixture
External = Callable[[str], list[str]]  # the `external_addresses` fixture


@pytest.fixture(scope="module")
def client(
    serving_trained: ServingTrained, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    with TestClient(create_app(serving_trained(tmp_path_factory.mktemp("model")))) as c:
        yield c


def test_the_model_page_says_what_it_bought_against_the_follower_count(
    client: TestClient, trained: Path, external_addresses: External
) -> None:
    page = client.get("/app/model")
    assert page.status_code == 200
    info = client.get("/model").json()
    html = page.text
    assert f"<h1>Model version {info['version']}</h1>" in html
    for target in info["targets"]:
        low_high = info["metrics"][target]["ratio_vs_followers"]
        assert (
            f"Choosing by the model bought {low_high[0]:.3g} times the {target} per unit cost of "
            f"the followers baseline (95% interval {low_high[1]:.3g} to {low_high[2]:.3g})."
        ) in html
    assert f"off by {info['price']['price/mdape']:.0%} (median)" in html
    assert "<b>relevance</b>: how close the account" in html
    assert external_addresses(html) == []


@pytest.fixture(scope="module")
def backtested(
    serving_trained: ServingTrained,
    compared: tuple[Path, Result],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[TestClient]:
    """The trained workspace's model and data, served from the workspace where `influence
    compare` ran (the `compared` fixture): its store holds the project's latest backtest."""
    settings = serving_trained(tmp_path_factory.mktemp("backtested"), home=compared[0])
    with TestClient(create_app(settings)) as c:
        yield c


def _pooled(report: Path, target: str, policy: str, metric: str) -> list[float | None]:
    """[value, low, high] of a pooled row of the report's tidy table; None for what it lacks."""
    table = pd.read_csv(report / "report.csv")
    rows = table[
        (table["target"] == target)
        & (table["policy"] == policy)
        & (table["metric"] == metric)
        & (table["tier"] == "all")
    ]
    if rows.empty:
        return [None, None, None]
    row = rows.iloc[0]
    return [None if pd.isna(row[c]) else float(row[c]) for c in ("value", "low", "high")]


def test_the_model_page_shows_the_latest_backtest_against_the_follower_rule(
    backtested: TestClient,
    compared: tuple[Path, Result],
    trained: Path,
    trainable_world: Path,
    external_addresses: External,
) -> None:
    report = compared[0] / "report"
    saved = json.loads((report / "report.json").read_text())
    html = backtested.get("/app/model").text
    origins = [f["origin"][:10] for f in saved["folds"]]
    assert (
        f"(MLflow run {saved['run_id'][:8]} of experiment influence-compare), over 10 held-out "
        f"campaigns ({saved['held_out']['placements']} placements) from 2 rolling origins, "
        f"{origins[0]} to {origins[1]}: at "
        "each, features and models were refitted on what was known then and judged on the "
        "campaigns that came next. Every policy spent 25% of each campaign&#39;s candidate "
        "cost; the follower rule picks the biggest accounts first."
    ) in html
    model = json.loads((trained / "models" / "champion.json").read_text())["data_digest"]
    assert (
        f'<p class="flag">It ran on other data ({trainable_world}, digest '
        f"{saved['data_digest'][:8]}) than the data served, which this model was trained on "
        f"(digest {model[:8]}): <code>influence compare {trained / 'world'} --out report</code> "
        "backtests the data served.</p>"
    ) in html
    for target in ("clicks", "conversions"):  # the contract's order, as in the report
        times = _pooled(report, target, "model", "times_follower_rule")
        assert (
            f"<li>The model&#39;s picks caused {times[0]:.3g} times the {target} per EUR of the "
            f"follower rule&#39;s on 10 held-out campaigns (95% interval {times[1]:.3g} to "
            f"{times[2]:.3g}).</li>"
        ) in html
        rate = _pooled(report, target, "random", "actions_per_cost")
        times = _pooled(report, target, "random", "times_follower_rule")
        assert (
            f"<tr><td>{target}</td><td>random</td><td>{rate[0]:.3g} [{rate[1]:.3g}, "
            f"{rate[2]:.3g}]</td><td>{times[0]:.3g} [{times[1]:.3g}, {times[2]:.3g}]</td></tr>"
        ) in html
    assert html.index("<li>The model&#39;s picks caused") > html.index("The latest backtest")
    assert "<th>per EUR [95%]</th>" in html
    assert "<td>truth (simulated)</td>" in html  # the trainable world has its truth
    assert '<a href="/app/model/backtest">The full report</a>' in html
    assert external_addresses(html) == []


def test_the_latest_backtest_s_full_report_is_a_page_of_the_app_as_compare_wrote_it(
    backtested: TestClient, compared: tuple[Path, Result], external_addresses: External
) -> None:
    page = backtested.get("/app/model/backtest")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.content == (compared[0] / "report" / "report.html").read_bytes()
    # Whatever file a run holds, a browser runs no script of it and fetches nothing.
    assert page.headers["content-security-policy"] == (
        "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'"
    )
    assert external_addresses(page.text) == []


def test_get_model_carries_the_latest_backtest_s_numbers(
    backtested: TestClient, compared: tuple[Path, Result]
) -> None:
    report = compared[0] / "report"
    saved = json.loads((report / "report.json").read_text())
    backtest = backtested.get("/model").json()["backtest"]
    results = backtest.pop("results")
    assert backtest == {
        "run_id": saved["run_id"],
        "experiment": "influence-compare",
        "ran_at": backtest["ran_at"],
        "data_digest": saved["data_digest"],
        "on_model_data": False,
        "on_served_data": False,
        "held_out_campaigns": 10,
        "rolling_origins": 2,
        "budget_share": 0.25,
        "currency": "EUR",
        "report": "/app/model/backtest",
    }
    policies = ["model", "followers", "heuristic", "follower_rule", "random", "truth"]
    assert list(results) == ["clicks", "conversions"]
    for target, by_policy in results.items():
        assert list(by_policy) == policies
        for policy, metrics in by_policy.items():
            assert list(metrics) == ["actions_per_cost", "cost_per_action", "times_follower_rule"]
            for metric, values in metrics.items():
                assert values == pytest.approx(_pooled(report, target, policy, metric))
        assert by_policy["follower_rule"]["times_follower_rule"] == [None, None, None]
    assert pd.Timestamp(backtest["ran_at"]).tz is not None


def test_without_a_backtest_the_model_page_says_how_to_make_one(
    client: TestClient, trained: Path
) -> None:
    """The trained workspace's store has its training runs and no backtest."""
    note = (
        "No backtest of project influence is logged in MLflow yet (experiment "
        f"influence-compare): `influence compare {trained / 'world'} --out report` makes one, "
        "which this page shows once the service restarts or reloads."
    )
    info = client.get("/model").json()
    assert (info["backtest"], info["backtest_note"]) == (None, note)
    shown = note.replace("`", "<code>", 1).replace("`", "</code>", 1)
    assert f"<p>{shown}</p>" in client.get("/app/model").text
    page = client.get("/app/model/backtest")
    assert page.status_code == 404
    assert f"<p>{shown}</p>" in page.text


def test_the_backtest_s_data_is_named_against_the_model_s_and_the_data_served(
    backtested: TestClient, trained: Path
) -> None:
    state = backtested.app.state.current  # type: ignore[attr-defined]
    source = state.backtests
    found = state.backtest
    assert found.report is not None
    digest = found.report.summary.data_digest
    model = source.model_digest
    assert (found.on_model_data, found.on_served_data) == (False, False)

    def words(**digests: str | None) -> str:
        again = replace(source, **digests).find()
        return str(backtest_page(again, replace(source, **digests))["data"])

    assert words(model_digest=digest) == (
        f"It ran on the data this model was trained on (digest {digest[:8]})."
    )
    assert words(served_digest=digest) == (
        f"It ran on the data served (digest {digest[:8]}), not this model's (digest {model[:8]})."
    )
    assert words(served_digest=digest, model_digest=None) == (
        f"It ran on the data served (digest {digest[:8]}); this model records no digest."
    )
    assert words(served_digest="f" * 64) == (
        f"It ran on other data ({found.report.summary.data_dir}, digest {digest[:8]}) than the "
        f"data served (digest ffffffff) or this model's (digest {model[:8]}): "
        f"`influence compare {trained / 'world'} --out report` backtests the data served."
    )


def test_a_model_trained_in_a_currency_speaks_of_cost_in_it(
    serving_trained: ServingTrained, trained: Path, tmp_path: Path
) -> None:
    # The champion's manifest as `train --currency EUR` writes it (tests/serving/cli/
    # test_train.py checks that it does), beside a copy of its bundle.
    models = shutil.copytree(trained / "models", tmp_path / "models")
    manifest = json.loads((models / "champion.json").read_text())
    (models / "champion.json").write_text(json.dumps({**manifest, "currency": "EUR"}))
    data = load_dataset(trained / "world")
    account = str(data.placements["account_id"].value_counts().index[0])
    settings = serving_trained(tmp_path, model_uri=str(models / "champion.json"))
    with TestClient(create_app(settings)) as client:
        info = client.get("/model").json()
        html = client.get("/app/model").text
        for target in info["targets"]:
            ratio = info["metrics"][target]["ratio_vs_followers"][0]
            assert f"bought {ratio:.3g} times the {target} per EUR of the followers" in html
        assert "<th>outcome, per EUR</th>" in html
        assert "per unit cost" not in html
        record = client.get(f"/accounts/{account}").json()["track_record"]
        assert " clicks per EUR, " in record["summary"]
        assert "<th>per EUR</th>" in client.get(f"/app/accounts/{account}").text
