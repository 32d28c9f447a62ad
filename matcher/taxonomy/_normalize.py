"""Normalisation of free text to ESCO: titles and skill phrases to ranked concepts, job ads to skill spans.

Pipeline for one phrase (why each step is in docs/taxonomy.md):

1. fold (:mod:`matcher.taxonomy._text`): æøå/ae-oe-aa, case, accents, punctuation become one form;
2. exact lookup of the folded text, then of its space-free form (compounds) and its stemmed form (inflection,
   gender) — these give near-1 scores;
3. character n-gram TF-IDF proposes the closest label keys (cheap, typo-tolerant);
4. rapidfuzz re-scores those proposals (edit similarity, word order, word subsets) into a calibrated score;
5. per concept: the best of its labels, plus a small bonus for a preferred label; language preference.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache, partial
from pathlib import Path
from typing import Generic, Literal, TypeVar

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

from matcher.config import get_settings
from matcher.domain import MAX_TEXT, Citizen, Resolution, SkillRef, Vacancy
from matcher.taxonomy._errors import TaxonomyInputError
from matcher.taxonomy._geo import Postcodes, load_postcodes
from matcher.taxonomy._index import LabelIndex
from matcher.taxonomy._load import get_taxonomy, write_atomically
from matcher.taxonomy._model import LabelTable, Taxonomy
from matcher.taxonomy._text import TOKEN, compact, fold, stem_key, stem_token

log = logging.getLogger(__name__)

INDEX_VERSION = "index-3"
"""Bump when :class:`LabelIndex` or the folding changes, so cached indexes are rebuilt."""

# Scores of the dictionary stages. An exact hit on a preferred label is the only way to 1.0.
EXACT_SCORE = {"preferred": 1.0, "alt": 0.98, "lexicon": 0.98, "hidden": 0.96}
COMPACT_FACTOR = 0.97  # "lager medarbejder" for "lagermedarbejder"
STEM_FACTOR = 0.94  # "sygeplejersker", "lagerarbejderen"
FUZZY_CAP = 0.92  # a fuzzy match never outranks a dictionary hit
PREFERRED_BONUS = 0.02
SHARED_LABEL_FACTOR = 0.95
SUPPORT_WEIGHT = 1.0
OTHER_LANG_FACTOR = 0.9  # labels outside the requested language still count, a little less
TFIDF_CANDIDATES = 40
HEAD_MIN_CHARS = 4
TIE_WINDOW = 10
CACHE_SIZE = 50_000
RANK_CHUNK = 4096
"""Texts per call of ``_Kind.rank_many`` in :meth:`Normalizer.normalize_many`: bounds the candidate lists held
at once (40 per text)."""

ConceptKind = Literal["occupation", "skill"]
CONCEPT_KINDS: tuple[ConceptKind, ...] = ("occupation", "skill")
Lookup = Callable[[str], list["Candidate"]]
"""Ranked candidates for a free-text label (one kind, one limit): the single path or a precomputed batch."""


@dataclass(frozen=True)
class Candidate:
    """One ESCO concept proposed for a text, with a score in [0, 1] (≈1 exact, 0.7–0.9 good fuzzy, <0.4 junk)."""

    uri: str
    label: str
    score: float


@dataclass(frozen=True)
class SkillSpan:
    """An ESCO skill found in a text; ``text[start:end]`` is the phrase in the original string."""

    uri: str
    label: str
    score: float
    start: int
    end: int


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class _LRU(Generic[K, V]):
    """A small thread-safe LRU dict (functools.lru_cache cannot be sized per instance without leaking ``self``).

    The API serves sync endpoints from a thread pool, so the bookkeeping is locked; the computation is not (two
    threads may compute the same value once each, which is harmless).
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K, compute: Callable[[], V]) -> V:
        value = self.peek(key)
        if value is None:
            value = compute()
            self.put(key, value)
        return value

    def peek(self, key: K) -> V | None:
        """The cached value (now the most recently used), or None."""
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)


def check_text(text: str, name: str = "text") -> None:
    """Empty or over-long input is a caller error, reported by name."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{name} is empty")
    if len(text) > MAX_TEXT:
        raise ValueError(f"{name} is {len(text)} characters long; the limit is {MAX_TEXT}")


class _Kind:
    """Matching machinery for one concept kind (occupations or skills)."""

    def __init__(self, table: LabelTable, index: LabelIndex, uris: list[str], preferred: dict[str, list[str]]):
        self.table = table
        self.index = index
        self.uris = uris
        self.preferred = preferred  # lang → preferred label per concept row ("" where unknown)
        self.label_kind = np.array([{"preferred": 0, "alt": 1, "lexicon": 2}.get(k, 3) for k in table.kind], np.int8)
        self._langs = {lang: i for i, lang in enumerate(dict.fromkeys(table.lang))}
        self._lang_of = np.array([self._langs[lang] for lang in table.lang], np.int16)
        # A key is "shared" when its labels name more than one concept.
        groups = index.labels
        concepts = table.concept[groups.members]
        starts = groups.ptr[:-1]
        self._shared = (
            np.maximum.reduceat(concepts, starts) != np.minimum.reduceat(concepts, starts)
            if len(starts)
            else np.zeros(0, bool)
        )
        self._folded: dict[tuple[int, str], str] = {}

    def _folded_display(self, row: int, lang: str) -> str:
        key = (row, lang)
        folded = self._folded.get(key)
        if folded is None:
            folded = self._folded[key] = fold(self.display(row, lang))
        return folded

    def display(self, row: int, lang: str | None) -> str:
        if lang and lang in self.preferred and self.preferred[lang][row]:
            return self.preferred[lang][row]
        return self.preferred["en"][row]

    def rank(self, text: str, limit: int, lang: str | None) -> list[Candidate]:
        return self.rank_many([text], limit, lang)[0]

    def rank_many(self, texts: Sequence[str], limit: int, lang: str | None) -> list[list[Candidate]]:
        """:meth:`rank` of each text. Texts that fold alike are ranked once, and every stage runs on all of them
        at once (a single text is a batch of one, so both give the same result)."""
        folded = [fold(t) for t in texts]
        queries = list(dict.fromkeys(q for q in folded if q))
        ranked = dict(zip(queries, self._rank_queries(queries, limit, lang), strict=True))
        return [list(ranked[q]) if q else [] for q in folded]

    def _rank_queries(self, queries: list[str], limit: int, lang: str | None) -> list[list[Candidate]]:
        """Ranked candidates for non-empty folded queries.

        Every label of every key a stage proposes is an *offer* (query, label row, score); the stages offer in
        this order: exact key (1.0 × the label kind's score), space-free key (:data:`COMPACT_FACTOR`), stemmed
        key (:data:`STEM_FACTOR`), then the TF-IDF candidates (fuzzy score). Per query and concept the best
        offer wins (the earliest among equals); the best of the *other* offers, counting only labels of this
        concept alone, is its support.
        """
        n = len(queries)
        idx = self.index
        tops = idx.tfidf_top_many(queries, TFIDF_CANDIDATES)
        dict_query: list[int] = []
        dict_keys: list[int] = []
        dict_base: list[float] = []
        for i, text in enumerate(queries):
            exact = idx.labels.id(text)
            stages = (
                ([exact] if exact is not None else [], 1.0),
                (idx.compact.get(compact(text)).tolist(), COMPACT_FACTOR),
                (idx.stem.get(stem_key(text)).tolist(), STEM_FACTOR),
            )
            for stage_keys, factor in stages:
                dict_query.extend([i] * len(stage_keys))
                dict_keys.extend(stage_keys)
                dict_base.extend([factor] * len(stage_keys))
        tfidf_query = np.repeat(np.arange(n), [len(keys) for keys, _ in tops])
        tfidf_keys = np.concatenate([keys for keys, _ in tops]) if n else np.zeros(0, np.int64)
        cosines = np.concatenate([c for _, c in tops]) if n else np.zeros(0, np.float32)
        fuzzy = _fuzzy_scores(queries, tfidf_query, tfidf_keys, cosines, idx.keys)
        query = np.concatenate([np.array(dict_query, np.int64), tfidf_query])
        key = np.concatenate([np.array(dict_keys, np.int64), tfidf_keys])
        base = np.concatenate([np.array(dict_base, np.float64), fuzzy])

        # Offers: every label row of every offered key, in offer order.
        groups = idx.labels
        n_labels = groups.ptr[key + 1] - groups.ptr[key]
        first = np.cumsum(n_labels) - n_labels
        label_row = groups.members[np.repeat(groups.ptr[key] - first, n_labels) + np.arange(int(n_labels.sum()))]
        query, key, base = np.repeat(query, n_labels), np.repeat(key, n_labels), np.repeat(base, n_labels)
        label_kind = self.label_kind[label_row]
        shared = self._shared[key]
        score = base * np.where(base >= 1.0, EXACT_SCORE_ARRAY[label_kind], 1.0)
        # A label shared by several concepts ("sygeplejerske" is also an alt label of a doctors' assistant) is
        # weaker evidence for the concepts that do not prefer it.
        score = np.where(label_kind == 0, score + PREFERRED_BONUS, np.where(shared, score * SHARED_LABEL_FACTOR, score))
        if lang is not None:
            score = np.where(self._lang_of[label_row] != self._langs.get(lang, -1), score * OTHER_LANG_FACTOR, score)

        # Per (query, concept): the best offer, and the best other offer of an unshared label.
        concept = self.table.concept[label_row].astype(np.int64)
        order = np.lexsort((np.arange(len(score)), -score, concept, query))
        query, concept, score, label_row, shared = (
            query[order],
            concept[order],
            score[order],
            label_row[order],
            shared[order],
        )
        is_best = np.ones(len(score), bool)
        is_best[1:] = (query[1:] != query[:-1]) | (concept[1:] != concept[:-1])
        starts = np.flatnonzero(is_best)
        support = np.maximum.reduceat(np.where(is_best | shared, 0.0, score), starts) if len(starts) else score[:0]
        query, concept, label_row, best = query[starts], concept[starts], label_row[starts], score[starts]
        # A concept with a second close label is more likely meant than one with a single close label (+0.03
        # acc@1 in the hold-out benchmark). The noisy-or form stays below FUZZY_CAP, so support never lifts a
        # fuzzy match above a dictionary hit, and leaves dictionary hits as they are.
        best = np.where(best < FUZZY_CAP, best + SUPPORT_WEIGHT * support * (FUZZY_CAP - best), best)

        order = np.lexsort((concept, -best, query))
        query, concept, label_row, best = query[order], concept[order], label_row[order], best[order]
        # Each query's first limit + TIE_WINDOW concepts go on to the final (per-query) step.
        starts = np.searchsorted(query, np.arange(n))
        ends = np.minimum(np.searchsorted(query, np.arange(n), side="right"), starts + limit + TIE_WINDOW)
        sizes = ends - starts
        take = np.repeat(starts - (np.cumsum(sizes) - sizes), sizes) + np.arange(int(sizes.sum()))
        concepts, rows, scores = concept[take].tolist(), label_row[take].tolist(), best[take].tolist()
        bounds = [0, *np.cumsum(sizes).tolist()]
        return [
            self._candidates(queries[i], concepts[lo:hi], rows[lo:hi], scores[lo:hi], limit, lang)
            for i, (lo, hi) in enumerate(itertools.pairwise(bounds))
        ]

    def _candidates(
        self, query: str, concepts: list[int], rows: list[int], scores: list[float], limit: int, lang: str | None
    ) -> list[Candidate]:
        """The first ``limit`` of one query's concepts, given its first ``limit + TIE_WINDOW`` best first (ties by
        concept row)."""
        rounded = [round(score, 4) for score in scores]
        order: Sequence[int] = range(min(limit, len(rounded)))
        if len(set(rounded)) < len(rounded):
            # Ties (a label shared by several concepts) go to the concept whose own preferred label is closest.
            tied = {r for r, count in Counter(rounded).items() if count > 1}
            closeness = [
                fuzz.ratio(query, self._folded_display(concept, lang or self.table.lang[row])) if r in tied else 0.0
                for concept, row, r in zip(concepts, rows, rounded, strict=True)
            ]
            order = sorted(range(len(rounded)), key=lambda i: (-rounded[i], -closeness[i]))[:limit]
        langs = self.table.lang
        return [
            Candidate(self.uris[concepts[i]], self.display(concepts[i], lang or langs[rows[i]]), min(rounded[i], 1.0))
            for i in order
        ]


EXACT_SCORE_ARRAY = np.array(
    [EXACT_SCORE["preferred"] - PREFERRED_BONUS, EXACT_SCORE["alt"], EXACT_SCORE["lexicon"], EXACT_SCORE["hidden"]]
)
"""Score of an exact hit by label kind code (preferred, alt, lexicon, hidden); the preferred label's bonus is
added on top."""


def _fuzzy_scores(
    queries: list[str], query: np.ndarray, key: np.ndarray, cosines: np.ndarray, keys: list[str]
) -> np.ndarray:
    """Calibrated fuzzy score in [0, FUZZY_CAP] of each (``queries[query[i]]``, ``keys[key[i]]``) pair, given
    its TF-IDF cosine.

    The blend is mostly the TF-IDF cosine (shared character n-grams: the best single signal for unseen
    synonyms in the hold-out benchmark) plus rapidfuzz's ``ratio`` (whole-string edit similarity, which sorts
    out typos); rapidfuzz's ``WRatio`` was tried and lowered acc@1 on held-out Danish titles. Two structural
    rules lift specialisations of what was typed: the key *ends* with the query (the head of a Danish compound
    or an English noun phrase: "truckfører" → "gaffeltruckfører", "nurse" → "specialist nurse"), or contains
    all its words. The power spreads the scale so that junk (blend ≈ 0.2) lands far below 0.4 and a one-typo
    match (≈ 0.8) near 0.7.
    """
    texts = [queries[q] for q in query.tolist()]
    candidates = [keys[k] for k in key.tolist()]
    ratio = process.cpdist(texts, candidates, scorer=fuzz.ratio, dtype=np.float32) / 100.0
    blend = 0.8 * cosines + 0.2 * ratio
    lifted: list[int] = []
    lifts: list[float] = []
    bounds = np.searchsorted(query, np.arange(len(queries) + 1)).tolist()
    for text, lo, hi in zip(queries, bounds[:-1], bounds[1:], strict=True):
        squeezed = text.replace(" ", "")
        if len(squeezed) < HEAD_MIN_CHARS:
            continue
        words = set(text.split())
        longest = max(words, key=len)  # a cheap first test: every word must at least occur in the key
        for i in range(lo, hi):
            candidate = candidates[i]
            if candidate.replace(" ", "").endswith(squeezed):
                lifted.append(i)
                lifts.append(0.88 + 0.08 * (len(squeezed) / max(len(candidate), 1)))
            elif longest in candidate and words <= set(candidate.split()):
                lifted.append(i)
                lifts.append(0.86 + 0.08 * (len(squeezed) / max(len(candidate), 1)))
    lift = np.zeros(len(blend), np.float32)
    lift[lifted] = lifts
    blend = np.maximum(blend, lift)
    return np.asarray(FUZZY_CAP * np.power(np.clip(blend, 0.0, 1.0), 1.2), dtype=np.float64)


# ------------------------------------------------------------------------------------------------- extraction

MAX_WINDOW = 6
"""Longest skill phrase, in words, that extraction looks for (longer ESCO labels are sentences, not phrases)."""
MIN_PHRASE_CHARS = 4
FUZZY_MIN_CHARS = 8
EXTRACT_FUZZY_SCORE = 0.85
# Words that are labels of some skill somewhere but, alone in an ad, mean nothing.
_GENERIC_WORDS = """
    og i jeg det at en den til er som paa de med han af for ikke der var mig sig men et har om vi min havde ham hun
    nu over da fra du ud sin dem os op man hans hvor eller hvad skal selv her alle vil blev kunne ind naar vaere dog
    noget ville jo deres efter ned skulle denne end dette mit ogsaa under have dig anden hende mine alt meget sit
    sine vor mod disse hvis din nogle hos blive mange ad bliver hendes vaeret job arbejde erfaring stilling soeger
    the and for with you our your will are this that have from work team job role experience skills skill
    ability good able well strong new also more other must should
"""
_GENERIC = frozenset(_GENERIC_WORDS.split())


class _Extractor:
    """Dictionary phrase matcher over folded skill labels (all languages + lexicon), with a typo-tolerant
    fallback (one edit) for long single words and lexicon phrases.

    It reuses the label index's folded, compact and stemmed key maps, so building it costs one pass over the
    keys (≈ 0.2 s), not a second index.
    """

    def __init__(self, kind: _Kind) -> None:
        self.kind = kind
        idx = kind.index
        groups = idx.labels
        n_keys = len(idx.keys)
        # Best label row per key: preferred, then lexicon, then alt, then hidden.
        priority = np.array([0, 2, 1, 3], np.int8)[kind.label_kind[groups.members]]
        key_of_member = np.repeat(np.arange(n_keys), np.diff(groups.ptr))
        order = np.lexsort((priority, key_of_member))
        self.best_row = groups.members[order][groups.ptr[:-1]]
        self.usable = np.fromiter(
            (
                len(key) >= MIN_PHRASE_CHARS
                and key.count(" ") < MAX_WINDOW
                and not all(w in _GENERIC for w in key.split())
                for key in idx.keys
            ),
            bool,
            count=n_keys,
        )
        is_lexicon = np.zeros(n_keys, bool)
        is_lexicon[key_of_member[kind.label_kind[groups.members] == 2]] = True
        # One-edit neighbourhood (deletions) of long single words and lexicon phrases, SymSpell style.
        self.deletes: dict[str, list[int]] = {}
        for key_id in np.flatnonzero(self.usable).tolist():
            key = idx.keys[key_id]
            if (" " in key and not is_lexicon[key_id]) or len(key) < FUZZY_MIN_CHARS:
                continue
            for variant in _deletions(compact(key)):
                self.deletes.setdefault(variant, []).append(key_id)

    def _first_usable(self, key_ids: np.ndarray) -> int | None:
        for key_id in key_ids.tolist():
            if self.usable[key_id]:
                return int(self.best_row[key_id])
        return None

    def find(self, text: str) -> list[tuple[int, int, int, float]]:
        """(start, end, label row, score) for non-overlapping matches, longest first."""
        idx = self.kind.index
        tokens = [(m.start(), m.end(), fold(m.group())) for m in TOKEN.finditer(text)]
        tokens = [t for t in tokens if t[2]]
        folded = [t[2] for t in tokens]
        stems = [stem_token(w) for w in folded]
        found: list[tuple[int, int, int, float]] = []  # (first token, last token + 1, label row, score)
        n = len(tokens)
        for i in range(n):
            if folded[i] in _GENERIC:
                continue  # no phrase we want starts with "og", "the", "erfaring" …
            for j in range(min(n, i + MAX_WINDOW), i, -1):
                key = " ".join(folded[i:j])
                key_id = idx.labels.id(key)
                if key_id is not None and self.usable[key_id]:
                    found.append((i, j, int(self.best_row[key_id]), 1.0))
                    continue
                squeezed = key.replace(" ", "")
                row = self._first_usable(idx.compact.get(squeezed)) if j - i > 1 else None
                if row is not None:
                    found.append((i, j, row, COMPACT_FACTOR))
                    continue
                row = self._first_usable(idx.stem.get("".join(stems[i:j])))
                if row is not None:
                    found.append((i, j, row, STEM_FACTOR))
                    continue
                if j - i <= 2 and len(squeezed) >= FUZZY_MIN_CHARS:
                    row = self._near(squeezed)
                    if row is not None:
                        found.append((i, j, row, EXTRACT_FUZZY_SCORE))
        found.sort(key=lambda f: (-(tokens[f[1] - 1][1] - tokens[f[0]][0]), -f[3], f[0]))
        taken = np.zeros(n, bool)
        out = []
        for i, j, row, score in found:
            if taken[i:j].any():
                continue
            taken[i:j] = True
            out.append((tokens[i][0], tokens[j - 1][1], row, score))
        out.sort()
        return out

    def _near(self, squeezed: str) -> int | None:
        """A usable key within one edit of ``squeezed`` (the closest, then the alphabetically first)."""
        idx = self.kind.index
        key_ids: set[int] = set()
        for variant in (squeezed, *_deletions(squeezed)):
            key_ids.update(self.deletes.get(variant, ()))
        best: tuple[int, str, int] | None = None
        for key_id in key_ids:
            key = compact(idx.keys[key_id])
            if key[0] != squeezed[0]:
                continue  # typos rarely hit the first letter; "looking" is not "booking"
            dist = Levenshtein.distance(squeezed, key, score_cutoff=1)
            if dist <= 1 and (best is None or (dist, key) < best[:2]):
                best = (dist, key, key_id)
        return None if best is None else int(self.best_row[best[2]])


def _deletions(word: str) -> list[str]:
    return [word[:i] + word[i + 1 :] for i in range(len(word))]


# ------------------------------------------------------------------------------------------------- normaliser


class Normalizer:
    """Turns what people type into ESCO concepts; checks and resolves citizen and vacancy profiles.

    Parameters
    ----------
    taxonomy :
        the loaded taxonomy.
    cache_dir :
        where to keep the fitted label indexes (keyed by ``taxonomy.version``); ``None`` fits them in memory.
    postcodes :
        the postcode registry used to check vacancies' postcodes; ``None`` loads it from the settings' data
        folder on first use.
    threshold :
        minimum score for a free-text label to be resolved; ``None`` takes ``settings.resolve_threshold``.

    Fitted state (built on first use, then reused) ends in ``_``; the object is safe to share read-only
    between threads once warm.
    """

    def __init__(
        self,
        taxonomy: Taxonomy,
        cache_dir: Path | None = None,
        postcodes: Postcodes | None = None,
        threshold: float | None = None,
    ) -> None:
        self.taxonomy = taxonomy
        self.cache_dir = cache_dir
        self.postcodes = postcodes
        self.threshold = threshold

    # ----------------------------------------------------------------------------------------- fitted state

    @cached_property
    def indexes_(self) -> tuple[LabelIndex, LabelIndex]:
        """(occupation index, skill index), loaded from the cache or fitted (a few seconds) and cached."""
        tax = self.taxonomy
        if self.cache_dir is None:
            return LabelIndex.build(tax.occupation_label_table), LabelIndex.build(tax.skill_label_table)
        folder = index_folder(self.cache_dir, tax.version)
        if folder.is_dir():
            try:
                return LabelIndex.load(folder, "occupations"), LabelIndex.load(folder, "skills")
            except (OSError, ValueError, KeyError) as exc:
                log.warning("label index cache %s unreadable (%s); refitting", folder, exc)
        occ, skill = LabelIndex.build(tax.occupation_label_table), LabelIndex.build(tax.skill_label_table)

        def write(tmp: Path) -> None:
            occ.save(tmp, "occupations")
            skill.save(tmp, "skills")

        write_atomically(self.cache_dir, folder.name, write)
        return occ, skill

    @cached_property
    def occupations_(self) -> _Kind:
        tax = self.taxonomy
        preferred = _preferred_by_lang(tax.occupation_label_table, tax.n_occupations)
        preferred["en"] = tax.occupation_labels
        preferred["da"] = tax.occupation_labels_da
        return _Kind(tax.occupation_label_table, self.indexes_[0], tax.occupation_uris, preferred)

    @cached_property
    def skills_(self) -> _Kind:
        tax = self.taxonomy
        preferred = _preferred_by_lang(tax.skill_label_table, tax.n_skills)
        preferred["en"] = tax.skill_labels
        return _Kind(tax.skill_label_table, self.indexes_[1], tax.skill_uris, preferred)

    @cached_property
    def extractor_(self) -> _Extractor:
        return _Extractor(self.skills_)

    @cached_property
    def languages_(self) -> frozenset[str]:
        tax = self.taxonomy
        return frozenset({"da", "en", *tax.occupation_label_table.lang, *tax.skill_label_table.lang})

    @cached_property
    def threshold_(self) -> float:
        return get_settings().resolve_threshold if self.threshold is None else self.threshold

    @cached_property
    def postcodes_(self) -> Postcodes:
        return self.postcodes if self.postcodes is not None else load_postcodes(get_settings().data_dir)

    @cached_property
    def _cache(self) -> _LRU[tuple[str, str, int, str | None], tuple[Candidate, ...]]:
        return _LRU(CACHE_SIZE)

    # ----------------------------------------------------------------------------------------- public

    def normalize_occupation(self, text: str, limit: int = 10, lang: str | None = None) -> list[Candidate]:
        """Ranked ESCO occupations for a job title in Danish or English (best first, at most ``limit``)."""
        return self._normalize("occupation", text, limit, lang)

    def normalize_skill(self, text: str, limit: int = 10, lang: str | None = None) -> list[Candidate]:
        """Ranked ESCO skills for a skill phrase ("gaffeltruck", "customer service")."""
        return self._normalize("skill", text, limit, lang)

    def normalize_many(
        self, texts: Iterable[str], kind: ConceptKind = "occupation", limit: int = 10, lang: str | None = None
    ) -> list[list[Candidate]]:
        """:meth:`normalize_occupation` (``kind="occupation"``) or :meth:`normalize_skill` (``kind="skill"``) of
        each text, in order, with the same results, several times faster for many texts: repeated texts (and
        texts that fold alike) are ranked once, the TF-IDF candidate stage runs as one sparse product per block
        of texts, the rapidfuzz ratios as one call. For bulk imports and batch jobs.

        A bad item raises the single path's ``ValueError`` naming its position (``texts[3] is empty``) before
        any work is done.
        """
        if kind not in CONCEPT_KINDS:
            raise ValueError(f"kind must be one of {', '.join(CONCEPT_KINDS)}, not '{kind}'")
        if isinstance(texts, str):
            raise ValueError("texts must be a list of texts, not one string")
        texts = list(texts)  # any iterable; it is read more than once
        for i, text in enumerate(texts):
            check_text(text, f"texts[{i}]")
        self._check_lang(lang)
        _check_limit(limit)
        matcher = self.occupations_ if kind == "occupation" else self.skills_
        cache = self._cache
        found = {text: cache.peek((kind, text, limit, lang)) for text in texts}
        missing = [text for text, hit in found.items() if hit is None]
        for start in range(0, len(missing), RANK_CHUNK):
            chunk = missing[start : start + RANK_CHUNK]
            for text, ranked in zip(chunk, matcher.rank_many(chunk, limit, lang), strict=True):
                found[text] = result = tuple(ranked)
                cache.put((kind, text, limit, lang), result)
        return [list(found[text] or ()) for text in texts]

    def extract_skills(self, text: str, lang: str | None = None) -> list[SkillSpan]:
        """ESCO skills mentioned in a free text (a job ad), with character offsets into ``text``.

        ``lang`` only chooses the language of the returned labels; matching uses every language.
        """
        check_text(text)
        self._check_lang(lang)
        kind = self.skills_
        out = []
        for start, end, row, score in self.extractor_.find(text):
            concept = int(kind.table.concept[row])
            shown = lang or kind.table.lang[row]
            out.append(SkillSpan(kind.uris[concept], kind.display(concept, shown), score, start, end))
        return out

    def resolve_citizen(self, citizen: Citizen) -> Citizen:
        """A copy with every free-text skill/occupation resolved and every URI checked (see module docs)."""
        return self._resolve_citizen(citizen, self._lookup("skill", 3), self._lookup("occupation", 3))

    def resolve_vacancy(self, vacancy: Vacancy) -> Vacancy:
        """A copy with skills resolved, URIs and postcode checked, and the occupation taken from the title when
        no ``occupation_uri`` is given and the title matches confidently."""
        return self._resolve_vacancy(vacancy, self._lookup("skill", 3), self._lookup("occupation", 1))

    def resolve_citizens(self, citizens: Sequence[Citizen]) -> list[Citizen | TaxonomyInputError]:
        """:meth:`resolve_citizen` of each profile, in order, with the labels of all of them normalised in one
        batch per kind (:meth:`normalize_many`). A profile that cannot be resolved gets its
        :class:`TaxonomyInputError` in its place, so a bulk upload can report every bad item at once."""
        skills = self._lookup_many("skill", 3, [s.label for c in citizens for s in c.skills if s.uri is None])
        titles = self._lookup_many("occupation", 3, [o.title for c in citizens for o in c.occupations if o.uri is None])
        return [_or_error(partial(self._resolve_citizen, c, skills, titles)) for c in citizens]

    def resolve_vacancies(self, vacancies: Sequence[Vacancy]) -> list[Vacancy | TaxonomyInputError]:
        """:meth:`resolve_vacancy` of each need, in order, batched like :meth:`resolve_citizens`."""
        labels = [r.label for v in vacancies for r in (*v.essential_skills, *v.optional_skills) if r.uri is None]
        skills = self._lookup_many("skill", 3, labels)
        titles = self._lookup_many("occupation", 1, [v.title for v in vacancies if v.occupation_uri is None])
        return [_or_error(partial(self._resolve_vacancy, v, skills, titles)) for v in vacancies]

    def _resolve_citizen(self, citizen: Citizen, skill_lookup: Lookup, title_lookup: Lookup) -> Citizen:
        skills = [
            claim.model_copy(update={"resolved": self._resolve_skill(claim, f"skills[{i}]", skill_lookup)})
            for i, claim in enumerate(citizen.skills)
        ]
        occupations = []
        for i, occ in enumerate(citizen.occupations):
            field = f"occupations[{i}]"
            if occ.uri is not None:
                self._check_occupation_uri(occ.uri, f"{field}.uri")
                occupations.append(occ)
            else:
                assert occ.title is not None  # the model guarantees uri or title
                resolved = self._resolve(title_lookup(occ.title), occ.title, f"{field}.title", "occupation")
                occupations.append(occ.model_copy(update={"resolved": resolved}))
        for i, qual in enumerate(citizen.qualifications):
            if qual.occupation_uri is not None:
                self._check_occupation_uri(qual.occupation_uri, f"qualifications[{i}].occupation_uri")
        return citizen.model_copy(update={"skills": skills, "occupations": occupations})

    def _resolve_vacancy(self, vacancy: Vacancy, skill_lookup: Lookup, title_lookup: Lookup) -> Vacancy:
        update: dict[str, object] = {}
        for name in ("essential_skills", "optional_skills"):
            refs: list[SkillRef] = getattr(vacancy, name)
            update[name] = [
                ref.model_copy(update={"resolved": self._resolve_skill(ref, f"{name}[{i}]", skill_lookup)})
                for i, ref in enumerate(refs)
            ]
        if vacancy.occupation_uri is not None:
            self._check_occupation_uri(vacancy.occupation_uri, "occupation_uri")
        else:
            best = title_lookup(vacancy.title)
            if best and best[0].score >= self.threshold_:
                resolved = Resolution(uri=best[0].uri, label=best[0].label, confidence=best[0].score)
                update["occupation_resolved"] = resolved
                update["occupation_uri"] = resolved.uri
        if "occupation_uri" not in update and vacancy.occupation_uri is None and not vacancy.essential_skills:
            raise TaxonomyInputError(
                "essential_skills",
                "a need needs skills or an occupation: give essential_skills or a title/occupation_uri that "
                "matches an ESCO occupation",
            )
        if vacancy.postcode is not None and vacancy.postcode not in self.postcodes_:
            raise TaxonomyInputError("postcode", f"unknown Danish postcode '{vacancy.postcode}'")
        return vacancy.model_copy(update=update)

    # ----------------------------------------------------------------------------------------- internals

    def _check_lang(self, lang: str | None) -> None:
        if lang is not None and lang not in self.languages_:
            known = ", ".join(sorted(self.languages_))
            raise ValueError(f"unknown language code '{lang}' (known: {known})")

    def _normalize(self, kind: ConceptKind, text: str, limit: int, lang: str | None) -> list[Candidate]:
        check_text(text)
        self._check_lang(lang)
        _check_limit(limit)
        matcher = self.occupations_ if kind == "occupation" else self.skills_
        key = (kind, text, limit, lang)
        return list(self._cache.get(key, lambda: tuple(matcher.rank(text, limit, lang))))

    def _lookup(self, kind: ConceptKind, limit: int) -> Lookup:
        return lambda text: self._normalize(kind, text, limit, None)

    def _lookup_many(self, kind: ConceptKind, limit: int, texts: list[str | None]) -> Lookup:
        """A lookup answered from one :meth:`normalize_many` of ``texts``; a text it cannot take (empty)
        falls back to the single path, which raises that text's own error when it is looked up."""
        usable = list(dict.fromkeys(t for t in texts if isinstance(t, str) and t.strip() and len(t) <= MAX_TEXT))
        results = dict(zip(usable, self.normalize_many(usable, kind, limit), strict=True))
        single = self._lookup(kind, limit)
        return lambda text: list(results[text]) if text in results else single(text)

    def _resolve_skill(self, ref: SkillRef, field: str, lookup: Lookup) -> Resolution | None:
        if ref.uri is not None:
            if ref.uri not in self.taxonomy.skill_row:
                raise TaxonomyInputError(f"{field}.uri", "not an ESCO skill URI")
            return ref.resolved
        assert ref.label is not None  # the model guarantees uri or label
        return self._resolve(lookup(ref.label), ref.label, f"{field}.label", "skill")

    def _resolve(self, candidates: list[Candidate], text: str, field: str, what: str) -> Resolution:
        if not candidates or candidates[0].score < self.threshold_:
            tried = "; ".join(f"'{c.label}' ({c.score:.2f})" for c in candidates) or "none"
            raise TaxonomyInputError(
                field,
                f"no confident ESCO {what} match for '{text}' (closest: {tried}); give a more specific text or "
                f"the ESCO {what} URI",
            )
        best = candidates[0]
        return Resolution(uri=best.uri, label=best.label, confidence=best.score)

    def _check_occupation_uri(self, uri: str, field: str) -> None:
        if uri not in self.taxonomy.occupation_row:
            raise TaxonomyInputError(field, "not an ESCO occupation URI")


def _check_limit(limit: int) -> None:
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")


R = TypeVar("R")


def _or_error(resolve: Callable[[], R]) -> R | TaxonomyInputError:
    try:
        return resolve()
    except TaxonomyInputError as exc:
        return exc


def index_folder(cache_dir: Path, taxonomy_version: str) -> Path:
    """Where the fitted label indexes of a taxonomy version are cached."""
    return cache_dir / f"normalizer-{taxonomy_version}-{INDEX_VERSION}"


def _preferred_by_lang(table: LabelTable, n: int) -> dict[str, list[str]]:
    """Preferred labels per language other than English, from the label table ("" where a concept has none)."""
    out: dict[str, list[str]] = {}
    for text, concept, lang, kind in zip(table.text, table.concept.tolist(), table.lang, table.kind, strict=True):
        if kind == "preferred" and lang != "en":
            out.setdefault(lang, [""] * n)[concept] = text
    return out


@lru_cache(maxsize=1)
def get_normalizer() -> Normalizer:
    """The process-wide normaliser over :func:`get_taxonomy`, its indexes cached in the settings' cache folder."""
    settings = get_settings()
    return Normalizer(get_taxonomy(), cache_dir=settings.cache_dir)
