"""Model registry rules: every trained model is the challenger; champions are earned.

A new version gets the alias `challenger`. It becomes `champion` only when it
beats the followers baseline and the current champion on the budget metric of
the primary target (realised actions per unit cost on the later campaigns). While
no champion exists, beating the followers baseline is enough, so that a first
`train` leaves a servable model. The champion's manifest is also copied to
`models/champion.json` (`models/<project>/champion.json` for a named project:
`training.workspace`) so that serving needs no tracking server.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from features.io import atomic_path
from training.artifacts.bundle import read_manifest
from training.errors import TrainingError
from training.settings import get_settings
from training.tracking.metric_keys import read_budget
from training.tracking.store import Tracking, use_tracking
from training.tracking.story import note_status, status_of
from training.units import CostUnit
from training.workspace import CHAMPION_MANIFEST

__all__ = ["CHALLENGER", "CHAMPION", "Decision", "decide", "promote"]

CHAMPION = "champion"
CHALLENGER = "challenger"


@dataclass(frozen=True)
class Decision:
    """Whether a version becomes champion, and the one-sentence reason."""

    promote: bool
    reason: str


def decide(
    target: str,
    model: float,
    followers: float,
    champion: float | None,
    unit: CostUnit = CostUnit(),  # frozen: one shared default is safe
) -> Decision:
    """Apply the promotion rule to budget-metric values (higher is better); the reason
    speaks of cost as `unit` says ("clicks per EUR" when a currency is configured)."""
    if not model > followers:
        return Decision(
            False,
            f"it does not beat the followers baseline on {target} {unit.per()} "
            f"({model:.4g} against {followers:.4g})",
        )
    if champion is not None and not model > champion:
        return Decision(
            False,
            f"it does not beat the current champion on {target} {unit.per()} "
            f"({model:.4g} against {champion:.4g})",
        )
    against = "" if champion is None else f" and the champion's {champion:.4g}"
    return Decision(
        True,
        f"it beats the followers baseline on {target} {unit.per()} ({model:.4g} against "
        f"{followers:.4g}{against})",
    )


def _champion_score(
    client: MlflowClient, name: str, target: str
) -> tuple[str | None, float | None]:
    """The champion's version and its budget metric for `target` (None for what is not there)."""
    try:
        version = client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        return None, None
    run = client.get_run(str(version.run_id)) if version.run_id else None
    value = read_budget(run.data.metrics, target, "model") if run else None
    return str(version.version), value


def promote(
    name: str,
    version: str,
    primary: str,
    models_dir: Path,
    force: bool = False,
    *,
    tracking: Tracking | None = None,
    unit: CostUnit | None = None,
) -> Decision:
    """Move `champion` to `version` if it earns it (or `force`), and export its bundle.

    `unit` words the reason's cost (default: the settings' currency, `cost_unit`).
    Reads the budget metrics from the version's run and from the champion's run, in
    the store of `tracking`, the command's handle (`use_tracking(get_settings())` when
    not given); a run logged before the metric keys were grouped is read by its old
    keys (`training.tracking.metric_keys.read_budget`). Returns the decision; the alias
    and `models/champion.json` change only when it is to promote. The decision and its
    reason become the `Status:` of the version's description and of its run's
    (`training.tracking.story.note_status`); a champion it replaces says so in its own.
    """
    if tracking is None:
        tracking = use_tracking(get_settings())
    if unit is None:
        unit = get_settings().cost_unit()
    client = tracking.client
    try:
        candidate = client.get_model_version(name, version)
    except MlflowException as e:
        raise TrainingError(f"There is no version {version} of model {name!r}.") from e
    metrics = client.get_run(str(candidate.run_id)).data.metrics
    model, followers = (read_budget(metrics, primary, p) for p in ("model", "followers"))
    if model is None or followers is None:
        raise TrainingError(
            f"Version {version} has no {primary} budget metric; it was trained without "
            f"{primary}. Promote with the target it was trained on."
        )
    champion_version, champion_score = _champion_score(client, name, primary)
    if champion_version == str(version):
        return Decision(False, f"version {version} is already the champion")
    decision = decide(primary, model, followers, champion_score, unit)
    if force and not decision.promote:
        decision = Decision(True, f"promoted by request although {decision.reason}")
    if decision.promote:
        export_champion(Path(models_dir), str(version))
        client.set_registered_model_alias(name, CHAMPION, version)
    note_status(tracking, name, str(version), status_of(decision.promote, decision.reason))
    if decision.promote and champion_version is not None:
        note_status(
            tracking, name, champion_version, f"former champion; version {version} replaced it"
        )
    return decision


def export_champion(models_dir: Path, version: str) -> Path:
    """Point `models/champion.json` at the exported bundle of `version`.

    The bundle was exported at training time as a folder beside its manifest
    `influence-v{version}.json`, whose entries are relative to `models/`; the
    manifest is checked (`read_manifest`) and copied to `champion.json` atomically,
    so that a reader sees the old champion or the new one, never a mix.
    """
    source = models_dir / f"influence-v{version}.json"
    manifest = read_manifest(source)
    target = models_dir / CHAMPION_MANIFEST
    with atomic_path(target) as tmp:
        tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    return target
