"""The hold-out evaluation: partial credit from the fitted model must beat exact matching where the brief says so."""

from __future__ import annotations

import pytest

from matcher.taxonomy._similarity import METHODS, EscoSkillData, evaluate_holdout


def test_fitted_partial_credit_beats_exact_matching_on_held_out_profiles(esco: EscoSkillData) -> None:
    report = evaluate_holdout(esco, {"n_components": 64}, n_pool=600, n_cases=200, credits=[0.1], seed=0)
    sparse = report.metrics["sparse_profile"]
    assert sparse["fitted"][0.1].n_cases == 200
    assert sparse["fitted"][0.1].mrr > sparse["exact"][0.0].mrr
    for scenario in report.metrics.values():
        assert set(scenario) == set(METHODS)
        for by_credit in scenario.values():
            for m in by_credit.values():
                assert 0 <= m.accuracy_at_1 <= m.accuracy_at_10 <= 1
                assert m.accuracy_at_1 <= m.mrr <= 1 and 0 <= m.ndcg_at_10 <= 1
    assert "| sparse_profile | fitted | 0.1 |" in report.table()
    delta = sparse["fitted"][0.1].mrr - sparse["exact"][0.0].mrr
    assert f"fitted @0.1 {delta:+.3f}" in report.summary()


def test_pool_size_is_checked(esco: EscoSkillData) -> None:
    with pytest.raises(ValueError, match="n_pool"):
        evaluate_holdout(esco, n_pool=len(esco.occupation_uris))
    with pytest.raises(ValueError, match="credits"):
        evaluate_holdout(esco, credits=[1.5])
