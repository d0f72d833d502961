"""The gas tap hands the risk flow what GAS.NEAR needs, and nothing a far-from-limit detector says.

Property: after any sequence of scans, the last value the risk flow has of each detector is
near its limit exactly when the detector's real last value is, and then it is that value; so
the rule scores as if it had seen every reading.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.batches import ReadingBatch, readings_to_arrow
from connectors.bus.memory import Bus
from models.contracts import SensorReading
from pipelines.risk.taps import GasNearTap

LIMITS = {"GT-101": 20.0, "GT-102": 50.0}
NEAR = 0.5
values = st.floats(min_value=0.0, max_value=80.0, allow_nan=False)
scan = st.lists(st.tuples(st.sampled_from([*LIMITS, "TT-101"]), values), min_size=1, max_size=6)


@settings(max_examples=200, deadline=None)
@given(st.lists(scan, min_size=1, max_size=12))
def test_the_risk_flow_ends_with_the_same_near_limit_view_as_the_full_stream(scans: list) -> None:
    bus = Bus()
    sub = bus.subscribe("risk.gas")
    part = GasNearTap(bus, "risk.gas", LIMITS, near_ratio=NEAR).build("tap", 0, 1)
    real: dict[str, float] = {}
    seen: dict[str, float] = {}
    for ts, rows in enumerate(scans, start=1):
        readings = [SensorReading(tag=tag, ts=ts, value=value, source="s") for tag, value in rows]
        part.write_batch([ReadingBatch("0", readings_to_arrow(readings))])
        for r in readings:
            real[r.tag] = r.value
        for batch in sub.drain():
            for r in batch:
                assert r.tag in LIMITS  # other tags never reach the risk flow
                seen[r.tag] = r.value
    for tag, limit in LIMITS.items():
        real_near = real.get(tag, 0.0) / limit >= NEAR
        assert (seen.get(tag, 0.0) / limit >= NEAR) == real_near
        if real_near:
            assert seen[tag] == real[tag]


def test_detectors_far_from_their_limit_publish_nothing() -> None:
    bus = Bus()
    sub = bus.subscribe("risk.gas")
    part = GasNearTap(bus, "risk.gas", LIMITS, near_ratio=NEAR).build("tap", 0, 1)
    rows = [SensorReading(tag=t, ts=1, value=1.0, source="s") for t in (*LIMITS, "TT-101")]
    for _ in range(5):
        part.write_batch([ReadingBatch("0", readings_to_arrow(rows))])
    assert sub.drain() == []
