"""Publish responses decoded into columns: the same figures as asyncua's own decoding."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from asyncua import ua
from asyncua.common.utils import Buffer
from asyncua.ua.ua_binary import struct_from_binary, struct_to_binary

from connectors.opcua.publish import DataChangeColumns, columns_of, decode_publish_response

T = datetime(2026, 3, 1, 8, 0, 0, 250_000, tzinfo=UTC)
T_MS = round(T.timestamp() * 1000)
T2 = datetime(2026, 3, 1, 8, 0, 1, 7_000, tzinfo=UTC)
T2_MS = round(T2.timestamp() * 1000)


def _item(handle: int, variant: ua.Variant | None, **fields: object) -> ua.MonitoredItemNotification:
    return ua.MonitoredItemNotification(ClientHandle=handle, Value=ua.DataValue(variant, **fields))  # type: ignore[arg-type]


def _scalars() -> list[ua.MonitoredItemNotification]:
    t = {"SourceTimestamp": T, "ServerTimestamp": T2}
    vt = ua.VariantType
    return [
        _item(1, ua.Variant(21.5, vt.Double), **t),
        _item(2, ua.Variant(1.25, vt.Float), **t),
        _item(3, ua.Variant(-7, vt.Int32), StatusCode=ua.StatusCode(ua.StatusCodes.UncertainLastUsableValue), **t),
        _item(4, ua.Variant(2**40, vt.UInt64), ServerTimestamp=T2),
        _item(5, ua.Variant(True, vt.Boolean), SourceTimestamp=T, SourcePicoseconds=7),
        _item(6, ua.Variant(None, vt.Null), StatusCode=ua.StatusCode(ua.StatusCodes.BadSensorFailure), **t),
        _item(7, ua.Variant(3, vt.Byte)),
        _item(2**32 - 1, ua.Variant(-2, vt.SByte), ServerPicoseconds=9, **t),
    ]


def _response(*notifications: object, acks: list[int] | None = None) -> bytes:
    result = ua.PublishResult(SubscriptionId=42, AvailableSequenceNumbers=acks or [], MoreNotifications=False)
    result.NotificationMessage.SequenceNumber = 17
    result.NotificationMessage.PublishTime = T2
    result.NotificationMessage.NotificationData.extend(notifications)  # type: ignore[arg-type]
    result.Results = [ua.StatusCode(ua.StatusCodes.Good)]
    return struct_to_binary(ua.PublishResponse(Parameters=result))


def _generic(raw: bytes) -> ua.PublishResponse:
    response: ua.PublishResponse = struct_from_binary(ua.PublishResponse, Buffer(raw))
    return response


def test_numeric_data_changes_decode_to_asyncuas_figures() -> None:
    status = ua.StatusChangeNotification(Status=ua.StatusCode(ua.StatusCodes.BadTimeout))
    raw = _response(ua.DataChangeNotification(MonitoredItems=_scalars()), status, acks=[15, 16])
    fast, generic = decode_publish_response(raw), _generic(raw)

    columns, decoded_status = fast.Parameters.NotificationMessage.NotificationData
    assert isinstance(columns, DataChangeColumns)
    assert columns == columns_of(generic.Parameters.NotificationMessage.NotificationData[0])
    assert columns.values == [21.5, 1.25, -7.0, float(2**40), 1.0, None, 3.0, -2.0]
    assert columns.source_ms == [T_MS, T_MS, T_MS, None, T_MS, T_MS, None, T_MS]
    assert columns.server_ms[0] == T2_MS and columns.server_ms[3] == T2_MS and columns.server_ms[6] is None
    assert columns.status[2] == ua.StatusCodes.UncertainLastUsableValue and columns.status[0] == 0
    assert columns.handles[-1] == 2**32 - 1
    assert decoded_status == status
    for name in ("SubscriptionId", "AvailableSequenceNumbers", "MoreNotifications", "Results", "DiagnosticInfos"):
        assert getattr(fast.Parameters, name) == getattr(generic.Parameters, name), name
    assert fast.Parameters.NotificationMessage.SequenceNumber == 17
    assert fast.Parameters.NotificationMessage.PublishTime == generic.Parameters.NotificationMessage.PublishTime
    assert fast.ResponseHeader == generic.ResponseHeader


@pytest.mark.parametrize(
    "odd",
    [
        _item(9, ua.Variant([1.0, 2.0], ua.VariantType.Double), SourceTimestamp=T),
        _item(9, ua.Variant("21.5", ua.VariantType.String), SourceTimestamp=T),
    ],
    ids=["array", "string"],
)
def test_a_response_the_fast_path_cannot_read_is_decoded_by_asyncua(odd: ua.MonitoredItemNotification) -> None:
    raw = _response(ua.DataChangeNotification(MonitoredItems=[*_scalars(), odd]))
    (notification,) = decode_publish_response(raw).Parameters.NotificationMessage.NotificationData
    assert isinstance(notification, ua.DataChangeNotification)  # asyncua's objects: nothing dropped
    columns = columns_of(notification)
    assert len(columns) == 9 and columns.values[0] == 21.5
    assert columns.values[-1] == (None if odd.Value.Value.is_array else 21.5)  # a numeric string counts


def test_a_keep_alive_and_a_truncated_response() -> None:
    keep_alive = decode_publish_response(_response())
    assert keep_alive.Parameters.NotificationMessage.NotificationData == []
    raw = _response(ua.DataChangeNotification(MonitoredItems=_scalars()))
    with pytest.raises(ua.UaError):  # as asyncua: the publish loop logs it and goes on
        decode_publish_response(raw[:-30])
