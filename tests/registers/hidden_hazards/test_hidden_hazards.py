"""The hidden-hazard closed loop: property tests of the state machine, escalation of overdue ones, the migration."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from connectors.notify import Channel, ChannelKind, SmsGatewayChannel
from models.investigation_schedule import LOCAL_TZ
from registers.db import Base
from registers.framework.service import InvalidInput, RegisterError
from registers.hidden_hazards import service as hh
from registers.hidden_hazards.models import HiddenHazard
from registers.hidden_hazards.scheduled import escalate_overdue
from registers.hidden_hazards.schemas import HazardCreate, HazardLevel, HazardUpdate
from registers.hidden_hazards.workflow import TRANSITIONS, HazardAction, HazardState, InvalidTransition
from registers.notifications import service as notifications
from tests.connectors.test_notify import LocalHttpReceiver
from tests.registers.on_duty import safety_manager_on_duty

MY_TABLES = {
    "hidden_hazards",
    "dp_risk_objects",
    "dp_risk_units",
    "dp_risk_events",
    "dp_control_measures",
    "dp_check_schedules",
    "dp_check_tasks",
    "inspection_points",
    "inspection_items",
    "inspection_routes",
    "inspection_plans",
    "inspection_tasks",
    "inspection_checkins",
    "inspection_readings",
    "exchange_outbox",
    "exchange_deliveries",
}


def new_hazard(session: Session, **kw: object) -> HiddenHazard:
    values: dict[str, object] = {"name": "储罐区消防通道堵塞", "liable_person": "li", "deadline": date(2026, 12, 10)}
    values.update(kw)
    return hh.report(session=session, data=HazardCreate.model_validate(values), actor="reporter")


def test_the_loop_register_submit_accept_records_who_and_when(session: Session) -> None:
    hazard = new_hazard(session)
    assert (hazard.state, hazard.registrant) == (HazardState.RECTIFYING, "reporter")
    with pytest.raises(InvalidTransition):
        hh.accept(session=session, hazard_id=hazard.id, comment="看过了", actor="manager")  # no verification yet
    hh.submit(session=session, hazard_id=hazard.id, note="已清理通道", actor="li")
    hh.reject(session=session, hazard_id=hazard.id, comment="仍有杂物", actor="manager")
    assert hazard.state == HazardState.RECTIFYING
    hh.submit(session=session, hazard_id=hazard.id, note="已彻底清理", actor="li")
    with pytest.raises(hh.NotResponsible):
        hh.accept(session=session, hazard_id=hazard.id, comment="自验", actor="li")
    hh.accept(session=session, hazard_id=hazard.id, comment="通道畅通，同意销号", actor="manager")
    assert (hazard.state, hazard.accepted_by, hazard.accept_comment) == (
        HazardState.ACCEPTED,
        "manager",
        "通道畅通，同意销号",
    )
    assert [s["action"] for s in hazard.steps] == ["登记", "提交验收", "验收不通过", "提交验收", "验收通过"]
    history = [v.action for v in hh.hazards.history(session=session, record_id=hazard.id)]
    assert history == ["create", "提交验收", "验收不通过", "提交验收", "验收通过"]
    # a PATCH cannot reopen or close (state is not an editable field), nor rewrite a closed hazard
    assert "state" not in HazardUpdate.model_fields
    with pytest.raises(InvalidInput):
        hh.hazards.update(
            session=session, record_id=hazard.id, data=HazardUpdate(deadline=date(2026, 11, 1)), actor="x"
        )
    assert hh.open_hazards(session=session) == []


def test_open_hazards_and_the_supervision_list(session: Session) -> None:
    new_hazard(session, area="tank_farm", deadline=date(2026, 12, 1))
    major = new_hazard(session, name="氯气泄漏报警仪失效", area="reaction_unit", level=HazardLevel.MAJOR)
    now = datetime(2026, 12, 3, 12, tzinfo=LOCAL_TZ)
    found = hh.open_hazards(session=session, now=now)
    assert [(h.area, h.overdue, h.level) for h in found] == [
        ("tank_farm", True, "一般隐患"),
        ("reaction_unit", False, "重大隐患"),
    ]
    assert [h.area for h in hh.open_hazards(session=session, area="reaction_unit", now=now)] == ["reaction_unit"]
    assert [h.id for h in hh.supervision_list(session=session)] == [major.id]


ACTORS = ["li", "manager", "other"]
steps = st.lists(st.tuples(st.sampled_from(HazardAction), st.sampled_from(ACTORS)), max_size=12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(calls=steps)
def test_no_sequence_of_calls_closes_a_hazard_without_verification(
    session: Session, calls: list[tuple[HazardAction, str]]
) -> None:
    """Whatever is called by whom, 已验收 is reached only through a submission by the responsible
    person followed by an acceptance by someone else, and a refused call changes nothing."""
    hazard = new_hazard(session)
    do = {HazardAction.SUBMIT: hh.submit, HazardAction.ACCEPT: hh.accept, HazardAction.REJECT: hh.reject}
    for action, actor in calls:
        before = (hazard.state, hazard.version, len(hazard.steps))
        text = {"note": "整改完成"} if action is HazardAction.SUBMIT else {"comment": "意见"}
        try:
            do[action](session=session, hazard_id=hazard.id, actor=actor, **text)
        except RegisterError:
            assert (hazard.state, hazard.version, len(hazard.steps)) == before
            continue
        assert TRANSITIONS[(before[0], action)] == hazard.state
        if hazard.rectified_by is not None:
            assert hazard.rectified_by == "li"
        if hazard.state == HazardState.ACCEPTED:
            assert hazard.accepted_by not in (None, hazard.rectified_by)
            assert hazard.accepted_at is not None and hazard.accept_comment
            actions = [s["action"] for s in hazard.steps]
            assert actions[-2:] == ["提交验收", "验收通过"]
            assert [s["by"] for s in hazard.steps[-2:]] == ["li", hazard.accepted_by]


@pytest.fixture
def sms() -> Iterator[LocalHttpReceiver]:
    server = LocalHttpReceiver(default=(200, {"code": 0})).start()
    yield server
    server.stop()


def test_an_overdue_hazard_is_escalated_once_to_the_safety_manager_on_duty(
    session: Session, sms: LocalHttpReceiver
) -> None:
    channels: dict[ChannelKind, Channel] = {
        ChannelKind.SMS: SmsGatewayChannel(f"{sms.url}/sms", success_path="code", success_value=0)
    }
    notifier = notifications.Notifier(channels=channels, sleep=lambda _s: None)
    safety_manager_on_duty(session)
    late = new_hazard(session, area="tank_farm", deadline=date(2026, 12, 1))
    new_hazard(session, name="未到期", deadline=date(2026, 12, 31))
    now = datetime(2026, 12, 3, 10, tzinfo=LOCAL_TZ).astimezone(UTC)

    escalated = escalate_overdue(session=session, notifier=notifier, now=now)
    assert [h.id for h in escalated] == [late.id]
    assert len(sms.requests) == 1
    assert "已逾期 2 天" in sms.requests[0].body.decode()
    assert late.escalated_at == now and late.steps[-1]["action"] == "逾期督办"
    assert escalate_overdue(session=session, notifier=notifier, now=now + timedelta(hours=1)) == []
    assert len(sms.requests) == 1
    rows, _ = notifications.list_deliveries(session=session)
    assert any(r.alarm_id == f"hidden_hazard:{late.id}" and r.status == "sent" for r in rows)
    for channel in channels.values():
        channel.close()


def test_migration_matches_the_models(session: Session) -> None:
    context = MigrationContext.configure(session.connection())
    diffs = [d for d in compare_metadata(context, Base.metadata) if _table_of(d) in MY_TABLES]
    assert diffs == []


def _table_of(diff: object) -> str | None:
    item = diff[0] if isinstance(diff, list) else diff
    assert isinstance(item, tuple)
    for part in item[1:]:
        if isinstance(part, str) and part in MY_TABLES:
            return part
        table = getattr(part, "table", part)
        name = getattr(table, "name", None)
        if name in MY_TABLES:
            return str(name)
    return None
