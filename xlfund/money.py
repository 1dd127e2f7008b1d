"""Exact money arithmetic: whole pounds that always add up.

Every published figure is an ``int`` number of pounds.  Intermediate shares are
``fractions.Fraction`` so that no float ever decides a total; rounding happens once,
at the end, by the largest-remainder method, so the residue is distributed, never lost.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Hashable, Sequence
from decimal import Decimal
from fractions import Fraction
from numbers import Rational

Number = int | float | Decimal | Fraction | str


def exact(value: Number) -> Fraction:
    """Turn a number as a user typed it into an exact fraction.

    Floats are read through their shortest decimal representation, so the 0.75 a
    spreadsheet sends becomes exactly 3/4, not 0.74999999999999994448884876874.
    """
    if isinstance(value, bool):
        raise TypeError("a true/false value is not a number")
    if isinstance(value, Fraction | int):
        return Fraction(value)
    if isinstance(value, Rational):
        return Fraction(value.numerator, value.denominator)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value} is not a finite number")
        return Fraction(repr(value))
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not a finite number")
        return Fraction(value)
    if isinstance(value, str):
        text = value.strip().replace(",", "").replace("£", "")
        if text.endswith("%"):
            return Fraction(text[:-1].strip()) / 100
        return Fraction(text)
    # numpy scalars and other number-likes
    try:
        as_float = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{value!r} is not a number") from exc
    return exact(as_float)


def round_half_up(value: Fraction | int) -> int:
    """Round to the nearest whole number, halves away from zero (as Excel's ROUND)."""
    value = Fraction(value)
    sign = -1 if value < 0 else 1
    return sign * math.floor(abs(value) + Fraction(1, 2))


def round_to_total(
    values: Sequence[Fraction | int],
    total: int,
    keys: Sequence[Hashable] | None = None,
    *,
    strict: bool = True,
) -> list[int]:
    """Round each value to whole pounds so that the results add up to ``total`` exactly.

    Largest-remainder method: every value is rounded down, then the pounds still
    missing go one each to the values with the largest fractional parts.  Ties go to
    the smallest key (default: position), so the result never depends on row order
    when keys are given.  Each result is the floor or the ceiling of its value.

    With ``strict=False`` a total that is not reachable that way (the values' own sum
    rounded differently elsewhere) is still met: the extra pounds are added to, or taken
    from, the values in remainder order, one pound each per pass.
    """
    exact_values = [Fraction(v) for v in values]
    floors = [math.floor(v) for v in exact_values]
    missing = total - sum(floors)
    if keys is None:
        keys = range(len(exact_values))
    elif len(keys) != len(exact_values):
        raise ValueError("round_to_total needs one key per value")
    if not 0 <= missing <= len(exact_values) and (strict or not exact_values):
        raise ValueError(
            f"cannot round {len(exact_values)} values adding up to "
            f"{float(sum(exact_values)):,.2f} to a total of {total:,}"
        )
    # Pounds are added where the remainder is largest, and taken (relaxed mode only)
    # where it is smallest; ties go to the smallest key either way.
    sign = -1 if missing >= 0 else 1
    order = sorted(
        range(len(exact_values)),
        key=lambda i: (sign * (exact_values[i] - floors[i]), keys[i]),
    )
    step = 1 if missing >= 0 else -1
    for n in range(abs(missing)):
        floors[order[n % len(order)]] += step
    return floors


def apportion(
    total: int,
    weights: Sequence[Fraction | int],
    keys: Sequence[Hashable] | None = None,
) -> list[int]:
    """Share ``total`` whole pounds in proportion to non-negative ``weights``."""
    exact_weights = [Fraction(w) for w in weights]
    if any(w < 0 for w in exact_weights):
        raise ValueError("cannot share money in proportion to a negative weight")
    weight_sum = sum(exact_weights)
    if weight_sum == 0:
        if total == 0:
            return [0] * len(exact_weights)
        raise ValueError(f"cannot share {total:,} pounds when every weight is zero")
    return round_to_total([total * w / weight_sum for w in exact_weights], total, keys)


def split(total: int, share: Fraction) -> tuple[int, int]:
    """Split ``total`` into (share, rest) whole pounds that add up to ``total``."""
    if not 0 <= share <= 1:
        raise ValueError(f"a share must be between 0% and 100%, not {float(share):.2%}")
    part = round_half_up(total * share)
    return part, total - part


def months_in_period(start: dt.date, end: dt.date) -> int:
    """Whole calendar months from the month of ``start`` to the month of ``end``, inclusive.

    1 September 2013 to 31 March 2014 is 7 months.
    """
    if end < start:
        return 0
    return (end.year - start.year) * 12 + end.month - start.month + 1


def part_year_fraction(
    delegation_start: dt.date, financial_year_start: dt.date, financial_year_end: dt.date
) -> Fraction:
    """Share of a year's money paid in a financial year when funding starts part-way.

    A change from 1 September is funded 7/12 in that financial year (Sept-Mar).
    """
    first = max(delegation_start, financial_year_start)
    months = months_in_period(first, financial_year_end)
    full_year = months_in_period(financial_year_start, financial_year_end)
    if full_year <= 0:
        raise ValueError("the financial year ends before it starts")
    return Fraction(min(months, full_year, 12), 12)


def month_starts(first: dt.date, count: int) -> list[dt.date]:
    """The first day of ``count`` consecutive months, starting with the month of ``first``."""
    out = []
    year, month = first.year, first.month
    for _ in range(count):
        out.append(dt.date(year, month, 1))
        month += 1
        if month > 12:
            year, month = year + 1, 1
    return out


def instalments(amount: int, count: int) -> list[int]:
    """Equal monthly instalments in whole pounds; leftover pounds go to the earliest months."""
    if count <= 0:
        raise ValueError("a payment schedule needs at least one month")
    base, extra = divmod(amount, count)
    return [base + (1 if i < extra else 0) for i in range(count)]
