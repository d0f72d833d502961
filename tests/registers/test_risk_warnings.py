"""The risk warning closed loop: raised once per level change, dispatched, reported, closed; every move journaled."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from models.contracts import Contribution, RiskLevel, RiskScore
from registers.db import Base, make_engine
from registers.risk_warnings import service as warnings
from registers.risk_warnings.models import RiskWarning
from registers.risk_warnings.workflow import (
    TRANSITIONS,
    Feedback,
    InvalidTransition,
    WarningAction,
    WarningState,
    allowed_actions,
    warning_next,
)

T0 = 1_780_000_000_000


def score(level: RiskLevel, ts: int = T0, sid: str = "MHS-02") -> RiskScore:
    return RiskScore(
        hazard_source_id=sid,
        ts=ts,
        level=level,
        score=60.0,
        contributions=[Contribution(factor="GAS.L1", value=25.0)],
    )


def test_migration_matches_the_models(database_url: str) -> None:
    engine = make_engine(database_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    engine.dispose()
    mine = [d for d in diff if "risk_warning" in repr(d)]
    assert mine == []


def test_level_change_raises_one_warning_and_same_level_none(session: Session) -> None:
    assert warnings.raise_for_change(session=session, previous=None, score=score(RiskLevel.ORANGE)) is None
    assert warnings.raise_for_change(session=session, previous=RiskLevel.ORANGE, score=score(RiskLevel.ORANGE)) is None
    first = warnings.raise_for_change(session=session, previous=RiskLevel.YELLOW, score=score(RiskLevel.ORANGE))
    again = warnings.raise_for_change(session=session, previous=RiskLevel.YELLOW, score=score(RiskLevel.ORANGE))
    assert first is not None and again is not None and first.id == again.id  # a replayed score raises nothing new
    assert session.scalar(sa.select(sa.func.count()).select_from(RiskWarning)) == 1
    assert first.state == WarningState.RAISED and '"GAS.L1"' in first.reasons


def test_full_closed_loop_records_who_and_when(session: Session) -> None:
    w = warnings.raise_for_change(session=session, previous=RiskLevel.ORANGE, score=score(RiskLevel.RED))
    assert w is not None
    warnings.dispatch(session=session, warning=w, actor="值班长")
    assert "监管部门" in w.dispatched_to  # red goes to the principal and the regulator
    with pytest.raises(warnings.IncompleteReport):
        warnings.report(
            session=session,
            warning=w,
            actor="张工",
            disposal="已关阀",
            cause=" ",
            measures="",
            feedback=Feedback.HANDLED,
        )
    warnings.report(
        session=session,
        warning=w,
        actor="张工",
        disposal="关闭泄漏点上游阀门，现场检测合格",
        cause="法兰垫片老化",
        measures="更换垫片，加密巡检",
        feedback=Feedback.HANDLED,
    )
    warnings.reject(session=session, warning=w, actor="安全经理", reason="补充现场照片")
    with pytest.raises(InvalidTransition):
        warnings.close(session=session, warning=w, actor="安全经理")
    warnings.report(
        session=session,
        warning=w,
        actor="张工",
        disposal="已补充照片",
        cause="法兰垫片老化",
        measures="更换垫片",
        feedback=Feedback.HANDLED,
    )
    warnings.close(session=session, warning=w, actor="安全经理")
    assert w.state == WarningState.CLOSED and w.closed_by == "安全经理" and w.closed_at is not None
    steps = [(s.action, s.from_state, s.to_state, s.actor) for s in w.steps]
    assert steps == [
        ("dispatch", "raised", "dispatched", "值班长"),
        ("report", "dispatched", "reported", "张工"),
        ("reject", "reported", "dispatched", "安全经理"),
        ("report", "dispatched", "reported", "张工"),
        ("close", "reported", "closed", "安全经理"),
    ]
    assert all(s.at is not None for s in w.steps)
    assert warnings.open_warnings(session=session) == []


@given(st.lists(st.sampled_from(list(WarningAction)), max_size=12))
def test_transition_table_is_the_only_truth(actions: list[Any]) -> None:
    state = WarningState.RAISED
    for action in actions:
        if (state, action) in TRANSITIONS:
            assert action in allowed_actions(TRANSITIONS, state)
            state = warning_next(state, action)
        else:
            with pytest.raises(InvalidTransition) as err:
                warning_next(state, action)
            assert "不能执行" in str(err.value)
    # closed is final: nothing leaves it
    assert allowed_actions(TRANSITIONS, WarningState.CLOSED) == []
