"""A yes/no column imported the way a Chinese ledger writes it.

The import template says 应为 是/否 for a yes/no column, yet a cell reading 是 was refused
with that very message (only Excel's TRUE/FALSE or true/false passed).
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from registers.framework.importing import ImportFailed, import_file
from registers.people.models import Person
from registers.people.service import persons


def _csv(*rows: str) -> bytes:
    return ("\n".join(["人员编号 / 工号,姓名,分管负责人,化学/化工/安全相关专业", *rows]) + "\n").encode()


def test_yes_and_no_in_chinese_import_as_booleans(session: Session) -> None:
    content = _csv("P-1,王建国,是,否", "P-2,李明,否,是", "P-3,赵四,√,×", "P-4,钱五,TRUE,false")
    report = import_file(persons, session=session, content=content, filename="人员.csv", actor="hr")
    assert report.imported == 4
    got = {p.code: (p.key_manager, p.related_major) for p in session.scalars(sa.select(Person))}
    assert got == {"P-1": (True, False), "P-2": (False, True), "P-3": (True, False), "P-4": (True, False)}


def test_anything_else_in_a_yes_no_column_is_a_row_error_naming_it(session: Session) -> None:
    with pytest.raises(ImportFailed) as failed:
        import_file(persons, session=session, content=_csv("P-1,王建国,也许,否"), filename="人员.csv", actor="hr")
    (error,) = failed.value.report.errors
    assert (error.row, error.message.split(" / ")[0]) == (2, "应为 是/否")
    assert session.scalar(sa.select(sa.func.count()).select_from(Person)) == 0
