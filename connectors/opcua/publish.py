"""Publish responses decoded straight into columns of data changes.

asyncua decodes a PublishResponse generically: every monitored item becomes a
``MonitoredItemNotification`` holding a ``DataValue``, a ``Variant`` and two ``datetime``
objects, built field by field from the type hints (about 25 µs per item). The subscriber
then needs four numbers per item: client handle, value, status code and timestamp. At
10,000 tags a second that decoding was the largest share of the connector's CPU (39 % of
its samples, py-spy), and it is what a publish response waits for before the next publish
request goes out (asyncua keeps one outstanding).

:func:`decode_publish_response` reads the common case, a ``DataChangeNotification`` of
scalar numeric values, with :mod:`struct` into :class:`DataChangeColumns` (timestamps as
epoch ms, never ``datetime``); everything around it (the response header, status-change and
event notifications) is decoded by asyncua as before. Anything the fast path does not know
(arrays, strings, diagnostic infos, a truncated body) makes it decode the whole response
generically, so an unusual server costs speed, never data: :func:`columns_of` turns
asyncua's own ``DataChangeNotification`` into the same columns.

Example:
    >>> from asyncua.ua.ua_binary import struct_to_binary
    >>> from datetime import UTC, datetime
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> item = ua.MonitoredItemNotification(
    ...     ClientHandle=7, Value=ua.DataValue(ua.Variant(2.5, ua.VariantType.Double), SourceTimestamp=t)
    ... )
    >>> result = ua.PublishResult(SubscriptionId=1)
    >>> result.NotificationMessage.NotificationData.append(ua.DataChangeNotification(MonitoredItems=[item]))
    >>> response = decode_publish_response(struct_to_binary(ua.PublishResponse(Parameters=result)))
    >>> columns = response.Parameters.NotificationMessage.NotificationData[0]
    >>> columns.handles, columns.values, columns.source_ms == [int(t.timestamp() * 1000)]
    ([7], [2.5], True)
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from asyncua import ua
from asyncua.common.utils import Buffer
from asyncua.ua.object_ids import ObjectIds
from asyncua.ua.ua_binary import extensionobject_from_binary, nodeid_from_binary, struct_from_binary
from asyncua.ua.uaerrors import UaError

_EPOCH_TICKS = 116_444_736_000_000_000
"""1970-01-01 in OPC UA DateTime ticks (100 ns since 1601-01-01)."""
_DATA_CHANGE_BINARY = ua.NodeId(ua.Int32(ObjectIds.DataChangeNotification_Encoding_DefaultBinary))

_I32 = struct.Struct("<i")
_U32 = struct.Struct("<I")
_I64 = struct.Struct("<q")
_HEAD = struct.Struct("<IB")  # client handle, DataValue encoding mask
_DATE = struct.Struct("<q")
_PUBLISH_HEAD = struct.Struct("<I")

# Variant built-in type id -> struct of its scalar encoding (OPC UA Part 6, 5.1.2).
_SCALARS: dict[int, struct.Struct] = {
    1: struct.Struct("<?"),  # Boolean
    2: struct.Struct("<b"),  # SByte
    3: struct.Struct("<B"),  # Byte
    4: struct.Struct("<h"),  # Int16
    5: struct.Struct("<H"),  # UInt16
    6: struct.Struct("<i"),  # Int32
    7: struct.Struct("<I"),  # UInt32
    8: struct.Struct("<q"),  # Int64
    9: struct.Struct("<Q"),  # UInt64
    10: struct.Struct("<f"),  # Float
    11: struct.Struct("<d"),  # Double
}
_NULL = 0


class _NotFast(Exception):
    """The response holds something the fast path does not decode; decode it generically."""


@dataclass(slots=True)
class DataChangeColumns:
    """The data changes of one notification, one list per field, in notification order.

    ``values`` holds a float per scalar numeric value (None for a null or non-numeric value),
    ``status`` the status code as an int (0 is Good; a missing status is Good), the
    timestamps epoch ms (None when the server sent none, or OPC UA's "no time").
    """

    handles: list[int] = field(default_factory=list)
    values: list[float | None] = field(default_factory=list)
    status: list[int] = field(default_factory=list)
    source_ms: list[int | None] = field(default_factory=list)
    server_ms: list[int | None] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.handles)


def _ms_of_ticks(ticks: int) -> int | None:
    """Epoch ms (nearest) of an OPC UA DateTime; None for 0 (no time) and before 1601."""
    return None if ticks <= 0 else (ticks - _EPOCH_TICKS + 5_000) // 10_000


def _ms_of_datetime(stamp: datetime | None) -> int | None:
    if stamp is None or stamp.year <= 1601:  # 1601-01-01 is OPC UA's "no time"
        return None
    aware = stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=UTC)  # other stacks: naive UTC
    return round(aware.timestamp() * 1000)


def columns_of(notification: ua.DataChangeNotification) -> DataChangeColumns:
    """The columns of a ``DataChangeNotification`` asyncua decoded itself (the slow path)."""
    columns = DataChangeColumns()
    for item in notification.MonitoredItems:
        value: Any = None
        status = 0
        source = server = None
        dv = item.Value
        if dv is not None:
            if dv.Value is not None:
                value = dv.Value.Value
            if dv.StatusCode is not None:
                status = dv.StatusCode.value
            source, server = _ms_of_datetime(dv.SourceTimestamp), _ms_of_datetime(dv.ServerTimestamp)
        try:
            number = None if value is None else float(value)  # as before: a numeric string counts
        except (TypeError, ValueError):
            number = None
        columns.handles.append(item.ClientHandle)
        columns.values.append(number)
        columns.status.append(status)
        columns.source_ms.append(source)
        columns.server_ms.append(server)
    return columns


def _decode_data_change(raw: bytes, pos: int, end: int) -> DataChangeColumns:
    """The body of a binary ``DataChangeNotification`` in ``raw[pos:end]``.

    Raises:
        _NotFast: An array, a non-numeric variant, diagnostic infos or a short body.
    """
    (count,) = _I32.unpack_from(raw, pos)
    pos += 4
    handles: list[int] = []
    values: list[float | None] = []
    status: list[int] = []
    source_ms: list[int | None] = []
    server_ms: list[int | None] = []
    scalars = _SCALARS
    date = _DATE.unpack_from
    u32 = _U32.unpack_from
    head = _HEAD.unpack_from
    try:
        for _ in range(max(count, 0)):
            handle, mask = head(raw, pos)
            pos += 5
            value: float | None = None
            if mask & 0x01:
                vtype = raw[pos]
                pos += 1
                if vtype != _NULL:
                    codec = scalars.get(vtype)  # an array flag (0x80, 0x40) is never in the table
                    if codec is None:
                        raise _NotFast
                    value = float(codec.unpack_from(raw, pos)[0])
                    pos += codec.size
            code = 0
            if mask & 0x02:
                (code,) = u32(raw, pos)
                pos += 4
            src = srv = None
            if mask & 0x04:
                src = _ms_of_ticks(date(raw, pos)[0])
                pos += 8
            if mask & 0x08:
                srv = _ms_of_ticks(date(raw, pos)[0])
                pos += 8
            if mask & 0x10:  # picoseconds: below the ms the readings carry
                pos += 2
            if mask & 0x20:
                pos += 2
            if mask & 0xC0:
                raise _NotFast
            handles.append(handle)
            values.append(value)
            status.append(code)
            source_ms.append(src)
            server_ms.append(srv)
        (diagnostics,) = _I32.unpack_from(raw, pos)
        pos += 4
    except (struct.error, IndexError) as err:
        raise _NotFast from err
    if diagnostics > 0 or pos != end:
        raise _NotFast
    return DataChangeColumns(handles, values, status, source_ms, server_ms)


def _decode_fast(raw: bytes) -> ua.PublishResponse:
    buf = Buffer(raw)
    response = ua.PublishResponse()
    response.TypeId = nodeid_from_binary(buf)
    response.ResponseHeader = struct_from_binary(ua.ResponseHeader, buf)
    result = response.Parameters
    try:
        pos = buf.cur_pos
        (result.SubscriptionId,) = _U32.unpack_from(raw, pos)
        (n,) = _I32.unpack_from(raw, pos + 4)
        pos += 8
        result.AvailableSequenceNumbers = list(struct.unpack_from(f"<{n}I", raw, pos)) if n > 0 else []
        pos += 4 * max(n, 0)
        result.MoreNotifications = bool(raw[pos])
        message = result.NotificationMessage
        (message.SequenceNumber,) = _U32.unpack_from(raw, pos + 1)
        message.PublishTime = ua.uatypes.win_epoch_to_datetime(_I64.unpack_from(raw, pos + 5)[0])
        (n,) = _I32.unpack_from(raw, pos + 13)
        pos += 17
    except (struct.error, IndexError) as err:
        raise _NotFast from err
    data: list[Any] = []
    for _ in range(max(n, 0)):
        start = pos
        buf = Buffer(raw, pos)
        type_id = nodeid_from_binary(buf)
        pos = buf.cur_pos
        if type_id == _DATA_CHANGE_BINARY and raw[pos] == 1:
            (length,) = _I32.unpack_from(raw, pos + 1)
            body = pos + 5
            data.append(_decode_data_change(raw, body, body + length))
            pos = body + length
        else:  # status changes, events: asyncua's own decoding
            buf = Buffer(raw, start)
            data.append(extensionobject_from_binary(buf))
            pos = buf.cur_pos
    message.NotificationData = data
    try:
        (n,) = _I32.unpack_from(raw, pos)
        pos += 4
        result.Results = [ua.StatusCode(code) for code in struct.unpack_from(f"<{n}I", raw, pos)] if n > 0 else []
        pos += 4 * max(n, 0)
        (n,) = _I32.unpack_from(raw, pos)
    except (struct.error, IndexError) as err:
        raise _NotFast from err
    if n > 0 or pos + 4 != len(raw):
        raise _NotFast
    result.DiagnosticInfos = []
    return response


def decode_publish_response(raw: bytes) -> ua.PublishResponse:
    """A PublishResponse whose binary data changes are :class:`DataChangeColumns`.

    Other notifications (status changes, events) are asyncua's usual objects; a response the
    fast path cannot read is decoded entirely by asyncua, its data changes then being
    ``ua.DataChangeNotification`` (see :func:`columns_of`).
    """
    try:
        return _decode_fast(raw)
    except (_NotFast, UaError, struct.error, IndexError, ValueError):
        return struct_from_binary(ua.PublishResponse, Buffer(raw))
