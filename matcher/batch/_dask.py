"""Scale-out: the run's blocks on a Dask cluster (the ``matcher[distributed]`` extra).

The need features and the scorer (which holds the taxonomy) are scattered once with ``broadcast=True``; each
block task carries only its citizens' rows. Results come back as they finish and are committed by the calling
process, in completion order — the checkpoint is per block, so order does not matter, and the final merge is
exact, so the results equal the single-process run's. At most ``2 × workers`` blocks are in flight, which bounds
the memory the driver holds for blocks not yet written.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from matcher.batch._blocks import BlockTask, score_block
from matcher.features import NeedFeatures
from matcher.ranking import TopK
from matcher.scoring import Scorer

log = logging.getLogger(__name__)

INSTALL_HINT = "Dask is not installed: pip install 'matcher[distributed]'"


def _client(address: str, workers: int) -> tuple[Any, Any]:
    """(client, local cluster or None). ``address`` is 'local' or a scheduler address."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise RuntimeError(INSTALL_HINT) from exc
    if address == "local":
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
        return Client(cluster), cluster
    if not address.startswith(("tcp://", "tls://", "inproc://", "ucx://")):
        raise ValueError(f"dask: expected 'local' or a scheduler address like tcp://host:8786, got {address!r}")
    return Client(address), None


def dask_scored(
    address: str, workers: int, tasks: Iterator[BlockTask], needs: NeedFeatures, scorer: Scorer
) -> Iterator[tuple[int, TopK]]:
    """Score the blocks on the cluster; yields (block index, top-k) as blocks finish."""
    from distributed import as_completed

    client, cluster = _client(address, workers)
    try:
        n_workers = max(1, len(client.scheduler_info().get("workers", {})))
        # hash=False: tokenising the taxonomy (tens of thousands of strings) costs seconds and buys nothing here
        needs_f = client.scatter(needs, broadcast=True, hash=False)
        scorer_f = client.scatter(scorer, broadcast=True, hash=False)
        log.info("dask: %d workers at %s", n_workers, client.scheduler.address)
        window = 2 * n_workers
        pending = as_completed()
        for _ in range(window):
            task = next(tasks, None)
            if task is None:
                break
            pending.add(client.submit(score_block, task, needs_f, scorer_f, pure=False))
        for future in pending:
            index, top = future.result()
            future.release()
            task = next(tasks, None)
            if task is not None:
                pending.add(client.submit(score_block, task, needs_f, scorer_f, pure=False))
            yield index, top
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
