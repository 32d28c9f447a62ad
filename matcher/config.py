"""All settings in one place: environment variables with prefix ``MATCHER_`` (nested with ``__``), or a JSON
policy file named by ``MATCHER_POLICY_FILE``.

Scoring policy — component weights, which gates are on, target-group priorities — is configuration, never code:
a municipality changes it without a release. Example::

    MATCHER_SCORING__WEIGHTS__SKILLS=0.5
    MATCHER_SCORING__TARGET_GROUP_PRIORITY__JOBPARAT=1.2
    MATCHER_SCORING__GATES__LANGUAGE=false
"""

from __future__ import annotations

import json
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
_PROCESS_SESSION_SECRET = secrets.token_urlsafe(32)


class ComponentWeights(BaseModel):
    """Weights of the score components; the total score is their weighted mean, so only ratios matter.

    Defaults: skills dominate, then experience and language (the key to Danish workplaces), then the practical
    fit (commute, schedule, qualification level, start date).
    """

    skills: float = Field(0.35, ge=0)
    experience: float = Field(0.15, ge=0)
    qualification: float = Field(0.10, ge=0)
    language: float = Field(0.12, ge=0)
    schedule: float = Field(0.10, ge=0)
    geography: float = Field(0.12, ge=0)
    availability: float = Field(0.06, ge=0)


class GateSwitches(BaseModel):
    """Hard rules. A pair that breaks a switched-on gate is never proposed."""

    regulated_profession: bool = True
    language: bool = True  # only requirements the vacancy marks ``hard``
    commute: bool = True  # beyond the citizen's max commute
    hours: bool = True  # the need's hours fall outside the citizen's range by more than hours_tolerance
    driving_licence: bool = True
    min_eqf_level: bool = False  # by default a level gap is a penalty; foreign papers are often under-rated
    schedule_clash: bool = False  # by default a clash with school days is a penalty
    expired: bool = True
    capacity: bool = True  # the need has no open positions (positions = 0: paused)


class ScoringPolicy(BaseModel):
    weights: ComponentWeights = Field(default_factory=ComponentWeights)
    gates: GateSwitches = Field(default_factory=GateSwitches)
    target_group_priority: dict[str, float] = Field(
        default_factory=dict,
        description="multiplier per target group used by the placement plan, e.g. {'jobparat': 1.2}; "
        "missing groups get 1.0",
    )
    # Evidence weights. Provenance: self-reported < from a qualification < assessed < observed in an internship.
    provenance_weight: dict[str, float] = Field(
        default_factory=lambda: {
            "self_reported": 0.6,
            "from_qualification": 0.75,
            "assessed": 0.9,
            "observed_in_internship": 1.0,
        }
    )
    # Recognition: unrecognised evidence still counts, with less weight; rejected counts least.
    recognition_weight: dict[str, float] = Field(
        default_factory=lambda: {
            "recognised": 1.0,
            "partial": 0.8,
            "pending": 0.6,
            "not_assessed": 0.5,
            "undocumented": 0.4,
            "rejected": 0.2,
        }
    )
    optional_skill_share: float = Field(
        0.25, ge=0, le=1, description="share of the skills component that comes from the optional skills"
    )
    # 0.1, not 0.5: on the honest hold-out (docs/similarity.md, "In production": ESCO relations max the fitted
    # skill similarity, this scoring rule, top 5) 0.5 ranked worse than exact matching (MRR −0.024 when the profile
    # is half the vacancy's own skills, −0.006 for ISCO neighbours; mean of seeds 0–2), 0.1 better on sparse
    # profiles (+0.011 seeds 0–2 / +0.014 seeds 3–5) and ISCO neighbours (+0.005 / +0.004) at a small cost on
    # literal subsets (−0.003 / −0.004). 0.2 was as good within noise; the smaller credit loses less where exact
    # matching is already right.
    related_skill_credit: float = Field(
        0.1, ge=0, le=1, description="credit for a related (not identical) skill, relative to an exact one; "
        "partial credit is a tie-breaker, larger values rank worse (docs/similarity.md)"
    )
    language_support_softening: float = Field(
        0.5, ge=0, le=1, description="share of a soft language penalty forgiven when the workplace offers support"
    )
    hours_tolerance: float = Field(2.0, ge=0, description="hours/week outside the citizen's range before the gate")
    commute_half_score_fraction: float = Field(
        0.5, gt=0, le=1, description="geography score is 0.5 at this fraction of the citizen's max commute"
    )
    availability_horizon_days: int = Field(90, ge=1, description="days of waiting after which availability is 0")
    overqualification_cost: float = Field(
        0.1, ge=0, description="placement-plan cost per EQF level above the need's level"
    )
    # --- knobs of the individual components (docs/scoring.md explains each formula) ---
    skill_years_bonus: float = Field(
        0.1, ge=0, le=1, description="added to a skill's provenance weight at skill_years_full years (capped at 1)"
    )
    skill_years_full: float = Field(5.0, gt=0, description="years of use at which a skill gets the full bonus")
    related_skill_top_k: int = Field(
        5, ge=0, le=50, description="strongest related skills per essential skill that earn partial credit; "
        "bounds the cost of the skills product"
    )
    experience_same_unit_group: float = Field(
        0.7, ge=0, le=1, description="experience credit for another occupation in the same ISCO unit group"
    )
    experience_same_minor_group: float = Field(
        0.4, ge=0, le=1, description="experience credit for another occupation in the same ISCO minor group"
    )
    experience_regulated_neighbour: float = Field(
        0.8, ge=0, le=1,
        description="experience credit in an unregulated neighbour of a regulated profession the citizen has "
        "worked or trained in (data/regulated_neighbours_dk.csv), relative to the same occupation",
    )
    experience_full_years: float = Field(3.0, gt=0, description="years of experience that earn full credit")
    experience_min_factor: float = Field(
        0.5, ge=0, le=1, description="share of the credit a claim with (almost) no years still earns"
    )
    experience_unknown_years: float = Field(1.0, ge=0, description="years assumed when a claim gives none")
    eqf_gap_penalty: float = Field(
        0.25, ge=0, le=1, description="qualification fit lost per EQF level below the need's level"
    )
    isco_major_eqf: dict[str, int] = Field(
        default_factory=lambda: {"1": 5, "2": 6, "3": 5, "4": 3, "5": 3, "6": 3, "7": 3, "8": 3, "9": 1},
        description="typical EQF level per ISCO-08 major group, used when a need states no min_eqf_level "
        "(ISCO skill levels 1-4 mapped to EQF); a group left out means 'no level'",
    )
    overqualification_levels: float = Field(
        3.0, gt=0, description="EQF levels above the need's level at which overqualification reaches 1"
    )
    language_gap_penalty: float = Field(
        0.35, ge=0, le=1, description="language score lost per CEFR step below a soft requirement"
    )
    hours_per_day: float = Field(
        7.4, gt=0, le=24, description="hours a day of a full working day (37/5); turns weekly hours into days"
    )
    hours_penalty_hours: float = Field(
        4.0, gt=0, description="hours/week outside the citizen's range at which the hours fit reaches 0"
    )
    unknown_location_score: float = Field(
        0.5, ge=0, le=1, description="geography score when either side's coordinates are unknown"
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MATCHER_", env_nested_delimiter="__", extra="ignore")

    data_dir: Path = REPO_ROOT / "data"
    models_dir: Path = REPO_ROOT / "models"
    cache_dir: Path = REPO_ROOT / "var" / "cache"
    database_url: str = f"sqlite:///{REPO_ROOT / 'var' / 'matcher.sqlite'}"
    policy_file: Path | None = None
    scoring: ScoringPolicy = Field(default_factory=ScoringPolicy)

    top_k: int = Field(50, ge=1, le=1000, description="results kept per citizen and per need in the nightly run")
    memory_budget_mb: int = Field(
        512, ge=16, description="bound on the score block held in memory at once during ranking"
    )
    rerank_at: str | None = Field(None, description="HH:MM local time for the service's own nightly run")
    run_retention_days: int = Field(14, ge=1)
    max_body_bytes: int = Field(10 * 1024 * 1024, ge=1024)
    max_bulk_body_bytes: int = Field(
        100 * 1024 * 1024, ge=1024, description="body limit of the :bulk endpoints (10,000 profiles are ~20 MB)"
    )
    resolve_threshold: float = Field(
        0.5, ge=0, le=1, description="minimum normalisation score for a free-text skill/title to be accepted"
    )
    session_secret: SecretStr = Field(
        default_factory=lambda: SecretStr(_PROCESS_SESSION_SECRET),
        description="signs the web pages' session cookie; default random per process (sessions end on restart "
        "and are not shared between workers): set MATCHER_SESSION_SECRET when running several",
    )
    session_https_only: bool = Field(False, description="mark the session cookie Secure (set behind HTTPS)")
    skill_similarity: str = Field(
        "auto",
        min_length=1,
        description="the fitted skill-similarity model the taxonomy folds into skill_related (elementwise max with "
        "ESCO's relations): 'off', 'auto' (<models_dir>/skill_similarity when present, else ESCO's relations only) "
        "or a model folder (a path, or a name under models_dir); docs/similarity.md",
    )
    reranker: str = Field(
        "auto",
        min_length=1,
        description="which scorer ranks: 'off' (the transparent rule weights), 'auto' (the newest model under "
        "<models_dir>/reranker trained on enough outcomes, else the rule weights) or a model version / folder "
        "(docs/reranker.md)",
    )
    reranker_min_outcomes: int = Field(
        200, ge=20, description="labelled outcomes (hired/interviewed vs rejected) a re-ranker needs to be trained "
        "or used"
    )
    reranker_min_per_class: int = Field(
        30, ge=5, description="positive and negative outcomes, each, a re-ranker needs to be trained or used"
    )

    @field_validator("rerank_at")
    @classmethod
    def _hhmm(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = value.split(":")
        if len(parts) != 2 or not all(p.isdigit() for p in parts) or int(parts[0]) > 23 or int(parts[1]) > 59:
            raise ValueError("rerank_at must be HH:MM, e.g. 02:00")
        return value

    def model_post_init(self, context: Any, /) -> None:
        if self.policy_file is not None:
            try:
                raw = json.loads(self.policy_file.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise ValueError(f"MATCHER_POLICY_FILE {self.policy_file}: cannot read JSON ({exc})") from exc
            self.scoring = ScoringPolicy.model_validate(raw)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
