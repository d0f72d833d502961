"""The production process registers: hazardous processes with key parameters, chemicals (MSDS), start-ups."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError
from sqlalchemy.orm import Session

from registers.framework.service import DuplicateValue
from registers.process import service as process
from registers.process.schemas import (
    ChemicalCreate,
    ChemicalUpdate,
    HazardousProcessCreate,
    HazardousProcessUpdate,
    StartupShutdownCreate,
)
from twin.plant import DEMO_PLANT, load_plant


def test_process_parameters_come_from_the_plant_tags(session: Session) -> None:
    parameters = process.parameters_from_plant(load_plant(DEMO_PLANT), ["TT-401", "PT-401", "FT-401"])
    record = process.processes.create(
        session=session,
        data=HazardousProcessCreate(
            name="氯化工艺",
            reaction_type="放热反应",
            hazard_source_code="MHS-04",
            equipment="R-401",
            key_parameters=parameters,
        ),
        actor="safety.li",
    )
    assert record.key_parameters[0] == {
        "tag": "TT-401",
        "name": "反应釜温度",
        "unit": "°C",
        "ll": 40.0,
        "l": 50.0,
        "h": 85.0,
        "hh": 95.0,
    }
    assert record.key_parameters[2]["hh"] == 680.0  # FT-401 chlorine feed
    changed = [{**record.key_parameters[0], "hh": 92.0}]
    updated = process.processes.update(
        session=session,
        record_id=record.id,
        data=HazardousProcessUpdate.model_validate({"key_parameters": changed}),
        actor="safety.li",
    )
    assert updated.version == 2
    (entry,) = [h for h in process.processes.history(session=session, record_id=record.id) if h.action == "update"]
    assert entry.changes["key_parameters"][1][0]["hh"] == 92.0


def test_parameter_limits_must_be_ordered() -> None:
    with pytest.raises(ValidationError, match="ll < l < h < hh"):
        HazardousProcessCreate.model_validate(
            {
                "name": "氯化工艺",
                "reaction_type": "放热",
                "key_parameters": [{"tag": "TT-401", "name": "温度", "h": 95, "hh": 85}],
            }
        )
    with pytest.raises(KeyError):
        process.parameters_from_plant(load_plant(DEMO_PLANT), ["TT-999"])


def test_chemicals_are_one_per_cas_and_checked(session: Session) -> None:
    methanol = ChemicalCreate(name="甲醇", cas="67-56-1", flash_point_c=11, lel_pct=6.0, uel_pct=36.5, pc_twa_mg_m3=25)
    record = process.chemicals.create(session=session, data=methanol, actor="safety.li")
    with pytest.raises(DuplicateValue, match="67-56-1"):
        process.chemicals.create(session=session, data=methanol, actor="safety.li")
    updated = process.chemicals.update(
        session=session, record_id=record.id, data=ChemicalUpdate(pc_stel_mg_m3=50), actor="safety.li"
    )
    assert (updated.pc_twa_mg_m3, updated.pc_stel_mg_m3) == (25.0, 50.0)
    assert process.chemicals.list(session=session, q="67-56").total == 1
    with pytest.raises(ValidationError, match="LEL"):
        ChemicalCreate(name="x", cas="67-56-1", lel_pct=40, uel_pct=6)
    with pytest.raises(ValidationError, match="cas"):
        ChemicalCreate(name="x", cas="not-a-cas")


def test_startup_shutdown_records(session: Session) -> None:
    start = datetime(2026, 10, 20, 0, 0, tzinfo=UTC)
    record = process.startups.create(
        session=session,
        data=StartupShutdownCreate(unit="氯化反应装置", equipment="R-401", kind="startup", started_at=start),  # type: ignore[arg-type]
        actor="sun.ming",
    )
    session.expire_all()
    assert process.startups.get(session=session, record_id=record.id).started_at == start
    assert process.startups.list(session=session, filters={"kind": "startup"}).total == 1
    with pytest.raises(ValidationError, match="finished_at"):
        StartupShutdownCreate(
            unit="u",
            kind="shutdown",
            started_at=start,
            finished_at=datetime(2026, 10, 19, tzinfo=UTC),  # type: ignore[arg-type]
        )
    with pytest.raises(ValidationError, match="time zone"):
        StartupShutdownCreate(unit="u", kind="shutdown", started_at=datetime(2026, 10, 19))  # type: ignore[arg-type]  # noqa: DTZ001
