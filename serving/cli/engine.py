"""The options that choose where a command runs: this process (pandas) or a Dask cluster."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any

import typer

__all__ = [
    "ENGINES",
    "EngineOption",
    "MemoryLimitOption",
    "RunOn",
    "SchedulerOption",
    "WorkersOption",
]

ENGINES = ("pandas", "dask")

EngineOption = Annotated[
    str,
    typer.Option(
        "--engine",
        help="pandas: everything in this process. dask: features and boosters on a Dask "
        "cluster (pip install 'influence[dask]').",
    ),
]
SchedulerOption = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        help="Address of a Dask scheduler, such as tcp://10.0.0.5:8786 (--engine dask); "
        "default: a local cluster.",
    ),
]
WorkersOption = Annotated[
    int, typer.Option("--workers", help="Worker processes of the local Dask cluster.")
]
MemoryLimitOption = Annotated[
    str | None,
    typer.Option("--memory-limit", help="Memory per worker of the local Dask cluster, e.g. 4GB."),
]


@dataclass(frozen=True)
class RunOn:
    """Where a command runs, from its --engine, --scheduler, --workers and --memory-limit."""

    engine: str = "pandas"
    scheduler: str | None = None
    workers: int = 2
    memory_limit: str | None = None

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise typer.BadParameter(
                f"expected one of {', '.join(ENGINES)}, got {self.engine!r}", param_hint="--engine"
            )
        if self.engine == "pandas" and self.scheduler:
            raise typer.BadParameter("applies to --engine dask only", param_hint="--scheduler")

    @property
    def dask(self) -> bool:
        """Whether the command runs on a Dask cluster."""
        return self.engine == "dask"

    @contextlib.contextmanager
    def client(self) -> Iterator[Any]:
        """A Dask client on `scheduler`, or on a local cluster started (and stopped) here."""
        from features.distributed import dask_client

        with dask_client(self.scheduler, self.workers, self.memory_limit) as client:
            yield client
