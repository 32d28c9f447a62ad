"""The nightly run against a real SQLite database: results equal one sweep of the ranking kernel, reuse,
failure mid-run and resume, bad input, pruning."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from sqlalchemy import event, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from matcher.batch import COMPLETED, FAILED, RerankJob, RerankOptions, latest_completed
from matcher.config import Settings
from matcher.features import CitizenFeatures, NeedFeatures
from matcher.ranking import blocked_topk
from matcher.scoring import RuleScorer
from matcher.storage import (
    CitizenRepository,
    NeedRepository,
    RankingResultRow,
    RankingRunRow,
    transaction,
)
from matcher.storage._tables import RankingBlockRow, RankingListRow
from matcher.taxonomy import Postcodes, Taxonomy
from tests.batch._world import TODAY

Lists = dict[str, list[tuple[int, int, int, float]]]


def read_results(sessions: sessionmaker[Session], run_id: int) -> Lists:
    """direction → sorted (citizen_id, need_id, rank, score) of a run: the ranked lists both ways and the plan."""
    out: Lists = {"citizen": [], "need": [], "plan": []}
    with transaction(sessions) as session:
        lists = select(RankingListRow).where(RankingListRow.run_id == run_id)
        for row in session.scalars(lists):
            for rank, (other, score) in enumerate(zip(row.ids, row.scores, strict=True), start=1):
                pair = (row.owner_id, other) if row.direction == "citizen" else (other, row.owner_id)
                out[row.direction].append((*pair, rank, round(score, 6)))
        plan = select(
            RankingResultRow.citizen_id, RankingResultRow.need_id, RankingResultRow.rank, RankingResultRow.score
        ).where(RankingResultRow.run_id == run_id, RankingResultRow.direction == "plan")
        for cid, nid, rank, score in session.execute(plan):
            out["plan"].append((cid, nid, rank, round(score, 6)))
    return {key: sorted(value) for key, value in out.items()}


def reference(settings: Settings, sessions: sessionmaker[Session], taxonomy: Taxonomy, postcodes: Postcodes) -> Lists:
    """The same lists from one call of the ranking kernel over everything (no blocks of the batch)."""
    with transaction(sessions) as session:
        citizens = list(CitizenRepository(session).profiles())
        needs = list(NeedRepository(session).vacancies())
    cf = CitizenFeatures.build(citizens, taxonomy, postcodes, settings.scoring, TODAY)
    nf = NeedFeatures.build(needs, taxonomy, postcodes, settings.scoring, TODAY)
    top = blocked_topk(
        RuleScorer(settings.scoring, taxonomy),
        cf,
        np.arange(cf.n),
        nf,
        np.arange(nf.n),
        settings.top_k,
        settings.memory_budget_mb,
        geo_blocking=True,
    )
    out: Lists = {"citizen": [], "need": []}
    for i, cid in enumerate(top.citizen_ids.tolist()):
        for r in range(top.k):
            nid = int(top.citizen_need_ids[i, r])
            if nid >= 0:
                out["citizen"].append((cid, nid, r + 1, round(float(top.citizen_scores[i, r]), 6)))
    for j, nid in enumerate(top.need_ids.tolist()):
        for r in range(top.k):
            cid = int(top.need_citizen_ids[j, r])
            if cid >= 0:
                out["need"].append((cid, nid, r + 1, round(float(top.need_scores[j, r]), 6)))
    return {key: sorted(value) for key, value in out.items()}


def job(
    settings: Settings, sessions: sessionmaker[Session], taxonomy: Taxonomy, postcodes: Postcodes, **options: object
) -> RerankJob:
    return RerankJob(settings, sessions, taxonomy, postcodes, RerankOptions(**options))  # type: ignore[arg-type]


def test_blocked_run_equals_one_sweep_and_reports_the_plan(world, taxonomy, postcodes) -> None:
    settings, sessions = world()
    j = job(settings, sessions, taxonomy, postcodes, block_size=50)
    run_id, how = j.prepare(TODAY)
    assert how == "new"
    outcome = j.run()
    assert outcome.status == COMPLETED and outcome.blocks_total == 5 and outcome.blocks_computed == 5
    got = read_results(sessions, run_id)
    want = reference(settings, sessions, taxonomy, postcodes)
    assert len(want["citizen"]) > 100 and len(want["need"]) > 100
    assert got["citizen"] == want["citizen"]
    assert got["need"] == want["need"]
    # the plan: each citizen at most once, each need at most its positions
    plan = got["plan"]
    assert plan
    cids = [p[0] for p in plan]
    assert len(cids) == len(set(cids))
    with transaction(sessions) as session:
        positions = {nid: v.positions for nid, v in NeedRepository(session).vacancies()}
        run = session.get(RankingRunRow, run_id)
        assert run is not None
        assert run.blocks_done == 5 and run.status == COMPLETED and run.as_of == TODAY
        assert run.report is not None
        report = run.report
        # checkpoints' partials are dropped once merged
        assert all(b is None for b in session.scalars(select(RankingBlockRow.partial)))
    per_need: dict[int, int] = {}
    for _, nid, _, _ in plan:
        per_need[nid] = per_need.get(nid, 0) + 1
    assert all(count <= positions[nid] for nid, count in per_need.items())
    assert report["optimal"]["positions_filled"] == len(plan)
    assert report["optimal"]["total_value"] >= report["greedy"]["total_value"] - 1e-6


def test_identical_run_is_reused_and_a_fresh_run_gives_the_same_results(world, taxonomy, postcodes) -> None:
    settings, sessions = world(top_k=5)
    first = job(settings, sessions, taxonomy, postcodes, block_size=100)
    run_id, _ = first.prepare(TODAY)
    first.run()
    again = job(settings, sessions, taxonomy, postcodes)
    assert again.prepare(TODAY) == (run_id, "reused")
    assert again.run().blocks_computed == 0
    fresh = job(settings, sessions, taxonomy, postcodes, block_size=70, fresh=True)
    fresh_id, how = fresh.prepare(TODAY)
    assert how == "new" and fresh_id != run_id
    fresh.run()
    a, b = read_results(sessions, run_id), read_results(sessions, fresh_id)
    assert a["citizen"] == b["citizen"] and a["need"] == b["need"] and a["plan"] == b["plan"]
    with transaction(sessions) as session:
        latest = latest_completed(session)
        assert latest is not None and latest.id == fresh_id


def test_database_error_mid_run_fails_cleanly_and_resumes_to_the_same_results(world, taxonomy, postcodes) -> None:
    settings, sessions = world()
    engine = sessions.kw["bind"]
    writes = {"n": 0}

    def flaky(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if statement.startswith("INSERT INTO ranking_blocks"):
            writes["n"] += 1
            if writes["n"] == 3:
                raise OperationalError(statement, parameters, Exception("database went away"))

    event.listen(engine, "before_cursor_execute", flaky)
    broken = job(settings, sessions, taxonomy, postcodes, block_size=50)
    run_id, _ = broken.prepare(TODAY)
    with pytest.raises(OperationalError):
        broken.run()
    event.remove(engine, "before_cursor_execute", flaky)
    with transaction(sessions) as session:
        run = session.get(RankingRunRow, run_id)
        assert run is not None
        assert run.status == FAILED and "database went away" in (run.error or "")
        assert run.blocks_done == 2
        assert latest_completed(session) is None  # a failed run is never served
    resumed = job(settings, sessions, taxonomy, postcodes)
    assert resumed.prepare(TODAY) == (run_id, "resumed")
    outcome = resumed.run()
    assert outcome.blocks_computed == 3 and outcome.status == COMPLETED
    got = read_results(sessions, run_id)
    want = reference(settings, sessions, taxonomy, postcodes)
    assert got["citizen"] == want["citizen"] and got["need"] == want["need"]


def test_capacity_zero_and_a_citizen_without_profile_are_reported(world, taxonomy, postcodes) -> None:
    settings, sessions = world()
    with transaction(sessions) as session:
        needs = NeedRepository(session)
        nid, vacancy = next(iter(needs.vacancies()))
        needs.replace(nid, vacancy.model_copy(update={"positions": 0}))
        citizens = CitizenRepository(session)
        _, someone = next(iter(citizens.profiles()))
        empty = someone.model_copy(
            update={"external_ref": "EMPTY-1", "skills": [], "occupations": [], "qualifications": []}
        )
        empty_id = citizens.add(empty).id
    j = job(settings, sessions, taxonomy, postcodes)
    run_id, _ = j.prepare(TODAY)
    report = j.run().report
    assert report["needs_with_capacity_0"] == 1 and report["needs_with_capacity_0_ids"] == [nid]
    assert report["citizens_without_usable_profile"] >= 1
    assert empty_id in report["citizens_without_usable_profile_ids"]
    got = read_results(sessions, run_id)
    assert all(p[1] != nid for p in got["plan"])  # a paused need gets nothing
    assert all(r[1] != nid for r in got["need"])  # and its gate keeps it out of every list


def test_empty_database_completes_with_an_empty_report(tmp_path, taxonomy, postcodes) -> None:
    from matcher.storage import make_engine, session_factory, upgrade

    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    engine = make_engine(url)
    upgrade(engine)
    sessions = session_factory(engine)
    settings = Settings(database_url=url)
    j = job(settings, sessions, taxonomy, postcodes)
    j.prepare(TODAY)
    outcome = j.run()
    assert outcome.status == COMPLETED and outcome.blocks_total == 0
    assert outcome.report["optimal"]["positions_filled"] == 0
    assert outcome.report["n_citizens"] == 0 and outcome.report["n_needs"] == 0


def test_old_runs_are_pruned_but_never_the_latest_completed(world, taxonomy, postcodes) -> None:
    settings, sessions = world(n_citizens=40, n_needs=10)
    ids = []
    for size in (15, 25):
        j = job(settings, sessions, taxonomy, postcodes, block_size=size, fresh=True)
        ids.append(j.prepare(TODAY)[0])
        j.run()
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=settings.run_retention_days + 1)
    with transaction(sessions) as session:
        session.execute(update(RankingRunRow).values(created_at=old))
    j = job(settings, sessions, taxonomy, postcodes, block_size=40, fresh=True)
    newest = j.prepare(TODAY)[0]
    j.run()
    with transaction(sessions) as session:
        left = set(session.scalars(select(RankingRunRow.id)))
        orphans = session.scalars(select(RankingListRow.run_id).where(RankingListRow.run_id.in_(ids))).first()
    assert left == {newest}
    assert orphans is None


def test_citizens_without_any_need_are_reported_without_match(world, taxonomy, postcodes) -> None:
    settings, sessions = world(n_citizens=30, n_needs=0)
    j = job(settings, sessions, taxonomy, postcodes)
    j.prepare(TODAY)
    outcome = j.run()
    assert outcome.status == COMPLETED and outcome.blocks_total == 0
    assert outcome.report["citizens_without_match"] == 30
    assert outcome.report["optimal"]["positions_filled"] == 0


def test_gdpr_erase_removes_the_citizen_from_stored_runs(world, taxonomy, postcodes) -> None:
    settings, sessions = world()
    j = job(settings, sessions, taxonomy, postcodes, block_size=50)
    run_id, _ = j.prepare(TODAY)
    assert j.run().status == COMPLETED
    before = read_results(sessions, run_id)
    # the citizen who appears most often in the needs' lists
    counts: dict[int, int] = {}
    for cid, _nid, _rank, _score in before["need"]:
        counts[cid] = counts.get(cid, 0) + 1
    victim = max(counts, key=lambda c: (counts[c], -c))
    assert counts[victim] > 0 and any(c == victim for c, *_ in before["citizen"])
    with transaction(sessions) as session:
        CitizenRepository(session).erase(victim)
    after = read_results(sessions, run_id)
    for direction in ("citizen", "need", "plan"):
        assert all(c != victim for c, *_ in after[direction]), direction
    # everyone else's entries are untouched
    assert len(after["need"]) == len(before["need"]) - counts[victim]
    assert [e for e in before["citizen"] if e[0] != victim] == after["citizen"]


def test_gdpr_erase_during_a_run_keeps_its_results_from_landing(world, taxonomy, postcodes) -> None:
    settings, sessions = world()
    engine = sessions.kw["bind"]
    blocks = {"n": 0}
    victim: dict[str, int] = {}

    def erase_mid_run(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if statement.startswith("INSERT INTO ranking_blocks"):
            blocks["n"] += 1

    event.listen(engine, "after_cursor_execute", erase_mid_run)
    j = job(settings, sessions, taxonomy, postcodes, block_size=50)
    run_id, _ = j.prepare(TODAY)
    original_finish = j._finish

    def finish_after_erase(*args, **kwargs):  # type: ignore[no-untyped-def]
        with transaction(sessions) as session:
            victim["id"] = next(CitizenRepository(session).all()).id
            CitizenRepository(session).erase(victim["id"])
        return original_finish(*args, **kwargs)

    j._finish = finish_after_erase  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="invalidated"):
        j.run()
    event.remove(engine, "after_cursor_execute", erase_mid_run)
    assert blocks["n"] == 5
    with transaction(sessions) as session:
        run = session.get(RankingRunRow, run_id)
        assert run is not None and run.status == FAILED
        assert latest_completed(session) is None
        leftovers = session.scalars(select(RankingBlockRow).where(RankingBlockRow.run_id == run_id)).all()
        assert leftovers == []
    assert all(c != victim["id"] for rows in read_results(sessions, run_id).values() for c, *_ in rows)
