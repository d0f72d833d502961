"""The risk warning closed loop: one warning per episode of orange/red risk, dispatched, reported, closed; journaled."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from hypothesis import given, settings
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


def test_full_closed_loop_records_who_and_when(session: Session) -> None:
    outcome = warnings.on_score(session=session, score=score(RiskLevel.RED))
    assert outcome is not None
    w = outcome.warning
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
        ("raise", "raised", "raised", None),  # the system's entry: the score that opened it
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


# --- episodes: the risk.score stream applied to the register ---------------------------------


def scored(level: RiskLevel, ts: int, *factors: tuple[str, float], sid: str = "MHS-02") -> RiskScore:
    contributions = [Contribution(factor=f, value=v) for f, v in factors]
    return RiskScore(
        hazard_source_id=sid, ts=ts, level=level, score=sum(v for _, v in factors), contributions=contributions
    )


def scenario_scores() -> list[RiskScore]:
    """The demo plant's scripted scenario (tests/models/test_risk_scenario.py), one score per source and step."""
    from tests.models.test_risk_scenario import SCENARIO, run_scenario

    steps = run_scenario()
    return [
        msgspec.structs.replace(s, ts=T0 + i * 60_000)
        for i, (step, _) in enumerate(SCENARIO)
        for s in steps[step].values()
    ]


def test_scripted_scenario_opens_one_warning_per_source_and_episode(session: Session) -> None:
    changes = []
    for s in scenario_scores():
        outcome = warnings.on_score(session=session, score=s, rules_version="v1")
        if outcome is not None:
            changes.append((s.hazard_source_id, outcome.change.value, outcome.warning.to_level))
    # normal: nothing (MHS-01/03 are orange by their grade alone); gas alarm: 01 and 03 go red;
    # hot work: 02 and 04 orange; SIS bypass: 02 and 04 red (same warning); recovery: all cleared
    assert changes == [
        ("MHS-01", "raise", "red"),
        ("MHS-03", "raise", "red"),
        ("MHS-02", "raise", "orange"),
        ("MHS-04", "raise", "orange"),
        ("MHS-02", "escalate", "red"),
        ("MHS-04", "escalate", "red"),
        ("MHS-01", "clear", "red"),
        ("MHS-02", "clear", "red"),
        ("MHS-03", "clear", "red"),
        ("MHS-04", "clear", "red"),
    ]
    rows = {w.hazard_source_id: w for w in session.scalars(sa.select(RiskWarning))}
    assert len(rows) == 4
    assert (rows["MHS-01"].from_level, rows["MHS-01"].level) == ("orange", "orange")
    assert (rows["MHS-04"].from_level, rows["MHS-04"].to_level) == ("yellow", "red")
    reasons = msgspec.json.decode(rows["MHS-04"].reasons.encode())
    assert {r["factor"] for r in reasons} == {"INH.GRADE", "INH.PROCESS", "WORK.GRADE1", "SIS.BYPASS"}
    assert all(w.cleared_ts == T0 + 4 * 60_000 for w in rows.values())
    # cleared is not closed: the loop still wants its feedback (DOMAIN.md §3.3)
    assert {w.state for w in rows.values()} == {WarningState.RAISED.value}
    assert [st.action for st in rows["MHS-02"].steps] == ["raise", "escalate", "clear"]
    # the whole stream again (a replay after a crash): nothing changes
    assert all(warnings.on_score(session=session, score=s) is None for s in scenario_scores())
    assert session.scalar(sa.select(sa.func.count()).select_from(RiskWarning)) == 4


def test_a_new_rise_after_recovery_is_a_new_warning(session: Session) -> None:
    inh = ("INH.GRADE", 0.0)
    first = warnings.on_score(session=session, score=scored(RiskLevel.ORANGE, T0, inh, ("GAS.L1", 25), ("X", 25)))
    assert first is not None
    assert warnings.on_score(session=session, score=scored(RiskLevel.ORANGE, T0 + 1, inh, ("GAS.L1", 25))) is None
    assert warnings.on_score(session=session, score=scored(RiskLevel.BLUE, T0 + 2, inh)) is not None
    again = warnings.on_score(session=session, score=scored(RiskLevel.ORANGE, T0 + 3, inh, ("WORK.SPECIAL", 25)))
    assert again is not None and again.change is warnings.Change.RAISED and again.warning.id != first.warning.id
    assert warnings.ongoing(session=session, hazard_source_id="MHS-02") is again.warning
    page, total = warnings.list_warnings(session=session, ongoing_only=True)
    assert total == 1 and page == [again.warning]


@settings(deadline=None, max_examples=60)  # a scratch database per example: shared CI cores
@given(st.lists(st.tuples(st.sampled_from(list(RiskLevel)), st.booleans()), max_size=25))
def test_warnings_are_the_episodes_of_elevated_risk(steps: list[tuple[RiskLevel, bool]]) -> None:
    """Whatever the sequence: one warning per rising edge of 'orange or red because of a dynamic factor'."""
    engine = make_engine("sqlite://")
    Base.metadata.create_all(engine)  # an in-memory scratch database per example (the migration is tested above)
    with Session(engine) as session:
        elevated_before = False
        edges = 0
        for i, (level, dynamic) in enumerate(steps):
            factors = [("INH.GRADE", 50.0)] + ([("GAS.L1", 25.0)] if dynamic else [])
            warnings.on_score(session=session, score=scored(level, T0 + i, *factors))
            elevated = dynamic and level in (RiskLevel.ORANGE, RiskLevel.RED)
            edges += elevated and not elevated_before
            elevated_before = elevated
            ongoing = session.scalars(sa.select(RiskWarning).where(RiskWarning.cleared_ts.is_(None))).all()
            assert len(ongoing) == (1 if elevated else 0)
        assert session.scalar(sa.select(sa.func.count()).select_from(RiskWarning)) == edges
    engine.dispose()
