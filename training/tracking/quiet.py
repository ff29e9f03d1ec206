"""Loggers quieted for one step and restored afterwards: no library call changes a level for good.

MLflow and alembic say things at INFO that tell a user nothing they can act on (the
store's schema migrations, how a model was saved). The steps that cause them raise
those loggers' levels for as long as the step lasts, and put back what they found.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

__all__ = ["quieted"]


@contextlib.contextmanager
def quieted(level: int, *names: str) -> Iterator[None]:
    """Inside the block, the loggers `names` let through only records of `level` and above.

    A logger already at least that strict is left alone. On leaving the block, even by
    an exception, each logger gets back the level it had (NOTSET included).
    """
    loggers = [logging.getLogger(name) for name in names]
    before = [logger.level for logger in loggers]
    try:
        for logger in loggers:
            if logger.getEffectiveLevel() < level:
                logger.setLevel(level)
        yield
    finally:
        for logger, old in zip(loggers, before, strict=True):
            logger.setLevel(old)
