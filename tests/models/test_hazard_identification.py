"""GB 18218-2018 identification and grading, checked against hand calculations from DOMAIN.md §2.

The demo plant's four hazard sources are worked out by hand below, written the way a safety
engineer would on paper: R = α × Σ β·q/Q, then the grade from the thresholds
一级 R ≥ 100, 二级 50 ≤ R < 100, 三级 10 ≤ R < 50, 四级 R < 10.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.hazard_identification import (
    TABLE_1,
    TABLE_2,
    ChemicalInventory,
    HazardGrade,
    IdentificationError,
    UnknownCategory,
    UnknownChemical,
    alpha_for_population,
    beta_factor,
    critical_quantity,
    grade_for_r,
    identify,
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


# --- tables ----------------------------------------------------------------------------------


def test_table_1_beats_table_2_and_lowest_category_wins() -> None:
    # chlorine is in Table 1 (5 t) even though it would also be J1/W4
    assert critical_quantity(cas="7782-50-5", categories=("W4",)) == 5
    # an unlisted chemical takes the lowest Q of its categories: W5.1 (10 t) beats J5 (500 t)
    assert critical_quantity(cas="0000-00-0", categories=("J5", "W5.1")) == 10
    assert beta_factor(cas="0000-00-0", categories=("J5", "W5.1")) == 1.5
    assert critical_quantity(categories=("W5.4",)) == 5000


def test_beta_table_3_before_table_4() -> None:
    assert beta_factor(cas="7782-50-5") == 4  # 氯
    assert beta_factor(cas="75-44-5") == 20  # 光气
    assert beta_factor(cas="7783-06-4", categories=("W2",)) == 5  # 硫化氢: Table 3 even if also flammable
    assert beta_factor(cas="68476-85-7") == 1.5  # LPG, W2
    assert beta_factor(cas="67-56-1") == 1.0  # methanol, W5.3


def test_unknown_chemical_without_category_is_a_clear_error() -> None:
    with pytest.raises(UnknownChemical, match="不在 GB 18218-2018 表1 中.*未给出危险性类别"):
        identify([ChemicalInventory(name="神秘溶剂", cas="9999-99-9", quantity_t=10)], alpha=1.0)
    # a Table 1 chemical whose category is not settled needs one for β
    with pytest.raises(UnknownChemical, match="苯.*β"):
        identify([ChemicalInventory(name="苯", cas="71-43-2", quantity_t=100)], alpha=1.0)
    assert identify([ChemicalInventory(name="苯", cas="71-43-2", quantity_t=100, categories=("W5.3",))], alpha=1).s == 2


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


def test_overrides_take_precedence() -> None:
    result = identify([ChemicalInventory(name="X", quantity_t=10, critical_t=20, beta=3)], alpha=2)
    assert (result.s, result.r) == (0.5, 3.0)
    assert not result.is_major
    assert result.grade is None


@pytest.mark.parametrize(
    ("population", "alpha"), [(0, 0.5), (1, 1.0), (29, 1.0), (30, 1.2), (49, 1.2), (50, 1.5), (99, 1.5), (100, 2.0)]
)
def test_alpha_bands(population: int, alpha: float) -> None:
    assert alpha_for_population(population) == alpha


def test_every_table_1_chemical_has_a_critical_quantity_and_every_category_a_beta() -> None:
    for cas, row in TABLE_1.items():
        assert critical_quantity(cas=cas) == row.critical_t > 0
    for code in TABLE_2:
        assert beta_factor(categories=(code,)) > 0


def test_grade_labels_round_trip() -> None:
    for grade in HazardGrade:
        assert HazardGrade.from_label(grade.label) is grade
    with pytest.raises(IdentificationError):
        HazardGrade.from_label("五级")


# --- properties ------------------------------------------------------------------------------

quantities = st.fractions(min_value=0, max_value=100_000, max_denominator=1000)
alphas = st.sampled_from([0.5, 1.0, 1.2, 1.5, 2.0])
table_1_cas = st.sampled_from(sorted(c for c, row in TABLE_1.items() if row.categories or c in ("7782-50-5",)))


@given(cas=table_1_cas, q1=quantities, q2=quantities, alpha=alphas)
def test_r_is_monotone_in_quantity(cas: str, q1: Fraction, q2: Fraction, alpha: float) -> None:
    low, high = sorted((q1, q2))
    r_low = identify([ChemicalInventory(name="c", cas=cas, quantity_t=low), CHLORINE], alpha=alpha).r_exact
    r_high = identify([ChemicalInventory(name="c", cas=cas, quantity_t=high), CHLORINE], alpha=alpha).r_exact
    assert r_low <= r_high
    if low < high:
        assert r_low < r_high


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
