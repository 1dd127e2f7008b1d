"""The open workbook, as xlwings sees it: read it into WorkbookData, write results back.

The Excel macros (xlfund.excel) run on an ``xlwings.Book``: in xlwings Server or Lite
(Office.js) that book is a snapshot Excel sent (cell values, tables with their
addresses, names), and every write is queued as an action Excel carries out when the
macro returns.  With the classic Windows add-in it is the live workbook.  Either way,
:func:`workbook_data` turns it into the same ``WorkbookData`` that
``xlfund.workbook.reader.read_workbook`` makes from a file, so ``xlfund.validation``
runs the same code on both:

* empty cells are ``''``, numbers are floats, dates are ``date`` (``datetime`` when they
  have a time of day), Excel errors are their text (``'#N/A'``), as python-calamine
  gives them;
* tables are cut out of the sheet grid by their Excel addresses, with the reader's own
  rules (blank rows skipped, a ``Total`` row ends a table);
* Excel before 2021 sends dates as serial numbers; in the contract's date cells
  (date parameters, Timeline start and end, Signed off at) they become dates again.

Formulas are not part of what Office.js sends, so checks that read formula text do not
run on an open workbook (Excel has calculated every formula anyway).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from itertools import groupby
from typing import Any

import xlwings as xw
from openpyxl.utils.cell import range_boundaries
from openpyxl.worksheet.worksheet import Worksheet

from . import contract as c
from .findings import Finding, Report, Severity
from .parameters import SPECS
from .workbook import style
from .workbook.reader import TableData, WorkbookData, cell_address, table_from_grid

# Excel's "Bad" and "Neutral" cell styles; info blue on the Validation sheet only
SEVERITY_COLOURS = {Severity.ERROR: "#FFC7CE", Severity.WARNING: "#FFEB9C",
                    Severity.INFO: "#DDEBF7"}
MAX_MARKS = 2000  # cells highlighted per run; every finding is still listed
_EXCEL_EPOCH = dt.datetime(1899, 12, 30)
_FIRST_PLAUSIBLE = dt.date(1990, 1, 1)
_LAST_PLAUSIBLE = dt.date(2100, 12, 31)

# The colour key of the template (docs/workbook.md), by table and column: clearing a
# highlight gives a cell back its role's colour.  Columns not listed have no fill.
_ALL = "*"
CELL_ROLES: dict[str, dict[str, str]] = {
    c.PARAMETERS_TABLE.name: {"Value": "input"},
    c.SCHOOLS_TABLE.name: {_ALL: "input", c.DATA_NOTE: ""},
    c.CLUSTERS_TABLE.name: {_ALL: "input", "Schools in cluster": "calc",
                            "Pupils in cluster": "calc"},
    c.ALLOCATION_TABLE.name: {_ALL: "output"},
    c.RETAINED_TABLE.name: {_ALL: "input", "Annual cost (£)": "calc"},
    c.TIMELINE_TABLE.name: {_ALL: "input"},
    c.SCHEDULE_TABLE.name: {_ALL: "output", "Total (£)": "calc"},
}


# ---------------------------------------------------------------------------- dates
def excel_date(value: Any, *, with_time: bool = False) -> dt.date | dt.datetime | None:
    """A date from what Excel sends: a date, a datetime, an ISO text or a serial number.

    Serial numbers are only taken between 1990 and 2100, so that a count or an amount
    typed into a date cell is reported rather than read as a date in 1905.
    Returns None when the value is not a date.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, dt.datetime):
        stamp = value
    elif isinstance(value, dt.date):
        return value
    elif isinstance(value, int | float):
        if not math.isfinite(value):
            return None
        try:
            stamp = _EXCEL_EPOCH + dt.timedelta(days=float(value))
        except OverflowError:
            return None
    elif isinstance(value, str):
        try:
            stamp = dt.datetime.fromisoformat(value.strip().rstrip("Z"))
        except ValueError:
            return None
    else:
        return None
    if not _FIRST_PLAUSIBLE <= stamp.date() <= _LAST_PLAUSIBLE:
        return None
    if with_time and stamp.time() != dt.time(0):
        return stamp.replace(microsecond=0)
    return stamp.date()


# ---------------------------------------------------------------------------- reading
def _plain(value: Any) -> Any:
    """One cell as python-calamine reads it from a file."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.date()
        return value
    return value


def _trimmed(grid: list[list[Any]]) -> list[list[Any]]:
    """Drop trailing blank rows and columns (Excel's used range counts formatted cells)."""
    while grid and all(v == "" for v in grid[-1]):
        grid.pop()
    width = max((i + 1 for row in grid for i, v in enumerate(row) if v != ""), default=0)
    return [row[:width] + [""] * (width - len(row)) for row in grid]


def sheet_grid(sheet: xw.Sheet) -> list[list[Any]]:
    """The sheet's values from A1 to its last used cell."""
    last = sheet.used_range.last_cell
    values = sheet.range((1, 1), (last.row, last.column)).options(
        ndim=2, err_to_str=True).value
    return _trimmed([[_plain(v) for v in row] for row in values or []])


def _visibility(sheet: xw.Sheet) -> str:
    api = sheet.api
    if isinstance(api, dict):  # Office.js: "Visible", "Hidden" or "VeryHidden"
        return str(api.get("visibility") or "Visible").lower()
    return "visible" if sheet.visible else "hidden"  # the classic add-in: a bool


def _plain_address(address: str | None) -> str:
    return (address or "").replace("$", "")


def _read_table(table: Any, sheet_name: str, grid: list[list[Any]]) -> TableData | None:
    ref = _plain_address(table.range.address if table.range is not None else "")
    if not ref:
        return None
    min_col, min_row, max_col, max_row = range_boundaries(ref)
    body = table.data_body_range
    last_row = range_boundaries(_plain_address(body.address))[3] if body is not None else max_row
    header_row = min_row if table.show_headers else max(min_row - 1, 1)
    if header_row > len(grid):  # a table on a sheet Excel sent without values
        return None
    td = table_from_grid(table.name, sheet_name, grid, header_row, "table",
                          first_col=min_col, last_col=max_col, last_row=last_row)
    td.ref = ref
    return td


def workbook_data(book: xw.Book) -> WorkbookData:
    """The open workbook as WorkbookData, for the same validation as ``xlfund validate``."""
    data = WorkbookData(path=None, sheet_names=[s.name for s in book.sheets])
    for sheet in book.sheets:
        state = _visibility(sheet)
        if state != "visible":
            data.hidden_sheets[sheet.name] = state
        grid = sheet_grid(sheet)
        data.grids[sheet.name] = grid
        for table in sheet.tables:
            td = _read_table(table, sheet.name, grid)
            if td is None:
                continue
            data.table_refs[table.name] = (sheet.name, td.ref)
            data.tables[table.name.casefold()] = td
    _restore_serial_dates(data)
    return data


def _set(data: WorkbookData, table: TableData, header: str, row: int, value: Any) -> None:
    table.frame.at[row, header] = value
    data.grids[table.sheet][row - 1][table.columns[header] - 1] = value


def _restore_serial_dates(data: WorkbookData) -> None:
    """Serial numbers in the contract's date cells become dates (Excel before 2021)."""
    date_keys = {spec.key for spec in SPECS if spec.kind == "date"}
    params = data.tables.get(c.PARAMETERS_TABLE.name.casefold())
    if params is not None:
        key_col, value_col = params.column(c.KEY), params.column("Value")
        if key_col and value_col:
            for row, key, value in zip(params.frame.index, params.frame[key_col],
                                       params.frame[value_col], strict=True):
                if str(key).strip() in date_keys and isinstance(value, float):
                    _set_date(data, params, value_col, row, value)
    timeline = data.tables.get(c.TIMELINE_TABLE.name.casefold())
    if timeline is not None:
        for header in ("Start", "End"):
            column = timeline.column(header)
            if column:
                for row, value in timeline.frame[column].items():
                    if isinstance(value, float):
                        _set_date(data, timeline, column, row, value)
    signoff = data.tables.get("signoff")
    if signoff is not None and signoff.column("Field") and signoff.column("Value"):
        field, value_col = signoff.column("Field"), signoff.column("Value")
        for row in signoff.frame.index:
            label = str(signoff.frame.at[row, field] or "").strip().casefold()
            value = signoff.frame.at[row, value_col]
            if label == "signed off at" and isinstance(value, float):
                _set_date(data, signoff, value_col, row, value, with_time=True)


def _set_date(data: WorkbookData, table: TableData, header: str, row: int, value: float,
              with_time: bool = False) -> None:
    date = excel_date(value, with_time=with_time)
    if date is not None:
        _set(data, table, header, row, date)


# ---------------------------------------------------------------------------- writing
def _colour(fill: Any) -> str:
    return "#" + str(fill.fgColor.rgb)[-6:]


ROLE_COLOURS = {role: _colour(fill) for role, fill in style.ROLE_FILLS.items()}


def _column_role(table_name: str, header: str) -> str:
    roles = CELL_ROLES.get(table_name, {})
    for name, role in roles.items():
        if name != _ALL and name.casefold() == header.strip().casefold():
            return role
    return roles.get(_ALL, "")


def original_colour(data: WorkbookData, sheet: str, address: str) -> str | None:
    """The template's fill for a cell (its role in the colour key), or None for no fill."""
    min_col, min_row, _, _ = range_boundaries(address)
    for table in data.tables.values():
        if table.sheet != sheet or not table.ref:
            continue
        t_min_col, t_min_row, t_max_col, t_max_row = range_boundaries(table.ref)
        if t_min_col <= min_col <= t_max_col and table.header_row < min_row <= t_max_row:
            for header, col in table.columns.items():
                if col == min_col:
                    role = _column_role(table.name, header)
                    return ROLE_COLOURS.get(role) if role else None
    return None


def _marked_ranges(findings: Iterable[tuple[str, str]], book: xw.Book
                   ) -> list[tuple[str, str]]:
    names = {s.name for s in book.sheets}
    seen: list[tuple[str, str]] = []
    for sheet, cell in findings:
        cell = _plain_address(cell)
        if sheet in names and cell and (sheet, cell) not in seen:
            try:
                range_boundaries(cell)
            except (ValueError, TypeError):
                continue
            seen.append((sheet, cell))
        if len(seen) >= MAX_MARKS:
            break
    return seen


def mark_cells(book: xw.Book, findings: Sequence[Finding]) -> int:
    """Fill the cells findings point at: light red for errors, amber for warnings.

    Info findings are not marked.  Returns how many cells were marked.
    """
    ranked = sorted((f for f in findings if f.severity != Severity.INFO),
                    key=lambda f: f.severity != Severity.ERROR)
    colours: dict[tuple[str, str], str] = {}
    for f in ranked:
        colours.setdefault((f.sheet, _plain_address(f.cell)), SEVERITY_COLOURS[f.severity])
    ranges = _marked_ranges(colours, book)
    for sheet, cell in ranges:
        book.sheets[sheet][cell].color = colours[(sheet, cell)]
    return len(ranges)


def recorded_marks(data: WorkbookData) -> list[tuple[str, str]]:
    """(sheet, cell) of every finding listed on the Validation sheet."""
    table = data.find_table(c.VALIDATION_TABLE)
    if table is None:
        return []
    sheet_col, cell_col = table.column("Sheet"), table.column("Cell")
    if not sheet_col or not cell_col:
        return []
    out = []
    for sheet, cell in zip(table.frame[sheet_col], table.frame[cell_col], strict=True):
        if isinstance(sheet, str) and isinstance(cell, str) and sheet and cell:
            out.append((sheet.strip(), cell.strip()))
    return out


def clear_marks(book: xw.Book, data: WorkbookData) -> int:
    """Give the cells listed on the Validation sheet their colour-key fill back."""
    ranges = _marked_ranges(recorded_marks(data), book)
    for sheet, cell in ranges:
        book.sheets[sheet][cell].color = original_colour(data, sheet, cell)
    return len(ranges)


def _quote_sheet(name: str) -> str:
    return "'" + name.replace("'", "''") + "'"


def hyperlink_formula(sheet: str, cell: str) -> str:
    """=HYPERLINK to a cell of this workbook, showing the cell's address."""
    target = f"#{_quote_sheet(sheet)}!{cell}".replace('"', '""')
    shown = cell.replace('"', '""')
    return f'=HYPERLINK("{target}","{shown}")'


def _fresh_sheet(book: xw.Book, name: str) -> xw.Sheet:
    """An empty sheet called ``name`` at the end of the workbook (replacing an old one)."""
    for sheet in book.sheets:
        if sheet.name.casefold() == name.casefold():
            sheet.delete()
            break
    return book.sheets.add(name, after=book.sheets[len(book.sheets) - 1])


def summary_line(report: Report, when: dt.datetime) -> str:
    errors, warnings = len(report.errors), len(report.warnings)
    return (f"Checked {when:%d %b %Y %H:%M}: {errors} error{'s' * (errors != 1)}, "
            f"{warnings} warning{'s' * (warnings != 1)}. Errors block sign-off. "
            "Click a cell address to go to the cell; the Clear marks button removes the "
            "red highlights.")


def write_findings(book: xw.Book, report: Report, when: dt.datetime) -> xw.Sheet:
    """(Re)write the Validation sheet: one row per finding, the cell as a hyperlink."""
    findings = report.sorted_findings()
    names = {s.name for s in book.sheets}
    sheet = _fresh_sheet(book, c.VALIDATION)
    sheet["A1"].value = "Validation"
    sheet["A1"].font.bold = True
    sheet["A1"].font.size = 14
    sheet["A2"].value = summary_line(report, when)
    headers = list(c.VALIDATION_TABLE.columns)
    rows = [[_text(v) for v in (f.code, str(f.severity), f.sheet, f.cell, f.message, f.hint)]
            for f in findings]
    if not rows:
        rows = [["OK", str(Severity.INFO), "", "", "No problems found.", ""]]
    top = style.HEADER_ROW
    last = top + len(rows)
    sheet[f"A{top}"].value = [headers, *rows]
    links = [[hyperlink_formula(f.sheet, _plain_address(f.cell))
              if f.sheet in names and f.cell else f.cell] for f in findings]
    if any(isinstance(v[0], str) and v[0].startswith("=") for v in links):
        sheet[f"D{top + 1}:D{last}"].formula = links
    sheet.tables.add(source=sheet[f"A{top}:F{last}"], name=c.VALIDATION_TABLE.name,
                     table_style_name="TableStyleLight9")
    first = top + 1
    for severity, group in groupby(findings, key=lambda f: f.severity):
        count = len(list(group))  # sorted by severity, so each is one block of rows
        sheet[f"B{first}:B{first + count - 1}"].color = SEVERITY_COLOURS[severity]
        first += count
    for letter, width in zip("ABCDEF", (10, 9, 14, 10, 70, 60), strict=True):
        sheet[f"{letter}1"].column_width = width
    sheet[f"E{top}:F{last}"].wrap_text = True
    sheet.activate()
    return sheet


def _text(value: Any) -> Any:
    """Text that Excel must not take for a formula gets a leading apostrophe."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def set_fields(book: xw.Book, cells: dict[str, tuple[str, str]], values: dict[str, Any]) -> None:
    """Write ``values`` into the cells found for those fields (skipping fields not found)."""
    for field, value in values.items():
        where = cells.get(field.casefold())
        if where is not None:
            sheet, address = where
            book.sheets[sheet][address].value = _text(value)


# ---------------------------------------------------------------------------- mirror
def _grid_of(ws: Worksheet) -> list[list[Any]]:
    return [[cell.value for cell in row] for row in ws.iter_rows(
        min_row=1, max_row=ws.max_row, min_col=1, max_col=ws.max_column)]


def _runs(ws: Worksheet, first_row: int, attr: str) -> list[tuple[str, Any]]:
    """(range, value) for blocks of cells sharing a number format, fill or boldness.

    Runs down each column, then side by side columns with the same run are merged, so a
    table body takes one action per distinct format rather than one per cell.
    """
    runs: list[tuple[int, int, int, Any]] = []  # (first row, last row, column, value)
    for col in range(1, ws.max_column + 1):
        start, current = first_row, None
        for row in range(first_row, ws.max_row + 2):
            value = _cell_style(ws, row, col, attr) if row <= ws.max_row else None
            if value != current:
                if current is not None:
                    runs.append((start, row - 1, col, current))
                start, current = row, value
    blocks: list[list[Any]] = []
    for first, last, col, value in sorted(runs, key=lambda r: (r[0], r[1], str(r[3]), r[2])):
        block = blocks[-1] if blocks else None
        if block and block[:2] == [first, last] and block[4] == value and block[3] == col - 1:
            block[3] = col
        else:
            blocks.append([first, last, col, col, value])
    return [(f"{cell_address(first, c0)}:{cell_address(last, c1)}", value)
            for first, last, c0, c1, value in blocks]


def _cell_style(ws: Worksheet, row: int, col: int, attr: str) -> Any:
    cell = ws.cell(row, col)
    if attr == "number_format":
        return cell.number_format if cell.number_format != "General" else None
    if attr == "fill":
        return _colour(cell.fill) if cell.fill.fill_type == "solid" else None
    return bool(cell.font.bold) or None


def mirror_sheet(book: xw.Book, rendered: Worksheet, table_name: str,
                 after: str | None = None) -> None:
    """Make the open workbook's sheet hold what ``rendered`` holds (an openpyxl sheet
    written by xlfund.workbook.template), resizing its Excel table to fit.

    ``xlfund allocate`` writes these sheets into the file with the same writers, so the
    open workbook and the file get the same values, formulas and formats.
    """
    names = [s.name for s in book.sheets]
    ref = rendered.tables[table_name].ref
    if rendered.title in names:
        sheet = book.sheets[rendered.title]
        old_last = sheet.used_range.last_cell
        old_rows, old_cols = old_last.row, old_last.column
        existing = [t for t in sheet.tables if t.name.casefold() == table_name.casefold()]
    else:
        anchor = after if after in names else names[-1]
        sheet = book.sheets.add(rendered.title, after=book.sheets[anchor])
        old_rows, old_cols = 1, 1
        existing = []
    same_shape = bool(existing) and _plain_address(existing[0].range.address) == ref
    whole = sheet.range((1, 1), (max(rendered.max_row, old_rows),
                                 max(rendered.max_column, old_cols)))
    if same_shape:
        whole.clear_contents()  # formats are already right
    else:
        whole.clear()
    grid = _grid_of(rendered)
    sheet.range((1, 1), (len(grid), rendered.max_column)).formula = [
        ["" if v is None else _excel_constant(v) for v in row] for row in grid]
    if existing and not same_shape:
        existing[0].resize(sheet[ref])
    elif not existing:
        sheet.tables.add(source=sheet[ref], name=table_name,
                         table_style_name="TableStyleLight9")
    for address, fmt in _runs(rendered, 1, "number_format"):
        sheet[address].number_format = fmt
    for address, colour in _runs(rendered, 1, "fill"):
        sheet[address].color = colour
    for address, _ in _runs(rendered, 1, "bold"):
        sheet[address].font.bold = True


def _excel_constant(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if hasattr(value, "text"):  # array formulas
        return value.text
    return value
