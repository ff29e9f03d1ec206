"""The latest backtest read back from a real MLflow store (training/backtest/latest.py).

The runs are logged here through MLflow's own client, with the files of the session's one
`influence compare` (the `compared` fixture) as their artifacts, so that no test backtests.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from mlflow.tracking import MlflowClient

from training.backtest import latest
from training.backtest.latest import latest_report
from training.errors import TrainingError
from training.settings import TrainingSettings
from training.tracking.store import TrackingStoreError, use_tracking

StoredUnder = Callable[[Path], TrainingSettings]  # the `stored_under` fixture

X, Y, Z = ("a" * 64, "b" * 64, "c" * 64)


def _log(
    settings: TrainingSettings,
    report: Path,
    digest: str,
    started: int,
    status: str = "FINISHED",
    files: tuple[str, ...] = ("report.json", "report.html"),
    json_text: str | None = None,
) -> str:
    """Log a compare run on data `digest`, started at `started` (ms), ended `status`, with
    `files` of the report folder (report.json saying it ran on `digest`, or `json_text`)."""
    tracking = use_tracking(settings, experiment=settings.experiment_name("compare"))
    client = tracking.client
    run = client.create_run(
        tracking.experiment_id, start_time=started, tags={"influence.data_digest": digest}
    )
    folder = report.parent / f"run-{started}"
    folder.mkdir()
    saved = json.loads((report / "report.json").read_text())
    (folder / "report.json").write_text(json_text or json.dumps({**saved, "data_digest": digest}))
    (folder / "report.html").write_bytes((report / "report.html").read_bytes())
    for name in files:
        client.log_artifact(run.info.run_id, str(folder / name))
    client.set_terminated(run.info.run_id, status=status, end_time=started + 1000)
    return str(run.info.run_id)


@pytest.fixture
def settings(tmp_path: Path, stored_under: StoredUnder) -> TrainingSettings:
    return stored_under(tmp_path / "workspace")


@pytest.fixture
def report(compared: tuple[Path, Result], tmp_path: Path) -> Path:
    """A copy of the session's report folder, to log from."""
    folder = tmp_path / "files" / "report"
    folder.mkdir(parents=True)
    for name in ("report.json", "report.html"):
        (folder / name).write_bytes((compared[0] / "report" / name).read_bytes())
    return folder


def test_the_newest_finished_run_on_the_first_preferred_data_wins(
    settings: TrainingSettings, report: Path
) -> None:
    on_x = _log(settings, report, X, 1_000_000)
    on_y = _log(settings, report, Y, 2_000_000)
    _log(settings, report, X, 3_000_000, status="FAILED")  # never a backtest to show
    newest_x = _log(settings, report, X, 1_500_000)
    assert on_x != newest_x

    found = latest_report(settings, (X, Y))
    assert found is not None
    assert (found.run_id, found.summary.data_digest) == (newest_x, X)
    assert found.experiment == "influence-compare"
    assert found.ran_at.isoformat() == "1970-01-01T00:25:01+00:00"  # its end, in UTC
    assert found.html == (report / "report.html").read_bytes()
    # No run on the first digest (or not a digest at all): the next, then the newest of all.
    assert getattr(latest_report(settings, (Z, None, Y)), "run_id", None) == on_y
    assert getattr(latest_report(settings, ("' or 1=1 --", Z)), "run_id", None) == on_y
    assert getattr(latest_report(settings), "run_id", None) == on_y


def test_the_summary_keeps_the_pooled_headline_rows_in_the_report_s_order(
    settings: TrainingSettings, report: Path
) -> None:
    _log(settings, report, X, 1_000_000)
    found = latest_report(settings)
    assert found is not None
    s = found.summary
    saved = json.loads((report / "report.json").read_text())
    assert s.targets() == ["clicks", "conversions"]  # the contract's order, as the report
    assert (s.held_out.campaigns, len(s.folds), s.config.budget_share) == (10, 2, 0.25)
    assert s.currency == "EUR"
    pooled = [
        r for r in saved["table"] if r["tier"] == "all" and r["metric"] in latest.HEADLINE_METRICS
    ]
    assert [r.model_dump() for r in s.table] == [
        {k: r[k] for k in ("target", "policy", "metric", "value", "low", "high")} for r in pooled
    ]
    row = next(r for r in pooled if (r["policy"], r["metric"]) == ("model", "actions_per_cost"))
    assert s.value(row["target"], "model", "actions_per_cost") == (
        row["value"],
        row["low"],
        row["high"],
    )
    assert s.value("clicks", "model", "spearman") == (None, None, None)  # not a headline


def test_no_store_no_experiment_or_no_finished_run_is_none_and_creates_nothing(
    tmp_path: Path, settings: TrainingSettings, report: Path
) -> None:
    nowhere = TrainingSettings.under(tmp_path / "nowhere")
    assert latest_report(nowhere, (X,)) is None
    assert not (tmp_path / "nowhere").exists()  # no mlruns/, no mlflow.db

    assert latest_report(settings) is None  # a store without the backtest experiment
    client = MlflowClient(settings.tracking_uri())
    assert client.get_experiment_by_name("influence-compare") is None
    _log(settings, report, X, 1_000_000, status="FAILED")
    assert latest_report(settings) is None


def test_a_run_without_its_report_or_with_another_file_in_its_place_is_one_sentence(
    settings: TrainingSettings, report: Path
) -> None:
    run = _log(settings, report, X, 1_000_000, files=("report.json",))
    with pytest.raises(TrainingError, match=rf"^Backtest run {run} has no report.html: it was "):
        latest_report(settings)
    run = _log(settings, report, X, 2_000_000, json_text='{"generator": "pickle", "x": 1}')
    with pytest.raises(
        TrainingError,
        match=rf"^The report.json of backtest run {run} is not a backtest report \(generator: ",
    ):
        latest_report(settings)


def test_a_report_over_its_cap_is_not_read(
    settings: TrainingSettings, report: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = _log(settings, report, X, 1_000_000)
    size = (report / "report.html").stat().st_size
    monkeypatch.setattr(latest, "MAX_HTML_BYTES", size - 1)
    with pytest.raises(
        TrainingError,
        match=rf"^The report.html of backtest run {run} is {size / 1e6:.3g} MB, over the "
        rf"{(size - 1) / 1e6:.3g} MB a service reads.$",
    ):
        latest_report(settings)


def test_a_store_that_cannot_be_read_is_one_sentence(tmp_path: Path) -> None:
    (tmp_path / "mlruns").mkdir()
    (tmp_path / "mlruns" / "mlflow.db").write_text("not a database")
    with pytest.raises(
        TrackingStoreError,
        match=r"^The backtests of experiment influence-compare in sqlite:///.+/mlflow\.db cannot "
        r"be read: \(sqlite3\.DatabaseError\) file is not a database\.$",
    ):
        latest_report(TrainingSettings.under(tmp_path), (X,))


def test_a_directory_in_place_of_a_report_file_is_refused_before_it_is_downloaded(
    settings: TrainingSettings, report: Path
) -> None:
    """A directory has no size in the store: downloading it would bypass the caps."""
    tracking = use_tracking(settings, experiment=settings.experiment_name("compare"))
    client = tracking.client
    run = client.create_run(tracking.experiment_id, tags={"influence.data_digest": X}).info.run_id
    folder = report.parent / "folder"
    folder.mkdir()
    (folder / "big.bin").write_bytes(b"x" * 1000)
    client.log_artifacts(run, str(folder), artifact_path="report.json")
    client.log_artifact(run, str(report / "report.html"))
    client.set_terminated(run, status="FINISHED")
    with pytest.raises(
        TrainingError,
        match=rf"^The report.json of backtest run {run} is a directory, not the file influence "
        r"compare logs.$",
    ):
        latest_report(settings)


def test_a_report_page_with_a_meta_refresh_is_not_served(
    settings: TrainingSettings, report: Path
) -> None:
    """`<meta http-equiv="refresh">` navigates away under any Content-Security-Policy."""
    page = (report / "report.html").read_bytes()
    assert page.count(b"<meta") == 1  # compare writes its charset, nothing else
    for started, doctored in enumerate(
        (
            page.replace(b"<head>", b'<head><META HTTP-EQUIV="refresh" content="0;url=https://x">'),
            page.replace(b"</body>", b'<meta name="x" content="y"></body>'),
        ),
        start=1,
    ):
        (report / "report.html").write_bytes(doctored)
        run = _log(settings, report, X, started * 1_000_000)
        with pytest.raises(
            TrainingError,
            match=rf"^The report.html of backtest run {run} holds a <meta http-equiv> \(or "
            r"another <meta> than its charset\), which influence compare never writes: not "
            r"served.$",
        ):
            latest_report(settings)
