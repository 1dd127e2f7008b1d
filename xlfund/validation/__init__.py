"""Validate an allocation workbook: the same checks from the CLI, CI and the Excel macros.

``validate(path_or_data)`` reads the file once (or takes an already-read workbook, as
the Excel macros do), runs the pandera schemas of every table, then the cross-sheet
rules and an independent recomputation of the allocation, and returns a Report of
findings located by sheet and cell.
"""

from __future__ import annotations

import time
from pathlib import Path

from ..findings import Report
from ..workbook.reader import WorkbookData, read_workbook
from . import codes  # noqa: F401  (registers the check codes)
from .rules import Validator


def validate(source: str | Path | WorkbookData, *, name: str | None = None) -> Report:
    """Check a workbook file, or a workbook already read into WorkbookData."""
    started = time.perf_counter()
    if isinstance(source, WorkbookData):
        data = source
        label = name or (str(source.path) if source.path else "workbook")
    else:
        label = name or str(source)
        data = read_workbook(source)
    report = Report(label)
    report.extend(Validator(data).run())
    report.seconds = time.perf_counter() - started
    return report


__all__ = ["validate", "Report"]
