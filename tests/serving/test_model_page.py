"""The model's page (serving/model_page.py) through a real TestClient on the trained
workspace: what it bought against the follower count, the project's latest backtest and its
full report, the words for cost."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from click.testing import Result
from fastapi.testclient import TestClient

from features.io import load_dataset
from serving import backtest
from serving.app import create_app
from serving.model_page import backtest_page, verdict
from serving.settings import ServingSettings
from training.units import CostUnit

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
            f"the followers baseline (95% interval {low_high[1]:.3g} to {low_high[2]:.3g}: "
            f"{verdict(low_high[1], low_high[2], low_high[0])})."
        ) in html
    assert (
        "The followers baseline is a model of the same kind fitted on the follower count (and "
        "cost)\nalone, judged on the same held-out campaigns of this model's training."
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
        "campaigns that came next, so these are not the served model&#39;s own picks. Every "
        "policy spent 25% of each campaign&#39;s candidate cost; the follower rule is no "
        "model: it picks the biggest accounts first, as the market does."
    ) in html
    # The served model was trained without a currency, the backtest in EUR.
    assert (
        '<p class="flag">The backtest counted cost in EUR; this model records no currency (it '
        "was trained without one).</p>"
    ) in html
    model = json.loads((trained / "models" / "champion.json").read_text())["data_digest"]
    assert (
        f'<p class="flag">It ran on other data ({trainable_world}, digest '
        f"{saved['data_digest'][:8]}) than the data served, which this model was trained on "
        f"(digest {model[:8]}): <code>influence compare {trained / 'world'} --out report</code> "
        "backtests the data served.</p>"
    ) in html
    for target in ("clicks", "conversions"):  # the contract's order, as in the report
        value, low, high = (
            float(t or "nan") for t in _pooled(report, target, "model", "times_follower_rule")
        )
        assert (
            f"<li>Refitted at each origin, the model&#39;s picks got {value:.3g} times the "
            f"{target} per EUR of the follower rule&#39;s on 10 held-out campaigns (95% interval "
            f"{low:.3g} to {high:.3g}: {verdict(low, high, value)}).</li>"
        ) in html
        rate = _pooled(report, target, "random", "actions_per_cost")
        times = _pooled(report, target, "random", "times_follower_rule")
        assert (
            f"<tr><td>{target}</td><td>random</td><td>{rate[0]:.3g} [{rate[1]:.3g}, "
            f"{rate[2]:.3g}]</td><td>{times[0]:.3g} [{times[1]:.3g}, {times[2]:.3g}]</td></tr>"
        ) in html
    assert html.index("<li>Refitted at each origin") > html.index("The latest backtest")
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
    # Whatever file a run holds, a browser runs no script of it, fetches nothing, frames it
    # nowhere and gives it an origin of its own (no cookie, form, popup or navigation).
    assert page.headers["content-security-policy"] == (
        "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'; sandbox"
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


def test_a_ratio_is_called_better_or_worse_only_when_its_interval_leaves_out_1() -> None:
    assert verdict(1.1, 2.0, 1.4) == "clearly better"
    assert verdict(0.5, 0.9, 0.7) == "clearly worse"
    assert verdict(0.834, 3.02, 1.38) == "not clearly better"
    assert verdict(0.6, 1.2, 0.9) == "not clearly worse"


def test_the_backtest_s_currency_is_named_when_it_is_not_the_model_s(
    backtested: TestClient,
) -> None:
    state = backtested.app.state.current  # type: ignore[attr-defined]
    found = state.backtest_reads.held()

    def words(model: str | None) -> str:
        return str(backtest_page(found, state.backtests, CostUnit(model))["currency"])

    assert words("EUR") == ""  # the backtest's own
    assert words("USD") == (
        "The backtest counted cost in EUR, this model in USD: their numbers per unit of cost "
        "are not in the same money."
    )
    report = replace(
        found.report, summary=found.report.summary.model_copy(update={"currency": None})
    )
    none = backtest_page(replace(found, report=report), state.backtests, CostUnit("EUR"))
    assert none["currency"] == (
        "The backtest records no currency (compare ran without one); this model counts cost in EUR."
    )
    assert none["per"] == "per unit cost"
    shown = found.report.summary.model_copy(update={"currency": "not a currency"})
    odd = backtest_page(
        replace(found, report=replace(found.report, summary=shown)), state.backtests
    )
    assert (odd["per"], odd["currency"]) == ("per unit cost", "")


def test_the_backtest_s_data_is_named_against_the_model_s_and_the_data_served(
    backtested: TestClient, trained: Path
) -> None:
    state = backtested.app.state.current  # type: ignore[attr-defined]
    source = state.backtests
    found = state.backtest_reads.held()
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
        assert " clicks per EUR: " in record["summary"]
        assert "<th>outcome, per EUR</th>" in client.get(f"/app/accounts/{account}").text


def test_a_store_that_does_not_answer_is_given_up_on_and_asked_again_later(
    serving_trained: ServingTrained, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MLflow retries a tracking server that does not answer for minutes (245 s on a closed
    port by default); the model's page answers within its deadline, saying why."""
    monkeypatch.setenv("INFLUENCE_MLFLOW_TRACKING_URI", "http://127.0.0.1:1")
    # MLflow's own retries shortened (about 3 s), so that the read given up on ends soon.
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
    deadline = 0.25
    note = (
        "The latest backtest could not be read within 0.25 s from the MLflow store "
        "http://127.0.0.1:1, which is slow or unreachable; this page asks it again in 30 s."
    )
    settings = serving_trained(tmp_path, backtest_timeout_seconds=deadline)
    with TestClient(create_app(settings)) as client:
        started = time.monotonic()
        info = client.get("/model").json()
        took = time.monotonic() - started
        assert (info["backtest"], info["backtest_note"]) == (None, note)
        assert took < 6 * deadline  # not MLflow's retries
        assert f"<p>{note}</p>" in client.get("/app/model").text  # remembered, not read again
        # Once the failure is old, the next look asks again, but not while the read given
        # up on is still waiting on the store.
        monkeypatch.setattr(backtest, "RETRY_SECONDS", 0.0)
        assert client.get("/model").json()["backtest_note"] == (
            "The latest backtest is still being read from MLflow by an earlier look; reload "
            "this page in a moment."
        )
