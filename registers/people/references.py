"""Former home of the reference check; the framework's :class:`Register` now has it.

Why it moved: ``person_certificates.person_id`` or ``contractor_documents.contractor_id``
naming no live row used to be checked only in ``create``, so the framework's Excel import,
which does not call ``create``, let such a row reach the database's foreign key (an
IntegrityError, i.e. a 500). :attr:`Register.references` and :attr:`Register.check` are now
applied by :meth:`Register.validate_rows`, which create and import share. The name stays so
the registers declared with it keep working unchanged.
"""

from __future__ import annotations

from registers.framework.service import Register

__all__ = ["ReferencingRegister"]

ReferencingRegister = Register
