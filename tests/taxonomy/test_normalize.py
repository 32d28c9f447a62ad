"""Normalisation of titles and skill phrases, and skill extraction, on the real ESCO data and lexicon."""

from __future__ import annotations

import itertools

import pytest

from matcher.taxonomy import Candidate, Normalizer, SkillSpan, Taxonomy

NURSE = "http://data.europa.eu/esco/occupation/8d3e8aaa-791b-4c75-a465-f3f827028f50"
HOME_CARE_AIDE = "http://data.europa.eu/esco/occupation/1391bdf9-bd61-4fb5-91ca-c29036ab2b60"
OPERATE_FORKLIFT = "http://data.europa.eu/esco/skill/28cb374e-6261-4133-8371-f9a5470145da"
CUSTOMER_SERVICE = "http://data.europa.eu/esco/skill/15a33d76-4640-438d-ae64-fdc0c1d3eebc"


def _isco(taxonomy: Taxonomy, uri: str) -> int:
    return int(taxonomy.occupation_isco[taxonomy.occupation_row[uri]])


@pytest.mark.parametrize(
    "title", ["sygeplejerske", "Sygeplejerske", "SYGEPLEJERSKE", "sygeplejersker", "sygeplejersken", "sygeplejeske"]
)
def test_nurse_in_danish_with_inflection_and_typo(normalizer: Normalizer, title: str) -> None:
    best = normalizer.normalize_occupation(title)[0]
    assert best.uri == NURSE
    assert best.label == "sygeplejerske"  # the Danish preferred label for a Danish query
    assert best.score >= (0.95 if title.lower() == "sygeplejerske" else 0.75)


@pytest.mark.parametrize(
    "title", ["social- og sundhedshjælper", "SOSU-hjælper", "sosuhjælper", "social og sundhedshjaelper"]
)
def test_sosu_helper(normalizer: Normalizer, title: str) -> None:
    best = normalizer.normalize_occupation(title)[0]
    assert best.uri == HOME_CARE_AIDE
    assert best.score >= 0.9


@pytest.mark.parametrize("title", ["lægesekretær", "laegesekretaer", "Lægesekretær"])
def test_aeoeaa_spellings_are_identical(normalizer: Normalizer, title: str) -> None:
    candidates = normalizer.normalize_occupation(title, limit=3)
    assert candidates[0].label == "lægesekretær"
    assert candidates[0].score == 1.0
    assert candidates == normalizer.normalize_occupation("lægesekretær", limit=3)


def test_warehouse_and_forklift_titles(normalizer: Normalizer, taxonomy: Taxonomy) -> None:
    warehouse = normalizer.normalize_occupation("lagerarbejder")[0]
    assert warehouse.score == 1.0 and warehouse.label == "lagerarbejder"
    assert _isco(taxonomy, warehouse.uri) == 9333  # freight handlers: ESCO "warehouse worker"
    compound = normalizer.normalize_occupation("lagermedarbejder", limit=3)
    assert compound[0].score > 0.85 and "lager" in compound[0].label
    truck = normalizer.normalize_occupation("truckfører")[0]
    english = normalizer.normalize_occupation("forklift driver")[0]
    assert truck.uri == english.uri
    assert _isco(taxonomy, truck.uri) == 8344  # lifting-truck operators
    assert english.score > 0.9


def test_english_nurse_finds_nursing_occupations(normalizer: Normalizer, taxonomy: Taxonomy) -> None:
    candidates = normalizer.normalize_occupation("nurse", limit=5)
    assert any(_isco(taxonomy, c.uri) // 10 == 222 for c in candidates)  # nursing professionals
    assert all(0.5 < c.score < 0.95 for c in candidates)  # no exact label "nurse": good fuzzy, not exact


def test_scores_are_calibrated_and_sorted(normalizer: Normalizer) -> None:
    junk = normalizer.normalize_occupation("xqzzy vbnmw")
    assert all(c.score < 0.4 for c in junk)
    candidates = normalizer.normalize_occupation("customer service assistant", limit=10)
    scores = [c.score for c in candidates]
    assert scores == sorted(scores, reverse=True)
    assert all(0 <= s <= 1 for s in scores)
    assert len({c.uri for c in candidates}) == len(candidates)  # one entry per concept
    assert all(isinstance(c, Candidate) and isinstance(c.score, float) for c in candidates)


def test_limit_and_lang(normalizer: Normalizer) -> None:
    assert len(normalizer.normalize_occupation("assistent", limit=3)) == 3
    english = normalizer.normalize_occupation("sygeplejerske", lang="en")[0]
    assert english.uri == NURSE and english.label == "nurse responsible for general care"
    assert english.score < normalizer.normalize_occupation("sygeplejerske", lang="da")[0].score


@pytest.mark.parametrize(
    ("text", "limit", "lang", "message"),
    [
        ("", 10, None, "text is empty"),
        ("   \n", 10, None, "text is empty"),
        ("x" * 20_001, 10, None, "limit is 20000"),
        ("kok", 10, "xx", "unknown language code 'xx'"),
        ("kok", 0, None, "limit must be at least 1"),
    ],
)
def test_bad_input(normalizer: Normalizer, text: str, limit: int, lang: str | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        normalizer.normalize_occupation(text, limit=limit, lang=lang)
    with pytest.raises(ValueError, match=message):
        normalizer.normalize_skill(text, limit=limit, lang=lang)


def test_punctuation_only_gives_no_candidates(normalizer: Normalizer) -> None:
    assert normalizer.normalize_skill("?!") == []


@pytest.mark.parametrize(
    ("phrase", "words"),
    [
        ("gaffeltruck", ["forklift"]),
        ("truckcertifikat", ["forklift"]),
        ("rengøring", ["clean"]),
        ("rengoering", ["clean"]),
        ("kundeservice", ["customer"]),
        ("personlig pleje", ["support", "care", "hygiene", "personal"]),
        ("customer service", ["customer service"]),
    ],
)
def test_skill_phrases(normalizer: Normalizer, phrase: str, words: list[str]) -> None:
    best = normalizer.normalize_skill(phrase)[0]
    assert best.score > 0.85
    assert any(w in best.label.lower() for w in words), best


def test_skill_typo(normalizer: Normalizer) -> None:
    best = normalizer.normalize_skill("custmer service")[0]
    assert best.uri == CUSTOMER_SERVICE and 0.7 <= best.score < 0.95


# --------------------------------------------------------------------------------------------- extraction


def test_extract_danish_ad(normalizer: Normalizer) -> None:
    ad = "Vi søger en lagermedarbejder med truckcertifikat og erfaring med gaffeltruck og pakning"
    spans = normalizer.extract_skills(ad)
    found = {ad[s.start : s.end]: s for s in spans}
    assert found["truckcertifikat"].uri == OPERATE_FORKLIFT
    assert found["gaffeltruck"].uri == OPERATE_FORKLIFT
    assert "pack" in found["pakning"].label
    assert all(isinstance(s, SkillSpan) for s in spans)
    starts = [s.start for s in spans]
    assert starts == sorted(starts)
    assert all(a.end <= b.start for a, b in itertools.pairwise(spans))  # no overlaps
    assert "erfaring" not in found and "og" not in found


def test_extract_english_ad_prefers_longest_phrase(normalizer: Normalizer) -> None:
    ad = "You will operate a forklift and deliver excellent customer service."
    spans = normalizer.extract_skills(ad)
    found = {ad[s.start : s.end]: s.uri for s in spans}
    assert found.get("operate a forklift") == OPERATE_FORKLIFT
    assert found.get("customer service") == CUSTOMER_SERVICE
    assert "forklift" not in found  # inside the longer match


def test_extract_spans_point_into_the_original_text(normalizer: Normalizer) -> None:
    ad = "Erfaring med GAFFELTRUCK,  rengøring og   kundeservice ønskes."
    spans = normalizer.extract_skills(ad)
    texts = [ad[s.start : s.end] for s in spans]
    assert texts == ["GAFFELTRUCK", "rengøring", "kundeservice"]


def test_extract_inflected_and_misspelled(normalizer: Normalizer) -> None:
    ad = "Du har kørt gaffeltrucken før og har truckcertifkat."
    found = {ad[s.start : s.end]: s for s in normalizer.extract_skills(ad)}
    assert found["gaffeltrucken"].uri == OPERATE_FORKLIFT and found["gaffeltrucken"].score < 1
    assert found["truckcertifkat"].uri == OPERATE_FORKLIFT and found["truckcertifkat"].score < 1


def test_extract_bad_input(normalizer: Normalizer) -> None:
    with pytest.raises(ValueError, match="text is empty"):
        normalizer.extract_skills(" ")
    with pytest.raises(ValueError, match="20000"):
        normalizer.extract_skills("gaffeltruck " * 2000)
    with pytest.raises(ValueError, match="unknown language code 'zz'"):
        normalizer.extract_skills("gaffeltruck", lang="zz")
