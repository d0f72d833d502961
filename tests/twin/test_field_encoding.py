"""The device process's pre-encoded data changes are byte for byte what asyncua would send."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

from asyncua import ua
from asyncua.ua.ua_binary import struct_to_binary

from twin.field import _asyncua_pop_datachanges, _pop_encoded_datachanges

T = datetime(2026, 3, 1, 8, 0, 0, 250_000, tzinfo=UTC)
T2 = datetime(2026, 3, 1, 8, 0, 0, 301_123, tzinfo=UTC)


def _items() -> list[ua.MonitoredItemNotification]:
    """The devices' shape, and every other shape a server may queue (those take asyncua's path)."""
    double = ua.VariantType.Double
    sample = [
        ua.MonitoredItemNotification(
            ClientHandle=h, Value=ua.DataValue(ua.Variant(v, double), SourceTimestamp=T, ServerTimestamp=T2)
        )
        for h, v in ((1, 21.5), (2, -0.0), (3, float("inf")), (4_000_000_000, 1e300))
    ]
    others = [
        ua.MonitoredItemNotification(  # the "no initial data" value: Bad, null variant
            ClientHandle=5,
            Value=ua.DataValue(
                ua.Variant(None, ua.VariantType.Null),
                StatusCode=ua.StatusCode(ua.StatusCodes.BadWaitingForInitialData),
                SourceTimestamp=T,
            ),
        ),
        ua.MonitoredItemNotification(ClientHandle=6, Value=ua.DataValue(ua.Variant(7, ua.VariantType.Int32))),
        ua.MonitoredItemNotification(
            ClientHandle=7,
            Value=ua.DataValue(ua.Variant(1.0, double), SourceTimestamp=T, ServerTimestamp=T2, SourcePicoseconds=5),
        ),
        ua.MonitoredItemNotification(ClientHandle=8, Value=ua.DataValue(ua.Variant([1.0, 2.0], double))),
        ua.MonitoredItemNotification(ClientHandle=9, Value=ua.DataValue(ua.Variant("text", ua.VariantType.String))),
        ua.MonitoredItemNotification(
            ClientHandle=10,
            Value=ua.DataValue(
                ua.Variant(3.0, double),
                StatusCode=ua.StatusCode(ua.StatusCodes.UncertainLastUsableValue),
                ServerTimestamp=T2,
            ),
        ),
    ]
    return sample + others


def _published(pop: object, items: list[ua.MonitoredItemNotification]) -> bytes:
    # the state _pop_triggered_datachanges reads: per monitored item id, its queued changes
    sub = SimpleNamespace(pub_request_callback=lambda _id: None, _triggered_datachanges={})
    for i, item in enumerate(items):
        sub._triggered_datachanges.setdefault(100 + i % 3, []).append(item)
    result = ua.PublishResult(SubscriptionId=3)
    pop(sub, result)  # type: ignore[operator]
    assert sub._triggered_datachanges == {}
    result.NotificationMessage.PublishTime = T  # both default to "now"
    response = ua.PublishResponse(Parameters=result)
    response.ResponseHeader.Timestamp = T
    return struct_to_binary(response)


def test_pre_encoded_data_changes_are_the_bytes_asyncua_sends() -> None:
    items = _items()
    assert _published(_pop_encoded_datachanges, items) == _published(_asyncua_pop_datachanges, items)


def test_a_server_side_subscription_keeps_asyncuas_objects() -> None:
    sub = SimpleNamespace(pub_request_callback=None, _triggered_datachanges={1: _items()[:1]})
    result = ua.PublishResult()
    _pop_encoded_datachanges(sub, result)  # type: ignore[arg-type]
    (notification,) = result.NotificationMessage.NotificationData
    assert isinstance(notification, ua.DataChangeNotification)
    assert notification.MonitoredItems[0].Value.Value.Value == 21.5
