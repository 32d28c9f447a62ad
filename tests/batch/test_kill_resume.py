"""kill -9 in the middle of a run, then start again: it continues from its last checkpoint and ends with the
same results as an uninterrupted run. A real subprocess (`matcher rerank`) and a real SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from sqlalchemy import func, select

from matcher.batch import COMPLETED, RUNNING, RerankJob, RerankOptions
from matcher.storage import RankingRunRow, transaction
from matcher.storage._tables import RankingBlockRow
from tests.batch._world import TODAY
from tests.batch.test_run import read_results


def _rerank(url: str, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "MATCHER_DATABASE_URL": url, "MATCHER_TOP_K": "10"}
    cmd = [sys.executable, "-m", "matcher.cli", "rerank", "--as-of", TODAY.isoformat(), "--quiet", *args]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_sigkill_after_two_checkpoints_then_resume_gives_identical_results(world, taxonomy, postcodes) -> None:
    settings, sessions = world(top_k=10)
    # an uninterrupted run of the same data in a second database, for comparison
    ref_settings, ref_sessions = world("reference", top_k=10)
    ref = RerankJob(ref_settings, ref_sessions, taxonomy, postcodes, RerankOptions(block_size=40))
    ref_id, _ = ref.prepare(TODAY)
    ref.run()

    proc = _rerank(settings.database_url, "--block-size", "40", "--throttle", "1")
    deadline = time.monotonic() + 120
    done = 0
    while time.monotonic() < deadline and proc.poll() is None:
        with transaction(sessions) as session:
            done = session.scalar(select(func.count()).select_from(RankingBlockRow)) or 0
        if done >= 2:
            break
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with transaction(sessions) as session:
        run = session.scalars(select(RankingRunRow)).one()
        killed_id, status, blocks_done, total = run.id, run.status, run.blocks_done, run.blocks_total
    assert status == RUNNING  # nobody marked it: the process died
    assert 2 <= blocks_done < total == 6

    again = _rerank(settings.database_url)
    _out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err.decode()
    with transaction(sessions) as session:
        run = session.get(RankingRunRow, killed_id)
        assert run is not None and run.status == COMPLETED and run.blocks_done == total
        assert session.scalar(select(func.count()).select_from(RankingRunRow)) == 1
    got, want = read_results(sessions, killed_id), read_results(ref_sessions, ref_id)
    assert got["citizen"] == want["citizen"]
    assert got["need"] == want["need"]
    assert got["plan"] == want["plan"]
