"""Every register of SafeTwin in one list: for reminders, exports and audits across registers.

Built by looking at each domain's service module for :class:`~registers.framework.service.Register`
objects, so a register added to a domain is found without editing this file.
"""

from __future__ import annotations

from functools import cache
from importlib import import_module
from typing import Any

from registers.framework.service import Register

DOMAINS = (
    "registers.certificates.service",
    "registers.hazard_sources.service",
    "registers.process.service",
    "registers.equipment.service",
    "registers.people.service",
    "registers.training.service",
    "registers.contractors.service",
    "registers.permits.service",
    "registers.dual_prevention.service",
    "registers.hidden_hazards.service",
    "registers.inspections.service",
)


@cache
def all_registers() -> tuple[Register[Any, Any, Any, Any], ...]:
    """Each register once, in domain order."""
    found: dict[str, Register[Any, Any, Any, Any]] = {}
    for name in DOMAINS:
        for value in vars(import_module(name)).values():
            if isinstance(value, Register) and value.name not in found:
                found[value.name] = value
    return tuple(found.values())


def reminder_registers() -> tuple[Register[Any, Any, Any, Any], ...]:
    """The registers that declare due dates (certificates, inspections, admissions, ...)."""
    return tuple(r for r in all_registers() if r.due_dates)
