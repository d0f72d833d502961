"""The history route's encoder sends what FastAPI's own response model would have sent.

Why: the route (``GET /api/v1/tags/{tag}/history``) encodes its answer with msgspec instead of
pydantic for speed; a client must not see the switch (float digits, NaN, ±inf, non-ASCII
units, key order). The bytes are identical except the exponent of floats of 1e16 and more,
which msgspec writes ``1e16`` and pydantic ``1e+16`` (the same JSON number).
"""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter

from api.routers.tags import HISTORY_JSON

FASTAPI_ENCODER = TypeAdapter(dict[str, Any])
"""What FastAPI builds for the route's ``response_model=dict[str, Any]``."""

int64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
value = st.floats(allow_nan=True, allow_infinity=True)
bucket = st.tuples(int64, value, value, value, value, int64)


Bucket = tuple[int, float, float, float, float, int]


def answer(tag: str, unit: str, start: int, end: int, rows: list[Bucket]) -> dict[str, Any]:
    # the route's own shape (api/routers/tags.py, history.body)
    return {
        "tag": tag,
        "unit": unit,
        "start": start,
        "end": end,
        "points": [
            {"ts": ts, "min": lo, "max": hi, "avg": avg, "last": last, "count": n} for ts, lo, hi, avg, last, n in rows
        ],
    }


@given(st.text(), st.text(), int64, int64, st.lists(bucket, max_size=40))
def test_history_json_equals_fastapis(tag: str, unit: str, start: int, end: int, rows: list[Any]) -> None:
    obj = answer(tag, unit, start, end, rows)
    assert json.loads(HISTORY_JSON.encode(obj)) == json.loads(FASTAPI_ENCODER.dump_json(obj))


plant_value = st.floats(allow_nan=True, allow_infinity=True).filter(lambda v: not abs(v) >= 1e16 or math.isinf(v))


plant_bucket = st.tuples(int64, plant_value, plant_value, plant_value, plant_value, int64)


@given(st.text(), st.text(), int64, st.lists(plant_bucket))
def test_history_bytes_equal_fastapis_below_1e16(tag: str, unit: str, start: int, rows: list[Any]) -> None:
    obj = answer(tag, unit, start, start, rows)
    assert HISTORY_JSON.encode(obj) == FASTAPI_ENCODER.dump_json(obj)


def test_history_bytes_for_the_plants_units_and_odd_values() -> None:
    rows = [
        (1_733_400_000_000, 0.1 + 0.2, 1e-7, 1e15, math.nan, 1),
        (1_733_400_172_800, -0.0, math.inf, -math.inf, 12.5, 172),
    ]
    for unit in ("℃", "m³/h", "%LEL", "MPa", ""):
        obj = answer("PT-101", unit, 1_733_400_000_000, 1_733_486_400_000, rows)
        encoded = HISTORY_JSON.encode(obj)
        assert encoded == FASTAPI_ENCODER.dump_json(obj)
        assert f'"unit":"{unit}"'.encode() in encoded  # UTF-8 as is, not \\u-escaped
        assert b'"min":0.30000000000000004' in encoded  # shortest repr that reads back the same float
        assert b'"last":null' in encoded  # NaN is not JSON: sent as null, as FastAPI did
        assert b'"max":null,"avg":null' in encoded  # so are +inf and -inf
