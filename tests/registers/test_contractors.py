"""Contractors: the workflow table (Hypothesis), admission rules, blacklist, permit gate, evaluation."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from registers.contractors import evaluation, service
from registers.contractors.models import DocumentKind, Severity
from registers.contractors.schemas import ContractorCreate, DocumentCreate, ViolationCreate
from registers.contractors.workflow import (
    TRANSITIONS,
    ContractorEvent,
    ContractorStatus,
    InvalidTransition,
    allowed_events,
    transition,
)
from registers.people import service as people
from registers.people.models import PersonCategory
from registers.people.schemas import PersonCreate

TODAY = date(2026, 11, 28)
S, E = ContractorStatus, ContractorEvent


# --- workflow -----------------------------------------------------------------------------


@given(st.lists(st.sampled_from(list(ContractorEvent)), max_size=30))
def test_every_run_follows_the_table(events: list[ContractorEvent]) -> None:
    state = S.APPLIED
    for event in events:
        if (state, event) in TRANSITIONS:
            after = transition(state, event)
            assert after == TRANSITIONS[(state, event)]
            if after == S.ON_SITE:
                assert state in (S.ADMITTED, S.ON_SITE)  # nobody enters without admission
            if state == S.BLACKLISTED:
                assert event == E.LIFT and after == S.EXITED  # a blacklist is left only by lifting it
            state = after
        else:
            with pytest.raises(InvalidTransition):
                transition(state, event)
    assert state in set(S)


@given(st.sampled_from(list(ContractorStatus)))
def test_allowed_events_are_exactly_the_table_rows(state: ContractorStatus) -> None:
    allowed = allowed_events(state)
    for event in ContractorEvent:
        assert (event in allowed) == ((state, event) in TRANSITIONS)


def test_blacklisted_cannot_be_admitted_or_enter() -> None:
    for event in (E.ADMIT, E.ENTER, E.RENEW, E.REAPPLY):
        with pytest.raises(InvalidTransition, match="黑名单"):
            transition(S.BLACKLISTED, event)


# --- evaluation -----------------------------------------------------------------------------

scores = st.fixed_dictionaries({c.key: st.floats(0, 100) for c in evaluation.CRITERIA})


def test_weights_sum_to_one() -> None:
    assert sum(c.weight for c in evaluation.CRITERIA) == pytest.approx(1.0)


@given(scores)
def test_total_is_within_0_and_100_and_graded(values: dict[str, float]) -> None:
    result = evaluation.evaluate(values)
    assert 0 <= result.total <= 100
    assert result.grade == evaluation.grade_for(result.total)


@given(scores, st.sampled_from([c.key for c in evaluation.CRITERIA]), st.floats(0, 100))
def test_raising_one_score_never_lowers_the_total(values: dict[str, float], key: str, more: float) -> None:
    higher = dict(values, **{key: max(values[key], more)})
    assert evaluation.evaluate(higher).total >= evaluation.evaluate(values).total


def test_perfect_scores_and_veto() -> None:
    perfect = {c.key: 100.0 for c in evaluation.CRITERIA}
    assert (evaluation.evaluate(perfect).total, evaluation.evaluate(perfect).grade) == (100.0, "优秀")
    vetoed = evaluation.evaluate(perfect, veto="死亡事故")
    assert (vetoed.grade, vetoed.vetoed) == ("不合格", "死亡事故")
    with pytest.raises(ValueError, match="评价项不完整"):
        evaluation.evaluate({"safety_management": 90})
    with pytest.raises(ValueError, match="0–100"):
        evaluation.evaluate(dict(perfect, qualification=101))


# --- service --------------------------------------------------------------------------------


def contractor(session: Session, code: str = "91440101MA5TEST01X") -> int:
    return service.contractors.create(
        session=session, data=ContractorCreate(credit_code=code, name="华安检修"), actor="t"
    ).id


def document(session: Session, cid: int, kind: DocumentKind, expiry: date) -> None:
    service.documents.create(
        session=session, data=DocumentCreate(contractor_id=cid, kind=kind, expiry_date=expiry), actor="t"
    )


def test_admission_needs_valid_documents_and_entry_needs_people(session: Session) -> None:
    cid = contractor(session)
    with pytest.raises(service.AdmissionRefused) as refused:
        service.admit(session=session, contractor_id=cid, valid_until=TODAY + timedelta(days=90), on=TODAY, actor="m")
    assert refused.value.reasons == ["缺少有效的资质证书", "缺少有效的安全管理协议"]
    document(session, cid, DocumentKind.QUALIFICATION, TODAY + timedelta(days=365))
    document(session, cid, DocumentKind.SAFETY_AGREEMENT, TODAY - timedelta(days=1))  # expired yesterday
    with pytest.raises(service.AdmissionRefused, match="安全管理协议"):
        service.admit(session=session, contractor_id=cid, valid_until=TODAY + timedelta(days=90), on=TODAY, actor="m")
    document(session, cid, DocumentKind.SAFETY_AGREEMENT, TODAY + timedelta(days=180))
    record = service.admit(
        session=session, contractor_id=cid, valid_until=TODAY + timedelta(days=90), on=TODAY, actor="m"
    )
    assert record.status == S.ADMITTED
    assert service.may_issue_permit(session=session, contractor_id=cid, on=TODAY) == (
        False,
        "承包商「华安检修」状态为「已准入」，未办理入场",
    )
    with pytest.raises(service.AdmissionRefused, match="未登记承包商作业人员"):
        service.enter(session=session, contractor_id=cid, on=TODAY, actor="m")
    people.persons.create(
        session=session,
        data=PersonCreate(code="C1", name="吴刚", category=PersonCategory.CONTRACTOR_STAFF, contractor_id=cid),
        actor="t",
    )
    service.enter(session=session, contractor_id=cid, on=TODAY, actor="m")
    assert service.may_issue_permit(session=session, contractor_id=cid, on=TODAY)[0]
    late = TODAY + timedelta(days=91)
    assert service.may_issue_permit(session=session, contractor_id=cid, on=late)[1].endswith("过期")
    history = service.contractors.history(session=session, record_id=cid)
    assert [h.action for h in history] == ["create", "准入", "入场"]
    assert history[1].changes["status"] == ["申请中", "已准入"]


def test_blacklist_blocks_admission_and_permits(session: Session) -> None:
    cid = contractor(session)
    service.blacklist(session=session, contractor_id=cid, reason="无票动火", actor="m")
    allowed, reason = service.may_issue_permit(session=session, contractor_id=cid, on=TODAY)
    assert (allowed, reason) == (False, "承包商「华安检修」已列入黑名单：无票动火")
    with pytest.raises(InvalidTransition):
        service.admit(session=session, contractor_id=cid, valid_until=TODAY + timedelta(days=9), on=TODAY, actor="m")
    lifted = service.lift_blacklist(session=session, contractor_id=cid, reason="整改完成", actor="m")
    assert (lifted.status, lifted.blacklist_reason) == (S.EXITED, None)
    assert service.may_issue_permit(session=session, contractor_id=987654) == (False, "承包商 #987654 不存在")


def test_evaluation_is_stored_and_vetoed_by_a_fatal_incident(session: Session) -> None:
    cid = contractor(session)
    good = {c.key: 90.0 for c in evaluation.CRITERIA}
    row = service.evaluate(session=session, contractor_id=cid, period="2026Q3", scores=good, on=TODAY, actor="m")
    assert (row.total, row.grade, row.vetoed) == (90.0, "优秀", None)
    service.violations.create(
        session=session,
        data=ViolationCreate(
            contractor_id=cid,
            occurred_on=TODAY - timedelta(days=20),
            severity=Severity.FATAL,
            description="高处坠落",
            kind="事故",
        ),
        actor="t",
    )
    row = service.evaluate(session=session, contractor_id=cid, period="2026Q4", scores=good, on=TODAY, actor="m")
    assert row.grade == "不合格" and row.vetoed is not None and "死亡" in row.vetoed
    file = service.file_of(session=session, contractor_id=cid)
    assert (len(file.evaluations), len(file.violations), file.contractor.last_grade) == (2, 1, "不合格")
