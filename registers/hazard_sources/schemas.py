"""Pydantic schemas of the major hazard source register: ``XCreate / XUpdate / XRead``.

Chemicals are validated against GB 18218 at the boundary: a chemical the tables cannot place
(not in Table 1 and no category) is a 422 naming the chemical, never a 500 later on.
"""

from __future__ import annotations

import json
from datetime import date
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from models.hazard_identification import ChemicalInventory, HazardGrade, resolve
from registers.framework.schemas import LongText, RegisterRead, Str64, Str200


class UnitKind(StrEnum):
    """单元类型 per GB 18218: a storage unit (储存单元) or a production unit (生产单元)."""

    STORAGE = "storage"
    PRODUCTION = "production"


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
    """A chemical held in the unit: maximum quantity q and the Q, β used (looked up when left out)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    name: Name = Field(description="化学品名称")
    cas: CasStr = Field(default="", description="CAS号")
    quantity_t: float = Field(ge=0, le=1e7, description="最大存量 q (t)")
    critical_t: float | None = Field(default=None, ge=0.001, le=1e5, description="临界量 Q (t); 缺省时按GB 18218查表")
    beta: float | None = Field(default=None, gt=0, le=100, description="校正系数 β; 缺省时按表3/表4查取")
    categories: list[Annotated[str, Field(max_length=8)]] = Field(
        default_factory=list, max_length=10, description="GB 18218 表2危险性类别, e.g. W2"
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
            )
        )
        self.critical_t, self.beta = term.critical_t, term.beta
        return self


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
    unit_kind: UnitKind = Field(description="单元类型")
    process: Str64 | None = Field(default=None, description="涉及的危险工艺")
    chemicals: Chemicals
    exposed_population: int | None = Field(default=None, ge=0, le=10_000_000, description="500m内暴露人数")
    alpha: float | None = Field(default=None, gt=0, le=10, description="α; 给出暴露人数时由人数确定")
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
        return self


class HazardSourceUpdate(BaseModel):
    """Fields to change; those left out stay as they are. S, R and grade are recomputed."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    code: CodeStr | None = None
    name: Name | None = None
    area: Str64 | None = None
    unit_kind: UnitKind | None = None
    process: Str64 | None = None
    chemicals: Chemicals | None = None
    exposed_population: int | None = Field(default=None, ge=0, le=10_000_000)
    alpha: float | None = Field(default=None, gt=0, le=10)
    principal_person: Person = None
    technical_person: Person = None
    operational_person: Person = None
    record_number: Str64 | None = None
    next_assessment_due: date | None = None


class HazardSourceRead(RegisterRead):
    """A hazard source as the API shows it, with the derived identification."""

    code: str
    name: str
    area: str
    unit_kind: UnitKind
    process: str | None
    chemicals: list[ChemicalAmount]
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

    @property
    def grade_label(self) -> str | None:
        """一级 … 四级, or None when the unit is not a major hazard source."""
        return HazardGrade(self.grade).label if self.grade else None


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
