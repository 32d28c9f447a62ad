"""The loader on the real ESCO data, the on-disk cache, drop-in language files and bad input files."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from matcher.taxonomy import Normalizer, Taxonomy, load_taxonomy
from matcher.taxonomy._load import cache_folder, taxonomy_version
from tests.taxonomy.conftest import SKILLS_DA_CSV, copy_data_dir

# nurse responsible for general care; home care aide (social- og sundhedshjælper)
NURSE = "http://data.europa.eu/esco/occupation/8d3e8aaa-791b-4c75-a465-f3f827028f50"
HOME_CARE_AIDE = "http://data.europa.eu/esco/occupation/1391bdf9-bd61-4fb5-91ca-c29036ab2b60"
OPERATE_FORKLIFT = "http://data.europa.eu/esco/skill/28cb374e-6261-4133-8371-f9a5470145da"
CUSTOMER_SERVICE = "http://data.europa.eu/esco/skill/15a33d76-4640-438d-ae64-fdc0c1d3eebc"


# --------------------------------------------------------------------------------------------- real data


def test_counts_are_those_of_esco_1_1_1(taxonomy: Taxonomy) -> None:
    assert taxonomy.n_occupations == 3007
    assert taxonomy.n_skills == 13896
    assert len(taxonomy.occupation_labels) == taxonomy.n_occupations == len(taxonomy.occupation_labels_da)
    assert taxonomy.occ_essential.shape == taxonomy.occ_optional.shape == (3007, 13896)
    assert taxonomy.occ_essential.nnz > 50_000 and taxonomy.occ_optional.nnz > 50_000
    # every occupation has at least one essential skill in ESCO 1.1.1 bar a handful
    assert (np.diff(taxonomy.occ_essential.indptr) > 0).mean() > 0.95


def test_known_uris_isco_and_labels(taxonomy: Taxonomy) -> None:
    row = taxonomy.occupation_row[NURSE]
    assert taxonomy.occupation_labels[row] == "nurse responsible for general care"
    assert taxonomy.occupation_labels_da[row] == "sygeplejerske"
    assert taxonomy.occupation_isco[row] == 2221
    aide = taxonomy.occupation_row[HOME_CARE_AIDE]
    assert taxonomy.occupation_isco[aide] == 5322
    assert taxonomy.occupation_labels_da[aide] == "social- og sundhedshjælper"
    assert taxonomy.skill_labels[taxonomy.skill_row[OPERATE_FORKLIFT]] == "operate forklift"
    assert taxonomy.occupation_isco.dtype == np.int32 and (taxonomy.occupation_isco >= 100).all()
    assert sum(bool(label) for label in taxonomy.occupation_labels_da) > 2500


def test_regulated_flags(taxonomy: Taxonomy) -> None:
    assert taxonomy.occupation_regulated.dtype == bool
    assert taxonomy.occupation_regulated[taxonomy.occupation_row[NURSE]]
    assert not taxonomy.occupation_regulated[taxonomy.occupation_row[HOME_CARE_AIDE]]
    # ESCO alone marks 15; the Danish list adds more, but most occupations stay unregulated
    assert 15 <= taxonomy.occupation_regulated.sum() < taxonomy.n_occupations / 2


def test_language_skills(taxonomy: Taxonomy) -> None:
    assert 300 < taxonomy.skill_is_language.sum() < 400
    assert not taxonomy.skill_is_language[taxonomy.skill_row[OPERATE_FORKLIFT]]
    danish = [i for i, label in enumerate(taxonomy.skill_labels) if label == "Danish"]
    assert danish and taxonomy.skill_is_language[danish[0]]


def test_skill_related_is_symmetric_bounded_and_modest(taxonomy: Taxonomy) -> None:
    related = taxonomy.skill_related
    assert isinstance(related, sp.csr_matrix) and related.dtype == np.float32
    assert related.shape == (taxonomy.n_skills, taxonomy.n_skills)
    assert 100_000 < related.nnz < 3_000_000
    assert related.diagonal().max() == 0
    assert related.data.min() > 0 and related.data.max() <= 1
    assert abs(related - related.T).max() == 0
    assert int(taxonomy.extras["skill_related_nnz"]) == related.nnz


def test_label_tables(taxonomy: Taxonomy) -> None:
    for table, n in (
        (taxonomy.occupation_label_table, taxonomy.n_occupations),
        (taxonomy.skill_label_table, taxonomy.n_skills),
    ):
        assert len(table.text) == len(table.concept) == len(table.lang) == len(table.kind)
        assert table.concept.min() >= 0 and table.concept.max() < n
        assert set(table.kind) <= {"preferred", "alt", "hidden", "lexicon"}
    occ = taxonomy.occupation_label_table
    assert {"en", "da"} <= set(occ.lang)
    assert "lexicon" in taxonomy.skill_label_table.kind  # the curated Danish skill phrases
    preferred_en = sum(1 for k, lang in zip(occ.kind, occ.lang, strict=True) if k == "preferred" and lang == "en")
    assert preferred_en == taxonomy.n_occupations


# --------------------------------------------------------------------------------------------- cache


@pytest.fixture(scope="module")
def tmp_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = copy_data_dir(tmp_path_factory.mktemp("data"))
    (data / "esco" / "skills_da.csv").write_text(SKILLS_DA_CSV, encoding="utf-8")
    return data


@pytest.fixture(scope="module")
def built(tmp_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Taxonomy, Path]:
    cache = tmp_path_factory.mktemp("cache")
    return load_taxonomy(tmp_data, cache), cache


def _assert_same(a: Taxonomy, b: Taxonomy) -> None:
    assert a.version == b.version
    for name in (
        "occupation_uris",
        "occupation_labels",
        "occupation_labels_da",
        "skill_uris",
        "skill_labels",
        "extras",
    ):
        assert getattr(a, name) == getattr(b, name), name
    for name in ("occupation_isco", "occupation_regulated", "skill_is_language"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and np.array_equal(x, y), name
    for name in ("occ_essential", "occ_optional", "skill_related"):
        x, y = getattr(a, name), getattr(b, name)
        assert isinstance(y, sp.csr_matrix) and x.shape == y.shape and (x != y).nnz == 0, name
    for name in ("occupation_label_table", "skill_label_table"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.text == y.text and x.lang == y.lang and x.kind == y.kind and np.array_equal(x.concept, y.concept)


def test_cache_round_trip(built: tuple[Taxonomy, Path], tmp_data: Path) -> None:
    first, cache = built
    folder = cache_folder(cache, first.version)
    assert folder.is_dir() and (folder / "strings.json").is_file()
    assert not list(folder.glob("*.pkl"))
    again = load_taxonomy(tmp_data, cache)
    _assert_same(first, again)
    assert [p.name for p in cache.iterdir() if not p.name.startswith(".")] == [folder.name]  # no temp leftovers


def test_changed_input_rebuilds(built: tuple[Taxonomy, Path], tmp_data: Path, tmp_path: Path) -> None:
    first, cache = built
    data = copy_data_dir(tmp_path / "data")
    (data / "esco" / "skills_da.csv").write_text(SKILLS_DA_CSV, encoding="utf-8")
    assert taxonomy_version(data) == first.version  # same contents, same key
    with (data / "lexicon" / "skills_da.csv").open("a", encoding="utf-8") as fh:
        fh.write(f"gaffeltruckkørsel på lager,{OPERATE_FORKLIFT},warehouse,test row\n")
    changed = load_taxonomy(data, cache)
    assert changed.version != first.version
    assert cache_folder(cache, changed.version).is_dir()
    assert "gaffeltruckkørsel på lager" in changed.skill_label_table.text
    assert "gaffeltruckkørsel på lager" not in first.skill_label_table.text


def test_drop_in_language_file(built: tuple[Taxonomy, Path]) -> None:
    taxonomy, _ = built
    table = taxonomy.skill_label_table
    rows = {
        (t, k)
        for t, c, lang, k in zip(table.text, table.concept.tolist(), table.lang, table.kind, strict=True)
        if lang == "da" and c == taxonomy.skill_row[OPERATE_FORKLIFT]
    }
    assert ("betjene gaffeltruck", "preferred") in rows
    assert ("køre gaffeltruck", "alt") in rows and ("betjening af gaffeltruck", "alt") in rows
    assert "ukendt færdighed" not in table.text  # a URI the English taxonomy lacks is skipped


def test_non_utf8_file_names_the_file(tmp_path: Path) -> None:
    data = copy_data_dir(tmp_path / "data")
    (data / "esco" / "occupations_fr.csv").write_bytes(
        "conceptUri,preferredLabel\nhttp://x,infirmi\xe8re\n".encode("latin-1")
    )
    with pytest.raises(ValueError, match=r"occupations_fr\.csv: not UTF-8"):
        load_taxonomy(data, tmp_path / "cache")


def test_gzipped_non_utf8_names_the_file(tmp_path: Path) -> None:
    data = copy_data_dir(tmp_path / "data")
    with gzip.open(data / "esco" / "skills_de.csv.gz", "wb") as fh:
        fh.write("conceptUri,preferredLabel\nhttp://x,F\xfchrerschein\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"skills_de\.csv\.gz: not UTF-8"):
        load_taxonomy(data, tmp_path / "cache")


def test_missing_lexicon_fails_clearly(tmp_path: Path) -> None:
    data = copy_data_dir(tmp_path / "data")
    (data / "lexicon" / "skills_da.csv").unlink()
    with pytest.raises(FileNotFoundError, match=r"lexicon/skills_da\.csv: required taxonomy input is missing"):
        load_taxonomy(data, tmp_path / "cache")


def test_missing_column_fails_clearly(tmp_path: Path) -> None:
    data = copy_data_dir(tmp_path / "data")
    (data / "lexicon" / "occupations_da_extra.csv").write_text("titel,uri\nx,y\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"occupations_da_extra\.csv: missing column\(s\) title, occupation_uri"):
        load_taxonomy(data, tmp_path / "cache")


@pytest.mark.slow
def test_drop_in_language_labels_are_searchable(built: tuple[Taxonomy, Path]) -> None:
    taxonomy, _ = built
    normalizer = Normalizer(taxonomy)  # fits its own index on the taxonomy with the dropped-in file
    best = normalizer.normalize_skill("betjene gaffeltruck")[0]
    assert best.uri == OPERATE_FORKLIFT and best.score == 1.0
    assert best.label == "betjene gaffeltruck"  # the official Danish preferred label, not the English one
    assert normalizer.normalize_skill("gaffeltruck", lang="da")[0].label == "betjene gaffeltruck"
    assert normalizer.normalize_skill("gaffeltruck", lang="en")[0].label == "operate forklift"
    spans = normalizer.extract_skills("Du skal kunne udføre rengøringsopgaver.", lang="da")
    assert [s.label for s in spans] == ["udføre rengøringsopgaver"]
