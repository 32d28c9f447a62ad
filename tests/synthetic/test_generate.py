"""The generator: determinism, valid models, and the mix the brief asks for."""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from matcher.domain import CEFR, Citizen, Employer, NeedKind, Recognition, TargetGroup, Vacancy, cefr_rank
from matcher.synthetic import SyntheticData, generate, is_valid_cvr, load_reference
from matcher.taxonomy import load_postcodes

from .conftest import DATA, TODAY

REFUGEE_COUNTRIES = {"SY", "AF", "UA", "ER", "IR", "IQ", "SO"}


def _dump(data: SyntheticData) -> list[str]:
    return (
        [m.model_dump_json() for m in data.employers]
        + [m.model_dump_json() for m in data.vacancies]
        + [m.model_dump_json() for m in data.citizens]
        + [repr(p) for p in data.protected]
    )


def test_same_seed_same_output_other_seed_other_output() -> None:
    first = generate(300, 80, seed=3, today=TODAY)
    again = generate(300, 80, seed=3, today=TODAY)
    other = generate(300, 80, seed=4, today=TODAY)
    assert _dump(first) == _dump(again)
    assert _dump(first) != _dump(other)


def test_citizens_do_not_depend_on_the_number_of_vacancies() -> None:
    few = generate(200, 10, seed=5, today=TODAY)
    many = generate(200, 300, seed=5, today=TODAY)
    assert [c.model_dump_json() for c in few.citizens] == [c.model_dump_json() for c in many.citizens]


def test_counts_and_alignment(world: SyntheticData) -> None:
    assert len(world.citizens) == 2000
    assert len(world.vacancies) == 400
    assert len(world.protected) == len(world.citizens)
    assert len(world.employers) == max(8, 400 // 3)
    assert len({c.external_ref for c in world.citizens}) == len(world.citizens)


def test_every_model_survives_a_json_round_trip(world: SyntheticData) -> None:
    for model_type, items in ((Employer, world.employers), (Vacancy, world.vacancies), (Citizen, world.citizens)):
        for item in items:
            assert model_type.model_validate(item.model_dump(mode="json")) == item


def test_protected_attributes_are_not_on_the_citizen(world: SyntheticData) -> None:
    assert not {"gender", "birth_year", "origin_country"} & set(Citizen.model_fields)
    genders = Counter(p["gender"] for p in world.protected)
    assert set(genders) == {"female", "male"}
    for citizen, p in zip(world.citizens, world.protected, strict=True):
        age = TODAY.year - p["birth_year"]
        assert 17 <= age <= 65
        if citizen.target_group is TargetGroup.uddannelseshjaelp:
            assert age <= 30
        if citizen.target_group is TargetGroup.integration:
            assert p["origin_country"] in REFUGEE_COUNTRIES


def test_benefit_group_mix(world: SyntheticData) -> None:
    counts = Counter(c.target_group for c in world.citizens)
    expected = {TargetGroup(g) for g in pd.read_csv(DATA / "synthetic" / "target_groups.csv")["target_group"]}
    assert set(counts) == expected
    largest = {g for g, _ in counts.most_common(2)}
    assert largest == {TargetGroup.dagpenge, TargetGroup.jobparat}


def test_refugees_have_foreign_qualifications_in_every_recognition_state(world: SyntheticData) -> None:
    refugees = [c for c in world.citizens if c.target_group is TargetGroup.integration]
    quals = [q for c in refugees for q in c.qualifications]
    assert {q.recognition for q in quals} == set(Recognition)
    assert all(q.country in REFUGEE_COUNTRIES for q in quals)
    assert {q.eqf_level for q in quals} >= {2, 3, 4, 6, 7}
    esco = set(load_reference(DATA).esco_uris)  # every qualification occupation is a real ESCO occupation
    assert all(q.occupation_uri in esco for q in quals if q.occupation_uri)
    # the case the municipality asked about: a refugee nurse whose papers are not (yet) recognised
    nurses = [q for q in quals if q.title == "Bachelor of Nursing" and q.recognition is not Recognition.recognised]
    assert nurses and all(q.eqf_level == 6 for q in nurses)


def test_refugees_danish_levels_and_school_days(world: SyntheticData) -> None:
    refugees = [c for c in world.citizens if c.target_group is TargetGroup.integration]
    danish = [next(lang for lang in c.languages if lang.language == "da") for c in refugees]
    assert {d.cefr for d in danish} == {CEFR.A1, CEFR.A2, CEFR.B1, CEFR.B2}
    at_school = [d for d in danish if d.school_weekdays]
    assert len(at_school) > len(danish) / 3
    assert all(len(d.school_weekdays) == 2 and d.cefr is not CEFR.B2 for d in at_school)
    assert {tuple(d.school_weekdays) for d in at_school} >= {("tue", "thu"), ("mon", "wed")}
    # refugees speak their own language too
    assert all(len(c.languages) >= 2 for c in refugees)


def test_danes_have_recognised_danish_qualifications(world: SyntheticData) -> None:
    danes = [c for c, p in zip(world.citizens, world.protected, strict=True) if p["origin_country"] == "DK"]
    quals = [q for c in danes for q in c.qualifications]
    assert len(quals) > len(danes) / 3
    assert all(q.country == "DK" and q.recognition is Recognition.recognised for q in quals)
    assert {q.eqf_level for q in quals} <= {3, 4, 5, 6}


def test_hours_by_benefit_group(world: SyntheticData) -> None:
    flex = [c for c in world.citizens if c.target_group is TargetGroup.ledighedsydelse]
    assert flex
    assert all(6 <= c.hours.min <= c.hours.max <= 20 for c in flex)
    sick = [c for c in world.citizens if c.target_group is TargetGroup.sygedagpenge]
    assert any(c.hours.max < 37 for c in sick)
    assert all(c.hours.min <= c.hours.max for c in world.citizens)


def test_citizen_attributes_in_range(world: SyntheticData) -> None:
    assert all(10 <= c.max_commute_km <= 60 for c in world.citizens)
    consent = sum(c.consent_share_with_employers for c in world.citizens) / len(world.citizens)
    assert 0.8 < consent < 1.0
    licences = Counter(lic.value for c in world.citizens for lic in c.driving_licences)
    assert licences["B"] > len(world.citizens) / 3
    assert licences["C"] + licences["CE"] > 0
    provenance = Counter(s.provenance for c in world.citizens for s in c.skills)
    assert provenance.most_common(1)[0][0].value == "self_reported"
    assert len(provenance) == 4
    assert all(s.uri and not s.label for c in world.citizens for s in c.skills)  # labels_share defaults to 0
    dates = [c.available_from for c in world.citizens if c.available_from]
    assert min(dates) >= TODAY
    ref = load_reference(DATA)
    outside = {o.uri for c in world.citizens for o in c.occupations} - {ref.esco_uris[i] for i in ref.occ_esco}
    assert outside  # some past occupations lie outside the demand sectors


def test_all_sectors_and_kinds_present(world: SyntheticData, sector_of_occupation: dict[str, str]) -> None:
    sectors = set(sector_of_occupation.values())
    assert {sector_of_occupation[v.occupation_uri or ""] for v in world.vacancies} == sectors
    assert {e.industry for e in world.employers} == sectors
    for v in world.vacancies:
        assert world.employers[v.employer_id - 1].industry == sector_of_occupation[v.occupation_uri or ""]
    assert {v.kind for v in world.vacancies} == set(NeedKind)
    assert Counter(v.kind for v in world.vacancies).most_common(1)[0][0] is NeedKind.ordinary


def test_vacancies_are_consistent(world: SyntheticData, sector_of_occupation: dict[str, str]) -> None:
    for v in world.vacancies:
        assert v.essential_skills and v.hours_per_week is not None
        assert 1 <= v.positions <= 5
        assert v.expires is not None and v.expires > TODAY
        assert v.start_date is None or TODAY < v.start_date <= v.expires
        assert v.postcode == world.employers[v.employer_id - 1].postcode
        if v.kind is NeedKind.hybrid_internship:
            assert v.hybrid is not None
            assert math.isclose(v.hybrid.paid_hours + v.hybrid.internship_hours, v.hours_per_week)
            assert v.hybrid.paid_hours > 0 and v.hybrid.internship_hours > 0
            assert 4 <= v.hybrid.weeks <= 26
        else:
            assert v.hybrid is None
        if v.kind is NeedKind.flexjob:
            assert 10 <= v.hours_per_week <= 25
        if sector_of_occupation[v.occupation_uri or ""] == "transport":
            assert v.driving_licences
    three_day = [v for v in world.vacancies if len(v.weekdays) == 3]
    assert any(v.kind in (NeedKind.hybrid_internship, NeedKind.internship) for v in three_day)
    assert Counter(len(v.weekdays) for v in world.vacancies).most_common(1)[0][0] == 5
    heavy = {lic.value for v in world.vacancies for lic in v.driving_licences}
    assert heavy & {"C", "CE", "D"}


def test_language_requirements(world: SyntheticData, sector_of_occupation: dict[str, str]) -> None:
    danish = {id(v): next((r for r in v.languages if r.language == "da"), None) for v in world.vacancies}
    hard = [v for v in world.vacancies if (r := danish[id(v)]) is not None and r.hard]
    assert hard and all(danish[id(v)].cefr is CEFR.B2 for v in hard)  # type: ignore[union-attr]
    assert all(sector_of_occupation[v.occupation_uri or ""] == "care" for v in hard)
    soft = Counter(r.cefr for r in danish.values() if r is not None and not r.hard)
    assert CEFR.B1 in soft
    assert any(v.language_support for v in world.vacancies)
    assert any(r is None for r in danish.values())
    assert any(v.min_eqf_level for v in world.vacancies)
    assert max(cefr_rank(r.cefr) for r in danish.values() if r is not None) <= cefr_rank(CEFR.B2)


def test_employers_have_valid_unique_cvrs(world: SyntheticData) -> None:
    cvrs = [e.cvr for e in world.employers]
    assert len(set(cvrs)) == len(cvrs)
    assert all(is_valid_cvr(c) for c in cvrs)


def test_postcodes_lie_in_the_slagelse_region(world: SyntheticData) -> None:
    postcodes = load_postcodes(DATA)
    region = {c for kode in ("0330", "0340", "0370", "0326", "0316", "0329") for c in postcodes.in_municipality(kode)}
    used = Counter(c.postcode for c in world.citizens)
    assert set(used) <= region
    assert {v.postcode for v in world.vacancies} | {e.postcode for e in world.employers} <= region
    slagelse = set(postcodes.in_municipality("0330"))
    assert sum(n for code, n in used.items() if code in slagelse) > 0.6 * len(world.citizens)
    assert used.most_common(1)[0][0] == "4200"


def test_national_region_uses_the_whole_country() -> None:
    data = generate(1500, 300, seed=1, region="national", today=TODAY)
    postcodes = load_postcodes(DATA)
    used = {c.postcode for c in data.citizens if c.postcode}
    assert all(code in postcodes for code in used)
    assert len(used) > 500
    first_digits = {code[0] for code in used}
    assert first_digits >= {"1", "2", "3", "4", "5", "6", "7", "8", "9"}


def test_empty_worlds() -> None:
    data = generate(0, 0, seed=0, today=TODAY)
    assert data.citizens == [] and data.vacancies == [] and data.protected == []
    assert len(data.employers) == 8


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_citizens": -1}, "n_citizens"),
        ({"n_vacancies": 1.5}, "n_vacancies"),
        ({"n_employers": 0}, "n_employers"),
        ({"seed": -3}, "seed"),
        ({"region": "aarhus"}, "region 'aarhus' is unknown"),
        ({"labels_share": 1.5}, "labels_share"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"n_citizens": 10, "n_vacancies": 10, "today": TODAY, **kwargs}
    with pytest.raises(ValueError, match=message):
        generate(**args)  # type: ignore[arg-type]


def test_default_today_is_the_current_date() -> None:
    data = generate(50, 20, seed=2)
    assert all(v.expires and v.expires > dt.date.today() for v in data.vacancies)


def test_labels_share_needs_the_lexicon(data_copy: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"skills_da\.csv"):
        generate(10, 1, labels_share=0.05, today=TODAY, data_dir=data_copy)


def test_labels_share_gives_danish_free_text(data_copy: Path) -> None:
    ref = load_reference(DATA)
    known = ref.skill_uris[int(ref.ess_idx[ref.ess_ptr[ref.occ_esco[0]]])]
    (data_copy / "lexicon").mkdir()
    (data_copy / "lexicon" / "skills_da.csv").write_text(
        "phrase,skill_uri,sector,note\n"
        f"personlig pleje,{known},care,test\n"
        "kan køre truck,http://data.europa.eu/esco/skill/not-in-esco,warehouse,test\n",
        encoding="utf-8",
    )
    data = generate(400, 1, seed=1, labels_share=0.2, today=TODAY, data_dir=data_copy)
    claims = [s for c in data.citizens for s in c.skills]
    labelled = [s for s in claims if s.label is not None]
    assert all(s.uri is None for s in labelled)
    assert {s.label for s in labelled} <= {"personlig pleje", "kan køre truck"}
    assert 0.1 < len(labelled) / len(claims) < 0.3


def test_a_broken_sector_table_is_an_error_naming_the_row(data_copy: Path) -> None:
    path = data_copy / "synthetic" / "sectors.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[1] = lines[1].replace(",5321,", ",5322,", 1)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"sectors.csv row 2: isco 5322 disagrees"):
        load_reference(data_copy)


def test_sector_occupations_are_real_esco_occupations_in_their_isco_group() -> None:
    ref = load_reference(DATA)
    occupations = pd.read_csv(DATA / "esco" / "occupations_en.csv.gz", dtype=str).set_index("conceptUri")
    frame = pd.read_csv(DATA / "synthetic" / "sectors.csv", dtype=str)
    for uri, isco in zip(frame["occupation_uri"], frame["isco"], strict=True):
        assert occupations.loc[uri, "iscoGroup"] == isco
    assert all(ref.ess_ptr[o + 1] - ref.ess_ptr[o] >= 5 for o in ref.occ_esco)


def test_shared_parts_give_equal_output_with_shared_instances() -> None:
    plain = generate(400, 100, seed=9, today=TODAY)
    shared = generate(400, 100, seed=9, today=TODAY, shared_parts=True)
    assert _dump(plain) == _dump(shared)
    claims = [s for c in shared.citizens for s in c.skills]
    assert len({id(s) for s in claims}) < len(claims)  # equal claims are one instance
    plain_claims = [s for c in plain.citizens for s in c.skills]
    assert len({id(s) for s in plain_claims}) == len(plain_claims)
