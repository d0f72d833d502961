"""Issue 12, register side: each defect reproduced as a user met it, then refused or fixed.

* hazard sources: Chinese names without CAS, LPG / natural gas / gasoline, S < 1 without β,
  overrides of Table 1 values, α only from Table 5 (also on PATCH), unit_kind in Chinese,
  the register and the twin agreeing on S / R / grade (one identification path);
* contractors: delete + re-create under the same 统一社会信用代码 does not clear a blacklist.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy.orm import Session

from registers.contractors import service as contractors
from registers.contractors.models import DocumentKind
from registers.contractors.schemas import ContractorCreate, ContractorUpdate, DocumentCreate
from registers.framework.service import InvalidInput
from registers.hazard_sources import service as hazard_sources
from registers.hazard_sources.schemas import HazardSourceCreate, HazardSourceUpdate
from twin.plant import DEMO_PLANT, load_plant

TODAY = date(2026, 12, 3)


def create(session: Session, **values: Any) -> Any:
    data: dict[str, Any] = {"code": "MHS-09", "name": "测试单元", "unit_kind": "storage", "alpha": 1.0}
    data.update(values)
    return hazard_sources.register.create(session=session, data=HazardSourceCreate.model_validate(data), actor="t")


def test_chinese_names_without_cas_and_chinese_unit_kind(session: Session) -> None:
    record = create(
        session,
        unit_kind="储存单元",
        chemicals=[{"name": "液氯", "quantity_t": 30}, {"name": "液化石油气", "quantity_t": 100}],
        alpha=None,
        exposed_population=60,
    )
    # 液氯 Q 5 β 4; LPG Q 50 β 1.5; α 1.5 (50–99 people): S = 6 + 2 = 8, R = 1.5 × (24 + 3) = 40.5 → 三级
    assert (record.unit_kind, record.s_value, record.r_value, record.grade) == ("storage", 8.0, 40.5, 3)
    assert [(c["critical_t"], c["beta"]) for c in record.chemicals] == [(5.0, 4.0), (50.0, 1.5)]
    read = hazard_sources.register.to_read(record)
    assert read.grade_label == "三级"
    assert "「液氯」 q=30 t，Q=5 t（表1第12项「氯」），q/Q=6，β=4" in read.explanation


@pytest.mark.parametrize(
    ("chemical", "q"),
    [
        ({"name": "丙烷", "cas": "74-98-6", "quantity_t": 100}, 50),
        ({"name": "丁烷", "cas": "106-97-8", "quantity_t": 100}, 50),
        ({"name": "天然气", "quantity_t": 100}, 50),
        ({"name": "汽油", "quantity_t": 100, "categories": ["W5.1"]}, 200),  # was the W5.1 value 10 t
        ({"name": "钠", "cas": "7440-23-5", "quantity_t": 100, "categories": ["W11"]}, 10),  # was 200 t
    ],
)
def test_mixtures_and_table_1_rows_that_were_refused_or_misread(
    session: Session, chemical: dict[str, Any], q: float
) -> None:
    record = create(session, chemicals=[chemical])
    assert record.chemicals[0]["critical_t"] == q
    assert record.s_value == 100 / q


def test_non_major_unit_is_identified_without_beta(session: Session) -> None:
    record = create(session, chemicals=[{"name": "苯", "cas": "71-43-2", "quantity_t": 20}])
    assert (record.s_value, record.is_major, record.grade, record.r_value) == (0.4, False, None, 0.0)
    read = hazard_sources.register.to_read(record)
    assert read.grade_label == "未构成"
    assert "S = Σq/Q = 0.4 < 1，不构成重大危险源" in read.explanation
    # raising the quantity to S ≥ 1 needs the category for β, on the chemicals field
    with pytest.raises(InvalidInput) as err:
        hazard_sources.register.update(
            session=session,
            record_id=record.id,
            data=HazardSourceUpdate(chemicals=[{"name": "苯", "quantity_t": 100}]),  # type: ignore[list-item]
            actor="t",
        )
    assert err.value.field == "chemicals"
    assert "构成重大危险源" in err.value.message and "「苯」" in err.value.message


def test_overrides_of_table_values_are_refused(session: Session) -> None:
    with pytest.raises(ValidationError, match="临界量为 5 t，不能改为 50 t"):
        HazardSourceCreate.model_validate(
            {
                "code": "MHS-09",
                "name": "液氯库",
                "unit_kind": "storage",
                "alpha": 1,
                "chemicals": [{"name": "氯", "cas": "7782-50-5", "quantity_t": 10, "critical_t": 50}],
            }
        )
    unlisted = {"name": "某溶剂", "cas": "1330-20-7", "quantity_t": 10, "critical_t": 20, "beta": 2}
    with pytest.raises(ValidationError, match="指定原因和审核人"):
        HazardSourceCreate.model_validate(
            {"code": "MHS-09", "name": "x", "unit_kind": "storage", "alpha": 1, "chemicals": [unlisted]}
        )
    record = create(session, chemicals=[{**unlisted, "override_reason": "评价报告取值", "override_reviewer": "李工"}])
    assert record.s_value == 0.5
    assert record.chemicals[0]["override_reviewer"] == "李工"


@pytest.mark.parametrize("alpha", [0.7, 1.1, 3.0, 10.0])
def test_alpha_outside_table_5_is_refused(alpha: float) -> None:
    with pytest.raises(ValidationError, match="不是表5的取值"):
        HazardSourceCreate.model_validate(
            {
                "code": "MHS-09",
                "name": "x",
                "unit_kind": "storage",
                "alpha": alpha,
                "chemicals": [{"name": "氯", "quantity_t": 1}],
            }
        )


def test_patch_of_alpha_is_not_silently_ignored_when_a_population_decides_it(session: Session) -> None:
    record = create(session, alpha=None, exposed_population=75, chemicals=[{"name": "氯", "quantity_t": 60}])
    assert (record.alpha, record.r_value) == (1.5, 72.0)
    with pytest.raises(InvalidInput, match="α 按表5为 1.5") as err:
        hazard_sources.register.update(
            session=session, record_id=record.id, data=HazardSourceUpdate(alpha=2.0), actor="t"
        )
    assert err.value.field == "alpha"
    with pytest.raises(ValidationError, match="与填写的 α=2.0 不符"):
        HazardSourceUpdate(alpha=2.0, exposed_population=10)
    # the population moves α; clearing it lets α be typed
    moved = hazard_sources.register.update(
        session=session, record_id=record.id, data=HazardSourceUpdate(exposed_population=120), actor="t"
    )
    assert (moved.alpha, moved.r_value, moved.grade) == (2.0, 96.0, 2)
    typed = hazard_sources.register.update(
        session=session, record_id=record.id, data=HazardSourceUpdate(exposed_population=None, alpha=0.5), actor="t"
    )
    assert (typed.alpha, typed.r_value) == (0.5, 24.0)


def test_register_and_twin_give_the_same_identification(session: Session) -> None:
    for spec in load_plant(DEMO_PLANT).hazard_sources:
        record = create(
            session,
            code=spec.id,
            unit_kind=spec.unit_kind,
            alpha=spec.alpha,
            chemicals=[{"name": c.name, "quantity_t": c.quantity_t} for c in spec.chemicals],  # names only
        )
        assert (record.s_value, record.r_value, record.grade) == (spec.s_index, spec.r_value, spec.grade)


def test_a_plant_file_with_a_wrong_q_does_not_load(tmp_path: Any) -> None:
    text = DEMO_PLANT.read_text(encoding="utf-8").replace(
        "{name: 氯, cas: 7782-50-5, quantity_t: 60, critical_t: 5, beta: 4}",
        "{name: 氯, cas: 7782-50-5, quantity_t: 60, critical_t: 50, beta: 4}",
    )
    path = tmp_path / "plant.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match="临界量为 5 t，不能改为 50 t"):
        load_plant(path)


# --- contractors: the blacklist survives deletion ----------------------------------------------


def _contractor(session: Session, code: str) -> int:
    return contractors.contractors.create(
        session=session, data=ContractorCreate(credit_code=code, name="华安检修"), actor="t"
    ).id


def test_blacklist_survives_delete_and_re_create(session: Session) -> None:
    cid = _contractor(session, "91440101MA5TEST01X")
    contractors.blacklist(session=session, contractor_id=cid, reason="无票动火", actor="m")
    contractors.contractors.soft_delete(session=session, record_id=cid, actor="m")
    # the bypass: same credit code (any case, any spaces), new row — refused on the credit code field
    for code in ("91440101MA5TEST01X", "91440101ma5test01x", " 91440101 MA5TEST01X "):
        with pytest.raises(InvalidInput, match="已列入黑名单.*无票动火") as err:
            _contractor(session, code)
        assert err.value.field == "credit_code"
    # nor can another contractor be renamed onto it
    other = _contractor(session, "91440101MA5OTHER2Y")
    with pytest.raises(InvalidInput, match="已列入黑名单"):
        contractors.contractors.update(
            session=session, record_id=other, data=ContractorUpdate(credit_code="91440101MA5TEST01X"), actor="m"
        )
    # restoring the record and lifting the blacklist is the way back
    contractors.contractors.restore(session=session, record_id=cid, actor="m")
    contractors.lift_blacklist(session=session, contractor_id=cid, reason="整改完成", actor="m")
    assert contractors.blacklist_entry(session=session, credit_code="91440101MA5TEST01X") is None


def test_a_blacklisted_contractor_keeps_its_credit_code(session: Session) -> None:
    cid = _contractor(session, "91440101MA5TEST01X")
    contractors.blacklist(session=session, contractor_id=cid, reason="无票动火", actor="m")
    with pytest.raises(InvalidInput, match="不能修改统一社会信用代码"):
        contractors.contractors.update(
            session=session, record_id=cid, data=ContractorUpdate(credit_code="91440101MA5NEW003Z"), actor="m"
        )


def test_a_row_entered_before_the_fix_is_still_blocked(session: Session) -> None:
    # a database upgraded from before the fix may already hold the re-created twin of a blacklisted row
    cid = _contractor(session, "91440101MA5TEST01X")
    contractors.blacklist(session=session, contractor_id=cid, reason="无票动火", actor="m")
    contractors.contractors.soft_delete(session=session, record_id=cid, actor="m")
    twin = contractors.contractors.create(
        session=session, data=ContractorCreate(credit_code="91440101MA5TWIN04Q", name="华安检修"), actor="t"
    )
    twin.credit_code = "91440101MA5TEST01X"  # as the old code let it be stored
    session.flush()
    for kind in (DocumentKind.QUALIFICATION, DocumentKind.SAFETY_AGREEMENT):
        contractors.documents.create(
            session=session,
            data=DocumentCreate(contractor_id=twin.id, kind=kind, expiry_date=TODAY + timedelta(days=365)),
            actor="t",
        )
    with pytest.raises(contractors.AdmissionRefused, match="已列入黑名单"):
        contractors.admit(
            session=session, contractor_id=twin.id, valid_until=TODAY + timedelta(days=90), on=TODAY, actor="m"
        )
    allowed, reason = contractors.may_issue_permit(session=session, contractor_id=twin.id, on=TODAY)
    assert not allowed
    assert "已列入黑名单" in reason


def test_demo_chlorine_detector_alarms_at_gb_t_50493_levels() -> None:
    # GB/T 50493-2019: toxic gas first alarm ≤ 100 % OEL, second ≤ 200 % OEL. Cl₂ OEL (GBZ 2.1) is
    # MAC 1 mg/m³; at 25 °C, 101.3 kPa 1 ppm Cl₂ = 70.9 / 24.45 mg/m³, so the OEL is 0.345 ppm.
    oel_ppm = 1 * 24.45 / 70.9
    detector = load_plant(DEMO_PLANT).tag("AT-301")
    assert detector.unit == "ppm"
    assert detector.limits.h is not None
    assert detector.limits.hh is not None
    assert detector.limits.h <= oel_ppm
    assert detector.limits.hh <= 2 * oel_ppm
    assert detector.limits.h < detector.limits.hh
