from models.contracts import DeadLetter, SensorReading, encode
from models.limits import TagLimits
from pipelines.sensors.steps import known_tag, limits_mapper, parse

SPECS = {"TT-401": TagLimits(tag="TT-401", lo=0, hi=200, h=85, hh=95)}


def test_parse_accepts_json_and_typed_and_deadletters_garbage():
    r = SensorReading(tag="TT-401", ts=1, value=70.0)
    assert parse(encode(r)) == r
    assert parse(r) is r
    for bad in (b"{not json", b'{"tag": "TT-401"}', '{"tag":"TT-401","ts":1,"value":"hot"}', 42):
        out = parse(bad)
        assert isinstance(out, DeadLetter) and out.reason and out.stream == "sensor.reading"


def test_parse_rejects_non_finite_values():
    out = parse(b'{"tag":"TT-401","ts":1,"value":NaN}')
    assert isinstance(out, DeadLetter)


def test_unknown_tag_is_deadlettered_with_the_tag_named():
    out = known_tag(SPECS, SensorReading(tag="XX-999", ts=1, value=1.0))
    assert isinstance(out, DeadLetter) and "XX-999" in out.reason and "XX-999" in out.raw


def test_mapper_emits_reading_then_alarms():
    mapper = limits_mapper(SPECS, lambda: 1_000)
    state, out = mapper(None, SensorReading(tag="TT-401", ts=1_000, value=99.0))
    assert isinstance(out[0], SensorReading)
    assert [e.kind for e in out[1:]] == ["HH", "H"]
