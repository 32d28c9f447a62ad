"""Speed of the taxonomy layer: cold build, warm start, title normalisation, skill extraction.

Targets (issue 2): warm start ≤ 1.5 s; one title ≤ 5 ms p95 warm; 10,000 titles ≤ 10 s; a 2,000-character ad
≤ 50 ms. Titles are real ESCO/lexicon labels (Danish and English) with every third one given a typo, all
different, and every timed run starts from a fresh normaliser, so its LRU cache never helps. The 10,000 titles
go through ``Normalizer.normalize_many`` (the batched path) and, for comparison, one ``normalize_occupation``
call per title; the two must give identical results. Wall times depend on what else the machine runs, so
per-call CPU times (``time.process_time``) are printed next to them, medians over repeated runs, and the load
average at start and end.

    .venv/bin/python benchmarks/taxonomy_speed.py [--repeats 5] [--bulk-repeats 3] [--skip-cold]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from matcher.config import get_settings
from matcher.taxonomy import Normalizer, load_taxonomy

DANISH_FILLER = [
    "Vi søger en engageret kollega til vores team i Slagelse.",
    "Du bliver en del af en travl hverdag med gode kolleger.",
    "Arbejdstiden er 37 timer om ugen, primært dagvagter.",
    "Vi tilbyder løn efter overenskomst og en god pensionsordning.",
    "Ansøgningsfristen er den 1. marts, og samtaler holdes løbende.",
]
ENGLISH_FILLER = [
    "We are looking for a motivated colleague to join our team.",
    "You will be part of a busy workplace with friendly colleagues.",
    "The position is full time with mostly day shifts.",
]


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def make_titles(normalizer: Normalizer, n: int, rng: random.Random) -> list[str]:
    table = normalizer.taxonomy.occupation_label_table
    texts = sorted(set(table.text))
    picked = rng.sample(texts, min(n, len(texts)))
    out = []
    for i, text in enumerate(picked):
        if i % 3 == 2 and len(text) > 4:
            j = rng.randrange(1, len(text) - 1)
            text = text[:j] + text[j + 1 :]
        out.append(text)
    return list(dict.fromkeys(out))


def make_ad(normalizer: Normalizer, rng: random.Random, size: int = 2000) -> str:
    skills = normalizer.taxonomy.skill_label_table
    lexicon = [t for t, k in zip(skills.text, skills.kind, strict=True) if k == "lexicon"]
    english = normalizer.taxonomy.skill_labels
    parts: list[str] = []
    while sum(len(p) + 1 for p in parts) < size:
        roll = rng.random()
        if roll < 0.4:
            parts.append(rng.choice(DANISH_FILLER))
        elif roll < 0.55:
            parts.append(rng.choice(ENGLISH_FILLER))
        elif roll < 0.8:
            parts.append(f"Erfaring med {rng.choice(lexicon)} og {rng.choice(lexicon)} er et plus.")
        else:
            parts.append(f"You can {rng.choice(english)}.")
    return " ".join(parts)[:size]


def fresh_normalizer() -> Normalizer:
    """A normaliser with an empty result cache, its label indexes loaded (from the disk cache) and warm."""
    normalizer = Normalizer(load_taxonomy(), cache_dir=get_settings().cache_dir)
    normalizer.normalize_occupation("lagerarbejder")
    return normalizer


def warm_start_subprocess(repeats: int) -> list[float]:
    """Wall time of a fresh Python process that imports, loads the cached taxonomy + indexes, answers one query."""
    code = (
        "import time; t=time.perf_counter(); from matcher.taxonomy import get_normalizer; "
        "get_normalizer().normalize_occupation('lagerarbejder'); print(time.perf_counter()-t)"
    )
    times = []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5, help="runs of the warm-start and one-title timings")
    parser.add_argument("--bulk-repeats", type=int, default=3, help="runs of the 10,000-title timings")
    parser.add_argument("--skip-cold", action="store_true", help="skip the cold build (≈ 20 s)")
    args = parser.parse_args()
    rng = random.Random(5)
    settings = get_settings()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start\n")

    if not args.skip_cold:
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            cold = load_taxonomy(settings.data_dir, Path(tmp))
            build_taxonomy_s = time.perf_counter() - t
            t = time.perf_counter()
            Normalizer(cold, cache_dir=Path(tmp)).indexes_  # noqa: B018 - fit and write the label indexes
            build_index_s = time.perf_counter() - t
        print(f"cold build: taxonomy {build_taxonomy_s:.1f} s, label indexes {build_index_s:.1f} s")

    load_taxonomy()  # make sure the cache exists before timing warm loads
    Normalizer(load_taxonomy(), cache_dir=settings.cache_dir).indexes_  # noqa: B018
    loads, readies = [], []
    for _ in range(args.repeats):
        t = time.perf_counter()
        taxonomy = load_taxonomy()
        loads.append(time.perf_counter() - t)
        normalizer = Normalizer(taxonomy, cache_dir=settings.cache_dir)
        normalizer.normalize_occupation("lagerarbejder")
        readies.append(time.perf_counter() - t)
    print(f"warm load_taxonomy (in process): median {statistics.median(loads):.3f} s, max {max(loads):.3f} s")
    print(
        f"warm taxonomy + label indexes + first query (in process): median {statistics.median(readies):.3f} s, "
        f"max {max(readies):.3f} s"
    )
    fresh = warm_start_subprocess(max(3, args.repeats // 2))
    print(f"warm start in a fresh process (imports included): median {statistics.median(fresh):.3f} s\n")

    titles = make_titles(normalizer, 11_000, rng)
    single, bulk = titles[:1000], titles[1000:11_000]
    p50s, p95s, cpu50s, cpu95s, worst = [], [], [], [], []
    for _ in range(args.repeats):
        normalizer = fresh_normalizer()
        timings, cpu = [], []
        for title in single:
            t, c = time.perf_counter(), time.process_time()
            normalizer.normalize_occupation(title)
            timings.append((time.perf_counter() - t) * 1000)
            cpu.append((time.process_time() - c) * 1000)
        p50s.append(percentile(timings, 50))
        p95s.append(percentile(timings, 95))
        cpu50s.append(percentile(cpu, 50))
        cpu95s.append(percentile(cpu, 95))
        worst.append(max(timings))
    print(
        f"normalise one title ({len(single)} different, median of {args.repeats} runs): "
        f"wall p50 {statistics.median(p50s):.2f} ms, p95 {statistics.median(p95s):.2f} ms, "
        f"max {statistics.median(worst):.1f} ms; "
        f"CPU p50 {statistics.median(cpu50s):.2f} ms, p95 {statistics.median(cpu95s):.2f} ms"
    )

    # Each run gets a fresh normaliser, so its LRU cache never answers; the two paths must agree exactly.
    runs: dict[str, list[tuple[float, float]]] = {"normalize_many": [], "loop": []}
    for _ in range(args.bulk_repeats):
        normalizer = fresh_normalizer()
        t, c = time.perf_counter(), time.process_time()
        batched = normalizer.normalize_many(bulk)
        runs["normalize_many"].append((time.perf_counter() - t, time.process_time() - c))
        normalizer = fresh_normalizer()
        t, c = time.perf_counter(), time.process_time()
        looped = [normalizer.normalize_occupation(title) for title in bulk]
        runs["loop"].append((time.perf_counter() - t, time.process_time() - c))
        if batched != looped:
            raise SystemExit("normalize_many and the per-title loop disagree")
    for name, label in (("normalize_many", "batched (normalize_many)"), ("loop", "one call per title")):
        walls = ", ".join(f"{w:.2f}" for w, _ in runs[name])
        print(
            f"normalise {len(bulk)} different titles, {label}: wall median "
            f"{statistics.median(w for w, _ in runs[name]):.2f} s ({walls}), "
            f"CPU median {statistics.median(c for _, c in runs[name]):.2f} s"
        )
    print("batched and per-title results identical: yes")

    normalizer.extract_skills("warm up the extractor")
    ads = [make_ad(normalizer, rng) for _ in range(100)]
    timings, cpu = [], []
    n_spans = 0
    for ad in ads:
        t, c = time.perf_counter(), time.process_time()
        n_spans += len(normalizer.extract_skills(ad))
        timings.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
    print(
        f"extract skills from a {len(ads[0])}-character ad ({len(ads)} ads, {n_spans / len(ads):.0f} spans each): "
        f"wall median {statistics.median(timings):.1f} ms, p95 {percentile(timings, 95):.1f} ms; "
        f"CPU median {statistics.median(cpu):.1f} ms, p95 {percentile(cpu, 95):.1f} ms"
    )
    print(f"\nload average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
