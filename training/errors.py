"""Errors of the training layer."""

from __future__ import annotations

__all__ = ["TrainingError"]


class TrainingError(Exception):
    """Base class of every error the training layer raises on purpose.

    The message is one plain sentence: what was expected, what was found, what to do.
    """

    exit_code = 1
