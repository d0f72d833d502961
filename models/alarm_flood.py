"""Alarm-flood detection per operator position (ISA-18.2 / IEC 62682), pure and with state.

ISA-18.2 calls more than 10 alarms in 10 minutes for one operator an *alarm flood*: beyond
that rate an operator can no longer respond to each alarm, and the important ones drown.
This module watches the alarm activations of each operator position (a mapping tag →
position, typically by plant area) and, when a position floods:

* emits **one** flood-summary :class:`~models.contracts.AlarmEvent` (``kind="FLOOD"``,
  ``source_kind="asset"``, ``source_id`` = the position, ``alarm_id="FLOOD:<position>"``) whose
  message gives the count and the tags that alarm most, instead of the flood;
* holds back the individual annunciation of lower-priority events (below
  :attr:`FloodConfig.annunciate_at_or_above`) until the flood ends. Held events are **not
  lost**: they come back in :attr:`FloodOutput.recorded_only`, for the store and the alarm
  list, just without the horn, the pop-up and the SMS;
* ends the flood, with a ``returned`` summary, once the position's activations in the trailing
  window fall below :attr:`FloodConfig.end_below` (hysteresis, so a rate hovering at the
  threshold does not make the flood itself chatter).

Like the alarm engine, time comes only from event timestamps (and from :func:`tick`, which the
pipeline calls with its latest reading time so that a flood can end when alarms stop), so a
replay after recovery gives the same output.

Example:
    >>> from models.contracts import AlarmEvent, AlarmPriority, AlarmState
    >>> def ev(i):
    ...     return AlarmEvent(alarm_id=f"TT-{i}:H", source_kind="tag", source_id=f"TT-{i}", kind="H",
    ...                       priority=AlarmPriority.MEDIUM, state=AlarmState.ACTIVE, ts=1000 * i)
    >>> state, out = step(FloodState(), [ev(i) for i in range(12)], {})
    >>> [e.alarm_id for e in out.annunciated if e.kind == FLOOD]
    ['FLOOD:plant']
    >>> len(out.annunciated), len(out.recorded_only)  # 10 + summary, 2 held back
    (11, 2)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

from models.contracts import AlarmEvent, AlarmPriority, AlarmState

FLOOD: Final = "FLOOD"
DEFAULT_POSITION: Final = "plant"
"""Position of an alarm whose source is not in the position mapping."""

_RANK: Final = {AlarmPriority.CRITICAL: 0, AlarmPriority.HIGH: 1, AlarmPriority.MEDIUM: 2, AlarmPriority.LOW: 3}
_TOP_TAGS: Final = 3


@dataclass(frozen=True, slots=True)
class FloodConfig:
    """Flood rule of every position.

    Attributes:
        threshold: A flood is *more than* this many activations in ``window_ms``.
        window_ms: Sliding window, reading time.
        end_below: The flood ends when the window holds fewer activations than this.
        annunciate_at_or_above: During a flood only events of this priority or more urgent
            are annunciated individually; the rest are recorded only.
        summary_priority: Priority of the flood-summary alarm.
    """

    threshold: int = 10
    window_ms: int = 600_000
    end_below: int = 5
    annunciate_at_or_above: AlarmPriority = AlarmPriority.HIGH
    summary_priority: AlarmPriority = AlarmPriority.HIGH

    def __post_init__(self) -> None:
        """Refuse a rule that could never end a flood or never start one."""
        if self.threshold < 1 or self.window_ms < 1 or not 1 <= self.end_below <= self.threshold:
            msg = (
                "flood config needs threshold >= 1, window_ms >= 1 and 1 <= end_below <= threshold, "
                f"got {self.threshold}, {self.window_ms}, {self.end_below}"
            )
            raise ValueError(msg)


@dataclass(frozen=True, slots=True)
class PositionState:
    """Flood memory of one operator position.

    Attributes:
        activations: ``(ts, source_id)`` of the activations inside the window, oldest first.
        flood_since: Reading time the current flood began, ``None`` outside a flood.
        flood_count: Activations since the current flood began (for the closing summary).
        held: Events recorded but not annunciated during the current flood.
    """

    activations: tuple[tuple[int, str], ...] = ()
    flood_since: int | None = None
    flood_count: int = 0
    held: int = 0

    @property
    def flooding(self) -> bool:
        """Whether the position is in a flood."""
        return self.flood_since is not None


@dataclass(frozen=True, slots=True)
class FloodState:
    """Flood memory of all positions; small and picklable (kept in Bytewax state).

    Attributes:
        clock: Latest reading time seen (events or ticks), ``None`` before any.
        positions: State of every position that had an activation; never mutated.
    """

    clock: int | None = None
    positions: Mapping[str, PositionState] = field(default_factory=dict)

    def flooding(self) -> frozenset[str]:
        """Positions currently in a flood."""
        return frozenset(p for p, s in self.positions.items() if s.flooding)


@dataclass(frozen=True, slots=True)
class FloodOutput:
    """What to do with each event: every input event is in exactly one of the two lists.

    Attributes:
        annunciated: Events to annunciate (and record), flood summaries included, in order.
        recorded_only: Events held back during a flood: record them, do not annunciate.
    """

    annunciated: list[AlarmEvent] = field(default_factory=list)
    recorded_only: list[AlarmEvent] = field(default_factory=list)


def step(
    state: FloodState,
    events: Iterable[AlarmEvent],
    positions: Mapping[str, str],
    config: FloodConfig | None = None,
) -> tuple[FloodState, FloodOutput]:
    """Pass alarm events through flood detection.

    Args:
        state: Flood state (``FloodState()`` at start).
        events: Alarm events in the order the engine produced them.
        positions: Operator position of each source (tag → position); others go to
            :data:`DEFAULT_POSITION`.
        config: Flood rule; the ISA-18.2 default (10 per 10 minutes) if omitted.

    Returns:
        The new state and the split of the events (plus any flood summaries).
    """
    cfg = config or FloodConfig()
    clock = state.clock
    table = dict(state.positions)
    out = FloodOutput()
    for event in events:
        clock = event.ts if clock is None else max(clock, event.ts)
        pos = positions.get(event.source_id, DEFAULT_POSITION)
        ps = _expire(table.get(pos, PositionState()), pos, clock, cfg, out)
        activation = event.state == AlarmState.ACTIVE and event.kind != FLOOD
        if activation and event.ts > clock - cfg.window_ms:
            ps = PositionState(
                activations=(*ps.activations, (event.ts, event.source_id)),
                flood_since=ps.flood_since,
                flood_count=ps.flood_count,
                held=ps.held,
            )
            if not ps.flooding and len(ps.activations) > cfg.threshold:
                ps = PositionState(activations=ps.activations, flood_since=event.ts, flood_count=0, held=0)
                out.annunciated.append(_summary(pos, ps, event.ts, cfg, started=True))
        if ps.flooding:
            passes = _RANK[event.priority] <= _RANK[cfg.annunciate_at_or_above]
            ps = PositionState(
                activations=ps.activations,
                flood_since=ps.flood_since,
                flood_count=ps.flood_count + (1 if activation else 0),
                held=ps.held + (0 if passes else 1),
            )
            (out.annunciated if passes else out.recorded_only).append(event)
        else:
            out.annunciated.append(event)
        if ps.activations or ps.flooding:
            table[pos] = ps
        else:
            table.pop(pos, None)
    return FloodState(clock=clock, positions=table), out


def tick(state: FloodState, now_ts: int, config: FloodConfig | None = None) -> tuple[FloodState, FloodOutput]:
    """Advance reading time with no new alarm, so that a flood ends once alarms stop.

    Args:
        state: Flood state.
        now_ts: Latest reading time of the pipeline (epoch ms); older times change nothing.
        config: Flood rule.

    Returns:
        The new state and the ``returned`` summaries of floods that ended.
    """
    cfg = config or FloodConfig()
    clock = now_ts if state.clock is None else max(state.clock, now_ts)
    out = FloodOutput()
    table = {pos: _expire(ps, pos, clock, cfg, out) for pos, ps in state.positions.items()}
    table = {pos: ps for pos, ps in table.items() if ps.activations or ps.flooding}
    return FloodState(clock=clock, positions=table), out


def _expire(ps: PositionState, pos: str, clock: int, cfg: FloodConfig, out: FloodOutput) -> PositionState:
    """Drop activations that left the window; end the flood when the rate has fallen."""
    horizon = clock - cfg.window_ms
    acts = ps.activations
    if acts and acts[0][0] <= horizon:
        acts = tuple(a for a in acts if a[0] > horizon)
        ps = PositionState(activations=acts, flood_since=ps.flood_since, flood_count=ps.flood_count, held=ps.held)
    if ps.flooding and len(acts) < cfg.end_below:
        out.annunciated.append(_summary(pos, ps, clock, cfg, started=False))
        ps = PositionState(activations=acts)
    return ps


def _summary(pos: str, ps: PositionState, ts: int, cfg: FloodConfig, *, started: bool) -> AlarmEvent:
    minutes = cfg.window_ms / 60_000
    if started:
        top = Counter(source for _, source in ps.activations).most_common(_TOP_TAGS)
        tops = ", ".join(f"{source}×{n}" for source, n in top)
        message = (
            f"报警泛滥: 操作岗位 {pos} {minutes:g} 分钟内 {len(ps.activations)} 条报警 "
            f"(超过 {cfg.threshold} 条); 最多: {tops}; 低优先级报警仅记录, 暂不推送"
        )
        count = len(ps.activations)
    else:
        message = f"报警泛滥结束: 操作岗位 {pos} 泛滥期间 {ps.flood_count} 条报警, 其中 {ps.held} 条仅记录未推送"
        count = ps.flood_count
    return AlarmEvent(
        alarm_id=f"{FLOOD}:{pos}",
        source_kind="asset",
        source_id=pos,
        kind=FLOOD,
        priority=cfg.summary_priority,
        state=AlarmState.ACTIVE if started else AlarmState.RETURNED,
        ts=ts,
        value=float(count),
        limit=float(cfg.threshold),
        message=message,
    )
