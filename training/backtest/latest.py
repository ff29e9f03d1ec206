"""The latest backtest of a project, read back from MLflow: what a service shows beside its model.

`influence compare` logs `report.json`, `report.html` and `report.csv` to a run of the
project's backtest experiment (`training.backtest.compare`). `latest_report` finds the
newest FINISHED run there, preferring one on the data digests it is given, and reads two
of its files back: `report.json` (its headline numbers, checked against the report's
shape) and `report.html` (the page, as it was written). Each must be a file whose size the
store records within a cap before anything is downloaded, and nothing is unpickled: both
are text. A `report.html` holding a `<meta>` other than its charset, or `http-equiv`
anywhere, is refused: `influence compare` never writes one, and a `<meta http-equiv=
"refresh">` would send whoever opens the report from the service's own origin elsewhere.
A backtest refits its own models at each origin, so no run backtests a model version; what
ties one to a served model is the data it ran on, which is why the preference is by digest.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd
from mlflow.exceptions import MlflowException
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from sqlalchemy.exc import SQLAlchemyError

from training.errors import TrainingError
from training.settings import TrainingSettings
from training.tracking.database import redacted
from training.tracking.store import TrackingStoreError, stored_client

if TYPE_CHECKING:
    from mlflow.entities import FileInfo, Run
    from mlflow.tracking import MlflowClient

__all__ = [
    "HEADLINE_METRICS",
    "MAX_HTML_BYTES",
    "MAX_JSON_BYTES",
    "LoggedReport",
    "ReportSummary",
    "latest_report",
]

MAX_JSON_BYTES = 4_000_000
"""The largest `report.json` read. Its size does not grow with the data (a fixed number of
rows per target, policy and tier, 51 points per gain curve): about 40 KB for two targets."""

MAX_HTML_BYTES = 16_000_000
"""The largest `report.html` read: five PNG figures, about 250 KB for two targets."""

HEADLINE_METRICS = ("actions_per_cost", "cost_per_action", "times_follower_rule")
"""The pooled metrics kept from `report.json`'s table; the rest stays in the report."""

_DIGEST = re.compile(r"[0-9a-f]{64}")
_META = re.compile(rb"<meta\b(?!\s+charset=\"?[\w-]+\"?\s*/?>)|http-equiv", re.IGNORECASE)
"""What `report.html` never holds: a `<meta>` that is not `<meta charset="utf-8">`, or
`http-equiv` anywhere (a refresh navigates away even under a Content-Security-Policy)."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class ReportRow(_Model):
    """One pooled row of the report's table: a policy's metric for a target, its 95% interval."""

    target: str
    policy: str
    metric: str
    value: float | None
    low: float | None
    high: float | None


class ReportFold(_Model):
    """One rolling origin: when, and how many held-out campaigns it predicted."""

    fold: int
    origin: str
    campaigns: int


class ReportConfig(_Model):
    """The backtest's configuration, as `report.json` records it."""

    targets: list[str]
    folds: int
    holdout_share: float
    budget_share: float


class HeldOut(_Model):
    """What the folds predicted together."""

    campaigns: int
    placements: int


class ReportSummary(_Model):
    """What a service needs of `report.json`: who wrote it, on what data, the headline rows.

    `table` keeps only the rows pooled over tiers (`tier` "all") of `HEADLINE_METRICS`,
    in the report's order (targets in the contract's order); values the report could not
    bound are None, as `report.json` writes them.
    """

    generator: Literal["influence compare"]
    data_dir: str = ""
    data_digest: str
    currency: str | None = None
    config: ReportConfig
    held_out: HeldOut
    folds: list[ReportFold]
    table: list[ReportRow]

    @field_validator("table", mode="before")
    @classmethod
    def _pooled_headlines(cls, rows: Any) -> Any:
        if not isinstance(rows, list):
            return rows  # pydantic says what is wrong with it
        return [
            r
            for r in rows
            if isinstance(r, dict)
            and r.get("tier") == "all"
            and r.get("metric") in HEADLINE_METRICS
        ]

    def targets(self) -> list[str]:
        """The targets backtested, in the report's (the contract's) order."""
        return list(dict.fromkeys(r.target for r in self.table))

    def value(
        self, target: str, policy: str, metric: str
    ) -> tuple[float | None, float | None, float | None]:
        """(value, low, high) of a policy's pooled metric; all None when the report has none
        (the truth policy without `truth.parquet`)."""
        for r in self.table:
            if (r.target, r.policy, r.metric) == (target, policy, metric):
                return r.value, r.low, r.high
        return None, None, None


@dataclass(frozen=True)
class LoggedReport:
    """A backtest's report as its MLflow run holds it."""

    run_id: str
    experiment: str
    ran_at: pd.Timestamp
    """When the run ended (UTC)."""
    summary: ReportSummary
    html: bytes
    """`report.html`, byte for byte: one self-contained page (`training.backtest.report`)."""


def latest_report(
    settings: TrainingSettings, prefer: Sequence[str | None] = ()
) -> LoggedReport | None:
    """The newest FINISHED backtest of the settings' project, with its report read back.

    Takes the training settings (the store, and the project whose backtest experiment,
    `settings.experiment_name("compare")`, is searched) and the data digests to prefer, in
    order (None skipped): the newest run on the first digest that has one wins, else the
    newest run of all. Returns None when the store, the experiment or a finished run does
    not exist; nothing is created. Raises TrackingStoreError, one sentence, when the store
    cannot be read, and TrainingError when the run's report is missing, too big or not a
    backtest report's, or a page `influence compare` would not write.
    """
    experiment = settings.experiment_name("compare")
    try:
        client = stored_client(settings)
        found = None if client is None else client.get_experiment_by_name(experiment)
        if client is None or found is None:
            return None
        run = _newest(client, found.experiment_id, prefer)
        if run is None:
            return None
        summary, html = _read(client, run.info.run_id)
    except (MlflowException, SQLAlchemyError, OSError) as e:  # a store MLflow cannot use
        uri = settings.configured_tracking_uri()
        shown = redacted(uri) if "@" in uri else uri
        reason = (e.message if isinstance(e, MlflowException) else str(e)).strip()
        reason = reason.splitlines()[0] if reason else type(e).__name__  # SQL and links follow
        raise TrackingStoreError(
            f"The backtests of experiment {experiment} in {shown} cannot be read: "
            f"{reason.rstrip('.')}."
        ) from e
    ended = run.info.end_time or run.info.start_time
    return LoggedReport(
        run_id=run.info.run_id,
        experiment=experiment,
        ran_at=pd.Timestamp(ended, unit="ms", tz="UTC"),
        summary=summary,
        html=html,
    )


def _newest(client: MlflowClient, experiment_id: str, prefer: Sequence[str | None]) -> Run | None:
    """The newest finished run on the first preferred digest that has one, else of all."""
    finished = "attributes.status = 'FINISHED'"
    # Only a digest's own characters go into the filter: a manifest is a file anyone may edit.
    wanted = [d for d in dict.fromkeys(prefer) if d is not None and _DIGEST.fullmatch(d)]
    tagged = [f"{finished} and tags.\"influence.data_digest\" = '{d}'" for d in wanted]
    for where in [*tagged, finished]:
        runs = client.search_runs(
            [experiment_id], where, max_results=1, order_by=["attributes.start_time DESC"]
        )
        if runs:
            return runs[0]
    return None


def _read(client: MlflowClient, run_id: str) -> tuple[ReportSummary, bytes]:
    """The run's `report.json`, checked, and its `report.html`; TrainingError when either
    is missing, not a file of known size, over its cap or unreadable, when the JSON is not
    a backtest report's, or when the page holds a `<meta>` compare never writes."""
    files = {f.path: f for f in client.list_artifacts(run_id)}
    with tempfile.TemporaryDirectory(prefix="influence-backtest-") as tmp:
        text = _artifact(client, run_id, "report.json", files, MAX_JSON_BYTES, Path(tmp))
        html = _artifact(client, run_id, "report.html", files, MAX_HTML_BYTES, Path(tmp))
    if _META.search(html):
        raise TrainingError(
            f"The report.html of backtest run {run_id} holds a <meta http-equiv> (or another "
            "<meta> than its charset), which influence compare never writes: not served."
        )
    try:
        summary = ReportSummary.model_validate_json(text)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise TrainingError(
            f"The report.json of backtest run {run_id} is not a backtest report "
            f"({where}: {first['msg']})."
        ) from e
    return summary, html


def _artifact(
    client: MlflowClient, run_id: str, name: str, files: dict[str, FileInfo], cap: int, tmp: Path
) -> bytes:
    """One file of the run, read whole if the store says it is a file of at most `cap`
    bytes: checked before downloading, since a directory in its place has no size and
    would be downloaded whole."""
    if name not in files:
        raise TrainingError(f"Backtest run {run_id} has no {name}: it was not logged whole.")
    info = files[name]
    if info.is_dir or info.file_size is None:
        what = "a directory" if info.is_dir else "a file of unrecorded size"
        raise TrainingError(
            f"The {name} of backtest run {run_id} is {what}, not the file influence compare logs."
        )
    if info.file_size > cap:
        raise TrainingError(_too_big(run_id, name, info.file_size, cap))
    try:
        local = Path(client.download_artifacts(run_id, name, str(tmp)))
        with local.open("rb") as f:
            data = f.read(cap + 1)  # a store that misreports sizes still cannot make it read more
        size = local.stat().st_size
    except OSError as e:  # what the run holds, not the store: a new backtest replaces it
        raise TrainingError(f"The {name} of backtest run {run_id} cannot be read ({e}).") from e
    if len(data) > cap:
        raise TrainingError(_too_big(run_id, name, size, cap))
    return data


def _too_big(run_id: str, name: str, size: int, cap: int) -> str:
    return (
        f"The {name} of backtest run {run_id} is {size / 1e6:.3g} MB, over the "
        f"{cap / 1e6:.3g} MB a service reads."
    )
