"""Proof that protected attributes (gender, birth year / age, origin, religion) cannot reach any model input.

Three independent lines:

1. Structural: the Citizen model and the feature tables have no such field; the code of the engine, the
   scorers, the nightly run, the live index, the matching routes and the web pages never names the table that
   holds them (or its repository), never imports the audit code, and never uses a protected name in code; and
   the SQL that the engine's and the nightly run's load paths issue never touches that table.
2. Behavioural: one synthetic world stored three times — with its protected attributes, with them shuffled and
   altered, and with none — gives identical feature arrays, scores, rankings both ways, explanations, stored
   nightly-run lists and placement plans.
3. The learned re-ranker: its input feature names hold nothing protected, and its scores are identical under the
   same perturbation.
"""

from __future__ import annotations

import ast
import dataclasses
import datetime as dt
import itertools
import re
import types
import typing
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from pydantic import BaseModel
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session, sessionmaker

import matcher
from matcher.batch import RerankJob, RerankOptions
from matcher.config import ScoringPolicy, Settings
from matcher.domain import Citizen, Vacancy
from matcher.features import CitizenFeatures, NeedFeatures
from matcher.ranking import MatchEngine, TopK
from matcher.storage import (
    AuditAttributesRepository,
    CitizenAuditAttributesRow,
    CitizenRepository,
    EmployerRepository,
    FeedbackRepository,
    NeedRepository,
    RankingResultRow,
    make_engine,
    session_factory,
    transaction,
    upgrade,
)
from matcher.storage._tables import RankingListRow
from matcher.synthetic import SyntheticData, generate
from matcher.taxonomy import Postcodes, Taxonomy

AS_OF = dt.date(2026, 11, 1)
PACKAGE = Path(matcher.__file__).resolve().parent

PROTECTED_NAMES = frozenset(
    {
        "gender", "sex", "birth_year", "birth_date", "birthday", "date_of_birth", "age", "age_band", "origin",
        "origin_country", "nationality", "ethnicity", "ethnic_origin", "religion", "cpr",
    }
)  # fmt: skip
"""Names a protected attribute would go by on a model or in code."""

AUDIT_STORE_NAMES = (
    "citizen_audit_attributes",
    "CitizenAuditAttributesRow",
    "AuditAttributesRepository",
    "audit_attributes",
    "audit-attributes",
    "matcher.evaluation",
)
"""Whatever reaches the protected attributes: their table, row class, repository, route, and the audit code."""

ENGINE_SOURCES = (
    "domain",
    "taxonomy",
    "features",
    "scoring",
    "ranking",
    "batch",
    "web",
    "api/_index.py",
    "api/_services.py",
    "api/_bulk.py",
    "api/routes/feedback.py",
    "api/routes/rankings.py",
    "api/routes/search.py",
    "api/routes/vacancies.py",
    "api/routes/ranking_runs.py",
)
"""Everything on the way to a score, a ranked list, a model input or an employer's view."""


def _python_files() -> list[Path]:
    files: list[Path] = []
    for entry in ENGINE_SOURCES:
        path = PACKAGE / entry
        files.extend(sorted(path.rglob("*.py")) if path.is_dir() else [path])
    assert len(files) > 30 and all(f.is_file() for f in files)
    return files


# --------------------------------------------------------------------------------------------- 1. structural


def _model_field_names(model: type[BaseModel], seen: set[type[BaseModel]] | None = None) -> set[str]:
    """Every field name of ``model`` and of the models nested in it, at any depth."""
    seen = seen if seen is not None else set()
    if model in seen:
        return set()
    seen.add(model)
    names = set(model.model_fields)
    for info in model.model_fields.values():
        stack: list[Any] = [info.annotation]
        while stack:
            tp = stack.pop()
            if isinstance(tp, type) and issubclass(tp, BaseModel):
                names |= _model_field_names(tp, seen)
            stack.extend(typing.get_args(tp))
            if isinstance(tp, types.UnionType):
                stack.extend(tp.__args__)
    return names


def test_the_citizen_model_and_the_features_have_no_protected_field() -> None:
    names = _model_field_names(Citizen)
    assert {"target_group", "skills", "qualifications", "eqf_level", "cefr"} <= names  # the walk reached nesting
    assert names.isdisjoint(PROTECTED_NAMES), names & PROTECTED_NAMES
    assert _model_field_names(Vacancy).isdisjoint(PROTECTED_NAMES)
    for table in (CitizenFeatures, NeedFeatures):
        fields = {f.name for f in dataclasses.fields(table)}
        assert fields and fields.isdisjoint(PROTECTED_NAMES), fields & PROTECTED_NAMES
    with pytest.raises(ValueError, match="gender"):
        Citizen.model_validate({"external_ref": "x", "target_group": "jobparat", "postcode": "4200", "gender": "f"})


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the string constants that are docstrings (they may explain what is excluded, by name)."""
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                out.add(id(first.value))
        body = getattr(node, "body", None)
        if isinstance(body, list):  # attribute docstrings: a string right after an assignment
            for before, after in itertools.pairwise(body):
                if (
                    isinstance(before, ast.Assign | ast.AnnAssign)
                    and isinstance(after, ast.Expr)
                    and isinstance(after.value, ast.Constant)
                    and isinstance(after.value.value, str)
                ):
                    out.add(id(after.value))
    return out


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z_]+", text.lower()))


def _code_names(tree: ast.AST) -> set[str]:
    """Identifiers, imported modules, and string constants that are names (dict keys, ``getattr`` names, columns)
    used in a module's code; prose (docstrings, messages, the model card) may say what is left out."""
    docs = _docstrings(tree)
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, ast.arg | ast.keyword) and node.arg:
            names.add(node.arg)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.alias):
            names.add(node.name)
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docs
            and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", node.value)  # a key or attribute name, not prose
        ):
            names.add(node.value.lower())
    return names


def test_the_engine_code_never_reaches_the_audit_table_or_names_a_protected_attribute() -> None:
    for path in _python_files():
        source = path.read_text(encoding="utf-8")
        where = path.relative_to(PACKAGE.parent)
        for needle in AUDIT_STORE_NAMES:
            assert needle not in source, f"{where} mentions {needle}"
        used = _code_names(ast.parse(source, filename=str(path)))
        assert used.isdisjoint(PROTECTED_NAMES), f"{where} uses {sorted(used & PROTECTED_NAMES)} in code"


def test_the_scan_would_notice(tmp_path: Path) -> None:
    """The checks above fail on code that reads the attributes (so they are not vacuous)."""
    leaky = 'from matcher.storage import CitizenAuditAttributesRow\n\ndef f(row):\n    return row.gender\n'
    assert "CitizenAuditAttributesRow" in leaky
    assert "gender" in _code_names(ast.parse(leaky))
    sneaky = 'def f(doc):\n    """Never uses gender."""\n    log.info("no origin here")\n    return doc["birth_year"]\n'
    used = _code_names(ast.parse(sneaky))
    assert "birth_year" in used and used.isdisjoint({"gender", "origin"})


@contextmanager
def captured_sql() -> Iterator[list[str]]:
    """Every SQL statement any engine sends while the block runs."""
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(Engine, "before_cursor_execute", record)


# --------------------------------------------------------------------------------------------- 2. behavioural


@pytest.fixture(scope="module")
def world() -> SyntheticData:
    return generate(300, 50, seed=5, today=AS_OF)


def _perturbed(protected: list[dict[str, Any]], seed: int) -> list[dict[str, Any]]:
    """Every attribute of every citizen changed: the other gender, a birth year 1 to 20 years away, another
    origin country."""
    rng = np.random.default_rng(seed)
    flip = {"female": "male", "male": "female"}
    countries = ["DK", "SY", "UA", "PL", "SO", "IR"]
    out = []
    for p in protected:
        shift = int(rng.integers(1, 21)) * (1 if p["birth_year"] < 1985 else -1)
        others = [c for c in countries if c != p["origin_country"]]
        out.append(
            {
                "gender": flip.get(p["gender"], "other"),
                "birth_year": p["birth_year"] + shift,
                "origin_country": others[int(rng.integers(len(others)))],
            }
        )
    return out


def _store(url: str, world: SyntheticData, protected: list[dict[str, Any]] | None) -> sessionmaker[Session]:
    engine = make_engine(url)
    upgrade(engine)
    sessions = session_factory(engine)
    with transaction(sessions) as session:
        employers = EmployerRepository(session)
        ids = [employers.add(e).id for e in world.employers]
        needs = [v.model_copy(update={"employer_id": ids[v.employer_id - 1]}) for v in world.vacancies]
        citizen_ids = CitizenRepository(session).add_many(world.citizens)
        NeedRepository(session).add_many(needs)
        if protected is not None:
            AuditAttributesRepository(session).add_many(list(zip(citizen_ids, protected, strict=True)))
    return sessions


@dataclasses.dataclass
class Loaded:
    """What the engine derives from one stored copy of the world."""

    citizens: CitizenFeatures
    needs: NeedFeatures
    engine: MatchEngine
    top: TopK
    explained: list[tuple[int, float, dict[str, float], list[str], list[str]]]
    nightly: dict[str, list[tuple[Any, ...]]]
    attributes: list[tuple[int, str | None, int | None, str | None]]
    sql: list[str]


def _load(
    sessions: sessionmaker[Session], tmp: Path, name: str, taxonomy: Taxonomy, postcodes: Postcodes
) -> Loaded:
    policy = ScoringPolicy()
    url = str(sessions.kw["bind"].url)
    with captured_sql() as sql:
        # the live index's load path (matcher.api._app.build_state), then the nightly run
        with transaction(sessions) as session:
            pinned, hidden = FeedbackRepository(session).overrides()
            citizens = list(CitizenRepository(session).profiles())
            needs = list(NeedRepository(session).vacancies())
        engine = MatchEngine(taxonomy, postcodes, policy, memory_budget_mb=64, today=AS_OF)
        engine.bulk_load(citizens, needs)
        engine.set_feedback_overrides(pinned, hidden)
        settings = Settings(database_url=url, top_k=10, models_dir=tmp / "no-models")
        job = RerankJob(settings, sessions, taxonomy, postcodes, RerankOptions())
        job.prepare(today=AS_OF)
        outcome = job.run()
    assert outcome.status == "completed"
    explained = []
    for need_id, _ in needs[:10]:
        for m in engine.candidates(need_id, limit=5):
            explained.append((m.citizen_id, m.score, m.components, m.gates, m.explanation.en))
    with transaction(sessions) as session:
        lists = session.execute(
            select(RankingListRow.direction, RankingListRow.owner_id, RankingListRow.ids, RankingListRow.scores)
            .where(RankingListRow.run_id == outcome.run_id)
            .order_by(RankingListRow.direction, RankingListRow.owner_id)
        ).all()
        plan = session.execute(
            select(RankingResultRow.citizen_id, RankingResultRow.need_id, RankingResultRow.rank, RankingResultRow.score)
            .where(RankingResultRow.run_id == outcome.run_id)
            .order_by(RankingResultRow.rank)
        ).all()
        attributes = AuditAttributesRepository(session).all()
    return Loaded(
        citizens=CitizenFeatures.build(citizens, taxonomy, postcodes, policy, AS_OF),
        needs=NeedFeatures.build(needs, taxonomy, postcodes, policy, AS_OF),
        engine=engine,
        top=engine.score_all(10),
        explained=explained,
        nightly={"lists": [tuple(r) for r in lists], "plan": [tuple(r) for r in plan]},
        attributes=attributes,
        sql=sql,
    )


@pytest.fixture(scope="module")
def loaded(
    world: SyntheticData, taxonomy: Taxonomy, postcodes: Postcodes, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Loaded]:
    tmp = tmp_path_factory.mktemp("protected")
    variants = {"true": world.protected, "perturbed": _perturbed(world.protected, 1), "none": None}
    out = {}
    for name, protected in variants.items():
        sessions = _store(f"sqlite:///{tmp / name}.sqlite", world, protected)
        out[name] = _load(sessions, tmp, name, taxonomy, postcodes)
        sessions.kw["bind"].dispose()
    return out


def _assert_same_table(a: Any, b: Any) -> None:
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if sp.issparse(x):
            assert (x != y).nnz == 0, f.name
            np.testing.assert_array_equal(x.indptr, y.indptr)
        elif isinstance(x, np.ndarray):
            np.testing.assert_array_equal(x, y, err_msg=f.name)
        else:
            assert x == y, f.name


def test_the_perturbation_is_real(loaded: dict[str, Loaded]) -> None:
    true, perturbed, none = loaded["true"].attributes, loaded["perturbed"].attributes, loaded["none"].attributes
    assert len(true) == len(perturbed) == 300 and none == []
    for a, b in zip(true, perturbed, strict=True):
        assert a[0] == b[0] and a[1] != b[1] and a[2] != b[2] and a[3] != b[3]  # every attribute changed


def test_features_scores_and_rankings_are_identical(loaded: dict[str, Loaded]) -> None:
    base = loaded["true"]
    assert base.top.need_citizen_ids.max() > 0 and base.explained and base.nightly["plan"]
    for name in ("perturbed", "none"):
        other = loaded[name]
        _assert_same_table(base.citizens, other.citizens)
        _assert_same_table(base.needs, other.needs)
        for f in TopK._FIELDS:
            np.testing.assert_array_equal(getattr(base.top, f), getattr(other.top, f), err_msg=f"{name}: {f}")
        assert base.explained == other.explained, name
        assert base.nightly == other.nightly, name
        c_ids = base.citizens.ids[:40].tolist()
        for cid in c_ids:
            a = base.engine.matches_for_citizen(cid, limit=5, explain=False)
            b = other.engine.matches_for_citizen(cid, limit=5, explain=False)
            assert [(m.need_id, m.score) for m in a] == [(m.need_id, m.score) for m in b]


def test_the_load_paths_never_query_the_audit_table(loaded: dict[str, Loaded]) -> None:
    for name, run in loaded.items():
        assert any("FROM citizens" in s for s in run.sql), name  # the capture saw the engine's reads
        assert any("INSERT INTO ranking_lists" in s for s in run.sql), name  # and the nightly run's writes
        touched = [s for s in run.sql if CitizenAuditAttributesRow.__tablename__ in s]
        assert not touched, f"{name}: {touched[:2]}"


# --------------------------------------------------------------------------------------------- 3. re-ranker


def test_the_reranker_inputs_hold_nothing_protected(loaded: dict[str, Loaded], taxonomy: Taxonomy) -> None:
    from matcher.ranking import FEATURE_NAMES, LearnedScorer, RerankModel, make_snapshot

    assert LearnedScorer.feature_names == FEATURE_NAMES
    # every input is a score component or a one-hot of the need kind or the citizen's target group
    kinds = {name.split("=")[0] for name in FEATURE_NAMES if "=" in name}
    assert kinds == {"need_kind", "target_group"}
    words = {w for name in FEATURE_NAMES for w in re.split(r"[=_.]", name.lower())} | set(FEATURE_NAMES)
    assert words.isdisjoint(PROTECTED_NAMES | {"birth", "year", "country"}), words
    snapshot = make_snapshot({n: 0.5 for n in FEATURE_NAMES if "=" not in n}, 0.5, [], "ordinary", "jobparat", "rule")
    assert _words(repr(snapshot)).isdisjoint(PROTECTED_NAMES)

    rng = np.random.default_rng(3)
    model = RerankModel(coef=rng.normal(size=len(FEATURE_NAMES)), intercept=-0.5)
    scorer = LearnedScorer(ScoringPolicy(), taxonomy, model)
    blocks = {}
    for name, run in loaded.items():
        c, n = run.citizens, run.needs
        blocks[name] = scorer.score_block(c, np.arange(c.n), n, np.arange(n.n))
    base = blocks["true"]
    assert (base.total > 0).any()
    for name in ("perturbed", "none"):
        np.testing.assert_array_equal(base.total, blocks[name].total, err_msg=name)
        np.testing.assert_array_equal(base.gates, blocks[name].gates, err_msg=name)
