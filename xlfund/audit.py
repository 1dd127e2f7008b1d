"""Formula audit: the checks spreadsheet auditing tools make, with sheet and cell for each.

What is checked (codes AUDIT001-AUDIT014, documented in docs/checks.md):
error values and errors passed on from other cells, references to deleted cells,
numbers typed inside formulas, formulas that differ from their neighbours, values typed
over a calculated column, references to empty cells, circular references, manual
calculation, links to other workbooks, volatile functions, whole-column and whole-row
references, and formulas without a calculated value.

How: the file is opened read-only and streamed once (openpyxl's worksheet parser, only the
cells that exist, so a sheet claiming a million rows costs nothing).  Formulas are split
with openpyxl's tokenizer; references (cells, ranges, defined names such as
``total_funding``, table references such as ``Schools[URN]``) are resolved to cells to
build the dependency graph.  Nothing is evaluated and no macro is run.  Formulas are
compared "in R1C1 form": every formula is moved, with openpyxl's Translator, to one fixed
cell, so two formulas are the same calculation exactly when the moved texts are equal.

Conventions decided here:
- numbers allowed inside formulas: ``DEFAULT_ALLOWED_CONSTANTS`` (configurable), plus the
  decimal-places argument of ROUND, ROUNDUP, ROUNDDOWN, TRUNC and FIXED (ROUND(x,2) is
  the convention for money, not a hidden assumption); ``5%`` counts as 0.05;
- the odd-one-out rule: in an Excel table column with at least 3 formulas, cells whose
  formula differs from the most common one are reported when that one is used at least
  twice as often as the odd ones; elsewhere a cell is reported when its two neighbours in
  a column or row agree with each other and it is the only one of its kind in the run
  (so a total at the end of a column is not reported);
- references to empty cells are checked for single cells (``B7``, a name for one cell,
  ``[@Column]``), not for ranges, where blanks are normal;
- OFFSET and INDIRECT are reported as volatile; what they refer to cannot be known
  without calculating, so they are left out of the circularity check.

Limits (``AuditLimits``) bound the work on very large files; when one is reached the audit
says so (AUDIT014) instead of running for ever.
"""

from __future__ import annotations

import warnings
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openpyxl.formula.tokenizer import Token, Tokenizer, TokenizerError
from openpyxl.formula.translate import Translator, TranslatorError
from openpyxl.utils import get_column_letter
from openpyxl.utils.cell import coordinate_to_tuple, range_boundaries

from .errors import XlfundError
from .findings import Finding, Severity, finding, register
from .workbook.reader import EXCEL_ERRORS as READER_ERRORS

DEFAULT_ALLOWED_CONSTANTS: tuple[float, ...] = (0, 1, 2, 12, 100, 1000)
VOLATILE = frozenset({"NOW", "TODAY", "RAND", "RANDBETWEEN", "RANDARRAY", "OFFSET",
                      "INDIRECT", "CELL", "INFO"})
# functions that use only the size or position of a range, never its values
SHAPE_ONLY = frozenset({"ROW", "ROWS", "COLUMN", "COLUMNS", "AREAS", "ISREF"})
# functions that show the formula's author expects blank cells
BLANK_TESTS = frozenset({"ISBLANK", "COUNTBLANK", "COUNTA", "ISNUMBER", "ISTEXT", "ISNONTEXT",
                         "LEN", "N", "T"})
# function -> 0-based position of its "number of decimal places" argument
DIGITS_ARGUMENT = {"ROUND": 1, "ROUNDUP": 1, "ROUNDDOWN": 1, "TRUNC": 1, "FIXED": 1}
EXCEL_ERRORS = frozenset(READER_ERRORS) | {"#FIELD!", "#BLOCKED!", "#CONNECT!", "#BUSY!",
                                            "#UNKNOWN!", "#PYTHON!"}
AUDITED_SUFFIXES = (".xlsx", ".xlsm", ".xltx", ".xltm")
MAX_ROW, MAX_COL = 1_048_576, 16_384

# Where every formula is moved to for comparison: far enough down and right that moving a
# relative reference never leaves the sheet (rows are not range-checked by Translator).
_ANCHOR_ROW, _ANCHOR_COL = 2_000_000, 9_000

AUDIT_ERROR = register(
    "AUDIT001", Severity.ERROR, "Error value in a cell",
    "The cell shows an Excel error such as #DIV/0!, #N/A or #VALUE!. Every formula that "
    "uses it shows an error too, or hides a wrong figure behind IFERROR.",
    "Correct the value, or the formula and the cells it uses: #DIV/0! means a divisor is "
    "zero or blank, #N/A that a lookup found nothing, #VALUE! that text is used as a number.")
AUDIT_PASSED_ON = register(
    "AUDIT002", Severity.ERROR, "Error passed on from another cell",
    "The formula uses a cell that holds an error, so its own result is an error too (or "
    "will be when it is calculated). The message names the cell where the error starts.",
    "Fix the cell named in the message; this one will then calculate properly.")
AUDIT_DELETED = register(
    "AUDIT003", Severity.ERROR, "Formula refers to deleted cells (#REF!)",
    "Rows, columns, sheets or names the formula used were deleted, so Excel replaced the "
    "reference with #REF!. The formula cannot give a right answer.",
    "Rewrite the formula so that it refers to the right cells, or restore what was deleted.")
AUDIT_CONSTANT = register(
    "AUDIT004", Severity.WARNING, "Number typed inside a formula",
    "A rate or amount typed inside a formula is hidden from reviewers and is missed when "
    "the figure changes. Conventional numbers (0, 1, 2, 12, 100, 1000) and the decimal "
    "places of ROUND are allowed.",
    "Put the number in a labelled input cell (for example a row of the Parameters table) "
    "and refer to that cell or its name.")
AUDIT_INCONSISTENT = register(
    "AUDIT005", Severity.WARNING, "Formula differs from its neighbours",
    "The cells of a table column (or along a row) normally repeat one calculation. One "
    "that differs is usually a copy-and-paste slip or a formula changed by hand for one row.",
    "Compare the formula with the one the message shows; copy the neighbours' formula into "
    "the cell, or write down why this row is different.")
AUDIT_OVERTYPED = register(
    "AUDIT006", Severity.WARNING, "Value typed over a formula",
    "The other cells of this table column are calculated, but this one holds a typed "
    "value, which will not change when the inputs change.",
    "Copy the column's formula back into the cell.")
AUDIT_EMPTY_REF = register(
    "AUDIT007", Severity.WARNING, "Formula refers to an empty cell",
    "An empty cell counts as 0 (or as empty text), so a missing input silently gives a "
    "wrong figure instead of an error.",
    "Fill in the empty cell, or correct the formula if it points at the wrong cell.")
AUDIT_CIRCULAR = register(
    "AUDIT008", Severity.ERROR, "Circular reference",
    "These cells depend on each other in a loop, so Excel cannot work them out once and "
    "for all: the figures depend on the order and number of recalculations.",
    "Break the loop so that figures flow one way: inputs, then calculations, then totals "
    "and checks.")
AUDIT_MANUAL = register(
    "AUDIT009", Severity.WARNING, "Calculation set to manual",
    "With manual calculation Excel does not recalculate when inputs change, so the figures "
    "on screen may be out of date. The setting is saved in the workbook and affects "
    "everyone who opens it.",
    "In Excel choose Formulas > Calculation Options > Automatic, then save the workbook.")
AUDIT_EXTERNAL = register(
    "AUDIT010", Severity.WARNING, "Link to another workbook",
    "Figures taken from another file change or break when that file is moved, edited or "
    "not available to the person opening this one.",
    "Copy the figures into this workbook (Data > Edit Links > Break Link) and note where "
    "they came from.")
AUDIT_VOLATILE = register(
    "AUDIT011", Severity.WARNING, "Volatile function",
    "NOW, TODAY, RAND, OFFSET, INDIRECT and similar functions recalculate every time the "
    "workbook changes, so results can change with no input changing; OFFSET and INDIRECT "
    "also hide which cells are used.",
    "Type the date or value in an input cell, or use a direct reference (INDEX instead of "
    "OFFSET or INDIRECT).")
AUDIT_WHOLE = register(
    "AUDIT012", Severity.WARNING, "Whole-column or whole-row reference",
    "A reference such as A:A or 1:1 also picks up totals, notes and anything added later "
    "below or beside the figures, and makes every calculation slower.",
    "Refer to the table column (for example Schools[Pupils on roll]) or to the exact range.")
AUDIT_UNCALCULATED = register(
    "AUDIT013", Severity.WARNING, "Formula without a calculated value",
    "The file was saved by a program that does not calculate (for example a script), so "
    "the cell has no result yet and anything reading the file sees it as empty.",
    "Open the file in Excel and save it, or run `xlfund allocate`, which recalculates with "
    "LibreOffice.")
AUDIT_LIMIT = register(
    "AUDIT014", Severity.INFO, "Audit stopped early",
    "Very large workbooks are audited up to a limit so that a check cannot run for ever; "
    "cells after the limit were not checked.",
    "Audit a smaller copy (for example only the sheets that matter), or raise the limit.")


class AuditUnreadable(XlfundError):
    """The file cannot be opened for a formula audit; the message says why and what to do."""


@dataclass(frozen=True)
class AuditLimits:
    """Bounds on the work for one workbook."""

    max_cells: int = 1_000_000  # cells read from the sheets
    max_formulas: int = 200_000  # formulas analysed
    max_links: int = 2_000_000  # precedent links followed for circularity and errors
    max_per_sheet: int = 50  # findings of one code on one sheet before a summary


Cell = tuple[int, int]  # (row, column), 1-based


@dataclass
class SheetCells:
    """What the audit needs to know about one sheet's cells."""

    name: str
    formulas: dict[Cell, str] = field(default_factory=dict)
    uncalculated: set[Cell] = field(default_factory=set)  # formula cells with no cached value
    errors: dict[Cell, str] = field(default_factory=dict)  # constants or cached results
    filled: set[Cell] = field(default_factory=set)  # non-empty cells without a formula
    complete: bool = True  # False when the limit stopped reading part-way


@dataclass(frozen=True)
class TableInfo:
    name: str
    sheet: str
    min_row: int
    min_col: int
    max_row: int
    max_col: int
    header_rows: int
    totals_rows: int
    columns: tuple[str, ...]

    @property
    def first_data_row(self) -> int:
        return self.min_row + self.header_rows

    @property
    def last_data_row(self) -> int:
        return self.max_row - self.totals_rows


@dataclass
class BookModel:
    """A workbook as the audit sees it: cells, names, tables and workbook settings."""

    path: str
    sheets: dict[str, SheetCells] = field(default_factory=dict)  # in workbook order
    names: dict[tuple[str | None, str], str] = field(default_factory=dict)  # (scope, key)
    tables: list[TableInfo] = field(default_factory=list)
    calc_mode: str | None = None
    external_links: list[str] = field(default_factory=list)
    stopped: tuple[str, str, str] | None = None  # (sheet, cell, what limit)


# --------------------------------------------------------------------------- reading


def _unreadable_message(path: Path, exc: BaseException) -> str:
    import zipfile

    name = path.name
    if isinstance(exc, FileNotFoundError):
        return f"{name}: the file does not exist. Check the name and folder."
    if isinstance(exc, zipfile.BadZipFile | EOFError):
        return (f"{name} cannot be opened as an Excel workbook: it is not a complete .xlsx "
                "package. It may be protected with a password (remove the password in Excel: "
                "File > Info > Protect Workbook), damaged, or an older file renamed to .xlsx.")
    if isinstance(exc, KeyError):
        return (f"{name} cannot be opened as an Excel workbook: a part of the file is missing "
                f"({exc}). Open it in Excel and save it again as an .xlsx workbook.")
    return (f"{name} cannot be read for a formula audit ({type(exc).__name__}: {exc}). "
            "Open it in Excel and save it again as an .xlsx workbook.")


def _open(path: Path):  # noqa: ANN202 - openpyxl read-only Workbook
    from openpyxl import load_workbook

    if path.suffix.lower() not in AUDITED_SUFFIXES:
        raise AuditUnreadable(
            f"{path.name}: the formula audit reads Excel workbooks saved as .xlsx or .xlsm "
            f"(this file is {path.suffix or 'without an extension'}). Save a copy as .xlsx "
            "in Excel and audit that.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return load_workbook(path, read_only=True, data_only=False, keep_links=True,
                                 keep_vba=False)
    except Exception as exc:  # untrusted file: any failure becomes a plain answer
        raise AuditUnreadable(_unreadable_message(path, exc)) from exc


def _book_facts(wb: Any, model: BookModel) -> None:
    """Defined names, tables, calculation mode and external links (no cells read)."""
    for name, dn in wb.defined_names.items():
        if dn.attr_text:
            model.names[(None, name.casefold())] = dn.attr_text
    for ws in wb.worksheets:
        for name, dn in getattr(ws, "defined_names", {}).items():
            if dn.attr_text:
                model.names[(ws.title, name.casefold())] = dn.attr_text
    calc = getattr(wb, "calculation", None)
    model.calc_mode = getattr(calc, "calcMode", None)
    for link in getattr(wb, "_external_links", []) or []:
        target = getattr(getattr(link, "file_link", None), "Target", None)
        model.external_links.append(str(target or "an unnamed file"))
    archive = getattr(wb, "_archive", None)
    if archive is None:
        return
    for ws in wb.worksheets:
        model.tables.extend(_sheet_tables(archive, ws))


def _sheet_tables(archive: Any, ws: Any) -> list[TableInfo]:
    """Excel tables of one sheet, read from the sheet's relationships (cells not needed)."""
    from openpyxl.packaging.relationship import get_dependents, get_rels_path
    from openpyxl.worksheet.table import Table
    from openpyxl.xml.functions import fromstring

    sheet_path = getattr(ws, "_worksheet_path", None)
    if not sheet_path:
        return []
    rels_path = get_rels_path(sheet_path)
    if rels_path not in archive.namelist():
        return []
    out = []
    try:
        rels = get_dependents(archive, rels_path)
    except Exception:  # malformed relationships: no tables rather than no audit
        return []
    for rel in rels:
        if not str(rel.Type).endswith("/table"):
            continue
        try:
            table = Table.from_tree(fromstring(archive.read(rel.target)))
            min_col, min_row, max_col, max_row = range_boundaries(table.ref)
        except Exception:  # a damaged table part is skipped, the rest is audited
            continue
        columns = tuple(str(col.name) for col in table.tableColumns)
        header = 1 if table.headerRowCount is None else int(table.headerRowCount)
        totals = int(table.totalsRowCount or 0)
        out.append(TableInfo(str(table.name or table.displayName), ws.title, min_row, min_col,
                             max_row, max_col, header, totals, columns))
    return out


def _cell_parser():  # noqa: ANN202 - a WorkSheetParser subclass
    """openpyxl's worksheet parser, also keeping whether a formula has a cached value."""
    from openpyxl.worksheet._reader import VALUE_TAG, WorkSheetParser

    class CellParser(WorkSheetParser):
        def parse_cell(self, element: Any) -> dict[str, Any]:
            try:
                cell = super().parse_cell(element)
            except (ValueError, IndexError, KeyError, TypeError, OverflowError):
                cell = self._odd_cell(element)
            if cell["data_type"] == "f":
                cached = element.find(VALUE_TAG)
                kind, text = element.get("t", "n"), getattr(cached, "text", None) or ""
                # openpyxl writes <v/> for a formula it has not calculated; only a text
                # result can really be empty
                cell["cached"] = (kind, text) if cached is not None and (
                    text or kind == "str") else None
            return cell

        def _odd_cell(self, element: Any) -> dict[str, Any]:
            """A cell openpyxl cannot decode: kept as a filled cell with its raw text."""
            ref = element.get("r")
            if ref:
                row, column = coordinate_to_tuple(ref)
                self.col_counter = column
            else:
                self.col_counter += 1
                row, column = self.row_counter, self.col_counter
            return {"row": row, "column": column, "value": element.findtext(VALUE_TAG) or "?",
                    "data_type": "n"}

    return CellParser


def read_model(path: str | Path, limits: AuditLimits | None = None) -> BookModel:
    """Read what the audit needs from an .xlsx/.xlsm file, within ``limits``.

    Raises AuditUnreadable, with a message for the person who sent the file, when it
    cannot be opened.
    """
    path = Path(path)
    limits = limits or AuditLimits()
    wb = _open(path)
    model = BookModel(str(path))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _book_facts(wb, model)
            _read_cells(wb, model, limits)
    except AuditUnreadable:
        raise
    except Exception as exc:  # untrusted file: damaged XML and the like
        raise AuditUnreadable(_unreadable_message(path, exc)) from exc
    finally:
        wb.close()
    return model


def _read_cells(wb: Any, model: BookModel, limits: AuditLimits) -> None:
    parser_class = _cell_parser()
    cells_read = formulas_read = 0
    for ws in wb.worksheets:
        sheet = SheetCells(ws.title)
        model.sheets[ws.title] = sheet
        if model.stopped:
            sheet.complete = False
            continue
        source = getattr(ws, "_get_source", None)
        if source is None:
            continue
        with source() as src:
            parser = parser_class(src, getattr(ws, "_shared_strings", []), data_only=False,
                                  epoch=wb.epoch, date_formats=set(), timedelta_formats=set())
            for _, row in parser.parse():
                for cell in row:
                    cells_read += 1
                    key = (cell["row"], cell["column"])
                    value = cell["value"]
                    if cell["data_type"] == "f":
                        text = getattr(value, "text", value)  # array formulas
                        if not isinstance(text, str):  # what-if data tables: no references
                            sheet.filled.add(key)
                            continue
                        formulas_read += 1
                        sheet.formulas[key] = text
                        cached = cell.get("cached")
                        if cached is None:
                            sheet.uncalculated.add(key)
                        elif cached[0] == "e":
                            sheet.errors[key] = cached[1]
                    elif value is not None:
                        sheet.filled.add(key)
                        if cell["data_type"] == "e":
                            sheet.errors[key] = str(value)
                if cells_read >= limits.max_cells or formulas_read >= limits.max_formulas:
                    what = (f"{limits.max_cells:,} cells" if cells_read >= limits.max_cells
                            else f"{limits.max_formulas:,} formulas")
                    last = row[-1] if row else {"row": 1, "column": 1}
                    model.stopped = (ws.title, _a1((last["row"], last["column"])), what)
                    sheet.complete = False
                    break


def model_from_data(data: Any, limits: AuditLimits | None = None) -> BookModel:
    """The audit's view of an already-read ``WorkbookData`` (xlfund.workbook.reader).

    Cells come from the read data; names, tables and settings from the file at
    ``data.path`` when it is an .xlsx/.xlsm file (only the workbook part is opened).
    """
    limits = limits or AuditLimits()
    model = BookModel(str(data.path) if data.path else "")
    path = Path(data.path) if data.path else None
    if path is not None and path.suffix.lower() in AUDITED_SUFFIXES and path.exists():
        wb = _open(path)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _book_facts(wb, model)
        except Exception as exc:  # untrusted file
            raise AuditUnreadable(_unreadable_message(path, exc)) from exc
        finally:
            wb.close()
    seen = 0
    for name in data.sheet_names:
        sheet = SheetCells(name)
        model.sheets[name] = sheet
        if model.stopped:
            sheet.complete = False
            continue
        for address, text in data.formulas.get(name, {}).items():
            key = coordinate_to_tuple(address)
            sheet.formulas[key] = text
        grid = data.grids.get(name, [])
        for r, row in enumerate(grid, start=1):
            for col, value in enumerate(row, start=1):
                if value is None or value == "":
                    if (r, col) in sheet.formulas:
                        sheet.uncalculated.add((r, col))
                    continue
                if (r, col) not in sheet.formulas:
                    sheet.filled.add((r, col))
                if isinstance(value, str) and value in EXCEL_ERRORS:
                    sheet.errors[(r, col)] = value
            seen += len(row)
            if seen >= limits.max_cells:
                model.stopped = (name, _a1((r, max(len(row), 1))), f"{limits.max_cells:,} cells")
                sheet.complete = False
                break
        for key in sheet.formulas:
            if key[0] > len(grid) or key[1] > len(grid[key[0] - 1]):
                sheet.uncalculated.add(key)
    return model


# --------------------------------------------------------------------------- references


def _a1(cell: Cell) -> str:
    return f"{get_column_letter(cell[1])}{cell[0]}"


@dataclass(frozen=True)
class Target:
    """A block of cells a formula refers to."""

    sheet: str
    min_row: int
    min_col: int
    max_row: int
    max_col: int

    @property
    def single(self) -> bool:
        return self.min_row == self.max_row and self.min_col == self.max_col

    def label(self) -> str:
        first = _a1((self.min_row, self.min_col))
        if self.single:
            return f"{self.sheet}!{first}"
        return f"{self.sheet}!{first}:{_a1((self.max_row, self.max_col))}"


@dataclass
class Resolved:
    """What one reference in a formula stands for."""

    targets: list[Target] = field(default_factory=list)
    external: bool = False
    deleted: bool = False
    whole: bool = False  # written as A:A or 1:1
    via_name: str | None = None


def split_sheet(text: str) -> tuple[str | None, str]:
    """``'My sheet'!A1`` -> ("'My sheet'", "A1"); the last ``!`` outside quotes/brackets."""
    depth, quoted, cut = 0, False, -1
    for i, ch in enumerate(text):
        if ch == "'":
            quoted = not quoted
        elif quoted:
            continue
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth = max(depth - 1, 0)
        elif ch == "!" and depth == 0:
            cut = i
    if cut < 0:
        return None, text
    return text[:cut], text[cut + 1:]


def _unquote(prefix: str) -> str:
    if len(prefix) >= 2 and prefix[0] == "'" and prefix[-1] == "'":
        return prefix[1:-1].replace("''", "'")
    return prefix


class Resolver:
    """Turns reference tokens into the cells they stand for, within one workbook."""

    def __init__(self, model: BookModel) -> None:
        self.model = model
        self.sheet_order = list(model.sheets)
        self.sheet_by_key = {name.casefold(): name for name in self.sheet_order}
        self.tables = {t.name.casefold(): t for t in model.tables}
        self._names: dict[tuple[str | None, str], Resolved] = {}

    def resolve(self, text: str, sheet: str, cell: Cell, depth: int = 0) -> Resolved:
        prefix, body = split_sheet(text)
        out = Resolved()
        if prefix is not None:
            plain = _unquote(prefix)
            if "[" in plain or "]" in plain:
                out.external = True
                return out
            sheets = self._sheets(plain)
            if sheets is None:
                if ".xl" in plain.casefold() or "\\" in plain or "/" in plain:
                    out.external = True
                return out
        else:
            sheets = [sheet]
        if body.upper().startswith("#REF!") or text.upper().endswith("#REF!"):
            out.deleted = True
            return out
        if "[" in body:
            if prefix is None:
                out.targets.extend(self._structured(body, sheet, cell))
            return out
        bounds = _bounds(body)
        if bounds is not None:
            (min_col, min_row, max_col, max_row), whole = bounds
            out.whole = whole
            out.targets.extend(Target(s, min_row, min_col, max_row, max_col) for s in sheets)
            return out
        pieces = body.split(":")
        if len(pieces) > 1:  # name:C2, C2:INDEX(...) and other unions of pieces
            for piece in pieces:
                part = self.resolve(piece, sheets[0], cell, depth + 1) if piece else Resolved()
                out.targets.extend(part.targets)
                out.deleted |= part.deleted
                out.external |= part.external
            return out
        named = self._name(body, sheets[0], depth)
        if named is not None:
            return named
        table = self.tables.get(body.casefold())
        if table is not None:
            out.targets.append(Target(table.sheet, table.first_data_row, table.min_col,
                                      table.last_data_row, table.max_col))
        return out  # unknown: a LET/LAMBDA variable or a name Excel will show as #NAME?

    def _sheets(self, plain: str) -> list[str] | None:
        if ":" in plain:  # 3-D reference Sheet1:Sheet3!A1
            first, _, last = plain.partition(":")
            a, b = self.sheet_by_key.get(first.casefold()), self.sheet_by_key.get(last.casefold())
            if a is None or b is None:
                return None
            i, j = sorted((self.sheet_order.index(a), self.sheet_order.index(b)))
            return self.sheet_order[i:j + 1]
        found = self.sheet_by_key.get(plain.casefold())
        return [found] if found else None

    def _name(self, name: str, sheet: str, depth: int) -> Resolved | None:
        key = name.casefold()
        scope: str | None = sheet
        text = self.model.names.get((sheet, key))
        if text is None:
            scope, text = None, self.model.names.get((None, key))
        if text is None:
            return None
        cache_key = (scope, key)
        if cache_key in self._names:
            return self._names[cache_key]
        out = Resolved(via_name=name)
        self._names[cache_key] = out  # a name defined in terms of itself stops here
        if depth < 8:
            for token in _tokens("=" + text):
                if token.type == Token.OPERAND and token.subtype == Token.ERROR:
                    out.deleted |= token.value.upper() == "#REF!"
                elif token.type == Token.OPERAND and token.subtype == Token.RANGE:
                    part = self.resolve(token.value, sheet, (1, 1), depth + 1)
                    out.targets.extend(part.targets)
                    out.external |= part.external
                    out.deleted |= part.deleted
        return out

    def _table_at(self, sheet: str, cell: Cell) -> TableInfo | None:
        for table in self.model.tables:
            if (table.sheet == sheet and table.min_row <= cell[0] <= table.max_row
                    and table.min_col <= cell[1] <= table.max_col):
                return table
        return None

    def _structured(self, body: str, sheet: str, cell: Cell) -> list[Target]:
        """``Table[Column]``, ``Table[[#This Row],[A]:[C]]``, ``[@Column]`` and the like."""
        cut = body.index("[")
        name = body[:cut]
        table = self.tables.get(name.casefold()) if name else self._table_at(sheet, cell)
        if table is None:
            return []
        specials, columns = _structured_parts(body[cut:])
        rows = _structured_rows(table, specials, cell[0])
        if rows is None:
            return []
        indexes = []
        lookup = {c.casefold(): i for i, c in enumerate(table.columns)}
        for column in columns:
            if column.casefold() not in lookup:
                return []
            indexes.append(table.min_col + lookup[column.casefold()])
        first_col, last_col = ((min(indexes), max(indexes)) if indexes
                               else (table.min_col, table.max_col))
        return [Target(table.sheet, rows[0], first_col, rows[1], last_col)]


def _bounds(body: str) -> tuple[tuple[int, int, int, int], bool] | None:
    """Cell/range/column/row bounds of an A1 reference, or None for anything else."""
    if body.count(":") > 1:
        return None
    try:
        min_col, min_row, max_col, max_row = range_boundaries(body.upper())
    except (ValueError, TypeError):
        return None
    whole = min_row is None or min_col is None
    min_col, max_col = min_col or 1, max_col or MAX_COL
    min_row, max_row = min_row or 1, max_row or MAX_ROW
    if max_col > MAX_COL or max_row > MAX_ROW:
        return None  # e.g. a name such as ABCD1 is not a cell
    return (min_col, min_row, max_col, max_row), whole


def _structured_parts(spec: str) -> tuple[list[str], list[str]]:
    """Split ``[[#This Row],[A]:[C]]`` into specials (#This Row) and column names (A, C)."""
    inner = spec[1:-1] if spec.endswith("]") else spec[1:]
    specials: list[str] = []
    if inner.startswith("@"):
        specials.append("#this row")
        inner = inner[1:].strip()
    items: list[str] = []
    if not inner.startswith("["):
        if inner:
            items.append(inner)
    else:
        depth, current, escape = 0, [], False
        for ch in inner:
            if escape:
                current.append(ch)
                escape = False
            elif ch == "'":
                escape = True
            elif ch == "[":
                depth += 1
                if depth == 1:
                    current = []
                    continue
                current.append(ch)
            elif ch == "]":
                depth -= 1
                if depth == 0:
                    items.append("".join(current))
                    continue
                current.append(ch)
            elif depth >= 1:
                current.append(ch)
    columns = []
    for item in items:
        text = item.strip()
        if text.startswith("#"):
            specials.append(text.casefold())
        elif text:
            columns.append(text.replace("'", "") if "'" in text and "[" not in text else text)
    return specials, columns


def _structured_rows(table: TableInfo, specials: list[str], row: int) -> tuple[int, int] | None:
    if "#this row" in specials:
        return row, row
    if not specials or specials == ["#data"]:
        return table.first_data_row, table.last_data_row
    spans = []
    for special in specials:
        if special == "#all":
            spans.append((table.min_row, table.max_row))
        elif special == "#data":
            spans.append((table.first_data_row, table.last_data_row))
        elif special == "#headers" and table.header_rows:
            spans.append((table.min_row, table.first_data_row - 1))
        elif special == "#totals" and table.totals_rows:
            spans.append((table.last_data_row + 1, table.max_row))
    if not spans:
        return None
    return min(s[0] for s in spans), max(s[1] for s in spans)


_TOKEN_CACHE: dict[str, list[Token]] = {}


def _tokens(formula: str) -> list[Token]:
    """Tokens of a formula (cached: templates repeat the same text down a column)."""
    cached = _TOKEN_CACHE.get(formula)
    if cached is not None:
        return cached
    try:
        items = Tokenizer(formula).items
    except (TokenizerError, ValueError, IndexError):
        items = []
    if len(_TOKEN_CACHE) > 20_000:
        _TOKEN_CACHE.clear()
    _TOKEN_CACHE[formula] = items
    return items


def relative_form(tokens: Sequence[Token], cell: Cell) -> str | None:
    """The formula moved to one fixed cell: equal results mean the same R1C1 formula."""
    row_delta, col_delta = _ANCHOR_ROW - cell[0], _ANCHOR_COL - cell[1]
    out = []
    for token in tokens:
        if token.type == Token.OPERAND and token.subtype == Token.RANGE:
            try:
                out.append(Translator.translate_range(token.value, row_delta, col_delta))
            except (TranslatorError, ValueError):
                return None
        else:
            out.append(token.value)
    return "".join(out)


def _function_name(token: Token) -> str:
    name = token.value[:-1].rsplit(":", 1)[-1].upper()
    for prefix in ("_XLFN._XLWS.", "_XLFN.", "_XLWS."):
        if name.startswith(prefix):
            name = name[len(prefix):]
    return name


def walk(tokens: Sequence[Token]) -> Iterator[tuple[int, Token, str | None, int]]:
    """(position, token, innermost function name or None, argument index) for each token."""
    stack: list[list[Any]] = []  # [function name or None, argument index]
    for i, token in enumerate(tokens):
        if token.type == Token.FUNC and token.subtype == Token.OPEN:
            yield i, token, stack[-1][0] if stack else None, stack[-1][1] if stack else 0
            stack.append([_function_name(token), 0])
            continue
        if token.type in (Token.PAREN, Token.ARRAY) and token.subtype == Token.OPEN:
            stack.append([None, 0])
        elif token.subtype == Token.CLOSE and stack:
            stack.pop()
        elif token.type == Token.SEP and token.subtype == Token.ARG and stack:
            stack[-1][1] += 1
        yield i, token, stack[-1][0] if stack else None, stack[-1][1] if stack else 0


def hard_coded_numbers(tokens: Sequence[Token], allowed: Iterable[float]) -> list[str]:
    """Numbers typed in a formula that are not allowed constants or decimal places."""
    allowed_set = {float(a) for a in allowed}
    found = []
    for i, token, function, argument in walk(tokens):
        if token.type != Token.OPERAND or token.subtype != Token.NUMBER:
            continue
        if function in DIGITS_ARGUMENT and argument == DIGITS_ARGUMENT[function]:
            continue
        try:
            value = float(token.value)
        except ValueError:
            continue
        percent = i + 1 < len(tokens) and tokens[i + 1].value == "%"
        if percent:
            value /= 100
        if value not in allowed_set:
            found.append(token.value + ("%" if percent else ""))
    return found


# --------------------------------------------------------------------------- analysis


@dataclass
class FormulaFacts:
    sheet: str
    cell: Cell
    text: str
    form: str | None
    targets: list[Target]
    singles: list[tuple[str | None, Target]]  # (name used, if any; cell) for single cells


class _Index:
    """Cells of one sheet, searchable by rectangle."""

    def __init__(self, cells: Iterable[Cell]) -> None:
        by_col: dict[int, list[int]] = {}
        for row, col in cells:
            by_col.setdefault(col, []).append(row)
        for rows in by_col.values():
            rows.sort()
        self.by_col = by_col
        self.cols = sorted(by_col)

    def within(self, t: Target) -> Iterator[Cell]:
        i = bisect_left(self.cols, t.min_col)
        while i < len(self.cols) and self.cols[i] <= t.max_col:
            col = self.cols[i]
            rows = self.by_col[col]
            j = bisect_left(rows, t.min_row)
            while j < len(rows) and rows[j] <= t.max_row:
                yield rows[j], col
                j += 1
            i += 1


class _Audit:
    def __init__(self, model: BookModel, allowed: Iterable[float], limits: AuditLimits) -> None:
        self.model = model
        self.allowed = tuple(allowed)
        self.limits = limits
        self.resolver = Resolver(model)
        self.found: list[Finding] = []
        self.facts: dict[tuple[str, Cell], FormulaFacts] = {}
        self.links_left = limits.max_links
        self.deleted: set[tuple[str, Cell]] = set()  # formulas with #REF! in their text
        self.links_capped = False

    def add(self, code: str, sheet: str, cell: Cell | None, message: str, **kw: Any) -> None:
        self.found.append(finding(code, sheet, _a1(cell) if cell else "", message, **kw))

    def run(self) -> list[Finding]:
        self.workbook_checks()
        for sheet in self.model.sheets.values():
            for cell in sorted(sheet.formulas):
                self.formula_checks(sheet, cell)
        self.empty_references()
        graph = self.dependency_graph()
        self.circular(graph)
        self.errors(graph)
        self.uncalculated()
        for sheet in self.model.sheets.values():
            self.consistency(sheet)
        if self.links_capped:
            self.add("AUDIT014", "", None,
                     f"Only the first {self.limits.max_links:,} links between cells were "
                     "followed, so circular references and errors passed on further may be "
                     "missed.")
        return _capped(self.found, self.model, self.limits.max_per_sheet)

    # -- workbook settings
    def workbook_checks(self) -> None:
        if (self.model.calc_mode or "").casefold() == "manual":
            self.add("AUDIT009", "", None,
                     "The workbook is set to calculate manually, so the figures shown may not "
                     "match the inputs.")
        for target in self.model.external_links:
            self.add("AUDIT010", "", None, f"The workbook is linked to another file: {target}.")
        if self.model.stopped:
            sheet, cell, what = self.model.stopped
            self.found.append(finding(
                "AUDIT014", sheet, cell,
                f"The audit read the first {what} and stopped at {sheet}!{cell}; cells after "
                "that point (and any later sheets) were not checked."))

    # -- one formula on its own
    def formula_checks(self, sheet: SheetCells, cell: Cell) -> None:
        text = sheet.formulas[cell]
        tokens = _tokens(text)
        facts = FormulaFacts(sheet.name, cell, text, relative_form(tokens, cell) if tokens
                             else None, [], [])
        self.facts[(sheet.name, cell)] = facts
        if not tokens:
            return
        volatile, whole, external, deleted = [], [], [], False
        tests_blanks = False
        for _, token, function, _ in walk(tokens):
            if token.type == Token.FUNC and token.subtype == Token.OPEN:
                name = _function_name(token)
                if name in VOLATILE and name not in volatile:
                    volatile.append(name)
                tests_blanks |= name in BLANK_TESTS
            elif token.type == Token.OPERAND and token.subtype == Token.TEXT:
                tests_blanks |= token.value == '""'
            elif token.type == Token.OPERAND and token.subtype == Token.ERROR:
                deleted |= token.value.upper() == "#REF!"
            elif token.type == Token.OPERAND and token.subtype == Token.RANGE:
                ref = self.resolver.resolve(token.value, sheet.name, cell)
                deleted |= ref.deleted
                if ref.external:
                    external.append(token.value)
                if function in SHAPE_ONLY:  # ROWS(A1:A9) uses no values
                    continue
                if ref.whole:
                    whole.append(token.value)
                facts.targets.extend(ref.targets)
                if len(ref.targets) == 1 and ref.targets[0].single:
                    facts.singles.append((ref.via_name, ref.targets[0]))
        if tests_blanks:  # the formula expects blanks, e.g. =IF(B5="","",B5*2)
            facts.singles.clear()
        if deleted:
            self.deleted.add((sheet.name, cell))
        numbers = hard_coded_numbers(tokens, self.allowed)
        where = f"{sheet.name}!{_a1(cell)}"
        if deleted:
            self.add("AUDIT003", sheet.name, cell,
                     f"The formula in {where} refers to deleted cells (#REF!): {text}")
        if numbers:
            listed = ", ".join(dict.fromkeys(numbers))
            self.add("AUDIT004", sheet.name, cell,
                     f"The formula in {where} has the number{'s' if len(numbers) > 1 else ''} "
                     f"{listed} typed into it: {text}")
        if external:
            self.add("AUDIT010", sheet.name, cell,
                     f"The formula in {where} takes figures from another workbook "
                     f"({external[0]}).")
        if volatile:
            self.add("AUDIT011", sheet.name, cell,
                     f"The formula in {where} uses {', '.join(volatile)}, which recalculates "
                     "every time anything changes.")
        if whole:
            self.add("AUDIT012", sheet.name, cell,
                     f"The formula in {where} refers to the whole of {whole[0]}.")

    # -- references to empty cells
    def empty_references(self) -> None:
        for facts in self.facts.values():
            for via_name, target in facts.singles:
                sheet = self.model.sheets.get(target.sheet)
                key = (target.min_row, target.min_col)
                if sheet is None or not sheet.complete:
                    continue
                if key in sheet.filled or key in sheet.formulas:
                    continue
                shown = f"{via_name} ({target.label()})" if via_name else target.label()
                self.add("AUDIT007", facts.sheet, facts.cell,
                         f"The formula in {facts.sheet}!{_a1(facts.cell)} uses {shown}, "
                         "which is empty.")
                break

    # -- dependencies
    def dependency_graph(self) -> dict[tuple[str, Cell], list[tuple[str, Cell]]]:
        """Formula cell -> the formula cells it uses directly (bounded by max_links)."""
        index = {name: _Index(s.formulas) for name, s in self.model.sheets.items()}
        graph: dict[tuple[str, Cell], list[tuple[str, Cell]]] = {}
        for node, facts in self.facts.items():
            found: dict[tuple[str, Cell], None] = {}
            for target in facts.targets:
                if target.sheet not in index:
                    continue
                for cell in index[target.sheet].within(target):
                    found[(target.sheet, cell)] = None
                    self.links_left -= 1
                    if self.links_left <= 0:
                        self.links_capped = True
                        break
                if self.links_capped:
                    break
            graph[node] = list(found)
            if self.links_capped:
                break
        return graph

    def circular(self, graph: dict[tuple[str, Cell], list[tuple[str, Cell]]]) -> None:
        order = {name: i for i, name in enumerate(self.model.sheets)}
        for component in _cycles(graph):
            members = sorted(component, key=lambda n: (order[n[0]], n[1]))
            first = members[0]
            labels = [f"{s}!{_a1(c)}" for s, c in members]
            shown = ", ".join(labels[:6]) + (f" and {len(labels) - 6} more" if len(labels) > 6
                                             else "")
            if len(members) == 1:
                message = f"The formula in {labels[0]} uses its own result."
            else:
                message = (f"{len(members)} cells depend on each other in a loop, starting at "
                           f"{labels[0]}: {shown}.")
            self.add("AUDIT008", first[0], first[1], message)

    def errors(self, graph: dict[tuple[str, Cell], list[tuple[str, Cell]]]) -> None:
        """Where each error starts (AUDIT001) and which formulas pass it on (AUDIT002)."""
        error_index = {name: _Index(s.errors) for name, s in self.model.sheets.items()
                       if s.errors}
        erroneous: dict[tuple[str, Cell], str] = {}  # node -> error text
        source: dict[tuple[str, Cell], tuple[str, Cell]] = {}
        dependents: dict[tuple[str, Cell], list[tuple[str, Cell]]] = {}
        for node, precedents in graph.items():
            for p in precedents:
                dependents.setdefault(p, []).append(node)
        for name, sheet in self.model.sheets.items():
            for cell, text in sheet.errors.items():
                erroneous[(name, cell)] = text
        queue = list(erroneous)
        # formulas using an error constant directly
        if error_index:
            for node, facts in self.facts.items():
                sheet = self.model.sheets[node[0]]
                if node[1] not in sheet.uncalculated and node not in erroneous:
                    continue
                for target in facts.targets:
                    idx = error_index.get(target.sheet)
                    hit = next((c for c in idx.within(target) if (target.sheet, c) != node),
                               None) if idx else None
                    if hit is not None:
                        source.setdefault(node, (target.sheet, hit))
                        if node not in erroneous:
                            erroneous[node] = self.model.sheets[target.sheet].errors[hit]
                            queue.append(node)
                        break
        while queue:  # pass errors on through formulas that have no result of their own
            node = queue.pop()
            for dependent in dependents.get(node, ()):
                if dependent == node:
                    continue
                sheet = self.model.sheets[dependent[0]]
                if dependent in erroneous:
                    if dependent[1] in sheet.formulas:
                        source.setdefault(dependent, node)
                    continue
                if dependent[1] in sheet.uncalculated:
                    erroneous[dependent] = erroneous[node]
                    source[dependent] = node
                    queue.append(dependent)
        order = {name: i for i, name in enumerate(self.model.sheets)}
        for node in sorted(erroneous, key=lambda n: (order[n[0]], n[1])):
            name, cell = node
            where = f"{name}!{_a1(cell)}"
            if node in source:
                origin, direct = _origin(node, source), source[node]
                through = (f" (through {direct[0]}!{_a1(direct[1])})" if direct != origin
                           else "")
                self.add("AUDIT002", name, cell,
                         f"{where} passes on the error {erroneous[node]} that starts in "
                         f"{origin[0]}!{_a1(origin[1])}{through}.")
            elif node not in self.deleted:  # a #REF! in the text is reported as AUDIT003
                kind = "formula gives" if cell in self.model.sheets[name].formulas else "cell holds"
                self.add("AUDIT001", name, cell, f"The {kind} the error {erroneous[node]} in "
                         f"{where}.")

    def uncalculated(self) -> None:
        for sheet in self.model.sheets.values():
            for cell in sorted(sheet.uncalculated):
                self.add("AUDIT013", sheet.name, cell,
                         f"The formula in {sheet.name}!{_a1(cell)} has no calculated value: "
                         f"{sheet.formulas.get(cell, '')}")

    # -- neighbours
    def consistency(self, sheet: SheetCells) -> None:
        reported: set[Cell] = set()
        for table in self.model.tables:
            if table.sheet != sheet.name:
                continue
            for col in range(table.min_col, table.max_col + 1):
                cells = [(r, col) for r in range(table.first_data_row, table.last_data_row + 1)]
                reported |= self._table_column(sheet, table, cells)
        for line in _runs(sheet.formulas):
            forms = [self.facts[(sheet.name, c)].form for c in line]
            counts: dict[str | None, int] = {}
            for form in forms:
                counts[form] = counts.get(form, 0) + 1
            for i in range(1, len(line) - 1):
                before, this, after = forms[i - 1], forms[i], forms[i + 1]
                if (before is not None and before == after and this != before
                        and counts[this] == 1 and line[i] not in reported):
                    reported.add(line[i])
                    self._odd_one(sheet, line[i], line[i - 1], "its neighbours")

    def _table_column(self, sheet: SheetCells, table: TableInfo, cells: list[Cell]) -> set[Cell]:
        formulas = [c for c in cells if c in sheet.formulas]
        if len(formulas) < 2:
            return set()
        groups: dict[str | None, list[Cell]] = {}
        for c in formulas:
            groups.setdefault(self.facts[(sheet.name, c)].form, []).append(c)
        common_form, common = max(groups.items(), key=lambda kv: len(kv[1]))
        if common_form is None or len(common) < 2:
            return set()
        odd = [c for c in formulas if c not in common]
        typed = [c for c in cells if c in sheet.filled]
        reported: set[Cell] = set()
        header = table.columns[cells[0][1] - table.min_col] if (
            0 <= cells[0][1] - table.min_col < len(table.columns)) else ""
        column = f"the '{header}' column of table {table.name}" if header else \
            f"column {get_column_letter(cells[0][1])} of table {table.name}"
        if odd and len(formulas) >= 3 and len(common) >= 2 * len(odd):
            for c in odd:
                reported.add(c)
                self._odd_one(sheet, c, common[0], column)
        if typed and len(common) >= 2 * len(typed):
            example = self._moved(sheet, common[0], typed[0])
            for c in typed:
                reported.add(c)
                self.add("AUDIT006", sheet.name, c,
                         f"{sheet.name}!{_a1(c)} holds a typed value where the rest of {column} "
                         f"is calculated (for example {example}).")
        return reported

    def _moved(self, sheet: SheetCells, source: Cell, dest: Cell) -> str:
        """The formula of ``source`` as it would read in ``dest``."""
        text = sheet.formulas[source]
        try:
            return Translator(text, origin=_a1(source)).translate_formula(_a1(dest))
        except (TranslatorError, TokenizerError, ValueError):
            return f"{text} in {_a1(source)}"

    def _odd_one(self, sheet: SheetCells, cell: Cell, model_cell: Cell, context: str) -> None:
        expected = self._moved(sheet, model_cell, cell)
        self.add("AUDIT005", sheet.name, cell,
                 f"The formula in {sheet.name}!{_a1(cell)} is {sheet.formulas[cell]}, but "
                 f"{context} would have {expected} here.")


def _origin(node: tuple[str, Cell],
            source: dict[tuple[str, Cell], tuple[str, Cell]]) -> tuple[str, Cell]:
    seen = {node}
    while node in source and source[node] not in seen:
        node = source[node]
        seen.add(node)
    return node


def _runs(formulas: dict[Cell, str]) -> Iterator[list[Cell]]:
    """Unbroken runs (3 or more) of formula cells down each column and along each row."""
    for axis in (0, 1):
        lines: dict[int, list[int]] = {}
        for cell in formulas:
            lines.setdefault(cell[1 - axis], []).append(cell[axis])
        for fixed, positions in lines.items():
            positions.sort()
            start = 0
            for i in range(1, len(positions) + 1):
                if i == len(positions) or positions[i] != positions[i - 1] + 1:
                    if i - start >= 3:
                        yield [((p, fixed) if axis == 0 else (fixed, p))
                               for p in positions[start:i]]
                    start = i


def _cycles(graph: dict[Any, list[Any]]) -> list[list[Any]]:
    """Strongly connected components that are loops (Tarjan's algorithm, iterative)."""
    index: dict[Any, int] = {}
    low: dict[Any, int] = {}
    on_stack: set[Any] = set()
    stack: list[Any] = []
    out: list[list[Any]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(graph.get(root, ())))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph.get(child, ()))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in graph.get(node, ()):
                    out.append(component)
    return out


def _capped(found: list[Finding], model: BookModel, limit: int) -> list[Finding]:
    """At most ``limit`` findings of one code per sheet, then one summary finding."""
    order = {name: i for i, name in enumerate(model.sheets)}

    def key(f: Finding) -> tuple[int, int, int, str]:
        row, col = coordinate_to_tuple(f.cell) if f.cell else (0, 0)
        return (order.get(f.sheet, -1), row, col, f.code)

    out: list[Finding] = []
    groups: dict[tuple[str, str], list[Finding]] = {}
    for f in sorted(found, key=key):
        if not f.cell:
            out.append(f)
            continue
        groups.setdefault((f.code, f.sheet), []).append(f)
    for (code, sheet), items in groups.items():
        out.extend(items[:limit])
        rest = items[limit:]
        if rest:
            out.append(finding(
                code, sheet, rest[0].cell,
                f"... and {len(rest)} more cells on sheet {sheet} with the same problem "
                f"({sheet}!{rest[0].cell} to {sheet}!{rest[-1].cell}).",
                severity=Severity.INFO))
    return sorted(out, key=key)


# --------------------------------------------------------------------------- entry points


def audit_model(
    model: BookModel,
    *,
    allowed_constants: Iterable[float] = DEFAULT_ALLOWED_CONSTANTS,
    limits: AuditLimits | None = None,
    skip: Iterable[str] = (),
) -> list[Finding]:
    """Every audit finding for a workbook already read into a BookModel.

    ``skip`` leaves out codes another check already reports (for example AUDIT001 and
    AUDIT013 when the validator's own error-value and not-calculated checks run too).
    """
    skipped = set(skip)
    found = _Audit(model, allowed_constants, limits or AuditLimits()).run()
    return [f for f in found if f.code not in skipped]


def audit_workbook(
    path: str | Path,
    *,
    allowed_constants: Iterable[float] = DEFAULT_ALLOWED_CONSTANTS,
    limits: AuditLimits | None = None,
    skip: Iterable[str] = (),
) -> list[Finding]:
    """Audit the formulas of an .xlsx/.xlsm file (opened read-only; nothing is evaluated).

    Raises AuditUnreadable (an XlfundError) with a plain message when the file cannot be
    opened: not an Excel 2007+ workbook, password-protected, damaged.
    """
    limits = limits or AuditLimits()
    return audit_model(read_model(path, limits), allowed_constants=allowed_constants,
                       limits=limits, skip=skip)


def audit_data(
    data: Any,
    *,
    allowed_constants: Iterable[float] = DEFAULT_ALLOWED_CONSTANTS,
    limits: AuditLimits | None = None,
    skip: Iterable[str] = (),
) -> list[Finding]:
    """Audit a workbook already read with ``xlfund.workbook.reader.read_workbook``."""
    limits = limits or AuditLimits()
    return audit_model(model_from_data(data, limits), allowed_constants=allowed_constants,
                       limits=limits, skip=skip)
