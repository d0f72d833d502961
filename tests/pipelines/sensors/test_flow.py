from bytewax.testing import TestingSink, TestingSource, run_main

from connectors.contracts import AlarmEvent, DeadLetter, Quality, SensorReading, encode
from models.limits import TagLimits
from pipelines.sensors.flow import build_flow

SPECS = {
    "TT-401": TagLimits(tag="TT-401", lo=0, hi=200, h=85, hh=95),
    "PT-101": TagLimits(tag="PT-101", lo=0, hi=2.5, h=1.6, hh=1.75),
}


def test_flow_flags_alarms_and_deadletters_without_dying():
    items = [
        encode(SensorReading(tag="TT-401", ts=1_000, value=70.0)),
        b"garbage",
        SensorReading(tag="TT-401", ts=2_000, value=96.0),
        SensorReading(tag="NOPE-1", ts=2_000, value=1.0),
        SensorReading(tag="PT-101", ts=2_000, value=3.0),
        SensorReading(tag="TT-401", ts=3_000, value=70.0),
    ]
    out: list = []
    run_main(build_flow(SPECS, TestingSource(items), [TestingSink(out)], clock=lambda: 3_000))
    readings = [m for m in out if isinstance(m, SensorReading)]
    alarms = [m for m in out if isinstance(m, AlarmEvent)]
    dead = [m for m in out if isinstance(m, DeadLetter)]
    assert len(readings) == 4
    assert {r.quality for r in readings if r.tag == "PT-101"} == {Quality.OUT_OF_RANGE}
    bad = [(a.source_id, a.kind, a.state.value) for a in alarms if a.kind == "BAD"]
    assert bad == [("PT-101", "BAD", "active")]  # an out-of-range transmitter is itself an alarm
    assert [(a.kind, a.state.value) for a in alarms if a.source_id == "TT-401"] == [
        ("HH", "active"),
        ("H", "active"),
        ("HH", "returned"),
        ("H", "returned"),
    ]
    assert len(dead) == 2 and any("unknown tag" in d.reason for d in dead)
