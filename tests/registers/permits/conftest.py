"""Fixtures of the permits tests: the demo crew on a migrated database, and a fixed clock."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy.orm import Session

from models.permit_rules import PLANT_TZ
from registers.permits.demo import Crew, ensure_crew

TODAY = date(2026, 12, 2)  # a Wednesday
START = datetime(2026, 12, 2, 9, 0, tzinfo=PLANT_TZ)  # working hours, a working day


@pytest.fixture
def crew(session: Session) -> Crew:
    return ensure_crew(session=session, today=TODAY)
