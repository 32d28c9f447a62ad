"""Bulk preparation resolves every item's labels in one batch, with the same result as resolving one by one."""

from __future__ import annotations

from collections import Counter
from typing import Any

from matcher.api import prepare_citizens, prepare_vacancies
from matcher.domain import Citizen, Vacancy
from matcher.storage import make_engine, session_factory
from matcher.taxonomy import Normalizer, Postcodes, Taxonomy
from tests.api.conftest import seed_keys
from tests.storage import _samples as s


class Counting(Normalizer):
    """Counts batched normalisations and single ones (the path one profile at a time would take)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls: Counter[str] = Counter()

    def normalize_many(self, *args: Any, **kwargs: Any) -> Any:
        self.calls["normalize_many"] += 1
        return super().normalize_many(*args, **kwargs)

    def _normalize(self, *args: Any, **kwargs: Any) -> Any:
        self.calls["single"] += 1
        return super()._normalize(*args, **kwargs)


def _citizens() -> list[dict[str, Any]]:
    skills = ["truckkørsel", "Truckkørsel", "truckkorsel", "gaffeltruk", "rengøring", "omsorg"]
    titles = ["lagerarbejder", "lager medarbejder", "sygeplejersker", "kok", "chauffør"]
    items = [
        s.citizen_json(i, skills=[{"label": skills[i % 6]}, {"label": skills[(i + 1) % 6]}],
                       occupations=[{"title": titles[i % 5]}])
        for i in range(30)
    ]  # fmt: skip
    items[4]["skills"] = [{"label": "zzqxv"}]  # no taxonomy match
    items[9]["target_group"] = "pensioner"  # not even a valid profile
    items[17]["occupations"] = [{"uri": "http://data.europa.eu/esco/occupation/unknown"}]
    return items


def test_citizens_resolve_in_one_batch_like_one_by_one(
    db_url: str, toy_taxonomy: Taxonomy, postcodes: Postcodes
) -> None:
    seed_keys(db_url)
    spy = Counting(toy_taxonomy, cache_dir=None, postcodes=postcodes)
    one_by_one = Normalizer(toy_taxonomy, cache_dir=None, postcodes=postcodes)
    items = _citizens()
    engine = make_engine(db_url)
    with session_factory(engine)() as session:
        citizens, errors = prepare_citizens(session, items, spy)
    engine.dispose()
    assert spy.calls == {"normalize_many": 2}  # one batch of skill labels, one of titles; no single calls
    assert [(e.index, e.field) for e in errors] == [
        (4, "skills[0].label"),
        (9, "target_group"),
        (17, "occupations[0].uri"),
    ]
    good = [i for i in range(len(items)) if i not in (4, 9, 17)]
    assert citizens == [one_by_one.resolve_citizen(Citizen.model_validate(items[i])) for i in good]
    assert all(c.skills[0].resolved is not None for c in citizens)


def test_vacancies_resolve_in_one_batch_like_one_by_one(
    db_url: str, toy_taxonomy: Taxonomy, postcodes: Postcodes
) -> None:
    _, employer, _ = seed_keys(db_url)
    spy = Counting(toy_taxonomy, cache_dir=None, postcodes=postcodes)
    one_by_one = Normalizer(toy_taxonomy, cache_dir=None, postcodes=postcodes)
    titles = ["Lagermedarbejder", "Sygeplejerske", "xqzzy", "Kok", "Chauffør"]
    items = [s.vacancy_json(employer, i, title=titles[i % 5]) for i in range(12)]
    items[2]["essential_skills"] = []  # unmatched title and no skills: not a usable need
    items[6]["postcode"] = "0001"
    engine = make_engine(db_url)
    with session_factory(engine)() as session:
        vacancies, errors = prepare_vacancies(session, items, spy)
    engine.dispose()
    assert spy.calls == {"normalize_many": 2}
    assert [(e.index, e.field) for e in errors] == [(2, "essential_skills"), (6, "postcode")]
    good = [i for i in range(len(items)) if i not in (2, 6)]
    assert vacancies == [one_by_one.resolve_vacancy(Vacancy.model_validate(items[i])) for i in good]
    assert [v.occupation_uri is not None for v in vacancies] == [i % 5 != 2 for i in good]
