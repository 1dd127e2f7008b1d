"""Compare two workbooks: what changed, where, and what it does to each cluster's money.

``diff_workbooks(old, new)`` reads both files (never changing them) and reports:

- parameter changes, matched by Key;
- schools added, removed and changed, matched by URN; clusters matched by Cluster ID;
- the effect on each cluster's allocation in pounds: the allocation engine is run on
  both workbooks' inputs (if one cannot be allocated, the reason is given instead);
- every other cell whose content (typed value, or formula text) changed, sheet by sheet,
  including sheets that are not part of the workbook contract and workbooks that do not
  follow it at all.  Cached results of formulas are not compared: they follow from the
  inputs, which are.

Every change names its cell (``Schools!E20``).  ``WorkbookDiff.to_dict()`` is the JSON
form, ``schema_version`` 1::

    {"schema_version": 1, "old": str, "new": str, "identical": bool,
     "parameters": [{"key", "column", "change": "added"|"removed"|"changed",
                     "old", "new", "old_cell", "new_cell"}],
     "schools" | "clusters": {"key_column": "URN" | "Cluster ID",
                  "added": [Row], "removed": [Row], "changed": [Row],
                  "columns_added": [str], "columns_removed": [str]},
        Row = {"key", "name", "old_row", "new_row", "cell",
               "values": {column: value}                         (added/removed)
               "changes": [{"column", "old", "new", "old_cell", "new_cell"}]}  (changed)
     "allocation": {"available": bool, "reason": str | null,
                    "clusters": [{"cluster_id", "name", "old", "new", "change",
                                  "old_part_year", "new_part_year", "part_year_change"}],
                    "total": {"old", "new", "change"} | null},
     "sheets": [{"sheet", "status": "added"|"removed"|"changed", "changed_cells": int,
                 "changes": [{"cell", "old", "new"}], "truncated": bool}],
     "notes": [str]}

Money is whole pounds (int); "old"/"new" of a missing side is null; dates are ISO text.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from openpyxl.utils.cell import coordinate_to_tuple, range_boundaries

from . import contract as c
from .errors import XlfundError
from .workbook.reader import TableData, WorkbookData, cell_address, normalise_header

MAX_CELLS = 2_000_000  # cells compared per workbook pair, beyond which the rest is skipped
MAX_LISTED = 500  # changed cells listed per sheet (all are counted)
FORMULA_SUFFIXES = (".xlsx", ".xlsm", ".xltx", ".xltm")


@dataclass(frozen=True)
class FieldChange:
    column: str
    old: Any
    new: Any
    old_cell: str
    new_cell: str


@dataclass(frozen=True)
class RowChange:
    """A school or cluster added, removed or changed."""

    key: str
    name: str
    kind: str  # "added", "removed", "changed"
    old_row: int | None
    new_row: int | None
    cell: str  # the key cell, in the new workbook (in the old one for a removed row)
    values: dict[str, Any] = field(default_factory=dict)  # added/removed rows
    changes: list[FieldChange] = field(default_factory=list)  # changed rows


@dataclass
class TableDiff:
    label: str
    key_column: str
    rows: list[RowChange] = field(default_factory=list)
    columns_added: list[str] = field(default_factory=list)
    columns_removed: list[str] = field(default_factory=list)

    def of_kind(self, kind: str) -> list[RowChange]:
        return [r for r in self.rows if r.kind == kind]

    def __bool__(self) -> bool:
        return bool(self.rows or self.columns_added or self.columns_removed)


@dataclass(frozen=True)
class ParameterChange:
    key: str
    column: str
    kind: str  # "added", "removed", "changed"
    old: Any
    new: Any
    old_cell: str
    new_cell: str


@dataclass(frozen=True)
class ClusterEffect:
    cluster_id: str
    name: str
    old: int | None  # annual allocation, whole pounds
    new: int | None
    old_part_year: int | None
    new_part_year: int | None

    @property
    def change(self) -> int:
        return (self.new or 0) - (self.old or 0)

    @property
    def part_year_change(self) -> int:
        return (self.new_part_year or 0) - (self.old_part_year or 0)


@dataclass
class AllocationEffect:
    available: bool
    reason: str = ""
    clusters: list[ClusterEffect] = field(default_factory=list)

    @property
    def old_total(self) -> int:
        return sum(e.old or 0 for e in self.clusters)

    @property
    def new_total(self) -> int:
        return sum(e.new or 0 for e in self.clusters)


@dataclass(frozen=True)
class CellChange:
    cell: str
    old: Any
    new: Any


@dataclass
class SheetDiff:
    sheet: str
    status: str  # "added", "removed", "changed"
    changes: list[CellChange] = field(default_factory=list)  # the first MAX_LISTED
    changed_cells: int = 0
    truncated: bool = False  # stopped at the MAX_CELLS limit


@dataclass
class WorkbookDiff:
    old: str
    new: str
    parameters: list[ParameterChange] = field(default_factory=list)
    schools: TableDiff = field(default_factory=lambda: TableDiff("Schools", c.URN))
    clusters: TableDiff = field(default_factory=lambda: TableDiff("Clusters", c.CLUSTER_ID))
    allocation: AllocationEffect = field(default_factory=lambda: AllocationEffect(False))
    sheets: list[SheetDiff] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return not (self.parameters or self.schools or self.clusters or self.sheets
                    or any(e.change or e.part_year_change for e in self.allocation.clusters))

    def to_dict(self) -> dict[str, Any]:
        def table(t: TableDiff) -> dict[str, Any]:
            return {"key_column": t.key_column,
                    **{kind: [_row_dict(r) for r in t.of_kind(kind)]
                       for kind in ("added", "removed", "changed")},
                    "columns_added": t.columns_added, "columns_removed": t.columns_removed}

        effect = self.allocation
        return {
            "schema_version": 1,
            "old": self.old,
            "new": self.new,
            "identical": self.identical,
            "parameters": [{"key": p.key, "column": p.column, "change": p.kind,
                            "old": _json(p.old), "new": _json(p.new), "old_cell": p.old_cell,
                            "new_cell": p.new_cell} for p in self.parameters],
            "schools": table(self.schools),
            "clusters": table(self.clusters),
            "allocation": {
                "available": effect.available,
                "reason": effect.reason or None,
                "clusters": [{"cluster_id": e.cluster_id, "name": e.name, "old": e.old,
                              "new": e.new, "change": e.change,
                              "old_part_year": e.old_part_year,
                              "new_part_year": e.new_part_year,
                              "part_year_change": e.part_year_change}
                             for e in effect.clusters],
                "total": ({"old": effect.old_total, "new": effect.new_total,
                           "change": effect.new_total - effect.old_total}
                          if effect.available else None),
            },
            "sheets": [{"sheet": s.sheet, "status": s.status, "changed_cells": s.changed_cells,
                        "changes": [{"cell": ch.cell, "old": _json(ch.old),
                                     "new": _json(ch.new)} for ch in s.changes],
                        "truncated": s.truncated} for s in self.sheets],
            "notes": list(self.notes),
        }

    def to_text(self) -> str:
        return _render_text(self)


# --------------------------------------------------------------------------- values


def _plain(value: Any) -> Any:
    """A value as compared and shown: blanks are None, whole floats are ints."""
    if value is None or (isinstance(value, str) and value == ""):
        return None
    if hasattr(value, "item") and not isinstance(value, str | bytes):  # numpy scalars
        value = value.item()
    if isinstance(value, float):
        if value != value:  # NaN
            return None
        if value.is_integer():
            return int(value)
    if isinstance(value, dt.datetime) and value.time() == dt.time(0):
        return value.date()
    if isinstance(value, str):
        return value.strip() or None
    return value


def _json(value: Any) -> Any:
    value = _plain(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, Fraction):
        return str(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _show(value: Any) -> str:
    value = _plain(value)
    if value is None:
        return "(blank)"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.6g}" if abs(value) < 1e15 else repr(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return repr(value) if isinstance(value, str) else str(value)


def _key(value: Any) -> str | None:
    """URNs and Cluster IDs compare as trimmed text: 7, 7.0 and ' 7 ' are the same."""
    value = _plain(value)
    return None if value is None else str(value).strip()


def _row_dict(r: RowChange) -> dict[str, Any]:
    out: dict[str, Any] = {"key": r.key, "name": r.name, "old_row": r.old_row,
                           "new_row": r.new_row, "cell": r.cell}
    if r.kind == "changed":
        out["changes"] = [{"column": f.column, "old": _json(f.old), "new": _json(f.new),
                           "old_cell": f.old_cell, "new_cell": f.new_cell} for f in r.changes]
    else:
        out["values"] = {k: _json(v) for k, v in r.values.items()}
    return out


# --------------------------------------------------------------------------- reading


@dataclass
class _Side:
    label: str
    data: WorkbookData
    formulas: dict[str, dict[tuple[int, int], str]]  # sheet -> (row, col) -> formula text


def _read(source: str | Path | WorkbookData, notes: list[str]) -> _Side:
    if isinstance(source, WorkbookData):
        data = source
        label = str(source.path or "(workbook)")
    else:
        path = Path(source)
        label = str(path)
        data = _read_values(path)
    formulas: dict[str, dict[tuple[int, int], str]] = {}
    if data.formulas_read:
        for sheet, cells in data.formulas.items():
            formulas[sheet] = {coordinate_to_tuple(a): f for a, f in cells.items()}
    elif data.path is not None and Path(data.path).suffix.lower() in FORMULA_SUFFIXES:
        from .audit import AuditLimits, AuditUnreadable, read_model

        try:
            model = read_model(data.path, AuditLimits(max_cells=MAX_CELLS))
        except AuditUnreadable as exc:
            notes.append(f"Formulas of {Path(data.path).name} could not be read, so its "
                         f"cells are compared by value only: {exc}")
        else:
            formulas = {name: s.formulas for name, s in model.sheets.items()}
            if model.stopped:
                notes.append(f"{Path(data.path).name} is very large: only the formulas up to "
                             f"{model.stopped[0]}!{model.stopped[1]} were read.")
    elif data.path is not None:
        notes.append(f"Formulas cannot be read from a {Path(data.path).suffix} file, so the "
                     f"cells of {Path(data.path).name} are compared by their values.")
    return _Side(label, data, formulas)


def _read_values(path: Path) -> WorkbookData:
    from .workbook.reader import read_workbook

    if not path.exists():
        raise XlfundError(f"{path}: the file does not exist. Check the name and folder.")
    try:
        return read_workbook(path, formulas=False)
    except Exception as exc:  # untrusted file: any failure becomes a plain answer
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        if "password" in reason.casefold():
            reason = "it is protected with a password; remove the password in Excel first"
        raise XlfundError(
            f"{path.name} cannot be read as a workbook ({reason}). Check that it is an Excel "
            "file (.xlsx, .xlsm, .xls) or OpenDocument spreadsheet and that it opens in Excel."
        ) from exc


# --------------------------------------------------------------------------- contract tables


def _table(side: _Side, spec: c.TableSpec, key_column: str) -> TableData | None:
    table = side.data.find_table(spec)
    if table is None or table.column(key_column) is None:
        return None
    return table


def _display_headers(table: TableData, spec: c.TableSpec) -> dict[str, str]:
    """normalised header -> the name shown (the contract's spelling where there is one)."""
    contract = {normalise_header(h): h for h in spec.columns}
    return {normalise_header(h): contract.get(normalise_header(h), h) for h in table.columns}


def _records(side: _Side, table: TableData, key_column: str,
             notes: list[str], label: str) -> dict[str, tuple[int, dict[str, Any]]]:
    """key -> (Excel row, {normalised header: value or formula text}).

    Later rows with the same key are noted, not compared.
    """
    key_header = table.column(key_column)
    formulas = side.formulas.get(table.sheet, {})
    out: dict[str, tuple[int, dict[str, Any]]] = {}
    for row, record in zip(table.frame.index, table.frame.to_dict("records"), strict=True):
        for header, col in table.columns.items():
            text = formulas.get((int(row), col))
            if text is not None:  # a calculated column: compare the formula, not its result
                record[header] = text
        key = _key(record.get(key_header))
        if key is None:
            continue
        if key in out:
            notes.append(f"{label}: {key_column} {key} appears twice ({table.sheet}!"
                         f"{table.cell(key_header, out[key][0])} and "
                         f"{table.sheet}!{table.cell(key_header, int(row))}); only the first "
                         "is compared.")
            continue
        out[key] = (int(row), {normalise_header(h): v for h, v in record.items()})
    return out


def _name_of(values: dict[str, Any], name_column: str | None) -> str:
    if name_column is None:
        return ""
    value = _plain(values.get(normalise_header(name_column)))
    return "" if value is None else str(value)


def _compare_table(old: _Side, new: _Side, spec: c.TableSpec, key_column: str,
                   name_column: str | None, out: TableDiff,
                   notes: list[str]) -> tuple[TableData, TableData] | None:
    """Fill ``out``; the two tables compared, or None when it is not in both workbooks."""
    a, b = _table(old, spec, key_column), _table(new, spec, key_column)
    if a is None or b is None:
        if a is not None or b is not None:
            which = "new" if a is not None else "old"
            notes.append(f"The {spec.name} table (with a {key_column} column) is not in the "
                         f"{which} workbook, so its rows are compared cell by cell.")
        return None
    shown_a, shown_b = _display_headers(a, spec), _display_headers(b, spec)
    by_norm_a = {normalise_header(h): h for h in a.columns}
    by_norm_b = {normalise_header(h): h for h in b.columns}
    out.columns_added = [shown_b[n] for n in by_norm_b if n not in by_norm_a]
    out.columns_removed = [shown_a[n] for n in by_norm_a if n not in by_norm_b]
    common = [n for n in by_norm_b if n in by_norm_a]
    rows_a = _records(old, a, key_column, notes, f"old {spec.name}")
    rows_b = _records(new, b, key_column, notes, f"new {spec.name}")
    key_a, key_b = a.column(key_column), b.column(key_column)
    for key, (row, values) in rows_a.items():
        if key not in rows_b:
            out.rows.append(RowChange(
                key, _name_of(values, name_column), "removed", row, None,
                f"{a.sheet}!{a.cell(key_a, row)}",
                values={shown_a[n]: _plain(values[n]) for n in by_norm_a}))
    for key, (row, values) in rows_b.items():
        if key not in rows_a:
            out.rows.append(RowChange(
                key, _name_of(values, name_column), "added", None, row,
                f"{b.sheet}!{b.cell(key_b, row)}",
                values={shown_b[n]: _plain(values[n]) for n in by_norm_b}))
            continue
        old_row, old_values = rows_a[key]
        changes = [
            FieldChange(shown_b[n], _plain(old_values[n]), _plain(values[n]),
                        f"{a.sheet}!{a.cell(by_norm_a[n], old_row)}",
                        f"{b.sheet}!{b.cell(by_norm_b[n], row)}")
            for n in common if _plain(old_values[n]) != _plain(values[n])
        ]
        if changes:
            out.rows.append(RowChange(key, _name_of(values, name_column), "changed", old_row,
                                      row, f"{b.sheet}!{b.cell(key_b, row)}", changes=changes))
    return a, b


def _compare_parameters(old: _Side, new: _Side, notes: list[str],
                        skip: list[tuple[str, int, int, int, int]]) -> list[ParameterChange]:
    table = TableDiff("Parameters", c.KEY)
    tables = _compare_table(old, new, c.PARAMETERS_TABLE, c.KEY, None, table, notes)
    if tables is None:
        return []
    skip += [_table_rect(t) for t in tables]
    out = []
    for row in table.rows:
        if row.kind == "changed":
            out.extend(ParameterChange(row.key, f.column, "changed", f.old, f.new, f.old_cell,
                                       f.new_cell) for f in row.changes)
            continue
        side = tables[0] if row.kind == "removed" else tables[1]
        value_header = side.column("Value")
        number = row.old_row if row.kind == "removed" else row.new_row
        cell = (f"{side.sheet}!{side.cell(value_header, number)}"
                if value_header and number else row.cell)
        value = row.values.get("Value")
        if row.kind == "removed":
            out.append(ParameterChange(row.key, "Value", "removed", value, None, cell, ""))
        else:
            out.append(ParameterChange(row.key, "Value", "added", None, value, "", cell))
    for column in table.columns_added:
        notes.append(f"The Parameters table has a new column '{column}'.")
    for column in table.columns_removed:
        notes.append(f"The Parameters table no longer has the column '{column}'.")
    return out


def _table_rect(table: TableData) -> tuple[str, int, int, int, int]:
    """(sheet, first row, first col, last row, last col) of a table, headers included."""
    if table.ref:
        min_col, min_row, max_col, max_row = range_boundaries(table.ref)
    else:
        min_row, max_row = table.header_row, max([table.header_row, *table.frame.index])
        min_col, max_col = min(table.columns.values()), max(table.columns.values())
    return table.sheet, min_row, min_col, max_row, max_col


# --------------------------------------------------------------------------- allocation


def _allocation(side: _Side) -> tuple[dict[str, tuple[str, int, int]] | None, str]:
    """Cluster ID -> (name, annual £, Sep-Mar £), or None and why not, in plain words."""
    from .allocation import allocate
    from .errors import InputError
    from .workbook.inputs import model_inputs

    try:
        inputs = model_inputs(side.data)
        result = allocate(inputs.schools, inputs.clusters, inputs.parameters)
    except InputError as exc:
        shown = exc.problems[:3]
        more = len(exc.problems) - len(shown)
        return None, " ".join(shown) + (f" (and {more} more problems)" if more else "")
    except (XlfundError, ValueError, KeyError, TypeError, ArithmeticError) as exc:
        return None, f"the figures could not be worked out ({exc})"
    frame = result.clusters
    out = {}
    for record in frame.to_dict("records"):
        out[_key(record[c.CLUSTER_ID]) or ""] = (
            str(record[c.CLUSTER_NAME] or ""), int(record[c.ANNUAL_GBP]),
            int(record[c.PART_YEAR_GBP]))
    return out, ""


def _allocation_effect(old: _Side, new: _Side) -> AllocationEffect:
    before, why_old = _allocation(old)
    after, why_new = _allocation(new)
    if before is None or after is None:
        reasons = []
        if before is None:
            reasons.append(f"the old workbook cannot be allocated: {why_old}")
        if after is None:
            reasons.append(f"the new workbook cannot be allocated: {why_new}")
        return AllocationEffect(False, "The effect on clusters cannot be shown because "
                                + "; and ".join(reasons))
    effects = []
    for cid in [*before, *(k for k in after if k not in before)]:
        a, b = before.get(cid), after.get(cid)
        effects.append(ClusterEffect(cid, (b or a)[0], a[1] if a else None,
                                     b[1] if b else None, a[2] if a else None,
                                     b[2] if b else None))
    return AllocationEffect(True, "", effects)


# --------------------------------------------------------------------------- cells


def _content(grid_row: list[Any], col: int, formulas: dict[tuple[int, int], str],
             row: int) -> Any:
    text = formulas.get((row, col))
    if text is not None:
        return text
    return _plain(grid_row[col - 1]) if col - 1 < len(grid_row) else None


def _compare_cells(old: _Side, new: _Side, skip: list[tuple[str, int, int, int, int]],
                   notes: list[str]) -> list[SheetDiff]:
    budget = MAX_CELLS
    out: list[SheetDiff] = []
    old_names = old.data.sheet_names
    new_names = new.data.sheet_names
    by_key = {n.casefold(): n for n in old_names}
    new_keys = {n.casefold() for n in new_names}
    for name in old_names:
        if name.casefold() not in new_keys:
            out.append(_one_sided(old, name, "removed"))
    for name in new_names:
        old_name = by_key.get(name.casefold())
        if old_name is None:
            out.append(_one_sided(new, name, "added"))
            continue
        diff, budget = _compare_sheet(old, old_name, new, name, skip, budget)
        if diff.changed_cells or diff.truncated:
            out.append(diff)
        if budget <= 0:
            notes.append(f"Cell-by-cell comparison stopped after {MAX_CELLS:,} cells "
                         f"(in sheet {name}); later cells were not compared.")
            break
    return out


def _one_sided(side: _Side, name: str, status: str) -> SheetDiff:
    diff = SheetDiff(name, status)
    grid = side.data.grids.get(name, [])
    formulas = side.formulas.get(name, {})
    seen = 0
    for r, row in enumerate(grid, start=1):
        for col in range(1, len(row) + 1):
            seen += 1
            value = _content(row, col, formulas, r)
            if value is None:
                continue
            diff.changed_cells += 1
            if len(diff.changes) < MAX_LISTED:
                diff.changes.append(CellChange(
                    cell_address(r, col), value if status == "removed" else None,
                    value if status == "added" else None))
        if seen > MAX_CELLS:
            diff.truncated = True
            break
    return diff


def _compare_sheet(old: _Side, old_name: str, new: _Side, name: str,
                   skip: list[tuple[str, int, int, int, int]],
                   budget: int) -> tuple[SheetDiff, int]:
    diff = SheetDiff(name, "changed")
    grid_a = old.data.grids.get(old_name, [])
    grid_b = new.data.grids.get(name, [])
    formulas_a = old.formulas.get(old_name, {})
    formulas_b = new.formulas.get(name, {})
    formula_rows = {r for r, _ in formulas_a} | {r for r, _ in formulas_b}
    rects = [(r0, c0, r1, c1) for sheet, r0, c0, r1, c1 in skip
             if sheet.casefold() == name.casefold()]
    for r in range(1, max(len(grid_a), len(grid_b)) + 1):
        row_a = grid_a[r - 1] if r <= len(grid_a) else []
        row_b = grid_b[r - 1] if r <= len(grid_b) else []
        width = max(len(row_a), len(row_b))
        budget -= width
        if row_a == row_b and r not in formula_rows:
            continue  # identical typed values (blank-padded rows compare by content below)
        for col in range(1, width + 1):
            if any(r0 <= r <= r1 and c0 <= col <= c1 for r0, c0, r1, c1 in rects):
                continue
            a = _content(row_a, col, formulas_a, r)
            b = _content(row_b, col, formulas_b, r)
            if a == b:
                continue
            diff.changed_cells += 1
            if len(diff.changes) < MAX_LISTED:
                diff.changes.append(CellChange(cell_address(r, col), a, b))
        if budget <= 0:
            diff.truncated = True
            break
    return diff, budget


# --------------------------------------------------------------------------- entry point


def diff_workbooks(old: str | Path | WorkbookData, new: str | Path | WorkbookData) -> WorkbookDiff:
    """Compare two workbooks (files are opened read-only and never changed).

    Raises XlfundError with a plain message when a file cannot be read.
    """
    notes: list[str] = []
    a, b = _read(old, notes), _read(new, notes)
    out = WorkbookDiff(a.label, b.label, notes=notes)
    skip: list[tuple[str, int, int, int, int]] = []  # cells the table comparisons cover
    out.parameters = _compare_parameters(a, b, notes, skip)
    for spec, key, name, table in ((c.SCHOOLS_TABLE, c.URN, c.SCHOOL_NAME, out.schools),
                                   (c.CLUSTERS_TABLE, c.CLUSTER_ID, c.CLUSTER_NAME,
                                    out.clusters)):
        tables = _compare_table(a, b, spec, key, name, table, notes)
        if tables is not None:
            skip += [_table_rect(t) for t in tables]
    if _table(a, c.SCHOOLS_TABLE, c.URN) or _table(b, c.SCHOOLS_TABLE, c.URN):
        out.allocation = _allocation_effect(a, b)
    else:
        out.allocation = AllocationEffect(
            False, "Neither workbook has a Schools table, so they are not allocation "
                   "workbooks and there is no allocation to compare.")
    out.sheets = _compare_cells(a, b, skip, notes)
    return out


# --------------------------------------------------------------------------- text


def _money(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _signed(value: int) -> str:
    return f"{value:+,}" if value else "0"


def _render_rows(t: TableDiff, lines: list[str]) -> None:
    counts = [f"{len(t.of_kind(k))} {k}" for k in ("added", "removed", "changed")
              if t.of_kind(k)]
    if not t:
        lines.append(f"{t.label}: no changes")
        return
    lines.append(f"{t.label}: {', '.join(counts) or 'columns changed'}")
    for column in t.columns_added:
        lines.append(f"  column added: {column}")
    for column in t.columns_removed:
        lines.append(f"  column removed: {column}")
    for r in t.rows:
        who = f"{t.key_column} {r.key}" + (f" {r.name}" if r.name else "")
        if r.kind == "added":
            lines.append(f"  added    {who} ({r.cell})")
        elif r.kind == "removed":
            lines.append(f"  removed  {who} (was {r.cell})")
        else:
            for f in r.changes:
                moved = f", was {f.old_cell}" if f.old_cell != f.new_cell else ""
                lines.append(f"  changed  {who}: {f.column} {_show(f.old)} -> {_show(f.new)} "
                             f"({f.new_cell}{moved})")


def _render_text(d: WorkbookDiff) -> str:
    lines = [f"Changes from {d.old} to {d.new}", ""]
    if d.identical:
        lines.append("No differences: the two workbooks have the same content.")
        lines += [f"Note: {n}" for n in d.notes]
        return "\n".join(lines) + "\n"
    if d.parameters:
        lines.append(f"Parameters: {len(d.parameters)} changed")
        for p in d.parameters:
            cell = p.new_cell or p.old_cell
            what = p.key if p.column == "Value" else f"{p.key} ({p.column})"
            if p.kind == "changed":
                lines.append(f"  {what}: {_show(p.old)} -> {_show(p.new)} ({cell})")
            else:
                lines.append(f"  {what}: {p.kind} ({cell})")
    else:
        lines.append("Parameters: no changes")
    _render_rows(d.schools, lines)
    _render_rows(d.clusters, lines)
    lines.append("")
    _render_effect(d.allocation, lines)
    if d.sheets:
        lines += ["", "Other cells (typed values and formulas):"]
        for s in d.sheets:
            more = s.changed_cells - len(s.changes)
            lines.append(f"  {s.sheet}: sheet {s.status}" if s.status != "changed"
                         else f"  {s.sheet}: {s.changed_cells} cell"
                         f"{'s' if s.changed_cells != 1 else ''} changed")
            for ch in s.changes[:20]:
                lines.append(f"    {s.sheet}!{ch.cell}: {_show(ch.old)} -> {_show(ch.new)}")
            hidden = more + max(len(s.changes) - 20, 0)
            if hidden > 0:
                lines.append(f"    ... and {hidden} more (see --format json)")
            if s.truncated:
                lines.append("    (comparison stopped at the size limit)")
    if d.notes:
        lines.append("")
        lines += [f"Note: {n}" for n in d.notes]
    return "\n".join(lines) + "\n"


def _render_effect(effect: AllocationEffect, lines: list[str]) -> None:
    if not effect.available:
        lines.append(f"Effect on clusters' allocations: not available. {effect.reason}")
        return
    changed = [e for e in effect.clusters if e.change or e.part_year_change]
    lines.append("Effect on each cluster's allocation (£, whole pounds):")
    if not changed:
        lines.append("  no cluster's allocation changes.")
        return
    rows = [("Cluster", "Name", "Annual before", "Annual after", "Change", "Sep-Mar change")]
    rows += [(e.cluster_id, e.name[:30], _money(e.old), _money(e.new), _signed(e.change),
              _signed(e.part_year_change)) for e in changed]
    total = effect.new_total - effect.old_total
    rows.append(("Total", "", _money(effect.old_total), _money(effect.new_total),
                 _signed(total), _signed(sum(e.part_year_change for e in effect.clusters))))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    align: list[Callable[[str, int], str]] = [str.ljust, str.ljust, str.rjust, str.rjust,
                                              str.rjust, str.rjust]
    for r in rows:
        lines.append("  " + "  ".join(align[i](r[i], widths[i]) for i in range(len(r))))
    unchanged = len(effect.clusters) - len(changed)
    if unchanged:
        lines.append(f"  {unchanged} other cluster{'s' if unchanged != 1 else ''} unchanged.")


def changed_cells(diff: WorkbookDiff) -> Iterable[str]:
    """Every cell address the diff names (for tests and summaries)."""
    for p in diff.parameters:
        yield p.new_cell or p.old_cell
    for t in (diff.schools, diff.clusters):
        for r in t.rows:
            yield r.cell
            for f in r.changes:
                yield f.new_cell
    for s in diff.sheets:
        for ch in s.changes:
            yield f"{s.sheet}!{ch.cell}"
