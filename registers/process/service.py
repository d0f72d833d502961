"""The production process registers (生产过程基础信息) on the register framework.

Three registers: :data:`processes` (危险工艺), :data:`chemicals` (化学品及MSDS, one per CAS
number) and :data:`startups` (开停车记录). Plus :func:`parameters_from_plant`, which takes a
process's key parameter limits from the plant model's tags, so the register and the live
alarm limits cannot disagree.

Example:
    >>> from twin.plant import DEMO_PLANT, load_plant
    >>> [p.tag for p in parameters_from_plant(load_plant(DEMO_PLANT), ["TT-401"])]
    ['TT-401']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from registers.framework.service import Register
from registers.process.models import Chemical, HazardousProcess, StartupShutdown
from registers.process.schemas import (
    ChemicalCreate,
    ChemicalRead,
    ChemicalUpdate,
    HazardousProcessCreate,
    HazardousProcessRead,
    HazardousProcessUpdate,
    KeyParameter,
    ShutdownKind,
    StartupShutdownCreate,
    StartupShutdownRead,
    StartupShutdownUpdate,
)
from twin.plant import Plant

__all__ = [
    "CHEMICAL_LABELS",
    "PROCESS_LABELS",
    "STARTUP_LABELS",
    "chemicals",
    "parameters_from_plant",
    "processes",
    "startups",
]

PROCESS_LABELS: Mapping[str, str] = {
    "name": "工艺名称",
    "reaction_type": "反应类型",
    "hazard_source_code": "所属重大危险源",
    "equipment": "关键设备",
    "key_parameters": "重点监控工艺参数",
    "safety_controls": "安全控制措施",
    "control_mode": "控制方式",
}

CHEMICAL_LABELS: Mapping[str, str] = {
    "name": "化学品名称",
    "cas": "CAS号",
    "un_number": "UN号",
    "hazard_classes": "危险性类别",
    "gb18218_categories": "GB 18218类别",
    "mac_mg_m3": "MAC(mg/m³)",
    "pc_twa_mg_m3": "PC-TWA(mg/m³)",
    "pc_stel_mg_m3": "PC-STEL(mg/m³)",
    "flash_point_c": "闪点(℃)",
    "lel_pct": "爆炸下限(%)",
    "uel_pct": "爆炸上限(%)",
    "physical_state": "物态",
    "is_highly_toxic": "剧毒化学品",
    "emergency_measures": "应急处置措施",
}

STARTUP_LABELS: Mapping[str, str] = {
    "unit": "装置/单元",
    "process": "危险工艺",
    "equipment": "主要设备",
    "kind": "类型",
    "started_at": "开始时间",
    "finished_at": "完成时间",
    "reason": "原因",
    "checklist_confirmed": "开停车条件确认",
    "approved_by": "批准人",
    "operator": "操作人",
    "notes": "备注",
}


def _describe_process(record: HazardousProcess) -> str:
    return f"{record.name} {record.equipment}".strip()


def _describe_chemical(record: Chemical) -> str:
    return f"{record.name} ({record.cas})"


def _describe_startup(record: StartupShutdown) -> str:
    return f"{record.unit} {ShutdownKind(record.kind).label} {record.started_at:%Y-%m-%d %H:%M}"


processes: Register[HazardousProcess, HazardousProcessCreate, HazardousProcessUpdate, HazardousProcessRead] = Register(
    name="hazardous_process",
    title="危险工艺",
    model=HazardousProcess,
    create_schema=HazardousProcessCreate,
    update_schema=HazardousProcessUpdate,
    read_schema=HazardousProcessRead,
    labels=PROCESS_LABELS,
    searchable=("name", "reaction_type", "equipment", "safety_controls", "control_mode"),
    sortable=("id", "name", "hazard_source_code", "equipment", "updated_at"),
    filterable=("name", "hazard_source_code", "equipment"),
    describe=_describe_process,
    default_sort="name",
)

chemicals: Register[Chemical, ChemicalCreate, ChemicalUpdate, ChemicalRead] = Register(
    name="chemical",
    title="危险化学品",
    model=Chemical,
    create_schema=ChemicalCreate,
    update_schema=ChemicalUpdate,
    read_schema=ChemicalRead,
    labels=CHEMICAL_LABELS,
    searchable=("name", "cas", "hazard_classes", "un_number"),
    sortable=("id", "name", "cas", "flash_point_c", "lel_pct", "updated_at"),
    filterable=("cas", "is_highly_toxic", "physical_state", "flash_point_c", "lel_pct"),
    unique=("cas",),
    describe=_describe_chemical,
    default_sort="name",
)

startups: Register[StartupShutdown, StartupShutdownCreate, StartupShutdownUpdate, StartupShutdownRead] = Register(
    name="startup_shutdown",
    title="开停车记录",
    model=StartupShutdown,
    create_schema=StartupShutdownCreate,
    update_schema=StartupShutdownUpdate,
    read_schema=StartupShutdownRead,
    labels=STARTUP_LABELS,
    searchable=("unit", "process", "equipment", "reason", "notes"),
    sortable=("id", "started_at", "finished_at", "unit", "kind", "updated_at"),
    filterable=("unit", "kind", "equipment", "started_at", "checklist_confirmed"),
    describe=_describe_startup,
    default_sort="-started_at",
)


def parameters_from_plant(plant: Plant, tags: Iterable[str]) -> list[KeyParameter]:
    """Key parameters with name, unit and limits copied from the plant model's tags.

    Raises:
        KeyError: a tag the plant does not have.
    """
    found = []
    for name in tags:
        tag = plant.tag(name)
        limits = tag.limits
        found.append(
            KeyParameter(tag=tag.tag, name=tag.name, unit=tag.unit, ll=limits.ll, l=limits.l, h=limits.h, hh=limits.hh)
        )
    return found
