"""The learned re-ranker: consultants' outcomes → a calibrated probability of a good outcome per pair.

How it fits (docs/reranker.md has the long version):

- **Training rows are snapshots.** When a consultant posts an outcome for a pair, the API stores what the engine
  scored for it at that moment (:func:`make_snapshot`: the components, the total, the gate names, the need kind and
  the citizen's target group; nothing else, so no protected attribute can be in it). Labels: hired and
  interviewed are positive, rejected negative; the latest label of a pair wins and its earliest snapshot is used
  (closest to when the match was acted on, before later profile edits).
- **The model** is a scikit-learn logistic regression on :data:`FEATURE_NAMES` — the seven components,
  overqualification, one-hot need kind and one-hot target group — fitted on a train split and calibrated on a
  held-out split (Platt scaling by default, isotonic on request), then measured on a third split.
- **Applying it** is additive, so a whole block is scored without an (n_pairs × n_features) matrix:
  ``logit = Σ wₖ·componentₖ (grid) + row term (target group) + column term (need kind) + b``, then the stored
  calibration map. :class:`LearnedScorer` wraps the :class:`~matcher.scoring.RuleScorer`: the same components,
  gates and explanations; only ``total`` changes.
- **Fallback**: :func:`choose_scorer` uses a model only when one exists and was trained on enough outcomes;
  otherwise the transparent rule weights rank, as before.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from matcher.config import ComponentWeights, ScoringPolicy, Settings
from matcher.features import NEED_KINDS, TARGET_GROUPS, CitizenFeatures, NeedFeatures
from matcher.scoring import COMPONENTS, RuleScorer, ScoreBlock, Scorer

if TYPE_CHECKING:
    from matcher.taxonomy import Taxonomy

log = logging.getLogger(__name__)

F32 = np.float32

FEATURE_COMPONENTS: tuple[str, ...] = (*COMPONENTS, "overqualification")
"""The per-pair inputs of the model: the components a consultant reads in every explanation."""

FEATURE_NAMES: tuple[str, ...] = (
    *FEATURE_COMPONENTS,
    *(f"need_kind={kind.value}" for kind in NEED_KINDS),
    *(f"target_group={group.value}" for group in TARGET_GROUPS),
)
"""Every input of the re-ranker, in model order. Nothing else reaches it: no identity, no free text, and no
protected attribute (gender, age, origin, religion) — those are not on the profile the engine reads at all."""

LABELS: dict[str, int] = {"hired": 1, "interviewed": 1, "rejected": 0}
"""Feedback kinds that are labels. ``contacted`` is not an outcome yet; ``pinned``/``hidden`` are overrides."""

SNAPSHOT_KINDS: tuple[str, ...] = ("contacted", "interviewed", "hired", "rejected")
"""Feedback kinds for which the API stores a snapshot (the outcomes, not the overrides)."""

NEED_STATE_GATES = frozenset({"expired", "capacity"})
"""Gates that describe the need's state rather than the pair: an outcome is often posted after the need expired
or was filled, so a row gated only by these still teaches the model. Rows with any other gate are left out: the
model never scores such pairs (their total is 0 whatever it says)."""

SNAPSHOT_FORMAT = 1
MODEL_FORMAT = 1
CALIBRATIONS = ("sigmoid", "isotonic")
LOGIT_CLIP = 30.0  # |logit| beyond this changes no float32 probability by more than 1e-13, and exp cannot overflow
ISOTONIC_FLOOR = 1e-6  # an open pair keeps a score above 0, so only gated pairs are exactly 0
_VERSION_RE = re.compile(r"^\d{8}T\d{6}Z(-\d+)?$")

_KIND_INDEX = {kind.value: i for i, kind in enumerate(NEED_KINDS)}
_GROUP_INDEX = {group.value: i for i, group in enumerate(TARGET_GROUPS)}
_N_COMP = len(FEATURE_COMPONENTS)
_KIND_SLICE = slice(_N_COMP, _N_COMP + len(NEED_KINDS))
_GROUP_SLICE = slice(_N_COMP + len(NEED_KINDS), len(FEATURE_NAMES))


class InsufficientOutcomesError(ValueError):
    """Too few labelled outcomes to train (or to use) a re-ranker."""


# --------------------------------------------------------------------------------------------- snapshots


def make_snapshot(
    components: Mapping[str, float],
    total: float,
    gates: Sequence[str],
    need_kind: str,
    target_group: str,
    scorer: str,
) -> dict[str, Any]:
    """The training row stored with an outcome. Built from an explicit list of fields, so nothing else about the
    citizen (name, CPR, health, benefits, protected attributes) can slip into it."""
    return {
        "format": SNAPSHOT_FORMAT,
        "components": {name: round(float(components[name]), 6) for name in FEATURE_COMPONENTS},
        "total": round(float(total), 6),
        "gates": [str(g) for g in gates],
        "context": {"need_kind": str(need_kind), "target_group": str(target_group)},
        "scorer": scorer,
    }


def snapshot_features(snapshot: Mapping[str, Any], where: str = "snapshot") -> np.ndarray:
    """One snapshot → its feature row (float64, in :data:`FEATURE_NAMES` order). ValueError naming the field."""
    if not isinstance(snapshot, Mapping):
        raise ValueError(f"{where}: expected an object, got {type(snapshot).__name__}")
    if snapshot.get("format") != SNAPSHOT_FORMAT:
        raise ValueError(f"{where}.format: expected {SNAPSHOT_FORMAT}, got {snapshot.get('format')!r}")
    components = snapshot.get("components")
    context = snapshot.get("context")
    if not isinstance(components, Mapping):
        raise ValueError(f"{where}.components: missing or not an object")
    if not isinstance(context, Mapping):
        raise ValueError(f"{where}.context: missing or not an object")
    row = np.zeros(len(FEATURE_NAMES))
    for k, name in enumerate(FEATURE_COMPONENTS):
        value = components.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
            raise ValueError(f"{where}.components.{name}: expected a number in [0, 1], got {value!r}")
        row[k] = value
    kind, group = context.get("need_kind"), context.get("target_group")
    if kind not in _KIND_INDEX:
        raise ValueError(f"{where}.context.need_kind: unknown need kind {kind!r}")
    if group not in _GROUP_INDEX:
        raise ValueError(f"{where}.context.target_group: unknown target group {group!r}")
    row[_N_COMP + _KIND_INDEX[kind]] = 1.0
    row[_GROUP_SLICE.start + _GROUP_INDEX[group]] = 1.0
    return row


@dataclass(frozen=True, eq=False)
class TrainingSet:
    """Labelled feature rows. ``skipped`` counts outcomes left out and why."""

    x: np.ndarray
    y: np.ndarray
    skipped: dict[str, int] = field(default_factory=dict)
    source: str = ""

    @property
    def n(self) -> int:
        return len(self.y)

    @property
    def positives(self) -> int:
        return int(self.y.sum())

    @classmethod
    def from_outcomes(
        cls, rows: Iterable[tuple[str, Mapping[str, Any] | None]], source: str = ""
    ) -> TrainingSet:
        """From (feedback kind, snapshot) per pair. Kinds that are not labels are skipped, as are pairs without
        a snapshot and pairs with a gate other than the need-state ones (:data:`NEED_STATE_GATES`)."""
        rows_x: list[np.ndarray] = []
        labels: list[int] = []
        skipped = {"not_a_label": 0, "without_snapshot": 0, "pair_gated": 0}
        for i, (kind, snapshot) in enumerate(rows):
            if kind not in LABELS:
                skipped["not_a_label"] += 1
                continue
            if snapshot is None:
                skipped["without_snapshot"] += 1
                continue
            row = snapshot_features(snapshot, f"outcome {i + 1}: snapshot")
            gates = snapshot.get("gates") or []
            if not isinstance(gates, list):
                raise ValueError(f"outcome {i + 1}: snapshot.gates: expected a list of gate names")
            if set(gates) - NEED_STATE_GATES:
                skipped["pair_gated"] += 1
                continue
            rows_x.append(row)
            labels.append(LABELS[kind])
        x = np.vstack(rows_x) if rows_x else np.zeros((0, len(FEATURE_NAMES)))
        return cls(x=x, y=np.array(labels, dtype=np.int8), skipped=skipped, source=source)


def check_enough(n: int, positives: int, min_outcomes: int, min_per_class: int) -> str | None:
    """Why ``n`` outcomes with ``positives`` positive are too few, or None when they are enough."""
    negatives = n - positives
    if n >= min_outcomes and positives >= min_per_class and negatives >= min_per_class:
        return None
    return (
        f"too few outcomes: {n} labelled pairs ({positives} positive, {negatives} negative); a re-ranker needs at "
        f"least {min_outcomes} and {min_per_class} of each class (MATCHER_RERANKER_MIN_OUTCOMES, "
        "MATCHER_RERANKER_MIN_PER_CLASS)"
    )


def rule_totals(x: np.ndarray, policy: ScoringPolicy) -> np.ndarray:
    """What the rule weights score for feature rows (the weighted mean of the components, as RuleScorer before
    gating): the baseline the model is measured against."""
    weights = policy.weights.model_dump()
    w = np.array([weights[name] for name in COMPONENTS], dtype=np.float64)
    total = x[:, : len(COMPONENTS)] @ (w / w.sum() if w.sum() > 0 else w)
    return np.clip(total, 0.0, 1.0)


# --------------------------------------------------------------------------------------------- the model


@dataclass(frozen=True, eq=False)
class RerankModel:
    """A fitted re-ranker: logistic-regression weights on :data:`FEATURE_NAMES` and a calibration map.

    ``calibration`` is ``"sigmoid"`` (probability = σ(a·logit + c) with ``platt = [a, c]``) or ``"isotonic"``
    (probability = ``np.interp(logit, iso_x, iso_y)``). ``meta`` holds what ``meta.json`` holds (version, data,
    metrics). Validated on construction: a wrong shape or value is a ValueError that names the field.
    """

    coef: np.ndarray
    intercept: float
    calibration: str = "sigmoid"
    platt: np.ndarray = field(default_factory=lambda: np.array([1.0, 0.0]))
    iso_x: np.ndarray = field(default_factory=lambda: np.zeros(0))
    iso_y: np.ndarray = field(default_factory=lambda: np.zeros(0))
    meta: dict[str, Any] = field(default_factory=dict)
    feature_names: tuple[str, ...] = FEATURE_NAMES

    def __post_init__(self) -> None:
        if tuple(self.feature_names) != FEATURE_NAMES:
            extra = sorted(set(self.feature_names) - set(FEATURE_NAMES))
            missing = sorted(set(FEATURE_NAMES) - set(self.feature_names))
            raise ValueError(
                "feature_names: differ from this version's re-ranker features "
                f"(unknown {extra}, missing {missing}, or another order); retrain with `matcher models train`"
            )
        coef = np.asarray(self.coef, dtype=np.float64)
        if coef.shape != (len(FEATURE_NAMES),) or not np.isfinite(coef).all():
            raise ValueError(f"coef: expected {len(FEATURE_NAMES)} finite weights, got shape {coef.shape}")
        if not math.isfinite(float(self.intercept)):
            raise ValueError(f"intercept: expected a finite number, got {self.intercept!r}")
        if self.calibration not in CALIBRATIONS:
            raise ValueError(f"calibration: expected one of {', '.join(CALIBRATIONS)}, got {self.calibration!r}")
        platt = np.asarray(self.platt, dtype=np.float64)
        if platt.shape != (2,) or not np.isfinite(platt).all() or platt[0] <= 0:
            raise ValueError("platt: expected [slope > 0, offset], finite (a calibration must keep the order)")
        iso_x = np.asarray(self.iso_x, dtype=np.float64)
        iso_y = np.asarray(self.iso_y, dtype=np.float64)
        if self.calibration == "isotonic":
            if iso_x.ndim != 1 or iso_x.shape != iso_y.shape or len(iso_x) < 2:
                raise ValueError(f"iso_x, iso_y: expected two equal 1-d arrays of ≥ 2 points, got {iso_x.shape}, "
                                 f"{iso_y.shape}")
            if not (np.isfinite(iso_x).all() and np.isfinite(iso_y).all()):
                raise ValueError("iso_x, iso_y: must be finite")
            if np.any(np.diff(iso_x) < 0) or np.any(np.diff(iso_y) < 0):
                raise ValueError("iso_x, iso_y: must be non-decreasing (an isotonic map)")
            if iso_y.min() < 0 or iso_y.max() > 1:
                raise ValueError("iso_y: probabilities must lie in [0, 1]")
        object.__setattr__(self, "coef", coef)
        object.__setattr__(self, "intercept", float(self.intercept))
        object.__setattr__(self, "platt", platt)
        object.__setattr__(self, "iso_x", iso_x)
        object.__setattr__(self, "iso_y", iso_y)
        object.__setattr__(self, "feature_names", tuple(self.feature_names))

    @property
    def version(self) -> str:
        return str(self.meta.get("version", "unversioned"))

    def weights(self) -> dict[str, float]:
        """Feature name → logistic-regression weight (before calibration)."""
        return dict(zip(self.feature_names, self.coef.tolist(), strict=True))

    def logits(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x, dtype=np.float64) @ self.coef + self.intercept

    def calibrate(self, logits: np.ndarray) -> np.ndarray:
        """Raw logits → calibrated probabilities (float64)."""
        z = np.asarray(logits, dtype=np.float64)
        if self.calibration == "isotonic":
            return np.clip(np.interp(z, self.iso_x, self.iso_y), ISOTONIC_FLOOR, 1.0)
        a, c = self.platt
        return 1.0 / (1.0 + np.exp(-np.clip(a * z + c, -LOGIT_CLIP, LOGIT_CLIP)))

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Calibrated probability of a positive outcome per feature row."""
        return self.calibrate(self.logits(x))

    def folded(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """(component weights, per-target-group term, per-need-kind term, intercept) with a sigmoid calibration
        folded in (σ(a·(w·x + b) + c) = σ((a·w)·x + a·b + c)), so applying it is one logit and one σ."""
        scale, shift = (self.platt if self.calibration == "sigmoid" else (1.0, 0.0))
        w = self.coef * scale
        return w[:_N_COMP], w[_GROUP_SLICE], w[_KIND_SLICE], float(self.intercept * scale + shift)


def _ece(p: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error: |mean predicted − observed rate| per equal-width bin, weighted by its size."""
    which = np.minimum((p * bins).astype(np.int64), bins - 1)
    count = np.bincount(which, minlength=bins)
    gap = np.abs(np.bincount(which, p, bins) - np.bincount(which, y, bins))
    return float(gap.sum() / max(count.sum(), 1))


C_GRID: tuple[float, ...] = (0.01, 0.1, 1.0, 10.0, 100.0)
"""Inverse L2 strengths tried by cross-validation: from strong shrinkage (a few hundred outcomes) to almost none."""


def _fit_logistic(x: np.ndarray, y: np.ndarray, seed: int) -> tuple[np.ndarray, float, float, int]:
    """L2 logistic regression with C chosen from :data:`C_GRID` by stratified k-fold log-loss, refitted on all of
    ``x``: (coef, intercept, C, folds)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    folds = int(min(5, np.bincount(y, minlength=2).min()))
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    scores = [
        float(cross_val_score(LogisticRegression(C=c, max_iter=2000), x, y, cv=cv, scoring="neg_log_loss").mean())
        for c in C_GRID
    ]
    c_best = C_GRID[int(np.argmax(scores))]
    clf = LogisticRegression(C=c_best, max_iter=2000).fit(x, y)
    return clf.coef_[0].astype(np.float64), float(clf.intercept_[0]), c_best, folds


def _fit_calibration(z: np.ndarray, y: np.ndarray, method: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The calibration map of held-out logits ``z``: (platt [a, c], iso_x, iso_y) as :class:`RerankModel` holds
    them."""
    from sklearn.isotonic import IsotonicRegression
    from sklearn.linear_model import LogisticRegression

    platt, iso_x, iso_y = np.array([1.0, 0.0]), np.zeros(0), np.zeros(0)
    if method == "sigmoid":
        # Platt scaling: a nearly unregularised 1-d logistic regression on the held-out logits
        fit = LogisticRegression(C=1e6, max_iter=1000).fit(z[:, None], y)
        slope = float(fit.coef_[0, 0])
        if slope <= 0:  # the held-out rows disagree with the ranking: keep the fit's own probabilities
            log.warning("Platt slope %.3f ≤ 0 on the calibration split; calibration left as fitted", slope)
        else:
            platt = np.array([slope, float(fit.intercept_[0])])
        return platt, iso_x, iso_y
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(z, y)
    iso_x, iso_y = np.asarray(iso.X_thresholds_, np.float64), np.asarray(iso.y_thresholds_, np.float64)
    if len(iso_x) < 2:  # a single step: a flat map (the logit's order is then all the ranking keeps)
        iso_x, iso_y = np.array([z.min() - 1.0, z.max() + 1.0]), np.repeat(iso_y[:1], 2)
    return platt, iso_x, iso_y


def fit_reranker(
    data: TrainingSet,
    policy: ScoringPolicy,
    *,
    min_outcomes: int,
    min_per_class: int,
    calibration: str = "sigmoid",
    seed: int = 0,
    now: dt.datetime | None = None,
) -> RerankModel:
    """Fit, calibrate and measure a re-ranker. Splits the rows (stratified) 60 / 20 / 20: the logistic regression
    (its L2 strength chosen by 5-fold cross-validated log-loss on the train split) learns on the first, the
    calibration map on the second, and the metrics in ``meta["metrics"]`` come from the third, which neither saw;
    ``rule_auc`` is the rule weights' AUC on the same rows. InsufficientOutcomesError when there are too few."""
    from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score
    from sklearn.model_selection import train_test_split
    from threadpoolctl import threadpool_limits

    if calibration not in CALIBRATIONS:
        raise ValueError(f"calibration: expected one of {', '.join(CALIBRATIONS)}, got {calibration!r}")
    reason = check_enough(data.n, data.positives, min_outcomes, max(min_per_class, 5))
    if reason is not None:
        raise InsufficientOutcomesError(reason)
    x, y = data.x, data.y.astype(np.int64)
    idx = np.arange(data.n)
    train, rest = train_test_split(idx, test_size=0.4, stratify=y, random_state=seed)
    cal, test = train_test_split(rest, test_size=0.5, stratify=y[rest], random_state=seed)
    # BLAS threads cost far more than they save on problems this small (10× slower on two busy cores)
    with threadpool_limits(1):
        coef, intercept, c_best, folds = _fit_logistic(x[train], y[train], seed)
        z_cal = x[cal] @ coef + intercept
        platt, iso_x, iso_y = _fit_calibration(z_cal, y[cal], calibration)
    trained_at = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    model = RerankModel(coef=coef, intercept=intercept, calibration=calibration, platt=platt, iso_x=iso_x,
                        iso_y=iso_y)
    p_test = model.predict_proba(x[test])
    p_raw = 1.0 / (1.0 + np.exp(-np.clip(x[test] @ coef + intercept, -LOGIT_CLIP, LOGIT_CLIP)))
    y_test = y[test]
    metrics = {
        "n": len(test),
        "base_rate": float(y_test.mean()),
        "auc": float(roc_auc_score(y_test, p_test)),
        "rule_auc": float(roc_auc_score(y_test, rule_totals(x[test], policy))),
        "log_loss": float(log_loss(y_test, p_test, labels=[0, 1])),
        "log_loss_uncalibrated": float(log_loss(y_test, p_raw, labels=[0, 1])),
        "brier": float(brier_score_loss(y_test, p_test)),
        "ece": _ece(p_test, y_test),
    }
    meta: dict[str, Any] = {
        "format_version": MODEL_FORMAT,
        "kind": "reranker",
        "version": trained_at.strftime("%Y%m%dT%H%M%SZ"),
        "trained_at": trained_at.isoformat(timespec="seconds"),
        "source": data.source,
        "feature_names": list(FEATURE_NAMES),
        "n_rows": data.n,
        "positives": data.positives,
        "negatives": data.n - data.positives,
        "skipped": data.skipped,
        "split": {"train": len(train), "calibration": len(cal), "test": len(test), "seed": seed},
        "labels": LABELS,
        "method": {
            "model": "sklearn LogisticRegression (L2, lbfgs)",
            "C": c_best,
            "cv_folds": folds,
            "calibration": calibration,
        },
        "min_outcomes": min_outcomes,
        "min_per_class": min_per_class,
        "rule_weights": policy.weights.model_dump(),
        "metrics": {k: (round(v, 4) if isinstance(v, float) else v) for k, v in metrics.items()},
    }
    return RerankModel(coef=coef, intercept=intercept, calibration=calibration, platt=platt, iso_x=iso_x,
                       iso_y=iso_y, meta=meta)


# --------------------------------------------------------------------------------------------- files


def save_model(model: RerankModel, root: Path) -> Path:
    """Write ``root/<version>/`` (model.npz, meta.json, MODEL_CARD.md) and return it. Written to a temporary
    folder first and renamed, so a half-written model is never picked up; a second model in the same second gets
    a ``-2`` suffix."""
    root.mkdir(parents=True, exist_ok=True)
    version = model.version
    if not _VERSION_RE.match(version):
        raise ValueError(f"meta.version: expected a UTC timestamp like 20261123T101500Z, got {version!r}")
    n = 1
    while (root / version).exists():
        n += 1
        version = f"{model.meta['version'].split('-')[0]}-{n}"
    # what describes the arrays is written from the model itself, so a card or loader can never disagree with them
    meta = {
        **model.meta,
        "format_version": MODEL_FORMAT,
        "version": version,
        "feature_names": list(model.feature_names),
        "method": {**model.meta.get("method", {}), "calibration": model.calibration},
    }
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=root))
    try:
        np.savez(tmp / "model.npz", coef=model.coef, intercept=np.float64(model.intercept), platt=model.platt,
                 iso_x=model.iso_x, iso_y=model.iso_y)
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        (tmp / "MODEL_CARD.md").write_text(model_card(replace(model, meta=meta)), encoding="utf-8")
        os.chmod(tmp, 0o755)
        os.replace(tmp, root / version)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return root / version


def load_model(folder: Path) -> RerankModel:
    """Read and validate ``folder`` (model.npz + meta.json). ValueError naming the file and field when anything
    is missing, of the wrong shape, or was fitted on other features."""
    folder = Path(folder)
    meta_path, npz_path = folder / "meta.json", folder / "model.npz"
    for path in (meta_path, npz_path):
        if not path.is_file():
            raise ValueError(f"{path}: missing; is {folder} a re-ranker folder written by `matcher models train`?")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{meta_path}: cannot read JSON ({exc})") from exc
    if not isinstance(meta, dict):
        raise ValueError(f"{meta_path}: expected an object")
    if meta.get("format_version") != MODEL_FORMAT:
        raise ValueError(f"{meta_path}: format_version: expected {MODEL_FORMAT}, got {meta.get('format_version')!r}")
    for key in ("n_rows", "positives"):
        if isinstance(meta.get(key), bool) or not isinstance(meta.get(key), int) or meta[key] < 0:
            raise ValueError(f"{meta_path}: {key}: expected a whole number ≥ 0, got {meta.get(key)!r}")
    names = meta.get("feature_names")
    if not isinstance(names, list):
        raise ValueError(f"{meta_path}: feature_names: expected a list of names")
    method = meta.get("method")
    calibration = method.get("calibration") if isinstance(method, dict) else None
    try:
        with np.load(npz_path, allow_pickle=False) as arrays:
            missing = {"coef", "intercept", "platt", "iso_x", "iso_y"} - set(arrays.files)
            if missing:
                raise ValueError(f"arrays {sorted(missing)} missing")
            values = {name: np.asarray(arrays[name]) for name in ("coef", "intercept", "platt", "iso_x", "iso_y")}
    except (OSError, ValueError) as exc:
        raise ValueError(f"{npz_path}: {exc}") from exc
    if values["intercept"].shape != ():
        raise ValueError(f"{npz_path}: intercept: expected a scalar, got shape {values['intercept'].shape}")
    try:
        return RerankModel(
            coef=values["coef"],
            intercept=float(values["intercept"]),
            calibration=str(calibration),
            platt=values["platt"],
            iso_x=values["iso_x"],
            iso_y=values["iso_y"],
            meta=meta,
            feature_names=tuple(str(n) for n in names),
        )
    except ValueError as exc:
        raise ValueError(f"{folder}: {exc}") from exc


def versions(root: Path) -> list[str]:
    """Model versions under ``root``, oldest first (names are UTC timestamps, so name order is time order)."""
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and _VERSION_RE.match(p.name))


def model_card(model: RerankModel) -> str:
    """MODEL_CARD.md: data, method, date, metrics, weights, intended use, limits."""
    m = model.meta
    metrics = m.get("metrics", {})
    split = m.get("split", {})
    method = m.get("method", {})
    weights = "\n".join(f"| `{name}` | {w:+.3f} |" for name, w in model.weights().items())
    skipped = ", ".join(f"{k} {v}" for k, v in m.get("skipped", {}).items()) or "none"
    return f"""# Model card: learned re-ranker `{m.get("version")}`

Trained {m.get("trained_at")} by `matcher models train` from {m.get("source") or "labelled outcomes"}.

## Data
{m.get("n_rows")} labelled citizen–need pairs: {m.get("positives")} positive (hired or interviewed), \
{m.get("negatives")} negative (rejected). Each row is the snapshot the engine stored when the outcome was \
posted (the latest label of a pair wins; its earliest snapshot is used). Left out: {skipped}.
Split (stratified, seed {split.get("seed")}): {split.get("train")} train, {split.get("calibration")} calibration, \
{split.get("test")} test.

## Method
{method.get("model")}, C = {method.get("C")} (chosen by {method.get("cv_folds")}-fold cross-validated log-loss on \
the train split), on {len(model.feature_names)} features: the seven score components, overqualification, one-hot \
need kind and one-hot citizen target group. Calibration: {method.get("calibration")} on the calibration split. \
Score of a pair = calibrated probability of a positive outcome; gated pairs stay 0.

## Metrics (test split, {metrics.get("n")} rows, base rate {metrics.get("base_rate")})
| metric | value |
|---|---|
| AUC | {metrics.get("auc")} |
| AUC of the rule weights' total on the same rows | {metrics.get("rule_auc")} |
| log-loss (calibrated) | {metrics.get("log_loss")} |
| log-loss (uncalibrated) | {metrics.get("log_loss_uncalibrated")} |
| Brier score | {metrics.get("brier")} |
| expected calibration error (10 bins) | {metrics.get("ece")} |

## Weights (logit, before calibration)
| feature | weight |
|---|---|
{weights}

## Intended use
Ranking candidates and needs for consultants of the job centre that produced the outcomes, in place of the rule
weights' total. Explanations stay component-based (the same components and gates as the rule scorer). Not for
decisions about a citizen without a consultant.

## Limits
- It learns from the outcomes consultants record, on the pairs they chose to act on: it inherits their choices
  and any bias in them, and knows nothing of pairs never shown. Re-run the fairness audit after each training.
- Outcomes older than the current scoring policy may describe another ranking; retrain after policy changes.
- Probabilities are calibrated on this job centre's past base rate; they are not comparable across job centres.

## Protected attributes
Gender, age, origin and religion are not inputs: the features are exactly the list above, computed from the
profile the engine reads, which does not hold them (they live in a separate audit table the engine never reads).

## Rollback
Set `MATCHER_RERANKER=off` (rule weights) or `MATCHER_RERANKER=<older version>`, or delete this folder; the
service picks the scorer at start, the nightly run at each run.
"""


# --------------------------------------------------------------------------------------------- the scorer


class LearnedScorer(Scorer):
    """The rule scorer's components, gates and explanations; ``total`` = the re-ranker's calibrated probability
    of a positive outcome (0 where a gate is set).

    Parameters
    ----------
    policy, taxonomy : as for :class:`~matcher.scoring.RuleScorer` (the components come from it).
    model : a fitted :class:`RerankModel`.
    """

    feature_names: tuple[str, ...] = FEATURE_NAMES

    def __init__(self, policy: ScoringPolicy, taxonomy: Taxonomy, model: RerankModel) -> None:
        self.policy = policy
        self.taxonomy = taxonomy
        self.model = model
        # the rule scorer supplies components and gates; with zero weights it skips its own weighted total (seven
        # passes over the grid that this scorer would throw away)
        no_total = policy.model_copy(update={"weights": ComponentWeights(**dict.fromkeys(COMPONENTS, 0.0))})
        self._rule = RuleScorer(no_total, taxonomy)

    @property
    def version(self) -> str:
        return self.model.version

    def bytes_per_pair(self) -> int:
        # the rule block, plus the logit and one float32 temporary (isotonic adds a float64 interpolation)
        return self._rule.bytes_per_pair() + 4 * 2 + (8 if self.model.calibration == "isotonic" else 0)

    def score_block(
        self,
        citizens: CitizenFeatures,
        c_rows: np.ndarray,
        needs: NeedFeatures,
        n_rows: np.ndarray,
    ) -> ScoreBlock:
        block = self._rule.score_block(citizens, c_rows, needs, n_rows)
        c_rows = np.asarray(c_rows, dtype=np.int64)
        n_rows = np.asarray(n_rows, dtype=np.int64)
        w, group_term, kind_term, b = self.model.folded()
        # per-row and per-column terms first, then the components added in a fixed order: every element goes
        # through the same float32 operations whatever the block, so any block split gives identical scores
        row = group_term.astype(F32)[citizens.target_group[c_rows].astype(np.intp)]
        col = (kind_term + b).astype(F32)[needs.kind[n_rows].astype(np.intp)]
        logit = np.add.outer(row, col)
        tmp: np.ndarray | None = None
        for k, name in enumerate(FEATURE_COMPONENTS):
            weight = F32(w[k])
            comp = block.components[name]
            if weight == 0 or comp.size == 0:
                continue
            if comp.strides == (0, 0):  # a constant (broadcast) component: one scalar add
                logit += F32(comp.flat[0]) * weight
            else:
                tmp = np.multiply(comp, weight, out=tmp) if tmp is not None else np.multiply(comp, weight, dtype=F32)
                logit += tmp
        if self.model.calibration == "isotonic":
            total = np.interp(logit, self.model.iso_x, self.model.iso_y).astype(F32)
            np.clip(total, F32(ISOTONIC_FLOOR), F32(1.0), out=total)
        else:
            np.clip(logit, F32(-LOGIT_CLIP), F32(LOGIT_CLIP), out=logit)
            np.negative(logit, out=logit)
            np.exp(logit, out=logit)
            logit += F32(1.0)
            total = np.reciprocal(logit, out=logit)
        np.multiply(total, block.gates == 0, out=total)
        return ScoreBlock(total=total, components=block.components, gates=block.gates)


def scorer_label(scorer: Scorer) -> str:
    """'rule' or 'reranker <version>': which scorer ranked (stored on runs and snapshots, shown by the API)."""
    return f"reranker {scorer.version}" if isinstance(scorer, LearnedScorer) else "rule"


def _too_few(model: RerankModel, settings: Settings) -> str | None:
    return check_enough(
        int(model.meta.get("n_rows", 0)),
        int(model.meta.get("positives", 0)),
        settings.reranker_min_outcomes,
        settings.reranker_min_per_class,
    )


def reranker_root(settings: Settings) -> Path:
    return settings.models_dir / "reranker"


def choose_scorer(settings: Settings, taxonomy: Taxonomy) -> Scorer:
    """The scorer ``settings.reranker`` asks for.

    ``off``: the rule weights. ``auto``: the newest model under ``<models_dir>/reranker`` when it loads and was
    trained on enough outcomes (``reranker_min_outcomes``, ``reranker_min_per_class``), else the rule weights
    (logged). Anything else names a version under that folder or a folder path; a model that cannot be loaded or
    was trained on too few outcomes is then a ValueError (an explicit choice must not fall back silently).
    """
    rule = RuleScorer(settings.scoring, taxonomy)
    choice = settings.reranker.strip()
    root = reranker_root(settings)
    if choice == "off":
        return rule
    if choice == "auto":
        found = versions(root)
        if not found:
            log.info("re-ranker: no model under %s; ranking with the rule weights", root)
            return rule
        try:
            model = load_model(root / found[-1])
        except ValueError as exc:
            log.error("re-ranker: newest model unusable (%s); ranking with the rule weights", exc)
            return rule
        reason = _too_few(model, settings)
        if reason is not None:
            log.warning("re-ranker %s not used (%s); ranking with the rule weights", model.version, reason)
            return rule
        log.info("re-ranker %s in use (trained on %s outcomes)", model.version, model.meta.get("n_rows"))
        return LearnedScorer(settings.scoring, taxonomy, model)
    folder = Path(choice) if ("/" in choice or os.sep in choice) else root / choice
    if not folder.is_dir():
        raise ValueError(
            f"MATCHER_RERANKER={choice!r}: no such model folder; versions under {root}: "
            f"{', '.join(versions(root)) or 'none'} (or use 'auto' / 'off')"
        )
    model = load_model(folder)
    reason = _too_few(model, settings)
    if reason is not None:
        raise ValueError(f"MATCHER_RERANKER={choice!r}: {reason}")
    log.info("re-ranker %s in use (chosen by MATCHER_RERANKER)", model.version)
    return LearnedScorer(settings.scoring, taxonomy, model)
