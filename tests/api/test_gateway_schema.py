"""The published gateway message schema is the contract's, and describes real messages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from api.cli import app, gateway_schema, render_gateway_schema
from models.contracts import SENSOR_READING, DeadLetter, SensorReading, decode_message, decode_readings

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "docs" / "gateway-message.schema.json"
ONE = {"tag": "PT-101", "ts": 1_700_000_000_000, "value": 1.25, "quality": "good", "source": "modbus://gw1/1"}
SCAN = [ONE, {"tag": "TT-102", "ts": 1_700_000_000_000, "value": 21.5}]


def test_committed_schema_is_what_the_contract_generates() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == render_gateway_schema(), (
        "docs/gateway-message.schema.json is stale: run `safetwin gateway-schema -o docs/gateway-message.schema.json`"
    )


def test_schema_names_the_raw_topic() -> None:
    from api.flows import RAW_READINGS_TOPIC

    assert RAW_READINGS_TOPIC in gateway_schema()["description"]


def test_gateway_schema_command_prints_the_file() -> None:
    result = CliRunner().invoke(app, ["gateway-schema"])
    assert result.exit_code == 0 and result.output == SCHEMA_FILE.read_text(encoding="utf-8")


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if ref is None:
        return node
    assert ref.startswith("#/$defs/")
    return _resolve(schema, schema["$defs"][ref.removeprefix("#/$defs/")])


def _conforms(schema: dict[str, Any], node: dict[str, Any], value: Any) -> bool:
    """The JSON Schema subset the file uses (anyOf, $ref, type, enum, required, bounds)."""
    node = _resolve(schema, node)
    if "anyOf" in node:
        return any(_conforms(schema, option, value) for option in node["anyOf"])
    if "enum" in node and value not in node["enum"]:
        return False
    kind = node.get("type")
    if kind == "array":
        return isinstance(value, list) and all(_conforms(schema, node["items"], v) for v in value)
    if kind == "object":
        if not isinstance(value, dict) or not set(node.get("required", ())) <= value.keys():
            return False
        props = node["properties"]
        return all(_conforms(schema, props[k], v) for k, v in value.items() if k in props)
    if kind == "string":
        return isinstance(value, str) and len(value) >= node.get("minLength", 0)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool) and value > node.get("exclusiveMinimum", -1e400)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return kind is None


@pytest.mark.parametrize("message", [ONE, SCAN, [], {**ONE, "extra": "ignored"}])
def test_schema_and_contract_accept_gateway_messages(message: Any) -> None:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert _conforms(schema, schema, message)
    raw = json.dumps(message).encode()
    if isinstance(message, list):
        assert all(isinstance(r, SensorReading) for r in decode_readings(raw))
    else:
        assert isinstance(decode_message(SENSOR_READING, raw), SensorReading)


@pytest.mark.parametrize(
    "message",
    [
        {"tag": "PT-101", "value": 1.0},  # no ts
        {**ONE, "ts": "yesterday"},
        {**ONE, "ts": 0},
        {**ONE, "tag": ""},
        {**ONE, "quality": "excellent"},
        [ONE, {"tag": "TT-102"}],
        "PT-101=1.25",
    ],
)
def test_schema_and_contract_reject_the_same_bad_messages(message: Any) -> None:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert not _conforms(schema, schema, message)
    raw = json.dumps(message).encode()
    if isinstance(message, list):
        with pytest.raises(ValueError):  # msgspec.ValidationError is a ValueError
            decode_readings(raw)
    else:
        assert isinstance(decode_message(SENSOR_READING, raw), DeadLetter)
