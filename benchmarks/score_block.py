"""Speed of the features build and of RuleScorer.score_block against the bare skills kernel.

Prints: feature build rate, full-matrix scoring time, pairs per second, median / p95 per block, and the ratio of
full scoring to the bare sparse dot product (citizen skills · need essential skills, densified) on the same
blocks and the same matrices — the denominator of issue 3's "full score ≤ 2× the bare kernel" target.
Also the time to explain 20 pairs. Single process, single thread of numpy work.

    .venv/bin/python benchmarks/score_block.py --citizens 10000 --needs 2000
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time

import numpy as np

from matcher.config import get_settings
from matcher.features import CitizenFeatures, NeedFeatures
from matcher.scoring import RuleScorer, explain
from matcher.synthetic import generate
from matcher.taxonomy import load_postcodes, load_taxonomy


def blocks(n: int, size: int) -> list[np.ndarray]:
    return [np.arange(i, min(i + size, n)) for i in range(0, n, size)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--citizens", type=int, default=10_000)
    ap.add_argument("--needs", type=int, default=2_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--region", default="slagelse", choices=["slagelse", "national"])
    ap.add_argument("--block-citizens", type=int, default=2048)
    ap.add_argument("--block-needs", type=int, default=512)
    args = ap.parse_args()

    c0 = time.perf_counter()
    sum(range(10_000_000))
    # a shared machine under load slows everything: this line lets a reader scale the numbers (~0.15 s idle)
    print(f"calibration: sum(range(1e7)) {time.perf_counter() - c0:.2f} s")
    settings = get_settings()
    policy = settings.scoring
    today = dt.date(2026, 11, 23)
    t0 = time.perf_counter()
    taxonomy = load_taxonomy()
    postcodes = load_postcodes(settings.data_dir)
    t1 = time.perf_counter()
    data = generate(args.citizens, args.needs, seed=args.seed, region=args.region, today=today)
    t2 = time.perf_counter()
    cit = CitizenFeatures.build(list(enumerate(data.citizens, 1)), taxonomy, postcodes, policy, today)
    t3 = time.perf_counter()
    needs = NeedFeatures.build(list(enumerate(data.vacancies, 1)), taxonomy, postcodes, policy, today)
    t4 = time.perf_counter()
    print(f"taxonomy+postcodes load: {t1 - t0:.2f} s; synthetic generate: {t2 - t1:.2f} s")
    print(
        f"features: citizens {cit.n} in {t3 - t2:.2f} s ({cit.n / (t3 - t2):,.0f}/s), "
        f"needs {needs.n} in {t4 - t3:.2f} s ({needs.n / (t4 - t3):,.0f}/s)"
    )
    print(
        f"nnz per row: citizen skills {cit.skills.nnz / max(cit.n, 1):.1f}, need essential "
        f"{needs.essential.nnz / max(needs.n, 1):.1f}, need skill_vector {needs.skill_vector.nnz / max(needs.n, 1):.1f}"
    )

    scorer = RuleScorer(policy, taxonomy)
    cb, nb = blocks(cit.n, args.block_citizens), blocks(needs.n, args.block_needs)
    score_t: list[float] = []
    kernel_t: list[float] = []
    gated = 0
    for c_rows in cb:
        for n_rows in nb:
            k0 = time.perf_counter()
            bare = (cit.skills[c_rows] @ needs.essential[n_rows].T).toarray()
            k1 = time.perf_counter()
            block = scorer.score_block(cit, c_rows, needs, n_rows)
            k2 = time.perf_counter()
            kernel_t.append(k1 - k0)
            score_t.append(k2 - k1)
            gated += int(np.count_nonzero(block.gates))
            del bare, block
    pairs = cit.n * needs.n
    total, kernel = sum(score_t), sum(kernel_t)
    per_block = sorted(score_t)
    print(
        f"score_block {cit.n} x {needs.n} = {pairs:,} pairs in {len(score_t)} blocks of "
        f"{args.block_citizens} x {args.block_needs}: {total:.2f} s ({pairs / total / 1e6:.1f} M pairs/s)"
    )
    print(
        f"per block: median {statistics.median(per_block) * 1e3:.1f} ms, "
        f"p95 {per_block[int(0.95 * (len(per_block) - 1))] * 1e3:.1f} ms"
    )
    print(f"bare kernel (skills @ essential.T, dense): {kernel:.2f} s; ratio full/bare = {total / kernel:.2f}")
    print(f"gated pairs: {gated / pairs:.1%}")

    block = scorer.score_block(cit, np.arange(min(cit.n, 200)), needs, np.arange(1))
    top = np.argsort(-block.total[:, 0], kind="stable")[:20]
    e0 = time.perf_counter()
    for r in top:
        comps = {k: float(v[r, 0]) for k, v in block.components.items()}
        explain(data.citizens[r], data.vacancies[0], comps, int(block.gates[r, 0]), taxonomy, postcodes, policy)
    e1 = time.perf_counter()
    print(f"explain top 20 of one need: {(e1 - e0) * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
