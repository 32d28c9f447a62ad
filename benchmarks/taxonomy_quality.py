"""Honest quality numbers for title and skill normalisation, next to a plain char-TF-IDF baseline.

Method: hide a seeded share of the alternative labels (and of the Danish lexicon's phrases) from the index —
a Normalizer is fitted on a Taxonomy *without* them — and use the hidden labels as queries; the right answer is
the concept they belonged to. A hidden label whose folded text is still a label of the same concept (a
duplicate in another language or case) is dropped, since it would be an exact hit that proves nothing. Each
query also runs perturbed: one typo (a character dropped or two neighbours swapped, never the first), and for
Danish text with æøå, those letters written ae/oe/aa and a/o/a.

The baseline is what one gets without this layer's work: scikit-learn ``TfidfVectorizer(analyzer="char_wb",
ngram_range=(2, 4), sublinear_tf=True)`` over the same remaining labels (lower-cased, nothing else), cosine
nearest labels, best rank per concept. Both see no language hint.

    .venv/bin/python benchmarks/taxonomy_quality.py [--share 0.1] [--seed 13] [--max-queries 800]
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from matcher.taxonomy import LabelTable, Normalizer, get_taxonomy
from matcher.taxonomy._text import fold

LIMIT = 10


@dataclass
class QuerySet:
    name: str
    kind: Literal["occupation", "skill"]
    queries: list[tuple[str, int]]  # (text, concept row)


def split(table: LabelTable, pick: Callable[[str, str], bool], share: float, rng: random.Random) -> np.ndarray:
    """Boolean mask of the label rows to hide: a ``share`` of those ``pick(lang, kind)`` selects."""
    eligible = [i for i, (lang, kind) in enumerate(zip(table.lang, table.kind, strict=True)) if pick(lang, kind)]
    hidden = np.zeros(len(table), bool)
    hidden[rng.sample(eligible, round(share * len(eligible)))] = True
    return hidden


def without(table: LabelTable, hidden: np.ndarray) -> LabelTable:
    keep = np.flatnonzero(~hidden)
    return LabelTable(
        text=[table.text[i] for i in keep],
        concept=table.concept[keep],
        lang=[table.lang[i] for i in keep],
        kind=[table.kind[i] for i in keep],
    )


def held_out_queries(table: LabelTable, hidden: np.ndarray, pick: Callable[[str, str], bool]) -> list[tuple[str, int]]:
    remaining = {(fold(t), int(c)) for t, c, h in zip(table.text, table.concept, hidden, strict=True) if not h}
    out = []
    for i in np.flatnonzero(hidden):
        text, concept = table.text[i], int(table.concept[i])
        if pick(table.lang[i], table.kind[i]) and (fold(text), concept) not in remaining:
            out.append((text, concept))
    return out


def typo(text: str, rng: random.Random) -> str:
    positions = [i for i in range(1, len(text)) if text[i].isalpha()]
    if not positions:
        return text
    i = rng.choice(positions)
    if rng.random() < 0.5 or i + 1 >= len(text):
        return text[:i] + text[i + 1 :]
    return text[:i] + text[i + 1] + text[i] + text[i + 2 :]


_ASCII_DA = str.maketrans({"æ": "ae", "ø": "oe", "å": "aa", "Æ": "Ae", "Ø": "Oe", "Å": "Aa"})
_STRIP_DA = str.maketrans({"æ": "a", "ø": "o", "å": "a", "Æ": "A", "Ø": "O", "Å": "A"})


def variants(qs: QuerySet, danish: bool, rng: random.Random) -> list[QuerySet]:
    out = [qs, QuerySet(f"{qs.name} + typo", qs.kind, [(typo(t, rng), c) for t, c in qs.queries])]
    if danish:
        with_letters = [(t, c) for t, c in qs.queries if any(ch in t.lower() for ch in "æøå")]
        out.append(
            QuerySet(f"{qs.name}, æøå→ae/oe/aa", qs.kind, [(t.translate(_ASCII_DA), c) for t, c in with_letters])
        )
        out.append(QuerySet(f"{qs.name}, æøå→a/o/a", qs.kind, [(t.translate(_STRIP_DA), c) for t, c in with_letters]))
    return out


class Baseline:
    """Plain char_wb TF-IDF nearest labels, best rank per concept."""

    def __init__(self, table: LabelTable) -> None:
        self.vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True)
        self.matrix = self.vectorizer.fit_transform(table.text).T.tocsr()
        self.concept = table.concept

    def rank(self, text: str) -> list[int]:
        scores = (self.vectorizer.transform([text]) @ self.matrix).toarray().ravel()
        top = np.argsort(-scores)[: LIMIT * 20]
        seen: list[int] = []
        for label in top:
            concept = int(self.concept[label])
            if concept not in seen:
                seen.append(concept)
            if len(seen) == LIMIT:
                break
        return seen


def metrics(ranked: list[list[int]], truth: list[int]) -> tuple[float, float, float]:
    ranks = [r.index(t) + 1 if t in r else 0 for r, t in zip(ranked, truth, strict=True)]
    n = max(len(ranks), 1)
    at1 = sum(r == 1 for r in ranks) / n
    at5 = sum(1 <= r <= 5 for r in ranks) / n
    mrr = sum(1 / r for r in ranks if r) / n
    return at1, at5, mrr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--share", type=float, default=0.1, help="share of alternative labels held out")
    parser.add_argument(
        "--seed", type=int, default=7, help="the scoring constants were tuned on seed 13; report another"
    )
    parser.add_argument("--max-queries", type=int, default=800, help="cap per query set (sampled, seeded)")
    args = parser.parse_args()
    rng = random.Random(args.seed)

    started = time.perf_counter()
    full = get_taxonomy()
    occ, skill = full.occupation_label_table, full.skill_label_table

    def alt(lang: str) -> Callable[[str, str], bool]:
        return lambda la, ki: la == lang and ki == "alt"

    def lexicon(la: str, ki: str) -> bool:
        return ki == "lexicon"

    occ_hidden = split(occ, lambda la, ki: ki == "alt" and la in ("da", "en"), args.share, rng)
    skill_hidden = split(skill, alt("en"), args.share, rng) | split(skill, lexicon, max(args.share, 0.2), rng)
    held = dataclasses.replace(
        full,
        occupation_label_table=without(occ, occ_hidden),
        skill_label_table=without(skill, skill_hidden),
        version=f"{full.version}-holdout-{args.seed}",
    )
    sets = [
        (QuerySet("Danish titles", "occupation", held_out_queries(occ, occ_hidden, alt("da"))), True),
        (QuerySet("English titles", "occupation", held_out_queries(occ, occ_hidden, alt("en"))), False),
        (QuerySet("English skills", "skill", held_out_queries(skill, skill_hidden, alt("en"))), False),
        (QuerySet("Danish skill lexicon", "skill", held_out_queries(skill, skill_hidden, lexicon)), True),
    ]
    for qs, _ in sets:
        if len(qs.queries) > args.max_queries:
            qs.queries = rng.sample(qs.queries, args.max_queries)

    normalizer = Normalizer(held, cache_dir=None, threshold=0.0)
    normalizer.occupations_, normalizer.skills_  # noqa: B018 - fit before timing queries
    baselines = {"occupation": Baseline(held.occupation_label_table), "skill": Baseline(held.skill_label_table)}
    print(
        f"held out {int(occ_hidden.sum())} occupation and {int(skill_hidden.sum())} skill labels "
        f"(share {args.share}, lexicon share {max(args.share, 0.2)}, seed {args.seed}); "
        f"fitted in {time.perf_counter() - started:.1f} s\n"
    )

    rows = []
    for base, danish in sets:
        for qs in variants(base, danish, rng):
            if not qs.queries:
                continue
            row_of = held.occupation_row if qs.kind == "occupation" else held.skill_row
            truth = [c for _, c in qs.queries]
            found = normalizer.normalize_many([t for t, _ in qs.queries], qs.kind, limit=LIMIT)
            ours = [[row_of[c.uri] for c in candidates] for candidates in found]
            plain = [baselines[qs.kind].rank(t) for t, _ in qs.queries]
            rows.append((qs.name, len(truth), metrics(ours, truth), metrics(plain, truth)))

    print("| query set | n | acc@1 | acc@5 | MRR | baseline acc@1 | baseline acc@5 | baseline MRR |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, n, (a1, a5, mrr), (b1, b5, bmrr) in rows:
        print(f"| {name} | {n} | {a1:.3f} | {a5:.3f} | {mrr:.3f} | {b1:.3f} | {b5:.3f} | {bmrr:.3f} |")
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
