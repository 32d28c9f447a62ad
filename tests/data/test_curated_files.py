"""Checks on the curated data files the engine ships (see data/lexicon/README.md).

The three CSVs are hand-made; these tests keep them honest against the ESCO v1.1.1 files in ``data/esco/``:
every URI must exist, columns must be exactly as documented, and a few rows the matching policy depends on
(nurses gated, social- og sundhedshjælper not gated, "gaffeltruck" means forklift) must stay as they are.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data"
ESCO = DATA / "esco"
SKILLS_DA = DATA / "lexicon" / "skills_da.csv"
OCCUPATIONS_DA_EXTRA = DATA / "lexicon" / "occupations_da_extra.csv"
REGULATED = DATA / "regulated_professions_dk.csv"

SECTORS = {"care", "cleaning", "warehouse", "transport", "retail", "hospitality", "agriculture", "construction"}
MIN_ROWS_PER_SECTOR = 30

SKILL_PREFIX = "http://data.europa.eu/esco/skill/"
OCCUPATION_PREFIX = "http://data.europa.eu/esco/occupation/"
NURSE_GENERAL_CARE = OCCUPATION_PREFIX + "8d3e8aaa-791b-4c75-a465-f3f827028f50"
HOME_CARE_AIDE = OCCUPATION_PREFIX + "1391bdf9-bd61-4fb5-91ca-c29036ab2b60"  # social- og sundhedshjælper
FORKLIFT_OPERATOR = OCCUPATION_PREFIX + "eeac6251-1974-42f5-91ed-513c6c883755"
OPERATE_FORKLIFT = SKILL_PREFIX + "28cb374e-6261-4133-8371-f9a5470145da"


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")


@cache
def _esco(name: str) -> pd.DataFrame:
    return _read(ESCO / name)


@cache
def _released(name: str) -> frozenset[str]:
    frame = _esco(name)
    return frozenset(frame.loc[frame["status"] == "released", "conceptUri"])


@cache
def _regulated_occupations() -> frozenset[str]:
    """Occupation URIs the regulated list gates, with ``isco`` rows expanded to every occupation in the group."""
    reg = _read(REGULATED)
    occ = _esco("occupations_en.csv.gz")
    direct = set(reg.loc[reg["match_kind"] == "occupation", "match_value"])
    groups = set(reg.loc[reg["match_kind"] == "isco", "match_value"])
    return frozenset(direct | set(occ.loc[occ["iscoGroup"].isin(groups), "conceptUri"]))


@pytest.fixture(scope="module")
def skills() -> pd.DataFrame:
    return _read(SKILLS_DA)


@pytest.fixture(scope="module")
def titles() -> pd.DataFrame:
    return _read(OCCUPATIONS_DA_EXTRA)


@pytest.fixture(scope="module")
def regulated() -> pd.DataFrame:
    return _read(REGULATED)


# ------------------------------------------------------------------------------------------- skills_da.csv


def test_skills_columns(skills: pd.DataFrame) -> None:
    assert list(skills.columns) == ["phrase", "skill_uri", "sector", "note"]


def test_skills_uris_exist_and_are_released(skills: pd.DataFrame) -> None:
    unknown = sorted(set(skills["skill_uri"]) - _released("skills_en.csv.gz"))
    assert not unknown, f"skill URIs not released in ESCO v1.1.1: {unknown}"


def test_skills_phrases_are_clean_lower_case(skills: pd.DataFrame) -> None:
    bad = [p for p in skills["phrase"] if not p or p != p.strip() or p != p.lower()]
    assert not bad, f"phrases must be non-empty, trimmed and lower-case: {bad}"


def test_skills_no_duplicate_pairs_and_at_most_two_uris(skills: pd.DataFrame) -> None:
    dup = skills[skills.duplicated(["phrase", "skill_uri"], keep=False)]
    assert dup.empty, f"duplicate (phrase, skill_uri): {dup[['phrase', 'skill_uri']].values.tolist()}"
    per_phrase = skills.groupby("phrase")["skill_uri"].nunique()
    assert (per_phrase <= 2).all(), f"phrases with more than 2 URIs: {per_phrase[per_phrase > 2].to_dict()}"


def test_skills_sectors(skills: pd.DataFrame) -> None:
    assert set(skills["sector"]) <= SECTORS | {"general"}
    counts = skills["sector"].value_counts()
    thin = {s: int(counts.get(s, 0)) for s in SECTORS if counts.get(s, 0) < MIN_ROWS_PER_SECTOR}
    assert not thin, f"sectors with fewer than {MIN_ROWS_PER_SECTOR} rows: {thin}"


def test_skills_sorted_by_sector_then_phrase(skills: pd.DataFrame) -> None:
    keys = list(zip(skills["sector"], skills["phrase"], strict=True))
    assert keys == sorted(keys)


def test_gaffeltruck_means_forklift(skills: pd.DataFrame) -> None:
    uris = set(skills.loc[skills["phrase"] == "gaffeltruck", "skill_uri"])
    assert OPERATE_FORKLIFT in uris
    labels = _esco("skills_en.csv.gz").set_index("conceptUri")["preferredLabel"]
    assert all("forklift" in labels[u] for u in uris)


@pytest.mark.parametrize(
    ("phrase", "sector"),
    [
        ("rengøring", "cleaning"),
        ("personlig pleje", "care"),
        ("forflytning", "care"),
        ("medicinhåndtering", "care"),
        ("kassebetjening", "retail"),
        ("vareopfyldning", "retail"),
        ("plukning", "warehouse"),
        ("varemodtagelse", "warehouse"),
        ("truckcertifikat", "warehouse"),
        ("opvask", "hospitality"),
        ("tjenerarbejde", "hospitality"),
        ("malkning", "agriculture"),
        ("traktorkørsel", "agriculture"),
        ("murerarbejde", "construction"),
        ("svejsning", "construction"),
        ("stilladsmontering", "construction"),
        ("kørekort", "transport"),
        ("dansk", "general"),
    ],
)
def test_skills_must_have_phrases(skills: pd.DataFrame, phrase: str, sector: str) -> None:
    assert sector in set(skills.loc[skills["phrase"] == phrase, "sector"])


# ------------------------------------------------------------------------------------ occupations_da_extra


def test_titles_columns(titles: pd.DataFrame) -> None:
    assert list(titles.columns) == ["title", "occupation_uri", "note"]


def test_titles_uris_exist(titles: pd.DataFrame) -> None:
    unknown = sorted(set(titles["occupation_uri"]) - set(_esco("occupations_en.csv.gz")["conceptUri"]))
    assert not unknown, f"occupation URIs not in ESCO v1.1.1: {unknown}"


def test_titles_no_duplicates_and_clean(titles: pd.DataFrame) -> None:
    assert not titles.duplicated(["title", "occupation_uri"]).any()
    assert all(t and t == t.strip() and t == t.lower() for t in titles["title"])
    assert 80 <= len(titles) <= 200


def test_truckforer_is_a_forklift_operator(titles: pd.DataFrame) -> None:
    assert FORKLIFT_OPERATOR in set(titles.loc[titles["title"] == "truckfører", "occupation_uri"])


# --------------------------------------------------------------------------------- regulated_professions_dk


def test_regulated_columns(regulated: pd.DataFrame) -> None:
    assert list(regulated.columns) == [
        "profession_da",
        "profession_en",
        "authority",
        "match_kind",
        "match_value",
        "source",
    ]


def test_regulated_rows_are_complete_and_unique(regulated: pd.DataFrame) -> None:
    for column in ("profession_da", "profession_en", "authority", "source"):
        assert (regulated[column].str.strip() != "").all(), f"empty {column}"
    assert not regulated.duplicated(["profession_da", "match_kind", "match_value"]).any()


def test_regulated_match_kind_and_values(regulated: pd.DataFrame) -> None:
    assert set(regulated["match_kind"]) <= {"occupation", "isco"}
    occupations = set(_esco("occupations_en.csv.gz")["conceptUri"])
    occ_values = set(regulated.loc[regulated["match_kind"] == "occupation", "match_value"])
    assert not occ_values - occupations, f"unknown occupation URIs: {sorted(occ_values - occupations)}"

    isco_values = regulated.loc[regulated["match_kind"] == "isco", "match_value"]
    assert isco_values.str.fullmatch(r"\d{4}").all(), f"ISCO codes must be 4 digits: {list(isco_values)}"
    codes = set(_esco("ISCOGroups_en.csv.gz")["code"])
    assert not set(isco_values) - codes, f"unknown ISCO unit groups: {sorted(set(isco_values) - codes)}"


def test_every_esco_regulated_occupation_is_decided(regulated: pd.DataFrame) -> None:
    """ESCO's own regulated occupations are listed, except architect (not a regulated profession in Denmark)."""
    occ = _esco("occupations_en.csv.gz")
    esco_regulated = occ.loc[
        (occ["regulatedProfessionNote"] != "") & ~occ["regulatedProfessionNote"].str.endswith("/unregulated"),
        ["conceptUri", "preferredLabel"],
    ]
    missing = {
        label
        for uri, label in zip(esco_regulated["conceptUri"], esco_regulated["preferredLabel"], strict=True)
        if uri not in _regulated_occupations() and label != "architect"
    }
    assert not missing, f"ESCO-regulated occupations missing from the list: {sorted(missing)}"


def test_nurse_is_regulated() -> None:
    assert NURSE_GENERAL_CARE in _regulated_occupations()


def test_social_og_sundhedshjaelper_is_not_regulated(regulated: pd.DataFrame) -> None:
    assert HOME_CARE_AIDE not in _regulated_occupations()
    assert "5321" not in set(regulated.loc[regulated["match_kind"] == "isco", "match_value"])


@pytest.mark.parametrize("profession", ["læge", "sygeplejerske", "social- og sundhedsassistent", "truckfører"])
def test_regulated_must_have_professions(regulated: pd.DataFrame, profession: str) -> None:
    assert profession in set(regulated["profession_da"])


@pytest.mark.parametrize("profession", ["pædagog", "arkitekt"])
def test_unregulated_in_denmark_are_absent(regulated: pd.DataFrame, profession: str) -> None:
    assert profession not in set(regulated["profession_da"])
