"""The account-profile use case: one known account read against its tier (`features.profile`),
with its track record as the served model reads it (`features.online`)."""

from __future__ import annotations

from features.builder import FEATURES
from features.contract import OUTCOMES
from features.profile import account_profile
from serving.errors import UnknownAccountError
from serving.profile_schemas import AccountProfile, TrackRate, TrackRecord
from serving.state import ServiceState

__all__ = ["profile", "track_record"]


def profile(state: ServiceState, account_id: str) -> AccountProfile:
    """The profile of a known account as of the served data's moment.

    Takes the service's state and the account id; reads only that account's rows (the
    state's per-account index), so the cost does not grow with the data. Raises
    UnknownAccountError (404) for an account the served data does not hold.
    """
    if not state.knows(account_id):
        raise UnknownAccountError(
            f"No account {account_id!r} in the served data ({len(state.post_counts):,} accounts); "
            "check the id, or score it with its history in POST /predict."
        )
    history = state.history([account_id])
    found = account_profile(history.posts, history.placements, account_id, state.as_of, state.norms)
    return AccountProfile.model_validate({**found, "track_record": track_record(state, account_id)})


def track_record(state: ServiceState, account_id: str) -> TrackRecord | None:
    """What the account's earlier placements caused, as the served model reads it for a
    placement at the data's moment: the snapshot's `track_*` features (shrunk rates per
    unit cost) beside the pooled rate of every placement it learned from (the builder's
    priors), and one sentence.

    None when the snapshot does not describe the account (it has no post).
    """
    online = state.online
    if not online.knows(account_id):
        return None
    row = online.free[online.row_of[account_id]]
    builder = state.bundle.builder
    rates = []
    for outcome in OUTCOMES:
        rate = float(row[FEATURES.index(f"track_{outcome}_per_cost")])
        average = float(builder.priors_[f"{outcome}_per_cost"])
        times = rate / average if average > 0 else None
        rates.append(
            TrackRate(outcome=outcome, per_cost=rate, average=average, times_average=times)
        )
    known = int(row[FEATURES.index("track_placements_known")])
    pending = int(row[FEATURES.index("track_placements_pending")])
    return TrackRecord(
        placements_known=known,
        placements_pending=pending,
        prior_strength=builder.prior_strength,
        rates=rates,
        summary=_summary(
            known,
            pending,
            builder.prior_strength,
            builder.attribution_window_days,
            rates[0],
            state.unit.per(),
        ),
    )


def _summary(
    known: int, pending: int, strength: float, window: int, first: TrackRate, per: str
) -> str:
    """The track record in words: how much is known, and the first outcome's rate against
    the pooled rate of every placement the model learned from."""
    waiting = (
        f" {pending} more {'is' if pending == 1 else 'are'} still within the {window}-day "
        "attribution window, not counted yet."
        if pending
        else ""
    )
    if known == 0:
        return (
            f"No earlier placement whose {window}-day attribution window has closed, so the "
            "model reads its track record as the pooled rate of every placement it learned "
            f"from.{waiting}"
        )
    times = (
        f": {first.times_average:.2g} times the pooled rate of every placement it learned from"
        if first.times_average is not None
        else ""
    )
    return (
        f"From its {known} closed placement{'s' if known != 1 else ''}, the model estimates "
        f"{first.per_cost:.3g} {first.outcome} {per}{times} (the estimate counts "
        f"{strength:g} placements at the pooled rate besides its own, so that one lucky post "
        f"does not make a star).{waiting}"
    )
