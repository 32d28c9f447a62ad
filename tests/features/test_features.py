"""Feature tables: what each column holds, id ↔ row maps, concat/take/upsert, the store, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from matcher.config import ScoringPolicy
from matcher.domain import DrivingLicence, NeedKind, TargetGroup
from matcher.features import (
    LANGUAGE_INDEX,
    NO_EXPIRY_DAY,
    CitizenFeatures,
    FeatureInputError,
    NeedFeatures,
    day_number,
    licence_list,
    weekday_list,
)
from matcher.taxonomy import Postcodes, Taxonomy
from tests.scoring import toy


def citizens_of(taxonomy: Taxonomy, *people: object, first_id: int = 1) -> CitizenFeatures:
    return CitizenFeatures.build(
        [(first_id + i, p) for i, p in enumerate(people)],  # type: ignore[misc]
        taxonomy,
        toy.make_postcodes(),
        ScoringPolicy(),
        toy.TODAY,
    )


def needs_of(taxonomy: Taxonomy, *needs: object, first_id: int = 1) -> NeedFeatures:
    return NeedFeatures.build(
        [(first_id + i, n) for i, n in enumerate(needs)],  # type: ignore[misc]
        taxonomy,
        toy.make_postcodes(),
        ScoringPolicy(),
        toy.TODAY,
    )


def test_citizen_columns(taxonomy: Taxonomy) -> None:
    p = ScoringPolicy()
    c = toy.citizen(
        target_group="integration",
        skills=[
            {"uri": toy.sk("hygiene"), "provenance": "self_reported"},
            {"uri": toy.sk("hygiene"), "provenance": "assessed"},  # duplicate: the max counts
            {"uri": toy.sk("clean_rooms"), "provenance": "self_reported", "years": 10},
            {"uri": toy.sk("danish"), "provenance": "assessed"},  # language skill: language component's job
            {"label": "strygning"},  # unresolved: ignored
        ],
        languages=[
            {"language": "da", "cefr": "B1", "school_weekdays": ["tue", "thu"]},
            {"language": "ar", "cefr": "C2"},
        ],
        driving_licences=["CE"],
        hours={"min": 5, "max": 15},
        available_from="2027-01-04",
    )
    f = citizens_of(taxonomy, c, toy.citizen(postcode="9999"))
    skills = f.skills.toarray()
    assert skills[0, taxonomy.skill_row[toy.sk("hygiene")]] == pytest.approx(p.provenance_weight["assessed"])
    assert skills[0, taxonomy.skill_row[toy.sk("clean_rooms")]] == pytest.approx(
        p.provenance_weight["self_reported"] + p.skill_years_bonus
    )
    assert skills[0, taxonomy.skill_row[toy.sk("danish")]] == 0
    assert f.skills.nnz == 2 and f.skills.dtype == np.float32
    assert tuple(TargetGroup)[f.target_group[0]] is TargetGroup.integration
    assert weekday_list(int(f.school_days[0])) == ["tue", "thu"]
    assert f.languages[0, LANGUAGE_INDEX["da"]] == 3 and f.languages[0, LANGUAGE_INDEX["ar"]] == 6
    assert set(licence_list(int(f.licences[0]))) >= {DrivingLicence.CE, DrivingLicence.C, DrivingLicence.B}
    assert (f.hours_min[0], f.hours_max[0]) == (5, 15)
    assert f.available_day[0] == day_number(toy.TODAY.replace(year=2027, month=1, day=4))
    assert f.available_day[1] == day_number(toy.TODAY)
    assert np.isfinite(f.lat[0]) and np.isnan(f.lat[1]) and f.geo_known.tolist() == [True, False]
    assert f.geo_x[1] == 0 and f.geo_y[1] == 0
    assert f.lat.dtype == np.float64 and f.max_commute_km.dtype == np.float32


def test_planar_distance_matches_haversine(taxonomy: Taxonomy, postcodes: Postcodes) -> None:
    from matcher.taxonomy import haversine_km

    f = citizens_of(taxonomy, *[toy.citizen(postcode=code) for code in postcodes.codes])
    for i in range(f.n):
        for j in range(f.n):
            planar = float(np.hypot(f.geo_x[i] - f.geo_x[j], f.geo_y[i] - f.geo_y[j]))
            exact = float(haversine_km(f.lat[i], f.lon[i], f.lat[j], f.lon[j]))  # type: ignore[arg-type]
            assert planar == pytest.approx(exact, rel=2e-3, abs=0.01)


def test_citizen_qualifications_and_authorisation(taxonomy: Taxonomy) -> None:
    p = ScoringPolicy()
    c = toy.citizen(
        qualifications=[
            {
                "title": "Nursing",
                "country": "SY",
                "eqf_level": 6,
                "recognition": "pending",
                "occupation_uri": toy.occ("nurse"),
            },
            {
                "title": "SOSU-hjælper",
                "country": "DK",
                "eqf_level": 4,
                "recognition": "not_assessed",
                "occupation_uri": toy.occ("home_care_aide"),
            },
            {"title": "PhD", "country": "IR", "eqf_level": 8, "recognition": "rejected"},
        ]
    )
    f = citizens_of(taxonomy, c, toy.citizen())
    assert f.best_eqf.tolist() == [6, 0]  # rejected papers do not make anyone over-qualified
    fit = f.qual_fit[0]
    assert fit[0] == 1.0 and fit[4] == 1.0  # Danish EQF 4 counts fully up to level 4
    assert fit[6] == pytest.approx(p.recognition_weight["pending"])
    assert fit[5] == pytest.approx(max(1 - p.eqf_gap_penalty, p.recognition_weight["pending"]))
    assert f.qual_fit[1].tolist() == pytest.approx([max(0, 1 - p.eqf_gap_penalty * lv) for lv in range(9)])
    auth = set(f.authorised[0].indices.tolist())
    n_occ = taxonomy.n_occupations
    assert auth == {taxonomy.occupation_row[toy.occ("home_care_aide")], n_occ + 5322}  # pending nurse: not yet


def test_citizen_experience_columns(taxonomy: Taxonomy) -> None:
    c = toy.citizen(occupations=[{"uri": toy.occ("truck_driver"), "years": 3}, {"title": "pakkeri"}])
    f = citizens_of(taxonomy, c)
    assert f.occ_exp[0, taxonomy.occupation_row[toy.occ("truck_driver")]] == pytest.approx(1.0)
    assert f.isco_unit_exp[0, 8332] == pytest.approx(1.0) and f.isco_minor_exp[0, 833] == pytest.approx(1.0)
    assert f.occ_exp.nnz == 1


def test_need_columns(taxonomy: Taxonomy) -> None:
    hybrid = toy.vacancy(
        kind="hybrid_internship",
        hybrid={"paid_hours": 10, "internship_hours": 12, "weeks": 8},
        weekdays=["mon", "wed", "fri"],
        driving_licences=["B"],
        positions=3,
        languages=[{"language": "da", "cefr": "B1", "hard": True}],
        language_support=True,
        start_date="2026-12-01",
        expires="2026-12-24",
        employer_id=7,
    )
    given = toy.vacancy(
        occupation_uri=None, title="x", essential_skills=[{"uri": toy.sk("clean_rooms")}], min_eqf_level=3
    )
    f = needs_of(taxonomy, hybrid, given)
    assert tuple(NeedKind)[f.kind[0]] is NeedKind.hybrid_internship
    assert f.hours[0] == 22 and np.isnan(f.hours[1])
    assert f.days_needed.tolist() == [3, 5] and f.n_days.tolist() == [3, 5]
    assert weekday_list(int(f.weekdays[0])) == ["mon", "wed", "fri"]
    assert f.positions[0] == 3 and f.employer_id[0] == 7
    assert licence_list(int(f.licences[0])) == [DrivingLicence.B]
    assert f.lang_req[0, LANGUAGE_INDEX["da"]] == 3 and f.lang_hard[0, LANGUAGE_INDEX["da"]] == 1
    p = ScoringPolicy()
    assert f.lang_penalty[0] == pytest.approx(p.language_gap_penalty * (1 - p.language_support_softening))
    assert f.expires_day[0] == day_number(toy.TODAY.replace(month=12, day=24))
    assert f.expires_day[1] == NO_EXPIRY_DAY and f.start_day[1] == day_number(toy.TODAY)
    assert f.skills_from_profile.tolist() == [3, 0]
    assert f.occupation[1] == -1 and f.isco[0] == 5322 and not f.regulated[0]
    assert f.level.tolist() == [3, 3] and f.min_eqf.tolist() == [0, 3]
    ess = f.essential.toarray()
    assert ess[0].sum() == 3 and ess[1, taxonomy.skill_row[toy.sk("clean_rooms")]] == 1
    assert f.optional[1].nnz == 0


def test_need_skill_vector_sums_to_one_for_a_full_profile(taxonomy: Taxonomy) -> None:
    f = needs_of(taxonomy, toy.vacancy(occupation_uri=toy.occ("nurse"), title="x"))
    ess, opt = f.essential.toarray()[0], f.optional.toarray()[0]
    vec = f.skill_vector.toarray()[0]
    share = ScoringPolicy().optional_skill_share
    assert vec[ess > 0].sum() == pytest.approx(1 - share)
    assert opt[taxonomy.skill_row[toy.sk("danish")]] == 0  # language skills are left out
    assert vec[opt > 0].sum() == pytest.approx(share)  # the related credit of an optional skill is not added
    assert vec[(ess > 0) | (opt > 0)].sum() == pytest.approx(1.0)
    # related skills of essentials lend partial credit but are never worth more than an essential one
    related = (vec > 0) & (ess == 0) & (opt == 0)
    assert (vec[related] < vec[ess > 0].min()).all()


def test_need_without_skills_or_occupation_is_a_clear_error(taxonomy: Taxonomy) -> None:
    bad = toy.vacancy(occupation_uri=None, title="Medhjælper", essential_skills=[{"label": "alt muligt"}])
    with pytest.raises(FeatureInputError, match=r"need 2 \('Medhjælper'\): give essential_skills"):
        needs_of(taxonomy, toy.vacancy(), bad)


def test_unknown_uri_is_skipped_with_a_warning(taxonomy: Taxonomy, caplog: pytest.LogCaptureFixture) -> None:
    c = toy.citizen(skills=[{"uri": toy.sk("not_in_taxonomy")}])
    f = citizens_of(taxonomy, c)
    assert f.skills.nnz == 0
    assert "not in the taxonomy" in caplog.text


def test_ids_rows_take_concat(taxonomy: Taxonomy) -> None:
    a = citizens_of(taxonomy, toy.citizen(), toy.nurse_from_syria(), first_id=10)
    b = citizens_of(taxonomy, toy.citizen(postcode="4220"), first_id=20)
    both = CitizenFeatures.concat([a, b])
    assert both.ids.tolist() == [10, 11, 20] and both.ids.dtype == np.int64 and both.n == 3
    assert both.row_of(20) == 2 and both.rows_of([11, 10]).tolist() == [1, 0]
    with pytest.raises(KeyError, match="citizen id 99"):
        both.row_of(99)
    assert np.array_equal(both.skills[1].toarray(), a.skills[1].toarray())
    picked = both.take(np.array([2, 0]))
    assert picked.ids.tolist() == [20, 10] and picked.lat[0] == b.lat[0]
    with pytest.raises(ValueError, match="id 10 appears in more than one part"):
        CitizenFeatures.concat([a, a])
    assert both.without([11]).ids.tolist() == [10, 20]


def test_concat_refuses_mixed_taxonomies(taxonomy: Taxonomy) -> None:
    other = toy.make_taxonomy()
    object.__setattr__(other, "version", "toy-2")
    a = citizens_of(taxonomy, toy.citizen())
    b = CitizenFeatures.build([(2, toy.citizen())], other, toy.make_postcodes(), ScoringPolicy(), toy.TODAY)
    with pytest.raises(ValueError, match="taxonomy_version"):
        CitizenFeatures.concat([a, b])


def test_need_concat_keeps_latest_today(taxonomy: Taxonomy) -> None:
    import datetime as dt

    early = NeedFeatures.build(
        [(1, toy.vacancy())], taxonomy, toy.make_postcodes(), ScoringPolicy(), dt.date(2026, 1, 1)
    )
    late = needs_of(taxonomy, toy.vacancy(), first_id=2)
    assert NeedFeatures.concat([early, late]).today_day == day_number(toy.TODAY)


def test_upsert_replaces_and_appends(taxonomy: Taxonomy) -> None:
    base = citizens_of(taxonomy, toy.citizen(), toy.citizen())
    new = citizens_of(taxonomy, toy.citizen(postcode="9999"), toy.citizen(), first_id=2)
    out = base.upsert(new)
    assert out.ids.tolist() == [1, 2, 3]
    assert np.isnan(out.lat[out.row_of(2)])


def test_empty_build(taxonomy: Taxonomy) -> None:
    f = citizens_of(taxonomy)
    n = needs_of(taxonomy)
    assert f.n == 0 and f.skills.shape == (0, taxonomy.n_skills)
    assert n.n == 0 and n.essential.shape == (0, taxonomy.n_skills)


def test_csr_from_dicts_small_and_large_paths_agree() -> None:
    import matcher.features._base as base

    rows = [{9: 1.0, 1: 0.5, 5: 2.0}, {}, {3: 1.0}, {0: 0.25, 7: 1.5}]
    small = base.csr_from_dicts(rows, 12)
    assert len(rows) <= base.SMALL_CSR_ROWS
    large = base.csr_from_dicts(rows * base.SMALL_CSR_ROWS, 12)[: len(rows)]  # more rows than the small path takes
    assert small.shape == (4, 12) and small.has_sorted_indices
    for name in ("data", "indices", "indptr"):
        assert getattr(small, name).dtype == getattr(large, name).dtype
        assert np.array_equal(getattr(small, name), getattr(large, name))
    assert base.csr_from_dicts([], 3).shape == (0, 3)
    # the small path fills a copy of a cached empty matrix: the cache's template must stay empty
    assert base.csr_from_dicts([{}], 12).nnz == 0 and base._empty_csr(4, 12).nnz == 0
    assert (small @ small.T).toarray()[0, 0] == np.float32(1.0 + 0.25 + 4.0)
    with pytest.raises(ValueError, match="column"):
        base.csr_from_dicts([{12: 1.0}], 12)


def test_a_table_with_a_column_of_the_wrong_length_is_refused(taxonomy: Taxonomy) -> None:
    import dataclasses

    table = citizens_of(taxonomy, toy.citizen(), toy.nurse_from_syria())
    with pytest.raises(ValueError, match=r"CitizenFeatures.hours_min: 1 rows, expected 2"):
        dataclasses.replace(table, hours_min=table.hours_min[:1])
    with pytest.raises(ValueError, match=r"CitizenFeatures.skills: 1 rows, expected 2"):
        dataclasses.replace(table, skills=table.skills[:1])
    assert dataclasses.replace(table, taxonomy_version="other").n == 2  # a shared field has no rows to check
