"""Excel functions and buttons for the finance team (xlwings).

Functions (type them in a cell; ranges include their header rows, e.g. ``Schools[#All]``):

* ``=XLF_SPLIT(total, delegated_share)``: delegated and retained amounts (1 x 2).
* ``=XLF_ALLOCATE(schools, clusters, parameters)``: the whole Allocation table.
* ``=XLF_CLUSTER_ALLOCATION(cluster_id, schools, clusters, parameters)``: one cluster.
* ``=XLF_PART_YEAR(amount, start_date, financial_year_end)``: the part-year amount.
* ``=XLF_ROUND_TO_TOTAL(values, total)``: whole pounds adding up exactly to the total.
* ``=XLF_POSTS_COST(posts)``: the retained posts' total annual cost.

Macros (buttons): ``validate_workbook``, ``allocate``, ``sign_off``, ``clear_marks``.

Everything here is a thin adapter over the same core as the command line
(xlfund.allocation, xlfund.money, xlfund.retained, xlfund.validation, xlfund.signoff).
A function never shows a traceback or a wrong number: bad input gives a short message
in the cell saying which argument, column or row is wrong.  The same code runs with the
classic Windows add-in, with xlwings Server and xlwings Lite (docs/excel.md), and as
plain Python calls.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import OrderedDict
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import pandas as pd
import xlwings as xw

from . import contract as c
from . import livebook, signoff
from .allocation import AllocationResult, cluster_key
from .allocation import allocate as allocate_clusters
from .errors import InputError, XlfundError
from .findings import Report
from .money import exact, part_year_fraction, round_half_up, round_to_total, split
from .parameters import SPECS_BY_KEY, Parameters, parse_parameters
from .retained import cost_posts
from .workbook.reader import table_from_grid
from .workbook.style import DATETIME
from .workbook.template import excel_value

ALLOCATED_STATUS = c.ALLOCATED_STATUS
# xlwings' Office.js runtime converts a range argument cell by cell, and outside Pyodide
# (xlwings Server) that costs about 0.1 ms a cell: half a second for the Schools table.
# There, ranges come in raw (JSON values) and _plain_value does the little conversion needed.
_OFFICE_JS = getattr(xw.func, "__module__", "").endswith("udfs_officejs")
_RANGE: dict[str, Any] = {"convert": "raw"} if _OFFICE_JS else {"ndim": 2, "err_to_str": True}
_CELL = {"err_to_str": True}


class ArgumentError(XlfundError):
    """A function argument that cannot be used as given."""


# ---------------------------------------------------------------------------- helpers
def _message(exc: Exception) -> str:
    problems = exc.problems if isinstance(exc, InputError) else [str(exc)]
    first = " ".join(str(problems[0]).split())
    more = len(problems) - 1
    if more:
        first += f" (and {more} more problem{'s' * (more != 1)})"
    return first


def _safely(work: Callable[..., Any], *args: Any) -> Any:
    """Run ``work``; a problem becomes a readable message instead of an Excel error."""
    try:
        return work(*args)
    except XlfundError as exc:
        return _message(exc)
    except Exception as exc:  # a bug must not show a traceback in a cell either
        return (f"xlfund could not work this out ({type(exc).__name__}: {exc}). Please "
                "report it to the xlfund maintainers with the workbook.")


def _plain_value(value: Any) -> Any:
    """Office.js raw values as xlwings would convert them: '' is blank, errors are text."""
    if isinstance(value, list):
        return [_plain_value(v) for v in value]
    if isinstance(value, str):
        return value if value else None
    if isinstance(value, dict):  # rich values: errors, formatted numbers, entities
        if value.get("type") == "Error":
            return value.get("basicValue") or f"#{value.get('errorType', 'ERROR')}"
        return value.get("basicValue", str(value))
    return value


def _rows(value: Any) -> list[list[Any]]:
    """A range argument as a list of rows (also a DataFrame or a 1-D list from Python)."""
    value = _plain_value(value)
    if isinstance(value, pd.DataFrame):
        return [list(value.columns), *value.astype(object).values.tolist()]
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        return [[value]]
    if value and not isinstance(value[0], list | tuple):
        return [list(value)]
    return [list(row) for row in value]


def _scalar(value: Any, name: str) -> Any:
    rows = _rows(value)
    cells = [v for row in rows for v in row]
    if len(cells) > 1:
        raise ArgumentError(f"{name} must be a single cell, not a range of {len(cells)} cells.")
    value = cells[0] if cells else None
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _number(value: Any, name: str, what: str) -> Fraction:
    value = _scalar(value, name)
    if value is None:
        raise ArgumentError(f"{name} is blank: enter {what}.")
    try:
        return exact(value)
    except (TypeError, ValueError, ZeroDivisionError):
        raise ArgumentError(f"{name} is {value!r}, not a number: enter {what}.") from None


def _pounds(value: Any, name: str) -> int:
    number = _number(value, name, "a whole number of pounds")
    if number.denominator != 1:
        raise ArgumentError(f"{name} is £{float(number):,.2f}: enter whole pounds.")
    return int(number)


def _date(value: Any, name: str) -> dt.date:
    value = _scalar(value, name)
    date = livebook.excel_date(value)
    if date is None:
        shown = "blank" if value is None else repr(value)
        raise ArgumentError(f"{name} is {shown}, not a date between 1990 and 2100: enter a "
                            "date such as 1 Sep 2013.")
    return date


def _table(value: Any, name: str, spec: c.TableSpec, required: tuple[str, ...]
           ) -> pd.DataFrame:
    """A table argument (header row first) as a frame with the contract's column names.

    The frame's index is the row number within the range (the header row is row 1).
    """
    rows = _rows(value)
    example = f"{spec.name}[#All]"
    if len(rows) < 2:
        raise ArgumentError(f"{name}: select the whole {spec.name} table with its header row, "
                            f"e.g. {example}.")
    width = max(len(r) for r in rows)
    grid = [["" if v is None else v for v in row] + [""] * (width - len(row)) for row in rows]
    table = table_from_grid(spec.name, "", grid, 1, "table")
    missing = [h for h in required if table.column(h) is None]
    if missing:
        found = ", ".join(repr(h) for h in table.columns if not h.startswith("Column"))
        raise ArgumentError(
            f"{name}: the header row has no {', '.join(repr(m) for m in missing)} column "
            f"(found {found or 'no headers'}). Select the {spec.name} table including its "
            f"header row, e.g. {example}.")
    return table.renamed(spec.columns)


def _parameters(value: Any) -> Parameters:
    frame = _table(value, "parameters", c.PARAMETERS_TABLE, c.PARAMETERS_TABLE.required)
    raw: dict[str, Any] = {}
    rows: dict[str, int] = {}
    for row, key, item in zip(frame.index, frame[c.KEY], frame["Value"], strict=True):
        if key is None or not str(key).strip():
            continue
        key = str(key).strip()
        if key in rows:
            raise ArgumentError(f"parameters: Key '{key}' appears twice (rows {rows[key]} and "
                                f"{row} of the range). Keep one row per Key.")
        rows[key] = row
        spec = SPECS_BY_KEY.get(key)
        if spec is not None and spec.kind == "date" and not isinstance(item, dt.date):
            item = livebook.excel_date(item) or item  # Office.js sends dates as serials
        raw[key] = item
    return parse_parameters(raw)


_RESULTS: OrderedDict[str, AllocationResult] = OrderedDict()
_RESULTS_KEPT = 4


def _allocation(schools: Any, clusters: Any, parameters: Any) -> AllocationResult:
    """The allocation for these ranges; kept for the next call with the same ranges, so a
    column of XLF_CLUSTER_ALLOCATION cells computes it once, not once per cluster."""
    rows = tuple(_rows(arg) for arg in (schools, clusters, parameters))
    key = hashlib.sha256(repr(rows).encode()).hexdigest()
    if key in _RESULTS:
        _RESULTS.move_to_end(key)
        return _RESULTS[key]
    schools_df = _table(schools, "schools", c.SCHOOLS_TABLE, c.SCHOOLS_TABLE.required)
    clusters_df = _table(clusters, "clusters", c.CLUSTERS_TABLE, c.CLUSTERS_TABLE.required)
    result = allocate_clusters(schools_df, clusters_df, _parameters(parameters))
    _RESULTS[key] = result
    while len(_RESULTS) > _RESULTS_KEPT:
        _RESULTS.popitem(last=False)
    return result


def _cell_value(value: Any) -> Any:
    """A result value as Excel should show it: blanks blank, whole numbers as int."""
    value = excel_value(value)
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


# ---------------------------------------------------------------------------- functions
@xw.func
@xw.arg("total", **_CELL, doc="Total funding in whole pounds, e.g. 2000000")
@xw.arg("delegated_share", **_CELL, doc="Share delegated to clusters, e.g. 75% or 0.75")
def xlf_split(total: Any, delegated_share: Any) -> Any:
    """Delegated and retained amounts in whole pounds, adding up exactly to the total."""
    return _safely(_split, total, delegated_share)


def _split(total: Any, share: Any) -> list[list[int]]:
    pounds = _pounds(total, "total")
    fraction = _number(share, "delegated_share", "a share such as 75%")
    if not 0 <= fraction <= 1:
        raise ArgumentError(f"delegated_share is {float(fraction):.4g}, which is "
                            f"{float(fraction):.2%}: enter a share between 0% and 100%, "
                            "such as 75% or 0.75.")
    return [list(split(pounds, fraction))]


@xw.func
@xw.arg("schools", **_RANGE, doc="The Schools table with its header row, e.g. Schools[#All]")
@xw.arg("clusters", **_RANGE, doc="The Clusters table with its header row, e.g. Clusters[#All]")
@xw.arg("parameters", **_RANGE,
        doc="The Parameters table with its header row, e.g. Parameters[#All]")
@xw.ret(index=False, header=True)
def xlf_allocate(schools: Any, clusters: Any, parameters: Any) -> Any:
    """The Allocation table: a header row and one row per cluster (spills)."""
    return _safely(_allocate_table, schools, clusters, parameters)


def _allocate_table(schools: Any, clusters: Any, parameters: Any) -> pd.DataFrame:
    frame = _allocation(schools, clusters, parameters).clusters[list(c.ALLOCATION_TABLE.columns)]
    return frame.astype(object).map(_cell_value)


@xw.func
@xw.arg("cluster_id", **_CELL, doc="The Cluster ID, e.g. C01")
@xw.arg("schools", **_RANGE, doc="The Schools table with its header row, e.g. Schools[#All]")
@xw.arg("clusters", **_RANGE, doc="The Clusters table with its header row, e.g. Clusters[#All]")
@xw.arg("parameters", **_RANGE,
        doc="The Parameters table with its header row, e.g. Parameters[#All]")
def xlf_cluster_allocation(cluster_id: Any, schools: Any, clusters: Any, parameters: Any) -> Any:
    """One cluster's annual allocation in whole pounds."""
    return _safely(_cluster_allocation, cluster_id, schools, clusters, parameters)


def _cluster_allocation(cluster_id: Any, schools: Any, clusters: Any, parameters: Any) -> int:
    wanted = _scalar(cluster_id, "cluster_id")
    if wanted is None:
        raise ArgumentError("cluster_id is blank: enter a Cluster ID from the Clusters table.")
    key = cluster_key(wanted)
    annual = _allocation(schools, clusters, parameters).annual_by_cluster()
    if key not in annual:
        raise ArgumentError(f"Cluster '{key}' is not in the clusters range: enter a Cluster ID "
                            "from the Clusters table.")
    return int(annual[key])


@xw.func
@xw.arg("amount", **_CELL, doc="A full year's amount in pounds")
@xw.arg("start_date", **_CELL, doc="When the funding starts, e.g. 1 Sep 2013")
@xw.arg("financial_year_end", **_CELL, doc="Last day of the financial year, e.g. 31 Mar 2014")
def xlf_part_year(amount: Any, start_date: Any, financial_year_end: Any) -> Any:
    """The part of a year's amount paid in the financial year (whole months, whole pounds)."""
    return _safely(_part_year, amount, start_date, financial_year_end)


def _part_year(amount: Any, start_date: Any, financial_year_end: Any) -> int:
    money = _number(amount, "amount", "an amount in pounds")
    start = _date(start_date, "start_date")
    end = _date(financial_year_end, "financial_year_end")
    year, month = end.year, end.month - 11
    if month <= 0:
        year, month = year - 1, month + 12
    fraction = part_year_fraction(start, dt.date(year, month, 1), end)
    return round_half_up(money * fraction)


@xw.func
@xw.arg("values", **_RANGE, doc="The amounts to round (a row or column; blanks stay blank)")
@xw.arg("total", **_CELL, doc="The whole-pound total they must add up to")
def xlf_round_to_total(values: Any, total: Any) -> Any:
    """Whole pounds, each the amount rounded up or down, adding up exactly to the total."""
    return _safely(_round_to_total, values, total)


def _round_to_total(values: Any, total: Any) -> list[list[Any]]:
    rows = _rows(values)
    pounds = _pounds(total, "total")
    numbers: list[Fraction] = []
    places: list[tuple[int, int]] = []
    for r, row in enumerate(rows):
        for col, value in enumerate(row):
            if value is None or (isinstance(value, str) and not value.strip()):
                continue
            try:
                numbers.append(exact(value))
            except (TypeError, ValueError, ZeroDivisionError):
                raise ArgumentError(f"values: row {r + 1}, column {col + 1} of the range is "
                                    f"{value!r}, not a number. Enter amounts only.") from None
            places.append((r, col))
    if not numbers:
        raise ArgumentError("values has no numbers: select the amounts to round.")
    try:
        rounded = round_to_total(numbers, pounds)
    except ValueError:
        raise ArgumentError(
            f"The values add up to {float(sum(numbers)):,.2f}, too far from the total "
            f"£{pounds:,} to reach it by rounding each one up or down: check the total."
        ) from None
    out: list[list[Any]] = [["" for _ in row] for row in rows]
    for (r, col), amount in zip(places, rounded, strict=True):
        out[r][col] = amount
    width = max(len(row) for row in rows)
    return [row + [""] * (width - len(row)) for row in out]


@xw.func
@xw.arg("posts", **_RANGE,
        doc="The RetainedPosts table with its header row, e.g. RetainedPosts[#All]")
def xlf_posts_cost(posts: Any) -> Any:
    """The retained posts' total annual cost in whole pounds."""
    return _safely(_posts_cost, posts)


POST_COST_COLUMNS = ("FTE", "Salary (£)", "On-cost rate", "Non-pay (£)")


def _posts_cost(posts: Any) -> int:
    frame = _table(posts, "posts", c.RETAINED_TABLE, POST_COST_COLUMNS)
    if frame.empty:
        raise ArgumentError("posts has no rows under its header row: select the RetainedPosts "
                            "table, e.g. RetainedPosts[#All].")
    return cost_posts(frame, 0).total_cost


# ---------------------------------------------------------------------------- macros
def _caller(book: xw.Book | None) -> xw.Book:
    return book if book is not None else xw.Book.caller()


def _alert(book: xw.Book, message: str) -> None:
    book.app.alert(message, title="xlfund")


def _validate(book: xw.Book, data: Any) -> Report:
    from .validation import validate

    return validate(data, name=book.name)


def _show(book: xw.Book, data: Any, report: Report, status: str | None = None,
          drop_signoff: bool = False) -> None:
    """Show a validation in the workbook: Validation sheet, marked cells, Cover status."""
    if drop_signoff:  # a new sign-off replaces the old one, so its findings are moot
        report = Report(report.path, [f for f in report.findings
                                      if not f.code.startswith("SIGN")])
    livebook.clear_marks(book, data)
    livebook.write_findings(book, report, signoff.now())
    livebook.mark_cells(book, report.findings)
    livebook.set_fields(book, signoff.field_cells(data), {
        signoff.STATUS: status or signoff.status_after_validation(report, data)})


@xw.script
def validate_workbook(book: xw.Book | None = None) -> None:
    """Validate: list every problem on the Validation sheet, highlight the cells, set the
    status on Cover.  Runs the same checks as ``xlfund validate``."""
    book = _caller(book)
    data = livebook.workbook_data(book)
    _show(book, data, _validate(book, data))


@xw.script
def allocate(book: xw.Book | None = None) -> None:
    """Allocate: compute the allocation from this workbook and write the Allocation and
    Schedule sheets, as ``xlfund allocate`` does."""
    from openpyxl import Workbook

    from .workbook.inputs import model_inputs
    from .workbook.template import write_allocation, write_schedule

    book = _caller(book)
    data = livebook.workbook_data(book)
    try:
        inputs = model_inputs(data)
        result = allocate_clusters(inputs.schools, inputs.clusters, inputs.parameters)
    except XlfundError as exc:
        report = _validate(book, data)
        why = ("the inputs have errors; see the Validation sheet" if report.errors
               else _message(exc))
        _show(book, data, report, status=f"Not allocated: {why}")
        _alert(book, f"Not allocated: {why}")
        return
    scratch = Workbook()
    livebook.mirror_sheet(book, write_allocation(scratch, result), c.ALLOCATION_TABLE.name,
                          after=c.CLUSTERS)
    livebook.mirror_sheet(book, write_schedule(scratch, result), c.SCHEDULE_TABLE.name,
                          after=c.TIMELINE)
    livebook.set_fields(book, signoff.field_cells(data), {signoff.STATUS: ALLOCATED_STATUS})


@xw.script
def sign_off(book: xw.Book | None = None, by: str | None = None) -> None:
    """Sign off: refuse while errors remain; otherwise record who, when and the content
    hash on Cover.  Type your name in 'Signed off by' on Cover first."""
    book = _caller(book)
    data = livebook.workbook_data(book)
    fields = signoff.signoff_fields(data)
    cells = signoff.field_cells(data)
    try:
        signoff.require_fields(cells)
    except InputError as exc:
        _alert(book, _message(exc))
        return
    report = _validate(book, data)
    blocking = signoff.blocking_findings(report)
    if blocking:
        count = len(blocking)
        status = (f"Not signed off: {count} error{'s' * (count != 1)} remain; see the "
                  "Validation sheet")
        _show(book, data, report, status=status, drop_signoff=True)
        _alert(book, status + ".")
        return
    name = " ".join(str(by or "").split()) or signoff.field_text(
        fields[signoff.SIGNED_BY.casefold()].value)
    if not name:
        status = ("Not signed off: type your name in 'Signed off by' on Cover, then press "
                  "Sign off again")
        livebook.set_fields(book, cells, {signoff.STATUS: status})
        _alert(book, status + ".")
        return
    when = signoff.now()
    values = signoff.signoff_values(name, when, signoff.content_hash(data))
    _show(book, data, report, status=values.pop(signoff.STATUS), drop_signoff=True)
    livebook.set_fields(book, cells, values)
    sheet, address = cells[signoff.SIGNED_AT.casefold()]
    book.sheets[sheet][address].number_format = DATETIME
    _alert(book, f"Signed off by {name}. Any later change to the inputs or results will be "
                 "reported by validation (SIGN001).")


@xw.script
def clear_marks(book: xw.Book | None = None) -> None:
    """Clear marks: remove the red highlights the last validation put on cells."""
    book = _caller(book)
    livebook.clear_marks(book, livebook.workbook_data(book))


__all__ = ["xlf_split", "xlf_allocate", "xlf_cluster_allocation", "xlf_part_year",
           "xlf_round_to_total", "xlf_posts_cost", "validate_workbook", "allocate",
           "sign_off", "clear_marks"]
