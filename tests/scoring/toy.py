"""A hand-made miniature taxonomy, postcode registry and profile factories shared by the features and scoring
tests: small enough to reason about every number, shaped exactly like the real :class:`Taxonomy`."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import scipy.sparse as sp

from matcher.config import ScoringPolicy
from matcher.domain import Citizen, Vacancy
from matcher.features import CitizenFeatures, NeedFeatures
from matcher.taxonomy import LabelTable, Postcodes, Taxonomy

TODAY = dt.date(2026, 11, 23)

OCC = "http://data.europa.eu/esco/occupation/"
SK = "http://data.europa.eu/esco/skill/"

OCCUPATIONS = [
    # key, English label, Danish label, ISCO, regulated in DK
    ("nurse", "nurse responsible for general care", "sygeplejerske", 2221, True),
    ("specialist_nurse", "specialist nurse", "specialsygeplejerske", 2221, True),
    ("healthcare_assistant", "healthcare assistant", "plejer", 5321, False),
    ("home_care_aide", "home care aide", "social- og sundhedshjælper", 5322, False),
    ("cleaner", "commercial cleaner", "rengøringsassistent", 9112, False),
    ("truck_driver", "lorry driver", "lastbilchauffør", 8332, False),
    ("bus_driver", "bus driver", "buschauffør", 8331, False),
]
SKILLS = [
    "patient_care",
    "administer_medication",
    "hygiene",
    "assist_daily_living",
    "clean_rooms",
    "drive_truck",
    "communicate_patients",
    "first_aid",
    "danish",
    "secure_cargo",
]
ESSENTIAL = {
    "nurse": ["patient_care", "administer_medication", "hygiene", "communicate_patients", "first_aid"],
    "specialist_nurse": ["patient_care", "administer_medication", "hygiene", "communicate_patients"],
    "healthcare_assistant": ["patient_care", "hygiene", "assist_daily_living", "communicate_patients"],
    "home_care_aide": ["hygiene", "assist_daily_living", "communicate_patients"],
    "cleaner": ["clean_rooms", "hygiene"],
    "truck_driver": ["drive_truck", "secure_cargo"],
    "bus_driver": ["drive_truck"],
}
OPTIONAL = {
    "nurse": ["assist_daily_living", "danish"],
    "healthcare_assistant": ["first_aid"],
    "home_care_aide": ["first_aid", "patient_care"],
    "cleaner": [],
    "truck_driver": [],
}
RELATED = [
    ("patient_care", "assist_daily_living", 0.6),
    ("administer_medication", "first_aid", 0.5),
    ("hygiene", "clean_rooms", 0.3),
]


def occ(key: str) -> str:
    return OCC + key


def sk(key: str) -> str:
    return SK + key


def make_taxonomy() -> Taxonomy:
    o_row = {key: i for i, (key, *_rest) in enumerate(OCCUPATIONS)}
    s_row = {key: i for i, key in enumerate(SKILLS)}

    def occ_matrix(table: dict[str, list[str]]) -> sp.csr_matrix:
        dense = np.zeros((len(OCCUPATIONS), len(SKILLS)), np.float32)
        for o, skills in table.items():
            for s in skills:
                dense[o_row[o], s_row[s]] = 1.0
        return sp.csr_matrix(dense)

    rel = np.zeros((len(SKILLS), len(SKILLS)), np.float32)
    for a, b, w in RELATED:
        rel[s_row[a], s_row[b]] = rel[s_row[b], s_row[a]] = w
    empty = LabelTable(text=[], concept=np.zeros(0, np.int32), lang=[], kind=[])
    return Taxonomy(
        occupation_uris=[occ(k) for k, *_ in OCCUPATIONS],
        occupation_labels=[o[1] for o in OCCUPATIONS],
        occupation_labels_da=[o[2] for o in OCCUPATIONS],
        occupation_isco=np.array([o[3] for o in OCCUPATIONS], np.int32),
        occupation_regulated=np.array([o[4] for o in OCCUPATIONS], bool),
        skill_uris=[sk(k) for k in SKILLS],
        skill_labels=[k.replace("_", " ") for k in SKILLS],
        skill_is_language=np.array([k == "danish" for k in SKILLS], bool),
        occ_essential=occ_matrix(ESSENTIAL),
        occ_optional=occ_matrix(OPTIONAL),
        skill_related=sp.csr_matrix(rel),
        occupation_label_table=empty,
        skill_label_table=empty,
        version="toy-1",
    )


def make_postcodes() -> Postcodes:
    return Postcodes(
        codes=["2100", "4200", "4220", "4230"],
        lat=np.array([55.7180, 55.4028, 55.3300, 55.2180]),
        lon=np.array([12.5760, 11.3546, 11.1390, 11.2600]),
        names=["København Ø", "Slagelse", "Korsør", "Skælskør"],
        municipalities=["0101", "0330", "0330", "0330"],
    )


def citizen(**overrides: Any) -> Citizen:
    """A job-ready Slagelse citizen with no skills; override any field."""
    data: dict[str, Any] = {"external_ref": "c", "target_group": "jobparat", "postcode": "4200"}
    data.update(overrides)
    return Citizen.model_validate(data)


def vacancy(**overrides: Any) -> Vacancy:
    """An ordinary Slagelse home-care-aide vacancy, Mon–Fri, hours not stated; override any field."""
    data: dict[str, Any] = {
        "employer_id": 1,
        "title": "SOSU-hjælper",
        "occupation_uri": occ("home_care_aide"),
        "postcode": "4200",
    }
    data.update(overrides)
    return Vacancy.model_validate(data)


def skills(*keys: str, provenance: str = "assessed") -> list[dict[str, Any]]:
    return [{"uri": sk(k), "provenance": provenance} for k in keys]


def nurse_from_syria(recognition: str = "undocumented") -> Citizen:
    return citizen(
        target_group="integration",
        skills=skills(
            "patient_care",
            "administer_medication",
            "hygiene",
            "communicate_patients",
            "first_aid",
            "assist_daily_living",
        ),
        occupations=[{"uri": occ("nurse"), "years": 8}],
        qualifications=[
            {
                "title": "Bachelor of Nursing",
                "country": "SY",
                "eqf_level": 6,
                "recognition": recognition,
                "occupation_uri": occ("nurse"),
            }
        ],
        languages=[{"language": "da", "cefr": "B1", "school_weekdays": ["tue", "thu"]}],
    )


def build(
    citizens: list[Citizen],
    needs: list[Vacancy],
    taxonomy: Taxonomy,
    policy: ScoringPolicy | None = None,
) -> tuple[CitizenFeatures, NeedFeatures]:
    """Features with ids 101, 102, … for citizens and 201, 202, … for needs."""
    policy = policy or ScoringPolicy()
    pc = make_postcodes()
    cf = CitizenFeatures.build([(101 + i, c) for i, c in enumerate(citizens)], taxonomy, pc, policy, TODAY)
    nf = NeedFeatures.build([(201 + i, v) for i, v in enumerate(needs)], taxonomy, pc, policy, TODAY)
    return cf, nf
