"""What a workbook says, as plain data: compare templates by content, not by bytes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from openpyxl import load_workbook


def workbook_content(path: str | Path) -> dict[str, Any]:
    """Sheets, cells (formula text or value), tables, data validations and defined names.

    Cached formula results and file metadata are left out: two files with the same
    content regenerate the same figures.
    """
    wb = load_workbook(path, data_only=False)
    try:
        sheets: dict[str, Any] = {}
        for ws in wb.worksheets:
            cells = {
                cell.coordinate: _plain(cell.value)
                for row in ws.iter_rows()
                for cell in row
                if cell.value is not None
            }
            formats = {
                cell.coordinate: cell.number_format
                for row in ws.iter_rows()
                for cell in row
                if cell.value is not None and cell.number_format != "General"
            }
            sheets[ws.title] = {
                "state": ws.sheet_state,
                "cells": cells,
                "number_formats": formats,
                "tables": dict(ws.tables.items()),  # name -> ref
                "validations": sorted(
                    (str(dv.sqref), dv.type or "", dv.formula1 or "", dv.formula2 or "")
                    for dv in ws.data_validations.dataValidation
                ),
                "freeze_panes": ws.freeze_panes,
            }
        names = {name: dn.attr_text for name, dn in wb.defined_names.items()}
        return {"sheet_order": wb.sheetnames, "sheets": sheets, "defined_names": names}
    finally:
        wb.close()


def _plain(value: Any) -> Any:
    text = getattr(value, "text", None)  # array formulas
    return text if text is not None else value


def content_differences(a: dict[str, Any], b: dict[str, Any], limit: int = 20) -> list[str]:
    """Human-readable differences between two workbook_content results."""
    out: list[str] = []
    if a["sheet_order"] != b["sheet_order"]:
        out.append(f"sheet order {a['sheet_order']} != {b['sheet_order']}")
    if a["defined_names"] != b["defined_names"]:
        keys = set(a["defined_names"]) ^ set(b["defined_names"]) or {
            k for k in a["defined_names"] if a["defined_names"][k] != b["defined_names"].get(k)
        }
        out.append(f"defined names differ: {sorted(keys)[:5]}")
    for sheet in a["sheets"].keys() & b["sheets"].keys():
        sa, sb = a["sheets"][sheet], b["sheets"][sheet]
        for part in ("state", "tables", "validations", "freeze_panes"):
            if sa[part] != sb[part]:
                out.append(f"{sheet}: {part} differ")
        for kind in ("cells", "number_formats"):
            for addr in sorted(sa[kind].keys() | sb[kind].keys()):
                if sa[kind].get(addr) != sb[kind].get(addr):
                    out.append(f"{sheet}!{addr} {kind}: {sa[kind].get(addr)!r} -> "
                               f"{sb[kind].get(addr)!r}")
                    if len(out) >= limit:
                        return out
    return out
