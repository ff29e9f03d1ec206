"""Every error the serving layer raises on purpose, with the HTTP status and exit code it means.

One module, so that what a client or a script can get back is read in one place.
"""

from __future__ import annotations

from features.errors import Problem

__all__ = [
    "DecisionLogError",
    "DiscoveryError",
    "InvalidJSONError",
    "NotReadyError",
    "ObjectiveError",
    "ReloadError",
    "ServingError",
    "SettingsError",
    "ShortlistError",
    "TooManyCandidatesError",
    "TooManyHistoryPostsError",
    "UndecodableBodyError",
    "UnknownAccountError",
    "UnknownCampaignError",
]


class ServingError(Exception):
    """Base class of every error the serving layer raises on purpose.

    `status_code` is the HTTP status the API answers with; `exit_code` what the
    CLI exits with.
    """

    status_code = 500
    exit_code = 1


class SettingsError(ServingError):
    """An INFLUENCE_ variable the service cannot run with; the message names it and why."""

    exit_code = 2


class UnknownCampaignError(ServingError):
    """Planned placements name a campaign the data directory does not describe; the
    message names the campaigns and how to describe them."""

    status_code = 422
    exit_code = 2


class UnknownAccountError(ServingError):
    """An account the served data does not hold; the message names it and what to do."""

    status_code = 404


class NotReadyError(ServingError):
    """The service has no model or no data to answer with."""

    status_code = 503


class ReloadError(ServingError):
    """A reload that could not finish; the previous model keeps serving."""

    status_code = 503


class DecisionLogError(ServingError):
    """The decision log cannot be opened or cannot take a record; the message is one sentence
    naming the log and why."""

    status_code = 503


class TooManyCandidatesError(ServingError):
    """More candidates than the configured limit."""

    status_code = 413


class TooManyHistoryPostsError(ServingError):
    """More history posts in one request than the configured limit."""

    status_code = 413


class UndecodableBodyError(ServingError):
    """The body is not UTF-8 text."""

    status_code = 400


class InvalidJSONError(ServingError):
    """The body is not JSON, or not shaped like any request: names where."""

    status_code = 422


class ObjectiveError(ServingError):
    """The objective asks for a target the model does not predict."""

    status_code = 422


class DiscoveryError(ServingError):
    """A discovery among the known accounts that this model cannot make (it cannot price
    them); the message says what to send instead."""

    status_code = 422


class ShortlistError(ServingError):
    """A shortlist CSV that cannot be used as it is; `problems` lists every problem, each
    naming the file, column, rows and offending values."""

    status_code = 422
    exit_code = 2

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(problems)
        self.problems = problems

    def __str__(self) -> str:
        n = len(self.problems)
        head = f"The shortlist cannot be used as it is: {n} problem{'s' if n != 1 else ''}"
        return head + ":\n" + "\n".join(f"  - {p}" for p in self.problems)
