"""The latest backtest of the served project: found once per loaded state, shown on `/app/model`,
summarised in `GET /model`, served whole at `/app/model/backtest`.

`influence compare` logs its report to the project's backtest experiment in MLflow
(`influence-compare`, or `influence-<project>-compare`). The service reads the newest
FINISHED run back (`training.backtest.latest`), preferring one on the data the served
model was trained on, then one on the data served, else the newest of all; no setting
names it. It is read from the store of the workspace's training settings (the one
`influence compare` logs to) on the first look at `/app/model` or `/model` after a
start-up or a reload, never at start-up itself (a first MLflow client costs about 2 s of
CPU), and kept with the state: a backtest run later shows after the next reload.
"""

from __future__ import annotations

from dataclasses import dataclass

from serving.schemas import BacktestSummary
from training.backtest.latest import HEADLINE_METRICS, LoggedReport, latest_report
from training.errors import TrainingError
from training.evaluation.policies import POLICIES
from training.settings import TrainingSettings
from training.tracking.store import TrackingStoreError

__all__ = ["REPORT_PAGE", "REPORT_POLICY", "BacktestSource", "LatestBacktest", "backtest_summary"]

REPORT_PAGE = "/app/model/backtest"
"""Where the service serves the latest backtest's `report.html`."""

REPORT_POLICY = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
"""The Content-Security-Policy of the served report: its inline style and `data:` images,
nothing else. The report is written that way (`training.backtest.report`); the policy
makes a browser hold any file logged in its place to it too: no script runs, nothing is
fetched from the network."""


@dataclass(frozen=True)
class LatestBacktest:
    """The latest backtest found for a served model, or why there is none."""

    report: LoggedReport | None
    note: str
    """When there is no report: why, and the command that makes one; else empty."""
    on_model_data: bool = False
    """Whether it ran on the data the served model was trained on (the same digest)."""
    on_served_data: bool = False
    """Whether it ran on the data served."""


@dataclass(frozen=True)
class BacktestSource:
    """Where the served project's backtests are logged and which to prefer."""

    training: TrainingSettings
    """The training settings of the served workspace and project: the MLflow store."""
    model_digest: str | None
    """The digest of the data the served model was trained on (None if unrecorded)."""
    served_digest: str
    """The digest of the data served."""
    command: str
    """What makes a backtest of the data served: `influence compare DATA --out report`."""

    def find(self) -> LatestBacktest:
        """The latest backtest, or a note saying why there is none and how to make one."""
        shown = "which this page shows once the service restarts or reloads"
        try:
            found = latest_report(self.training, (self.model_digest, self.served_digest))
        except TrackingStoreError as e:  # the store itself: its setting is what to fix
            return LatestBacktest(None, str(e))
        except TrainingError as e:  # the run's report: a new backtest replaces it
            return LatestBacktest(None, f"{e} `{self.command}` makes a new one, {shown}.")
        except Exception as e:  # MLflow raises many kinds; the model's page must still answer
            return LatestBacktest(
                None,
                "The latest backtest could not be read from MLflow "
                f"({type(e).__name__}: {str(e).strip().partition(chr(10))[0]}).",
            )
        if found is None:
            experiment = self.training.experiment_name("compare")
            return LatestBacktest(
                None,
                f"No backtest of project {self.training.project} is logged in MLflow yet "
                f"(experiment {experiment}): `{self.command}` makes one, {shown}.",
            )
        digest = found.summary.data_digest
        return LatestBacktest(found, "", digest == self.model_digest, digest == self.served_digest)


def backtest_summary(found: LatestBacktest) -> BacktestSummary | None:
    """The backtest's headline numbers for `GET /model`, or None when there is none.

    `results[target][policy][metric]` is [value, low, high] of the metrics of
    `training.backtest.latest.HEADLINE_METRICS`, pooled over the held-out campaigns, for
    the policies the report ran (the truth only on simulated data).
    """
    report = found.report
    if report is None:
        return None
    s = report.summary
    results = {
        target: {
            policy: {m: list(s.value(target, policy, m)) for m in HEADLINE_METRICS}
            for policy in POLICIES
            if s.value(target, policy, "actions_per_cost")[0] is not None
        }
        for target in s.targets()
    }
    return BacktestSummary(
        run_id=report.run_id,
        experiment=report.experiment,
        ran_at=report.ran_at.isoformat(),
        data_digest=s.data_digest,
        on_model_data=found.on_model_data,
        on_served_data=found.on_served_data,
        held_out_campaigns=s.held_out.campaigns,
        rolling_origins=len(s.folds),
        budget_share=s.config.budget_share,
        currency=s.currency,
        results=results,
        report=REPORT_PAGE,
    )
