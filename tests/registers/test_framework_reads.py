"""``list_read`` / ``get_read`` (the API's column reads) answer exactly what ``list`` / ``get`` + ``to_read`` do."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy.orm import Session

from registers.certificates.schemas import CertificateCreate, CertificateUpdate
from registers.certificates.service import register as certificates
from registers.framework.service import InvalidQuery, RecordNotFound


def _seed(session: Session) -> list[int]:
    ids = []
    for i in range(7):
        data = CertificateCreate.model_validate(
            {
                "kind": "安全生产许可证" if i % 2 else "安全评价报告",
                "number": f"R-{i}",
                "holder": f"持证单位 {i % 3}",
                "expiry_date": date(2030, 1, 1 + i) if i != 3 else None,
            }
        )
        ids.append(certificates.create(session=session, data=data, actor="tester").id)
    certificates.soft_delete(session=session, record_id=ids[5], actor="tester")
    certificates.update(session=session, record_id=ids[1], data=CertificateUpdate(remarks="改"), actor="tester")
    return ids


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"sort": "-expiry_date", "size": 2, "page": 2},
        {"filters": {"kind": "安全生产许可证"}, "sort": "holder,-id"},
        {"filters": {"expiry_date__gte": "2030-01-03"}, "q": "R"},
        {"include_deleted": True, "size": 3, "page": 3},
        {"page": 50},
    ],
)
def test_list_read_is_the_list_as_read_schema(session: Session, query: dict[str, Any]) -> None:
    _seed(session)
    assert certificates._read_fields is not None  # the column path is the one under test
    expected = certificates.list(session=session, **query)
    page = certificates.list_read(session=session, **query)
    assert page.total == expected.total and (page.page, page.size) == (expected.page, expected.size)
    assert [r.model_dump() for r in page.items] == [certificates.to_read(r).model_dump() for r in expected.items]


def test_list_read_binds_each_calls_values_into_a_shared_statement(session: Session) -> None:
    """The page statement is kept per shape (filters, words, sort): each call's values must count."""
    _seed(session)
    certificates.create(
        session=session,
        data=CertificateCreate.model_validate({"kind": "安全评价报告", "number": "R-100%_x", "holder": "单位 甲"}),
        actor="tester",
    )
    calls: list[dict[str, Any]] = [
        {"filters": {"kind": "安全生产许可证"}, "sort": "-expiry_date", "size": 2, "page": 1},
        {"filters": {"kind": "安全评价报告"}, "sort": "-expiry_date", "size": 2, "page": 1},
        {"filters": {"kind": "安全评价报告"}, "sort": "-expiry_date", "size": 2, "page": 2},
        {"filters": {"kind": "安全评价报告"}, "sort": "-expiry_date", "size": 2, "page": 9},  # past the end
        {"filters": {"kind": "危险化学品登记证"}, "sort": "-expiry_date", "size": 2, "page": 1},  # none at all
        {"q": "R- 单位", "sort": "number"},
        {"q": "R- 持证", "sort": "number"},
        {"q": "100%_"},  # wildcards are literal
        {"q": "100%x"},
        {"filters": {"expiry_date__gte": "2030-01-03", "expiry_date__lte": "2030-01-05"}},
        {"filters": {"expiry_date__gte": "2030-01-01", "expiry_date__lte": "2030-01-02"}},
    ]
    for query in calls * 2:
        expected = certificates.list(session=session, **query)
        page = certificates.list_read(session=session, **query)
        assert page.total == expected.total, query
        assert [r.number for r in page.items] == [r.number for r in expected.items], query
    assert certificates.list_read(session=session, q="100%_").total == 1
    assert certificates.list_read(session=session, q="100%x").total == 0
    assert certificates.list_read(session=session, filters={"kind": "安全评价报告"}, size=2, page=9).total == 5


def test_list_read_refuses_what_list_refuses(session: Session) -> None:
    for bad in ({"page": 0}, {"size": 0}, {"sort": "nope"}, {"filters": {"nope": 1}}, {"q": "a\x00"}):
        with pytest.raises(InvalidQuery):
            certificates.list_read(session=session, **bad)  # type: ignore[arg-type]


def test_get_read_is_get_as_read_schema(session: Session) -> None:
    ids = _seed(session)
    for record_id in (ids[0], ids[1], ids[3]):
        expected = certificates.to_read(certificates.get(session=session, record_id=record_id))
        assert certificates.get_read(session=session, record_id=record_id).model_dump() == expected.model_dump()
    with pytest.raises(RecordNotFound):
        certificates.get_read(session=session, record_id=ids[5])  # soft-deleted
    with pytest.raises(RecordNotFound):
        certificates.get_read(session=session, record_id=999_999)


def test_get_read_sees_unflushed_changes(session: Session) -> None:
    ids = _seed(session)
    record = certificates.get(session=session, record_id=ids[0])
    record.remarks = "未刷新"
    assert certificates.get_read(session=session, record_id=ids[0]).remarks == "未刷新"
