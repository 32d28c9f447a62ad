"""What the API needs from the core: a normaliser (taxonomy) and a match engine (ranking).

They are described as Protocols so that the app can be built around the real ones (the default) or around small
in-process doubles in tests; the heavy imports happen only when the defaults are built.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from matcher.config import Settings
from matcher.domain import Citizen, Match, Vacancy

if TYPE_CHECKING:
    from matcher.scoring import Scorer
    from matcher.taxonomy import Postcodes, Taxonomy, TaxonomyInputError


class NormalizerLike(Protocol):
    """The part of :class:`matcher.taxonomy.Normalizer` the API calls."""

    def normalize_occupation(self, text: str, limit: int = ..., lang: str | None = ...) -> Sequence[Any]: ...

    def normalize_skill(self, text: str, limit: int = ..., lang: str | None = ...) -> Sequence[Any]: ...

    def extract_skills(self, text: str) -> Sequence[Any]: ...

    def resolve_citizen(self, citizen: Citizen) -> Citizen: ...

    def resolve_vacancy(self, vacancy: Vacancy) -> Vacancy: ...

    def resolve_citizens(self, citizens: Sequence[Citizen]) -> Sequence[Citizen | TaxonomyInputError]: ...

    def resolve_vacancies(self, vacancies: Sequence[Vacancy]) -> Sequence[Vacancy | TaxonomyInputError]: ...


class EngineLike(Protocol):
    """The part of :class:`matcher.ranking.MatchEngine` the API calls."""

    def upsert_citizen(self, citizen_id: int, citizen: Citizen) -> None: ...

    def remove_citizen(self, citizen_id: int) -> None: ...

    def upsert_need(self, need_id: int, vacancy: Vacancy) -> None: ...

    def remove_need(self, need_id: int) -> None: ...

    def bulk_load(
        self, citizens: Iterable[tuple[int, Citizen]], needs: Iterable[tuple[int, Vacancy]]
    ) -> None: ...

    def candidates(
        self, need_id: int, limit: int = ..., offset: int = ..., filters: Any = ..., explain: bool = ...
    ) -> list[Match]: ...

    def search(
        self, vacancy: Vacancy, limit: int = ..., offset: int = ..., filters: Any = ..., explain: bool = ...
    ) -> list[Match]: ...

    def matches_for_citizen(
        self, citizen_id: int, limit: int = ..., offset: int = ..., filters: Any = ..., explain: bool = ...
    ) -> list[Match]: ...

    def set_feedback_overrides(self, pinned: set[tuple[int, int]], hidden: set[tuple[int, int]]) -> None: ...

    def explain_pair(self, citizen_id: int, need_id: int) -> Match: ...

    @property
    def scorer(self) -> Scorer: ...


@dataclass(frozen=True)
class Services:
    """The normaliser, and a factory for the (empty) match engine that the app fills from the database."""

    normalizer: NormalizerLike
    engine_factory: Callable[[], EngineLike]


def engine_factory_for(
    settings: Settings, taxonomy: Taxonomy, postcodes: Postcodes, today: dt.date | None = None
) -> Callable[[], EngineLike]:
    """A factory of MatchEngines that rank with the scorer ``settings.reranker`` chooses (a learned re-ranker
    when one is there and trained on enough outcomes, else the rule weights). Chosen once, here: the service
    keeps its scorer until it restarts."""
    from matcher.ranking import MatchEngine, choose_scorer

    scorer = choose_scorer(settings, taxonomy)

    def engine_factory() -> EngineLike:
        engine: EngineLike = MatchEngine(
            taxonomy, postcodes, settings.scoring, memory_budget_mb=settings.memory_budget_mb, today=today,
            scorer=scorer,
        )
        return engine

    return engine_factory


def default_services(settings: Settings) -> Services:
    """The real taxonomy normaliser and MatchEngine, built from the settings' data, policy and re-ranker."""
    from matcher.taxonomy import get_normalizer, get_taxonomy, load_postcodes

    normalizer = get_normalizer()
    taxonomy = get_taxonomy()
    postcodes = load_postcodes(settings.data_dir)
    return Services(normalizer=normalizer, engine_factory=engine_factory_for(settings, taxonomy, postcodes))
