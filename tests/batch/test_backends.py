"""The run on every database backend (SQLite always; PostgreSQL when MATCHER_TEST_POSTGRES_URL is set): block
writes through the driver, the run lock, a database error mid-run and the resume."""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from matcher.batch import COMPLETED, FAILED, RerankJob, RerankOptions
from matcher.config import Settings
from matcher.storage import RankingRunRow, transaction
from tests.batch._world import TODAY, fill_database
from tests.batch.test_run import read_results, reference


def test_failure_and_resume_on_each_backend(db_url: str, taxonomy, postcodes) -> None:
    sessions = fill_database(db_url, 120, 30, seed=5)
    settings = Settings(database_url=db_url, top_k=6)
    engine = sessions.kw["bind"]
    seen = {"n": 0}

    def flaky(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if statement.startswith("INSERT INTO ranking_blocks"):
            seen["n"] += 1
            if seen["n"] == 2:
                raise OperationalError(statement, parameters, Exception("connection lost"))

    event.listen(engine, "before_cursor_execute", flaky)
    job = RerankJob(settings, sessions, taxonomy, postcodes, RerankOptions(block_size=30))
    run_id, _ = job.prepare(TODAY)
    try:
        job.run()
        raise AssertionError("the run should have failed")
    except OperationalError:
        pass
    finally:
        event.remove(engine, "before_cursor_execute", flaky)
    with transaction(sessions) as session:
        run = session.get(RankingRunRow, run_id)
        assert run is not None and run.status == FAILED and run.blocks_done == 1
    again = RerankJob(settings, sessions, taxonomy, postcodes)
    assert again.prepare(TODAY) == (run_id, "resumed")
    outcome = again.run()
    assert outcome.status == COMPLETED and outcome.blocks_computed == 3
    got, want = read_results(sessions, run_id), reference(settings, sessions, taxonomy, postcodes)
    assert got["citizen"] == want["citizen"] and got["need"] == want["need"]
    assert got["plan"]
