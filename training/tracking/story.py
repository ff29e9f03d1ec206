"""What a run says about itself in MLflow: its name, its tags and its description.

MLflow names an unnamed run "beautiful-finch-461" and leaves it without a word. A run
here is named by what it did (`influence train 3f9a12bc`: the project, the command and
the first 8 hex digits of the data's digest), carries tags to filter on
(`influence.project`, `.command`, `.data_digest`, `.engine`, `.targets`,
`.code_version`) and a description (MLflow's `mlflow.note.content` tag, shown on the
run's page) in plain words: what data, the headline numbers against the follower rule,
and whether the model was promoted and why. A registered version gets the same
description (`MlflowClient.update_model_version`).

The description ends with a `Status:` paragraph that changes as the run goes on:
training, registered, then promoted or not (`note_status`, which `influence promote`
calls too). Each step rewrites only what it knows, so that a run that fails (in
promotion, say) keeps what was written before.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pandas as pd
from mlflow.utils.git_utils import get_git_commit

from training.evaluation.metrics import Evaluation
from training.tracking.store import Tracking
from training.units import CostUnit

__all__ = [
    "NOTE_TAG",
    "TARGETS_TAG",
    "UNDECIDED",
    "RunStory",
    "code_version",
    "describe_data",
    "describe_results",
    "interval",
    "note",
    "note_registered",
    "note_run",
    "note_status",
    "note_version",
    "status_of",
]

NOTE_TAG = "mlflow.note.content"
"""The tag MLflow's UI shows (and edits) as a run's description."""

TARGETS_TAG = "influence.targets"
"""The targets a run asked for; once fitted, the ones it trained (a target with nothing to
learn is skipped)."""

GIT_COMMIT_TAG = "mlflow.source.git.commit"
"""MLflow's own tag for the code's commit; set from the package's checkout."""

STATUS = "\n\nStatus: "
"""Starts the last paragraph of a description: the part that changes."""


def code_version() -> tuple[str, str | None]:
    """The installed package's version and the git commit of the code, when it has one.

    The commit is that of the checkout the `training` package is imported from (an
    editable install, a clone), not of the directory a command runs in; None for an
    installed wheel or when git is missing.
    """
    try:
        package = version("influence")
    except PackageNotFoundError:  # imported from a checkout that was never installed
        package = "unknown"
    return package, get_git_commit(str(Path(__file__).resolve().parent))


@dataclass(frozen=True)
class RunStory:
    """Who a run is: the project, the command, the data's digest, the engine, the targets."""

    project: str
    command: str
    digest: str
    engine: str
    targets: tuple[str, ...]

    def name(self) -> str:
        """`<project> <command> <digest, 8 hex>`: the run's name in the UI's run list."""
        return f"{self.project} {self.command} {self.digest[:8]}"

    def tags(self) -> dict[str, str]:
        """The run's `influence.*` tags, and MLflow's git commit tag when the code has one.

        `influence.code_version` is the package version, with the commit's first 12 hex
        digits when known (`0.1.0 (commit 82a4ffa1c0de)`).
        """
        package, commit = code_version()
        tags = {
            "influence.project": self.project,
            "influence.command": self.command,
            "influence.data_digest": self.digest,
            "influence.engine": self.engine,
            TARGETS_TAG: ",".join(self.targets),
            "influence.code_version": package
            if commit is None
            else f"{package} (commit {commit[:12]})",
        }
        if commit is not None:
            tags[GIT_COMMIT_TAG] = commit
        return tags


def describe_data(data_dir: Path | None, digest: str, placements: pd.DataFrame) -> str:
    """One sentence on the data a run learned from: where, its digest, its size, its dates.

    Takes the data directory (None for a data set passed in memory), the data's digest
    and its placements table as known; counts the placements and the distinct accounts
    and campaigns in it, and the days its placements were posted on.
    """
    where = "in memory" if data_dir is None else f"from `{data_dir}`"
    posted = pd.to_datetime(placements["posted_at"])
    return (
        f"Data {where} (digest {digest[:8]}): {len(placements):,} placements of "
        f"{placements['account_id'].nunique():,} accounts in "
        f"{placements['campaign_id'].nunique():,} campaigns, posted "
        f"{posted.min():%Y-%m-%d} to {posted.max():%Y-%m-%d}."
    )


def interval(low: float, high: float) -> str:
    """`[1.2, 2.0]`: a 95% interval's bounds to two significant digits, trailing zero kept."""
    return "[" + ", ".join(f"{x:#.2g}".rstrip(".") for x in (low, high)) + "]"


def headline(target: str, ev: Evaluation, unit: CostUnit = CostUnit()) -> str:
    """`clicks per unit cost 0.158 against the followers baseline's 0.098: 1.61 times [1.2, 2.0]`.

    `unit` names the currency when one is configured (`clicks per EUR 0.158 ...`).
    The model's budget metric on the later campaigns against the followers baseline's
    (the same learner on log followers and log cost: the baseline promotion must beat),
    and their ratio with its 95% interval (campaign bootstrap). The baseline is named as
    promotion's reasons name it; "the follower rule" is another policy (the biggest
    accounts first), which the backtest reports.
    """
    ratio, low, high = ev.budget_ratio
    model, followers = (
        ev.value("model", "actions_per_cost"),
        ev.value("followers", "actions_per_cost"),
    )
    return (
        f"{target} {unit.per()} {model:.3g} against the followers baseline's {followers:.3g}: "
        f"{ratio:.3g} times {interval(low, high)}"
    )


def describe_results(
    evaluations: Mapping[str, Evaluation],
    split: Mapping[str, object],
    unit: CostUnit = CostUnit(),  # frozen: one shared default is safe
) -> str:
    """What the run found: one headline per target, on the later campaigns.

    Takes the evaluation per target, the split's description (`TimeSplit.describe`,
    for the number of later campaigns and the cutoff) and the words for cost.
    """
    lines = "\n".join(f"- {headline(t, ev, unit)}" for t, ev in evaluations.items())
    return (
        f"Judged on the {split['valid_campaigns']} later campaigns (from "
        f"{str(split['cutoff'])[:10]}): what the budget bought, choosing by the model and by "
        f"the followers baseline, with the ratio's 95% interval:\n\n{lines}"
    )


UNDECIDED = (
    "challenger; not put to promotion, as a champion exists (`influence promote {}` decides)"
)
"""The status of a version `train` registered without `--promote` while a champion exists."""


def status_of(promoted: bool, reason: str) -> str:
    """The status a promotion decision gives a version: champion or not, and why."""
    return f"champion; {reason}" if promoted else f"challenger, not promoted; {reason}"


def note(paragraphs: list[str], status: str) -> str:
    """A description: the paragraphs, then the `Status:` paragraph."""
    return "\n\n".join(paragraphs) + STATUS + status + "."


def _restatus(text: str, status: str) -> str:
    """`text` with its `Status:` paragraph replaced by (or, if none, ended with) `status`."""
    body = text.split(STATUS)[0].strip()
    return note([body] if body else [], status).lstrip()


def note_run(tracking: Tracking, run_id: str, text: str) -> None:
    """Set run `run_id`'s description (the UI's "Description" on the run's page)."""
    tracking.client.set_tag(run_id, NOTE_TAG, text)


def note_version(tracking: Tracking, name: str, version: str, text: str) -> None:
    """Set the description of version `version` of registered model `name`."""
    tracking.client.update_model_version(name, version, description=text)


def note_registered(
    tracking: Tracking, run_id: str, name: str, version: str, paragraphs: list[str]
) -> None:
    """Describe the run and the version it registered alike, promotion still to come.

    Takes the run, the registered model's name, the version and what is known of the
    run so far (the data, the results); adds which version it is.
    """
    registered = f"Registered as version {version} of model '{name}' (alias challenger)."
    text = note([*paragraphs, registered], "challenger; promotion still to be decided")
    note_run(tracking, run_id, text)
    note_version(tracking, name, version, text)


def note_status(tracking: Tracking, name: str, version: str, status: str) -> None:
    """Rewrite the `Status:` paragraph of a version's description and of its run's.

    What came before it (the data, the headline numbers) is kept as it is; a version
    or run registered before descriptions existed gets the status alone.
    """
    found = tracking.client.get_model_version(name, version)
    note_version(tracking, name, version, _restatus(found.description or "", status))
    if found.run_id:
        tags = tracking.client.get_run(str(found.run_id)).data.tags
        note_run(tracking, str(found.run_id), _restatus(tags.get(NOTE_TAG, ""), status))
