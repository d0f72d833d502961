"""The permission table: properties that must hold for every action and resource."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from registers.permissions import (
    READ_ONLY_ACTIONS,
    SECURITY_RESOURCES,
    WRITE_ACTIONS,
    Action,
    RoleName,
    can,
    grants,
)

known_actions = st.sampled_from([a.value for a in Action])
any_action = st.one_of(known_actions, st.text(max_size=20))
resources = st.one_of(
    st.sampled_from(["permit", "alarm", "hazard", "user", "role", "audit", "risk", "*", ""]),
    st.text(max_size=20),
)
roles = st.sampled_from([r.value for r in RoleName])


@given(action=any_action, resource=resources)
def test_regulator_never_gets_a_write_action(action: str, resource: str) -> None:
    if can(["regulator"], action, resource):
        assert action in READ_ONLY_ACTIONS


@given(action=any_action, resource=resources)
def test_admin_may_do_everything_but_accounts_and_audit(action: str, resource: str) -> None:
    assert can(["admin"], action, resource) == (resource not in SECURITY_RESOURCES)  # 三员分立 (issue 13)


@given(role=roles, action=known_actions, resource=st.sampled_from(sorted(SECURITY_RESOURCES)))
def test_only_security_admin_and_auditor_touch_accounts_and_audit(role: str, action: str, resource: str) -> None:
    if can([role], action, resource):
        assert role in {"security_admin", "auditor"}
    if role == "auditor" and can([role], action, resource):
        assert action in READ_ONLY_ACTIONS


@given(held=st.lists(roles, max_size=3), action=any_action, resource=resources)
def test_several_roles_grant_the_union(held: list[str], action: str, resource: str) -> None:
    assert can(held, action, resource) == any(can([r], action, resource) for r in held)


@given(junk=st.lists(st.text(max_size=12).filter(lambda r: r not in set(RoleName)), max_size=3))
def test_unknown_roles_grant_nothing(junk: list[str]) -> None:
    assert not any(can(junk, a, "permit") for a in Action)


def test_examples_from_the_plant() -> None:
    assert can(["operator"], "acknowledge", "alarm")
    assert not can(["operator"], "approve", "permit")
    assert can(["safety_manager"], "approve", "permit")
    assert can(["inspector"], "execute", "inspection")
    assert can(["pdm_engineer"], "execute", "pdm_model")
    assert not can(["analyst"], "update", "hazard")
    assert can(["regulator"], "read", "risk")
    assert not can(["regulator"], "read", "user")


def test_table_is_listable_and_regulator_is_read_only() -> None:
    table = grants()
    assert set(table) == {r.value for r in RoleName}
    assert all(set(actions) <= READ_ONLY_ACTIONS for actions in table["regulator"].values())
    assert WRITE_ACTIONS.isdisjoint(READ_ONLY_ACTIONS)
