"""The index change feed: every write the match index depends on leaves a row, in commit order, and only if it
committed."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from matcher.domain import FeedbackKind
from matcher.storage import (
    ChangeFeed,
    ChangeFeedRepository,
    CitizenRepository,
    EmployerRepository,
    FeedbackRepository,
    NeedRepository,
    committed_changes,
    make_engine,
    session_factory,
    transaction,
)
from tests.storage import _samples as s


def _feed(factory: sessionmaker[Session], after: int = 0) -> list[tuple[str, int | None]]:
    with transaction(factory) as session:
        feed = ChangeFeedRepository(session)
        return [(kind, entity) for _, kind, entity in feed.since(after, feed.latest())]


def test_every_index_write_is_recorded_in_order(factory: sessionmaker[Session]) -> None:
    with transaction(factory) as session:
        employer = EmployerRepository(session).add(s.employer(1)).id
        cid = CitizenRepository(session).add(s.citizen(1)).id
        bulk = CitizenRepository(session).add_many([s.citizen(2), s.citizen(3)])
        vid = NeedRepository(session).add(s.vacancy(employer)).id
        FeedbackRepository(session).add(cid, vid, FeedbackKind.hidden, None, None)
        FeedbackRepository(session).add(cid, vid, FeedbackKind.contacted, None, None)  # not an override: no row
        CitizenRepository(session).replace(cid, s.citizen(1, name="X"))
        NeedRepository(session).replace(vid, s.vacancy(employer, title="Truckfører"))
        CitizenRepository(session).erase(bulk[0])
        NeedRepository(session).delete(vid)
        seqs = committed_changes(session)
    assert _feed(factory) == [
        ("citizen", cid), ("citizen", bulk[0]), ("citizen", bulk[1]), ("need", vid), ("overrides", None),
        ("citizen", cid), ("need", vid), ("citizen", bulk[0]), ("need", vid),
    ]  # fmt: skip
    assert seqs == sorted(seqs) and len(seqs) == 9
    with transaction(factory) as session:
        assert ChangeFeedRepository(session).latest() == seqs[-1]
        assert committed_changes(session) == []  # taken once


def test_a_rolled_back_write_leaves_no_change(factory: sessionmaker[Session]) -> None:
    with pytest.raises(RuntimeError), transaction(factory) as session:
        CitizenRepository(session).add(s.citizen(1))
        raise RuntimeError("the request failed after the write")
    assert _feed(factory) == []
    with transaction(factory) as session:
        cid = CitizenRepository(session).add(s.citizen(2)).id
    assert _feed(factory) == [("citizen", cid)]


def test_the_cheap_reader_sees_commits_and_survives_a_lost_connection(db_url: str) -> None:
    engine = make_engine(db_url)
    factory = session_factory(engine)
    reader = ChangeFeed(engine)
    assert reader.latest() == 0
    with transaction(factory) as session:
        CitizenRepository(session).add(s.citizen(1))
        seq = committed_changes(session)[0]
    assert reader.latest() == seq
    reader._conn.close()  # e.g. the database restarted under it
    with pytest.raises(OperationalError):  # the API answers it with 503
        reader.latest()
    assert reader.latest() == seq  # the next call opens a new connection
    reader.close()
    engine.dispose()
