"""Filter values the database cannot hold are a 422-style InvalidQuery, never a crash."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from registers.equipment import service as equipment
from registers.framework.service import InvalidQuery


@pytest.mark.parametrize("value", ["9223372036854775808", "-9223372036854775809", "two"])
def test_integer_filter_out_of_64_bit_range_is_refused(session: Session, value: str) -> None:
    with pytest.raises(InvalidQuery, match="sil"):
        equipment.interlocks.list(session=session, filters={"sil": value})


def test_integer_filter_in_range_works(session: Session) -> None:
    assert equipment.interlocks.list(session=session, filters={"sil": "2"}).total == 0


def test_datetime_filter_is_parsed_and_needs_a_time_zone() -> None:
    bypasses = equipment.bypasses
    assert bypasses.python_type("planned_start").__name__ == "datetime"
    with pytest.raises(InvalidQuery, match="planned_start"):
        bypasses._filter_conditions({"planned_start__gte": "2026-11-28T08:00:00"})  # naive: ambiguous
    assert bypasses._filter_conditions({"planned_start__gte": "2026-11-28T08:00:00+08:00"})
