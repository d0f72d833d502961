"""Major hazard source identification and grading per GB 18218-2018 (危险化学品重大危险源辨识).

Pure maths and frozen reference tables (version :data:`TABLES_VERSION`), no I/O, so the
register, the twin, the plant API and the tests all compute S, R and the grade through the
one function :func:`identify` (see DOMAIN.md §2):

* critical quantity Q (临界量): the Table 1 value when the chemical is named there — found by
  its Chinese name, an alias (液氯, 氯气, LPG, 天然气 …) or its CAS number; a CAS number that
  several Table 1 rows share (硝化纤维素, 硝酸铵) needs the name that says which — else the
  **lowest** Table 2 value among its hazard categories;
* S = Σ qᵢ/Qᵢ; the unit (单元) is a major hazard source when **S ≥ 1**; a unit with S < 1 is
  identified as "not a major hazard source" without needing any β;
* R = α · Σ βᵢ·qᵢ/Qᵢ with β from Table 3 for the named toxic gases, else from Table 4 by
  hazard category, and α only from Table 5 (0.5, 1.0, 1.2, 1.5, 2.0);
* grade (分级, Table 6): 一级 R ≥ 100, 二级 50 ≤ R < 100, 三级 10 ≤ R < 50, 四级 R < 10.

Q and β are taken from the tables only. A different Q or β is refused for a chemical the
tables place; for one they do not list it is accepted only with a reason and a reviewer, so
the register can show who decided it (GB 18218 gives no value to fall back on there).

Arithmetic is exact (:class:`fractions.Fraction` over the decimal text of each number), so a
unit whose R is exactly 50 is 二级 and never 三级 because of binary rounding; floats are only
handed out at the end.

Example:
    >>> lpg = ChemicalInventory(name="液化石油气", quantity_t=1600)
    >>> result = identify([lpg], alpha=1.5)
    >>> result.s, result.r, result.grade.label
    (32.0, 72.0, '二级')
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import IntEnum
from fractions import Fraction
from types import MappingProxyType
from typing import Final

Number = float | int | Decimal | Fraction

TABLES_VERSION: Final = "GB 18218-2018 表1–表6（2026-12-03 核对版，85 条）"


class IdentificationError(ValueError):
    """A chemical or factor that GB 18218 identification cannot use; the message says why."""


class UnknownChemical(IdentificationError):
    """Not in Table 1 and no hazard category given, so no critical quantity can be chosen."""


class UnknownCategory(IdentificationError):
    """A hazard category code that is not in Table 2 (e.g. a typo such as ``W5-1``)."""


class AmbiguousChemical(IdentificationError):
    """A name or CAS number that fits several Table 1 rows with different critical quantities."""


class OverrideRefused(IdentificationError):
    """A Q or β that differs from the tables: refused for a listed chemical, or given without reason."""


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

# Table 6: lower bound of R for each grade, most severe first (R ≥ bound).
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

    ``seq`` is the row number (序号) of Table 1; ``aliases`` and ``cas`` are as the standard
    prints them (a row may have several CAS numbers, e.g. LPG and its propane and butane, or
    none, e.g. 煤气). ``categories`` are the Table 2 codes the chemical falls under wherever
    its classification does not depend on the grade held; they give β (Table 4) when the
    chemical is not a Table 3 toxic gas. Left empty where the classification is not settled
    (a flammable liquid may be W5.1 … W5.4): the user then gives it, and only when S ≥ 1.
    """

    seq: int
    name: str
    aliases: tuple[str, ...]
    cas: tuple[str, ...]
    critical_t: float
    categories: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """How messages cite the row: 表1第12项「氯」."""
        return f"表1第{self.seq}项「{self.name}」"


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
    ("W3", "气溶胶类别1和类别2（净重）", 150, 1),
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


def _row(
    seq: int, name: str, aliases: tuple[str, ...], cas: tuple[str, ...], q: str, categories: tuple[str, ...]
) -> NamedChemical:
    return NamedChemical(seq, name, aliases, cas, float(Decimal(q)), categories)


# Table 1: all 85 rows, as printed (names, aliases, CAS, Q in t). Categories: flammable gases
# W2 and oxygen W4 (β 1.5 / 1), the explosives of rows 31–36 W1.1 (every W1 has β 2), methanol
# W5.3 as the demo plant's assessment states. Row 15's third alias (a rare character the
# sources could not confirm) is left out.
TABLE_1_ROWS: Final[tuple[NamedChemical, ...]] = (
    _row(1, "氨", ("液氨", "氨气"), ("7664-41-7",), "10", ()),
    _row(2, "二氟化氧", ("一氧化二氟",), ("7783-41-7",), "1", ()),
    _row(3, "二氧化氮", (), ("10102-44-0",), "1", ()),
    _row(4, "二氧化硫", ("亚硫酸酐",), ("7446-09-5",), "20", ()),
    _row(5, "氟", (), ("7782-41-4",), "1", ()),
    _row(6, "碳酰氯", ("光气",), ("75-44-5",), "0.3", ()),
    _row(7, "环氧乙烷", ("氧化乙烯",), ("75-21-8",), "10", ("W2",)),
    _row(8, "甲醛（含量>90%）", ("蚁醛",), ("50-00-0",), "5", ()),
    _row(9, "磷化氢", ("磷化三氢", "膦"), ("7803-51-2",), "1", ()),
    _row(10, "硫化氢", (), ("7783-06-4",), "5", ()),
    _row(11, "氯化氢（无水）", (), ("7647-01-0",), "20", ()),
    _row(12, "氯", ("液氯", "氯气"), ("7782-50-5",), "5", ()),
    _row(13, "煤气（CO，CO和H₂、CH₄的混合物等）", (), (), "20", ("W2",)),
    _row(14, "砷化氢", ("砷化三氢", "胂"), ("7784-42-1",), "1", ()),
    _row(15, "锑化氢", ("三氢化锑", "锑化三氢"), ("7803-52-3",), "1", ()),
    _row(16, "硒化氢", (), ("7783-07-5",), "1", ()),
    _row(17, "溴甲烷", ("甲基溴",), ("74-83-9",), "10", ()),
    _row(18, "丙酮氰醇", ("丙酮合氰化氢", "2-羟基异丁腈", "氰丙醇"), ("75-86-5",), "20", ()),
    _row(19, "丙烯醛", ("烯丙醛", "败脂醛"), ("107-02-8",), "20", ()),
    _row(20, "氟化氢", (), ("7664-39-3",), "1", ()),
    _row(21, "1-氯-2,3-环氧丙烷", ("环氧氯丙烷（3-氯-1,2-环氧丙烷）",), ("106-89-8",), "20", ()),
    _row(22, "3-溴-1,2-环氧丙烷", ("环氧溴丙烷", "溴甲基环氧乙烷", "表溴醇"), ("3132-64-7",), "20", ()),
    _row(23, "甲苯二异氰酸酯", ("二异氰酸甲苯酯", "TDI"), ("26471-62-5",), "100", ()),
    _row(24, "一氯化硫", ("氯化硫",), ("10025-67-9",), "1", ()),
    _row(25, "氰化氢", ("无水氢氰酸",), ("74-90-8",), "1", ()),
    _row(26, "三氧化硫", ("硫酸酐",), ("7446-11-9",), "75", ()),
    _row(27, "3-氨基丙烯", ("烯丙胺",), ("107-11-9",), "20", ()),
    _row(28, "溴", ("溴素",), ("7726-95-6",), "20", ()),
    _row(29, "乙撑亚胺", ("吖丙啶", "1-氮杂环丙烷", "氮丙啶"), ("151-56-4",), "20", ()),
    _row(30, "异氰酸甲酯", ("甲基异氰酸酯",), ("624-83-9",), "0.75", ()),
    _row(31, "叠氮化钡", ("叠氮钡",), ("18810-58-7",), "0.5", ("W1.1",)),
    _row(32, "叠氮化铅", (), ("13424-46-9",), "0.5", ("W1.1",)),
    _row(33, "雷汞", ("二雷酸汞", "雷酸汞"), ("628-86-4",), "0.5", ("W1.1",)),
    _row(34, "三硝基苯甲醚", ("三硝基茴香醚",), ("28653-16-9",), "5", ("W1.1",)),
    _row(35, "2,4,6-三硝基甲苯", ("梯恩梯", "TNT"), ("118-96-7",), "5", ("W1.1",)),
    _row(36, "硝化甘油", ("硝化丙三醇", "甘油三硝酸酯"), ("55-63-0",), "1", ("W1.1",)),
    _row(37, "硝化纤维素［干的或含水（或乙醇）<25%］", ("硝化棉",), ("9004-70-0",), "1", ()),
    _row(38, "硝化纤维素（未改型的，或增塑的，含增塑剂<18%）", ("硝化棉",), ("9004-70-0",), "1", ()),
    _row(39, "硝化纤维素（含乙醇≥25%）", ("硝化棉",), ("9004-70-0",), "10", ()),
    _row(40, "硝化纤维素（含氮≤12.6%）", ("硝化棉",), ("9004-70-0",), "50", ()),
    _row(41, "硝化纤维素（含水≥25%）", ("硝化棉",), ("9004-70-0",), "50", ()),
    _row(42, "硝化纤维素溶液（含氮量≤12.6%，含硝化纤维素≤55%）", ("硝化棉溶液",), ("9004-70-0",), "50", ()),
    _row(43, "硝酸铵（含可燃物>0.2%，包括以碳计算的任何有机物，但不包括任何其他添加剂）", (), ("6484-52-2",), "5", ()),
    _row(44, "硝酸铵（含可燃物≤0.2%）", (), ("6484-52-2",), "50", ()),
    _row(45, "硝酸铵肥料（含可燃物≤0.4%）", (), (), "200", ()),
    _row(46, "硝酸钾", (), ("7757-79-1",), "1000", ()),
    _row(47, "1,3-丁二烯", ("联乙烯",), ("106-99-0",), "5", ("W2",)),
    _row(48, "二甲醚", ("甲醚",), ("115-10-6",), "50", ("W2",)),
    _row(49, "甲烷，天然气", (), ("74-82-8", "8006-14-2"), "50", ("W2",)),
    _row(50, "氯乙烯", ("乙烯基氯",), ("75-01-4",), "50", ("W2",)),
    _row(51, "氢", ("氢气",), ("1333-74-0",), "5", ("W2",)),
    _row(
        52,
        "液化石油气（含丙烷、丁烷及其混合物）",
        ("石油气（液化的）",),
        ("68476-85-7", "74-98-6", "106-97-8"),
        "50",
        ("W2",),
    ),
    _row(53, "一甲胺", ("氨基甲烷", "甲胺"), ("74-89-5",), "5", ("W2",)),
    _row(54, "乙炔", ("电石气",), ("74-86-2",), "1", ("W2",)),
    _row(55, "乙烯", (), ("74-85-1",), "50", ("W2",)),
    _row(56, "氧（压缩的或液化的）", ("液氧", "氧气"), ("7782-44-7",), "200", ("W4",)),
    _row(57, "苯", ("纯苯",), ("71-43-2",), "50", ()),
    _row(58, "苯乙烯", ("乙烯苯",), ("100-42-5",), "500", ()),
    _row(59, "丙酮", ("二甲基酮",), ("67-64-1",), "500", ()),
    _row(60, "2-丙烯腈", ("丙烯腈", "乙烯基氰", "氰基乙烯"), ("107-13-1",), "50", ()),
    _row(61, "二硫化碳", (), ("75-15-0",), "50", ()),
    _row(62, "环己烷", ("六氢化苯",), ("110-82-7",), "500", ()),
    _row(63, "1,2-环氧丙烷", ("氧化丙烯", "甲基环氧乙烷"), ("75-56-9",), "10", ()),
    _row(64, "甲苯", ("甲基苯", "苯基甲烷"), ("108-88-3",), "500", ()),
    _row(65, "甲醇", ("木醇", "木精"), ("67-56-1",), "500", ("W5.3",)),
    _row(66, "汽油（乙醇汽油、甲醇汽油）", (), ("86290-81-5",), "200", ()),
    _row(67, "乙醇", ("酒精",), ("64-17-5",), "500", ()),
    _row(68, "乙醚", ("二乙基醚",), ("60-29-7",), "10", ()),
    _row(69, "乙酸乙酯", ("醋酸乙酯",), ("141-78-6",), "500", ()),
    _row(70, "正己烷", ("己烷",), ("110-54-3",), "500", ()),
    _row(71, "过乙酸", ("过醋酸", "过氧乙酸", "乙酰过氧化氢"), ("79-21-0",), "10", ()),
    _row(72, "过氧化甲基乙基酮（10%<有效氧含量≤10.7%，含A型稀释剂≥48%）", (), ("1338-23-4",), "10", ()),
    _row(73, "白磷", ("黄磷",), ("12185-10-3",), "50", ()),
    _row(74, "烷基铝", ("三烷基铝",), (), "1", ()),
    _row(75, "戊硼烷", ("五硼烷",), ("19624-22-7",), "1", ()),
    _row(76, "过氧化钾", (), ("17014-71-0",), "20", ()),
    _row(77, "过氧化钠", ("双氧化钠", "二氧化钠"), ("1313-60-6",), "20", ()),
    _row(78, "氯酸钾", (), ("3811-04-9",), "100", ()),
    _row(79, "氯酸钠", (), ("7775-09-9",), "100", ()),
    _row(80, "发烟硝酸", (), ("52583-42-3",), "20", ()),
    _row(81, "硝酸（发红烟的除外，含硝酸>70%）", (), ("7697-37-2",), "100", ()),
    _row(82, "硝酸胍", ("硝酸亚氨脲",), ("506-93-4",), "50", ()),
    _row(83, "碳化钙", ("电石",), ("75-20-7",), "100", ()),
    _row(84, "钾", ("金属钾",), ("7440-09-7",), "1", ()),
    _row(85, "钠", ("金属钠",), ("7440-23-5",), "10", ()),
)

TABLE_1: Final[Mapping[int, NamedChemical]] = MappingProxyType({row.seq: row for row in TABLE_1_ROWS})

# Names people write for a Table 1 row that the table prints inside one compound name (甲烷，
# 天然气; 汽油（乙醇汽油、甲醇汽油）), as the mixture the row covers (LPG's propane and butane,
# natural gas, CO for 煤气), or as the row's name without a qualifier that does not change
# which row is meant. Conditional qualifiers (甲醛 含量>90%, 硝酸 >70%) are never dropped:
# a 37 % formalin is not row 8.
EXTRA_NAMES: Final[Mapping[int, tuple[str, ...]]] = MappingProxyType(
    {
        11: ("氯化氢", "无水氯化氢"),
        13: ("煤气", "一氧化碳", "CO"),
        21: ("环氧氯丙烷", "3-氯-1,2-环氧丙烷"),
        49: ("甲烷", "天然气", "液化天然气", "LNG", "压缩天然气", "CNG"),
        52: ("液化石油气", "LPG", "液化气", "丙烷", "丁烷", "正丁烷", "异丁烷", "液化丙烷", "液化丁烷"),
        56: ("氧",),
        66: ("汽油", "乙醇汽油", "甲醇汽油", "车用汽油"),
    }
)

# CAS numbers of the substances such a row covers that the table does not print: CO for 煤气
# (Table 3 lists 一氧化碳), isobutane for LPG.
EXTRA_CAS: Final[Mapping[int, tuple[str, ...]]] = MappingProxyType({13: ("630-08-0",), 52: ("75-28-5",)})

# Table 3: β of the named toxic gases, by Table 1 row (一氧化碳 is row 13, 煤气).
TABLE_3_BETA: Final[Mapping[int, tuple[str, float]]] = MappingProxyType(
    {
        13: ("一氧化碳", 2),
        4: ("二氧化硫", 2),
        1: ("氨", 2),
        7: ("环氧乙烷", 2),
        11: ("氯化氢", 3),
        17: ("溴甲烷", 3),
        12: ("氯", 4),
        10: ("硫化氢", 5),
        20: ("氟化氢", 5),
        3: ("二氧化氮", 10),
        25: ("氰化氢", 10),
        6: ("碳酰氯", 20),
        9: ("磷化氢", 20),
        30: ("异氰酸甲酯", 20),
    }
)

# Table 5: α by the number of people exposed within 500 m outside the plant boundary:
# (minimum, α), largest band first. α takes no other value.
ALPHA_BANDS: Final[tuple[tuple[int, float], ...]] = ((100, 2.0), (50, 1.5), (30, 1.2), (1, 1.0), (0, 0.5))
ALPHA_VALUES: Final[tuple[float, ...]] = tuple(alpha for _, alpha in ALPHA_BANDS)


def normalise_name(name: str | None) -> str:
    """A name as compared: NFKC (full-width → ASCII), no spaces, ASCII letters upper-case."""
    text = unicodedata.normalize("NFKC", name or "")
    return re.sub(r"\s+", "", text).upper()


def normalise_cas(cas: str | None) -> str:
    """CAS number without spaces (full-width digits and dashes folded); '' when absent."""
    text = unicodedata.normalize("NFKC", cas or "")
    return re.sub(r"\s+", "", text).replace("－", "-").replace("—", "-")


_CAS_RE: Final = re.compile(r"^(\d{2,7})-(\d{2})-(\d)$")


def cas_is_valid(cas: str) -> bool:
    """Whether a CAS number is well formed and its check digit is right (7782-50-5 yes, 7782-50-6 no)."""
    match = _CAS_RE.match(normalise_cas(cas))
    if not match:
        return False
    digits = (match.group(1) + match.group(2))[::-1]
    return sum((i + 1) * int(d) for i, d in enumerate(digits)) % 10 == int(match.group(3))


def _index() -> tuple[Mapping[str, tuple[int, ...]], Mapping[str, tuple[int, ...]]]:
    by_name: dict[str, list[int]] = {}
    by_cas: dict[str, list[int]] = {}
    for row in TABLE_1_ROWS:
        for text in (row.name, *row.aliases, *EXTRA_NAMES.get(row.seq, ())):
            by_name.setdefault(normalise_name(text), []).append(row.seq)
        for cas in (*row.cas, *EXTRA_CAS.get(row.seq, ())):
            by_cas.setdefault(cas, []).append(row.seq)
    return _freeze(by_name), _freeze(by_cas)


def _freeze(index: dict[str, list[int]]) -> Mapping[str, tuple[int, ...]]:
    """An index as a read-only mapping; a row listed twice under one key (name = alias) once."""
    return MappingProxyType({k: tuple(dict.fromkeys(v)) for k, v in index.items()})


TABLE_1_BY_NAME, TABLE_1_BY_CAS = _index()


# --- lookups ---------------------------------------------------------------------------------


def _exact(value: Number) -> Fraction:
    """The exact rational a person meant by ``value`` (1.5 → 3/2, not 1.5's binary neighbour)."""
    if isinstance(value, Fraction):
        return value
    if isinstance(value, float):
        return Fraction(repr(value))
    return Fraction(value)


def _fmt(value: Number) -> str:
    """A number as a person writes it: 5, 0.3, 1.26."""
    return format(Decimal(str(float(value))).normalize(), "f")


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


def _choose(seqs: Iterable[int], what: str) -> NamedChemical:
    """One row of several candidates; rows that agree on Q and β are as good as one."""
    rows = [TABLE_1[s] for s in seqs]
    if len({(r.critical_t, table_3_beta(r)) for r in rows}) == 1:
        return rows[0]
    options = "；".join(f"{r.label} {_fmt(r.critical_t)} t" for r in rows)
    msg = (
        f"{what} 对应表1中临界量不同的多项：{options}。请在名称中写明具体品种（如「{rows[-1].name}」）"
        f" / {what} matches several Table 1 rows with different Q; name the exact one"
    )
    raise AmbiguousChemical(msg)


def table_3_beta(row: NamedChemical) -> float | None:
    """β of a Table 3 toxic gas, or None when the row is not in Table 3."""
    entry = TABLE_3_BETA.get(row.seq)
    return entry[1] if entry else None


def lookup_table_1(*, name: str = "", cas: str | None = None) -> NamedChemical | None:
    """The Table 1 row a chemical is, by name / alias and CAS number; None when it is not listed.

    A name decides between rows that share a CAS number (硝化纤维素 rows 37–42); a name and a
    CAS number that point at different rows are refused rather than guessed between.

    Raises:
        IdentificationError: a malformed CAS number or one whose check digit is wrong.
        AmbiguousChemical: several rows with different Q fit, or name and CAS disagree.
    """
    key = normalise_cas(cas)
    if key and not cas_is_valid(key):
        msg = f"CAS号 {cas!r} 格式或校验位不正确 / CAS number {cas!r} is malformed or fails its check digit"
        raise IdentificationError(msg)
    by_name = TABLE_1_BY_NAME.get(normalise_name(name), ())
    by_cas = TABLE_1_BY_CAS.get(key, ()) if key else ()
    if by_name and key:
        both = [s for s in by_name if s in by_cas]
        if not both:
            named = _choose(by_name, f"名称「{name}」")
            listed = "、".join(named.cas) or "无"
            msg = (
                f"名称「{name}」为{named.label}（CAS {listed}），与填写的 CAS {key} 不符；请核对名称或 CAS"
                f" / name and CAS number point at different chemicals"
            )
            raise AmbiguousChemical(msg)
        return _choose(both, f"「{name}」（CAS {key}）")
    if by_name:
        return _choose(by_name, f"名称「{name}」")
    if by_cas:
        return _choose(by_cas, f"CAS {key}")
    return None


def alpha_for_population(population: int) -> float:
    """α (暴露人员校正系数, Table 5) for the number of people within 500 m outside the boundary.

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


def check_alpha(alpha: Number) -> float:
    """α itself when Table 5 has it (0.5, 1.0, 1.2, 1.5, 2.0); anything else is refused.

    Raises:
        IdentificationError: a value Table 5 does not give.
    """
    exact = _exact(alpha)
    for value in ALPHA_VALUES:
        if exact == _exact(value):
            return value
    allowed = "、".join(_fmt(a) for a in ALPHA_VALUES)
    msg = f"α={_fmt(alpha)} 不是表5的取值，只能为 {allowed}（按500m内暴露人数确定）/ alpha must be one of {allowed}"
    raise IdentificationError(msg)


def _label(name: str, cas: str | None) -> str:
    return f"「{name or cas or '?'}」"


def critical_quantity(*, cas: str | None = None, categories: Iterable[str] = (), name: str = "") -> float:
    """Q in tonnes: Table 1 when the chemical is listed (by name, alias or CAS), else the lowest Table 2 value.

    Raises:
        UnknownChemical: not in Table 1 and no category given.
        UnknownCategory: a category code that Table 2 does not know.
        AmbiguousChemical: see :func:`lookup_table_1`.
    """
    codes = tuple(categories)
    governing = _governing_category(codes)  # refuse typos even when Table 1 decides
    named = lookup_table_1(name=name, cas=cas)
    if named is not None:
        return named.critical_t
    if governing is None:
        msg = (
            f"化学品{_label(name, cas)}（CAS {cas or '无'}）不在 GB 18218-2018 表1 中，且未给出危险性类别（表2），"
            f"无法确定临界量 / {name or cas} is not in Table 1 and has no hazard category: give one (e.g. W5.3)"
        )
        raise UnknownChemical(msg)
    return governing.critical_t


def beta_or_none(*, cas: str | None = None, categories: Iterable[str] = (), name: str = "") -> float | None:
    """β from the tables, or None when neither Table 3 nor a category (given or the row's own) gives one."""
    codes = tuple(categories)
    governing = _governing_category(codes)  # validates the codes
    named = lookup_table_1(name=name, cas=cas)
    if named is not None:
        beta = table_3_beta(named)
        if beta is not None:
            return beta
        if governing is None:
            governing = _governing_category(named.categories)
    return governing.beta if governing is not None else None


def beta_factor(*, cas: str | None = None, categories: Iterable[str] = (), name: str = "") -> float:
    """β (校正系数): Table 3 for the named toxic gases, else Table 4 by hazard category.

    The category used is the one that governs the critical quantity (see
    :func:`critical_quantity`); a Table 1 chemical falls back to its own categories.

    Raises:
        UnknownChemical: neither a Table 3 gas nor any category to read Table 4 with.
        UnknownCategory: a category code that Table 2 does not know.
    """
    beta = beta_or_none(cas=cas, categories=categories, name=name)
    if beta is None:
        msg = (
            f"化学品{_label(name, cas)}不是表3所列毒性气体，且未给出危险性类别，无法确定校正系数β（表4）"
            f" / {name or cas}: not a Table 3 toxic gas and no hazard category to read β from Table 4"
        )
        raise UnknownChemical(msg)
    return beta


# --- identification --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChemicalInventory:
    """A chemical held in a unit: the maximum quantity q (t) and how to classify it.

    ``critical_t`` and ``beta`` may repeat the tables' values (a stored record carries the
    values it was computed with); a *different* value is an override, accepted only for a
    chemical Table 1 does not list and only with ``override_reason`` and ``override_reviewer``.
    """

    name: str
    quantity_t: Number
    cas: str = ""
    categories: tuple[str, ...] = ()
    critical_t: Number | None = None
    beta: Number | None = None
    override_reason: str = ""
    override_reviewer: str = ""

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
    """One chemical's share: q/Q and β·q/Q, with the Q and β actually used and where they came from.

    ``beta`` and ``weighted`` are None only for a unit with S < 1 whose β the tables cannot
    give (not needed: such a unit is not graded).
    """

    name: str
    cas: str
    quantity_t: float
    critical_t: float
    beta: float | None
    ratio: Fraction  # q/Q
    weighted: Fraction | None  # β·q/Q
    table_1_seq: int | None = None
    source: str = ""  # e.g. "表1第12项「氯」", "表2 W5.3", "人工指定（原因…，审核人…）"

    def explain(self) -> str:
        """One line of the worked sum: 「氯」 q=60 t, Q=5 t (表1第12项「氯」), q/Q=12, β=4."""
        beta = _fmt(self.beta) if self.beta is not None else "未定（S<1 时不需要）"
        ratio = _fmt(float(self.ratio))
        quantities = f"q={_fmt(self.quantity_t)} t，Q={_fmt(self.critical_t)} t（{self.source}）"
        return f"「{self.name}」 {quantities}，q/Q={ratio}，β={beta}"


@dataclass(frozen=True, slots=True)
class Identification:
    """Result of identifying and grading one unit."""

    alpha: float
    terms: tuple[Term, ...]
    s_exact: Fraction
    r_exact: Fraction | None
    grade: HazardGrade | None = field(default=None)

    @property
    def s(self) -> float:
        """S = Σ q/Q."""
        return float(self.s_exact)

    @property
    def r(self) -> float | None:
        """R = α·Σ β·q/Q; None for a unit with S < 1 whose β the tables cannot give."""
        return float(self.r_exact) if self.r_exact is not None else None

    @property
    def is_major(self) -> bool:
        """Whether the unit is a major hazard source (构成重大危险源): S ≥ 1."""
        return self.s_exact >= 1

    def explain(self) -> str:
        """The worked identification a safety engineer would write, in Chinese."""
        lines = [t.explain() for t in self.terms]
        s = _fmt(self.s)
        if not self.is_major:
            lines.append(f"S = Σq/Q = {s} < 1，不构成重大危险源")
            return "\n".join(lines)
        r = _fmt(round(float(self.r_exact or 0), 4))
        grade = self.grade.label if self.grade else "?"
        total = _fmt(round(float(sum((t.weighted or Fraction(0) for t in self.terms), Fraction(0))), 4))
        lines.append(f"S = Σq/Q = {s} ≥ 1，构成重大危险源；R = α·Σβq/Q = {_fmt(self.alpha)} × {total} = {r}，{grade}")
        return "\n".join(lines)


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


def _same(a: Number, b: Number) -> bool:
    return _exact(a) == _exact(b)


def resolve(chemical: ChemicalInventory) -> Term:
    """Q and β for one chemical from the tables (or a reviewed override) and its q/Q, β·q/Q.

    β is left None when the tables cannot give it; :func:`identify` asks for it only when the
    unit turns out to be a major hazard source.

    Raises:
        OverrideRefused: a Q or β that differs from the tables for a listed chemical, or an
            override of an unlisted one without reason and reviewer.
        UnknownChemical / UnknownCategory / AmbiguousChemical: the tables cannot place it.
    """
    label = _label(chemical.name, chemical.cas)
    codes = tuple(chemical.categories)
    governing = _governing_category(codes)
    named = lookup_table_1(name=chemical.name, cas=chemical.cas)
    reviewed = bool(chemical.override_reason.strip() and chemical.override_reviewer.strip())
    overridden = False
    if named is not None:
        q_crit: Number = named.critical_t
        source = named.label
        if chemical.critical_t is not None and not _same(chemical.critical_t, q_crit):
            msg = (
                f"{label}为{named.label}，临界量为 {_fmt(q_crit)} t，不能改为 {_fmt(chemical.critical_t)} t"
                f" / Q of a Table 1 chemical comes from Table 1 only"
            )
            raise OverrideRefused(msg)
        table_beta = beta_or_none(cas=chemical.cas, categories=codes, name=chemical.name)
        if chemical.beta is not None and (table_beta is None or not _same(chemical.beta, table_beta)):
            why = f"表中 β={_fmt(table_beta)}" if table_beta is not None else "请给出危险性类别，由表4确定 β"
            msg = f"{label}为{named.label}，β 只能按表3/表4取值（{why}），不能填 {_fmt(chemical.beta)}"
            raise OverrideRefused(msg)
        beta: Number | None = table_beta
    else:
        table_q = governing.critical_t if governing is not None else None
        table_beta = governing.beta if governing is not None else None
        q_given, b_given = chemical.critical_t, chemical.beta
        differs_q = q_given is not None and (table_q is None or not _same(q_given, table_q))
        differs_b = b_given is not None and (table_beta is None or not _same(b_given, table_beta))
        if (differs_q or differs_b) and not reviewed:
            msg = (
                f"{label}不在表1中：临界量和 β 按表2/表4危险性类别取值；如须另行指定，"
                f"请填写指定原因和审核人 / an override needs override_reason and override_reviewer"
            )
            raise OverrideRefused(msg)
        overridden = differs_q or differs_b
        if table_q is None and q_given is None:
            critical_quantity(cas=chemical.cas, categories=codes, name=chemical.name)  # raises UnknownChemical
        q_crit = q_given if differs_q and q_given is not None else table_q  # type: ignore[assignment]
        beta = b_given if differs_b else table_beta
        source = f"表2 {governing.code}" if governing is not None else ""
        if overridden:
            source = f"人工指定：{chemical.override_reason.strip()}（审核人 {chemical.override_reviewer.strip()}）"
    assert q_crit is not None
    ratio = _exact(chemical.quantity_t) / _exact(q_crit)
    return Term(
        name=chemical.name,
        cas=normalise_cas(chemical.cas),
        quantity_t=float(chemical.quantity_t),
        critical_t=float(q_crit),
        beta=float(beta) if beta is not None else None,
        ratio=ratio,
        weighted=_exact(beta) * ratio if beta is not None else None,
        table_1_seq=named.seq if named is not None else None,
        source=source,
    )


def identify(chemicals: Sequence[ChemicalInventory], *, alpha: Number) -> Identification:
    """Identify a unit and grade it: S, major or not, R and the grade (None when not major).

    Args:
        chemicals: every hazardous chemical in the unit with its maximum quantity.
        alpha: the exposed-population factor α, a Table 5 value (see :func:`alpha_for_population`).

    Raises:
        IdentificationError: no chemicals, α not in Table 5, a chemical the tables cannot
            place, or a major unit (S ≥ 1) with a chemical whose β is unknown.
    """
    if not chemicals:
        msg = "单元内至少需要一种危险化学品 / a unit needs at least one chemical"
        raise IdentificationError(msg)
    if _exact(alpha) <= 0:
        msg = f"α 必须大于0 / alpha must be > 0, got {alpha}"
        raise IdentificationError(msg)
    alpha = check_alpha(alpha)
    terms = tuple(resolve(c) for c in chemicals)
    s = sum((t.ratio for t in terms), Fraction(0))
    missing = [t for t in terms if t.weighted is None]
    if missing and s >= 1:
        names = "、".join(f"「{t.name}」" for t in missing)
        msg = (
            f"S={_fmt(float(s))} ≥ 1，构成重大危险源，分级需要 β：请为{names}给出危险性类别（表2，如 W5.3）"
            f" / a major unit needs β: give a hazard category for {names}"
        )
        raise UnknownChemical(msg)
    weighted = [t.weighted for t in terms if t.weighted is not None]
    r = None if missing else _exact(alpha) * sum(weighted, Fraction(0))
    grade = grade_for_r(r) if s >= 1 and r is not None else None
    return Identification(alpha=float(alpha), terms=terms, s_exact=s, r_exact=r, grade=grade)
