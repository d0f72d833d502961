"""Workflows as transition tables (STYLE.md rule 5): one lookup and one "what may I do" for all.

A register's workflow is data: ``{(state, action): next_state}`` of ``StrEnum`` values. These
two functions are what every workflow needs from its table; each domain keeps its own
``InvalidTransition`` (its message names the register's own words).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import TypeVar

S = TypeVar("S", bound=StrEnum)
A = TypeVar("A", bound=StrEnum)


def next_state(table: Mapping[tuple[S, A], S], state: S, action: A, invalid: Callable[[S, A], Exception]) -> S:
    """The state ``action`` leads to from ``state``; ``invalid(state, action)`` is raised otherwise."""
    try:
        return table[(state, action)]
    except KeyError:
        raise invalid(state, action) from None


def allowed_actions(table: Mapping[tuple[S, A], S], state: S) -> list[A]:
    """The actions allowed from ``state``, in table order (what the screen offers as buttons)."""
    return [action for (source, action) in table if source == state]
