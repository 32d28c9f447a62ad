"""The feedback loop end to end: outcomes posted to the API store snapshots → `matcher models train` reads them
from the database → a restarted service and the nightly run rank with the model → explanations stay
component-based. Also: a GDPR erase takes the citizen's outcomes out of the training set."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from matcher.api import Services, create_app
from matcher.api._services import engine_factory_for
from matcher.batch import RerankJob, RerankOptions
from matcher.cli import app as cli
from matcher.config import Settings, get_settings
from matcher.ranking import FEATURE_NAMES, LABELS, load_model, versions
from matcher.ranking._rerank import rule_totals, snapshot_features
from matcher.scoring import COMPONENTS
from matcher.storage import FeedbackRepository, FeedbackRow, RankingRunRow, make_engine, session_factory
from matcher.taxonomy import Normalizer, Postcodes, Taxonomy
from tests.api._toy import TODAY
from tests.api.conftest import Api, seed_keys
from tests.storage import _samples as s

MIN_OUTCOMES, MIN_PER_CLASS = 40, 10
POSTCODES = ["4200", "4220", "4230", "4100", "4180", "4241", "4250", "4270"]
GROUPS = ["jobparat", "aktivitetsparat", "integration", "sygedagpenge"]


def _settings(db_url: str, models_dir: Path) -> Settings:
    return Settings(
        database_url=db_url,
        models_dir=models_dir,
        reranker="auto",
        reranker_min_outcomes=MIN_OUTCOMES,
        reranker_min_per_class=MIN_PER_CLASS,
    )


def _client(settings: Settings, taxonomy: Taxonomy, postcodes: Postcodes, normalizer: Normalizer) -> TestClient:
    """The app as `matcher serve` builds it (the scorer chosen from the settings), on the toy taxonomy."""
    services = Services(normalizer=normalizer, engine_factory=engine_factory_for(settings, taxonomy, postcodes, TODAY))
    return TestClient(create_app(settings, services=services), raise_server_exceptions=False)


@pytest.fixture
def loop(
    db_url: str, tmp_path: Path, toy_taxonomy: Taxonomy, postcodes: Postcodes, normalizer: Normalizer
) -> Iterator[tuple[Api, Settings]]:
    keys, a, b = seed_keys(db_url)
    settings = _settings(db_url, tmp_path / "models")
    with _client(settings, toy_taxonomy, postcodes, normalizer) as client:
        yield Api(client=client, keys=keys, employer_a=a, employer_b=b, db_url=db_url), settings


def _world(api: Api) -> tuple[list[int], list[int]]:
    citizens = [
        s.citizen_json(
            i, postcode=POSTCODES[i % len(POSTCODES)], target_group=GROUPS[i % len(GROUPS)],
            max_commute_km=60, available_from=f"2027-0{1 + i % 3}-01",
        )
        for i in range(24)
    ]
    r = api.call("consultant", "POST", "/v1/citizens:bulk", json=citizens)
    assert r.status_code == 201, r.text
    cids: list[int] = r.json()["ids"]
    vids = []
    for j, postcode in enumerate(["4200", "4100", "4230"]):
        need = s.vacancy_json(api.employer_a, j, postcode=postcode, kind=["ordinary", "flexjob"][j % 2])
        r = api.call("consultant", "POST", f"/v1/employers/{api.employer_a}/vacancies", json=need)
        assert r.status_code == 201, r.text
        vids.append(r.json()["id"])
    return cids, vids


def _post(api: Api, cid: int, vid: int, kind: str) -> None:
    r = api.call("consultant", "POST", f"/v1/matches/{cid}/{vid}/feedback", json={"kind": kind})
    assert r.status_code == 201, r.text


def _outcomes(api: Api, vids: list[int]) -> int:
    """Consultants record an outcome for every listed candidate (some are contacted first): the nearer half of
    each list is hired, the rest rejected (the hidden rule is the geography component); one pair is also pinned.
    Returns the number of labelled pairs."""
    labelled = 0
    for vid in vids:
        listed = api.call("consultant", "GET", f"/v1/vacancies/{vid}/candidates", params={"limit": 100}).json()
        geography = sorted(item["components"]["geography"] for item in listed["results"])
        median = geography[len(geography) // 2]
        for k, item in enumerate(listed["results"]):
            if k % 4 == 0:
                _post(api, item["citizen_id"], vid, "contacted")
            _post(api, item["citizen_id"], vid, "hired" if item["components"]["geography"] >= median else "rejected")
            labelled += 1
    _post(api, listed["results"][0]["citizen_id"], vids[-1], "pinned")
    return labelled


def _labelled(url: str) -> list[tuple[int, int, str, dict | None]]:
    engine = make_engine(url)
    with session_factory(engine)() as session:
        pairs = FeedbackRepository(session).labelled_pairs(LABELS)
    engine.dispose()
    return pairs


@pytest.fixture
def cli_env(loop: tuple[Api, Settings], monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    _, settings = loop
    monkeypatch.setenv("MATCHER_MODELS_DIR", str(settings.models_dir))
    monkeypatch.setenv("MATCHER_RERANKER_MIN_OUTCOMES", str(MIN_OUTCOMES))
    monkeypatch.setenv("MATCHER_RERANKER_MIN_PER_CLASS", str(MIN_PER_CLASS))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_feedback_to_model_to_ranking(
    loop: tuple[Api, Settings], cli_env: None, toy_taxonomy: Taxonomy, postcodes: Postcodes, normalizer: Normalizer
) -> None:
    api, settings = loop
    models = api.call("consultant", "GET", "/v1/models").json()
    assert models == {"scorer": "rule", "label": "rule", "setting": "auto", "reranker": None}
    cids, vids = _world(api)
    n = _outcomes(api, vids)

    # snapshots: stored with outcomes only, holding scores and context and nothing about the person
    engine = make_engine(api.db_url)
    with session_factory(engine)() as session:
        rows = list(session.scalars(select(FeedbackRow).order_by(FeedbackRow.id)))
    engine.dispose()
    assert {r.kind for r in rows if r.snapshot is None} == {"pinned"}
    snap = rows[0].snapshot
    assert snap is not None and set(snap) == {"format", "components", "total", "gates", "context", "scorer"}
    assert set(snap["context"]) == {"need_kind", "target_group"} and snap["scorer"] == "rule"
    assert snap["context"]["target_group"] in GROUPS and snap["gates"] == []
    dump = json.dumps([r.snapshot for r in rows])
    for word in ("Person", "case-", "heavy lifting", "name", "postcode"):
        assert word not in dump

    pairs = _labelled(api.db_url)
    assert len(pairs) == n and all(snapshot is not None for *_, snapshot in pairs)
    positives = sum(kind == "hired" for _, _, kind, _ in pairs)
    assert MIN_PER_CLASS + 3 <= positives <= n - MIN_PER_CLASS - 3 and n >= MIN_OUTCOMES + 8

    # GDPR erase: the citizen's outcomes leave the training set with them
    gone = pairs[0][0]
    assert api.call("consultant", "DELETE", f"/v1/citizens/{gone}").status_code == 204
    after = _labelled(api.db_url)
    assert gone not in {c for c, *_ in after} and len(after) == n - sum(c == gone for c, *_ in pairs)

    # train from the database
    result = CliRunner().invoke(cli, ["models", "train", "--database-url", api.db_url])
    assert result.exit_code == 0, result.output
    (version,) = versions(settings.models_dir / "reranker")
    model = load_model(settings.models_dir / "reranker" / version)
    assert model.meta["n_rows"] == len(after) and model.meta["source"] == "the feedback database"

    # a restarted service ranks with it; the explanation is still the components'
    with _client(settings, toy_taxonomy, postcodes, normalizer) as client:
        restarted = Api(client=client, keys=api.keys, employer_a=api.employer_a, employer_b=api.employer_b,
                        db_url=api.db_url)
        info = restarted.call("consultant", "GET", "/v1/models").json()
        assert info["scorer"] == "reranker" and info["label"] == f"reranker {version}"
        assert info["reranker"]["n_rows"] == len(after) and info["reranker"]["feature_names"] == list(FEATURE_NAMES)
        assert set(info["reranker"]["metrics"]) >= {"auc", "rule_auc", "log_loss", "brier", "ece"}
        assert restarted.call("admin", "GET", "/v1/models").status_code == 200
        assert restarted.call("employer_a", "GET", "/v1/models").status_code == 403
        assert restarted.call(None, "GET", "/v1/models").status_code == 401
        listed = restarted.call("consultant", "GET", f"/v1/vacancies/{vids[0]}/candidates",
                                params={"limit": 100}).json()["results"]
        assert len(listed) >= 5
        for item in listed:
            assert set(item["components"]) == {*COMPONENTS, "overqualification"}
            assert item["explanation"]["en"] and item["explanation"]["da"]
            x = snapshot_features({
                "format": 1, "components": item["components"],
                "context": {"need_kind": "ordinary", "target_group": GROUPS[(item["citizen_id"] - cids[0]) % 4]},
            })[None, :]
            assert item["score"] == pytest.approx(float(model.predict_proba(x)[0]), abs=1e-4)
        rule = [float(rule_totals(snapshot_features({"format": 1, "components": i["components"], "context": {
            "need_kind": "ordinary", "target_group": "jobparat"}})[None, :], settings.scoring)[0]) for i in listed]
        assert max(abs(i["score"] - r) for i, r in zip(listed, rule, strict=True)) > 0.05
        scores = [i["score"] for i in listed]
        assert scores == sorted(scores, reverse=True)
        # a new outcome's snapshot names the scorer that ranked the pair
        _post(restarted, listed[0]["citizen_id"], vids[0], "interviewed")

    # the nightly run ranks with the same model and says so
    sessions = session_factory(make_engine(api.db_url))
    job = RerankJob(settings, sessions, toy_taxonomy, postcodes, RerankOptions())
    job.prepare(TODAY)
    outcome = job.run()
    with sessions() as session:
        run = session.get(RankingRunRow, outcome.run_id)
        assert run is not None and run.model_version.endswith(f"; scorer reranker {version}")
        last = session.scalars(select(FeedbackRow).order_by(FeedbackRow.id.desc()).limit(1)).one()
        assert last.snapshot is not None and last.snapshot["scorer"] == f"reranker {version}"
