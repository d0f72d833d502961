"""History comparison, rollups and statistics of tags and areas (在线监测: 历史查询、多维对比、统计).

Routes are thin: validate, resolve the plant's view (limits, tag -> area), one store call,
then shape JSON or CSV. Times are UTC epoch milliseconds, ``[start, end)``; defaults are the
last 24 hours. Bad input answers 422 with the offending field (the app's validation handler
formats it), an unknown tag 404; never a 500.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response

from api.auth import require
from api.deps import PlantDep, StoreDep, TagDep
from connectors.store.base import HistoryPoint, TagStatistics
from models.contracts import now_ms
from twin.plant import Plant

router = APIRouter(tags=["history 历史与统计"], dependencies=[Depends(require("read", "reading"))])

DAY_MS = 86_400_000
MAX_RANGE_MS = 400 * DAY_MS
MAX_COMPARE_TAGS = 12
MAX_STAT_TAGS = 500
DEFAULT_HOLD_S = 600

Format = Literal["json", "csv"]
StartQ = Annotated[int | None, Query(ge=0, description="起始时间 epoch ms (inclusive); default end - 24 h")]
EndQ = Annotated[int | None, Query(ge=0, description="结束时间 epoch ms (exclusive); default now")]
FormatQ = Annotated[Format, Query(description="json, or csv for a spreadsheet export")]
HoldQ = Annotated[
    int,
    Query(ge=1, le=86_400, description="a reading counts as held for at most this many seconds (超限时长)"),
]

StatSort = Literal[
    "tag",
    "count",
    "min",
    "max",
    "avg",
    "above_limit_ms",
    "in_alarm_ms",
    "alarm_count",
    "-tag",
    "-count",
    "-min",
    "-max",
    "-avg",
    "-above_limit_ms",
    "-in_alarm_ms",
    "-alarm_count",
]


def _invalid(*, field: str, message: str) -> RequestValidationError:
    return RequestValidationError([{"loc": ("query", field), "msg": message, "type": "value_error"}])


def _period(start: int | None, end: int | None) -> tuple[int, int]:
    end_ms = end if end is not None else now_ms()
    start_ms = start if start is not None else end_ms - DAY_MS
    if start_ms >= end_ms:
        raise _invalid(field="start", message="start 必须早于 end / start must be before end")
    if end_ms - start_ms > MAX_RANGE_MS:
        raise _invalid(field="end", message="时间范围不能超过 400 天 / range limited to 400 days")
    return start_ms, end_ms


def _known(plant: Plant, tags: Iterable[str]) -> list[str]:
    """Tags in request order without repeats; 404 names the first unknown one."""
    names = set(plant.tag_names)
    out: list[str] = []
    for tag in tags:
        if tag not in names:
            raise HTTPException(status_code=404, detail=f"未知位号 / unknown tag {tag!r}")
        if tag not in out:
            out.append(tag)
    return out


def _csv(filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Response:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(["" if v is None else v for v in row] for row in rows)
    return Response(
        content=buf.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _point(p: HistoryPoint | None) -> dict[str, Any] | None:
    if p is None:
        return None
    return {"ts": p.ts, "min": p.min, "max": p.max, "avg": p.avg, "last": p.last, "count": p.count}


def _area_of(plant: Plant) -> dict[str, str]:
    equipment_area = {e.id: e.area for e in plant.equipment}
    return {t.tag: equipment_area[t.equipment] for t in plant.tags}


def _high_limits(plant: Plant) -> dict[str, float | None]:
    return {t.tag: t.limits.h for t in plant.tags}


# format=csv answers a spreadsheet; an unknown tag in ``tags`` is a 404 naming it
_CSV_TOO: dict[int | str, dict[str, Any]] = {200: {"content": {"text/csv": {"schema": {"type": "string"}}}}}
_UNKNOWN_TAG: dict[int | str, dict[str, Any]] = {404: {"description": "未知位号 / unknown tag"}}


@router.get("/api/v1/history/compare", response_model=None, responses={**_CSV_TOO, **_UNKNOWN_TAG})
def compare(
    store: StoreDep,
    plant: PlantDep,
    tags: Annotated[list[str], Query(min_length=1, description="位号, repeat: ?tags=A&tags=B")],
    start: StartQ = None,
    end: EndQ = None,
    points: Annotated[int, Query(ge=1, le=5000, description="max buckets on the shared axis")] = 500,
    format: FormatQ = "json",  # noqa: A002 - the public query parameter name
) -> dict[str, Any] | Response:
    """Several tags on one time axis (多位号对比): shared bucket starts, per tag values, null gaps."""
    if len(set(tags)) > MAX_COMPARE_TAGS:
        raise _invalid(field="tags", message=f"最多对比 {MAX_COMPARE_TAGS} 个位号 / at most {MAX_COMPARE_TAGS} tags")
    names = _known(plant, tags)
    start_ms, end_ms = _period(start, end)
    cmp = store.compare(names, start_ms, end_ms, points)
    if format == "csv":
        header = ["ts"] + [f"{tag}_{f}" for tag in names for f in ("avg", "min", "max")]
        rows = ([ts] + [x for tag in names for x in _csv_triple(cmp.values[tag][i])] for i, ts in enumerate(cmp.ts))
        return _csv("compare.csv", header, rows)
    return {
        "start": start_ms,
        "end": end_ms,
        "width_ms": cmp.width,
        "ts": cmp.ts,
        "series": [
            {
                "tag": tag,
                "name": plant.tag(tag).name,
                "unit": plant.tag(tag).unit,
                "points": [_point(p) for p in cmp.values[tag]],
            }
            for tag in names
        ],
    }


def _csv_triple(p: HistoryPoint | None) -> tuple[float | None, float | None, float | None]:
    return (None, None, None) if p is None else (p.avg, p.min, p.max)


def _sort_key(field: str) -> Any:
    def key(s: TagStatistics) -> tuple[bool, Any, str]:
        value = getattr(s, field)
        return (value is None, value, s.tag)  # empty values last in either direction

    return key


@router.get("/api/v1/statistics/tags", response_model=None, responses={**_CSV_TOO, **_UNKNOWN_TAG})
def tag_statistics(
    store: StoreDep,
    plant: PlantDep,
    tags: Annotated[list[str] | None, Query(description="位号; default every tag of the plant")] = None,
    start: StartQ = None,
    end: EndQ = None,
    sort: Annotated[StatSort, Query(description="field, '-' prefix for descending")] = "tag",
    limit: Annotated[int, Query(ge=1, le=MAX_STAT_TAGS)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
    max_hold_s: HoldQ = DEFAULT_HOLD_S,
    format: FormatQ = "json",  # noqa: A002 - the public query parameter name
) -> dict[str, Any] | Response:
    """Per tag (位号统计): count, min/max/avg, time above the H limit, time in alarm, alarms raised."""
    if tags is not None and len(set(tags)) > MAX_STAT_TAGS:
        raise _invalid(field="tags", message=f"最多 {MAX_STAT_TAGS} 个位号 / at most {MAX_STAT_TAGS} tags")
    names = _known(plant, tags) if tags is not None else plant.tag_names
    start_ms, end_ms = _period(start, end)
    stats = store.tag_statistics(names, start_ms, end_ms, limits=_high_limits(plant), max_hold_ms=max_hold_s * 1000)
    field = sort.lstrip("-")
    ordered = sorted(stats, key=_sort_key(field))
    if sort.startswith("-"):
        present = [s for s in ordered if getattr(s, field) is not None][::-1]
        ordered = present + [s for s in ordered if getattr(s, field) is None]
    page = ordered[offset : offset + limit]
    if format == "csv":
        header = ["tag", "name", "unit", "count", "min", "max", "avg", "limit"]
        header += ["above_limit_ms", "in_alarm_ms", "alarm_count"]
        rows = (
            [s.tag, plant.tag(s.tag).name, plant.tag(s.tag).unit, s.count, s.min, s.max, s.avg, s.limit]
            + [s.above_limit_ms, s.in_alarm_ms, s.alarm_count]
            for s in page
        )
        return _csv("tag-statistics.csv", header, rows)
    return {
        "start": start_ms,
        "end": end_ms,
        "total": len(ordered),
        "offset": offset,
        "limit": limit,
        "items": [
            {
                "tag": s.tag,
                "name": plant.tag(s.tag).name,
                "unit": plant.tag(s.tag).unit,
                "count": s.count,
                "min": s.min,
                "max": s.max,
                "avg": s.avg,
                "limit": s.limit,
                "above_limit_ms": s.above_limit_ms,
                "in_alarm_ms": s.in_alarm_ms,
                "alarm_count": s.alarm_count,
            }
            for s in page
        ],
    }


@router.get("/api/v1/statistics/areas", response_model=None, responses=_CSV_TOO)
def area_statistics(
    store: StoreDep,
    plant: PlantDep,
    start: StartQ = None,
    end: EndQ = None,
    max_hold_s: HoldQ = DEFAULT_HOLD_S,
    format: FormatQ = "json",  # noqa: A002 - the public query parameter name
) -> dict[str, Any] | Response:
    """Per area (区域统计): readings, time above limits (summed over tags), time with any alarm active."""
    start_ms, end_ms = _period(start, end)
    stats = {
        s.area: s
        for s in store.area_statistics(
            _area_of(plant), start_ms, end_ms, limits=_high_limits(plant), max_hold_ms=max_hold_s * 1000
        )
    }
    items: list[dict[str, Any]] = []
    for area in sorted(plant.areas, key=lambda a: a.id):
        s = stats.get(area.id)
        items.append(
            {
                "area": area.id,
                "name": area.name,
                "name_en": area.name_en,
                "tags": list(s.tags) if s else [],
                "count": s.count if s else 0,
                "above_limit_ms": s.above_limit_ms if s else 0,
                "in_alarm_ms": s.in_alarm_ms if s else 0,
                "alarm_count": s.alarm_count if s else 0,
            }
        )
    if format == "csv":
        header = ["area", "name", "tags", "count", "above_limit_ms", "in_alarm_ms", "alarm_count"]
        rows = ([i["area"], i["name"], " ".join(i["tags"])] + [i[k] for k in header[3:]] for i in items)
        return _csv("area-statistics.csv", header, rows)
    return {"start": start_ms, "end": end_ms, "items": items}


@router.get("/api/v1/tags/{tag}/rollups", response_model=None, responses=_CSV_TOO)
def rollups(
    tag: TagDep,
    store: StoreDep,
    interval: Annotated[Literal["1m", "1h"], Query(description="1m 分钟 or 1h 小时")] = "1h",
    start: StartQ = None,
    end: EndQ = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1440,
    offset: Annotated[int, Query(ge=0)] = 0,
    format: FormatQ = "json",  # noqa: A002 - the public query parameter name
) -> dict[str, Any] | Response:
    """Stored 1-minute or 1-hour rollups (min/max/avg/last/count) of one tag, oldest first, paged."""
    start_ms, end_ms = _period(start, end)
    rows = store.rollups(tag.tag, interval, start_ms, end_ms, limit=limit + 1, offset=offset)
    more = len(rows) > limit
    rows = rows[:limit]
    if format == "csv":
        header = ["ts", "min", "max", "avg", "last", "count"]
        return _csv(f"{tag.tag}-{interval}.csv", header, ([p.ts, p.min, p.max, p.avg, p.last, p.count] for p in rows))
    return {
        "tag": tag.tag,
        "unit": tag.unit,
        "interval": interval,
        "start": start_ms,
        "end": end_ms,
        "offset": offset,
        "limit": limit,
        "next_offset": offset + limit if more else None,
        "items": [_point(p) for p in rows],
    }
