"""The latest backtest of the served project: found once per loaded state, shown on `/app/model`,
summarised in `GET /model`, served whole at `/app/model/backtest`.

`influence compare` logs its report to the project's backtest experiment in MLflow
(`influence-compare`, or `influence-<project>-compare`). The service reads the newest
FINISHED run back (`training.backtest.latest`), preferring one on the data the served
model was trained on, then one on the data served, else the newest of all; no setting
names it. It is read from the store of the workspace's training settings (the one
`influence compare` logs to) on the first look at `/app/model` or `/model` after a
start-up or a reload, never at start-up itself (a first MLflow client costs about 2 s of
CPU), and kept with the state (`BacktestReads`): a backtest run later shows after the next
reload. A store that cannot be read, or not within `INFLUENCE_BACKTEST_TIMEOUT_SECONDS`, is
not kept: the pages say so and the next look after `RETRY_SECONDS` asks again, one read at
a time, so that a store that is down is not asked on every request.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from serving.schemas import BacktestSummary
from training.backtest.latest import HEADLINE_METRICS, LoggedReport, latest_report
from training.errors import TrainingError
from training.evaluation.policies import POLICIES
from training.settings import TrainingSettings
from training.tracking.database import redacted
from training.tracking.store import TrackingStoreError

__all__ = [
    "REPORT_PAGE",
    "REPORT_POLICY",
    "RETRY_SECONDS",
    "BacktestReads",
    "BacktestSource",
    "LatestBacktest",
    "backtest_summary",
]

REPORT_PAGE = "/app/model/backtest"
"""Where the service serves the latest backtest's `report.html`."""

REPORT_POLICY = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'; sandbox"
)
"""The Content-Security-Policy of the served report: its inline style and `data:` images,
nothing else. The report is written that way (`training.backtest.report`); the policy
makes a browser hold any file logged in its place to it too: no script runs, nothing is
fetched from the network, no other site frames it, and `sandbox` (with no `allow-*`) gives
it an origin of its own: no cookie of the service's, no form, no popup, no navigating the
page that framed it. A `<meta http-equiv="refresh">` escapes every policy, so a report
holding one is not served at all (`training.backtest.latest`)."""

RETRY_SECONDS = 30.0
"""How long a store that could not be read (or not in time) is left alone before the
next look at the model's page asks it again."""


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
    lasting: bool = True
    """False when the store could not be read (or not in time): asked again later."""


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
            return LatestBacktest(None, str(e), lasting=False)
        except TrainingError as e:  # the run's report: a new backtest replaces it
            return LatestBacktest(None, f"{e} `{self.command}` makes a new one, {shown}.")
        except Exception as e:  # MLflow raises many kinds; the model's page must still answer
            return LatestBacktest(
                None,
                "The latest backtest could not be read from MLflow "
                f"({type(e).__name__}: {str(e).strip().partition(chr(10))[0]}).",
                lasting=False,
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


class BacktestReads:
    """The latest backtest of one loaded state: kept once read (a report, or none logged
    yet, or a run whose report is refused); a store that could not be read, or not in
    time, is answered from memory for `RETRY_SECONDS`, then asked again. One read at a
    time: a read given up on (`timed_out`) may still be waiting on the store, and until
    it ends the next look says so rather than starting another."""

    def __init__(self, source: BacktestSource) -> None:
        self.source = source
        self._kept: LatestBacktest | None = None
        self._failed: tuple[float, LatestBacktest] | None = None
        self._reading = threading.Lock()

    def held(self) -> LatestBacktest | None:
        """The answer without asking the store: the backtest kept, or a recent failure;
        None when the store is to be read (`read`)."""
        if self._kept is not None:
            return self._kept
        failed = self._failed
        if failed is not None and time.monotonic() - failed[0] < RETRY_SECONDS:
            return failed[1]
        return None

    def read(self) -> LatestBacktest:
        """Read the store (blocking: call it in a thread), keep what lasts, and return it."""
        if not self._reading.acquire(blocking=False):
            return self.held() or LatestBacktest(
                None,
                "The latest backtest is still being read from MLflow by an earlier look; "
                "reload this page in a moment.",
                lasting=False,
            )
        try:
            found = self.held() or self.source.find()
            if found.lasting:
                self._kept = found
            elif self._failed is None or self._failed[1] is not found:
                self._failed = (time.monotonic(), found)
            return found
        finally:
            self._reading.release()

    def timed_out(self, seconds: float) -> LatestBacktest:
        """The note for a read not answered within `seconds`, remembered as a failure."""
        uri = self.source.training.configured_tracking_uri()
        note = LatestBacktest(
            None,
            f"The latest backtest could not be read within {seconds:g} s from the MLflow "
            f"store {redacted(uri) if '@' in uri else uri}, which is slow or unreachable; "
            f"this page asks it again in {RETRY_SECONDS:g} s.",
            lasting=False,
        )
        self._failed = (time.monotonic(), note)
        return note


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
