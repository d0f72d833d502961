"""Two requests changing the same register record at once, on SQLite and PostgreSQL.

Found under load (``bench/api_load.py``, 5 minutes of the business mix): now and then a
``PATCH /api/v1/certificates/{id}`` answered 500. Two PATCHes of one certificate read the
same version, both wrote ``version + 1`` and the second history row collided with the first
on ``uq_register_versions_record_version`` (IntegrityError), and the first change was lost
meanwhile. A change now reads its record under a lock (``SELECT ... FOR UPDATE``; SQLite's
write lock), so the second waits for the first and builds on it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from registers.certificates.models import Certificate
from registers.certificates.schemas import CertificateCreate, CertificateUpdate
from registers.certificates.service import register
from registers.framework.models import RecordVersion
from registers.framework.service import VersionConflict


def _certificate(factory: sessionmaker[Session]) -> int:
    data = CertificateCreate.model_validate(
        {"kind": "安全生产许可证", "number": "RACE-1", "holder": "南方化工", "expiry_date": date(2030, 1, 1)}
    )
    with factory.begin() as session:
        return register.create(session=session, data=data, actor="setup").id


def _race(
    factory: sessionmaker[Session], first: Callable[[Session], Any], second: Callable[[Session], Any]
) -> list[BaseException | None]:
    """``first`` changes the record and holds its transaction open while ``second`` starts; then both commit."""
    first_flushed = threading.Event()
    outcome: list[BaseException | None] = [None, None]

    def run(index: int, change: Callable[[Session], Any]) -> None:
        try:
            with factory() as session:
                change(session)
                if index == 0:
                    first_flushed.set()
                    # long enough for the second to read the record and wait on the row
                    threading.Event().wait(0.5)
                session.commit()
        except BaseException as err:  # noqa: BLE001 - reported to the test
            outcome[index] = err
        finally:
            first_flushed.set()

    a = threading.Thread(target=run, args=(0, first))
    a.start()
    assert first_flushed.wait(30)
    b = threading.Thread(target=run, args=(1, second))
    b.start()
    a.join(60)
    b.join(60)
    return outcome


def _versions(factory: sessionmaker[Session], record_id: int) -> list[int]:
    with factory() as session:
        stmt = sa.select(RecordVersion.version).where(
            RecordVersion.record_id == record_id, RecordVersion.register == register.name
        )
        return sorted(session.scalars(stmt))


def test_two_concurrent_updates_of_one_record_both_apply(factory: sessionmaker[Session]) -> None:
    record_id = _certificate(factory)

    def change(field: str, value: str) -> Callable[[Session], Any]:
        data = CertificateUpdate.model_validate({field: value})
        return lambda session: register.update(session=session, record_id=record_id, data=data, actor=field)

    errors = _race(factory, change("remarks", "第一次修改"), change("holder", "北方化工"))

    assert errors == [None, None]
    with factory() as session:
        record = session.get_one(Certificate, record_id)
        # neither change lost, and the version counted both
        assert (record.remarks, record.holder, record.version) == ("第一次修改", "北方化工", 3)
    assert _versions(factory, record_id) == [1, 2, 3]


def test_two_concurrent_updates_expecting_the_same_version_one_conflicts(factory: sessionmaker[Session]) -> None:
    record_id = _certificate(factory)

    def change(value: str) -> Callable[[Session], Any]:
        data = CertificateUpdate(remarks=value)
        return lambda session: register.update(
            session=session, record_id=record_id, data=data, actor="x", expected_version=1
        )

    errors = _race(factory, change("甲"), change("乙"))

    assert errors[0] is None
    assert isinstance(errors[1], VersionConflict), errors[1]  # 409, not a 500 and not a lost update
    with factory() as session:
        assert session.get_one(Certificate, record_id).remarks == "甲"
    assert _versions(factory, record_id) == [1, 2]


def test_delete_racing_an_update_keeps_history_consistent(factory: sessionmaker[Session]) -> None:
    record_id = _certificate(factory)
    update = CertificateUpdate(remarks="删除前修改")

    errors = _race(
        factory,
        lambda session: register.update(session=session, record_id=record_id, data=update, actor="a"),
        lambda session: register.soft_delete(session=session, record_id=record_id, actor="b"),
    )

    assert errors == [None, None]
    with factory() as session:
        record = session.get_one(Certificate, record_id)
        assert (record.remarks, record.deleted_by, record.version) == ("删除前修改", "b", 3)
    assert _versions(factory, record_id) == [1, 2, 3]
