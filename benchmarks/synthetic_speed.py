"""Speed of the synthetic generator, and model_validate vs model_construct for building its models.

Prints: the first (cold) call including reading ESCO; ``--repeats`` warm runs at the development scale
(median, p95, µs per citizen); one run at the full scale (target: 300 000 citizens + 60 000 vacancies in ≤ 60 s)
with its wall and CPU time and the memory the result holds; each both with plain parts and with
``shared_parts=True``; and, on a sample of generated citizens, the time per citizen of
``Citizen.model_validate(dict)`` (what the generator uses) against building the same nested models with
``model_construct`` (no validation) — the reason the generator validates everything.

    .venv/bin/python benchmarks/synthetic_speed.py                       # 30k + 6k dev scale, then 300k + 60k
    .venv/bin/python benchmarks/synthetic_speed.py --full-citizens 0     # dev scale only
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import resource
import statistics
import time
from typing import Any

import numpy as np

from matcher.domain import (
    Citizen,
    HoursRange,
    LanguageSkill,
    OccupationClaim,
    Qualification,
    SkillClaim,
)
from matcher.synthetic import generate

TODAY = dt.date(2026, 11, 23)


def construct_citizen(d: dict[str, Any]) -> Citizen:
    """The same nested model as ``Citizen.model_validate(d)``, built without validation."""
    return Citizen.model_construct(
        **{
            **d,
            "hours": HoursRange.model_construct(**d["hours"]),
            "skills": [SkillClaim.model_construct(**s) for s in d["skills"]],
            "occupations": [OccupationClaim.model_construct(**o) for o in d["occupations"]],
            "qualifications": [Qualification.model_construct(**q) for q in d["qualifications"]],
            "languages": [LanguageSkill.model_construct(**lang) for lang in d["languages"]],
        }
    )


def per_item_us(fn: Any, items: list[dict[str, Any]], repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        gc.disable()
        t = time.perf_counter()
        for item in items:
            fn(item)
        best = min(best, time.perf_counter() - t)
        gc.enable()
    return best / len(items) * 1e6


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    """Current resident memory (Linux)."""
    with open("/proc/self/statm", encoding="ascii") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 2**20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--citizens", type=int, default=30_000)
    ap.add_argument("--vacancies", type=int, default=6_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--full-citizens", type=int, default=300_000)
    ap.add_argument("--full-vacancies", type=int, default=60_000)
    ap.add_argument("--region", default="slagelse", choices=["slagelse", "national"])
    ap.add_argument("--sample", type=int, default=5_000, help="citizens for the validate-vs-construct comparison")
    args = ap.parse_args()

    t = time.perf_counter()
    generate(10, 10, seed=0, region=args.region, today=TODAY)
    print(f"cold start (read ESCO + tables, 10 + 10): {time.perf_counter() - t:.2f} s")

    data = None
    for shared in (False, True):
        times = []
        for seed in range(args.repeats):
            del data
            t = time.perf_counter()
            data = generate(args.citizens, args.vacancies, seed=seed, region=args.region, today=TODAY,
                            shared_parts=shared)
            times.append(time.perf_counter() - t)
        median = statistics.median(times)
        print(
            f"dev scale {args.citizens} citizens + {args.vacancies} vacancies ({args.region}, shared_parts={shared}), "
            f"{args.repeats} runs: median {median:.2f} s, p95 {float(np.percentile(times, 95)):.2f} s, "
            f"{median / (args.citizens + args.vacancies) * 1e6:.0f} µs per citizen-or-vacancy"
        )
    assert data is not None
    skills = [len(c.skills) for c in data.citizens]
    print(f"  mean skills per citizen {np.mean(skills):.1f}, "
          f"per vacancy {np.mean([len(v.essential_skills) + len(v.optional_skills) for v in data.vacancies]):.1f}")

    sample = [c.model_dump() for c in data.citizens[: args.sample]]
    validate_us = per_item_us(Citizen.model_validate, sample)
    construct_us = per_item_us(construct_citizen, sample)
    print(
        f"building one citizen from its dict ({len(sample)} citizens, best of 3): model_validate "
        f"{validate_us:.1f} µs, model_construct {construct_us:.1f} µs (ratio construct/validate "
        f"{construct_us / validate_us:.2f})"
    )
    del data, sample

    for shared in (True, False) if args.full_citizens > 0 else ():
        gc.collect()
        before = rss_mb()
        t, cpu = time.perf_counter(), time.process_time()
        full = generate(args.full_citizens, args.full_vacancies, seed=0, region=args.region, today=TODAY,
                        shared_parts=shared)
        elapsed, cpu = time.perf_counter() - t, time.process_time() - cpu
        verdict = "OK" if elapsed <= 60 else "over the 60 s target"
        print(
            f"full scale {len(full.citizens)} citizens + {len(full.vacancies)} vacancies + {len(full.employers)} "
            f"employers, shared_parts={shared}: wall {elapsed:.1f} s ({verdict}), CPU {cpu:.1f} s, "
            f"result holds {rss_mb() - before:.0f} MB"
        )
        del full
    print(f"peak RSS {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
