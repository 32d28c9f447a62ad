"""The learned re-ranker: the Scorer contract, recovery of a known hidden rule from synthetic outcomes, calibration,
the fallback to the rule weights, persistence and its validation, and `matcher models train`.

The hidden-rule world: a seeded Slagelse-area population (600 citizens × 150 needs, real ESCO), scored by the rule
weights; consultants give feedback on the top 40 candidates of each need; outcomes are drawn from

    P(positive) = σ(4·geography − 3·overqualification + 2·availability + 1·[target group jobparat] − 2.5),

a rule that differs from the hand weights (they favour skills and ignore overqualification). Language and
schedule, the brief's example drivers, are left out on purpose: among the pairs that get feedback in this world
they are fully met 99 % and 97 % of the time, so no number of outcomes could show a model recovering them.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from matcher.cli import app
from matcher.config import ScoringPolicy, Settings, get_settings
from matcher.features import NEED_KINDS, TARGET_GROUPS, CitizenFeatures, NeedFeatures
from matcher.ranking import (
    FEATURE_NAMES,
    InsufficientOutcomesError,
    LearnedScorer,
    RerankModel,
    TrainingSet,
    choose_scorer,
    fit_reranker,
    load_model,
    make_snapshot,
    save_model,
    scorer_label,
    versions,
)
from matcher.ranking._rerank import _ece, rule_totals, snapshot_features
from matcher.scoring import COMPONENTS, RuleScorer, ScoreBlock, gate_names
from matcher.synthetic import generate
from matcher.taxonomy import Taxonomy, get_taxonomy, load_postcodes
from tests.scoring.scorer_contract import ScorerContract

TODAY = dt.date(2026, 11, 23)
HIDDEN = {"geography": 4.0, "overqualification": -3.0, "availability": 2.0}
HIDDEN_JOBPARAT, HIDDEN_INTERCEPT = 1.0, -2.5
N_TRAIN = 3000
runner = CliRunner()


def hand_model(calibration: str = "sigmoid", n_rows: int = 500) -> RerankModel:
    """A model with weights set by hand (every feature non-zero, context terms included)."""
    coef = np.linspace(-2.0, 3.0, len(FEATURE_NAMES))
    meta = {"version": "20261123T100000Z", "n_rows": n_rows, "positives": n_rows // 2, "format_version": 1}
    if calibration == "sigmoid":
        return RerankModel(coef=coef, intercept=-1.0, platt=np.array([0.8, -0.3]), meta=meta)
    return RerankModel(
        coef=coef, intercept=-1.0, calibration="isotonic", iso_x=np.array([-3.0, 0.0, 2.0, 6.0]),
        iso_y=np.array([0.0, 0.2, 0.5, 0.9]), meta=meta,
    )


class TestLearnedScorerContract(ScorerContract):
    def make_scorer(self, policy: ScoringPolicy, taxonomy: Taxonomy) -> LearnedScorer:
        return LearnedScorer(policy, taxonomy, hand_model())


class TestLearnedScorerIsotonicContract(ScorerContract):
    def make_scorer(self, policy: ScoringPolicy, taxonomy: Taxonomy) -> LearnedScorer:
        return LearnedScorer(policy, taxonomy, hand_model("isotonic"))


# --------------------------------------------------------------------------------------------- the world


@dataclass(frozen=True, eq=False)
class World:
    taxonomy: Taxonomy
    citizens: CitizenFeatures
    needs: NeedFeatures
    block: ScoreBlock  # the rule scores of every pair
    rows: np.ndarray  # the pairs consultants gave feedback on (top 40 per need), shuffled
    cols: np.ndarray
    p_true: np.ndarray  # the hidden rule's probability per pair
    kinds: list[str]  # the outcome drawn per pair
    snapshots: list[dict]

    def outcomes(self, part: slice) -> list[tuple[str, dict]]:
        return list(zip(self.kinds[part], self.snapshots[part], strict=True))


@pytest.fixture(scope="module")
def world() -> World:
    data = generate(600, 150, seed=3, today=TODAY)
    taxonomy, policy = get_taxonomy(), ScoringPolicy()
    postcodes = load_postcodes(get_settings().data_dir)
    cf = CitizenFeatures.build(list(enumerate(data.citizens)), taxonomy, postcodes, policy, TODAY)
    nf = NeedFeatures.build(list(enumerate(data.vacancies)), taxonomy, postcodes, policy, TODAY)
    block = RuleScorer(policy, taxonomy).score_block(cf, np.arange(cf.n), nf, np.arange(nf.n))
    open_ = block.gates == 0
    top = np.argsort(-np.where(open_, block.total, -1.0), axis=0, kind="stable")[:40]
    rows, cols = top.ravel(), np.tile(np.arange(nf.n), 40)
    keep = open_[rows, cols]
    rng = np.random.default_rng(11)
    order = rng.permutation(int(keep.sum()))
    rows, cols = rows[keep][order], cols[keep][order]
    comp = {name: np.asarray(values) for name, values in block.components.items()}
    group = np.array([g.value for g in TARGET_GROUPS])[cf.target_group]
    kind = np.array([k.value for k in NEED_KINDS])[nf.kind]
    z = sum(w * comp[name][rows, cols] for name, w in HIDDEN.items())
    z = z + HIDDEN_JOBPARAT * (group[rows] == "jobparat") + HIDDEN_INTERCEPT
    p_true = 1.0 / (1.0 + np.exp(-z))
    positive = rng.random(len(rows)) < p_true
    kinds = np.where(positive, np.array(["hired", "interviewed"])[rng.integers(0, 2, len(rows))], "rejected")
    snapshots = [
        make_snapshot(
            {name: comp[name][r, c] for name in comp}, float(block.total[r, c]), gate_names(int(block.gates[r, c])),
            kind[c], group[r], "rule",
        )
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True)
    ]
    return World(taxonomy, cf, nf, block, rows, cols, p_true, kinds.tolist(), snapshots)


@pytest.fixture(scope="module")
def trained(world: World) -> RerankModel:
    data = TrainingSet.from_outcomes(world.outcomes(slice(0, N_TRAIN)), source="synthetic hidden rule")
    return fit_reranker(data, ScoringPolicy(), min_outcomes=200, min_per_class=30)


@dataclass(frozen=True)
class Evaluation:
    y: np.ndarray
    model: np.ndarray
    rule: np.ndarray
    truth: np.ndarray


@pytest.fixture(scope="module")
def evaluation(world: World, trained: RerankModel) -> Evaluation:
    """The pairs not trained on, with fresh outcomes from the hidden rule, scored by the engine's scorers."""
    rows, cols, truth = world.rows[N_TRAIN:], world.cols[N_TRAIN:], world.p_true[N_TRAIN:]
    y = (np.random.default_rng(12).random(len(rows)) < truth).astype(np.int64)
    cf, nf = world.citizens, world.needs
    learned = LearnedScorer(ScoringPolicy(), world.taxonomy, trained).score_block(cf, np.arange(cf.n), nf,
                                                                                 np.arange(nf.n))
    return Evaluation(y, learned.total[rows, cols].astype(np.float64), world.block.total[rows, cols], truth)


# --------------------------------------------------------------------------------------------- the hidden rule


def test_model_ranks_better_than_the_rule_weights(trained: RerankModel, evaluation: Evaluation) -> None:
    m = trained.meta["metrics"]
    assert m["auc"] >= m["rule_auc"] + 0.2, m
    model_auc = roc_auc_score(evaluation.y, evaluation.model)
    rule_auc = roc_auc_score(evaluation.y, evaluation.rule)
    best_auc = roc_auc_score(evaluation.y, evaluation.truth)  # what knowing the hidden rule would give
    assert model_auc >= rule_auc + 0.2
    assert model_auc >= best_auc - 0.02, (model_auc, best_auc)


def test_learned_weights_recover_the_hidden_drivers(trained: RerankModel) -> None:
    w = trained.weights()
    assert w["geography"] > 0 and w["availability"] > 0 and w["overqualification"] < 0
    drivers = sorted(HIDDEN, key=lambda name: -abs(HIDDEN[name]))
    assert sorted(HIDDEN, key=lambda name: -abs(w[name])) == drivers
    others = [name for name in (*COMPONENTS, "overqualification") if name not in HIDDEN]
    assert max(abs(w[name]) for name in others) < 0.5 * min(abs(w[name]) for name in HIDDEN)
    groups = {g.value: w[f"target_group={g.value}"] for g in TARGET_GROUPS}
    jobparat_effect = groups.pop("jobparat") - float(np.mean(list(groups.values())))
    assert 0.5 < jobparat_effect < 1.5
    for name, true_w in HIDDEN.items():
        assert abs(w[name] - true_w) < 0.5 * abs(true_w), (name, w[name])


def test_probabilities_are_calibrated(trained: RerankModel, evaluation: Evaluation) -> None:
    assert trained.meta["metrics"]["ece"] <= 0.05
    assert _ece(evaluation.model, evaluation.y.astype(np.float64)) <= 0.05
    assert float(np.mean(np.abs(evaluation.model - evaluation.truth))) <= 0.05
    # the rule total is a score, not a probability: its calibration error is far larger
    assert _ece(evaluation.rule.astype(np.float64), evaluation.y.astype(np.float64)) > 0.1


def test_isotonic_calibration_is_stored_as_arrays_and_calibrated(world: World) -> None:
    data = TrainingSet.from_outcomes(world.outcomes(slice(0, N_TRAIN)))
    model = fit_reranker(data, ScoringPolicy(), min_outcomes=200, min_per_class=30, calibration="isotonic")
    assert model.calibration == "isotonic" and len(model.iso_x) >= 2 and np.all(np.diff(model.iso_y) >= 0)
    assert model.meta["metrics"]["ece"] <= 0.06 and model.meta["metrics"]["auc"] > 0.8


def test_block_scores_equal_the_model_on_snapshot_rows(world: World, trained: RerankModel) -> None:
    """The vectorised path (grid + row + column terms) gives what the model gives on the stored feature rows."""
    cf, nf = world.citizens, world.needs
    block = LearnedScorer(ScoringPolicy(), world.taxonomy, trained).score_block(cf, np.arange(cf.n), nf,
                                                                               np.arange(nf.n))
    x = np.vstack([snapshot_features(s) for s in world.snapshots[:500]])
    expected = trained.predict_proba(x)
    np.testing.assert_allclose(block.total[world.rows[:500], world.cols[:500]], expected, atol=2e-5)
    assert (block.total[world.block.gates != 0] == 0).all()
    assert (block.total[world.block.gates == 0] > 0).all()
    for name, values in world.block.components.items():
        assert np.array_equal(block.components[name], values)  # the explanation's components are the rule's


# --------------------------------------------------------------------------------------------- too few, fallback


def test_too_few_outcomes_are_refused(world: World) -> None:
    few = TrainingSet.from_outcomes(world.outcomes(slice(0, 150)))
    with pytest.raises(InsufficientOutcomesError, match=r"150 labelled pairs .* at least 200"):
        fit_reranker(few, ScoringPolicy(), min_outcomes=200, min_per_class=30)
    lopsided = [("hired", s) for _, s in world.outcomes(slice(0, 400))][:390] + [
        ("rejected", s) for _, s in world.outcomes(slice(400, 410))
    ]
    with pytest.raises(InsufficientOutcomesError, match=r"\(390 positive, 10 negative\)"):
        fit_reranker(TrainingSet.from_outcomes(lopsided), ScoringPolicy(), min_outcomes=200, min_per_class=30)


def _settings(tmp_path: Path, **over: object) -> Settings:
    return Settings(models_dir=tmp_path, **over)  # type: ignore[arg-type]


def test_fallback_to_the_rule_weights(tmp_path: Path, world: World) -> None:
    tax = world.taxonomy
    assert type(choose_scorer(_settings(tmp_path), tax)) is RuleScorer  # no model at all
    folder = save_model(hand_model(n_rows=300), tmp_path / "reranker")
    auto = choose_scorer(_settings(tmp_path), tax)
    assert isinstance(auto, LearnedScorer) and scorer_label(auto) == f"reranker {folder.name}"
    assert type(choose_scorer(_settings(tmp_path, reranker="off"), tax)) is RuleScorer
    # trained on fewer outcomes than this installation asks for: never used
    assert type(choose_scorer(_settings(tmp_path, reranker_min_outcomes=400), tax)) is RuleScorer
    with pytest.raises(ValueError, match="too few outcomes"):
        choose_scorer(_settings(tmp_path, reranker=folder.name, reranker_min_outcomes=400), tax)
    with pytest.raises(ValueError, match=r"no such model folder.*20261123T100000Z"):
        choose_scorer(_settings(tmp_path, reranker="19990101T000000Z"), tax)
    # a broken newest model: auto falls back (logged), an explicit choice fails
    (folder / "model.npz").write_bytes(b"not an npz")
    assert type(choose_scorer(_settings(tmp_path), tax)) is RuleScorer
    with pytest.raises(ValueError, match=r"model\.npz"):
        choose_scorer(_settings(tmp_path, reranker=str(folder)), tax)


# --------------------------------------------------------------------------------------------- files


def test_save_and_load_round_trip_with_versions(tmp_path: Path, trained: RerankModel) -> None:
    root = tmp_path / "reranker"
    first = save_model(trained, root)
    second = save_model(trained, root)  # the same second: a suffix, never an overwrite
    assert second.name == f"{first.name}-2" and versions(root) == [first.name, second.name]
    assert {p.name for p in first.iterdir()} == {"model.npz", "meta.json", "MODEL_CARD.md"}
    loaded = load_model(second)
    x = np.random.default_rng(0).random((50, len(FEATURE_NAMES)))
    np.testing.assert_array_equal(loaded.predict_proba(x), trained.predict_proba(x))
    assert loaded.version == second.name and loaded.meta["n_rows"] == N_TRAIN
    card = (first / "MODEL_CARD.md").read_text()
    for needle in ("## Data", "## Method", "## Metrics", "## Intended use", "## Limits", "## Protected attributes",
                   f"| AUC | {trained.meta['metrics']['auc']} |", "`target_group=jobparat`"):
        assert needle in card, needle


def test_loader_names_what_is_wrong(tmp_path: Path) -> None:
    folder = save_model(hand_model(), tmp_path)
    meta = json.loads((folder / "meta.json").read_text())
    (folder / "meta.json").write_text(json.dumps({**meta, "feature_names": [*FEATURE_NAMES[:-1], "gender"]}))
    with pytest.raises(ValueError, match=r"feature_names: .*unknown \['gender'\]"):
        load_model(folder)
    (folder / "meta.json").write_text(json.dumps(meta))
    arrays = dict(np.load(folder / "model.npz"))
    np.savez(folder / "model.npz", **{**arrays, "coef": arrays["coef"][:5]})
    with pytest.raises(ValueError, match=r"coef: expected \d+ finite weights, got shape \(5,\)"):
        load_model(folder)
    np.savez(folder / "model.npz", **{**arrays, "platt": np.array([-1.0, 0.0])})
    with pytest.raises(ValueError, match="platt"):
        load_model(folder)
    (folder / "meta.json").unlink()
    with pytest.raises(ValueError, match=r"meta\.json: missing"):
        load_model(folder)


# --------------------------------------------------------------------------------------------- rows and labels


def test_snapshot_holds_only_scores_and_context(world: World) -> None:
    snap = world.snapshots[0]
    assert set(snap) == {"format", "components", "total", "gates", "context", "scorer"}
    assert set(snap["components"]) == {*COMPONENTS, "overqualification"}
    assert set(snap["context"]) == {"need_kind", "target_group"}
    # every model input is a score component or one of the two context fields, nothing else
    bases = {name.split("=")[0] for name in LearnedScorer.feature_names}
    assert bases == {*COMPONENTS, "overqualification", "need_kind", "target_group"}


def test_training_rows_labels_and_skips(world: World) -> None:
    s = world.snapshots
    gated = {**s[1], "gates": ["commute"]}
    filled = {**s[2], "gates": ["capacity", "expired"]}  # need-state gates: the outcome still teaches
    data = TrainingSet.from_outcomes([
        ("hired", s[0]), ("interviewed", filled), ("rejected", s[3]), ("contacted", s[4]), ("pinned", s[5]),
        ("hired", None), ("rejected", gated),
    ])
    assert data.y.tolist() == [1, 1, 0]
    assert data.skipped == {"not_a_label": 2, "without_snapshot": 1, "pair_gated": 1}
    np.testing.assert_array_equal(data.x[0], snapshot_features(s[0]))
    with pytest.raises(ValueError, match=r"outcome 2: snapshot.components.language: expected a number in \[0, 1\]"):
        TrainingSet.from_outcomes([("hired", s[0]), ("hired", {**s[0], "components": {
            **s[0]["components"], "language": 1.5}})])
    with pytest.raises(ValueError, match=r"context\.target_group: unknown target group 'martian'"):
        TrainingSet.from_outcomes([("hired", {**s[0], "context": {"need_kind": "ordinary",
                                                                   "target_group": "martian"}})])


def test_rule_totals_equal_the_rule_scorer(world: World) -> None:
    x = np.vstack([snapshot_features(s) for s in world.snapshots[:200]])
    np.testing.assert_allclose(rule_totals(x, ScoringPolicy()), world.block.total[world.rows[:200],
                                                                                 world.cols[:200]], atol=1e-5)


# --------------------------------------------------------------------------------------------- the command


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("MATCHER_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("MATCHER_DATABASE_URL", f"sqlite:///{tmp_path / 'unused.sqlite'}")
    get_settings.cache_clear()
    yield tmp_path / "models"
    get_settings.cache_clear()


def _jsonl(path: Path, outcomes: list[tuple[str, dict]]) -> Path:
    path.write_text("".join(json.dumps({"kind": k, "snapshot": s}) + "\n" for k, s in outcomes))
    return path


def test_train_command_refuses_too_few_in_one_line(cli_env: Path, world: World, tmp_path: Path) -> None:
    source = _jsonl(tmp_path / "few.jsonl", world.outcomes(slice(0, 120)))
    result = runner.invoke(app, ["models", "train", "--jsonl", str(source)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "too few outcomes: 120 labelled pairs" in lines[0]
    assert versions(cli_env / "reranker") == []


def test_train_command_writes_a_version(cli_env: Path, world: World, tmp_path: Path) -> None:
    source = _jsonl(tmp_path / "outcomes.jsonl", world.outcomes(slice(0, 600)))
    result = runner.invoke(app, ["models", "train", "--jsonl", str(source)])
    assert result.exit_code == 0, result.output
    (version,) = versions(cli_env / "reranker")
    meta = json.loads((cli_env / "reranker" / version / "meta.json").read_text())
    assert meta["n_rows"] == 600 and meta["feature_names"] == list(FEATURE_NAMES)
    assert "AUC of the rule weights" in result.output and version in result.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"kind": "hired", "snapshot": {}}\nnot json\n')
    result = runner.invoke(app, ["models", "train", "--jsonl", str(bad)])
    assert result.exit_code == 1 and "line 2: not JSON" in result.output
