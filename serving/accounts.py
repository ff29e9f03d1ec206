"""The account-profile use case: one known account read against its tier (`features.profile`)."""

from __future__ import annotations

from features.profile import account_profile
from serving.errors import UnknownAccountError
from serving.profile_schemas import AccountProfile
from serving.state import ServiceState

__all__ = ["profile"]


def profile(state: ServiceState, account_id: str) -> AccountProfile:
    """The profile of a known account as of the served data's moment.

    Takes the service's state and the account id; reads only that account's rows (the
    state's per-account index), so the cost does not grow with the data. Raises
    UnknownAccountError (404) for an account the served data does not hold.
    """
    if not state.knows(account_id):
        raise UnknownAccountError(
            f"No account {account_id!r} in the served data ({len(state.posts_of):,} accounts); "
            "check the id, or score it with its history in POST /predict."
        )
    history = state.history([account_id])
    found = account_profile(history.posts, history.placements, account_id, state.as_of, state.norms)
    return AccountProfile.model_validate(found)
