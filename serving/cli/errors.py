"""What a user sees when a command fails: one sentence, naming the flag to change.

The layers' errors (`FeaturesError`, `TrainingError`, `ServingError`) are meant for
people and name the parameter they refuse (`window_days must be at least 1, got 0.`);
the CLI shows the flag instead (`--window must be at least 1, got 0.`), through the
one table `FLAGS`, and exits with the layer's code (2 for data that breaks the
contract, 1 otherwise). Any other exception is a bug and says so, without a
traceback unless INFLUENCE_DEBUG is set. `Reporting` is the root group's class, so
that this happens inside the app, where `typer.testing.CliRunner` sees it too.
"""

from __future__ import annotations

import os
import re
from typing import Any

import typer
from typer.core import TyperGroup

from features.errors import FeaturesError
from serving.cli.console import error, stderr
from serving.errors import ServingError
from training.errors import TrainingError

__all__ = ["FLAGS", "Reporting", "flagged"]

FLAGS = {
    # training.config.TrainConfig and BacktestConfig, for train and compare
    "targets": "--targets",
    "window_days": "--window",
    "validation_share": "--validation-share",
    "budget_share": "--budget-share",
    "folds": "--folds",
    "holdout_share": "--holdout-share",
    # features.simulate.SimulationConfig, for simulate
    "accounts": "--accounts",
    "campaigns": "--campaigns",
    "days": "--days",
    "candidates": "--candidates",
    # features.distributed.dask_client, for --engine dask
    "workers": "--workers",
    # training.experiments.planning.sample_size, for abtest plan
    "alpha": "--alpha",
    "power": "--power",
}
"""The library's parameter names, as the flags that set them."""

_SUBJECT = re.compile(r"(\w+)(?= must )")


def flagged(message: str) -> str:
    """`message` with the parameter it starts with (`NAME must ...`) named by its flag.

    Only a sentence whose subject is a parameter in `FLAGS` changes; anything else,
    including a parameter named later in the sentence, is left as the layer wrote it.
    """
    subject = _SUBJECT.match(message)
    if subject is None or subject.group(1) not in FLAGS:
        return message
    return FLAGS[subject.group(1)] + message[subject.end() :]


class Reporting(TyperGroup):
    """A group that reports its commands' errors as one sentence and an exit code."""

    # ctx is click's Context, which newer typer versions vendor: Any keeps both typed.
    def invoke(self, ctx: Any) -> Any:
        """Run the command; a layer's error or a bug becomes a message and typer.Exit."""
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise  # typer's own: usage errors, --help, exit codes
        except (FeaturesError, TrainingError, ServingError) as e:
            # As written: a message may hold brackets (`pip install 'influence[postgres]'`).
            error(stderr(), flagged(str(e)))
            raise typer.Exit(e.exit_code) from e
        except Exception as e:  # the last line of defence: no traceback for users
            if os.environ.get("INFLUENCE_DEBUG"):
                raise
            error(
                stderr(),
                f"{type(e).__name__}: {e}. This is a bug in influence; run again with "
                "INFLUENCE_DEBUG=1 for the traceback and report it.",
                label="internal error:",
            )
            raise typer.Exit(1) from e
