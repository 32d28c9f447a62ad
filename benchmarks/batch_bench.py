"""Nightly-run benchmarks: prints timings (median, p95 over repeats), peak memory, plan sizes and Dask speed-up.

    python benchmarks/batch_bench.py municipality            # 10k × 2k end to end with SQLite writes (≤ 5 s)
    python benchmarks/batch_bench.py national                # 300k × 60k compute path + list writes (≤ 5 min, ≤ 8 GB)
    python benchmarks/batch_bench.py national --citizens 30000 --needs 6000   # the development scale
    python benchmarks/batch_bench.py dask --citizens 10000 --needs 2000       # blocks in process vs 1, 2 workers

``municipality`` fills a SQLite file with synthetic Slagelse data (fill time printed, not counted), then runs
:class:`matcher.batch.RerankJob` end to end — load from the database, features, blocks with their writes, merge,
plan, final writes — ``--repeat`` times (fresh runs). ``national`` generates national data in memory and times
the same steps the run takes without the database load (which is pydantic validation of every stored profile,
timed per row by ``municipality``); the per-list writes go to a SQLite file and are timed separately. Peak memory
is the process's max RSS (it includes the generated domain objects, which the real run drops after features).
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from matcher.batch import RerankJob, RerankOptions
from matcher.batch import _store as store
from matcher.batch._blocks import BlockTask, NeedMerger, score_block
from matcher.batch._run import _assemble, _citizen_side, block_order, block_size_for
from matcher.config import Settings
from matcher.domain import TargetGroup
from matcher.features import CitizenFeatures, NeedFeatures
from matcher.ranking import TopK
from matcher.ranking._assign import (
    assign_greedy,
    assign_optimal,
    build_edges,
    citizen_priorities,
    placement_report,
)
from matcher.ranking._topk import SCORE_THREADS
from matcher.scoring import RuleScorer
from matcher.storage import make_engine, session_factory, transaction, upgrade
from matcher.synthetic import generate
from matcher.taxonomy import get_taxonomy, load_postcodes
from tests.batch._world import TODAY, fill_database


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024


def stats(name: str, values: list[float]) -> str:
    values = sorted(values)
    p95 = values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]
    return f"{name}: median {statistics.median(values):.2f} s, p95 {p95:.2f} s (n={len(values)})"


def municipality(args: argparse.Namespace) -> None:
    taxonomy = get_taxonomy()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
        t0 = time.perf_counter()
        sessions = fill_database(url, args.citizens, args.needs, seed=args.seed)
        print(
            f"fill {args.citizens} citizens × {args.needs} needs into SQLite: {time.perf_counter() - t0:.1f} s "
            "(not counted)"
        )
        settings = Settings(database_url=url)
        postcodes = load_postcodes(settings.data_dir)
        totals, prepares = [], []
        report: dict[str, object] = {}
        for _ in range(args.repeat):
            job = RerankJob(settings, sessions, taxonomy, postcodes, RerankOptions(fresh=True))
            t0 = time.perf_counter()
            job.prepare(TODAY)
            prepares.append(time.perf_counter() - t0)
            outcome = job.run()
            totals.append(time.perf_counter() - t0)
            report = outcome.report
        print(stats("end to end (load + score + plan + writes)", totals))
        print(stats("  of which prepare (load and validate profiles, claim run)", prepares))
        print(f"  last run's steps: {report['timings']}")
        print(
            f"  load cost per stored profile: "
            f"{1000 * statistics.median(prepares) / (args.citizens + args.needs):.2f} ms"
        )
        print_plan(report)
        print(f"peak RSS {peak_gb():.2f} GB; top_k {settings.top_k}")


def print_plan(report: dict[str, object]) -> None:
    for key in ("optimal", "greedy"):
        part = report[key]
        assert isinstance(part, dict)
        print(
            f"  plan {key:8s}: citizens with proposal {part['citizens_with_proposal']}, positions filled "
            f"{part['positions_filled']}/{part['positions_total']}, mean score {part['mean_score']:.4f}, "
            f"over-qualified {part['overqualified_assignments']}, {part['seconds']:.2f} s"
        )


def national(args: argparse.Namespace) -> None:
    taxonomy = get_taxonomy()
    settings = Settings()
    policy = settings.scoring
    postcodes = load_postcodes(settings.data_dir)
    t0 = time.perf_counter()
    world = generate(args.citizens, args.needs, seed=args.seed, region="national", today=TODAY)
    print(f"generate {args.citizens} × {args.needs} national: {time.perf_counter() - t0:.1f} s (not counted)")
    steps: dict[str, float] = {}
    t0 = time.perf_counter()
    citizens = CitizenFeatures.build(list(enumerate(world.citizens, 1)), taxonomy, postcodes, policy, TODAY)
    needs = NeedFeatures.build(list(enumerate(world.vacancies, 1)), taxonomy, postcodes, policy, TODAY)
    steps["features"] = time.perf_counter() - t0
    del world
    scorer = RuleScorer(policy, taxonomy)
    k = settings.top_k
    size = args.block_size or block_size_for(citizens.n, needs.n)
    order = block_order(citizens)
    merger = NeedMerger(needs.ids, citizens.ids, k, np.zeros((0, 2), dtype=np.int64))
    parts: list[TopK] = []
    empty = np.zeros((0, 2), dtype=np.int64)
    t0 = time.perf_counter()
    n_blocks = 0
    for b, start in enumerate(range(0, citizens.n, size)):
        task = BlockTask(
            b, citizens.take(order[start : start + size]), k, settings.memory_budget_mb, True, empty, empty,
            need_floor=merger.floor(),  # as the nightly run does: what earlier blocks found bounds each need
        )
        _, top = score_block(task, needs, scorer)
        merger.add(top)
        parts.append(_citizen_side(top))
        n_blocks += 1
    steps["blocks (score, top-k both ways)"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    need_cids, need_scores, need_ov = merger.result()
    top = _assemble(k, needs.ids.astype(np.int64), need_cids, need_scores, need_ov, parts, citizens.ids)
    steps["merge"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    prio = citizen_priorities(citizens.target_group, [g.value for g in TargetGroup], policy.target_group_priority)
    edges = build_edges(top, prio, policy.overqualification_cost, policy.overqualification_levels)
    capacity = needs.positions.astype(np.int64)
    optimal = assign_optimal(top, edges, capacity)
    greedy = assign_greedy(top, edges, capacity)
    steps["plan (edges + flow + greedy)"] = time.perf_counter() - t0
    compute = sum(steps.values())
    print(f"blocks: {n_blocks} of {size} citizens; edges {edges.n}")
    for name, value in steps.items():
        print(f"  {name}: {value:.1f} s")
    print(
        f"compute total: {compute:.1f} s; assignment alone (flow) {optimal.seconds:.1f} s, "
        f"greedy {greedy.seconds:.1f} s"
    )
    print_plan(placement_report(optimal, greedy, capacity, policy.overqualification_levels))
    print(f"peak RSS {peak_gb():.2f} GB")
    # writes, separately: every list both ways into a fresh SQLite file
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'lists.sqlite'}")
        upgrade(engine)
        sessions = session_factory(engine)
        with transaction(sessions) as session:
            session.execute(
                store.RankingRunRow.__table__.insert().values(
                    id=1,
                    status="running",
                    n_citizens=0,
                    n_needs=0,
                    n_results=0,
                    config_hash="",
                    created_at=dt.datetime.now(dt.UTC),
                )
            )
        t0 = time.perf_counter()
        for start in range(0, len(top.citizen_ids), size):
            sl = slice(start, start + size)
            lists = store.list_rows(
                1,
                "citizen",
                top.citizen_ids[sl],
                top.citizen_need_ids[sl],
                top.citizen_scores[sl],
                top.citizen_overqualification[sl],
            )
            with transaction(sessions) as session:
                store.insert_lists(session, lists)
        with transaction(sessions) as session:
            store.insert_lists(session, store.list_rows(1, "need", top.need_ids, need_cids, need_scores, need_ov))
        print(
            f"writes (all {len(top.citizen_ids) + len(top.need_ids)} lists, SQLite): {time.perf_counter() - t0:.1f} s"
        )


def dask_speedup(args: argparse.Namespace) -> None:
    from distributed import Client, LocalCluster

    from matcher.batch._dask import dask_scored

    taxonomy = get_taxonomy()
    settings = Settings()
    postcodes = load_postcodes(settings.data_dir)
    world = generate(args.citizens, args.needs, seed=args.seed, today=TODAY)
    citizens = CitizenFeatures.build(list(enumerate(world.citizens, 1)), taxonomy, postcodes, settings.scoring, TODAY)
    needs = NeedFeatures.build(list(enumerate(world.vacancies, 1)), taxonomy, postcodes, settings.scoring, TODAY)
    scorer = RuleScorer(settings.scoring, taxonomy)
    size = args.block_size or max(256, citizens.n // 16)
    empty = np.zeros((0, 2), dtype=np.int64)
    order = block_order(citizens)

    def tasks(threads: int = 1):  # type: ignore[no-untyped-def]
        for b, start in enumerate(range(0, citizens.n, size)):
            yield BlockTask(
                b,
                citizens.take(order[start : start + size]),
                settings.top_k,
                settings.memory_budget_mb,
                True,
                empty,
                empty,
                threads,
            )

    def in_process(threads: int) -> float:
        t0 = time.perf_counter()
        for task in tasks(threads):
            score_block(task, needs, scorer)
        return time.perf_counter() - t0

    # the speed-up is against one single-threaded process (what one Dask worker runs); the in-process run with
    # scoring threads (the default without Dask) is printed beside it
    base = [in_process(1) for _ in range(args.repeat)]
    print(stats(f"blocks in process, 1 thread ({citizens.n} × {needs.n}, blocks of {size})", base))
    threaded = [in_process(SCORE_THREADS) for _ in range(args.repeat)]
    print(stats(f"blocks in process, {SCORE_THREADS} scoring threads", threaded))
    for workers in args.workers:
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
            with Client(cluster):
                pass  # start the workers before timing
            warm = tasks()
            # warm-up, not timed: the workers' first task imports the engine and fills its lazy caches
            for _ in dask_scored(
                cluster.scheduler_address, workers, (next(warm) for _ in range(workers)), needs, scorer
            ):
                pass
            times = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                for _ in dask_scored(cluster.scheduler_address, workers, tasks(), needs, scorer):
                    pass
                times.append(time.perf_counter() - t0)
        med = statistics.median(times)
        print(
            stats(f"dask {workers} worker(s)", times)
            + f"; speed-up {statistics.median(base) / med:.2f}× (target ≥ {0.7 * workers:.1f}× where cores allow)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["municipality", "national", "dask"])
    parser.add_argument("--citizens", type=int)
    parser.add_argument("--needs", type=int)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--block-size", type=int)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    defaults = {"municipality": (10_000, 2_000), "national": (300_000, 60_000), "dask": (10_000, 2_000)}
    args.citizens = args.citizens or defaults[args.what][0]
    args.needs = args.needs or defaults[args.what][1]
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("distributed").setLevel(logging.WARNING)
    {"municipality": municipality, "national": national, "dask": dask_speedup}[args.what](args)


if __name__ == "__main__":
    main()
