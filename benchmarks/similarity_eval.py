"""Skill similarity: fit/related-matrix timings and the honest hold-out evaluation over several seeds, in one run.

    .venv/bin/python benchmarks/similarity_eval.py [--seeds 0,1,2] [--cases 500] [--pool 1000]
        [--credits 0.5,0.3,0.2,0.1] [--methods exact,taxonomy,taxonomy+fitted] [--repeats 1]

Prints the median and p95 of the full-ESCO fit and of ``related_matrix`` over all skills (``--repeats 0`` skips
them), then per seed the table of acc@1, acc@10, MRR and NDCG@10 per scenario, method and credit, then the same
metrics averaged over the seeds with each seed's MRR change over exact matching, and finally a few neighbour lists
to eyeball. The default methods are the ones production chooses between: ``taxonomy`` (ESCO's weighted relations,
the taxonomy's ``skill_related`` without a model) and ``taxonomy+fitted`` (with the fitted model), scored by the
scoring layer's own rule with the policy's ``related_skill_top_k``. See docs/similarity.md for how to read them.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import TypeVar

import numpy as np
import pandas as pd

from matcher.config import ScoringPolicy, get_settings
from matcher.taxonomy._load import esco_skill_related
from matcher.taxonomy._similarity import (
    METHODS,
    HoldoutReport,
    SkillSimilarity,
    evaluate_holdout,
    load_esco_skill_data,
)

T = TypeVar("T")
EXAMPLES = ("operate forklift", "use spreadsheets software", "clean surfaces", "drive vehicles", "provide first aid")


def _timed(fn: Callable[[], T], repeats: int) -> tuple[list[float], T]:
    times: list[float] = []
    result = None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    assert result is not None
    return times, result


def _stats(times: list[float]) -> str:
    return f"median {np.median(times):.2f} s  p95 {np.percentile(times, 95):.2f} s  (n={len(times)})"


def across_seeds(reports: list[HoldoutReport]) -> str:
    """A Markdown table: per scenario, method and credit, metrics averaged over the seeds and each seed's MRR
    change over exact matching (positive = partial credit helps)."""
    lines = [
        "| scenario | method | credit | acc@1 | MRR | NDCG@10 | MRR − exact, per seed | cases/seed |",
        "|---|---|---|---|---|---|---|---|",
    ]
    first = reports[0]
    for scenario, by_method in first.metrics.items():
        for method, by_credit in by_method.items():
            for credit in by_credit:
                ms = [r.metrics[scenario][method][credit] for r in reports]
                deltas = [
                    r.metrics[scenario][method][credit].mrr - r.metrics[scenario]["exact"][0.0].mrr for r in reports
                ]
                delta = "—" if method == "exact" else " / ".join(f"{d:+.3f}" for d in deltas)
                lines.append(
                    f"| {scenario} | {method} | {credit:g} | {np.mean([m.accuracy_at_1 for m in ms]):.3f} "
                    f"| {np.mean([m.mrr for m in ms]):.3f} | {np.mean([m.ndcg_at_10 for m in ms]):.3f} | {delta} "
                    f"| {ms[0].n_cases} |"
                )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--cases", type=int, default=500)
    parser.add_argument("--pool", type=int, default=1000)
    parser.add_argument("--credits", default="0.5,0.3,0.2,0.1")
    parser.add_argument("--methods", default="exact,taxonomy,taxonomy+fitted", help=f"from {','.join(METHODS)}")
    parser.add_argument("--top-k", type=int, default=ScoringPolicy().related_skill_top_k)
    parser.add_argument("--repeats", type=int, default=1, help="timing repeats of fit and related_matrix; 0 skips")
    args = parser.parse_args()

    data_dir = get_settings().data_dir
    start = time.perf_counter()
    data = load_esco_skill_data(data_dir)
    explicit = esco_skill_related(data_dir, data.skill_uris)
    print(
        f"load ESCO: {time.perf_counter() - start:.2f} s  ({len(data.occupation_uris)} occupations, "
        f"{len(data.skill_uris)} skills, {data.weights.nnz} relations; ESCO skill_related nnz {explicit.nnz})"
    )

    model = SkillSimilarity()
    if args.repeats > 0:
        fit_times, _ = _timed(lambda: model.fit(data.skill_occupation(), data.skill_uris), args.repeats)
        print(f"fit (full ESCO, {model.n_components} comps): {_stats(fit_times)}")
        rel_times, related = _timed(lambda: model.related_matrix(data.skill_uris), args.repeats)
        nnz_per_row = np.diff(related.indptr)
        print(
            f"related_matrix ({len(data.skill_uris)} skills): {_stats(rel_times)}; "
            f"nnz {related.nnz}, skills with neighbours {int((nnz_per_row > 0).sum())}, "
            f"mean per row {nnz_per_row[nnz_per_row > 0].mean():.1f}"
        )

    credits = [float(c) for c in args.credits.split(",")]
    methods = [m.strip() for m in args.methods.split(",")]
    reports = []
    total = time.perf_counter()
    for seed in (int(s) for s in args.seeds.split(",")):
        start = time.perf_counter()
        report = evaluate_holdout(
            data,
            SkillSimilarity().get_params(),
            n_pool=args.pool,
            n_cases=args.cases,
            credits=credits,
            seed=seed,
            methods=methods,
            explicit_related=explicit,
            top_k=args.top_k,
        )
        reports.append(report)
        print(
            f"\n## hold-out seed {seed} (pool {report.n_pool}, trained on {report.n_train_occupations} occupations, "
            f"top_k {args.top_k}, {time.perf_counter() - start:.1f} s)\n"
        )
        print(report.table())
    print(f"\n## across seeds {args.seeds} ({time.perf_counter() - total:.1f} s for the hold-out runs)\n")
    print(across_seeds(reports))

    if args.repeats > 0:
        labels = pd.read_csv(data_dir / "esco" / "skills_en.csv.gz", usecols=["conceptUri", "preferredLabel"])
        by_label = dict(zip(labels["preferredLabel"], labels["conceptUri"], strict=True))
        by_uri = dict(zip(labels["conceptUri"], labels["preferredLabel"], strict=True))
        print("\n## nearest skills (full model)")
        for label in EXAMPLES:
            near = model.most_similar(by_label[label], k=6)
            print(f"- {label}: " + "; ".join(f"{by_uri[u]} {s:.2f}" for u, s in near))


if __name__ == "__main__":
    main()
