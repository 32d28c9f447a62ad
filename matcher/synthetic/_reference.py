"""The reference data the generator samples from: ``data/synthetic/*.csv`` plus the ESCO files it points into.

Everything is turned into numpy arrays once (and cached per data folder) so that the sampling in
:mod:`matcher.synthetic._generate` is vectorised: an occupation's skills are a CSR-style slice
(``ess_ptr``/``ess_idx``), names are lists indexed by integer draws, and so on. The files are checked here —
an occupation URI that is not in ESCO, or an ISCO code that disagrees with ESCO, is an error naming the file and
the row — because a silently wrong sector table would make every demo and benchmark quietly unrealistic.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from matcher.domain import CEFR, TargetGroup

logger = logging.getLogger(__name__)

LEXICON_FILE = Path("lexicon") / "skills_da.csv"
"""Curated Danish skill phrases (phrase, skill_uri, sector, note), relative to the data folder."""


@dataclass(frozen=True, eq=False)
class Lexicon:
    """Danish skill phrases; ``skill[i]`` is the ESCO skill row of ``phrases[i]`` (-1 when not in ESCO)."""

    phrases: list[str]
    skill: np.ndarray  # int64


@dataclass(frozen=True, eq=False)
class Reference:
    """The sampling tables. Array attributes are aligned with the list next to them; see the CSV headers in
    ``data/synthetic/README.md`` for what each column means."""

    # sectors (sector_profiles.csv), in file order
    sectors: list[str]
    sector_label_da: list[str]
    sector_vacancy_share: np.ndarray
    sector_citizen_share: np.ndarray
    sector_employer_words: list[list[str]]
    sector_danish_cefr: list[CEFR]
    sector_danish_hard_share: np.ndarray
    sector_part_time_share: np.ndarray
    sector_weekend_share: np.ndarray
    # sector occupations (sectors.csv), one row each
    occ_sector: np.ndarray  # int64 index into ``sectors``
    occ_isco: np.ndarray
    occ_esco: np.ndarray  # int64 row into ``esco_uris``
    occ_weight: np.ndarray
    occ_title_da: list[str]
    occ_licence: list[str]  # '' for none
    occ_min_eqf: np.ndarray  # 0 for none
    # ESCO occupations and their skills
    esco_uris: list[str]
    skill_uris: list[str]
    ess_ptr: np.ndarray
    ess_idx: np.ndarray
    opt_ptr: np.ndarray
    opt_idx: np.ndarray
    outside: np.ndarray  # ESCO occupation rows outside the sectors, with enough essential skills to sample
    # benefit groups
    target_groups: list[TargetGroup]
    target_group_share: np.ndarray
    # qualifications
    fq_title: list[str]
    fq_field: list[str]
    fq_eqf: np.ndarray
    fq_esco: np.ndarray  # -1 for none
    fq_weight: np.ndarray
    dq_sector: np.ndarray  # -1 for qualifications of any sector ('*')
    dq_title: list[str]
    dq_field: list[str]
    dq_eqf: np.ndarray
    dq_esco: np.ndarray
    dq_weight: np.ndarray
    # origin countries and names
    countries: list[str]
    country_name_group: list[str]
    country_language: list[str]
    country_refugee_weight: np.ndarray
    country_migrant_weight: np.ndarray
    names: dict[tuple[str, str], list[str]]  # (name_group, 'female'|'male'|'last') → names
    # regions
    regions: pd.DataFrame
    data_dir: Path


def _read(folder: Path, name: str) -> pd.DataFrame:
    path = folder / name
    if not path.exists():
        raise FileNotFoundError(f"{path}: synthetic-data table missing (see data/synthetic/README.md)")
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _shares(frame: pd.DataFrame, column: str, source: str) -> np.ndarray:
    values = frame[column].astype(float).to_numpy()
    if (values < 0).any() or values.sum() <= 0:
        raise ValueError(f"{source}: column '{column}' must be non-negative with a positive sum")
    return values / values.sum()


def _esco_rows(uris: pd.Series, row: dict[str, int], source: str) -> np.ndarray:
    out = np.full(len(uris), -1, dtype=np.int64)
    for i, uri in enumerate(uris):
        if uri == "":
            continue
        if uri not in row:
            raise ValueError(f"{source} row {i + 2}: occupation_uri {uri} is not an ESCO occupation")
        out[i] = row[uri]
    return out


def _csr(owner: np.ndarray, item: np.ndarray, n_owners: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(owner, kind="stable")
    ptr = np.zeros(n_owners + 1, dtype=np.int64)
    np.cumsum(np.bincount(owner, minlength=n_owners), out=ptr[1:])
    return ptr, item[order].astype(np.int64)


def _danish_titles(data_dir: Path, uris: list[str]) -> dict[str, str]:
    """Danish preferred labels (ESCO v1.0.8 via data/esco_da); missing ones fall back to English later."""
    path = data_dir / "esco_da" / "esco_labels_da.tsv.gz"
    if not path.exists():
        logger.warning("%s missing: vacancy titles will be English ESCO labels", path)
        return {}
    labels = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    wanted = labels[(labels["labelRank"] == "0") & labels["conceptUri"].isin(set(uris))]
    return dict(zip(wanted["conceptUri"], wanted["label"], strict=True))


@lru_cache(maxsize=4)
def load_reference(data_dir: Path) -> Reference:
    """Read and check ``data_dir/synthetic`` and the ESCO files it refers to. Cached per folder."""
    folder = data_dir / "synthetic"
    esco = data_dir / "esco"
    occupations = pd.read_csv(esco / "occupations_en.csv.gz", dtype=str, keep_default_na=False)
    relations = pd.read_csv(esco / "occupationSkillRelations.csv.gz", dtype=str, keep_default_na=False)
    esco_uris = occupations["conceptUri"].tolist()
    esco_row = {uri: i for i, uri in enumerate(esco_uris)}
    esco_isco = occupations["iscoGroup"].tolist()
    english = occupations["preferredLabel"].str.strip().tolist()

    skill_codes, skill_uris = pd.factorize(relations["skillUri"], sort=True)
    rel_occ = relations["occupationUri"].map(esco_row)
    known = rel_occ.notna().to_numpy()
    rel_occ_rows = rel_occ[known].astype(np.int64).to_numpy()
    skill_codes = skill_codes[known].astype(np.int64)
    essential = (relations["relationType"] == "essential").to_numpy()[known]
    ess_ptr, ess_idx = _csr(rel_occ_rows[essential], skill_codes[essential], len(esco_uris))
    opt_ptr, opt_idx = _csr(rel_occ_rows[~essential], skill_codes[~essential], len(esco_uris))

    profiles = _read(folder, "sector_profiles.csv")
    sectors = profiles["sector"].tolist()
    sector_row = {s: i for i, s in enumerate(sectors)}

    sec = _read(folder, "sectors.csv")
    unknown = sorted(set(sec["sector"]) - set(sectors))
    if unknown:
        raise ValueError(f"sectors.csv: sectors {unknown} have no row in sector_profiles.csv")
    missing = [s for s in sectors if s not in set(sec["sector"])]
    if missing:
        raise ValueError(f"sectors.csv: sectors {missing} have no occupation")
    occ_esco = _esco_rows(sec["occupation_uri"], esco_row, "sectors.csv")
    for i, (row, isco) in enumerate(zip(occ_esco, sec["isco"], strict=True)):
        if row < 0:
            raise ValueError(f"sectors.csv row {i + 2}: occupation_uri is empty")
        if esco_isco[row] != isco:
            raise ValueError(
                f"sectors.csv row {i + 2}: isco {isco} disagrees with ESCO's iscoGroup {esco_isco[row]} "
                f"for {esco_uris[row]}"
            )
    da = _danish_titles(data_dir, sec["occupation_uri"].tolist())
    override = sec["title_da"] if "title_da" in sec.columns else pd.Series([""] * len(sec))
    occ_title_da = [
        own or da.get(uri) or english[row]
        for own, uri, row in zip(override, sec["occupation_uri"], occ_esco, strict=True)
    ]

    n_ess = np.diff(ess_ptr)
    in_sectors = np.zeros(len(esco_uris), dtype=bool)
    in_sectors[occ_esco] = True
    outside = np.flatnonzero(~in_sectors & (n_ess >= 5))

    groups = _read(folder, "target_groups.csv")
    fq = _read(folder, "foreign_qualifications.csv")
    dq = _read(folder, "danish_qualifications.csv")
    bad = sorted(set(dq["sector"]) - set(sectors) - {"*"})
    if bad:
        raise ValueError(f"danish_qualifications.csv: unknown sectors {bad}")
    countries = _read(folder, "countries.csv")
    names = _read(folder, "names.csv")
    name_lists: dict[tuple[str, str], list[str]] = {}
    for (group, kind), part in names.groupby(["name_group", "kind"], sort=True):
        name_lists[(str(group), str(kind))] = part["name"].tolist()
    for group in {*countries["name_group"], "danish"}:
        for kind in ("female", "male", "last"):
            if not name_lists.get((group, kind)):
                raise ValueError(f"names.csv: no '{kind}' names for name_group '{group}'")

    return Reference(
        sectors=sectors,
        sector_label_da=profiles["label_da"].tolist(),
        sector_vacancy_share=_shares(profiles, "vacancy_share", "sector_profiles.csv"),
        sector_citizen_share=_shares(profiles, "citizen_share", "sector_profiles.csv"),
        sector_employer_words=[w.split("|") for w in profiles["employer_words"]],
        sector_danish_cefr=[CEFR(c) for c in profiles["danish_cefr"]],
        sector_danish_hard_share=profiles["danish_hard_share"].astype(float).to_numpy(),
        sector_part_time_share=profiles["part_time_share"].astype(float).to_numpy(),
        sector_weekend_share=profiles["weekend_share"].astype(float).to_numpy(),
        occ_sector=sec["sector"].map(sector_row).astype(np.int64).to_numpy(),
        occ_isco=sec["isco"].astype(np.int64).to_numpy(),
        occ_esco=occ_esco,
        occ_weight=sec["weight"].astype(float).to_numpy(),
        occ_title_da=occ_title_da,
        occ_licence=sec["licence"].tolist(),
        occ_min_eqf=pd.to_numeric(sec["min_eqf"].replace("", "0")).astype(np.int64).to_numpy(),
        esco_uris=esco_uris,
        skill_uris=[str(u) for u in skill_uris],
        ess_ptr=ess_ptr,
        ess_idx=ess_idx,
        opt_ptr=opt_ptr,
        opt_idx=opt_idx,
        outside=outside,
        target_groups=[TargetGroup(g) for g in groups["target_group"]],
        target_group_share=_shares(groups, "share", "target_groups.csv"),
        fq_title=fq["title"].tolist(),
        fq_field=fq["field"].tolist(),
        fq_eqf=fq["eqf_level"].astype(np.int64).to_numpy(),
        fq_esco=_esco_rows(fq["occupation_uri"], esco_row, "foreign_qualifications.csv"),
        fq_weight=_shares(fq, "weight", "foreign_qualifications.csv"),
        dq_sector=dq["sector"].map(lambda s: sector_row.get(s, -1)).astype(np.int64).to_numpy(),
        dq_title=dq["title"].tolist(),
        dq_field=dq["field"].tolist(),
        dq_eqf=dq["eqf_level"].astype(np.int64).to_numpy(),
        dq_esco=_esco_rows(dq["occupation_uri"], esco_row, "danish_qualifications.csv"),
        dq_weight=dq["weight"].astype(float).to_numpy(),
        countries=countries["country"].tolist(),
        country_name_group=countries["name_group"].tolist(),
        country_language=countries["language"].tolist(),
        country_refugee_weight=_shares(countries, "refugee_weight", "countries.csv"),
        country_migrant_weight=_shares(countries, "migrant_weight", "countries.csv"),
        names=name_lists,
        regions=_read(folder, "regions.csv"),
        data_dir=data_dir,
    )


@lru_cache(maxsize=4)
def load_lexicon(data_dir: Path, skill_uris: tuple[str, ...]) -> Lexicon:
    """The curated Danish skill phrases. Missing file → a clear error: the caller asked for free-text labels."""
    path = data_dir / LEXICON_FILE
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing: it is needed for labels_share > 0 (Danish free-text skills); "
            "use labels_share=0 until the lexicon is in place"
        )
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, comment="#")
    for column in ("phrase", "skill_uri"):
        if column not in frame.columns:
            raise ValueError(f"{path}: column '{column}' missing")
    frame = frame[frame["phrase"].str.strip() != ""]
    if frame.empty:
        raise ValueError(f"{path}: no phrases")
    row = {uri: i for i, uri in enumerate(skill_uris)}
    return Lexicon(
        phrases=frame["phrase"].str.strip().tolist(),
        skill=np.array([row.get(u, -1) for u in frame["skill_uri"]], dtype=np.int64),
    )
