from bytewax.testing import TestingSink, TestingSource, run_main

from models.contracts import AlarmEvent, DeadLetter, Quality, SensorReading, encode
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


def test_a_flood_is_annunciated_as_one_summary_and_nothing_is_lost():
    # 15 gas detectors in one area all go high within a minute: more than 10 in 10 minutes
    specs = {f"GT-{i}": TagLimits(tag=f"GT-{i}", lo=0, hi=100, h=20, kind="flammable_gas") for i in range(15)}
    positions = dict.fromkeys(specs, "tank_farm")
    readings = [SensorReading(tag=f"GT-{i}", ts=1_000 + i * 1_000, value=30.0) for i in range(15)]
    shown: list = []
    held: list = []
    flow = build_flow(
        specs,
        TestingSource(readings),
        [TestingSink(shown)],
        clock=None,
        positions=positions,
        held_sinks=[TestingSink(held)],
    )
    run_main(flow)
    shown_alarms = [m for m in shown if isinstance(m, AlarmEvent)]
    summaries = [a for a in shown_alarms if a.kind == "FLOOD"]
    assert len(summaries) == 1 and summaries[0].source_id == "tank_farm" and "tank_farm" in summaries[0].alarm_id
    tag_alarms = [a for a in shown_alarms if a.kind != "FLOOD"]
    assert len(tag_alarms) == 10 and len(held) == 5  # from the 11th (the flood) medium alarms are held back
    assert {a.source_id for a in tag_alarms + held} == set(specs)  # every alarm is still recorded somewhere
    assert len([m for m in shown if isinstance(m, SensorReading)]) == 15
