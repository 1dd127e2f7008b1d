"""The retained 25%: cost the countywide specialist posts against the retained pot.

A post costs salary x FTE x (1 + on-cost rate) + non-pay, rounded to whole pounds.
The illustrative set of about 9 FTE follows the functions named in MI 233/12 and is
priced with 2013-14 pay and on-cost figures (docs/method.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import pandas as pd

from . import contract as c
from .errors import InputError
from .money import exact, round_half_up
from .parameters import is_blank

# [public] 2013-14 employer National Insurance: 13.8% above the secondary threshold,
# less the 3.4% contracted-out rebate for members of the LGPS or Teachers' Pension Scheme
# on earnings from the lower earnings limit up to the upper accrual point.
NI_RATE = Fraction(138, 1000)
NI_THRESHOLD = 7_696
CONTRACTED_OUT_REBATE = Fraction(34, 1000)
LOWER_EARNINGS_LIMIT = 5_668
UPPER_ACCRUAL_POINT = 40_040
# [public] employer pension rates: Teachers' Pension 14.1% (to August 2015);
# LGPS varies by fund, about 15-20%: 17% assumed.
TPS_RATE = Fraction(141, 1000)
LGPS_RATE = Fraction(17, 100)

POST_COLUMNS = ("Post", "Function", "Grade", "FTE", "Salary (£)", "On-cost rate",
                "Non-pay (£)", "Annual cost (£)", "Notes")


def employer_on_cost_rate(salary: int, pension_rate: Fraction) -> Fraction:
    """Employer National Insurance plus pension, as a share of salary (exact)."""
    if salary <= 0:
        return pension_rate
    ni = NI_RATE * max(0, salary - NI_THRESHOLD)
    ni -= CONTRACTED_OUT_REBATE * max(0, min(salary, UPPER_ACCRUAL_POINT) - LOWER_EARNINGS_LIMIT)
    return (ni + pension_rate * salary) / salary


def post_cost(fte: Fraction, salary: Fraction, on_cost_rate: Fraction, non_pay: Fraction) -> int:
    """Annual cost of one post in whole pounds (Excel: ROUND(FTE*Salary*(1+rate)+NonPay, 0))."""
    return round_half_up(fte * salary * (1 + on_cost_rate) + non_pay)


def _rate(salary: int, pension: Fraction) -> float:
    """On-cost rate stored in the workbook: rounded to 0.01% so Excel shows what is used."""
    return round(float(employer_on_cost_rate(salary, pension)), 4)


def illustrative_posts() -> pd.DataFrame:
    """About 9 FTE of countywide posts for the functions MI 233/12 names.

    Illustrative: the decision lists the functions, not the posts.  Grades and salaries
    are 2013-14 Soulbury, teachers' and NJC points from docs/method.md.
    """
    posts = [
        ("Specialist Teacher, Access Through Technology", "Access Through Technology",
         "Soulbury 9", 2, 40_000, TPS_RATE, 3_000, "Assessment and training in schools"),
        ("Assistive Technology Officer", "Access Through Technology", "NJC SCP 26",
         1, 22_443, LGPS_RATE, 4_000, "Equipment loans and set-up; non-pay covers licences"),
        ("Disability Co-ordinator", "Disability advice and guidance", "Soulbury 12",
         1, 43_000, TPS_RATE, 2_000, "Countywide lead"),
        ("Disability Adviser", "Disability advice and guidance", "Soulbury 7",
         2, 38_000, TPS_RATE, 2_500, "Advice to SENCos and families"),
        ("Senior Specialist Lead Teacher, Looked After Children",
         "Looked After Children advice and guidance", "Upper pay range 3",
         1, 37_124, TPS_RATE, 2_000, "Virtual School link"),
        ("LAC Specialist Support Assistant", "Looked After Children advice and guidance",
         "NJC SCP 21", 2, 19_317, LGPS_RATE, 1_500, "Casework in divisions"),
    ]
    rows = []
    for post, function, grade, fte, salary, pension, non_pay, note in posts:
        rate = _rate(salary, pension)
        rows.append({
            "Post": post, "Function": function, "Grade": grade, "FTE": fte,
            "Salary (£)": salary, "On-cost rate": rate, "Non-pay (£)": non_pay * fte,
            "Annual cost (£)": post_cost(exact(fte), exact(salary), exact(rate),
                                         exact(non_pay * fte)),
            "Notes": note,
        })
    return pd.DataFrame(rows, columns=list(POST_COLUMNS))


@dataclass(frozen=True)
class RetainedResult:
    posts: pd.DataFrame  # with 'Annual cost (£)' recomputed
    total_fte: Fraction
    total_cost: int
    retained_pot: int

    @property
    def headroom(self) -> int:
        """Pounds left in the retained pot; negative means overspent."""
        return self.retained_pot - self.total_cost


def _number(value: Any, post: str, column: str, problems: list[str]) -> Fraction:
    try:
        if is_blank(value):
            return Fraction(0)
        number = exact(value)
    except (TypeError, ValueError, ZeroDivisionError):
        problems.append(f"Post '{post}': '{column}' is {value!r}, not a number. Enter a number.")
        return Fraction(0)
    if number < 0:
        problems.append(f"Post '{post}': '{column}' is negative. Enter 0 or more.")
    return number


def cost_posts(posts: pd.DataFrame, retained_pot: int) -> RetainedResult:
    """Recompute every post's annual cost and total them against the retained pot."""
    problems: list[str] = []
    costs: list[int] = []
    total_fte = Fraction(0)
    for i, row in enumerate(posts.to_dict("records"), start=1):
        post = str(row.get("Post") or f"row {i}")
        fte = _number(row.get("FTE"), post, "FTE", problems)
        salary = _number(row.get("Salary (£)"), post, "Salary (£)", problems)
        rate = _number(row.get("On-cost rate"), post, "On-cost rate", problems)
        non_pay = _number(row.get("Non-pay (£)"), post, "Non-pay (£)", problems)
        total_fte += fte
        costs.append(post_cost(fte, salary, rate, non_pay))
    if problems:
        raise InputError(problems)
    out = posts.copy()
    out[c.RETAINED_TABLE.columns[7]] = costs
    return RetainedResult(out, total_fte, sum(costs), retained_pot)
