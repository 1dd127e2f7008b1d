"""Look of the workbook: APT-style colour coding and number formats.

Yellow cells are inputs the finance team types, blue cells are calculations
(Excel formulas), green cells are outputs written by xlfund.  The legend is on Cover.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.table import Table, TableStyleInfo
from openpyxl.worksheet.worksheet import Worksheet

INPUT_FILL = PatternFill("solid", fgColor="FFF2CC")
CALC_FILL = PatternFill("solid", fgColor="DDEBF7")
OUTPUT_FILL = PatternFill("solid", fgColor="E2EFDA")
CHECK_FILL = PatternFill("solid", fgColor="FCE4D6")
ROLE_FILLS = {"input": INPUT_FILL, "calc": CALC_FILL, "output": OUTPUT_FILL, "check": CHECK_FILL}

TITLE_FONT = Font(bold=True, size=14, color="1F3864")
SUBTITLE_FONT = Font(italic=True, color="595959")
BOLD = Font(bold=True)
THIN = Side(style="thin", color="BFBFBF")
TOTAL_BORDER = Border(top=Side(style="thin", color="000000"), bottom=Side(style="double"))
WRAP = Alignment(wrap_text=True, vertical="top")

POUNDS = '#,##0;[Red]-#,##0'
PUPILS = '#,##0.0'
COUNT = '#,##0'
PERCENT = '0.0%'
SHARE = '0.000%'
DATE = 'd mmm yyyy'
DATETIME = 'd mmm yyyy hh:mm'
TEXT = '@'

HEADER_ROW = 4  # title in row 1, description in row 2, blank row 3


def sheet_heading(ws: Worksheet, title: str, description: str) -> None:
    ws["A1"] = title
    ws["A1"].font = TITLE_FONT
    ws["A2"] = description
    ws["A2"].font = SUBTITLE_FONT


def add_table(
    ws: Worksheet,
    name: str,
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    top: int = HEADER_ROW,
    left: int = 1,
    roles: dict[str, str] | None = None,
    formats: dict[str, str] | None = None,
    widths: dict[str, float] | None = None,
    style: str = "TableStyleLight9",
    formula_columns: Sequence[str] = (),
) -> tuple[int, int]:
    """Write ``rows`` under ``headers`` as an Excel table; return (first, last) data rows.

    ``roles`` colours a column as input, calc or output; ``formats`` sets its number format.
    Text starting with '=' becomes a formula only in "calc" columns and ``formula_columns``;
    anywhere else it is data (a cluster named "=HYPERLINK(...)") and stays text.
    """
    from ..outputs import set_text_cell

    roles = roles or {}
    live = {h for h, role in roles.items() if role == "calc"} | set(formula_columns)
    formats = formats or {}
    widths = widths or {}
    for j, header in enumerate(headers):
        ws.cell(top, left + j, header)
    for i, values in enumerate(rows, start=1):
        for j, value in enumerate(values):
            header = headers[j]
            cell = ws.cell(top + i, left + j)
            if header in live:
                cell.value = value
            else:
                set_text_cell(cell, value)
            if header in roles:
                cell.fill = ROLE_FILLS[roles[header]]
            if header in formats:
                cell.number_format = formats[header]
    last = top + max(len(rows), 1)
    ref = f"{get_column_letter(left)}{top}:{get_column_letter(left + len(headers) - 1)}{last}"
    table = Table(displayName=name, ref=ref)
    table.tableStyleInfo = TableStyleInfo(name=style, showRowStripes=True)
    ws.add_table(table)
    for j, header in enumerate(headers):
        letter = get_column_letter(left + j)
        ws.column_dimensions[letter].width = widths.get(header, max(11.0, len(header) + 4.0))
        ws.cell(top, left + j).alignment = Alignment(wrap_text=True, vertical="center")
    ws.freeze_panes = ws.cell(top + 1, left)
    return top + 1, last


def column_range(ws: Worksheet, column: int, first: int, last: int, absolute: bool = True) -> str:
    letter = get_column_letter(column)
    if absolute:
        return f"'{ws.title}'!${letter}${first}:${letter}${last}"
    return f"{letter}{first}:{letter}{last}"
