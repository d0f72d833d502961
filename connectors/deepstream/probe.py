"""A pyds pad probe for edge boxes: DeepStream object metadata -> ``video.detection``.

Where a site runs its own Python DeepStream app instead of nvmsgconv/nvmsgbroker, this
probe (attached to the OSD sink pad, as in deepstream_test_4.py) turns each frame's
``NvDsObjectMeta`` into :class:`VideoDetection` messages and hands them to ``publish`` (a
Kafka producer or MQTT client of the edge box). ``pyds`` ships with DeepStream, not with
PyPI (the PyPI ``pyds`` is an unrelated NASA package), so it is imported inside the probe,
never at module import: the platform itself never needs it.

The metadata walk is split from pyds: :func:`detections_of_frames` takes any objects with
the attributes pyds exposes (``frame_num``, ``source_id``, ``obj_meta`` items with
``object_id``, ``obj_label``, ``confidence``, ``rect_params.left/top/width/height``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from models.contracts import VideoDetection

UNTRACKED = 0xFFFFFFFFFFFFFFFF
"""``object_id`` DeepStream gives an object no tracker followed."""


def detections_of_frames(
    frames: Iterable[tuple[Any, Sequence[Any]]],
    camera_of_source: Mapping[int, str],
    *,
    ts_ms: int,
    min_confidence: float = 0.0,
) -> list[VideoDetection]:
    """``(frame_meta, [obj_meta, ...])`` pairs -> detections (one per object)."""
    out: list[VideoDetection] = []
    for frame, objects in frames:
        camera = camera_of_source.get(int(frame.source_id), f"source-{frame.source_id}")
        for obj in objects:
            conf = float(obj.confidence)
            if conf < min_confidence:
                continue
            r = obj.rect_params
            left, top = max(0, round(r.left)), max(0, round(r.top))
            box = (left, top, left + max(1, round(r.width)), top + max(1, round(r.height)))
            track = int(obj.object_id)
            out.append(
                VideoDetection(
                    camera_id=camera,
                    ts=ts_ms,
                    label=str(obj.obj_label).strip().lower().replace(" ", "_"),
                    confidence=min(max(conf, 0.0), 1.0),
                    bbox=box,
                    track_id=None if track == UNTRACKED else str(track),
                )
            )
    return out


def _walk(pyds: Any, gst_buffer: Any) -> Iterator[tuple[Any, list[Any]]]:
    batch_meta = pyds.gst_buffer_get_nvds_batch_meta(hash(gst_buffer))
    l_frame = batch_meta.frame_meta_list
    while l_frame is not None:
        frame = pyds.NvDsFrameMeta.cast(l_frame.data)
        objects = []
        l_obj = frame.obj_meta_list
        while l_obj is not None:
            objects.append(pyds.NvDsObjectMeta.cast(l_obj.data))
            try:
                l_obj = l_obj.next
            except StopIteration:  # older bindings end the list this way
                break
        yield frame, objects
        try:
            l_frame = l_frame.next
        except StopIteration:
            break


def make_probe(
    publish: Callable[[list[VideoDetection]], None],
    camera_of_source: Mapping[int, str],
    *,
    min_confidence: float = 0.3,
    clock: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
) -> Callable[[Any, Any, Any], Any]:
    """A Gst pad probe callback for ``pad.add_probe(Gst.PadProbeType.BUFFER, probe, 0)``.

    Raises:
        ModuleNotFoundError: When called where DeepStream's ``pyds`` is not installed (the
            probe only runs on an edge box).
    """

    def probe(_pad: Any, info: Any, _user_data: Any) -> Any:
        import pyds  # DeepStream only, on the edge box
        from gi.repository import Gst

        buffer = info.get_buffer()
        if buffer:
            found = detections_of_frames(
                _walk(pyds, buffer), camera_of_source, ts_ms=clock(), min_confidence=min_confidence
            )
            if found:
                publish(found)
        return Gst.PadProbeReturn.OK

    return probe
