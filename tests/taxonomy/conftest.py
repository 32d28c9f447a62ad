"""Fixtures for the taxonomy tests.

Real-data tests share the process-wide taxonomy and normaliser (:func:`get_taxonomy`, :func:`get_normalizer`),
whose cache lives in the settings' cache folder, so the one-off build (≈ 10 s) is shared by every test worker and
every later run. Loader tests that need to change inputs work on a temporary data folder whose files are
symlinks to the real ones, with a temporary cache.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from matcher.config import get_settings
from matcher.taxonomy import LabelTable, Normalizer, get_normalizer
from matcher.taxonomy._index import LabelIndex

# A 5-row official-format ESCO skills file in Danish (columns as in the ESCO CSV download; multi-valued cells
# newline-separated), as a municipality would drop it into data/esco/. Its last row names a URI ESCO lacks.
SKILLS_DA_CSV = (Path(__file__).parent / "fixtures" / "skills_da.csv").read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def normalizer() -> Normalizer:
    return get_normalizer()


def copy_data_dir(target: Path) -> Path:
    """A data folder of symlinks to the real inputs; the lexicon files are real copies so tests may edit them."""
    source = get_settings().data_dir
    (target / "esco").mkdir(parents=True)
    for path in (source / "esco").iterdir():
        (target / "esco" / path.name).symlink_to(path.resolve())
    for name in ("esco_da", "postcodes"):
        (target / name).symlink_to((source / name).resolve())
    (target / "lexicon").mkdir()
    for path in (source / "lexicon").glob("*.csv"):
        shutil.copy(path, target / "lexicon" / path.name)
    for name in ("regulated_professions_dk.csv", "regulated_neighbours_dk.csv"):
        shutil.copy(source / name, target / name)
    return target


@pytest.fixture(scope="session")
def tiny_index() -> LabelIndex:
    """Four Danish labels of three concepts, two of them spellings of one another."""
    table = LabelTable(
        text=["Lager medarbejder", "lagermedarbejder", "sygeplejerske", "kok"],
        concept=np.array([0, 0, 1, 2], np.int32),
        lang=["da"] * 4,
        kind=["preferred", "alt", "preferred", "preferred"],
    )
    return LabelIndex.build(table)
