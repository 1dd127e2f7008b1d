"""Money arithmetic: worked cases by hand, and properties that must always hold."""

import datetime as dt
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xlfund.money import (
    apportion,
    exact,
    instalments,
    months_in_period,
    part_year_fraction,
    round_half_up,
    round_to_total,
    split,
)


def test_exact_reads_floats_as_typed():
    assert exact(0.75) == Fraction(3, 4)
    assert exact(0.1) == Fraction(1, 10)
    assert exact("12.5%") == Fraction(1, 8)
    assert exact("£1,500,000") == 1_500_000


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), True, "abc", None])
def test_exact_rejects_non_numbers(bad):
    with pytest.raises((TypeError, ValueError)):
        exact(bad)


def test_round_half_up_matches_excel_round():
    # Excel: ROUND(2.5,0)=3, ROUND(-2.5,0)=-3, ROUND(437.5,0)=438
    assert round_half_up(Fraction(5, 2)) == 3
    assert round_half_up(Fraction(-5, 2)) == -3
    assert round_half_up(Fraction(875, 2)) == 438
    assert round_half_up(Fraction(7, 3)) == 2


def test_split_75_25_of_two_million():
    assert split(2_000_000, Fraction(3, 4)) == (1_500_000, 500_000)
    # odd pound: 75% of 1,001 is 750.75 -> 751, the rest 250
    assert split(1001, Fraction(3, 4)) == (751, 250)


def test_thirds_residue_goes_to_first_key():
    # 100 in three equal parts: 33.33 each; the spare pound goes to the smallest key
    assert round_to_total([Fraction(100, 3)] * 3, 100, ["B", "A", "C"]) == [33, 34, 33]


def test_largest_remainder_by_hand():
    # 10.6 + 20.3 + 30.1 = 61: floors 10+20+30=60, one pound to the largest remainder (.6)
    values = [Fraction(106, 10), Fraction(203, 10), Fraction(301, 10)]
    assert round_to_total(values, 61) == [11, 20, 30]


def test_round_to_total_refuses_impossible_total():
    with pytest.raises(ValueError, match="cannot round"):
        round_to_total([Fraction(1, 2), Fraction(1, 2)], 5)


def test_relaxed_rounding_meets_any_total():
    # 1.5 + 1.5 = 3 cannot round to 6 within a pound each; relaxed mode still adds up,
    # giving the extra pounds in remainder order, one per pass
    assert round_to_total([Fraction(3, 2), Fraction(3, 2)], 6, strict=False) == [3, 3]
    # 1.25 + 1.75 = 3 to a total of 1: two pounds off, taken smallest remainder first
    assert round_to_total([Fraction(5, 4), Fraction(7, 4)], 1, strict=False) == [0, 1]


def test_apportion_by_hand():
    # 100 shared 1:2:3 -> 16.67, 33.33, 50 -> 17, 33, 50
    assert apportion(100, [1, 2, 3]) == [17, 33, 50]
    with pytest.raises(ValueError):
        apportion(10, [0, 0])
    with pytest.raises(ValueError):
        apportion(10, [1, -1])


def test_part_year_september_start_is_seven_twelfths():
    start, fy_start, fy_end = dt.date(2013, 9, 1), dt.date(2013, 4, 1), dt.date(2014, 3, 31)
    assert months_in_period(start, fy_end) == 7
    assert part_year_fraction(start, fy_start, fy_end) == Fraction(7, 12)
    # starting before the financial year means a full year
    assert part_year_fraction(dt.date(2012, 9, 1), fy_start, fy_end) == 1


def test_instalments_by_hand():
    assert instalments(312, 7) == [45, 45, 45, 45, 44, 44, 44]
    assert instalments(126, 7) == [18] * 7


money_values = st.lists(
    st.fractions(min_value=0, max_value=10_000_000, max_denominator=1000), min_size=1, max_size=60
)


@given(money_values)
def test_round_to_total_adds_up_and_stays_within_a_pound(values):
    total = round_half_up(sum(values))
    rounded = round_to_total(values, total)
    assert sum(rounded) == total
    assert all(abs(r - v) < 1 for r, v in zip(rounded, values, strict=True))


@given(st.integers(0, 10**9), st.lists(st.integers(0, 10**6), min_size=1, max_size=50))
def test_apportion_adds_up(total, weights):
    if sum(weights) == 0:
        return
    assert sum(apportion(total, weights)) == total


@given(st.integers(0, 10**9), st.fractions(0, 1, max_denominator=10_000))
def test_split_adds_up(total, share):
    a, b = split(total, share)
    assert a + b == total and a >= 0 and b >= 0


@given(st.integers(0, 10**8), st.integers(1, 12))
def test_instalments_add_up_and_differ_by_at_most_a_pound(amount, months):
    parts = instalments(amount, months)
    assert sum(parts) == amount and max(parts) - min(parts) <= 1
