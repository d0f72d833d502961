"""Pydantic shapes of the alarm register API: ``AlarmRead / AlarmDetail / AlarmPage`` and the action bodies.

Field names follow the plant's words (``tag`` for 位号) rather than column names; every state
comes with its Chinese label so the front end shows no raw enum values.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Final, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from models.alarm_states import MAX_SHELVE, OPERATOR_TRIGGERS, AlarmStatus, Trigger, allowed
from registers.alarms.models import Alarm, AlarmDisposal, AlarmTransition, DisposalStatus

MAX_SHELVE_MINUTES = int(MAX_SHELVE.total_seconds() // 60)


class AlarmRead(BaseModel):
    """One alarm occurrence as the alarm list shows it."""

    id: int
    alarm_id: str
    source_kind: str
    tag: str = Field(description="位号 or other source id")
    kind: str
    priority: str
    area: str | None
    state: str
    state_label: str
    underlying_state: str
    raised_at: datetime
    last_activated_at: datetime
    returned_at: datetime | None
    cleared_at: datetime | None
    acked_at: datetime | None
    acked_by: str | None
    shelved_until: datetime | None
    shelved_by: str | None
    shelve_reason: str
    value: float | None
    limit: float | None
    message: str
    activation_count: int
    chattering: bool
    disposal_status: str | None = Field(description="open / closed, or null without a disposal")
    allowed_actions: list[str] = Field(description="operator actions the current state accepts")

    @classmethod
    def of(cls, alarm: Alarm) -> Self:
        """Build from the ORM row, adding labels and the actions the state allows."""
        status = AlarmStatus(alarm.state)
        return cls(
            id=alarm.id,
            alarm_id=alarm.alarm_id,
            source_kind=alarm.source_kind,
            tag=alarm.source_id,
            kind=alarm.kind,
            priority=alarm.priority,
            area=alarm.area,
            state=status.value,
            state_label=status.label,
            underlying_state=alarm.underlying_state,
            raised_at=alarm.raised_at,
            last_activated_at=alarm.last_activated_at,
            returned_at=alarm.returned_at,
            cleared_at=alarm.cleared_at,
            acked_at=alarm.acked_at,
            acked_by=alarm.acked_by,
            shelved_until=alarm.shelved_until,
            shelved_by=alarm.shelved_by,
            shelve_reason=alarm.shelve_reason,
            value=alarm.value,
            limit=alarm.limit,
            message=alarm.message,
            activation_count=alarm.activation_count,
            chattering=alarm.chattering,
            disposal_status=alarm.disposal.status if alarm.disposal is not None else None,
            allowed_actions=list(_operator_actions(status)),
        )

    @classmethod
    def of_row(cls, row: Sequence[Any]) -> Self:
        """Build from a row of :data:`LIST_LINE`'s columns (the alarm list's read)."""
        values = dict(zip(_ROW_FIELDS, row, strict=True))
        status = AlarmStatus(values["state"])
        return cls(**values, state_label=status.label, allowed_actions=list(_operator_actions(status)))


LIST_LINE: Final = (
    ("id", Alarm.id),
    ("alarm_id", Alarm.alarm_id),
    ("source_kind", Alarm.source_kind),
    ("tag", Alarm.source_id),
    ("kind", Alarm.kind),
    ("priority", Alarm.priority),
    ("area", Alarm.area),
    ("state", Alarm.state),
    ("underlying_state", Alarm.underlying_state),
    ("raised_at", Alarm.raised_at),
    ("last_activated_at", Alarm.last_activated_at),
    ("returned_at", Alarm.returned_at),
    ("cleared_at", Alarm.cleared_at),
    ("acked_at", Alarm.acked_at),
    ("acked_by", Alarm.acked_by),
    ("shelved_until", Alarm.shelved_until),
    ("shelved_by", Alarm.shelved_by),
    ("shelve_reason", Alarm.shelve_reason),
    ("value", Alarm.value),
    ("limit", Alarm.limit),
    ("message", Alarm.message),
    ("activation_count", Alarm.activation_count),
    ("chattering", Alarm.chattering),
    ("disposal_status", AlarmDisposal.status),
)
""":class:`AlarmRead`'s stored fields and the column each is read from, in one place so the
alarm list's ``SELECT`` and :meth:`AlarmRead.of_row` cannot fall out of step; the label and
the allowed actions are derived from the state."""

_ROW_FIELDS: Final = tuple(field for field, _ in LIST_LINE)


@functools.cache
def _operator_actions(status: AlarmStatus) -> tuple[str, ...]:
    """The operator actions ``status`` accepts, sorted (the same few for every line of a page)."""
    return tuple(sorted(t.value for t in allowed(status) & OPERATOR_TRIGGERS))


class TransitionRead(BaseModel):
    """One journal line: who, when, from, to, why."""

    id: int
    trigger: str
    trigger_label: str
    from_state: str
    to_state: str
    actor: str
    at: datetime
    comment: str

    @classmethod
    def of(cls, row: AlarmTransition) -> Self:
        """Build from the ORM row, adding the Chinese name of the trigger."""
        return cls(
            id=row.id,
            trigger=row.trigger,
            trigger_label=Trigger(row.trigger).label,
            from_state=row.from_state,
            to_state=row.to_state,
            actor=row.actor,
            at=row.at,
            comment=row.comment,
        )


class CommentRead(BaseModel):
    """A remark on an occurrence."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    author: str
    at: datetime
    text: str


class DisposalRead(BaseModel):
    """The 处置 record of an occurrence."""

    id: int
    handler: str
    opened_by: str
    opened_at: datetime
    cause: str
    measures: str
    status: str
    status_label: str
    closed_by: str | None
    closed_at: datetime | None
    closing_note: str

    @classmethod
    def of(cls, row: AlarmDisposal) -> Self:
        """Build from the ORM row, adding the Chinese name of the status."""
        return cls(
            id=row.id,
            handler=row.handler,
            opened_by=row.opened_by,
            opened_at=row.opened_at,
            cause=row.cause,
            measures=row.measures,
            status=row.status,
            status_label=DisposalStatus(row.status).label,
            closed_by=row.closed_by,
            closed_at=row.closed_at,
            closing_note=row.closing_note,
        )


class AttachmentRead(BaseModel):
    """Metadata of an attached file (the bytes are downloaded separately)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    filename: str
    content_type: str
    size: int
    sha256: str
    uploaded_by: str
    uploaded_at: datetime


class AlarmDetail(AlarmRead):
    """An occurrence with its journal, comments, disposal and attachments."""

    transitions: list[TransitionRead]
    comments: list[CommentRead]
    disposal: DisposalRead | None
    attachments: list[AttachmentRead]

    @classmethod
    def of(cls, alarm: Alarm) -> Self:
        """Build from the ORM row and its related rows."""
        base = AlarmRead.of(alarm).model_dump()
        return cls(
            **base,
            transitions=[TransitionRead.of(t) for t in alarm.transitions],
            comments=[CommentRead.model_validate(c) for c in alarm.comments],
            disposal=DisposalRead.of(alarm.disposal) if alarm.disposal is not None else None,
            attachments=[AttachmentRead.model_validate(a) for a in alarm.attachments],
        )


class AlarmPage(BaseModel):
    """One page of the alarm list."""

    items: list[AlarmRead]
    total: int
    page: int
    size: int


class AckRequest(BaseModel):
    """Optional body of an acknowledgement."""

    comment: str = Field(default="", max_length=1000)


class ShelveRequest(BaseModel):
    """Shelve until a time, or for some minutes; a reason is required (ISA-18.2 shelving is logged)."""

    until: AwareDatetime | None = Field(default=None, description="end of the shelf, with time zone")
    minutes: int | None = Field(default=None, ge=1, le=MAX_SHELVE_MINUTES, description="shelf length")
    reason: str = Field(min_length=1, max_length=500, description="搁置原因")

    @model_validator(mode="after")
    def _one_end(self) -> Self:
        if (self.until is None) == (self.minutes is None):
            msg = "请给出 until 或 minutes 之一 / give exactly one of until or minutes"
            raise ValueError(msg)
        return self

    def end(self, now: datetime) -> datetime:
        """The shelf's end as an aware datetime."""
        if self.until is not None:
            return self.until
        assert self.minutes is not None  # guaranteed by the validator
        return now + timedelta(minutes=self.minutes)


class UnshelveRequest(BaseModel):
    """Optional body of an un-shelve."""

    comment: str = Field(default="", max_length=1000)


class CommentCreate(BaseModel):
    """Body of a new comment."""

    text: str = Field(min_length=1, max_length=2000)


class DisposalUpsert(BaseModel):
    """Open a disposal or update its analysis while it is open."""

    cause: str = Field(default="", max_length=4000, description="原因分析")
    measures: str = Field(default="", max_length=4000, description="处置措施")
    handler: str | None = Field(default=None, max_length=64, description="处置人; default: the caller")


class DisposalClose(BaseModel):
    """Body of a disposal closure."""

    note: str = Field(default="", max_length=2000, description="闭环意见")


# --- KPIs -------------------------------------------------------------------------------------


class PositionLoad(BaseModel):
    """Alarm load of one operator position (area) over the period."""

    area: str | None
    annunciated: int
    per_hour: float
    peak_10min: int
    peak_10min_start: datetime | None


class FrequentAlarm(BaseModel):
    """One of the most frequent alarms (bad actors)."""

    alarm_id: str
    tag: str
    kind: str
    count: int
    share: float = Field(description="share of all annunciations in the period, 0..1")


class StandingAlarm(BaseModel):
    """An alarm active for more than 24 hours."""

    id: int
    alarm_id: str
    tag: str
    raised_at: datetime
    hours_active: float


class ChatteringAlarm(BaseModel):
    """An alarm that annunciated 3 or more times within one minute."""

    alarm_id: str
    tag: str
    kind: str
    max_per_minute: int


class FloodPeriod(BaseModel):
    """A period in which sliding 10-minute windows held more than 10 annunciations at one position."""

    area: str | None
    start: datetime
    end: datetime
    annunciated: int


class AlarmKpis(BaseModel):
    """ISA-18.2 / EEMUA 191 alarm-system performance over ``[start, end)``."""

    start: datetime
    end: datetime
    hours: float
    annunciated: int
    positions: list[PositionLoad]
    per_hour_avg: float = Field(description="average alarms per operator position per hour")
    peak_10min: int = Field(description="highest count in any 10 minutes at any position")
    top10: list[FrequentAlarm]
    top10_share: float
    standing: list[StandingAlarm]
    chattering: list[ChatteringAlarm]
    floods: list[FloodPeriod]
    flood_time_share: float = Field(description="share of the period any position spent in flood")
    acked: int
    ack_median_s: float | None
    targets: dict[str, float] = Field(description="ISA-18.2 guideline figures to compare against")
