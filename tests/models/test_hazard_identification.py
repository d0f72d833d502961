"""GB 18218-2018 identification and grading, checked against hand calculations from DOMAIN.md §2.

The demo plant's four hazard sources are worked out by hand below, written the way a safety
engineer would on paper: R = α × Σ β·q/Q, then the grade from the thresholds
一级 R ≥ 100, 二级 50 ≤ R < 100, 三级 10 ≤ R < 50, 四级 R < 10.
"""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.hazard_identification import (
    ALPHA_VALUES,
    TABLE_1,
    TABLE_1_ROWS,
    TABLE_2,
    AmbiguousChemical,
    ChemicalInventory,
    HazardGrade,
    IdentificationError,
    OverrideRefused,
    UnknownCategory,
    UnknownChemical,
    alpha_for_population,
    beta_factor,
    cas_is_valid,
    critical_quantity,
    grade_for_r,
    identify,
    lookup_table_1,
)
from twin.plant import DEMO_PLANT, load_plant

LPG = ChemicalInventory(name="液化石油气", cas="68476-85-7", quantity_t=1600)
METHANOL = ChemicalInventory(name="甲醇", cas="67-56-1", quantity_t=3200)
CHLORINE = ChemicalInventory(name="氯", cas="7782-50-5", quantity_t=60)


# --- the demo plant, by hand -----------------------------------------------------------------

# MHS-01 液化石油气球罐区: LPG Table 1 Q = 50 t, W2 flammable gas β = 1.5, α = 1.5 (50–99 people)
#   S = 1600/50 = 32            → S ≥ 1, major hazard source
#   R = 1.5 × 1.5 × 1600/50 = 1.5 × 1.5 × 32 = 72.0            → 50 ≤ 72 < 100 → 二级
# MHS-02 甲醇储罐组: methanol Table 1 Q = 500 t, W5.3 β = 1.0, α = 1.5
#   S = 3200/500 = 6.4          → major
#   R = 1.5 × 1.0 × 3200/500 = 1.5 × 6.4 = 9.6                  → 9.6 < 10 → 四级
# MHS-03 液氯库: chlorine Table 1 Q = 5 t, Table 3 β = 4, α = 1.5
#   S = 60/5 = 12               → major
#   R = 1.5 × 4 × 60/5 = 1.5 × 4 × 12 = 72.0                    → 二级
# MHS-04 氯化反应单元: chlorine 6 t (Q 5, β 4) and methanol 30 t (Q 500, β 1), α = 1.5
#   S = 6/5 + 30/500 = 1.2 + 0.06 = 1.26   → major
#   R = 1.5 × (4 × 6/5 + 1.0 × 30/500) = 1.5 × (4.8 + 0.06) = 1.5 × 4.86 = 7.29 → 四级
HAND = {
    #          S                      R = α × Σ β·q/Q                              grade
    "MHS-01": (1600 / 50, 1.5 * (1.5 * 1600 / 50), HazardGrade.TWO),  # = 32, 72.0
    "MHS-02": (3200 / 500, 1.5 * (1.0 * 3200 / 500), HazardGrade.FOUR),  # = 6.4, 9.6
    "MHS-03": (60 / 5, 1.5 * (4 * 60 / 5), HazardGrade.TWO),  # = 12, 72.0
    "MHS-04": (6 / 5 + 30 / 500, 1.5 * (4 * 6 / 5 + 1.0 * 30 / 500), HazardGrade.FOUR),  # = 1.26, 7.29
}


def test_hand_arithmetic() -> None:
    assert [round(HAND[k][1], 10) for k in sorted(HAND)] == [72.0, 9.6, 72.0, 7.29]
    assert [round(HAND[k][0], 10) for k in sorted(HAND)] == [32.0, 6.4, 12.0, 1.26]


@pytest.mark.parametrize("source_id", sorted(HAND))
def test_demo_hazard_sources_match_the_hand_calculation(source_id: str) -> None:
    source = next(h for h in load_plant(DEMO_PLANT).hazard_sources if h.id == source_id)
    # from CAS numbers alone: the tables must give the Q and β the plant file states
    result = identify(
        [ChemicalInventory(name=c.name, cas=c.cas, quantity_t=c.quantity_t) for c in source.chemicals],
        alpha=source.alpha,
    )
    s, r, grade = HAND[source_id]
    assert result.s == pytest.approx(s, abs=1e-12)
    assert result.r == pytest.approx(r, abs=1e-12)
    assert result.is_major
    assert result.grade is grade
    assert [t.critical_t for t in result.terms] == [c.critical_t for c in source.chemicals]
    assert [t.beta for t in result.terms] == [c.beta for c in source.chemicals]
    # the plant model's own property agrees
    assert source.r_value == pytest.approx(r)


def test_mhs04_exact_fraction() -> None:
    chlorine = ChemicalInventory(name="氯", cas="7782-50-5", quantity_t=6)
    methanol = ChemicalInventory(name="甲醇", cas="67-56-1", quantity_t=30)
    result = identify([chlorine, methanol], alpha=1.5)
    assert result.r_exact == Fraction(729, 100)
    assert result.s_exact == Fraction(126, 100)


# --- Table 1, row by row ---------------------------------------------------------------------

# GB 18218-2018 Table 1 as /work/shared/gb18218-tables.md gives it (cross-checked in three
# independent extractions of the standard): 序号, name, aliases, CAS numbers, Q in t. Typed
# here independently of the model, so a wrong row in either is caught.
EXPECTED_TABLE_1 = [
    (1, "氨", ("液氨", "氨气"), ("7664-41-7",), "10"),
    (2, "二氟化氧", ("一氧化二氟",), ("7783-41-7",), "1"),
    (3, "二氧化氮", (), ("10102-44-0",), "1"),
    (4, "二氧化硫", ("亚硫酸酐",), ("7446-09-5",), "20"),
    (5, "氟", (), ("7782-41-4",), "1"),
    (6, "碳酰氯", ("光气",), ("75-44-5",), "0.3"),
    (7, "环氧乙烷", ("氧化乙烯",), ("75-21-8",), "10"),
    (8, "甲醛（含量>90%）", ("蚁醛",), ("50-00-0",), "5"),
    (9, "磷化氢", ("磷化三氢", "膦"), ("7803-51-2",), "1"),
    (10, "硫化氢", (), ("7783-06-4",), "5"),
    (11, "氯化氢（无水）", (), ("7647-01-0",), "20"),
    (12, "氯", ("液氯", "氯气"), ("7782-50-5",), "5"),
    (13, "煤气（CO，CO和H₂、CH₄的混合物等）", (), (), "20"),
    (14, "砷化氢", ("砷化三氢", "胂"), ("7784-42-1",), "1"),
    (15, "锑化氢", ("三氢化锑", "锑化三氢"), ("7803-52-3",), "1"),
    (16, "硒化氢", (), ("7783-07-5",), "1"),
    (17, "溴甲烷", ("甲基溴",), ("74-83-9",), "10"),
    (18, "丙酮氰醇", ("丙酮合氰化氢", "2-羟基异丁腈", "氰丙醇"), ("75-86-5",), "20"),
    (19, "丙烯醛", ("烯丙醛", "败脂醛"), ("107-02-8",), "20"),
    (20, "氟化氢", (), ("7664-39-3",), "1"),
    (21, "1-氯-2,3-环氧丙烷", ("环氧氯丙烷（3-氯-1,2-环氧丙烷）",), ("106-89-8",), "20"),
    (22, "3-溴-1,2-环氧丙烷", ("环氧溴丙烷", "溴甲基环氧乙烷", "表溴醇"), ("3132-64-7",), "20"),
    (23, "甲苯二异氰酸酯", ("二异氰酸甲苯酯", "TDI"), ("26471-62-5",), "100"),
    (24, "一氯化硫", ("氯化硫",), ("10025-67-9",), "1"),
    (25, "氰化氢", ("无水氢氰酸",), ("74-90-8",), "1"),
    (26, "三氧化硫", ("硫酸酐",), ("7446-11-9",), "75"),
    (27, "3-氨基丙烯", ("烯丙胺",), ("107-11-9",), "20"),
    (28, "溴", ("溴素",), ("7726-95-6",), "20"),
    (29, "乙撑亚胺", ("吖丙啶", "1-氮杂环丙烷", "氮丙啶"), ("151-56-4",), "20"),
    (30, "异氰酸甲酯", ("甲基异氰酸酯",), ("624-83-9",), "0.75"),
    (31, "叠氮化钡", ("叠氮钡",), ("18810-58-7",), "0.5"),
    (32, "叠氮化铅", (), ("13424-46-9",), "0.5"),
    (33, "雷汞", ("二雷酸汞", "雷酸汞"), ("628-86-4",), "0.5"),
    (34, "三硝基苯甲醚", ("三硝基茴香醚",), ("28653-16-9",), "5"),
    (35, "2,4,6-三硝基甲苯", ("梯恩梯", "TNT"), ("118-96-7",), "5"),
    (36, "硝化甘油", ("硝化丙三醇", "甘油三硝酸酯"), ("55-63-0",), "1"),
    (37, "硝化纤维素［干的或含水（或乙醇）<25%］", ("硝化棉",), ("9004-70-0",), "1"),
    (38, "硝化纤维素（未改型的，或增塑的，含增塑剂<18%）", ("硝化棉",), ("9004-70-0",), "1"),
    (39, "硝化纤维素（含乙醇≥25%）", ("硝化棉",), ("9004-70-0",), "10"),
    (40, "硝化纤维素（含氮≤12.6%）", ("硝化棉",), ("9004-70-0",), "50"),
    (41, "硝化纤维素（含水≥25%）", ("硝化棉",), ("9004-70-0",), "50"),
    (42, "硝化纤维素溶液（含氮量≤12.6%，含硝化纤维素≤55%）", ("硝化棉溶液",), ("9004-70-0",), "50"),
    (43, "硝酸铵（含可燃物>0.2%，包括以碳计算的任何有机物，但不包括任何其他添加剂）", (), ("6484-52-2",), "5"),
    (44, "硝酸铵（含可燃物≤0.2%）", (), ("6484-52-2",), "50"),
    (45, "硝酸铵肥料（含可燃物≤0.4%）", (), (), "200"),
    (46, "硝酸钾", (), ("7757-79-1",), "1000"),
    (47, "1,3-丁二烯", ("联乙烯",), ("106-99-0",), "5"),
    (48, "二甲醚", ("甲醚",), ("115-10-6",), "50"),
    (49, "甲烷，天然气", (), ("74-82-8", "8006-14-2"), "50"),
    (50, "氯乙烯", ("乙烯基氯",), ("75-01-4",), "50"),
    (51, "氢", ("氢气",), ("1333-74-0",), "5"),
    (52, "液化石油气（含丙烷、丁烷及其混合物）", ("石油气（液化的）",), ("68476-85-7", "74-98-6", "106-97-8"), "50"),
    (53, "一甲胺", ("氨基甲烷", "甲胺"), ("74-89-5",), "5"),
    (54, "乙炔", ("电石气",), ("74-86-2",), "1"),
    (55, "乙烯", (), ("74-85-1",), "50"),
    (56, "氧（压缩的或液化的）", ("液氧", "氧气"), ("7782-44-7",), "200"),
    (57, "苯", ("纯苯",), ("71-43-2",), "50"),
    (58, "苯乙烯", ("乙烯苯",), ("100-42-5",), "500"),
    (59, "丙酮", ("二甲基酮",), ("67-64-1",), "500"),
    (60, "2-丙烯腈", ("丙烯腈", "乙烯基氰", "氰基乙烯"), ("107-13-1",), "50"),
    (61, "二硫化碳", (), ("75-15-0",), "50"),
    (62, "环己烷", ("六氢化苯",), ("110-82-7",), "500"),
    (63, "1,2-环氧丙烷", ("氧化丙烯", "甲基环氧乙烷"), ("75-56-9",), "10"),
    (64, "甲苯", ("甲基苯", "苯基甲烷"), ("108-88-3",), "500"),
    (65, "甲醇", ("木醇", "木精"), ("67-56-1",), "500"),
    (66, "汽油（乙醇汽油、甲醇汽油）", (), ("86290-81-5",), "200"),
    (67, "乙醇", ("酒精",), ("64-17-5",), "500"),
    (68, "乙醚", ("二乙基醚",), ("60-29-7",), "10"),
    (69, "乙酸乙酯", ("醋酸乙酯",), ("141-78-6",), "500"),
    (70, "正己烷", ("己烷",), ("110-54-3",), "500"),
    (71, "过乙酸", ("过醋酸", "过氧乙酸", "乙酰过氧化氢"), ("79-21-0",), "10"),
    (72, "过氧化甲基乙基酮（10%<有效氧含量≤10.7%，含A型稀释剂≥48%）", (), ("1338-23-4",), "10"),
    (73, "白磷", ("黄磷",), ("12185-10-3",), "50"),
    (74, "烷基铝", ("三烷基铝",), (), "1"),
    (75, "戊硼烷", ("五硼烷",), ("19624-22-7",), "1"),
    (76, "过氧化钾", (), ("17014-71-0",), "20"),
    (77, "过氧化钠", ("双氧化钠", "二氧化钠"), ("1313-60-6",), "20"),
    (78, "氯酸钾", (), ("3811-04-9",), "100"),
    (79, "氯酸钠", (), ("7775-09-9",), "100"),
    (80, "发烟硝酸", (), ("52583-42-3",), "20"),
    (81, "硝酸（发红烟的除外，含硝酸>70%）", (), ("7697-37-2",), "100"),
    (82, "硝酸胍", ("硝酸亚氨脲",), ("506-93-4",), "50"),
    (83, "碳化钙", ("电石",), ("75-20-7",), "100"),
    (84, "钾", ("金属钾",), ("7440-09-7",), "1"),
    (85, "钠", ("金属钠",), ("7440-23-5",), "10"),
]

TABLES_FILE = Path("/work/shared/gb18218-tables.md")


def test_expected_table_has_85_rows_in_order() -> None:
    assert [row[0] for row in EXPECTED_TABLE_1] == list(range(1, 86))
    assert len(TABLE_1_ROWS) == len(TABLE_1) == 85


@pytest.mark.skipif(not TABLES_FILE.exists(), reason="the shared tables file exists only on the development machine")
def test_expected_table_matches_the_shared_tables_file() -> None:
    rows = {}
    for line in TABLES_FILE.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^\| (\d+) \| (.+?) \| (.+?) \| (.+?) \| (.+?) \|", line)
        if match and int(match.group(1)) not in rows and len(rows) < 85:
            seq, name, _aliases, cas, q = match.groups()
            rows[int(seq)] = (name, tuple(re.findall(r"\d{2,7}-\d{2}-\d", cas)), q)
    assert {seq: (name, cas, q) for seq, name, _a, cas, q in EXPECTED_TABLE_1} == rows


@pytest.mark.parametrize(
    ("seq", "name", "aliases", "cas", "q"), EXPECTED_TABLE_1, ids=[f"row{r[0]}" for r in EXPECTED_TABLE_1]
)
def test_table_1_row(seq: int, name: str, aliases: tuple[str, ...], cas: tuple[str, ...], q: str) -> None:
    row = TABLE_1[seq]
    assert (row.name, row.aliases, row.cas) == (name, aliases, cas)
    assert Fraction(repr(row.critical_t)) == Fraction(q)
    # by the printed name, with and without the CAS number
    assert critical_quantity(name=name) == float(q)
    for number in cas:
        assert critical_quantity(name=name, cas=number) == float(q)
    # by every alias; an alias several rows share (硝化棉) only where their Q agree
    for alias in aliases:
        shared = [r for r in EXPECTED_TABLE_1 if alias in r[2]]
        if len({r[4] for r in shared}) == 1:
            assert critical_quantity(name=alias) == float(q), alias
        else:
            with pytest.raises(AmbiguousChemical, match="临界量不同"):
                critical_quantity(name=alias)
    # by CAS alone, unless several rows with different Q share it
    for number in cas:
        shared = [r for r in EXPECTED_TABLE_1 if number in r[3]]
        if len({r[4] for r in shared}) == 1:
            assert critical_quantity(cas=number) == float(q)
            assert cas_is_valid(number)
        else:
            with pytest.raises(AmbiguousChemical, match="请在名称中写明具体品种"):
                critical_quantity(cas=number)


# Table 2 (Q) and Table 4 (β) by category, as the tables file gives them.
EXPECTED_TABLE_2 = {
    "J1": (5, 4), "J2": (50, 1), "J3": (50, 2), "J4": (50, 2), "J5": (500, 1),
    "W1.1": (1, 2), "W1.2": (10, 2), "W1.3": (50, 2), "W2": (10, 1.5), "W3": (150, 1), "W4": (50, 1),
    "W5.1": (10, 1.5), "W5.2": (50, 1), "W5.3": (1000, 1), "W5.4": (5000, 1),
    "W6.1": (10, 1.5), "W6.2": (50, 1), "W7.1": (10, 1.5), "W7.2": (50, 1), "W8": (50, 1),
    "W9.1": (50, 1), "W9.2": (200, 1), "W10": (200, 1), "W11": (200, 1),
}  # fmt: skip


@pytest.mark.parametrize(("code", "expected"), sorted(EXPECTED_TABLE_2.items()))
def test_table_2_and_4_categories(code: str, expected: tuple[float, float]) -> None:
    assert (critical_quantity(name="某未列名物质", categories=(code,)), beta_factor(categories=(code,))) == expected
    assert (TABLE_2[code].critical_t, TABLE_2[code].beta) == expected


def test_table_2_has_exactly_the_24_categories() -> None:
    assert set(TABLE_2) == set(EXPECTED_TABLE_2)


# --- the defects of issue 12, reproduced ------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "cas", "category", "q"),
    [
        ("钠", "7440-23-5", "W11", 10),  # was the W11 value 200
        ("钾", "7440-09-7", "W11", 1),  # was 200
        ("二氟化氧", "7783-41-7", "W4", 1),  # was 5 (J1)
        ("烷基铝", "", "W8", 1),  # no CAS in the standard; was 50
        ("汽油", "86290-81-5", "W5.1", 200),  # was 10
    ],
)
def test_table_1_beats_the_category_the_user_gave(name: str, cas: str, category: str, q: float) -> None:
    assert critical_quantity(name=name, cas=cas, categories=(category,)) == q
    assert critical_quantity(cas=cas or None, name=name if not cas else "", categories=(category,)) == q


@pytest.mark.parametrize(
    ("name", "cas", "seq"),
    [
        ("液氯", "", 12),
        ("氯", "", 12),
        ("氯气", "7782-50-5", 12),
        ("液氨", "", 1),
        ("LPG", "", 52),
        ("液化石油气", "", 52),
        ("丙烷", "74-98-6", 52),
        ("丁烷", "106-97-8", 52),
        ("", "74-98-6", 52),
        ("天然气", "", 49),
        ("天然气", "8006-14-2", 49),
        ("甲烷", "74-82-8", 49),
        ("汽油", "", 66),
        ("乙醇汽油", "", 66),
        ("光气", "", 6),
        ("一氧化碳", "630-08-0", 13),
        ("环氧氯丙烷", "", 21),
        ("硝化纤维素（含乙醇≥25%）", "9004-70-0", 39),
        ("硝酸铵（含可燃物≤0.2%）", "", 44),
        ("ｌｐｇ", "", 52),  # full-width letters, as a Chinese IME types them
    ],
)
def test_chinese_names_aliases_and_mixtures_are_found(name: str, cas: str, seq: int) -> None:
    row = lookup_table_1(name=name, cas=cas)
    assert row is not None
    assert row.seq == seq


def test_formaldehyde_solution_is_not_row_8() -> None:
    # the qualifier 含量>90% is part of the row: a 37 % formalin is not a Table 1 chemical
    assert lookup_table_1(name="甲醛溶液") is None
    assert lookup_table_1(name="甲醛（含量>90%）").seq == 8  # type: ignore[union-attr]


def test_name_and_cas_that_disagree_are_refused() -> None:
    with pytest.raises(AmbiguousChemical, match="与填写的 CAS 67-56-1 不符"):
        lookup_table_1(name="液氯", cas="67-56-1")
    with pytest.raises(IdentificationError, match="校验位"):
        lookup_table_1(name="液氯", cas="7782-50-6")


def test_s_below_one_is_identified_without_beta() -> None:
    # 20 t benzene: Table 1 row 57, Q 50 t, S = 0.4 — not a major hazard source, no β needed
    result = identify([ChemicalInventory(name="苯", cas="71-43-2", quantity_t=20)], alpha=1.0)
    assert result.s == 0.4
    assert not result.is_major
    assert result.grade is None
    assert result.r is None
    assert "0.4 < 1，不构成重大危险源" in result.explain()
    # S ≥ 1 needs the category for β, and says which chemical
    with pytest.raises(UnknownChemical, match="构成重大危险源.*「苯」.*危险性类别"):
        identify([ChemicalInventory(name="苯", cas="71-43-2", quantity_t=100)], alpha=1.0)
    assert identify([ChemicalInventory(name="苯", quantity_t=100, categories=("W5.3",))], alpha=1).s == 2


def test_q_and_beta_overrides_are_refused_for_table_chemicals() -> None:
    # chlorine 10 t with Q = 50 used to be "not major"; truly S = 2
    with pytest.raises(OverrideRefused, match="表1第12项「氯」，临界量为 5 t，不能改为 50 t"):
        identify([ChemicalInventory(name="氯", cas="7782-50-5", quantity_t=10, critical_t=50)], alpha=1)
    with pytest.raises(OverrideRefused, match="β 只能按表3/表4取值（表中 β=4）"):
        identify([ChemicalInventory(name="液氯", quantity_t=10, beta=1)], alpha=1)
    # repeating the table's own values (a stored record does) is not an override
    result = identify([ChemicalInventory(name="氯", quantity_t=10, critical_t=5, beta=4)], alpha=1)
    assert (result.s, result.r) == (2.0, 8.0)


def test_overrides_of_unlisted_chemicals_need_reason_and_reviewer() -> None:
    with pytest.raises(OverrideRefused, match="指定原因和审核人"):
        identify([ChemicalInventory(name="X", quantity_t=10, critical_t=20, beta=3)], alpha=2)
    result = identify(
        [
            ChemicalInventory(
                name="X", quantity_t=10, critical_t=20, beta=3, override_reason="安全评价报告", override_reviewer="李工"
            )
        ],
        alpha=2,
    )
    assert (result.s, result.r) == (0.5, 3.0)
    assert not result.is_major
    assert result.grade is None
    assert "人工指定：安全评价报告（审核人 李工）" in result.explain()


@pytest.mark.parametrize("alpha", [0.7, 1.1, 3, 10])
def test_alpha_only_from_table_5(alpha: float) -> None:
    with pytest.raises(IdentificationError, match="不是表5的取值"):
        identify([CHLORINE], alpha=alpha)


def test_table_1_beats_table_2_and_lowest_category_wins() -> None:
    # chlorine is in Table 1 (5 t) even though it would also be J1/W4
    assert critical_quantity(cas="7782-50-5", categories=("W4",)) == 5
    # an unlisted chemical takes the lowest Q of its categories: W5.1 (10 t) beats J5 (500 t)
    assert critical_quantity(cas="1330-20-7", categories=("J5", "W5.1")) == 10
    assert beta_factor(cas="1330-20-7", categories=("J5", "W5.1")) == 1.5
    assert critical_quantity(categories=("W5.4",)) == 5000


def test_beta_table_3_before_table_4() -> None:
    assert beta_factor(cas="7782-50-5") == 4  # 氯
    assert beta_factor(name="光气") == 20
    assert beta_factor(cas="7783-06-4", categories=("W2",)) == 5  # 硫化氢: Table 3 even if also flammable
    assert beta_factor(cas="68476-85-7") == 1.5  # LPG, W2
    assert beta_factor(cas="67-56-1") == 1.0  # methanol, W5.3
    assert beta_factor(name="一氧化碳") == 2


def test_unknown_chemical_without_category_is_a_clear_error() -> None:
    with pytest.raises(UnknownChemical, match="不在 GB 18218-2018 表1 中.*未给出危险性类别"):
        identify([ChemicalInventory(name="神秘溶剂", cas="1330-20-7", quantity_t=10)], alpha=1.0)


def test_unknown_category_is_refused_even_for_table_1() -> None:
    with pytest.raises(UnknownCategory, match="W5-1"):
        critical_quantity(cas="67-56-1", categories=("W5-1",))


def test_bad_numbers_are_refused() -> None:
    with pytest.raises(IdentificationError, match="≥ 0"):
        ChemicalInventory(name="甲醇", cas="67-56-1", quantity_t=-1)
    with pytest.raises(IdentificationError, match="alpha"):
        identify([LPG], alpha=0)
    with pytest.raises(IdentificationError, match="at least one"):
        identify([], alpha=1)
    with pytest.raises(IdentificationError):
        alpha_for_population(-1)


@pytest.mark.parametrize(
    ("population", "alpha"), [(0, 0.5), (1, 1.0), (29, 1.0), (30, 1.2), (49, 1.2), (50, 1.5), (99, 1.5), (100, 2.0)]
)
def test_alpha_bands(population: int, alpha: float) -> None:
    assert alpha_for_population(population) == alpha
    assert alpha in ALPHA_VALUES


def test_grade_labels_round_trip() -> None:
    for grade in HazardGrade:
        assert HazardGrade.from_label(grade.label) is grade
    with pytest.raises(IdentificationError):
        HazardGrade.from_label("五级")


def test_explanation_shows_each_term_and_the_sum() -> None:
    text = identify(
        [ChemicalInventory(name="液氯", quantity_t=6), ChemicalInventory(name="甲醇", quantity_t=30)], alpha=1.5
    ).explain()
    assert "「液氯」 q=6 t，Q=5 t（表1第12项「氯」），q/Q=1.2，β=4" in text
    assert "S = Σq/Q = 1.26 ≥ 1，构成重大危险源；R = α·Σβq/Q = 1.5 × 4.86 = 7.29，四级" in text


# --- properties ------------------------------------------------------------------------------

quantities = st.fractions(min_value=0, max_value=100_000, max_denominator=1000)
alphas = st.sampled_from(ALPHA_VALUES)
graded_rows = st.sampled_from(sorted(r.name for r in TABLE_1_ROWS if r.categories or r.seq in (1, 12, 6)))


@given(name=graded_rows, q1=quantities, q2=quantities, alpha=alphas)
def test_r_is_monotone_in_quantity(name: str, q1: Fraction, q2: Fraction, alpha: float) -> None:
    low, high = sorted((q1, q2))
    r_low = identify([ChemicalInventory(name=name, quantity_t=low), CHLORINE], alpha=alpha).r_exact
    r_high = identify([ChemicalInventory(name=name, quantity_t=high), CHLORINE], alpha=alpha).r_exact
    assert r_low is not None
    assert r_high is not None
    assert r_low <= r_high
    if low < high:
        assert r_low < r_high


@given(
    items=st.lists(st.tuples(graded_rows, quantities), min_size=1, max_size=6),
    alpha=alphas,
    data=st.data(),
)
def test_s_and_r_do_not_depend_on_the_order_of_items(
    items: list[tuple[str, Fraction]], alpha: float, data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(items))
    first = identify([ChemicalInventory(name=n, quantity_t=q) for n, q in items], alpha=alpha)
    second = identify([ChemicalInventory(name=n, quantity_t=q) for n, q in shuffled], alpha=alpha)
    assert (first.s_exact, first.r_exact, first.grade) == (second.s_exact, second.r_exact, second.grade)


@given(r=st.fractions(min_value=0, max_value=1000, max_denominator=10_000))
def test_grade_thresholds(r: Fraction) -> None:
    grade = grade_for_r(r)
    if r >= 100:
        assert grade is HazardGrade.ONE
    elif r >= 50:
        assert grade is HazardGrade.TWO
    elif r >= 10:
        assert grade is HazardGrade.THREE
    else:
        assert grade is HazardGrade.FOUR


@pytest.mark.parametrize(("r", "grade"), [(100, 1), (99.99, 2), (50, 2), (49.99, 3), (10, 3), (9.99, 4), (0, 4)])
def test_grade_boundaries(r: float, grade: int) -> None:
    assert grade_for_r(r) == grade


@given(
    chemicals=st.lists(
        st.tuples(st.sampled_from(sorted(TABLE_2)), st.fractions(min_value=0, max_value=20_000, max_denominator=100)),
        min_size=1,
        max_size=5,
    ),
    alpha=alphas,
)
def test_major_iff_s_at_least_one(chemicals: list[tuple[str, Fraction]], alpha: float) -> None:
    result = identify(
        [ChemicalInventory(name=f"c{i}", quantity_t=q, categories=(code,)) for i, (code, q) in enumerate(chemicals)],
        alpha=alpha,
    )
    expected_s = sum((q / Fraction(str(TABLE_2[code].critical_t)) for code, q in chemicals), Fraction(0))
    assert result.s_exact == expected_s
    assert result.is_major == (expected_s >= 1)
    assert (result.grade is not None) == result.is_major
