"""A :class:`Register` whose id columns must name live records of other registers.

Why: ``person_certificates.person_id`` or ``contractor_documents.contractor_id`` that names
no (live) row would surface as a database IntegrityError, i.e. a 500, on PostgreSQL and
SQLite alike; checked here it is a 422 naming the field, and a soft-deleted parent counts as
absent. (The framework's Excel import inserts without calling ``create``; until the framework
offers a reference check of its own, the database's foreign keys still refuse such rows.)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from registers.framework.models import RegisterMixin
from registers.framework.service import InvalidInput, Register

M = TypeVar("M", bound=RegisterMixin)
C = TypeVar("C", bound=BaseModel)
U = TypeVar("U", bound=BaseModel)
R = TypeVar("R", bound=BaseModel)


@dataclass(frozen=True, eq=False)
class ReferencingRegister(Register[M, C, U, R]):
    """A register plus ``references`` (field -> the model whose live row it must name) and a whole-record ``check``."""

    references: Mapping[str, type[RegisterMixin]] = field(default_factory=dict)
    check: Callable[[Mapping[str, Any]], None] | None = None  # whole-record rule; raises InvalidInput

    def check_references(self, session: Session, values: Mapping[str, Any]) -> None:
        """Raise :class:`InvalidInput` when an id field names no live record."""
        for name, model in self.references.items():
            value = values.get(name)
            if value is None:
                continue
            found = session.scalar(select(model.id).where(model.id == value, model.deleted_at.is_(None)))
            if found is None:
                raise InvalidInput(name, f"{self.label(name)} {value} 不存在 / no such record")

    def create(self, *, session: Session, data: C, actor: str | None) -> M:
        """As :meth:`Register.create`, after checking the references."""
        values = data.model_dump()
        self.check_references(session, values)
        if self.check is not None:
            self.check(values)
        return super().create(session=session, data=data, actor=actor)

    def update(
        self,
        *,
        session: Session,
        record_id: int,
        data: U,
        actor: str | None,
        expected_version: int | None = None,
    ) -> M:
        """As :meth:`Register.update`, after checking the references being changed."""
        changes = data.model_dump(exclude_unset=True)
        self.check_references(session, changes)
        if self.check is not None:
            current = self.get(session=session, record_id=record_id)
            self.check({**self.snapshot(current), **changes})
        return super().update(
            session=session, record_id=record_id, data=data, actor=actor, expected_version=expected_version
        )
