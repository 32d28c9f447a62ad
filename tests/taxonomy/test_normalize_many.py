"""Batched normalisation gives exactly what the single calls give, on real ESCO titles and skill labels."""

from __future__ import annotations

import random
import unicodedata

import numpy as np
import pytest

import matcher.taxonomy._index as index_module
from matcher.config import get_settings
from matcher.domain import Citizen, Vacancy
from matcher.taxonomy import LabelTable, Normalizer, Taxonomy, TaxonomyInputError
from matcher.taxonomy._index import LabelIndex, char_wb_grams, query_grams
from matcher.taxonomy._text import fold

_ASCII_DANISH = str.maketrans({"æ": "ae", "ø": "oe", "å": "aa", "Æ": "Ae", "Ø": "Oe", "Å": "Aa"})
_PLAIN_DANISH = str.maketrans({"æ": "a", "ø": "o", "å": "a", "Æ": "A", "Ø": "O", "Å": "A"})


def _variants(labels: list[str], n: int, seed: int) -> list[str]:
    """Real labels as people type them: as is, with a typo, without æøå, shouted, padded, repeated."""
    rng = random.Random(seed)
    out: list[str] = []
    for text in rng.sample(labels, n):
        roll = rng.random()
        if roll < 0.25 and len(text) > 4:
            i = rng.randrange(1, len(text) - 1)
            text = text[:i] + text[i + 1 :]  # a letter dropped
        elif roll < 0.4:
            text = text.translate(_ASCII_DANISH if rng.random() < 0.5 else _PLAIN_DANISH)
        elif roll < 0.45:
            text = f"  {text.upper()}-"
        elif roll < 0.5:
            text = unicodedata.normalize("NFD", text)  # decomposed accents fold like composed ones
        out.append(text)
    out += rng.sample(out, n // 10)  # repeated texts
    out += ["?!", "qqq xzv"]  # folds to nothing; no known n-gram worth a candidate
    rng.shuffle(out)
    return out


@pytest.fixture(scope="module")
def batch(taxonomy: Taxonomy) -> Normalizer:
    """Fresh normalisers over the same cached indexes, so that neither side answers from the other's cache."""
    return Normalizer(taxonomy, cache_dir=get_settings().cache_dir)


@pytest.fixture(scope="module")
def single(taxonomy: Taxonomy) -> Normalizer:
    return Normalizer(taxonomy, cache_dir=get_settings().cache_dir)


def _labels(table: LabelTable, lang: str) -> list[str]:
    return sorted({t for t, lg in zip(table.text, table.lang, strict=True) if lg == lang})


@pytest.mark.parametrize(("lang", "limit", "n"), [("da", 10, 900), ("en", 10, 900), ("da", 3, 300)])
def test_occupations_equal_single_calls(
    batch: Normalizer, single: Normalizer, taxonomy: Taxonomy, lang: str, limit: int, n: int
) -> None:
    texts = _variants(_labels(taxonomy.occupation_label_table, lang), n, seed=len(lang) * limit)
    hint = lang if limit == 3 else None
    batched = batch.normalize_many(texts, "occupation", limit=limit, lang=hint)
    assert len(batched) == len(texts)
    for text, got in zip(texts, batched, strict=True):
        assert got == single.normalize_occupation(text, limit=limit, lang=hint), text
    assert sum(1 for got in batched if got and got[0].score >= 0.9) > n // 3  # real labels: many dictionary hits


def test_skills_equal_single_calls(batch: Normalizer, single: Normalizer, taxonomy: Taxonomy) -> None:
    table = taxonomy.skill_label_table
    texts = _variants(_labels(table, "en"), 800, seed=1) + _variants(_labels(table, "da"), 150, seed=2)
    for lang, limit in ((None, 10), ("da", 3)):
        batched = batch.normalize_many(texts, "skill", limit=limit, lang=lang)
        for text, got in zip(texts, batched, strict=True):
            assert got == single.normalize_skill(text, limit=limit, lang=lang), text


def test_small_and_large_blocks_agree(monkeypatch: pytest.MonkeyPatch, taxonomy: Taxonomy) -> None:
    """Blocks of a few queries take the Python n-gram and numpy gather route; larger ones numpy's n-grams and
    scipy's row indexing. The cosines must not depend on which."""
    index = Normalizer(taxonomy, cache_dir=get_settings().cache_dir).indexes_[0]
    queries = [fold(t) for t in _variants(_labels(taxonomy.occupation_label_table, "da"), 300, seed=3)]
    large = index.tfidf_top_many(queries, 40)
    monkeypatch.setattr(index_module, "BLOCK_QUERIES", 3)
    small = index.tfidf_top_many(queries, 40)
    for (keys_a, cos_a), (keys_b, cos_b), one in zip(large, small, queries, strict=True):
        assert np.array_equal(keys_a, keys_b) and np.array_equal(cos_a, cos_b)
        keys_c, cos_c = index.tfidf_top(one, 40)
        assert np.array_equal(keys_a, keys_c) and np.array_equal(cos_a, cos_c)
        assert np.all(np.diff(cos_a) <= 0) and (len(cos_a) == 0 or cos_a[-1] >= 0.15)


def test_query_grams_equal_numpy_grams(taxonomy: Taxonomy) -> None:
    keys = sorted({fold(t) for t in taxonomy.occupation_label_table.text})
    doc, code = char_wb_grams(keys)
    order = np.lexsort((code, doc))
    doc, code = doc[order], code[order]
    starts = np.searchsorted(doc, np.arange(len(keys) + 1))
    for i in range(0, len(keys), 7):
        assert sorted(query_grams(keys[i])) == code[starts[i] : starts[i + 1]].tolist(), keys[i]


def test_label_index_batch_on_a_tiny_index(tiny_index: LabelIndex) -> None:
    index = tiny_index
    queries = ["sygeplejerske", "qqq", "", "lagermedarbejdere", "sygeplejerske"]
    batched = index.tfidf_top_many(queries, 3)
    assert [keys.tolist() for keys, _ in batched[:3]] == [[2], [], []]
    assert set(batched[3][0].tolist()) == {0, 1}
    assert batched[0][1][0] == pytest.approx(1.0, abs=1e-5)
    assert np.array_equal(batched[0][1], batched[4][1])
    assert index.tfidf_top_many([], 3) == []


@pytest.mark.parametrize(
    ("texts", "kwargs", "message"),
    [
        (["kok", "", "smed"], {}, r"texts\[1\] is empty"),
        (["kok", "  \n"], {}, r"texts\[1\] is empty"),
        (["x" * 20_001], {}, r"texts\[0\] is 20001 characters long; the limit is 20000"),
        (["kok", None], {}, r"texts\[1\] is empty"),
        (["kok"], {"lang": "xx"}, "unknown language code 'xx'"),
        (["kok"], {"limit": 0}, "limit must be at least 1"),
        (["kok"], {"kind": "title"}, "kind must be one of occupation, skill, not 'title'"),
        ("kok", {}, "texts must be a list of texts, not one string"),
    ],
)
def test_bad_input_names_the_item(normalizer: Normalizer, texts: object, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        normalizer.normalize_many(texts, **kwargs)  # type: ignore[arg-type]


def test_results_are_the_callers_own_lists(normalizer: Normalizer) -> None:
    first = normalizer.normalize_many(["kundeservice", "kundeservice"], "skill", limit=2)
    assert first[0] == first[1] and first[0] is not first[1]
    first[0].clear()
    assert normalizer.normalize_many(["kundeservice"], "skill", limit=2)[0] == first[1]
    assert normalizer.normalize_skill("kundeservice", limit=2) == first[1]


def _citizen(i: int, **extra: object) -> Citizen:
    data = {
        "external_ref": f"case-{i}",
        "target_group": "jobparat",
        "postcode": "4200",
        "skills": [{"label": "gaffeltruck"}, {"label": "rengøring"}],
        "occupations": [{"title": "lagermedarbejder"}],
    }
    return Citizen.model_validate({**data, **extra})


def _vacancy(**extra: object) -> Vacancy:
    data = {
        "employer_id": 1,
        "title": "Truckfører",
        "postcode": "4200",
        "essential_skills": [{"label": "kundeservice"}],
    }
    return Vacancy.model_validate({**data, **extra})


def test_resolve_many_equals_resolve_one(batch: Normalizer, single: Normalizer) -> None:
    citizens = [
        _citizen(0),
        _citizen(1, skills=[{"label": "xqzzy vbnmw"}]),  # no confident match
        _citizen(2, occupations=[{"uri": "http://data.europa.eu/esco/occupation/nope"}]),
        _citizen(3, skills=[{"label": "custmer service"}], occupations=[{"title": "sygeplejerske"}]),
    ]
    for citizen, got in zip(citizens, batch.resolve_citizens(citizens), strict=True):
        try:
            expected: Citizen | TaxonomyInputError = single.resolve_citizen(citizen)
        except TaxonomyInputError as exc:
            expected = exc
        if isinstance(expected, TaxonomyInputError):
            assert isinstance(got, TaxonomyInputError)
            assert (got.field, got.reason) == (expected.field, expected.reason)
        else:
            assert got == expected
    results = batch.resolve_citizens(citizens)
    assert [type(r) for r in results] == [Citizen, TaxonomyInputError, TaxonomyInputError, Citizen]
    assert isinstance(results[1], TaxonomyInputError) and results[1].field == "skills[0].label"

    vacancies = [_vacancy(), _vacancy(title="xqzzy", essential_skills=[]), _vacancy(postcode="0001")]
    batched = batch.resolve_vacancies(vacancies)
    assert batched[0] == single.resolve_vacancy(vacancies[0])
    assert isinstance(batched[1], TaxonomyInputError) and batched[1].field == "essential_skills"
    assert isinstance(batched[2], TaxonomyInputError) and batched[2].field == "postcode"
    assert batch.resolve_citizens([]) == [] and batch.resolve_vacancies([]) == []


def test_any_iterable_of_texts(normalizer: Normalizer) -> None:
    expected = [normalizer.normalize_occupation("kok"), normalizer.normalize_occupation("smed")]
    assert normalizer.normalize_many(t for t in ("kok", "smed")) == expected
    assert normalizer.normalize_many(()) == []
