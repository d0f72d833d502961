"""LEC and LS grading against DOMAIN.md §6: table-driven bands, scales refused, properties."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.risk_grading import (
    DEFAULT_TABLE,
    LEC_C,
    LEC_E,
    LEC_L,
    GradingTable,
    InvalidFactor,
    RiskColour,
    RiskLevel,
    grade,
    grade_lec,
    grade_ls,
    worst,
)


@pytest.mark.parametrize(
    ("lk", "e", "c", "score", "level", "colour"),
    [
        (10, 10, 100, 10000, RiskLevel.MAJOR, RiskColour.RED),
        (6, 6, 15, 540, RiskLevel.MAJOR, RiskColour.RED),
        (1, 6, 100, 600, RiskLevel.MAJOR, RiskColour.RED),
        (6, 6, 7, 252, RiskLevel.LARGE, RiskColour.ORANGE),
        (3, 6, 15, 270, RiskLevel.LARGE, RiskColour.ORANGE),
        (10, 2, 16 - 1, 300, RiskLevel.LARGE, RiskColour.ORANGE),
        (3, 3, 15, 135, RiskLevel.GENERAL, RiskColour.YELLOW),
        (6, 2, 7, 84, RiskLevel.GENERAL, RiskColour.YELLOW),
        (1, 6, 7, 42, RiskLevel.LOW, RiskColour.BLUE),
        (0.5, 1, 1, 0.5, RiskLevel.LOW, RiskColour.BLUE),
        (0.1, 0.5, 1, 0.05, RiskLevel.LOW, RiskColour.BLUE),
    ],
)
def test_lec_bands_follow_domain_table(
    lk: float, e: float, c: float, score: float, level: RiskLevel, colour: RiskColour
) -> None:
    result = grade_lec(lk, e, c)
    assert result.score == pytest.approx(score)
    assert result.level is level
    assert result.colour is colour
    assert result.table_version == DEFAULT_TABLE.version


def test_a_band_limit_itself_belongs_to_the_milder_level() -> None:
    """ "D > 320" is 重大: a score equal to a limit stays in the band below it."""
    assert grade_lec(10, 1, 7).level is RiskLevel.LOW  # D = 70 exactly
    assert grade_lec(10, 2, 15).level is RiskLevel.LARGE  # D = 300
    table = GradingTable(version="edge", lec_major_above=300, lec_large_above=150)
    assert grade_lec(10, 2, 15, table).level is RiskLevel.LARGE  # 300 is not above 300
    assert grade_lec(10, 1, 15, table).level is RiskLevel.GENERAL  # 150 is not above 150
    assert grade_lec(6, 6, 15, table).level is RiskLevel.MAJOR  # 540


@pytest.mark.parametrize(
    ("lk", "s", "level"),
    [
        (5, 5, RiskLevel.MAJOR),
        (4, 5, RiskLevel.MAJOR),
        (4, 4, RiskLevel.LARGE),
        (3, 5, RiskLevel.LARGE),
        (3, 4, RiskLevel.GENERAL),
        (3, 3, RiskLevel.GENERAL),
        (2, 4, RiskLevel.LOW),
        (1, 1, RiskLevel.LOW),
    ],
)
def test_ls_bands_follow_domain_table(lk: int, s: int, level: RiskLevel) -> None:
    assert grade_ls(lk, s).level is level


def test_every_ls_product_lands_in_exactly_the_documented_band() -> None:
    bands = {RiskLevel.MAJOR: {20, 25}, RiskLevel.LARGE: {15, 16}, RiskLevel.GENERAL: {9, 10, 12}}
    for lk, s in itertools.product(range(1, 6), repeat=2):
        product = lk * s
        expected = next((lvl for lvl, values in bands.items() if product in values), RiskLevel.LOW)
        assert grade_ls(lk, s).level is expected, (lk, s)


def test_bands_are_configurable_and_versioned() -> None:
    provincial = GradingTable(version="province-17", ls_major_from=17, ls_large_from=13, ls_general_from=8)
    assert grade_ls(4, 4).level is RiskLevel.LARGE
    assert grade_ls(4, 4, provincial).level is RiskLevel.LARGE
    assert grade_ls(2, 4, provincial).level is RiskLevel.GENERAL  # 8: 低 by default, 一般 here
    assert grade_ls(2, 4, provincial).table_version == "province-17"


@pytest.mark.parametrize(("lk", "e", "c"), [(7, 6, 15), (6, 4, 15), (6, 6, 16), (-1, 6, 15), (float("nan"), 1, 1)])
def test_lec_factors_off_the_scale_are_refused(lk: float, e: float, c: float) -> None:
    with pytest.raises(InvalidFactor):
        grade_lec(lk, e, c)


def test_ls_factors_off_the_scale_and_missing_factors_are_refused() -> None:
    with pytest.raises(InvalidFactor):
        grade_ls(0, 3)
    with pytest.raises(InvalidFactor):
        grade_ls(2.5, 3)
    with pytest.raises(InvalidFactor, match="S"):
        grade("LS", likelihood=3)
    with pytest.raises(InvalidFactor, match="E"):
        grade("LEC", likelihood=3, consequence=7)


def test_levels_carry_exchange_codes_colours_and_management_levels() -> None:
    assert [level.code for level in RiskLevel] == [0, 1, 2, 3]
    assert [level.colour for level in RiskLevel] == [
        RiskColour.RED,
        RiskColour.ORANGE,
        RiskColour.YELLOW,
        RiskColour.BLUE,
    ]
    assert "主要负责人" in RiskLevel.MAJOR.management_level
    assert worst([RiskLevel.LOW, RiskLevel.LARGE, RiskLevel.GENERAL]) is RiskLevel.LARGE
    assert worst([]) is None


@given(
    a=st.tuples(st.sampled_from(LEC_L), st.sampled_from(LEC_E), st.sampled_from(LEC_C)),
    b=st.tuples(st.sampled_from(LEC_L), st.sampled_from(LEC_E), st.sampled_from(LEC_C)),
)
def test_a_higher_lec_score_never_gets_a_milder_level(
    a: tuple[float, float, float], b: tuple[float, float, float]
) -> None:
    ga, gb = grade_lec(*a), grade_lec(*b)
    if ga.score >= gb.score:
        assert ga.level.code <= gb.level.code
    assert ga.score == pytest.approx(a[0] * a[1] * a[2])


@given(l1=st.integers(1, 5), s1=st.integers(1, 5), l2=st.integers(1, 5), s2=st.integers(1, 5))
def test_raising_a_factor_never_lowers_the_ls_level(l1: int, s1: int, l2: int, s2: int) -> None:
    if l2 >= l1 and s2 >= s1:
        assert grade_ls(l2, s2).level.code <= grade_ls(l1, s1).level.code
