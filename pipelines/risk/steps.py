"""Pure steps of the risk flow: one delivered batch of inputs at a time.

* :func:`parse` turns whatever a source delivered (contract structs, JSON bytes, Kafka raw
  records, lists of those) into typed inputs plus dead letters; it never raises.
* :func:`route` groups a batch's inputs by the hazard sources they concern: an alarm or a
  gas reading by its tag's source, special work and people counts by area, the others by the
  source they name. Inputs naming an unknown source become dead letters with the reason;
  alarms and readings of tags outside every source are simply not the risk flow's business.
* :func:`recompute` folds one source's inputs into its state and evaluates it once, emitting a
  :class:`~models.contracts.RiskScore` only when level, score or contributions changed.

So a burst of fifty inputs for one source costs one evaluation, not fifty, and everything is
a function of its arguments (event time only), so a recovery replay scores identically.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec

from connectors.batches import RawRecord
from models.contracts import AlarmEvent, DeadLetter, RiskScore, SensorReading, dead_letter
from models.risk import (
    RISK_INPUT,
    HazardContext,
    ManagementStatus,
    OperatingMode,
    PeopleCount,
    Recompute,
    RiskInput,
    RiskItem,
    SisBypass,
    SourceState,
    SpecialWork,
    apply,
    evaluate,
    input_decoder,
)
from models.risk_rules import RiskRuleTable, default_table

RAW_KEEP: Final = 1024
_readings_decoder: Final = msgspec.json.Decoder(list[SensorReading])
_alarm_decoder: Final = msgspec.json.Decoder(AlarmEvent)
_INPUT_TYPES: Final = (SpecialWork, SisBypass, PeopleCount, ManagementStatus, OperatingMode, Recompute)


@dataclass(frozen=True, eq=False)
class RiskPlan:
    """The static side of the flow, compiled once from the hazard-source register.

    Attributes:
        sources: Hazard source id -> context.
        table: The rule table in force.
        by_tag: Tag -> ids of the sources whose equipment carries it.
        by_area: Area -> ids of the sources in it.
    """

    sources: Mapping[str, HazardContext]
    table: RiskRuleTable = field(default_factory=default_table)
    by_tag: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    by_area: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def build(cls, contexts: Iterable[HazardContext], table: RiskRuleTable | None = None) -> RiskPlan:
        """Index the contexts by tag and area."""
        sources = {c.id: c for c in contexts}
        by_tag: dict[str, list[str]] = {}
        by_area: dict[str, list[str]] = {}
        for c in sources.values():
            for tag in c.tags:
                by_tag.setdefault(tag, []).append(c.id)
            by_area.setdefault(c.area, []).append(c.id)
        return cls(
            sources=sources,
            table=table or default_table(),
            by_tag={k: tuple(v) for k, v in by_tag.items()},
            by_area={k: tuple(v) for k, v in by_area.items()},
        )


@dataclass(frozen=True, slots=True)
class RiskBatch:
    """One delivery, typed: usable inputs in arrival order plus dead letters."""

    items: tuple[RiskItem, ...] = ()
    dead: tuple[DeadLetter, ...] = ()


def _text(raw: Any) -> str:
    if isinstance(raw, bytes | bytearray | memoryview):
        return bytes(raw)[:RAW_KEEP].decode("utf-8", errors="replace")
    if isinstance(raw, str):
        return raw[:RAW_KEEP]
    return repr(raw)[:RAW_KEEP]


def parse(item: Any, now_ms: int) -> RiskBatch:
    """Whatever a source delivered -> typed inputs + dead letters. Never raises."""
    items: list[RiskItem] = []
    dead: list[DeadLetter] = []
    try:
        _collect(item, now_ms, items, dead)
    except Exception as err:  # noqa: BLE001 - no input may stop the flow; the reason is kept
        items, dead = (
            [],
            [dead_letter(RISK_INPUT, _text(item), f"could not parse: {type(err).__name__}: {err}", ts=now_ms)],
        )
    return RiskBatch(tuple(items), tuple(dead))


def _collect(item: Any, now_ms: int, items: list[RiskItem], dead: list[DeadLetter]) -> None:
    if isinstance(item, (AlarmEvent, SensorReading, *_INPUT_TYPES)):
        items.append(item)
    elif isinstance(item, DeadLetter):
        dead.append(item)
    elif isinstance(item, RawRecord):
        _collect_json(item.value, item.ts, items, dead)
    elif isinstance(item, bytes | bytearray | memoryview | str):
        _collect_json(bytes(item) if not isinstance(item, str) else item.encode(), now_ms, items, dead)
    elif isinstance(item, list | tuple):
        for element in item:
            _collect(element, now_ms, items, dead)
    elif hasattr(item, "readings") and callable(item.readings):  # a judged ReadingBatch of the sensor flow
        items.extend(item.readings())
    elif hasattr(item, "annunciated"):  # an AlarmBatch of the sensor flow
        items.extend(item.annunciated)
    else:
        dead.append(dead_letter(RISK_INPUT, _text(item), f"unsupported payload type {type(item).__name__}", ts=now_ms))


def _collect_json(raw: bytes, ts: int, items: list[RiskItem], dead: list[DeadLetter]) -> None:
    """A JSON record: a risk input, an alarm event or an array of readings (the three topics)."""
    head = raw.lstrip()[:1]
    try:
        if head == b"[":
            items.extend(_readings_decoder.decode(raw))
        elif b'"type"' in raw:
            items.append(input_decoder.decode(raw))
        else:
            items.append(_alarm_decoder.decode(raw))
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError, RecursionError) as err:
        dead.append(
            dead_letter(RISK_INPUT, _text(raw), f"not a risk input, alarm event or reading array: {err}", ts=ts)
        )


def route(plan: RiskPlan, batch: RiskBatch) -> list[tuple[str, tuple[RiskItem, ...]]]:
    """Group a batch by hazard source, keeping each source's inputs in arrival order.

    Dead letters (parse failures and inputs naming an unknown source) come out under the key
    ``""`` so the flow can send them on without a stateful step.
    """
    by_source: dict[str, list[RiskItem]] = {}
    dead = list(batch.dead)
    for item in batch.items:
        targets = _targets(plan, item)
        if targets is None:
            reason = f"unknown hazard source or area in {type(item).__name__}"
            dead.append(dead_letter(RISK_INPUT, msgspec.json.encode(item), reason, ts=getattr(item, "ts", 0) or 1))
            continue
        for sid in targets:
            by_source.setdefault(sid, []).append(item)
    out: list[tuple[str, tuple[RiskItem, ...]]] = [(sid, tuple(items)) for sid, items in by_source.items()]
    if dead:
        out.append(("", tuple(dead)))  # type: ignore[arg-type]
    return out


def _targets(plan: RiskPlan, item: RiskItem) -> Sequence[str] | None:
    """Source ids an input concerns; ``()`` for an irrelevant one, ``None`` for an unknown target."""
    if isinstance(item, AlarmEvent):
        return plan.by_tag.get(item.source_id, ()) if item.source_kind == "tag" else ()
    if isinstance(item, SensorReading):
        return plan.by_tag.get(item.tag, ())
    if isinstance(item, Recompute):
        if item.hazard_source_id is None:
            return tuple(plan.sources)
        return (item.hazard_source_id,) if item.hazard_source_id in plan.sources else None
    if isinstance(item, PeopleCount):
        return plan.by_area.get(item.area, ())
    if isinstance(item, SpecialWork):
        if item.hazard_source_id is not None:
            return (item.hazard_source_id,) if item.hazard_source_id in plan.sources else None
        return plan.by_area.get(item.area, ())
    sid = item.hazard_source_id
    return (sid,) if sid in plan.sources else None


@dataclass(slots=True)
class RiskState:
    """Per-source state of the stateful step: the inputs folded so far and the last score sent."""

    source: SourceState = field(default_factory=SourceState)
    last: RiskScore | None = None


def recompute(
    plan: RiskPlan, source_id: str, state: RiskState | None, items: Sequence[RiskItem]
) -> tuple[RiskState, RiskScore | None]:
    """Fold ``items`` into ``source_id``'s state, evaluate once, emit the score if it changed."""
    st = state or RiskState()
    ctx = plan.sources[source_id]
    for item in items:
        apply(ctx, st.source, item)
    # Stamped with the newest input of THIS batch (the change's event time), but never at or
    # before the previous score: a late input gets its own history row after the last one
    # instead of overwriting an older row or sorting before the score it changed.
    last = st.last
    batch_ts = max((getattr(i, "ts", 0) for i in items), default=0) or st.source.now
    if last is not None:
        batch_ts = max(batch_ts, last.ts + 1)
    score = msgspec.structs.replace(evaluate(ctx, st.source, plan.table), ts=batch_ts)
    if last is not None and (last.level, last.score, last.contributions) == (
        score.level,
        score.score,
        score.contributions,
    ):
        return st, None
    st.last = score
    return st, score


__all__ = ["RiskBatch", "RiskInput", "RiskPlan", "RiskState", "parse", "recompute", "route"]
