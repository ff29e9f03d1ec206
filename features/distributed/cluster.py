"""The Dask cluster the engine runs on: a client, its workers, and Dask itself.

`dask_client` connects to a scheduler or starts a local cluster; `require_dask`
imports Dask or says in one sentence how to install it, so that the pandas engine
never needs it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from features.errors import FeaturesError

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["INSTALL_HINT", "dask_client", "require_dask", "worker_addresses"]

INSTALL_HINT = (
    "The dask engine needs Dask, which is not installed here: pip install 'influence[dask]'."
)


def require_dask() -> Any:
    """Import `distributed` (and `dask.dataframe`), or raise FeaturesError saying how to install.

    Returns the `distributed` module. Called by every function that needs a cluster,
    so that the pandas engine never imports Dask.
    """
    try:
        import dask.dataframe  # noqa: F401 - checks the extra is complete
        import distributed
    except ImportError as e:
        raise FeaturesError(INSTALL_HINT) from e
    return distributed


@contextlib.contextmanager
def dask_client(
    scheduler: str | None = None, workers: int = 2, memory_limit: str | None = None
) -> Iterator[Client]:
    """A Dask client: on the scheduler at `scheduler`, else on a local cluster, closed after.

    The local cluster has `workers` processes of one thread each (LightGBM and the
    feature code are single-threaded per task) and `memory_limit` per worker
    ("4GB"; default: Dask's share of the machine). Raises FeaturesError when Dask
    is missing or the scheduler cannot be reached.
    """
    distributed = require_dask()
    if scheduler:
        try:
            client = distributed.Client(scheduler, timeout="10s")
        except (OSError, TimeoutError) as e:
            raise FeaturesError(f"Cannot reach the Dask scheduler at {scheduler}: {e}") from e
        with client:
            yield client
        return
    if workers < 1:
        raise FeaturesError(f"workers must be at least 1, got {workers}.")
    with (
        distributed.LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            memory_limit=memory_limit or "auto",
            dashboard_address=":0",
            silence_logs=logging.ERROR,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        client.wait_for_workers(workers)
        yield client


def worker_addresses(client: Any) -> list[str]:
    """The addresses of the workers connected now, sorted; waits for at least one.

    Asked of the workers themselves: `client.scheduler_info()` is a cache the client
    refreshes every few seconds, and right after a cluster starts it can list none.
    """
    client.wait_for_workers(1)
    return sorted(client.run(_nothing))


def _nothing() -> None:
    return None
