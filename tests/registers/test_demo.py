"""The demo data set: loads into every register of ours, agrees with the plant model, loads once."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.hazard_identification import HazardGrade
from registers.certificates.models import Certificate, CertificateKind
from registers.demo import LOADERS, load_demo
from registers.hazard_sources import service as hazard_sources
from registers.hazard_sources.models import HazardSource, HazardSourceDuty, HazardSourceReport
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


def test_demo_issues_the_ended_months_reports_and_fills_the_certificates_ledger(session: Session, plant: Plant) -> None:
    """Issue 12: `safetwin demo` left 证照与报告 empty and no monthly 包保 report was stored."""
    counts = load_demo(session=session, plant=plant, today=TODAY)
    assert counts["certificate"] == 6 and counts["hazard_source_report"] == 2
    reports = session.scalars(select(HazardSourceReport).order_by(HazardSourceReport.first)).all()
    assert [r.period for r in reports] == ["2026-09", "2026-10"]  # today is 28 November
    # the duty records cover both months: only MHS-02's missed operational week could show, and it is in November
    assert all(r.sources == 4 and r.done == r.required and r.overdue == 0 for r in reports)
    certificates = session.scalars(select(Certificate)).all()
    assert {c.kind for c in certificates} == {k.value for k in CertificateKind}
    assert all(c.is_complete for c in certificates)
    expiring = [c for c in certificates if c.expiry_date and (c.expiry_date - TODAY).days <= 90]
    assert {c.kind for c in expiring} == {CertificateKind.SAFETY_LICENCE, CertificateKind.SAFETY_EVALUATION}
