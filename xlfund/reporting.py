"""Render validation reports as text (people), JSON (programs) or JUnit XML (CI systems).

The JSON shape is versioned (``schema_version``) and documented in docs/validate.md.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Any

from . import __version__
from .findings import Report, Severity

SCHEMA_VERSION = 1


def summary(reports: Sequence[Report], strict: bool = False) -> dict[str, Any]:
    counts = {s.value: sum(1 for r in reports for f in r.findings if f.severity == s)
              for s in Severity}
    return {
        "files": len(reports),
        "valid": sum(r.status == "valid" for r in reports),
        "invalid": sum(r.status == "invalid" for r in reports),
        "unreadable": sum(r.status == "unreadable" for r in reports),
        "errors": counts["error"],
        "warnings": counts["warning"],
        "info": counts["info"],
        "passed": all(r.passed(strict) for r in reports),
        "strict": strict,
    }


def to_json(reports: Sequence[Report], strict: bool = False) -> str:
    document = {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "xlfund", "version": __version__},
        "files": [r.as_dict() for r in reports],
        "summary": summary(reports, strict),
    }
    return json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n"


def to_junit(reports: Sequence[Report], strict: bool = False) -> str:
    """One test suite per file; one test case per error or warning (or one passing case)."""
    root = ET.Element("testsuites", name="xlfund validate")
    total_tests = total_failures = 0
    for report in reports:
        suite = ET.SubElement(root, "testsuite", name=report.path)
        tests = failures = 0
        if report.status == "unreadable" and not report.findings:
            report_findings = []
        else:
            report_findings = [f for f in report.sorted_findings()
                               if f.severity != Severity.INFO]
        for f in report_findings:
            tests += 1
            case = ET.SubElement(suite, "testcase", classname=report.path,
                                 name=f"{f.code} {f.location}")
            failing = f.severity == Severity.ERROR or strict or report.status == "unreadable"
            text = f"{f.message}\nHow to fix: {f.hint}"
            if failing:
                failures += 1
                failure = ET.SubElement(case, "failure", type=f.code, message=f.message)
                failure.text = text
            else:
                ET.SubElement(case, "system-out").text = f"warning: {text}"
        if tests == 0:
            tests = 1
            case = ET.SubElement(suite, "testcase", classname=report.path,
                                 name="all checks passed")
            if report.status == "unreadable":
                failures += 1
                ET.SubElement(case, "failure", type="unreadable",
                              message="The file could not be read.")
        suite.set("tests", str(tests))
        suite.set("failures", str(failures))
        suite.set("errors", "0")
        suite.set("time", f"{report.seconds:.3f}")
        total_tests += tests
        total_failures += failures
    root.set("tests", str(total_tests))
    root.set("failures", str(total_failures))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


LABEL = {Severity.ERROR: "ERROR", Severity.WARNING: "WARNING", Severity.INFO: "INFO"}
STATUS = {"valid": "VALID", "invalid": "INVALID", "unreadable": "UNREADABLE"}


def to_text(reports: Sequence[Report], strict: bool = False, *, show_info: bool = True) -> str:
    lines: list[str] = []
    for report in reports:
        errors, warnings = len(report.errors), len(report.warnings)
        lines.append(f"{report.path}: {STATUS[report.status]} "
                     f"({errors} error{'s' * (errors != 1)}, "
                     f"{warnings} warning{'s' * (warnings != 1)})")
        for f in report.sorted_findings():
            if f.severity == Severity.INFO and not show_info:
                continue
            lines.append(f"  {LABEL[f.severity]:<8}{f.code:<9}{f.location:<22}{f.message}")
            lines.append(f"  {'':<8}{'':<9}{'':<22}How to fix: {f.hint}")
        lines.append("")
    s = summary(reports, strict)
    lines.append(
        f"{s['files']} file{'s' * (s['files'] != 1)} checked: {s['valid']} valid, "
        f"{s['invalid']} invalid, {s['unreadable']} unreadable; {s['errors']} errors, "
        f"{s['warnings']} warnings." + (" Warnings count as failures (--strict)." if strict
                                         else "")
    )
    return "\n".join(lines) + "\n"


RENDERERS = {"text": to_text, "json": to_json, "junit": to_junit}
