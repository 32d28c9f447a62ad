"""A toy ESCO (six occupations, eight skills, Danish and English labels) for the API tests: the real Normalizer
and the real MatchEngine run on it, so the tests exercise the real code paths in well under a second."""

from __future__ import annotations

import datetime as dt

import numpy as np
import scipy.sparse as sp

from matcher.taxonomy import LabelTable, Taxonomy

TODAY = dt.date(2026, 11, 23)
OCC = "http://data.europa.eu/esco/occupation/"
SK = "http://data.europa.eu/esco/skill/"

# key, ISCO, regulated, English label, Danish labels
OCCUPATIONS = [
    ("nurse", 2221, True, "nurse", ["sygeplejerske"]),
    ("care-helper", 5322, False, "home care helper", ["social- og sundhedshjælper", "hjemmehjælper"]),
    ("cleaner", 9112, False, "cleaner", ["rengøringsassistent"]),
    ("driver", 8332, False, "lorry driver", ["lastbilchauffør", "chauffør"]),
    ("warehouse", 9333, False, "warehouse worker", ["lagerarbejder", "lagermedarbejder"]),
    ("cook", 5120, False, "cook", ["kok"]),
]
SKILLS = [
    ("care", "provide care", ["omsorg"]),
    ("hygiene", "ensure hygiene", ["hygiejne"]),
    ("cleaning", "clean surfaces", ["rengøring"]),
    ("driving", "drive lorries", ["lastbilkørsel"]),
    ("lifting", "lift heavy weights", ["tunge løft"]),
    ("forklift", "operate forklift", ["truckkørsel", "gaffeltruck"]),
    ("cooking", "prepare meals", ["madlavning"]),
    ("danish", "Danish", ["dansk"]),
]
ESSENTIAL = {
    "nurse": ["care", "hygiene"],
    "care-helper": ["care", "hygiene"],
    "cleaner": ["cleaning", "hygiene"],
    "driver": ["driving"],
    "warehouse": ["lifting", "forklift"],
    "cook": ["cooking", "hygiene"],
}


def occupation_uri(key: str) -> str:
    return OCC + key


def skill_uri(key: str) -> str:
    return SK + key


def _table(rows: list[tuple[str, str, list[str]]]) -> LabelTable:
    text: list[str] = []
    concept: list[int] = []
    lang: list[str] = []
    kind: list[str] = []
    for i, (_key, en, da) in enumerate(rows):
        text.append(en)
        concept.append(i)
        lang.append("en")
        kind.append("preferred")
        for j, label in enumerate(da):
            text.append(label)
            concept.append(i)
            lang.append("da")
            kind.append("preferred" if j == 0 else "alt")
    return LabelTable(text=text, concept=np.array(concept, np.int32), lang=lang, kind=kind)


def make_taxonomy() -> Taxonomy:
    o_row = {o[0]: i for i, o in enumerate(OCCUPATIONS)}
    s_row = {s[0]: i for i, s in enumerate(SKILLS)}
    ess = np.zeros((len(OCCUPATIONS), len(SKILLS)), np.float32)
    for occ, keys in ESSENTIAL.items():
        ess[o_row[occ], [s_row[k] for k in keys]] = 1
    rel = np.zeros((len(SKILLS), len(SKILLS)), np.float32)
    rel[s_row["care"], s_row["hygiene"]] = rel[s_row["hygiene"], s_row["care"]] = 0.5
    return Taxonomy(
        occupation_uris=[OCC + o[0] for o in OCCUPATIONS],
        occupation_labels=[o[3] for o in OCCUPATIONS],
        occupation_labels_da=[o[4][0] for o in OCCUPATIONS],
        occupation_isco=np.array([o[1] for o in OCCUPATIONS], np.int32),
        occupation_regulated=np.array([o[2] for o in OCCUPATIONS], bool),
        skill_uris=[SK + s[0] for s in SKILLS],
        skill_labels=[s[1] for s in SKILLS],
        skill_is_language=np.array([s[0] == "danish" for s in SKILLS], bool),
        occ_essential=sp.csr_matrix(ess),
        occ_optional=sp.csr_matrix(np.zeros_like(ess)),
        skill_related=sp.csr_matrix(rel),
        occupation_label_table=_table([(o[0], o[3], o[4]) for o in OCCUPATIONS]),
        skill_label_table=_table(list(SKILLS)),
        version="api-toy-1",
    )
