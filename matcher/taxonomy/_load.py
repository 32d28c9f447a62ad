"""Build the :class:`Taxonomy` from ``data/`` and cache it on disk as plain arrays + JSON.

Why a cache: parsing the ESCO CSVs (≈ 120k occupation–skill rows, ≈ 130k labels) and computing the fitted
skill-similarity neighbours take seconds; the API, the CLI and every test worker need a warm start well under
1.5 s. The cache key (:attr:`Taxonomy.version`) hashes the contents of every input file, of the skill-similarity
model in use (or says that none is) and :data:`BUILD_VERSION`, so dropping in a new language file, editing the
lexicon or rebuilding the model (``matcher models build``) rebuilds it, and a code change that alters the build
bumps the constant.

Why no pickle: the cache must be safe to read (a shared folder is not a code-execution channel) and readable from
other tools, so it is ``.npz`` (``allow_pickle=False``) + JSON.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp

from matcher.config import get_settings
from matcher.taxonomy._model import LabelTable, Taxonomy, max_per_key

if TYPE_CHECKING:
    from matcher.taxonomy._similarity import SkillSimilarity

log = logging.getLogger(__name__)

BUILD_VERSION = "taxonomy-3"
"""Bump when the build below changes what ends up in the cache."""

# skill_related weights (see docs/taxonomy.md). A skill ESCO lists as essential for another is nearly the same
# competence; an optional one, or a parent/child in the skill pillar, is a good partial substitute; siblings under
# the same most-specific broader concept share a field but not the task, so they get a weak link.
RELATED_ESSENTIAL = 0.8
RELATED_OPTIONAL = 0.5
RELATED_PARENT_CHILD = 0.6
RELATED_SIBLING = 0.3
SIBLING_GROUP_CAP = 100
"""Sibling groups larger than this get no sibling links: a group of 271 skills would add 73k weak pairs that say
little more than "same broad field"."""

ESCO_DIR = "esco"
LEXICON_SKILLS = Path("lexicon") / "skills_da.csv"
LEXICON_OCCUPATIONS = Path("lexicon") / "occupations_da_extra.csv"
REGULATED = Path("regulated_professions_dk.csv")
NEIGHBOURS = Path("regulated_neighbours_dk.csv")
DANISH_LABELS = Path("esco_da") / "esco_labels_da.tsv.gz"
_LANG_FILE = re.compile(r"^(occupations|skills)_([a-z]{2,3})\.csv(\.gz)?$")

_CORE_FILES = (
    "occupations_en.csv.gz",
    "skills_en.csv.gz",
    "occupationSkillRelations.csv.gz",
    "skillSkillRelations.csv.gz",
    "broaderRelationsSkillPillar.csv.gz",
    "skillsHierarchy_en.csv.gz",
    "languageSkillsCollection_en.csv.gz",
)


# --------------------------------------------------------------------------------------------- reading


def _read_csv(path: Path, required: Iterable[str], sep: str = ",") -> pd.DataFrame:
    """Read a CSV as strings; a missing file, non-UTF-8 bytes or a missing column is an error naming the file."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: file is missing")
    try:
        frame = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ValueError(f"{path}: cannot parse as CSV ({exc})") from None
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)}")
    return frame


def _split_multi(cell: str) -> list[str]:
    """ESCO multi-valued cells are newline-separated."""
    return [part.strip() for part in cell.split("\n") if part.strip()]


def _lang_files(esco_dir: Path) -> list[tuple[str, str, Path]]:
    """(kind, lang, path) for every ``occupations_XX.csv[.gz]`` / ``skills_XX.csv[.gz]`` except English."""
    out = []
    for path in sorted(esco_dir.iterdir()):
        m = _LANG_FILE.match(path.name)
        if m and m.group(2) != "en":
            out.append((m.group(1), m.group(2), path))
    return out


def input_files(data_dir: Path) -> list[Path]:
    """Every file the build reads, in a fixed order; a missing required one raises naming it."""
    esco = data_dir / ESCO_DIR
    files = [esco / name for name in _CORE_FILES]
    files += [data_dir / DANISH_LABELS, data_dir / LEXICON_SKILLS, data_dir / LEXICON_OCCUPATIONS, data_dir / REGULATED,
              data_dir / NEIGHBOURS]
    for path in files:
        if not path.is_file():
            hint = (
                " (the curated Danish lexicon / regulated-professions list; see data/README.md)"
                if "lexicon" in path.parts or path.name in (REGULATED.name, NEIGHBOURS.name)
                else ""
            )
            raise FileNotFoundError(f"{path}: required taxonomy input is missing{hint}")
    files += [p for _, _, p in _lang_files(esco)]
    return files


def taxonomy_version(data_dir: Path, skill_similarity: str | None = None) -> str:
    """The cache key :func:`load_taxonomy` uses for ``data_dir`` and the ``skill_similarity`` setting (default:
    the settings'): a hash of the input files' names and contents, of the model's files (or of its absence) and
    :data:`BUILD_VERSION` (≈ 25 ms for the shipped data and model)."""
    return _version(data_dir, _similarity_dir(skill_similarity))


def _similarity_dir(skill_similarity: str | None) -> Path | None:
    settings = get_settings()
    choice = skill_similarity if skill_similarity is not None else settings.skill_similarity
    return similarity_model_dir(choice, settings.models_dir)


def _version(data_dir: Path, similarity_dir: Path | None) -> str:
    h = hashlib.blake2b(BUILD_VERSION.encode(), digest_size=12)
    for path in input_files(data_dir):
        h.update(path.name.encode() + b"\0")
        h.update(path.read_bytes())
    if similarity_dir is None:
        h.update(b"skill_similarity:none\0")
    else:
        # Every file of the model folder, not a fixed list: importing the model code (scikit-learn) for its file
        # names would cost a warm start about a second.
        for path in sorted(p for p in similarity_dir.iterdir() if p.is_file() and not p.name.startswith(".")):
            h.update(b"skill_similarity/" + path.name.encode() + b"\0")
            h.update(path.read_bytes())
    return h.hexdigest()


def similarity_model_dir(choice: str, models_dir: Path) -> Path | None:
    """The skill-similarity model folder the taxonomy folds into ``skill_related``, or None for ESCO's only.

    ``choice`` is the ``skill_similarity`` setting: ``off``; ``auto`` (the model in ``<models_dir>/skill_similarity``
    when that folder exists, else none, logged); or a folder, as a path (containing ``/``) or a name under
    ``models_dir``. An explicitly named folder that does not exist is a ValueError. A folder that exists is used,
    in ``auto`` too: a broken model is then an error naming it rather than a silent change of scores.
    """
    choice = choice.strip()
    root = Path(models_dir)
    if choice == "off":
        return None
    if choice == "auto":
        folder = root / "skill_similarity"
        if not folder.is_dir():
            log.info("skill similarity: no model in %s; skill_related holds ESCO's relations only", folder)
            return None
        return folder
    folder = Path(choice) if ("/" in choice or os.sep in choice) else root / choice
    if not folder.is_dir():
        raise ValueError(
            f"skill_similarity (MATCHER_SKILL_SIMILARITY) = {choice!r}: no such model folder ({folder}); "
            "build one with `matcher models build --out FOLDER`, or use 'auto' / 'off'"
        )
    return folder


# --------------------------------------------------------------------------------------------- building


class _Labels:
    """Accumulates a :class:`LabelTable`, dropping exact duplicates of (text, concept, lang)."""

    def __init__(self) -> None:
        self.text: list[str] = []
        self.concept: list[int] = []
        self.lang: list[str] = []
        self.kind: list[str] = []
        self._seen: set[tuple[str, int, str]] = set()

    def add(self, text: str, concept: int, lang: str, kind: str) -> None:
        text = " ".join(text.split())
        key = (text.lower(), concept, lang)
        if not text or key in self._seen:
            return
        self._seen.add(key)
        self.text.append(text)
        self.concept.append(concept)
        self.lang.append(lang)
        self.kind.append(kind)

    def add_esco_row(self, concept: int, lang: str, preferred: str, alt: str, hidden: str) -> None:
        self.add(preferred, concept, lang, "preferred")
        for label in _split_multi(alt):
            self.add(label, concept, lang, "alt")
        for label in _split_multi(hidden):
            self.add(label, concept, lang, "hidden")

    def table(self) -> LabelTable:
        return LabelTable(
            text=self.text, concept=np.asarray(self.concept, dtype=np.int32), lang=self.lang, kind=self.kind
        )


def _occ_skill_matrices(
    esco: Path, occ_row: dict[str, int], skill_row: dict[str, int]
) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    rel = _read_csv(esco / "occupationSkillRelations.csv.gz", ["occupationUri", "relationType", "skillUri"])
    o = rel["occupationUri"].map(occ_row)
    s = rel["skillUri"].map(skill_row)
    keep = o.notna() & s.notna()
    shape = (len(occ_row), len(skill_row))
    out = []
    for kind in ("essential", "optional"):
        sel = keep & (rel["relationType"] == kind)
        mat = sp.csr_matrix(
            (np.ones(int(sel.sum()), np.float32), (o[sel].astype(np.int64), s[sel].astype(np.int64))), shape=shape
        )
        mat.sum_duplicates()
        mat.data[:] = 1.0
        out.append(mat)
    return out[0], out[1]


def _skill_related(esco: Path, skill_row: dict[str, int]) -> sp.csr_matrix:
    """Symmetric skill–skill similarity from ESCO relations and the skill pillar (see module constants)."""
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []

    def add(a: pd.Series, b: pd.Series, weight: float) -> None:
        ia, ib = a.map(skill_row), b.map(skill_row)
        keep = ia.notna() & ib.notna()
        rows.append(ia[keep].to_numpy(np.int64))
        cols.append(ib[keep].to_numpy(np.int64))
        vals.append(np.full(int(keep.sum()), weight, np.float32))

    ssr = _read_csv(esco / "skillSkillRelations.csv.gz", ["originalSkillUri", "relationType", "relatedSkillUri"])
    for kind, weight in (("essential", RELATED_ESSENTIAL), ("optional", RELATED_OPTIONAL)):
        sel = ssr["relationType"] == kind
        add(ssr.loc[sel, "originalSkillUri"], ssr.loc[sel, "relatedSkillUri"], weight)

    broader = _read_csv(
        esco / "broaderRelationsSkillPillar.csv.gz", ["conceptType", "conceptUri", "broaderType", "broaderUri"]
    )
    hierarchy = _read_csv(esco / "skillsHierarchy_en.csv.gz", ["Level 3 URI"])
    level3 = set(hierarchy["Level 3 URI"]) - {""}
    skills = broader[broader["conceptType"] == "KnowledgeSkillCompetence"]
    parent_is_skill = skills["broaderType"] == "KnowledgeSkillCompetence"
    add(skills.loc[parent_is_skill, "conceptUri"], skills.loc[parent_is_skill, "broaderUri"], RELATED_PARENT_CHILD)

    specific = skills[parent_is_skill | skills["broaderUri"].isin(level3)]
    members = specific["conceptUri"].map(skill_row)
    specific = specific.assign(member=members).dropna(subset=["member"])
    n_groups = n_capped = 0
    for _, group in specific.groupby("broaderUri", sort=False):
        idx = group["member"].to_numpy(np.int64)
        if len(idx) < 2:
            continue
        n_groups += 1
        if len(idx) > SIBLING_GROUP_CAP:
            n_capped += 1
            continue
        a, b = np.meshgrid(idx, idx, indexing="ij")
        off = a != b
        rows.append(a[off])
        cols.append(b[off])
        vals.append(np.full(int(off.sum()), RELATED_SIBLING, np.float32))

    n = len(skill_row)
    r = np.concatenate(rows)
    c = np.concatenate(cols)
    v = np.concatenate(vals)
    # Symmetrise and keep the strongest reason for each pair (max, not sum: two weak reasons are still weak).
    r, c, v = np.concatenate([r, c]), np.concatenate([c, r]), np.concatenate([v, v])
    off = r != c
    r, c, v = r[off], c[off], v[off]
    key = r * n + c
    key, v = max_per_key(key, v)
    mat = sp.csr_matrix((v, (key // n, key % n)), shape=(n, n), dtype=np.float32)
    log.info(
        "skill_related: nnz=%d (%d sibling groups, %d larger than %d skipped)",
        mat.nnz,
        n_groups,
        n_capped,
        SIBLING_GROUP_CAP,
    )
    return mat


def esco_skill_related(data_dir: Path, skill_uris: list[str]) -> sp.csr_matrix:
    """ESCO's weighted skill relations (:func:`_skill_related`) aligned with ``skill_uris``: for the evaluation."""
    return _skill_related(Path(data_dir) / ESCO_DIR, {u: i for i, u in enumerate(skill_uris)})


def _load_similarity(folder: Path) -> SkillSimilarity:
    from matcher.taxonomy._similarity import SkillSimilarity  # scikit-learn: imported only when building

    try:
        return SkillSimilarity.load(folder)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(
            f"skill-similarity model {folder} cannot be read ({exc}); rebuild it with `matcher models build --out "
            f"{folder}` or set MATCHER_SKILL_SIMILARITY=off"
        ) from exc


def build_taxonomy(data_dir: Path, similarity_dir: Path | None = None) -> Taxonomy:
    """Parse ``data_dir`` into a :class:`Taxonomy` (no cache involved). Takes a few seconds.

    With ``similarity_dir``, ``skill_related`` is the elementwise max of ESCO's weighted relations and the fitted
    model's :meth:`~SkillSimilarity.related_matrix` (docs/similarity.md, "In production").
    """
    started = time.perf_counter()
    version = _version(data_dir, similarity_dir)
    similarity = _load_similarity(similarity_dir) if similarity_dir is not None else None
    esco = data_dir / ESCO_DIR

    occ = _read_csv(
        esco / "occupations_en.csv.gz",
        ["conceptUri", "iscoGroup", "preferredLabel", "altLabels", "hiddenLabels", "status"],
    )
    occ = occ[occ["status"] == "released"].reset_index(drop=True)
    skills = _read_csv(
        esco / "skills_en.csv.gz", ["conceptUri", "preferredLabel", "altLabels", "hiddenLabels", "status"]
    )
    skills = skills[skills["status"] == "released"].reset_index(drop=True)
    occ_uris: list[str] = occ["conceptUri"].tolist()
    skill_uris: list[str] = skills["conceptUri"].tolist()
    occ_row = {u: i for i, u in enumerate(occ_uris)}
    skill_row = {u: i for i, u in enumerate(skill_uris)}

    isco = pd.to_numeric(occ["iscoGroup"], errors="coerce").fillna(-1).to_numpy(np.int32)
    # Denmark's list is authoritative. ESCO's regulatedProfessionNote speaks of regulation somewhere in the EU (it
    # flags architects, whom Denmark does not regulate); the curated file includes every ESCO-flagged profession
    # that is regulated here, so the note is not read.
    regulated_arr = np.zeros(len(occ_uris), bool)

    reg = _read_csv(data_dir / REGULATED, ["profession_da", "match_kind", "match_value"])
    for profession, kind, value in zip(reg["profession_da"], reg["match_kind"], reg["match_value"], strict=True):
        value = value.strip()
        if kind == "occupation":
            if value in occ_row:
                regulated_arr[occ_row[value]] = True
            else:
                log.warning("%s: %r names unknown occupation %s; ignored", data_dir / REGULATED, profession, value)
        elif kind == "isco":
            hits = isco == int(value) if value.isdigit() else np.zeros(len(isco), bool)
            if not hits.any():
                log.warning("%s: %r names ISCO group %r with no occupations", data_dir / REGULATED, profession, value)
            regulated_arr |= hits
        else:
            raise ValueError(f"{data_dir / REGULATED}: match_kind must be 'occupation' or 'isco', not {kind!r}")

    neighbours = _neighbour_matrix(data_dir / NEIGHBOURS, occ_row, isco, regulated_arr)

    lang_coll = _read_csv(esco / "languageSkillsCollection_en.csv.gz", ["conceptUri"])
    is_language = np.zeros(len(skill_uris), bool)
    for uri in lang_coll["conceptUri"]:
        if uri in skill_row:
            is_language[skill_row[uri]] = True

    essential, optional = _occ_skill_matrices(esco, occ_row, skill_row)
    related = _skill_related(esco, skill_row)
    extras = {"build_version": BUILD_VERSION, "skill_related_esco_nnz": str(related.nnz)}
    if similarity is not None and similarity_dir is not None:
        fitted = similarity.related_matrix(skill_uris)
        related = sp.csr_matrix(related.maximum(fitted), dtype=np.float32)
        related.sort_indices()
        extras["skill_similarity"] = str(similarity_dir)
        extras["skill_related_fitted_nnz"] = str(fitted.nnz)
        log.info("skill_related: ESCO relations max fitted model %s (%d fitted pairs)", similarity_dir, fitted.nnz)
    extras["skill_related_nnz"] = str(related.nnz)

    occ_labels = _Labels()
    for i, (p, a, h) in enumerate(zip(occ["preferredLabel"], occ["altLabels"], occ["hiddenLabels"], strict=True)):
        occ_labels.add_esco_row(i, "en", p, a, h)
    skill_labels = _Labels()
    for i, (p, a, h) in enumerate(
        zip(skills["preferredLabel"], skills["altLabels"], skills["hiddenLabels"], strict=True)
    ):
        skill_labels.add_esco_row(i, "en", p, a, h)

    labels_da = [""] * len(occ_uris)
    da = _read_csv(data_dir / DANISH_LABELS, ["conceptUri", "conceptType", "labelRank", "label"], sep="\t")
    da = da[da["conceptType"] == "Occupation"]
    for uri, rank, label in zip(da["conceptUri"], da["labelRank"], da["label"], strict=True):
        row = occ_row.get(uri)
        if row is None:
            continue
        preferred = rank.strip() == "0"
        occ_labels.add(label, row, "da", "preferred" if preferred else "alt")
        if preferred:
            labels_da[row] = label.strip()

    # Official ESCO files in other languages dropped into data/esco/ (e.g. skills_da.csv).
    for kind, lang, path in _lang_files(esco):
        frame = _read_csv(path, ["conceptUri", "preferredLabel"])
        rows_of, target = (occ_row, occ_labels) if kind == "occupations" else (skill_row, skill_labels)
        alt = frame["altLabels"] if "altLabels" in frame.columns else pd.Series([""] * len(frame))
        hidden = frame["hiddenLabels"] if "hiddenLabels" in frame.columns else pd.Series([""] * len(frame))
        n = 0
        for uri, p, a, h in zip(frame["conceptUri"], frame["preferredLabel"], alt, hidden, strict=True):
            row = rows_of.get(uri)
            if row is None:
                continue
            n += 1
            target.add_esco_row(row, lang, p, a, h)
            if kind == "occupations" and lang == "da" and p.strip():
                labels_da[row] = p.strip()  # the official translation wins over the older melo labels
        log.info("%s: %d %s labelled in %r", path.name, n, kind, lang)

    lex = _read_csv(data_dir / LEXICON_OCCUPATIONS, ["title", "occupation_uri"])
    _add_lexicon(occ_labels, lex["title"], lex["occupation_uri"], occ_row, data_dir / LEXICON_OCCUPATIONS)
    lex = _read_csv(data_dir / LEXICON_SKILLS, ["phrase", "skill_uri"])
    _add_lexicon(skill_labels, lex["phrase"], lex["skill_uri"], skill_row, data_dir / LEXICON_SKILLS)

    taxonomy = Taxonomy(
        occupation_uris=occ_uris,
        occupation_labels=[" ".join(s.split()) for s in occ["preferredLabel"]],
        occupation_labels_da=labels_da,
        occupation_isco=isco,
        occupation_regulated=regulated_arr,
        skill_uris=skill_uris,
        skill_labels=[" ".join(s.split()) for s in skills["preferredLabel"]],
        skill_is_language=is_language,
        occ_essential=essential,
        occ_optional=optional,
        skill_related=related,
        occupation_label_table=occ_labels.table(),
        skill_label_table=skill_labels.table(),
        version=version,
        extras=extras,
        occupation_neighbours=neighbours,
    )
    log.info(
        "built taxonomy %s: %d occupations (%d regulated), %d skills, %d occupation labels, %d skill labels, "
        "skill_related nnz=%d in %.1f s",
        version,
        taxonomy.n_occupations,
        int(regulated_arr.sum()),
        taxonomy.n_skills,
        len(occ_labels.text),
        len(skill_labels.text),
        related.nnz,
        time.perf_counter() - started,
    )
    return taxonomy


def _neighbour_matrix(
    path: Path, occ_row: dict[str, int], isco: np.ndarray, regulated: np.ndarray
) -> sp.csr_matrix:
    """Regulated occupation → unregulated neighbours. An ``isco`` row applies to every regulated occupation of
    that unit group; a neighbour that is itself regulated would defeat the point and is refused."""
    frame = _read_csv(path, ["regulated_kind", "regulated_value", "neighbour_occupation_uri"])
    src: list[int] = []
    dst: list[int] = []
    for kind, value, neighbour in zip(
        frame["regulated_kind"], frame["regulated_value"], frame["neighbour_occupation_uri"], strict=True
    ):
        value, neighbour = value.strip(), neighbour.strip()
        target = occ_row.get(neighbour)
        if target is None:
            raise ValueError(f"{path}: neighbour {neighbour} is not an ESCO occupation")
        if regulated[target]:
            raise ValueError(f"{path}: neighbour {neighbour} is itself a regulated profession")
        if kind == "occupation":
            if value not in occ_row:
                raise ValueError(f"{path}: regulated_value {value} is not an ESCO occupation")
            sources = [occ_row[value]]
        elif kind == "isco" and value.isdigit():
            sources = np.flatnonzero((isco == int(value)) & regulated).tolist()
        else:
            raise ValueError(f"{path}: regulated_kind must be 'occupation' or 'isco' (4 digits), not {kind!r}")
        src += sources
        dst += [target] * len(sources)
    n = len(occ_row)
    matrix = sp.csr_matrix((np.ones(len(src), np.float32), (src, dst)), shape=(n, n))
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix


def _add_lexicon(target: _Labels, texts: pd.Series, uris: pd.Series, rows: dict[str, int], path: Path) -> None:
    unknown = []
    for text, uri in zip(texts, uris, strict=True):
        row = rows.get(uri.strip())
        if row is None:
            unknown.append(text)
            continue
        target.add(text, row, "da", "lexicon")
    if unknown:
        log.warning("%s: %d row(s) name an unknown ESCO URI and are ignored: %s", path, len(unknown), unknown[:10])


# --------------------------------------------------------------------------------------------- cache


def _save(taxonomy: Taxonomy, folder: Path) -> None:
    np.savez(
        folder / "arrays.npz",
        occupation_isco=taxonomy.occupation_isco,
        occupation_regulated=taxonomy.occupation_regulated,
        skill_is_language=taxonomy.skill_is_language,
        occ_label_concept=taxonomy.occupation_label_table.concept,
        skill_label_concept=taxonomy.skill_label_table.concept,
    )
    sp.save_npz(folder / "occ_essential.npz", taxonomy.occ_essential, compressed=False)
    sp.save_npz(folder / "occ_optional.npz", taxonomy.occ_optional, compressed=False)
    sp.save_npz(folder / "skill_related.npz", taxonomy.skill_related, compressed=False)
    if taxonomy.occupation_neighbours is not None:
        sp.save_npz(folder / "occupation_neighbours.npz", taxonomy.occupation_neighbours, compressed=False)
    strings = {
        "version": taxonomy.version,
        "occupation_uris": taxonomy.occupation_uris,
        "occupation_labels": taxonomy.occupation_labels,
        "occupation_labels_da": taxonomy.occupation_labels_da,
        "skill_uris": taxonomy.skill_uris,
        "skill_labels": taxonomy.skill_labels,
        "extras": taxonomy.extras,
        "occ_label": _table_strings(taxonomy.occupation_label_table),
        "skill_label": _table_strings(taxonomy.skill_label_table),
    }
    (folder / "strings.json").write_text(json.dumps(strings, ensure_ascii=False), encoding="utf-8")


def _table_strings(table: LabelTable) -> dict[str, list[str]]:
    return {"text": table.text, "lang": table.lang, "kind": table.kind}


def _load(folder: Path) -> Taxonomy:
    strings = json.loads((folder / "strings.json").read_text(encoding="utf-8"))
    with np.load(folder / "arrays.npz", allow_pickle=False) as arrays:
        arr = {k: arrays[k] for k in arrays.files}

    def table(key: str, concept: np.ndarray) -> LabelTable:
        s = strings[key]
        return LabelTable(text=s["text"], concept=concept, lang=s["lang"], kind=s["kind"])

    return Taxonomy(
        occupation_uris=strings["occupation_uris"],
        occupation_labels=strings["occupation_labels"],
        occupation_labels_da=strings["occupation_labels_da"],
        occupation_isco=arr["occupation_isco"],
        occupation_regulated=arr["occupation_regulated"],
        skill_uris=strings["skill_uris"],
        skill_labels=strings["skill_labels"],
        skill_is_language=arr["skill_is_language"],
        occ_essential=sp.csr_matrix(sp.load_npz(folder / "occ_essential.npz")),
        occ_optional=sp.csr_matrix(sp.load_npz(folder / "occ_optional.npz")),
        skill_related=sp.csr_matrix(sp.load_npz(folder / "skill_related.npz")),
        occupation_label_table=table("occ_label", arr["occ_label_concept"]),
        skill_label_table=table("skill_label", arr["skill_label_concept"]),
        version=strings["version"],
        extras=strings["extras"],
        occupation_neighbours=(
            sp.csr_matrix(sp.load_npz(folder / "occupation_neighbours.npz"))
            if (folder / "occupation_neighbours.npz").is_file()
            else None
        ),
    )


def write_atomically(cache_dir: Path, name: str, writer: Callable[[Path], None]) -> Path:
    """Let ``writer(tmp_folder)`` fill a fresh temp folder, then move it to ``cache_dir/name`` in one step.

    Two processes (e.g. pytest-xdist workers) may build at once; ``os.replace`` of a folder onto an existing
    non-empty one fails, so the loser just discards its copy and both read the winner's.
    """
    cache_dir.mkdir(parents=True, exist_ok=True)
    final = cache_dir / name
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=cache_dir))
    try:
        writer(tmp)
        try:
            os.replace(tmp, final)
        except OSError:
            if not final.is_dir():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def cache_folder(cache_dir: Path, version: str) -> Path:
    return cache_dir / f"taxonomy-{version}"


def load_taxonomy(
    data_dir: Path | None = None,
    cache_dir: Path | None = None,
    *,
    rebuild: bool = False,
    skill_similarity: str | None = None,
) -> Taxonomy:
    """The taxonomy for ``data_dir``, from ``cache_dir`` when a cache for the current inputs exists.

    Defaults come from :func:`matcher.config.get_settings`; ``skill_similarity`` overrides the setting of that name
    (see :func:`similarity_model_dir`). ``rebuild=True`` ignores an existing cache.
    """
    settings = get_settings()
    data_dir = Path(data_dir or settings.data_dir)
    cache_dir = Path(cache_dir or settings.cache_dir)
    similarity_dir = _similarity_dir(skill_similarity)
    version = _version(data_dir, similarity_dir)
    folder = cache_folder(cache_dir, version)
    if folder.is_dir() and not rebuild:
        try:
            return _load(folder)
        except (OSError, ValueError, KeyError) as exc:
            log.warning("taxonomy cache %s unreadable (%s); rebuilding", folder, exc)
            shutil.rmtree(folder, ignore_errors=True)
    taxonomy = build_taxonomy(data_dir, similarity_dir)
    if rebuild and folder.is_dir():
        shutil.rmtree(folder, ignore_errors=True)
    write_atomically(cache_dir, folder.name, lambda tmp: _save(taxonomy, tmp))
    return taxonomy


@lru_cache(maxsize=1)
def get_taxonomy() -> Taxonomy:
    """The process-wide taxonomy from the settings' data and cache folders (loaded once)."""
    return load_taxonomy()
