"""Pydantic schemas of the major hazard source register: ``XCreate / XUpdate / XRead``.

Chemicals are validated against GB 18218 at the boundary: a chemical the tables cannot place
(not in Table 1 and no category) is a 422 naming the chemical, never a 500 later on.
"""

from __future__ import annotations

import json
from datetime import date
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, computed_field, model_validator

from models.hazard_identification import (
    ALPHA_VALUES,
    ChemicalInventory,
    HazardGrade,
    IdentificationError,
    alpha_for_population,
    check_alpha,
    resolve,
)
from registers.framework.schemas import LongText, RegisterRead, Str64, Str200


class UnitKind(StrEnum):
    """单元类型 per GB 18218: a storage unit (储存单元) or a production unit (生产单元)."""

    STORAGE = "storage"
    PRODUCTION = "production"

    @property
    def label(self) -> str:
        """储存单元 / 生产单元."""
        return {"storage": "储存单元", "production": "生产单元"}[self.value]


_UNIT_KIND_WORDS = {
    "储存单元": "storage",
    "储存": "storage",
    "贮存单元": "storage",
    "生产单元": "production",
    "生产": "production",
}


def _unit_kind(value: Any) -> Any:
    """Accept the Chinese words an enterprise's ledger uses (储存单元 / 生产单元) as well as the codes."""
    if isinstance(value, str):
        return _UNIT_KIND_WORDS.get(value.strip(), value.strip())
    return value


UnitKindIn = Annotated[UnitKind, BeforeValidator(_unit_kind)]
UNIT_KIND_LABELS: dict[str, Any] = {kind.value: kind.label for kind in UnitKind}


class DutyRole(StrEnum):
    """The three 包保 responsible persons of a major hazard source (应急厅〔2021〕12号)."""

    PRINCIPAL = "principal"
    TECHNICAL = "technical"
    OPERATIONAL = "operational"

    @property
    def label(self) -> str:
        """主要负责人 / 技术负责人 / 操作负责人."""
        return {"principal": "主要负责人", "technical": "技术负责人", "operational": "操作负责人"}[self.value]


CodeStr = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")]
Name = Annotated[Str200, Field(min_length=1)]
CasStr = Annotated[str, Field(max_length=32, pattern=r"^(|\d{2,7}-\d{2}-\d)$")]


class ChemicalAmount(BaseModel):
    """A chemical held in the unit: maximum quantity q and the Q, β used (looked up when left out).

    The name may be the Chinese name or any alias GB 18218 prints (液氯, 氯气, LPG, 天然气 …);
    the CAS number is optional for a Table 1 chemical. Q and β come from the tables only; a
    different value is refused for a listed chemical and needs a reason and a reviewer for
    an unlisted one.
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    name: Name = Field(description="化学品名称（可用别名，如 液氯、LPG）", title="化学品名称")
    cas: CasStr = Field(default="", description="CAS号（表1所列化学品可不填）", title="CAS号")
    quantity_t: float = Field(ge=0, le=1e7, description="最大存量 q (t)", title="最大存量q（t）")
    critical_t: float | None = Field(
        default=None, ge=0.001, le=1e5, description="临界量 Q (t); 缺省时按GB 18218查表", title="临界量Q（t）"
    )
    beta: float | None = Field(default=None, gt=0, le=100, description="校正系数 β; 缺省时按表3/表4查取", title="β")
    categories: list[Annotated[str, Field(max_length=8)]] = Field(
        default_factory=list, max_length=10, description="GB 18218 表2危险性类别, e.g. W2", title="危险性类别"
    )
    override_reason: Annotated[str, Field(max_length=200)] = Field(
        default="", description="另行指定 Q/β 的原因（仅限表1未列的化学品）", title="指定原因"
    )
    override_reviewer: Annotated[str, Field(max_length=64)] = Field(
        default="", description="另行指定 Q/β 的审核人", title="审核人"
    )

    @model_validator(mode="after")
    def _resolve(self) -> ChemicalAmount:
        """Fill Q and β from the tables, so the register stores the values it computed with."""
        term = resolve(
            ChemicalInventory(
                name=self.name,
                cas=self.cas,
                quantity_t=self.quantity_t,
                categories=tuple(self.categories),
                critical_t=self.critical_t,
                beta=self.beta,
                override_reason=self.override_reason,
                override_reviewer=self.override_reviewer,
            )
        )
        self.critical_t, self.beta = term.critical_t, term.beta
        return self


class ChemicalStored(BaseModel):
    """A chemical as stored and shown: not re-validated, so a row stored under older rules still reads."""

    name: str
    cas: str = ""
    quantity_t: float
    critical_t: float | None = None
    beta: float | None = None
    categories: list[str] = Field(default_factory=list)
    override_reason: str = ""
    override_reviewer: str = ""


def _table_5_alpha(value: float | None) -> float | None:
    if value is None:
        return None
    try:
        return check_alpha(value)
    except IdentificationError as err:
        raise ValueError(str(err)) from None


Alpha = Annotated[
    float,
    Field(
        gt=0,
        description=f"α（表5）：{'/'.join(str(a) for a in ALPHA_VALUES)}；给出暴露人数时由人数确定",
        json_schema_extra={"enum": list(ALPHA_VALUES)},
    ),
    AfterValidator(_table_5_alpha),
]


def _parse_chemicals(value: Any) -> Any:
    """Accept the list as JSON text too (an Excel cell holds text)."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as err:
            msg = "化学品清单应为JSON列表 / chemicals must be a JSON list of {name, cas, quantity_t}"
            raise ValueError(msg) from err
    return value


Chemicals = Annotated[list[ChemicalAmount], BeforeValidator(_parse_chemicals), Field(min_length=1, max_length=50)]
Person = Str64 | None


class HazardSourceCreate(BaseModel):
    """A new major hazard source; α is taken from ``exposed_population`` when that is given."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    code: CodeStr = Field(description="编号, e.g. MHS-01")
    name: Name = Field(description="名称")
    area: Str64 = Field(default="", description="所在区域")
    unit_kind: UnitKindIn = Field(
        description="单元类型：储存单元 / 生产单元", json_schema_extra={"x-enum-labels": UNIT_KIND_LABELS}
    )
    process: Str64 | None = Field(default=None, description="涉及的危险工艺")
    chemicals: Chemicals
    exposed_population: int | None = Field(default=None, ge=0, le=10_000_000, description="500m内暴露人数")
    alpha: Alpha | None = None
    principal_person: Person = None
    technical_person: Person = None
    operational_person: Person = None
    record_number: Str64 | None = Field(default=None, description="备案编号")
    next_assessment_due: date | None = Field(default=None, description="下次安全评估日期")

    @model_validator(mode="after")
    def _alpha_known(self) -> HazardSourceCreate:
        if self.alpha is None and self.exposed_population is None:
            msg = "请给出 α 或 暴露人数 / give alpha or exposed_population"
            raise ValueError(msg)
        _alpha_agrees(self.alpha, self.exposed_population)
        return self


def _alpha_agrees(alpha: float | None, population: int | None) -> None:
    """An α typed next to a population must be the one Table 5 gives for it (never silently replaced)."""
    if alpha is None or population is None:
        return
    expected = alpha_for_population(population)
    if alpha != expected:
        msg = (
            f"暴露人数 {population} 人按表5对应 α={expected}，与填写的 α={alpha} 不符；请只填暴露人数"
            f" / alpha {alpha} contradicts the exposed population ({expected})"
        )
        raise ValueError(msg)


class HazardSourceUpdate(BaseModel):
    """Fields to change; those left out stay as they are. S, R and grade are recomputed."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    code: CodeStr | None = None
    name: Name | None = None
    area: Str64 | None = None
    unit_kind: UnitKindIn | None = Field(default=None, json_schema_extra={"x-enum-labels": UNIT_KIND_LABELS})
    process: Str64 | None = None
    chemicals: Chemicals | None = None
    exposed_population: int | None = Field(default=None, ge=0, le=10_000_000)
    alpha: Alpha | None = None
    principal_person: Person = None
    technical_person: Person = None
    operational_person: Person = None
    record_number: Str64 | None = None
    next_assessment_due: date | None = None

    @model_validator(mode="after")
    def _alpha_consistent(self) -> HazardSourceUpdate:
        _alpha_agrees(self.alpha, self.exposed_population)
        return self


class HazardSourceRead(RegisterRead):
    """A hazard source as the API shows it, with the derived identification."""

    code: str
    name: str
    area: str
    unit_kind: UnitKind
    process: str | None
    chemicals: list[ChemicalStored]
    exposed_population: int | None
    alpha: float
    s_value: float
    r_value: float
    grade: int | None
    is_major: bool
    principal_person: str | None
    technical_person: str | None
    operational_person: str | None
    record_number: str | None
    next_assessment_due: date | None

    @computed_field(description="级别（一级…四级；未构成重大危险源时为“未构成”）")  # type: ignore[prop-decorator]
    @property
    def grade_label(self) -> str:
        """一级 … 四级, or 未构成 when the unit is not a major hazard source."""
        return HazardGrade(self.grade).label if self.grade else "未构成"

    @computed_field(description="辨识过程：各化学品 q、Q、q/Q、β 及 S、R 的计算")  # type: ignore[prop-decorator]
    @property
    def explanation(self) -> str:
        """The worked identification (each chemical's q/Q and β, α, the sums), recomputed from the stored row."""
        from models.hazard_identification import identify

        items = [
            ChemicalInventory(
                name=c.name,
                cas=c.cas,
                quantity_t=c.quantity_t,
                categories=tuple(c.categories),
                critical_t=c.critical_t,
                beta=c.beta,
                override_reason=c.override_reason,
                override_reviewer=c.override_reviewer,
            )
            for c in self.chemicals
        ]
        try:
            return identify(items, alpha=self.alpha).explain()
        except IdentificationError as err:  # a row stored under older rules: say so, do not fail
            return f"按现行表格无法复核：{err}"


class DutyCreate(BaseModel):
    """A duty performed by one of the three responsible persons (包保履职)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    hazard_source_code: CodeStr = Field(description="重大危险源编号, e.g. MHS-01")
    role: DutyRole = Field(description="包保角色")
    person: Annotated[Str64, Field(min_length=1)] = Field(description="履职人")
    performed_on: date = Field(description="履职日期")
    content: Annotated[LongText, Field(min_length=1)] = Field(description="履职内容")
    findings: LongText = Field(default="", description="发现问题")
    hazards_found: int = Field(default=0, ge=0, le=10_000, description="发现隐患数")


class DutyUpdate(BaseModel):
    """Fields of a duty record to change."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    role: DutyRole | None = None
    person: Annotated[Str64, Field(min_length=1)] | None = None
    performed_on: date | None = None
    content: Annotated[LongText, Field(min_length=1)] | None = None
    findings: LongText | None = None
    hazards_found: int | None = Field(default=None, ge=0, le=10_000)


class DutyRead(RegisterRead):
    """A duty record as the API shows it."""

    hazard_source_code: str
    role: DutyRole
    person: str
    performed_on: date
    content: str
    findings: str
    hazards_found: int
