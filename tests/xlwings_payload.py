"""Turn an .xlsx file into the requests xlwings' Office.js client sends.

``book_payload(path)`` is what ``getBookData()`` sends for a script (button): every
sheet's used range from A1 with cached values, tables with their addresses, range names.
``function_call(name, *args)`` is the body of a custom-function call.

Read with openpyxl (cached values, ``data_only=True``), independently of the code under
test.  Empty cells are ``""``; dates are ISO texts as Excel 2021+ sends them, or serial
numbers as older Excel does (``dates="serial"``); Excel errors are their text.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import xlwings as xw
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter
from openpyxl.utils.cell import range_boundaries
from openpyxl.utils.datetime import to_excel

VERSION = xw.__version__


def _address(min_col: int, min_row: int, max_col: int, max_row: int) -> str:
    return f"{get_column_letter(min_col)}{min_row}:{get_column_letter(max_col)}{max_row}"


def _value(value: Any, dates: str) -> Any:
    if value is None:
        return ""
    if isinstance(value, dt.datetime | dt.date):
        if dates == "serial":
            return float(to_excel(value))
        if not isinstance(value, dt.datetime):
            value = dt.datetime.combine(value, dt.time(0))
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    if isinstance(value, dt.time):
        return value.isoformat()
    return value


def _table(ws: Any, table: Any) -> dict[str, Any]:
    min_col, min_row, max_col, max_row = range_boundaries(table.ref)
    headers = (table.headerRowCount if table.headerRowCount is not None else 1) > 0
    totals = bool(table.totalsRowCount)
    body_first = min_row + 1 if headers else min_row
    body_last = max_row - 1 if totals else max_row
    return {
        "name": table.displayName,
        "range_address": table.ref,
        "row_count": max_row - min_row + 1,
        "column_count": max_col - min_col + 1,
        "header_row_range_address": _address(min_col, min_row, max_col, min_row)
        if headers else None,
        "data_body_range_address": _address(min_col, body_first, max_col, body_last),
        "total_row_range_address": _address(min_col, max_row, max_col, max_row)
        if totals else None,
        "show_headers": headers,
        "show_totals": totals,
        "table_style": table.tableStyleInfo.name if table.tableStyleInfo else None,
        "show_autofilter": True,
        "show_table_style_first_column": False,
        "show_table_style_last_column": False,
        "show_table_style_row_stripes": True,
        "show_table_style_column_stripes": False,
    }


def _names(wb: Any) -> list[dict[str, Any]]:
    index = {ws.title: i for i, ws in enumerate(wb.worksheets)}
    out = []
    scoped = [(None, wb.defined_names)] + [(ws, ws.defined_names) for ws in wb.worksheets]
    for ws, names in scoped:
        for name, defined in names.items():
            try:
                destinations = list(defined.destinations)
            except Exception:  # constants and formulas are not range names
                continue
            if len(destinations) != 1 or destinations[0][0] not in index:
                continue
            sheet, ref = destinations[0]
            out.append({
                "name": name,
                "sheet_index": index[sheet],
                "address": ref.replace("$", ""),
                "scope_sheet_name": ws.title if ws is not None else None,
                "scope_sheet_index": index[ws.title] if ws is not None else None,
                "book_scope": ws is None,
            })
    return out


def book_payload(path: str | Path, *, dates: str = "iso") -> dict[str, Any]:
    """The body Excel's Office.js client sends when a script runs on this workbook."""
    wb = load_workbook(path, data_only=True)
    try:
        sheets = []
        for ws in wb.worksheets:
            rows, cols = ws.max_row, ws.max_column
            values = [[_value(ws.cell(r, col).value, dates) for col in range(1, cols + 1)]
                      for r in range(1, rows + 1)]
            sheets.append({
                "name": ws.title,
                "visibility": {"visible": "Visible", "hidden": "Hidden",
                               "veryHidden": "VeryHidden"}[ws.sheet_state],
                "print_area": None,
                "notes": [],
                "used_range_address": _address(1, 1, cols, rows),
                "used_range_row_count": rows,
                "used_range_column_count": cols,
                "values": values,
                "pictures": [],
                "shapes": [],
                "charts": [],
                "tables": [_table(ws, t) for t in ws.tables.values()],
                "show_gridlines": True,
                "pivot_tables": [],
            })
        payload = {
            "client": "Office.js",
            "version": VERSION,
            "book": {"name": Path(path).name, "active_sheet_index": 0, "selection": "A1",
                     "calculation": "Automatic"},
            "names": _names(wb),
            "sheets": sheets,
        }
    finally:
        wb.close()
    return json.loads(json.dumps(payload))  # exactly what survives the trip as JSON


def function_call(func_name: str, *args: Any, **overrides: Any) -> dict[str, Any]:
    """The body of a custom-function call; each argument is a 2-D list, as Excel sends."""
    body = {
        "client": "Office.js",
        "func_name": func_name,
        "args": [copy.deepcopy(a) for a in args],
        "caller_address": "[learning_support_allocation.xlsx]Allocation!R2",
        "session_id": "00000000-0000-4000-8000-000000000000",
        "culture_info_name": "en-GB",
        "date_format": "dd/MM/yyyy",
        "version": VERSION,
        "runtime": "1.4",
    }
    body.update(overrides)
    return json.loads(json.dumps(body))


def table_range(path: str | Path, table: str, *, dates: str = "serial") -> list[list[Any]]:
    """A table's cells with its header row, as a custom function receives ``T[#All]``.

    Office.js sends dates in function arguments as serial numbers and blanks as null.
    """
    wb = load_workbook(path, data_only=True)
    try:
        for ws in wb.worksheets:
            if table in ws.tables:
                out = []
                for row in ws[ws.tables[table].ref]:
                    values = []
                    for cell in row:
                        value = _value(cell.value, dates)
                        values.append(None if value == "" else value)
                    out.append(values)
                return json.loads(json.dumps(out))
        raise KeyError(table)
    finally:
        wb.close()
