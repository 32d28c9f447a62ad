"""GDPR erase really erases (rows, engine, audit subject scrubbed), export returns everything held, and reads and
writes of personal data are audited with key, time and purpose."""

from __future__ import annotations

from sqlalchemy import select, text

from matcher.storage import (
    AuditRepository,
    AuditRow,
    CitizenRow,
    FeedbackRow,
    make_engine,
    session_factory,
    transaction,
)
from tests.api.conftest import Api
from tests.storage import _samples as s


def _rows(api: Api, model: type) -> list:
    engine = make_engine(api.db_url)
    if model is AuditRow:  # through the repository: it moves the entries the read-audit writer staged
        with transaction(session_factory(engine)) as session:
            rows = list(AuditRepository(session).since())
    else:
        with session_factory(engine)() as session:
            rows = list(session.scalars(select(model)))
    engine.dispose()
    return rows


def _setup(api: Api) -> tuple[int, int]:
    cid = api.call("consultant", "POST", "/v1/citizens", json=s.citizen_json(0)).json()["id"]
    vid = api.call("consultant", "POST", "/v1/vacancies:bulk", json=[s.vacancy_json(api.employer_a)]).json()["ids"][0]
    return cid, vid


def test_reads_and_writes_are_audited_with_purpose(api: Api) -> None:
    cid, vid = _setup(api)
    api.call("consultant", "GET", f"/v1/citizens/{cid}", headers={"X-Purpose": "opfoelgningssamtale"})
    api.call("consultant", "GET", f"/v1/vacancies/{vid}/candidates")
    api.call("employer_a", "GET", f"/v1/vacancies/{vid}/candidates")
    api.call("consultant", "POST", f"/v1/matches/{cid}/{vid}/feedback", json={"kind": "contacted"})
    rows = [r for r in _rows(api, AuditRow) if r.subject_type == "citizen" and r.subject_id == str(cid)]
    actions = [(r.action, r.purpose) for r in rows]
    assert actions == [
        ("citizen.create", "casework"),
        ("citizen.read", "opfoelgningssamtale"),
        ("candidates.read", "matching"),
        ("candidates.read.anonymous", "employer recruitment"),
        ("feedback.create", "matching"),
    ]
    assert all(r.key_id is not None and r.at.tzinfo is not None for r in rows)
    assert rows[3].key_id != rows[2].key_id  # the employer's key, not the consultant's


def test_export_returns_everything_held(api: Api) -> None:
    cid, vid = _setup(api)
    api.call("consultant", "POST", f"/v1/matches/{cid}/{vid}/feedback", json={"kind": "interviewed", "reason": "ok"})
    r = api.call("consultant", "GET", f"/v1/citizens/{cid}/export")
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["citizen"]["external_ref"] == "case-0" and out["citizen"]["name"] == "Person 0"
    assert [(f["need_id"], f["kind"], f["reason"]) for f in out["feedback"]] == [(vid, "interviewed", "ok")]
    assert [a["action"] for a in out["audit"]] == ["citizen.create", "feedback.create", "citizen.export"]


def test_erase_removes_rows_index_entry_and_scrubs_audit(api: Api) -> None:
    cid, vid = _setup(api)
    other = api.call("consultant", "POST", "/v1/citizens", json=s.citizen_json(1)).json()["id"]
    api.call("consultant", "POST", f"/v1/matches/{cid}/{vid}/feedback", json={"kind": "pinned"})
    api.call("consultant", "GET", f"/v1/citizens/{cid}")
    assert api.call("consultant", "DELETE", f"/v1/citizens/{cid}").status_code == 204

    assert [c.id for c in _rows(api, CitizenRow)] == [other]
    assert _rows(api, FeedbackRow) == []
    audit = _rows(api, AuditRow)
    about = [a for a in audit if a.subject_type == "citizen"]
    assert all(a.subject_id != str(cid) for a in about)
    erased = [a for a in about if a.subject_id.startswith("erased:")]
    assert {a.action for a in erased} >= {"citizen.create", "citizen.read", "feedback.create", "citizen.erase"}
    assert len({a.subject_id for a in erased}) == 1  # one stable pseudonym
    assert any(a.subject_id == str(other) for a in about)  # others untouched
    # gone from the live index: not listed, no matches, and a second erase is 404
    listed = api.call("consultant", "GET", f"/v1/vacancies/{vid}/candidates", params={"limit": 100}).json()
    assert cid not in [x["citizen_id"] for x in listed["results"]]
    assert api.call("consultant", "GET", f"/v1/citizens/{cid}/matches").status_code == 404
    assert api.call("consultant", "DELETE", f"/v1/citizens/{cid}").status_code == 404
    assert api.call("consultant", "GET", f"/v1/citizens/{cid}/export").status_code == 404


def test_every_read_of_a_cached_list_is_audited(api: Api) -> None:
    cid, vid = _setup(api)
    for _ in range(3):  # the first read ranks, the next two are answered from the cache
        assert api.call("consultant", "GET", f"/v1/vacancies/{vid}/candidates").status_code == 200
        assert api.call("consultant", "GET", f"/v1/citizens/{cid}/matches").status_code == 200
    actions = [r.action for r in _rows(api, AuditRow) if r.subject_id == str(cid)]
    assert actions.count("candidates.read") == 3 and actions.count("matches.read") == 3


def test_a_read_whose_audit_record_cannot_be_written_is_refused(api: Api) -> None:
    _, vid = _setup(api)
    api.call("consultant", "GET", f"/v1/vacancies/{vid}/candidates")  # ranked and cached while the log works
    engine = make_engine(api.db_url)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE audit_staging RENAME TO audit_staging_away"))
    try:
        for role in ("consultant", "employer_a"):
            r = api.call(role, "GET", f"/v1/vacancies/{vid}/candidates")
            assert r.status_code == 503, r.text
            assert "results" not in r.text and "case-" not in r.text and r.headers["retry-after"]
    finally:
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE audit_staging_away RENAME TO audit_staging"))
        engine.dispose()
    assert api.call("consultant", "GET", f"/v1/vacancies/{vid}/candidates").status_code == 200
