"""Read a workbook file once into plain values, tables and formula facts.

Values come from python-calamine (fast, reads .xlsx/.xlsm/.xlsb/.xls/.ods); Excel
tables are found by name, falling back to a header row; formula text comes from
openpyxl's read-only reader, so a formula cell with no cached value is known to be
"not calculated" rather than read silently as blank.  Nothing is ever written back.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import python_calamine as calamine
from openpyxl.utils import get_column_letter
from openpyxl.utils.cell import column_index_from_string, coordinate_from_string

from ..contract import TableSpec

EXCEL_ERRORS = ("#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A",
                "#GETTING_DATA", "#SPILL!", "#CALC!")
_TOTAL_LABELS = {"total", "totals", "grand total"}


def cell_address(row: int, column: int) -> str:
    """A1 address from 1-based row and column numbers."""
    return f"{get_column_letter(column)}{row}"


def empty_to_none(value: Any) -> Any:
    """Calamine's '' means an empty cell."""
    if isinstance(value, str) and value == "":
        return None
    return value


def _row_col(address: str) -> tuple[int, int]:
    letters, row = coordinate_from_string(address)
    return row, column_index_from_string(letters)


def normalise_header(value: Any) -> str:
    return re.sub(r"\s+", " ", str(value)).strip().casefold() if value is not None else ""


@dataclass
class TableData:
    """One table as read: values plus where every value sits in the workbook."""

    name: str
    sheet: str
    header_row: int  # 1-based Excel row of the headers
    columns: dict[str, int]  # header as written in the workbook -> 1-based column number
    frame: pd.DataFrame  # index = Excel row number; columns = headers as written
    found_by: str  # "table" (an Excel table) or "header" (a header row on the sheet)
    ref: str = ""

    def column(self, wanted: str) -> str | None:
        """The workbook's own spelling of a header (case and spaces ignored)."""
        target = normalise_header(wanted)
        for header in self.columns:
            if normalise_header(header) == target:
                return header
        return None

    def cell(self, header: str, row: int) -> str:
        return cell_address(row, self.columns[header])

    def header_cell(self, header: str | None = None) -> str:
        if header is None:
            return cell_address(self.header_row, min(self.columns.values(), default=1))
        return cell_address(self.header_row, self.columns[header])

    def renamed(self, specs: Sequence[str]) -> pd.DataFrame:
        """The frame with contract spellings for the columns it has (others kept as is)."""
        mapping = {}
        for wanted in specs:
            actual = self.column(wanted)
            if actual is not None:
                mapping[actual] = wanted
        return self.frame.rename(columns=mapping)


@dataclass
class WorkbookData:
    """Everything read from one file; the input for validation and allocation."""

    path: Path | None
    sheet_names: list[str]
    hidden_sheets: dict[str, str] = field(default_factory=dict)  # name -> "hidden"/"veryhidden"
    grids: dict[str, list[list[Any]]] = field(default_factory=dict)  # values from A1
    tables: dict[str, TableData] = field(default_factory=dict)  # by table name (casefolded)
    table_refs: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (sheet, ref)
    formulas: dict[str, dict[str, str]] = field(default_factory=dict)  # sheet -> A1 -> formula
    uncached: dict[str, set[str]] = field(default_factory=dict)  # formulas with no result
    cell_errors: dict[str, dict[str, str]] = field(default_factory=dict)  # A1 -> "#REF!"
    formulas_read: bool = False

    def sheet(self, wanted: str) -> str | None:
        """The workbook's spelling of a sheet name (case-insensitive)."""
        for name in self.sheet_names:
            if name.strip().casefold() == wanted.strip().casefold():
                return name
        return None

    def value(self, sheet: str, address: str) -> Any:
        from openpyxl.utils.cell import column_index_from_string, coordinate_from_string

        letters, row = coordinate_from_string(address)
        col = column_index_from_string(letters)
        grid = self.grids.get(sheet, [])
        if row - 1 < len(grid) and col - 1 < len(grid[row - 1]):
            return empty_to_none(grid[row - 1][col - 1])
        return None

    def error_cells(self) -> Iterable[tuple[str, str, str]]:
        """(sheet, A1, error) for every cell holding an Excel error value."""
        for sheet, cells in self.cell_errors.items():
            for address, error in cells.items():
                yield sheet, address, error
        for sheet, grid in self.grids.items():
            if sheet in self.cell_errors or not grid:
                continue
            frame = pd.DataFrame(grid)
            hits = frame.isin(EXCEL_ERRORS).to_numpy().nonzero()
            for r, col in zip(*hits, strict=True):
                yield sheet, cell_address(r + 1, col + 1), frame.iat[r, col]

    def uncalculated_cells(self) -> Iterable[tuple[str, str, str]]:
        """(sheet, A1, formula) for formula cells that carry no saved result."""
        for sheet, cells in self.formulas.items():
            if self.formulas_read:
                missing = self.uncached.get(sheet, set())
                for address in sorted(missing, key=_row_col):
                    yield sheet, address, cells.get(address, "=")
            else:
                for address, formula in cells.items():
                    if self.value(sheet, address) is None:
                        yield sheet, address, formula

    def find_table(self, spec: TableSpec) -> TableData | None:
        """The table by its Excel name, else by a header row holding its required columns."""
        key = spec.name.casefold()
        if key in self.tables:
            return self.tables[key]
        found = self._find_by_header(spec)
        if found is not None:
            self.tables[key] = found
        return found

    def _find_by_header(self, spec: TableSpec) -> TableData | None:
        required = {normalise_header(h) for h in spec.required}
        preferred = self.sheet(spec.sheet)
        order = ([preferred] if preferred else []) + [
            n for n in self.sheet_names if n != preferred
        ]
        for sheet in order:
            grid = self.grids.get(sheet, [])
            for r, row in enumerate(grid[:200], start=1):
                headers = {normalise_header(v) for v in row if isinstance(v, str) and v}
                if required <= headers:
                    return table_from_grid(spec.name, sheet, grid, r, "header")
        return None


def table_from_grid(
    name: str,
    sheet: str,
    grid: list[list[Any]],
    header_row: int,
    found_by: str,
    first_col: int = 1,
    last_col: int | None = None,
    last_row: int | None = None,
) -> TableData:
    """Cut a table out of a sheet's grid; rows that are wholly blank are skipped."""
    header_values = grid[header_row - 1]
    last_col = last_col or len(header_values)
    columns: dict[str, int] = {}
    for col in range(first_col, last_col + 1):
        value = header_values[col - 1] if col - 1 < len(header_values) else None
        value = empty_to_none(value)
        if value is None:
            if found_by == "header":
                # a header-found table ends at the first blank header after it started
                if columns:
                    break
                continue
            value = f"Column{col}"
        text = str(value).strip()
        if text in columns:  # duplicate header: keep the first, name the second apart
            text = f"{text} ({get_column_letter(col)})"
        columns[text] = col
    end = last_row or len(grid)
    records, index = [], []
    for r in range(header_row + 1, end + 1):
        row = grid[r - 1] if r - 1 < len(grid) else []
        values = [empty_to_none(row[col - 1]) if col - 1 < len(row) else None
                  for col in columns.values()]
        if all(v is None for v in values):
            continue
        first = values[0]
        if isinstance(first, str) and first.strip().casefold() in _TOTAL_LABELS:
            break
        records.append(values)
        index.append(r)
    frame = pd.DataFrame(records, columns=list(columns), index=pd.Index(index, name="row"),
                         dtype=object)
    return TableData(name, sheet, header_row, columns, frame, found_by)


def read_values(path: Path) -> WorkbookData:
    """Values and Excel tables of every sheet, with python-calamine."""
    book = calamine.CalamineWorkbook.from_path(str(path), load_tables=True) \
        if path.suffix.lower() in (".xlsx", ".xlsm", ".xltx", ".xltm") \
        else calamine.CalamineWorkbook.from_path(str(path))
    try:
        data = WorkbookData(path=path, sheet_names=list(book.sheet_names))
        for meta in book.sheets_metadata:
            visible = str(meta.visible).rsplit(".", 1)[-1].lower()
            if visible != "visible":
                data.hidden_sheets[meta.name] = visible
        for name in book.sheet_names:
            try:
                sheet = book.get_sheet_by_name(name)
            except Exception:  # chart sheets and the like hold no cells
                continue
            data.grids[name] = sheet.to_python(skip_empty_area=False)
        try:
            table_names = book.table_names
            table_names = table_names() if callable(table_names) else table_names
        except Exception:  # tables not supported for this format
            table_names = []
        for table_name in table_names:
            table = book.get_table_by_name(table_name)
            # calamine gives the data body (0-based); the header row is the row above it
            (r0, c0), (r1, c1) = table.start, table.end
            header_row = max(r0, 1)
            ref = f"{cell_address(header_row, c0 + 1)}:{cell_address(r1 + 1, c1 + 1)}"
            data.table_refs[table_name] = (table.sheet, ref)
            grid = data.grids.get(table.sheet, [])
            if not grid:
                continue
            td = table_from_grid(table_name, table.sheet, grid, header_row, "table",
                                  first_col=c0 + 1, last_col=c1 + 1, last_row=r1 + 1)
            td.ref = ref
            data.tables[table_name.casefold()] = td
        return data
    finally:
        book.close()


def read_formulas(path: Path, data: WorkbookData) -> None:
    """Add formula text, formulas without saved results and error values (one XML pass)."""
    from .cells import scan_workbook

    for sheet, cells in scan_workbook(path).items():
        if cells.formulas:
            data.formulas[sheet] = cells.formulas
        if cells.uncached:
            data.uncached[sheet] = cells.uncached
        if cells.errors:
            data.cell_errors[sheet] = cells.errors
    data.formulas_read = True


def read_workbook(path: str | Path, *, formulas: bool = True) -> WorkbookData:
    """Read a workbook file (never modified)."""
    path = Path(path)
    data = read_values(path)
    if formulas and path.suffix.lower() in (".xlsx", ".xlsm", ".xltx", ".xltm"):
        read_formulas(path, data)
    return data
