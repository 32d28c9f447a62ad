"""Scoring and ranking benchmarks (issue 3, item 6). Each scale prints its numbers; docs/scoring_benchmarks.md
holds the table.

    python benchmarks/scoring_bench.py --scale a              # 10k citizens × 2k needs, full score both ways
    python benchmarks/scoring_bench.py --scale b              # 100k citizens: candidates for one need, 200 needs
    python benchmarks/scoring_bench.py --scale c              # national 300k × 60k, top-50 both ways + bare kernel
    python benchmarks/scoring_bench.py --scale c --fraction 0.1   # the same at 1/10 (for development)
    python benchmarks/scoring_bench.py --scale c --load-only      # national index memory only, no scoring

Data comes from the seeded synthetic generator (Slagelse area for a and b, the whole country for c). Targets on a
2-core machine: (a) ≤ 2 s; (b) p95 ≤ 50 ms; (c) ≤ 5 min, ≤ 8 GB peak, full ≤ 2 × the bare kernel.

The bare kernel is the denominator of (c): citizen skills @ need essential skills (the same CSR matrices the full
run scores), top-k citizens per need by ``np.argpartition``, in blocks of the same number of pairs, and no
geographic blocking: what a plain skills-only matcher would cost on the same data.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import resource
import statistics
import sys
import time

import numpy as np
import scipy.sparse as sp

from matcher.config import get_settings
from matcher.ranking import MatchEngine, pairs_per_block, plan_blocks
from matcher.ranking._topk import SCORE_THREADS
from matcher.scoring import RuleScorer
from matcher.synthetic import generate
from matcher.taxonomy import get_taxonomy, load_postcodes

TODAY = dt.date(2026, 11, 23)


def peak_rss_gb() -> float:
    """Peak resident memory of this process so far (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def machine() -> str:
    load = os.getloadavg()[0]
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, load avg {load:.1f}"


def build_engine(n_citizens: int, n_needs: int, region: str, seed: int, budget_mb: int) -> MatchEngine:
    t0 = time.perf_counter()
    data = generate(n_citizens, n_needs, seed=seed, region=region, today=TODAY)
    t1 = time.perf_counter()
    settings = get_settings()
    taxonomy = get_taxonomy()
    postcodes = load_postcodes(settings.data_dir)
    engine = MatchEngine(taxonomy, postcodes, settings.scoring, budget_mb, today=TODAY)
    t2 = time.perf_counter()
    engine.bulk_load(enumerate(data.citizens, 1), enumerate(data.vacancies, 1))
    t3 = time.perf_counter()
    print(f"setup: generate {t1 - t0:.1f} s, taxonomy {t2 - t1:.1f} s, features (bulk_load) {t3 - t2:.1f} s")
    return engine


def bare_kernel(skills: sp.csr_matrix, essential: sp.csr_matrix, k: int, max_pairs: int) -> np.ndarray:
    """Top-k citizen rows per need by citizen skills · need essential skills, in blocks of ``max_pairs``.

    Blocks take a few needs against all citizens, so each need's top k comes from one argpartition (no merge):
    the cheapest honest way to rank by a dot product under the same memory bound.
    """
    n_c, n_n = skills.shape[0], essential.shape[0]
    cols = max(1, min(n_n, max_pairs // max(1, n_c)))
    skills_t = skills.T.tocsc()
    top = np.empty((n_n, min(k, n_c)), dtype=np.int64)
    for j in range(0, n_n, cols):
        block = (essential[j : j + cols] @ skills_t).toarray()  # (needs, citizens)
        if n_c > k:
            top[j : j + cols] = np.argpartition(block, n_c - k, axis=1)[:, n_c - k :]
        else:
            top[j : j + cols] = np.arange(n_c)[None, :]
    return top


def scale_a(args: argparse.Namespace) -> None:
    engine = build_engine(10_000, 2_000, "slagelse", args.seed, args.budget_mb)
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        top = engine.score_all(args.k)
        times.append(time.perf_counter() - t0)
    filled = float((top.need_citizen_ids >= 0).mean())
    print(
        f"(a) 10k × 2k full score both ways, top-{args.k}: median {statistics.median(times):.2f} s, "
        f"max {max(times):.2f} s over {len(times)} runs (target ≤ 2 s); top-k slots filled {filled:.0%}"
    )


def scale_b(args: argparse.Namespace) -> None:
    engine = build_engine(100_000, 5_000, "slagelse", args.seed, args.budget_mb)
    rng = np.random.default_rng(args.seed)
    need_ids = rng.choice(np.arange(1, 5_001), size=200, replace=False).tolist()
    engine.candidates(int(need_ids[0]), limit=20)  # warm caches once
    times, explained = [], 0
    for nid in need_ids:
        t0 = time.perf_counter()
        matches = engine.candidates(int(nid), limit=20, explain=True)
        times.append((time.perf_counter() - t0) * 1000)
        explained += sum(bool(m.explanation.da) for m in matches)
    print(
        f"(b) 100k citizens, candidates for one need (top 20 explained), 200 needs: "
        f"p50 {percentile(times, 50):.1f} ms, p95 {percentile(times, 95):.1f} ms, max {max(times):.1f} ms "
        f"(target p95 ≤ 50 ms); {explained} explanations"
    )


def scale_c(args: argparse.Namespace) -> None:
    n_c, n_n = round(300_000 * args.fraction), round(60_000 * args.fraction)
    engine = build_engine(n_c, n_n, "national", args.seed, args.budget_mb)
    rss_loaded = peak_rss_gb()
    if args.load_only:
        print(f"(c) national {n_c:,} × {n_n:,} loaded (not scored): peak RSS {rss_loaded:.2f} GB")
        return
    t0 = time.perf_counter()
    top = engine.score_all(args.k)
    full_s = time.perf_counter() - t0
    rss_full = peak_rss_gb()

    state = engine._state  # the benchmark reads the engine's own feature blocks so both runs see the same data
    citizens, needs = state.citizens.main, state.needs.main
    assert citizens is not None and needs is not None
    scorer = RuleScorer(engine.policy, engine.taxonomy)
    # the blocks score_all planned: each of the SCORE_THREADS blocks in flight gets its share of the budget
    max_pairs = pairs_per_block(scorer.bytes_per_pair(), args.budget_mb / SCORE_THREADS)
    scored = sum(
        len(cb) * len(nb)
        for cb, nb in plan_blocks(citizens, np.arange(citizens.n), needs, np.arange(needs.n), max_pairs, True)
    )
    if args.no_bare:
        print(
            f"(c) national {n_c:,} × {n_n:,}, top-{args.k} both ways: full {full_s:.1f} s (target ≤ 300 s at full "
            f"scale), {SCORE_THREADS} scoring threads; bare kernel not run; pairs scored after geographic blocking "
            f"{scored / (n_c * n_n):.1%} of {n_c * n_n:,}; peak RSS {rss_loaded:.2f} GB after loading, "
            f"{rss_full:.2f} GB after full score (target ≤ 8 GB)"
        )
        return
    t1 = time.perf_counter()
    bare = bare_kernel(citizens.skills, needs.essential, args.k, max_pairs)
    bare_s = time.perf_counter() - t1
    rss_all = peak_rss_gb()
    assert bare.shape[0] == needs.n and top.need_ids.shape[0] == needs.n
    print(
        f"(c) national {n_c:,} × {n_n:,}, top-{args.k} both ways: full {full_s:.1f} s "
        f"(target ≤ 300 s at full scale), bare kernel {bare_s:.1f} s, ratio full/bare {full_s / bare_s:.2f} "
        f"(target ≤ 2); pairs scored after geographic blocking {scored / (n_c * n_n):.1%} of {n_c * n_n:,}; "
        f"peak RSS {rss_loaded:.2f} GB after loading, {rss_full:.2f} GB after full score, "
        f"{rss_all:.2f} GB after bare kernel (target ≤ 8 GB)"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=["a", "b", "c"], required=True)
    parser.add_argument("--fraction", type=float, default=1.0, help="scale (c) down, e.g. 0.1 for 30k × 6k")
    parser.add_argument("--budget-mb", type=int, default=get_settings().memory_budget_mb)
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3, help="runs of (a)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--no-bare", action="store_true", help="(c): skip the bare kernel (16 min at full scale); no ratio printed"
    )
    parser.add_argument(
        "--load-only", action="store_true", help="(c): build the index and report its memory, score nothing"
    )
    args = parser.parse_args(argv)
    if not 0 < args.fraction <= 1:
        parser.error("--fraction must lie in (0, 1]")
    print(f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC · {machine()} · python {sys.version.split()[0]} · "
          f"memory budget {args.budget_mb} MB")
    {"a": scale_a, "b": scale_b, "c": scale_c}[args.scale](args)


if __name__ == "__main__":
    main()
