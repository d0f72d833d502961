"""Password policy beyond complexity (common passwords, history, expiry) and session versions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from registers.db import utcnow
from registers.users import service as users
from registers.users.common_passwords import COMMON_WORDS
from registers.users.models import User

PASSWORD = "Chlorine-Tank-42"
NEXT = ["Valve-Seat-01", "Valve-Seat-02", "Valve-Seat-03", "Valve-Seat-04", "Valve-Seat-05", "Valve-Seat-06"]


def make_user(session: Session, username: str = "li.si") -> User:
    return users.create_user(session=session, username=username, password=PASSWORD, roles=["operator"])


@pytest.mark.parametrize(
    "password",
    ["Password1", "P@ssw0rd", "Qwerty123", "Admin@123", "Welcome2024!", "1qaz2wsx!Q", "Woaini1314!", "Aaaaaaa1!"],
)
def test_well_known_passwords_are_refused(password: str) -> None:
    with pytest.raises(users.PasswordPolicyError, match="too common"):
        users.check_password_policy(password, username="li.si")


@given(
    word=st.sampled_from(sorted(w for w in COMMON_WORDS if len(w) >= 4)),
    suffix=st.sampled_from(["1!", "@2024", "#123"]),
)
def test_a_common_word_dressed_up_is_still_refused(word: str, suffix: str) -> None:
    with pytest.raises(users.PasswordPolicyError):
        users.check_password_policy(word.capitalize() + suffix)


@pytest.mark.slow  # about 40 argon2 verifications
def test_the_last_five_passwords_cannot_be_reused(session: Session) -> None:
    user = make_user(session)
    for password in NEXT[:5]:
        users.set_password(session=session, user=user, password=password, actor="sec")
    for old in [PASSWORD, *NEXT[:5]]:  # the current one and the five before it
        with pytest.raises(users.PasswordPolicyError, match="last 5"):
            users.set_password(session=session, user=user, password=old, actor="sec")
    users.set_password(session=session, user=user, password=NEXT[5], actor="sec")
    users.set_password(session=session, user=user, password=PASSWORD, actor="sec")  # six changes ago: allowed again


def test_own_change_cannot_go_back_to_a_previous_password(session: Session) -> None:
    user = make_user(session)
    users.change_password(session=session, user=user, current_password=PASSWORD, new_password=NEXT[0])
    with pytest.raises(users.PasswordPolicyError, match="last 5"):
        users.change_password(session=session, user=user, current_password=NEXT[0], new_password=PASSWORD)


def test_password_password_and_role_changes_bump_the_token_version(session: Session) -> None:
    user = make_user(session)
    assert user.token_version == 0
    users.set_password(session=session, user=user, password=NEXT[0])
    assert user.token_version == 1
    users.update_user(session=session, user=user, actor="sec", display_name="李四")
    assert user.token_version == 1  # a name is not a right
    users.update_user(session=session, user=user, actor="sec", roles=["inspector"])
    assert user.token_version == 2
    users.update_user(session=session, user=user, actor="sec", is_active=False)
    assert user.token_version == 3
    users.end_sessions(session=session, user=user)
    assert user.token_version == 4
    with pytest.raises(users.UnknownRole):
        users.update_user(session=session, user=user, actor="sec", roles=["root"])


def test_password_expiry(session: Session) -> None:
    user = make_user(session)
    now = utcnow()
    assert not users.password_expired(user, max_age_days=90, now=now)
    assert users.password_expired(user, max_age_days=90, now=now + timedelta(days=91))
    assert not users.password_expired(user, max_age_days=0, now=now + timedelta(days=9999))
    users.set_password(session=session, user=user, password=NEXT[0], now=now + timedelta(days=91))
    assert not users.password_expired(user, max_age_days=90, now=now + timedelta(days=92))


def test_revoked_tokens(session: Session) -> None:
    make_user(session)
    users.revoke_token(session=session, jti="abc", username="li.si", expires_at=utcnow() + timedelta(minutes=5))
    users.revoke_token(session=session, jti="abc", username="li.si", expires_at=utcnow() + timedelta(minutes=5))
    users.revoke_token(session=session, jti="old", username="li.si", expires_at=utcnow() - timedelta(minutes=5))
    assert users.is_revoked(session=session, jti="abc")
    assert not users.is_revoked(session=session, jti="other")
    users.revoke_token(session=session, jti="new", username="li.si", expires_at=utcnow() + timedelta(minutes=5))
    assert not users.is_revoked(session=session, jti="old")  # expired revocations are purged


def test_built_in_accounts_of_the_three_roles(session: Session) -> None:
    created = {
        name: users.ensure_demo_admin(session=session, username=name, role=role, must_change=False)
        for name, role in [("admin", "admin"), ("secadmin", "security_admin"), ("auditor", "auditor")]
    }
    assert all(created.values())
    assert len(set(created.values())) == 3
    auditor = users.get_by_username(session=session, username="auditor")
    assert auditor is not None
    assert auditor.role_names == ["auditor"]
    assert not auditor.must_change_password
