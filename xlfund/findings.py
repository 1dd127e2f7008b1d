"""Findings: what a check found, where a spreadsheet user will see it, and how to fix it.

Every code is registered here with its title, why it matters and how to fix it;
docs/checks.md is generated from this registry (``python -m xlfund.findings``).
A finding from Excel (the Validate macro) and from ``xlfund validate`` is the same object.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True)
class Check:
    """A named check, APT-style: what it checks, why, and how to fix a failure."""

    code: str
    severity: Severity
    title: str
    why: str
    fix: str


@dataclass(frozen=True)
class Finding:
    code: str
    severity: Severity
    sheet: str  # "" when the finding is about the whole file
    cell: str  # A1 address as it is in that workbook; "" for a whole sheet or file
    message: str  # plain English, names the thing that is wrong
    hint: str  # what to do about it

    @property
    def location(self) -> str:
        if self.sheet and self.cell:
            return f"{self.sheet}!{self.cell}"
        return self.sheet or "(file)"

    def as_dict(self) -> dict[str, str]:
        out = asdict(self)
        out["severity"] = str(self.severity)
        return out


CHECKS: dict[str, Check] = {}


def register(code: str, severity: Severity, title: str, why: str, fix: str) -> Check:
    if code in CHECKS:
        raise ValueError(f"check code {code} registered twice")
    check = Check(code, severity, title, why, fix)
    CHECKS[code] = check
    return check


def finding(
    code: str,
    sheet: str,
    cell: str,
    message: str,
    hint: str | None = None,
    severity: Severity | None = None,
) -> Finding:
    """A finding for a registered check; the hint defaults to the check's fix."""
    check = CHECKS[code]
    return Finding(code, severity or check.severity, sheet, cell, message, hint or check.fix)


@dataclass
class Report:
    """The result of checking one file (or one open workbook)."""

    path: str
    findings: list[Finding] = field(default_factory=list)
    unreadable: bool = False
    seconds: float = 0.0

    def extend(self, items: Iterable[Finding]) -> None:
        self.findings.extend(items)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == Severity.ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == Severity.WARNING]

    @property
    def status(self) -> str:
        """'unreadable', 'invalid' (any error) or 'valid'."""
        if self.unreadable:
            return "unreadable"
        return "invalid" if self.errors else "valid"

    def passed(self, strict: bool = False) -> bool:
        if self.status != "valid":
            return False
        return not (strict and self.warnings)

    def sorted_findings(self) -> list[Finding]:
        rank = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}
        return sorted(
            self.findings, key=lambda f: (rank[f.severity], f.sheet, _cell_key(f.cell), f.code)
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "status": self.status,
            "findings": [f.as_dict() for f in self.sorted_findings()],
            "counts": {s.value: sum(1 for f in self.findings if f.severity == s) for s in Severity},
        }


def _cell_key(cell: str) -> tuple[int, int]:
    """Sort A1 addresses by row, then column."""
    letters = "".join(ch for ch in cell if ch.isalpha())
    digits = "".join(ch for ch in cell if ch.isdigit())
    col = 0
    for ch in letters.upper():
        col = col * 26 + ord(ch) - 64
    return (int(digits) if digits else 0, col)


def checks_markdown() -> str:
    """docs/checks.md, generated from the registry so code and docs cannot drift."""
    lines = [
        "# Validation checks",
        "",
        "Every finding has a stable code, a severity, the sheet and cell it is about, a",
        "message in plain English and a fix. Errors block sign-off; warnings are shown",
        "and fail only with `--strict`; info is for the record.",
        "",
        "This page is generated from the check registry (`python -m xlfund.checks_doc`);",
        "do not edit it by hand.",
        "",
    ]
    groups: dict[str, list[Check]] = {}
    for check in CHECKS.values():
        groups.setdefault(check.code.rstrip("0123456789"), []).append(check)
    titles = {
        "FILE": "File",
        "SHEET": "Sheets and tables",
        "PAR": "Parameters",
        "SCH": "Schools",
        "CLU": "Clusters",
        "ALLOC": "Allocation",
        "RET": "Retained posts",
        "TL": "Timeline",
        "CELL": "Cells",
        "SIGN": "Sign-off",
        "RISK": "Content risks",
        "AUDIT": "Formula audit",
        "LIMIT": "Limits",
    }
    order = list(titles)
    for prefix, checks in sorted(
        groups.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order)
    ):
        lines += [f"## {titles.get(prefix, prefix)}", ""]
        for check in sorted(checks, key=lambda c: c.code):
            lines += [
                f"### {check.code}: {check.title}",
                "",
                f"- **Severity:** {check.severity}",
                f"- **Why:** {check.why}",
                f"- **How to fix:** {check.fix}",
                "",
            ]
    return "\n".join(lines)
