"""Major hazard source identification and grading per GB 18218-2018 (危险化学品重大危险源辨识).

Pure maths and frozen reference tables, no I/O, so the register, the risk model and the tests
all compute S, R and the grade the same way (see DOMAIN.md §2):

* critical quantity Q (临界量): the Table 1 value when the chemical is named there (keyed on
  CAS number, never on name, because names vary), else the **lowest** Table 2 value among
  its hazard categories;
* S = Σ qᵢ/Qᵢ; the unit (单元) is a major hazard source when **S ≥ 1**;
* R = α · Σ βᵢ·qᵢ/Qᵢ with β from Table 3 for the named toxic gases, else from Table 4 by
  hazard category, and α from the population exposed within 500 m of the plant boundary;
* grade (分级): 一级 R ≥ 100, 二级 50 ≤ R < 100, 三级 10 ≤ R < 50, 四级 R < 10.

Arithmetic is exact (:class:`fractions.Fraction` over the decimal text of each number), so a
unit whose R is exactly 50 is 二级 and never 三级 because of binary rounding; floats are only
handed out at the end.

Example:
    >>> lpg = ChemicalInventory(name="液化石油气", cas="68476-85-7", quantity_t=1600)
    >>> result = identify([lpg], alpha=1.5)
    >>> result.s, result.r, result.grade.label
    (32.0, 72.0, '二级')
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import IntEnum
from fractions import Fraction
from types import MappingProxyType
from typing import Final

Number = float | int | Decimal | Fraction


class IdentificationError(ValueError):
    """A chemical or factor that GB 18218 identification cannot use; the message says why."""


class UnknownChemical(IdentificationError):
    """Not in Table 1 and no hazard category given, so no critical quantity can be chosen."""


class UnknownCategory(IdentificationError):
    """A hazard category code that is not in Table 2 (e.g. a typo such as ``W5-1``)."""


class HazardGrade(IntEnum):
    """Grade of a major hazard source (重大危险源级别); 1 is the most severe."""

    ONE = 1
    TWO = 2
    THREE = 3
    FOUR = 4

    @property
    def label(self) -> str:
        """The Chinese name used on every form: 一级 … 四级."""
        return _GRADE_LABELS[self]

    @classmethod
    def from_label(cls, label: str) -> HazardGrade:
        """Parse 一级 … 四级 (as imported from an enterprise's Excel ledger)."""
        for grade, text in _GRADE_LABELS.items():
            if text == label.strip():
                return grade
        msg = f"未知的重大危险源级别 {label!r}，应为 一级/二级/三级/四级 / unknown grade {label!r}"
        raise IdentificationError(msg)


_GRADE_LABELS: Final[Mapping[HazardGrade, str]] = MappingProxyType(
    {HazardGrade.ONE: "一级", HazardGrade.TWO: "二级", HazardGrade.THREE: "三级", HazardGrade.FOUR: "四级"}
)

# Lower bound of R for each grade, most severe first (R ≥ bound).
GRADE_THRESHOLDS: Final[tuple[tuple[HazardGrade, int], ...]] = (
    (HazardGrade.ONE, 100),
    (HazardGrade.TWO, 50),
    (HazardGrade.THREE, 10),
)


# --- reference tables (frozen) ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HazardCategory:
    """A Table 2 hazard category (危险性类别) with its critical quantity and Table 4 β."""

    code: str
    description: str
    critical_t: float
    beta: float


@dataclass(frozen=True, slots=True)
class NamedChemical:
    """A Table 1 row: a chemical named by GB 18218 with its own critical quantity.

    ``categories`` are the Table 2 codes the chemical falls under; they give β (Table 4)
    when the chemical is not a Table 3 toxic gas. Left empty where the classification is
    not settled: such a chemical must then be given its category by the user.
    """

    cas: str
    name: str
    critical_t: float
    categories: tuple[str, ...] = ()


def _categories(*rows: tuple[str, str, float, float]) -> Mapping[str, HazardCategory]:
    return MappingProxyType({code: HazardCategory(code, text, q, beta) for code, text, q, beta in rows})


# Table 2 (critical quantity by category, t) joined with Table 4 (β by category).
TABLE_2: Final[Mapping[str, HazardCategory]] = _categories(
    ("J1", "急性毒性类别1，所有暴露途径，气体", 5, 4),
    ("J2", "急性毒性类别1，所有暴露途径，固体、液体", 50, 1),
    ("J3", "急性毒性类别2、类别3，所有暴露途径，气体", 50, 2),
    ("J4", "急性毒性类别2、类别3，吸入途径，液体（沸点≤35℃）", 50, 2),
    ("J5", "急性毒性类别2，所有暴露途径，液体（除J4外）、固体", 500, 1),
    ("W1.1", "不稳定爆炸物；1.1项爆炸物", 1, 2),
    ("W1.2", "1.2、1.3、1.5、1.6项爆炸物", 10, 2),
    ("W1.3", "1.4项爆炸物", 50, 2),
    ("W2", "易燃气体类别1和类别2", 10, 1.5),
    ("W3", "气溶胶类别1和类别2", 150, 1),
    ("W4", "氧化性气体类别1", 50, 1),
    ("W5.1", "易燃液体类别1；类别2和3工作温度高于沸点", 10, 1.5),
    ("W5.2", "易燃液体类别2和3，具有引发重大事故的特殊工艺条件", 50, 1),
    ("W5.3", "不属于W5.1或W5.2的其他类别2易燃液体", 1000, 1),
    ("W5.4", "不属于W5.1或W5.2的其他类别3易燃液体", 5000, 1),
    ("W6.1", "自反应物质和混合物A型和B型", 10, 1.5),
    ("W6.2", "自反应物质和混合物C型、D型、E型", 50, 1),
    ("W7.1", "有机过氧化物A型和B型", 10, 1.5),
    ("W7.2", "有机过氧化物C型、D型、E型、F型", 50, 1),
    ("W8", "自燃液体和自燃固体类别1", 50, 1),
    ("W9.1", "氧化性固体和液体类别1", 50, 1),
    ("W9.2", "氧化性固体和液体类别2、类别3", 200, 1),
    ("W10", "易燃固体类别1", 200, 1),
    ("W11", "遇水放出易燃气体的物质和混合物类别1和类别2", 200, 1),
)


def _named(*rows: tuple[str, str, float, tuple[str, ...]]) -> Mapping[str, NamedChemical]:
    return MappingProxyType({cas: NamedChemical(cas, name, q, cats) for cas, name, q, cats in rows})


# A subset of Table 1 (critical quantity of named chemicals, t), keyed on CAS number: the
# demo plant's chemicals and the rows DOMAIN.md §2.4 confirms. Flammable gases carry W2
# (β 1.5) and methanol W5.3 (β 1), as the demo plant's β values assume.
TABLE_1: Final[Mapping[str, NamedChemical]] = _named(
    # toxic and reactive gases / liquids
    ("7664-41-7", "氨", 10, ()),
    ("10102-44-0", "二氧化氮", 1, ()),
    ("7446-09-5", "二氧化硫", 20, ()),
    ("7782-41-4", "氟", 1, ()),
    ("75-44-5", "碳酰氯（光气）", 0.3, ()),
    ("75-21-8", "环氧乙烷", 10, ("W2",)),
    ("50-00-0", "甲醛（含量>90%）", 5, ()),
    ("7803-51-2", "磷化氢", 1, ()),
    ("7783-06-4", "硫化氢", 5, ()),
    ("7647-01-0", "氯化氢（无水）", 20, ()),
    ("7782-50-5", "氯", 5, ()),
    ("630-08-0", "煤气（CO，CO和H2、CH4的混合物等）", 20, ()),
    ("7784-42-1", "砷化氢", 1, ()),
    ("74-83-9", "溴甲烷", 10, ()),
    ("107-02-8", "丙烯醛", 20, ()),
    ("7664-39-3", "氟化氢", 1, ()),
    ("106-89-8", "环氧氯丙烷", 20, ()),
    ("74-90-8", "氰化氢", 1, ()),
    ("7446-11-9", "三氧化硫", 75, ()),
    ("7726-95-6", "溴", 20, ()),
    ("624-83-9", "异氰酸甲酯", 0.75, ()),
    # flammable gases
    ("106-99-0", "1,3-丁二烯", 5, ("W2",)),
    ("115-10-6", "二甲醚", 50, ("W2",)),
    ("74-82-8", "甲烷，天然气", 50, ("W2",)),
    ("75-01-4", "氯乙烯", 50, ("W2",)),
    ("1333-74-0", "氢", 5, ("W2",)),
    ("68476-85-7", "液化石油气", 50, ("W2",)),
    ("74-89-5", "一甲胺", 5, ("W2",)),
    ("74-86-2", "乙炔", 1, ("W2",)),
    ("74-85-1", "乙烯", 50, ("W2",)),
    ("7782-44-7", "氧（压缩的或液化的）", 200, ("W4",)),
    # flammable liquids (category left to the user where GHS classes differ by grade)
    ("71-43-2", "苯", 50, ()),
    ("100-42-5", "苯乙烯", 500, ()),
    ("67-64-1", "丙酮", 500, ()),
    ("107-13-1", "丙烯腈", 50, ()),
    ("75-15-0", "二硫化碳", 50, ()),
    ("110-82-7", "环己烷", 500, ()),
    ("75-56-9", "环氧丙烷", 10, ()),
    ("108-88-3", "甲苯", 500, ()),
    ("67-56-1", "甲醇", 500, ("W5.3",)),
    ("64-17-5", "乙醇", 500, ()),
    ("60-29-7", "乙醚", 10, ()),
    ("141-78-6", "乙酸乙酯", 500, ()),
    ("110-54-3", "正己烷", 500, ()),
)


# Table 3: β of the named toxic gases, keyed on CAS number.
TABLE_3_BETA: Final[Mapping[str, tuple[str, float]]] = MappingProxyType(
    {
        "630-08-0": ("一氧化碳", 2),
        "7446-09-5": ("二氧化硫", 2),
        "7664-41-7": ("氨", 2),
        "75-21-8": ("环氧乙烷", 2),
        "7647-01-0": ("氯化氢", 3),
        "74-83-9": ("溴甲烷", 3),
        "7782-50-5": ("氯", 4),
        "7783-06-4": ("硫化氢", 5),
        "7664-39-3": ("氟化氢", 5),
        "10102-44-0": ("二氧化氮", 10),
        "74-90-8": ("氰化氢", 10),
        "75-44-5": ("碳酰氯", 20),
        "7803-51-2": ("磷化氢", 20),
        "624-83-9": ("异氰酸甲酯", 20),
    }
)

# α by the number of people exposed within 500 m outside the plant boundary: (minimum, α),
# largest band first.
ALPHA_BANDS: Final[tuple[tuple[int, float], ...]] = ((100, 2.0), (50, 1.5), (30, 1.2), (1, 1.0), (0, 0.5))


# --- lookups ---------------------------------------------------------------------------------


def _exact(value: Number) -> Fraction:
    """The exact rational a person meant by ``value`` (1.5 → 3/2, not 1.5's binary neighbour)."""
    if isinstance(value, Fraction):
        return value
    if isinstance(value, float):
        return Fraction(repr(value))
    return Fraction(value)


def normalise_cas(cas: str | None) -> str:
    """CAS number without spaces; '' when absent."""
    return (cas or "").strip().replace(" ", "")


def _category(code: str) -> HazardCategory:
    try:
        return TABLE_2[code.strip().upper()]
    except KeyError:
        known = ", ".join(TABLE_2)
        msg = f"未知的危险性类别 {code!r}（GB 18218-2018 表2）/ unknown hazard category {code!r}; known: {known}"
        raise UnknownCategory(msg) from None


def _governing_category(categories: Iterable[str]) -> HazardCategory | None:
    """The category that sets Q: the lowest critical quantity; on a tie the larger β (conservative)."""
    found = [_category(code) for code in categories]
    if not found:
        return None
    return min(found, key=lambda c: (_exact(c.critical_t), -_exact(c.beta)))


def alpha_for_population(population: int) -> float:
    """α (暴露人员校正系数) for the number of people within 500 m outside the boundary.

    Example:
        >>> alpha_for_population(0), alpha_for_population(29), alpha_for_population(75), alpha_for_population(100)
        (0.5, 1.0, 1.5, 2.0)
    """
    if population < 0:
        msg = f"暴露人数不能为负数 / exposed population must be ≥ 0, got {population}"
        raise IdentificationError(msg)
    for minimum, alpha in ALPHA_BANDS:
        if population >= minimum:
            return alpha
    raise AssertionError  # pragma: no cover - the last band starts at 0


def critical_quantity(*, cas: str | None = None, categories: Iterable[str] = (), name: str = "") -> float:
    """Q in tonnes: Table 1 when the CAS number is listed, else the lowest Table 2 category value.

    Raises:
        UnknownChemical: not in Table 1 and no category given.
        UnknownCategory: a category code that Table 2 does not know.
    """
    codes = tuple(categories)
    for code in codes:
        _category(code)  # refuse typos even when Table 1 decides
    named = TABLE_1.get(normalise_cas(cas))
    if named is not None:
        return named.critical_t
    governing = _governing_category(codes)
    if governing is None:
        label = name or cas or "?"
        msg = (
            f"化学品 {label}（CAS {cas or '无'}）不在 GB 18218-2018 表1 中，且未给出危险性类别（表2），无法确定临界量"
            f" / {label} (CAS {cas or 'none'}) is not in Table 1 and has no hazard category: give one (e.g. W5.3)"
        )
        raise UnknownChemical(msg)
    return governing.critical_t


def beta_factor(*, cas: str | None = None, categories: Iterable[str] = (), name: str = "") -> float:
    """β (校正系数): Table 3 for the named toxic gases, else Table 4 by hazard category.

    The category used is the one that governs the critical quantity (see
    :func:`critical_quantity`); a Table 1 chemical falls back to its own categories.

    Raises:
        UnknownChemical: neither a Table 3 gas nor any category to read Table 4 with.
        UnknownCategory: a category code that Table 2 does not know.
    """
    key = normalise_cas(cas)
    codes = tuple(categories)
    governing = _governing_category(codes)  # validates the codes
    if key in TABLE_3_BETA:
        return TABLE_3_BETA[key][1]
    if governing is None and key in TABLE_1:
        governing = _governing_category(TABLE_1[key].categories)
    if governing is None:
        label = name or cas or "?"
        msg = (
            f"化学品 {label}（CAS {cas or '无'}）不是表3所列毒性气体，且未给出危险性类别，无法确定校正系数β"
            f" / {label}: not a Table 3 toxic gas and no hazard category to read β from Table 4"
        )
        raise UnknownChemical(msg)
    return governing.beta


# --- identification --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChemicalInventory:
    """A chemical held in a unit: the maximum quantity q (t) and how to classify it.

    ``critical_t`` and ``beta`` override the tables (a register may record the values its
    safety assessment used); left ``None`` they are looked up from CAS and categories.
    """

    name: str
    quantity_t: Number
    cas: str = ""
    categories: tuple[str, ...] = ()
    critical_t: Number | None = None
    beta: Number | None = None

    def __post_init__(self) -> None:
        if _exact(self.quantity_t) < 0:
            msg = f"{self.name}: 最大存量不能为负 / quantity must be ≥ 0 t, got {self.quantity_t}"
            raise IdentificationError(msg)
        for label, value in (("critical_t", self.critical_t), ("beta", self.beta)):
            if value is not None and _exact(value) <= 0:
                msg = f"{self.name}: {label} 必须大于0 / {label} must be > 0, got {value}"
                raise IdentificationError(msg)


@dataclass(frozen=True, slots=True)
class Term:
    """One chemical's share: q/Q and β·q/Q, with the Q and β actually used."""

    name: str
    cas: str
    quantity_t: float
    critical_t: float
    beta: float
    ratio: Fraction  # q/Q
    weighted: Fraction  # β·q/Q


@dataclass(frozen=True, slots=True)
class Identification:
    """Result of identifying and grading one unit."""

    alpha: float
    terms: tuple[Term, ...]
    s_exact: Fraction
    r_exact: Fraction
    grade: HazardGrade | None = field(default=None)

    @property
    def s(self) -> float:
        """S = Σ q/Q."""
        return float(self.s_exact)

    @property
    def r(self) -> float:
        """R = α·Σ β·q/Q."""
        return float(self.r_exact)

    @property
    def is_major(self) -> bool:
        """Whether the unit is a major hazard source (构成重大危险源): S ≥ 1."""
        return self.s_exact >= 1


def grade_for_r(r: Number) -> HazardGrade:
    """Grade for an R value: 一级 ≥ 100 > 二级 ≥ 50 > 三级 ≥ 10 > 四级.

    Example:
        >>> [grade_for_r(r).label for r in (100, 99.99, 50, 10, 9.99)]
        ['一级', '二级', '二级', '三级', '四级']
    """
    exact = _exact(r)
    for grade, bound in GRADE_THRESHOLDS:
        if exact >= bound:
            return grade
    return HazardGrade.FOUR


def resolve(chemical: ChemicalInventory) -> Term:
    """Q and β for one chemical (overrides first, then the tables) and its q/Q, β·q/Q."""
    q_crit = chemical.critical_t
    if q_crit is None:
        q_crit = critical_quantity(cas=chemical.cas, categories=chemical.categories, name=chemical.name)
    beta = chemical.beta
    if beta is None:
        beta = beta_factor(cas=chemical.cas, categories=chemical.categories, name=chemical.name)
    ratio = _exact(chemical.quantity_t) / _exact(q_crit)
    return Term(
        name=chemical.name,
        cas=normalise_cas(chemical.cas),
        quantity_t=float(chemical.quantity_t),
        critical_t=float(q_crit),
        beta=float(beta),
        ratio=ratio,
        weighted=_exact(beta) * ratio,
    )


def identify(chemicals: Sequence[ChemicalInventory], *, alpha: Number) -> Identification:
    """Identify a unit and grade it: S, major or not, R and the grade (None when not major).

    Args:
        chemicals: every hazardous chemical in the unit with its maximum quantity.
        alpha: the exposed-population factor α (see :func:`alpha_for_population`).

    Raises:
        IdentificationError: no chemicals, α ≤ 0, or a chemical the tables cannot place.
    """
    if not chemicals:
        msg = "单元内至少需要一种危险化学品 / a unit needs at least one chemical"
        raise IdentificationError(msg)
    if _exact(alpha) <= 0:
        msg = f"α 必须大于0 / alpha must be > 0, got {alpha}"
        raise IdentificationError(msg)
    terms = tuple(resolve(c) for c in chemicals)
    s = sum((t.ratio for t in terms), Fraction(0))
    r = _exact(alpha) * sum((t.weighted for t in terms), Fraction(0))
    return Identification(
        alpha=float(alpha), terms=terms, s_exact=s, r_exact=r, grade=grade_for_r(r) if s >= 1 else None
    )
