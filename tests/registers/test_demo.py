"""The demo data set: loads into every register of ours, agrees with the plant model, loads once."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.hazard_identification import HazardGrade
from registers.demo import LOADERS, load_demo
from registers.hazard_sources import service as hazard_sources
from registers.hazard_sources.models import HazardSource, HazardSourceDuty
from registers.process.models import Chemical, HazardousProcess, StartupShutdown
from twin.plant import DEMO_PLANT, Plant, load_plant

TODAY = date(2026, 11, 28)


@pytest.fixture(scope="module")
def plant() -> Plant:
    return load_plant(DEMO_PLANT)


def test_demo_loads_every_register_and_is_idempotent(session: Session, plant: Plant) -> None:
    first = load_demo(session=session, plant=plant, today=TODAY)
    assert list(first) == [name for name, _ in LOADERS]
    assert first["hazard_source"] == 4
    assert first["chemical"] == 3
    assert first["hazardous_process"] == 1
    assert first["startup_shutdown"] == 2
    assert first["hazard_source_duty"] > 0
    assert all(count > 0 for count in first.values())
    session.commit()

    second = load_demo(session=session, plant=plant, today=TODAY)
    assert second == dict.fromkeys(first, 0)
    for model, expected in (
        (HazardSource, 4),
        (Chemical, 3),
        (HazardousProcess, 1),
        (StartupShutdown, 2),
        (HazardSourceDuty, first["hazard_source_duty"]),
    ):
        assert session.scalar(select(func.count()).select_from(model)) == expected


def test_demo_is_consistent_with_the_plant(session: Session, plant: Plant) -> None:
    load_demo(session=session, plant=plant, today=TODAY)
    plant_sources = {s.id: s for s in plant.hazard_sources}
    equipment = {e.id for e in plant.equipment}
    tags = {t.tag: t for t in plant.tags}

    sources = session.scalars(select(HazardSource)).all()
    assert {s.code for s in sources} == set(plant_sources)
    for source in sources:
        spec = plant_sources[source.code]
        assert source.area in {a.id for a in plant.areas}
        assert [c["cas"] for c in source.chemicals] == [c.cas for c in spec.chemicals]
        assert source.r_value == pytest.approx(spec.r_value)
        assert source.s_value == pytest.approx(spec.s_index)
        assert source.principal_person and source.technical_person and source.operational_person
    grades = {s.code: HazardGrade(s.grade).label for s in sources if s.grade}
    assert grades == {"MHS-01": "二级", "MHS-02": "四级", "MHS-03": "二级", "MHS-04": "四级"}

    for duty in session.scalars(select(HazardSourceDuty)):
        assert duty.hazard_source_code in plant_sources

    chemical_cas = {c.cas for s in plant.hazard_sources for c in s.chemicals}
    assert set(session.scalars(select(Chemical.cas))) == chemical_cas

    (chlorination,) = session.scalars(select(HazardousProcess)).all()
    assert chlorination.equipment in equipment
    assert plant_sources[chlorination.hazard_source_code or ""].process == chlorination.name
    assert [p["tag"] for p in chlorination.key_parameters] == ["TT-401", "PT-401", "FT-401"]
    for parameter in chlorination.key_parameters:
        tag = tags[parameter["tag"]]
        assert tag.equipment == chlorination.equipment
        assert (parameter["ll"], parameter["l"], parameter["h"], parameter["hh"]) == (
            tag.limits.ll,
            tag.limits.l,
            tag.limits.h,
            tag.limits.hh,
        )

    for record in session.scalars(select(StartupShutdown)):
        assert record.equipment in equipment


def test_demo_assessment_shows_the_planted_overdue_duty(session: Session, plant: Plant) -> None:
    load_demo(session=session, plant=plant, today=TODAY)
    report = hazard_sources.assessment_report(session=session, first=date(2026, 10, 19), last=TODAY)
    overdue = [(c.source.code, c.rule.role.value) for c in report.overdue]
    assert overdue == [("MHS-02", "operational")]
