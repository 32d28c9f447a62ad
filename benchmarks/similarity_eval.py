"""Skill similarity: fit/related-matrix timings and the honest hold-out evaluation, in one run.

    .venv/bin/python benchmarks/similarity_eval.py [--seed 0] [--cases 500] [--pool 1000] [--credits 0.5,0.2,0.1]

Prints the median and p95 of the full-ESCO fit and of ``related_matrix`` over all skills, then for every credit the
table of acc@1, acc@10, MRR and NDCG@10 per scenario and method (exact, ESCO siblings, fitted, siblings+fitted),
and finally a few neighbour lists to eyeball. See docs/similarity.md for how to read them.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import TypeVar

import numpy as np
import pandas as pd

from matcher.config import get_settings
from matcher.taxonomy._similarity import SkillSimilarity, evaluate_holdout, load_esco_skill_data

T = TypeVar("T")
EXAMPLES = ("operate forklift", "use spreadsheets software", "clean surfaces", "drive vehicles", "provide first aid")


def _timed(fn: Callable[[], T], repeats: int) -> tuple[list[float], T]:
    times: list[float] = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return times, result


def _stats(times: list[float]) -> str:
    return f"median {np.median(times):.2f} s  p95 {np.percentile(times, 95):.2f} s  (n={len(times)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cases", type=int, default=500)
    parser.add_argument("--pool", type=int, default=1000)
    parser.add_argument("--credits", default="0.5,0.2,0.1")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    data_dir = get_settings().data_dir
    start = time.perf_counter()
    data = load_esco_skill_data(data_dir)
    print(
        f"load ESCO: {time.perf_counter() - start:.2f} s  ({len(data.occupation_uris)} occupations, "
        f"{len(data.skill_uris)} skills, {data.weights.nnz} relations)"
    )

    model = SkillSimilarity(random_state=args.seed)
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
    start = time.perf_counter()
    report = evaluate_holdout(
        data, model.get_params(), n_pool=args.pool, n_cases=args.cases, credits=credits, seed=args.seed
    )
    print(
        f"\n## hold-out (pool {report.n_pool}, trained on {report.n_train_occupations} occupations, "
        f"seed {args.seed}, {time.perf_counter() - start:.1f} s)\n"
    )
    print(report.table())
    print()
    print(report.summary())

    labels = pd.read_csv(data_dir / "esco" / "skills_en.csv.gz", usecols=["conceptUri", "preferredLabel"])
    by_label = dict(zip(labels["preferredLabel"], labels["conceptUri"], strict=True))
    by_uri = dict(zip(labels["conceptUri"], labels["preferredLabel"], strict=True))
    print("\n## nearest skills (full model)")
    for label in EXAMPLES:
        near = model.most_similar(by_label[label], k=6)
        print(f"- {label}: " + "; ".join(f"{by_uri[u]} {s:.2f}" for u, s in near))


if __name__ == "__main__":
    main()
