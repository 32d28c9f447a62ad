"""Folding, stemming and the numpy char_wb TF-IDF, which must equal scikit-learn's."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from matcher.taxonomy._index import LabelIndex, char_wb_grams, gram_text, tfidf_fit
from matcher.taxonomy._text import compact, fold, stem_key, stem_token


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("Lægesekretær", "laegesekretaer"),
        ("laegesekretaer", "laegesekretaer"),
        ("SOSU-hjælper", "sosu hjaelper"),
        ("Social- og  Sundhedshjælper", "social og sundhedshjaelper"),
        ("Truckfører!", "truckfoerer"),
        ("Café Ångström", "cafe aangstroem"),
        ("ＦＵＬＬ width", "full width"),
        ("  ", ""),
    ],
)
def test_fold(raw: str, folded: str) -> None:
    assert fold(raw) == folded


def test_compact_and_stems_meet_inflected_forms() -> None:
    assert compact(fold("lager medarbejder")) == compact(fold("lagermedarbejder"))
    for a, b in [
        ("sygeplejerske", "sygeplejersker"),
        ("sygeplejerske", "sygeplejersken"),
        ("sygeplejerske", "sygeplejer"),  # gendered -erske / -er
        ("lagerarbejder", "lagerarbejderne"),
        ("lagerarbejder", "lagerarbejderen"),
        ("lærer", "lærerinde"),
        ("nurse", "nurses"),
    ]:
        assert stem_token(fold(a)) == stem_token(fold(b)), (a, b)
    assert stem_token(fold("kok")) == "kok"  # short words are left alone
    assert stem_key("lager medarbejdere") == stem_key("lagermedarbejder")


DOCS = ["lager medarbejder", "a", "sygeplejerske 2", "x y", "", "forklift  driver b", "kok", "abcd"]


def test_char_wb_grams_equal_sklearn() -> None:
    analyzer = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4)).build_analyzer()
    doc, code = char_wb_grams(DOCS)
    for i, text in enumerate(DOCS):
        assert sorted(gram_text(int(c)) for c in code[doc == i]) == sorted(analyzer(text)), text


def test_tfidf_fit_equals_sklearn() -> None:
    vocab, idf, matrix = tfidf_fit(DOCS)
    reference = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True)
    expected = reference.fit_transform(DOCS)
    names = list(reference.get_feature_names_out())
    assert sorted(gram_text(int(c)) for c in vocab) == sorted(names)
    order = [names.index(gram_text(int(c))) for c in vocab]
    np.testing.assert_allclose(matrix.toarray(), expected[:, order].toarray(), atol=1e-6)
    np.testing.assert_allclose(idf, reference.idf_[order], rtol=1e-6)


def test_label_index_query_is_cosine(tiny_index: LabelIndex) -> None:
    index = tiny_index
    assert index.keys == ["lager medarbejder", "lagermedarbejder", "sygeplejerske", "kok"]
    keys, cosines = index.tfidf_top("sygeplejerske", 3)
    assert keys[0] == 2 and cosines[0] == pytest.approx(1.0, abs=1e-5)
    keys, cosines = index.tfidf_top("lagermedarbejdere", 3)
    assert set(keys[:2].tolist()) == {0, 1} and np.all(np.diff(cosines) <= 0)
    assert index.compact.get("lagermedarbejder").tolist() == [0, 1]
    assert index.tfidf_top("qqq", 3)[0].size == 0


def test_lru_evicts_least_recently_used() -> None:
    from matcher.taxonomy._normalize import _LRU

    calls: list[str] = []
    cache: _LRU[str, int] = _LRU(2)

    def compute(key: str) -> int:
        calls.append(key)
        return len(calls)

    def get(key: str) -> int:
        return cache.get(key, lambda: compute(key))

    assert [get("a"), get("b"), get("a")] == [1, 2, 1]
    get("c")  # evicts "b", the least recently used
    assert get("a") == 1 and get("b") == 4
    assert calls == ["a", "b", "c", "b"]
