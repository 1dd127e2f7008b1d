"""Parameters of the delegation, as rules as code: each with a default, unit and source.

A parameter's ``reference`` says where its default comes from: ``[decision]`` is Norfolk
County Council MI Sheet 233/12 (7 December 2012), ``[public]`` a published convention,
``[assumption]`` an illustrative default the council sets for itself.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, fields
from fractions import Fraction
from typing import Any

import pandas as pd

from .errors import InputError
from .money import exact


@dataclass(frozen=True)
class ParameterSpec:
    key: str
    label: str
    kind: str  # "text", "money", "share", "signed_share", "date", "number"
    default: Any
    unit: str
    reference: str
    optional: bool = False

    def describe_range(self) -> str:
        return {
            "money": "a whole number of pounds, 0 or more",
            "share": "a percentage between 0% and 100%",
            "signed_share": "a percentage between -100% and 100%",
            "date": "a date",
            "number": "a number, 0 or more",
            "text": "some text",
        }[self.kind]


SPECS: tuple[ParameterSpec, ...] = (
    ParameterSpec("funding_year", "Funding year", "text", "2013-14", "text",
                  "[decision] delegation from September 2013, financial year 2013-14"),
    ParameterSpec("total_funding", "Total Learning Support Funding", "money", 2_000_000, "£",
                  "[decision] about £2.0m from the Dedicated Schools Grant"),
    ParameterSpec("delegated_share", "Share delegated to clusters", "share",
                  Fraction(3, 4), "%", "[decision] 75% delegated, 25% retained"),
    ParameterSpec("contingency_share", "Contingency held back from the delegated pot",
                  "share", Fraction(0), "%", "[assumption] none by default"),
    ParameterSpec("delegation_start", "Delegation to clusters starts", "date",
                  dt.date(2013, 9, 1), "date", "[decision] September 2013"),
    ParameterSpec("team_decommissioned", "Learning Support Team decommissioned", "date",
                  dt.date(2013, 8, 31), "date", "[decision] 31 August 2013"),
    ParameterSpec("financial_year_start", "Financial year starts", "date",
                  dt.date(2013, 4, 1), "date", "[public] 1 April - 31 March"),
    ParameterSpec("financial_year_end", "Financial year ends", "date",
                  dt.date(2014, 3, 31), "date", "[public] 1 April - 31 March"),
    ParameterSpec("lump_sum_per_school", "Lump sum per school", "money", 500, "£",
                  "[assumption] a fixed sum per school, as in Norfolk's 2012 method"),
    ParameterSpec("weight_pupils", "Weight: pupils on roll", "share", Fraction(2, 5), "%",
                  "[assumption] illustrative"),
    ParameterSpec("weight_fsm", "Weight: Ever 6 FSM pupils", "share", Fraction(1, 5), "%",
                  "[assumption] illustrative deprivation proxy"),
    ParameterSpec("weight_sen_support", "Weight: SEN support pupils", "share",
                  Fraction(3, 10), "%", "[assumption] illustrative"),
    ParameterSpec("weight_ehcp", "Weight: EHCP pupils", "share", Fraction(1, 10), "%",
                  "[assumption] illustrative"),
    ParameterSpec("protection_floor", "Protection floor against baseline", "signed_share",
                  Fraction(-3, 200), "%",
                  "[public] as the national Minimum Funding Guarantee, -1.5%; blank for none",
                  optional=True),
    ParameterSpec("retained_fte_planned", "Retained countywide posts (FTE)", "number",
                  Fraction(9), "FTE", "[decision] approximately 9 FTE"),
)
SPECS_BY_KEY = {spec.key: spec for spec in SPECS}
WEIGHT_KEYS = ("weight_pupils", "weight_fsm", "weight_sen_support", "weight_ehcp")


@dataclass(frozen=True)
class Parameters:
    """Typed, checked parameter values.  Shares are exact fractions (0.75 is 3/4)."""

    funding_year: str = SPECS_BY_KEY["funding_year"].default
    total_funding: int = SPECS_BY_KEY["total_funding"].default
    delegated_share: Fraction = SPECS_BY_KEY["delegated_share"].default
    contingency_share: Fraction = SPECS_BY_KEY["contingency_share"].default
    delegation_start: dt.date = SPECS_BY_KEY["delegation_start"].default
    team_decommissioned: dt.date = SPECS_BY_KEY["team_decommissioned"].default
    financial_year_start: dt.date = SPECS_BY_KEY["financial_year_start"].default
    financial_year_end: dt.date = SPECS_BY_KEY["financial_year_end"].default
    lump_sum_per_school: int = SPECS_BY_KEY["lump_sum_per_school"].default
    weight_pupils: Fraction = SPECS_BY_KEY["weight_pupils"].default
    weight_fsm: Fraction = SPECS_BY_KEY["weight_fsm"].default
    weight_sen_support: Fraction = SPECS_BY_KEY["weight_sen_support"].default
    weight_ehcp: Fraction = SPECS_BY_KEY["weight_ehcp"].default
    protection_floor: Fraction | None = SPECS_BY_KEY["protection_floor"].default
    retained_fte_planned: Fraction = SPECS_BY_KEY["retained_fte_planned"].default

    def __post_init__(self) -> None:
        problems = check_values(self.as_dict())
        if problems:
            raise InputError(problems)

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def weight(self, key: str) -> Fraction:
        return getattr(self, key)

    def replace(self, **changes: Any) -> Parameters:
        values = self.as_dict()
        values.update(changes)
        return parse_parameters(values, complete=True)

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> Parameters:
        """Build from ``key -> value`` as read from a Parameters table or typed by a user."""
        return parse_parameters(raw)


def is_blank(value: Any) -> bool:
    """An empty cell as it reaches Python: None, NaN/NA, or text of only spaces."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # lists and other containers are not blanks
        return False


def parse_value(spec: ParameterSpec, value: Any) -> Any:
    """Convert one raw value to the parameter's type; raise ValueError with a plain reason."""
    if is_blank(value):
        if spec.optional:
            return None
        raise ValueError("is blank")
    if spec.kind == "text":
        return str(value).strip()
    if spec.kind == "date":
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value.strip()[:10])
            except ValueError:
                pass
        raise ValueError(f"is {value!r}, not a date")
    try:
        number = exact(value)
    except (TypeError, ValueError, ZeroDivisionError) as exc:
        raise ValueError(f"is {value!r}, not a number") from exc
    if spec.kind == "money":
        if number.denominator != 1:
            raise ValueError(f"is £{float(number):,.2f}; use whole pounds")
        return int(number)
    return number


def check_values(values: Mapping[str, Any]) -> list[str]:
    """Range and consistency checks on typed values; one sentence per problem."""
    problems: list[str] = []

    def bad(key: str, why: str) -> None:
        spec = SPECS_BY_KEY[key]
        problems.append(
            f"Parameter '{key}' ({spec.label}) {why}: it should be {spec.describe_range()}."
        )

    for spec in SPECS:
        value = values.get(spec.key)
        if value is None:
            continue
        if spec.kind in ("money", "number") and value < 0:
            bad(spec.key, f"is negative ({value})")
        if spec.kind == "share" and not 0 <= value <= 1:
            bad(spec.key, f"is {float(value):.2%}")
        if spec.kind == "signed_share" and not -1 <= value <= 1:
            bad(spec.key, f"is {float(value):.2%}")
    if values.get("total_funding") == 0:
        problems.append(
            "Parameter 'total_funding' is £0: there is no money to allocate. "
            "Enter the total Learning Support Funding in whole pounds."
        )
    weights = [values.get(k) for k in WEIGHT_KEYS]
    if all(w is not None for w in weights) and sum(weights) != 1:
        listed = ", ".join(f"{k} {float(w):.2%}" for k, w in zip(WEIGHT_KEYS, weights, strict=True))
        problems.append(
            f"The factor weights add up to {float(sum(weights)):.4%}, not 100% ({listed}). "
            "Change them so that they add up to exactly 100%."
        )
    start, end = values.get("financial_year_start"), values.get("financial_year_end")
    if start and end and end <= start:
        problems.append(
            "Parameter 'financial_year_end' is not after 'financial_year_start'. "
            "Enter the financial year's first and last days (1 April and 31 March)."
        )
    return problems


def parse_parameters(raw: Mapping[str, Any], complete: bool = True) -> Parameters:
    """Parse every parameter; collect all problems and raise them together."""
    problems: list[str] = []
    typed: dict[str, Any] = {}
    for spec in SPECS:
        if spec.key not in raw:
            if complete and not spec.optional:
                problems.append(
                    f"Parameter '{spec.key}' ({spec.label}) is missing. "
                    f"Add a row with Key '{spec.key}' and {spec.describe_range()}."
                )
            continue
        try:
            typed[spec.key] = parse_value(spec, raw[spec.key])
        except ValueError as exc:
            problems.append(
                f"Parameter '{spec.key}' ({spec.label}) {exc}: "
                f"enter {spec.describe_range()}."
            )
    if problems:
        raise InputError(problems)
    if "protection_floor" not in raw:
        typed["protection_floor"] = None
    return Parameters(**typed)
