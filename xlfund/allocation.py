"""The allocation model: share the delegated pot between school clusters.

Steps (docs/method.md has the worked example):

1. Split the total into delegated and retained amounts; hold back any contingency.
2. Give every cluster a lump sum per school.
3. Share the rest between the pupil-led factors by weight; each factor's pot is
   shared in proportion to the clusters' totals of that factor.
4. Optionally protect clusters against a baseline: nobody falls below
   baseline x (1 + floor); gains above the floor are scaled down to pay for it.
5. Round once, at the end: cluster totals by largest remainder to the pot, each
   cluster's elements to its total, schools' notional amounts to their cluster's total.

All arithmetic is exact (``Fraction``); published figures are whole pounds.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import pandas as pd

from . import contract as c
from .errors import InputError
from .money import (
    exact,
    instalments,
    month_starts,
    months_in_period,
    part_year_fraction,
    round_half_up,
    round_to_total,
    split,
)
from .parameters import Parameters, is_blank

COUNT_COLUMNS = tuple(count for _, count, _ in c.FACTORS)
NOTIONAL_GBP = "Notional allocation (£)"


@dataclass(frozen=True)
class Pots:
    """How the total is divided before it reaches clusters (whole pounds)."""

    total: int
    delegated: int
    retained: int
    contingency: int
    distributable: int
    lump_sums: int
    factor_pots: dict[str, Fraction]  # exact, by weight key
    part_year_fraction: Fraction
    part_year_total: int
    payment_months: tuple[dt.date, ...]


@dataclass(frozen=True)
class AllocationResult:
    """Everything ``allocate`` works out.  Frames use the workbook contract's headers."""

    parameters: Parameters
    pots: Pots
    clusters: pd.DataFrame  # the Allocation table
    schools: pd.DataFrame  # notional per-school amounts
    schedule: pd.DataFrame  # monthly payments per cluster
    exact_annual: dict[str, Fraction]  # before rounding, by Cluster ID

    def annual_by_cluster(self) -> dict[str, int]:
        return dict(
            zip(self.clusters[c.CLUSTER_ID], self.clusters[c.ANNUAL_GBP].astype(int), strict=True)
        )


def cluster_key(value: Any) -> str:
    """Cluster IDs compare as trimmed text, so 7 and '7' and ' 7 ' are one cluster."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _school_label(row: dict[str, Any]) -> str:
    name = row.get(c.SCHOOL_NAME)
    name = "" if is_blank(name) else str(name).strip()
    urn = row.get(c.URN)
    urn_text = "" if is_blank(urn) else cluster_key(urn)
    if name and urn_text:
        return f"{name} (URN {urn_text})"
    return name or (f"URN {urn_text}" if urn_text else "a school with no name or URN")


@dataclass(frozen=True)
class _School:
    urn: str
    name: str
    label: str
    cluster: str
    counts: tuple[Fraction, ...]  # in COUNT_COLUMNS order


@dataclass(frozen=True)
class _Cluster:
    cluster_id: str
    name: str
    baseline: Fraction | None


def _read_schools(schools: pd.DataFrame, problems: list[str]) -> list[_School]:
    missing = [col for col in (c.URN, c.CLUSTER_ID, *COUNT_COLUMNS) if col not in schools]
    if missing:
        problems.append(
            f"The Schools table has no column {', '.join(repr(m) for m in missing)}. "
            "Add it with that exact header."
        )
        return []
    out: list[_School] = []
    seen: dict[str, str] = {}
    for row in schools.to_dict("records"):
        label = _school_label(row)
        if is_blank(row.get(c.URN)):
            problems.append(f"School {label} has no URN. Enter its 6-digit URN.")
            continue
        urn = cluster_key(row[c.URN])
        if urn in seen:
            problems.append(
                f"URN {urn} appears twice ({seen[urn]} and {label}). "
                "Each school must appear once: remove or correct the duplicate row."
            )
            continue
        seen[urn] = label
        if is_blank(row.get(c.CLUSTER_ID)):
            problems.append(f"School {label} has no Cluster ID. Choose its cluster.")
            continue
        counts = []
        for column in COUNT_COLUMNS:
            value = row.get(column)
            if is_blank(value):
                value = 0
            try:
                number = exact(value)
            except (TypeError, ValueError, ZeroDivisionError):
                problems.append(
                    f"School {label}: '{column}' is {value!r}, not a number. "
                    "Enter a number of pupils (0 if none)."
                )
                number = Fraction(0)
            if number < 0:
                problems.append(
                    f"School {label}: '{column}' is negative ({float(number):g}). "
                    "Pupil counts cannot be below 0."
                )
            counts.append(number)
        name = "" if is_blank(row.get(c.SCHOOL_NAME)) else str(row[c.SCHOOL_NAME]).strip()
        out.append(_School(urn, name, label, cluster_key(row[c.CLUSTER_ID]), tuple(counts)))
    return out


def _read_clusters(clusters: pd.DataFrame, problems: list[str]) -> list[_Cluster]:
    if c.CLUSTER_ID not in clusters:
        problems.append("The Clusters table has no 'Cluster ID' column. Add it.")
        return []
    out: list[_Cluster] = []
    seen: set[str] = set()
    for row in clusters.to_dict("records"):
        if is_blank(row.get(c.CLUSTER_ID)):
            problems.append(
                "A row of the Clusters table has no Cluster ID. Fill it in or delete it."
            )
            continue
        cluster_id = cluster_key(row[c.CLUSTER_ID])
        if cluster_id in seen:
            problems.append(
                f"Cluster ID '{cluster_id}' appears twice in the Clusters table. "
                "Each cluster must appear once."
            )
            continue
        seen.add(cluster_id)
        name = row.get(c.CLUSTER_NAME)
        name = cluster_id if is_blank(name) else str(name).strip()
        baseline_raw = row.get(c.BASELINE)
        baseline: Fraction | None = None
        if not is_blank(baseline_raw):
            try:
                baseline = exact(baseline_raw)
            except (TypeError, ValueError, ZeroDivisionError):
                problems.append(
                    f"Cluster '{cluster_id}': 'Baseline (£)' is {baseline_raw!r}, not a number. "
                    "Enter pounds, or leave it blank for no protection."
                )
            else:
                if baseline < 0:
                    problems.append(
                        f"Cluster '{cluster_id}': 'Baseline (£)' is negative. "
                        "Enter 0 or more, or leave it blank."
                    )
        out.append(_Cluster(cluster_id, name, baseline))
    return out


def compute_pots(params: Parameters, school_count: int) -> Pots:
    """Divide the total into delegated, retained, contingency and the factor pots."""
    delegated, retained = split(params.total_funding, params.delegated_share)
    contingency = round_half_up(delegated * params.contingency_share)
    distributable = delegated - contingency
    lump_sums = params.lump_sum_per_school * school_count
    if distributable <= 0:
        raise InputError(
            "There is no money to share between clusters: the delegated pot after "
            f"contingency is £{distributable:,}. Check 'total_funding', 'delegated_share' "
            "and 'contingency_share' on the Parameters sheet."
        )
    if lump_sums > distributable:
        raise InputError(
            f"Lump sums of £{params.lump_sum_per_school:,} for {school_count} schools "
            f"(£{lump_sums:,}) are more than the £{distributable:,} to share. "
            "Lower 'lump_sum_per_school' on the Parameters sheet."
        )
    rest = distributable - lump_sums
    factor_pots = {key: rest * params.weight(key) for key, _, _ in c.FACTORS}
    fraction = part_year_fraction(
        params.delegation_start, params.financial_year_start, params.financial_year_end
    )
    first_month = max(params.delegation_start, params.financial_year_start)
    months = months_in_period(first_month, params.financial_year_end)
    months = min(months, 12)
    return Pots(
        total=params.total_funding,
        delegated=delegated,
        retained=retained,
        contingency=contingency,
        distributable=distributable,
        lump_sums=lump_sums,
        factor_pots=factor_pots,
        part_year_fraction=fraction,
        part_year_total=round_half_up(distributable * fraction),
        payment_months=tuple(month_starts(first_month, months)) if months > 0 else (),
    )


def _protect(
    formula: dict[str, Fraction], clusters: list[_Cluster], floor: Fraction | None
) -> dict[str, Fraction]:
    """Adjustment per cluster so nobody falls below baseline x (1 + floor).

    Clusters with a baseline and a formula amount above their floor pay for the
    protection in proportion to their gain above the floor; clusters without a
    baseline are neither protected nor scaled.  The adjustments add up to zero.
    """
    adjustment = {cl.cluster_id: Fraction(0) for cl in clusters}
    if floor is None:
        return adjustment
    # Floors are whole pounds (rounded up), so rounding can never publish a protected
    # cluster a pound below its floor: whole amounts are never moved by largest remainder.
    floors = {
        cl.cluster_id: Fraction(math.ceil(cl.baseline * (1 + floor)))
        for cl in clusters
        if cl.baseline is not None
    }
    needed = {k: f - formula[k] for k, f in floors.items() if formula[k] < f}
    gains = {k: formula[k] - f for k, f in floors.items() if formula[k] > f}
    cost = sum(needed.values(), Fraction(0))
    if cost == 0:
        return adjustment
    available = sum(gains.values(), Fraction(0))
    if available < cost:
        raise InputError(
            f"The protection floor of {float(floor):+.2%} against baseline costs "
            f"£{float(cost):,.0f}, but clusters above their floor gain only "
            f"£{float(available):,.0f}. Lower 'protection_floor' or check the "
            "'Baseline (£)' column of the Clusters table."
        )
    scale = cost / available
    for k, amount in needed.items():
        adjustment[k] = amount
    for k, gain in gains.items():
        adjustment[k] = -scale * gain
    return adjustment


def allocate(schools: pd.DataFrame, clusters: pd.DataFrame, params: Parameters) -> AllocationResult:
    """Allocate the delegated pot to clusters.  Raises InputError listing every problem."""
    problems: list[str] = []
    school_rows = _read_schools(schools, problems)
    cluster_rows = _read_clusters(clusters, problems)
    known = {cl.cluster_id for cl in cluster_rows}
    members: dict[str, list[_School]] = defaultdict(list)
    for school in school_rows:
        if cluster_rows and school.cluster not in known:
            problems.append(
                f"School {school.label} is in cluster '{school.cluster}', which is not in "
                "the Clusters table. Choose a Cluster ID from the Clusters table."
            )
        members[school.cluster].append(school)
    for cl in cluster_rows:
        if not members.get(cl.cluster_id):
            problems.append(
                f"Cluster '{cl.cluster_id}' ({cl.name}) has no schools. Give it at least one "
                "school on the Schools sheet, or delete it from the Clusters table."
            )
    if not school_rows and not problems:
        problems.append("The Schools table has no schools. Add at least one school.")
    if not cluster_rows and not problems:
        problems.append("The Clusters table has no clusters. Add at least one cluster.")
    if problems:
        raise InputError(problems)

    pots = compute_pots(params, len(school_rows))
    factor_totals = [sum((s.counts[i] for s in school_rows), Fraction(0)) for i in range(4)]
    for (key, count, _), total in zip(c.FACTORS, factor_totals, strict=True):
        if total == 0 and params.weight(key) > 0:
            raise InputError(
                f"No school has any '{count}', but '{key}' gives that factor "
                f"{float(params.weight(key)):.0%} of the money. Enter the counts on the "
                f"Schools sheet or set '{key}' to 0."
            )

    def school_elements(school: _School) -> list[Fraction]:
        values = [Fraction(params.lump_sum_per_school)]
        for i, (key, _, _) in enumerate(c.FACTORS):
            total = factor_totals[i]
            values.append(
                pots.factor_pots[key] * school.counts[i] / total if total else Fraction(0)
            )
        return values

    per_school = {s.urn: school_elements(s) for s in school_rows}
    cluster_elements: dict[str, list[Fraction]] = {}
    for cl in cluster_rows:
        sums = [Fraction(0)] * 5
        for s in members[cl.cluster_id]:
            sums = [a + b for a, b in zip(sums, per_school[s.urn], strict=True)]
        cluster_elements[cl.cluster_id] = sums
    formula = {k: sum(v, Fraction(0)) for k, v in cluster_elements.items()}
    adjustment = _protect(formula, cluster_rows, params.protection_floor)
    exact_annual = {k: formula[k] + adjustment[k] for k in formula}

    ids = [cl.cluster_id for cl in cluster_rows]
    annual = dict(
        zip(
            ids,
            round_to_total([exact_annual[k] for k in ids], pots.distributable, ids),
            strict=True,
        )
    )
    part_year = dict(
        zip(
            ids,
            round_to_total(
                [annual[k] * pots.part_year_fraction for k in ids], pots.part_year_total, ids
            ),
            strict=True,
        )
    )

    # Protection moves money between clusters, so its pounds add up to nothing.
    protection = dict(
        zip(ids, round_to_total([adjustment[k] for k in ids], 0, ids, strict=False), strict=True)
    )
    rows = []
    for cl in cluster_rows:
        k = cl.cluster_id
        formula_total = annual[k] - protection[k]
        elements = [
            *round_to_total(cluster_elements[k], formula_total, strict=False),
            protection[k],
        ]
        pupils = sum((s.counts[0] for s in members[k]), Fraction(0))
        row = {
            c.CLUSTER_ID: k,
            c.CLUSTER_NAME: cl.name,
            c.SCHOOL_COUNT: len(members[k]),
            c.PUPILS: int(pupils) if pupils.denominator == 1 else float(pupils),
        }
        for column, value in zip(c.ELEMENT_COLUMNS[:-1], elements[:-1], strict=True):
            row[column] = value
        row[c.FORMULA_GBP] = sum(elements[:-1])
        row[c.PROTECTION_GBP] = elements[-1]
        row[c.ANNUAL_GBP] = annual[k]
        row[c.SHARE] = float(Fraction(annual[k], pots.distributable))
        row[c.PART_YEAR_GBP] = part_year[k]
        row[c.BASELINE] = None if cl.baseline is None else float(cl.baseline)
        row[c.CHANGE_GBP] = None if cl.baseline is None else float(annual[k] - cl.baseline)
        rows.append(row)
    table = pd.DataFrame(rows, columns=list(c.ALLOCATION_TABLE.columns))

    school_table = _notional_school_amounts(
        members, cluster_rows, per_school, adjustment, formula, annual
    )
    schedule = _schedule(cluster_rows, part_year, pots.payment_months)
    return AllocationResult(params, pots, table, school_table, schedule, exact_annual)


def _notional_school_amounts(
    members: dict[str, list[_School]],
    clusters: list[_Cluster],
    per_school: dict[str, list[Fraction]],
    adjustment: dict[str, Fraction],
    formula: dict[str, Fraction],
    annual: dict[str, int],
) -> pd.DataFrame:
    """Each school's notional part of its cluster's allocation, adding up to the cluster's."""
    rows = []
    for cl in clusters:
        k = cl.cluster_id
        schools = members[k]
        exact_amounts = []
        for s in schools:
            own = sum(per_school[s.urn], Fraction(0))
            # protection follows each school's formula share; equally if all are £0
            share_of_protection = (
                adjustment[k] * own / formula[k] if formula[k] else adjustment[k] / len(schools)
            )
            exact_amounts.append(own + share_of_protection)
        urns = [s.urn for s in schools]
        amounts = round_to_total(exact_amounts, annual[k], urns)
        for s, amount in zip(schools, amounts, strict=True):
            rows.append(
                {
                    c.URN: s.urn,
                    c.SCHOOL_NAME: s.name,
                    c.CLUSTER_ID: k,
                    "Notional allocation (£)": amount,
                }
            )
    return pd.DataFrame(
        rows, columns=[c.URN, c.SCHOOL_NAME, c.CLUSTER_ID, "Notional allocation (£)"]
    )


def month_label(month: dt.date) -> str:
    return month.strftime("%b %Y")


def _schedule(
    clusters: list[_Cluster], part_year: dict[str, int], months: tuple[dt.date, ...]
) -> pd.DataFrame:
    """Monthly payments per cluster: equal instalments, leftover pounds paid first."""
    labels = [month_label(m) for m in months]
    rows = []
    for cl in clusters:
        row: dict[str, Any] = {c.CLUSTER_ID: cl.cluster_id, c.CLUSTER_NAME: cl.name}
        payments = instalments(part_year[cl.cluster_id], len(months)) if months else []
        row.update(zip(labels, payments, strict=True))
        row["Total (£)"] = sum(payments)
        rows.append(row)
    return pd.DataFrame(rows, columns=[c.CLUSTER_ID, c.CLUSTER_NAME, *labels, "Total (£)"])
