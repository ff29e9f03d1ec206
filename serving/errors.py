"""Errors of the serving layer."""

from __future__ import annotations

__all__ = ["ServingError"]


class ServingError(Exception):
    """Base class of every error the serving layer raises on purpose.

    `status_code` is the HTTP status the API answers with; `exit_code` what the
    CLI exits with.
    """

    status_code = 500
    exit_code = 1
