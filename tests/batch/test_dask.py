"""The run's blocks on a small Dask cluster give the same results as the single-process run."""

from __future__ import annotations

import pytest

from matcher.batch import RerankJob, RerankOptions
from tests.batch._world import TODAY
from tests.batch.test_run import read_results

distributed = pytest.importorskip("distributed")


def test_dask_cluster_gives_the_single_process_results(world, taxonomy, postcodes) -> None:
    settings, sessions = world(top_k=8)
    single = RerankJob(settings, sessions, taxonomy, postcodes, RerankOptions(block_size=60))
    single_id, _ = single.prepare(TODAY)
    single.run()
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        options = RerankOptions(block_size=35, fresh=True, dask=cluster.scheduler_address)
        spread = RerankJob(settings, sessions, taxonomy, postcodes, options)
        spread_id, how = spread.prepare(TODAY)
        outcome = spread.run()
    assert how == "new" and outcome.blocks_computed == outcome.blocks_total == 7
    a, b = read_results(sessions, single_id), read_results(sessions, spread_id)
    assert a["citizen"] == b["citizen"]
    assert a["need"] == b["need"]
    assert a["plan"] == b["plan"]


def test_bad_dask_address_is_a_clear_error(world, taxonomy, postcodes) -> None:
    settings, sessions = world(n_citizens=20, n_needs=5)
    job = RerankJob(settings, sessions, taxonomy, postcodes, RerankOptions(dask="host:8786"))
    job.prepare(TODAY)
    with pytest.raises(ValueError, match="dask: expected 'local' or a scheduler address"):
        job.run()
