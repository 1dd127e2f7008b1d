"""Broken (and harmlessly rearranged) copies of the template, made with openpyxl.

Each edit is what a finance officer might really do to the workbook.  After editing,
the copy is recalculated by LibreOffice so its formulas carry values again, as a file
saved by Excel would.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter, range_boundaries
from openpyxl.worksheet.worksheet import Worksheet

from xlfund import contract as c

HEADER = 4  # template header row
FIRST = 5  # first data row


def header_column(ws: Worksheet, header: str, row: int = HEADER) -> int:
    for cell in ws[row]:
        if cell.value == header:
            return cell.column
    raise KeyError(header)


def parameter_row(ws: Worksheet, key: str) -> int:
    for row in ws.iter_rows(min_col=1, max_col=1):
        if row[0].value == key:
            return row[0].row
    raise KeyError(key)


def make_variant(template: Path, target: Path, edit: Callable, *, recalc: bool = True) -> Path:
    shutil.copyfile(template, target)
    wb = load_workbook(target)
    edit(wb)
    wb.save(target)
    if recalc:
        from xlfund.recalc import recalculate

        recalculate(target)
    return target


def move_table(ws: Worksheet, name: str, rows: int, cols: int) -> None:
    """Move a table and everything in its range, as dragging it in Excel would."""
    table = ws.tables[name]
    min_col, min_row, max_col, max_row = range_boundaries(table.ref)
    ws.move_range(table.ref, rows=rows, cols=cols, translate=True)
    table.ref = (f"{get_column_letter(min_col + cols)}{min_row + rows}:"
                 f"{get_column_letter(max_col + cols)}{max_row + rows}")
    if table.autoFilter is not None:
        table.autoFilter.ref = table.ref
    for dv in ws.data_validations.dataValidation:
        moved = []
        for rng in str(dv.sqref).split():
            a, b, cc, d = range_boundaries(rng)
            moved.append(f"{get_column_letter(a + cols)}{b + rows}:"
                         f"{get_column_letter(cc + cols)}{d + rows}")
        dv.sqref = " ".join(moved)
    ws.freeze_panes = None


def swap_columns(ws: Worksheet, name: str, first: str, second: str) -> None:
    """Swap two columns of a table (values, headers and the table's column names)."""
    table = ws.tables[name]
    a, b = header_column(ws, first), header_column(ws, second)
    min_col, min_row, max_col, max_row = range_boundaries(table.ref)
    for row in range(min_row, max_row + 1):
        ca, cb = ws.cell(row, a), ws.cell(row, b)
        ca.value, cb.value = cb.value, ca.value
        ca.number_format, cb.number_format = cb.number_format, ca.number_format
    cols = table.tableColumns
    ia, ib = a - min_col, b - min_col
    cols[ia].name, cols[ib].name = cols[ib].name, cols[ia].name
    for dv in ws.data_validations.dataValidation:
        rng = str(dv.sqref)
        la, lb = get_column_letter(a), get_column_letter(b)
        if rng.startswith(la):
            dv.sqref = rng.replace(la, lb)
        elif rng.startswith(lb):
            dv.sqref = rng.replace(lb, la)


def delete_column(ws: Worksheet, name: str, header: str) -> None:
    table = ws.tables[name]
    col = header_column(ws, header)
    min_col, min_row, max_col, max_row = range_boundaries(table.ref)
    ws.delete_cols(col)
    table.ref = f"{get_column_letter(min_col)}{min_row}:{get_column_letter(max_col - 1)}{max_row}"
    if table.autoFilter is not None:
        table.autoFilter.ref = table.ref
    del table.tableColumns[col - min_col]
    ws.data_validations.dataValidation = [
        dv for dv in ws.data_validations.dataValidation
        if not str(dv.sqref).startswith(get_column_letter(col))
    ]


SCHOOLS, ALLOC = c.SCHOOLS, c.ALLOCATION
