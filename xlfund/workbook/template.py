"""Build the allocation workbook from data frames, following docs/workbook.md.

The same writers fill a fresh template (``xlfund template``) and refresh the
Allocation and Schedule sheets of a user's workbook (``xlfund allocate``), so the two
can never drift apart.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from .. import __version__
from .. import contract as c
from ..allocation import AllocationResult
from ..parameters import SPECS, Parameters
from . import style as s

DECISION = (
    "Norfolk County Council MI Sheet 233/12 (7 December 2012): Delegation of Learning "
    "Support Funding to School Clusters from September 2013. 75% of the funding (about "
    "£1.5m) is delegated to school clusters; 25% (about £500k) is kept by the local "
    "authority for about 9 FTE countywide specialist posts. The Learning Support Team is "
    "decommissioned on 31 August 2013."
)
SAMPLE_NOTE = (
    "ILLUSTRATIVE SAMPLE: schools and pupil numbers are public DfE 2019-20 statistics "
    "(Open Government Licence); cluster membership, baselines and factor weights are "
    "invented for illustration. Not 2013 data."
)

TIMELINE = (
    ("Staff briefings and communication to schools", dt.date(2012, 11, 5),
     dt.date(2012, 12, 21), "Complete"),
    ("Liaison with LDD Funding Sub-Group on countywide specialist support",
     dt.date(2013, 1, 7), dt.date(2013, 2, 15), "In progress"),
    ("Formal staff consultation", dt.date(2013, 1, 7), dt.date(2013, 2, 15), "In progress"),
    ("Staffing adjustment process within the local authority", dt.date(2013, 2, 25),
     dt.date(2013, 3, 28), "Planned"),
    ("Learning Support Team decommissioned", dt.date(2013, 8, 31), dt.date(2013, 8, 31),
     "Planned"),
    ("Delegation of Learning Support funding to SEND clusters", dt.date(2013, 9, 1),
     dt.date(2014, 3, 31), "Planned"),
)

# Names of derived cells on the Parameters sheet (Excel formulas).
DERIVED = (
    ("delegated_pot", "Delegated to clusters (£)", "=ROUND(total_funding*delegated_share,0)",
     s.POUNDS),
    ("retained_pot", "Retained by the authority (£)", "=total_funding-delegated_pot", s.POUNDS),
    ("contingency_pot", "Contingency held back (£)",
     "=ROUND(delegated_pot*contingency_share,0)", s.POUNDS),
    ("distributable_pot", "To share between clusters (£)", "=delegated_pot-contingency_pot",
     s.POUNDS),
    ("weights_total", "Factor weights total",
     "=weight_pupils+weight_fsm+weight_sen_support+weight_ehcp", s.PERCENT),
    ("part_year_months", "Months funded in the financial year",
     "=MIN(12,(YEAR(financial_year_end)-YEAR(MAX(delegation_start,financial_year_start)))*12"
     "+MONTH(financial_year_end)-MONTH(MAX(delegation_start,financial_year_start))+1)", "0"),
    ("part_year_pot", "Paid in the financial year (£)",
     "=ROUND(distributable_pot*part_year_months/12,0)", s.POUNDS),
)

SIGN_OFF_FIELDS = ("Decision", "Funding year", "Version", "Status", "Prepared by",
                   "Signed off by", "Signed off at", "Content hash", "Data")


def _define(wb: Workbook, name: str, ws: Worksheet, ref: str) -> None:
    wb.defined_names[name] = DefinedName(name, attr_text=f"{quote_sheetname(ws.title)}!{ref}")


def _abs(column: int, row: int) -> str:
    return f"${get_column_letter(column)}${row}"


def excel_value(value: Any) -> Any:
    """A value as a cell takes it: plain Python numbers, None for blanks (NaN included)."""
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    if isinstance(value, Fraction):
        return int(value) if value.denominator == 1 else float(value)
    if isinstance(value, float) and value != value:
        return None
    return value


def write_cover(wb: Workbook, params: Parameters, sample: bool) -> Worksheet:
    ws = wb.active
    ws.title = c.COVER
    s.sheet_heading(ws, "Learning Support Funding: delegation to school clusters",
                    "Allocation workbook maintained with xlfund. Read docs/workbook.md for "
                    "the layout and docs/excel.md for the buttons.")
    rows = [
        ("Decision", DECISION),
        ("Funding year", "=funding_year"),
        ("Version", f"xlfund {__version__} template"),
        ("Status", "Draft: not validated"),
        ("Prepared by", ""),
        ("Signed off by", ""),
        ("Signed off at", ""),
        ("Content hash", ""),
        ("Data", SAMPLE_NOTE if sample else "Council data"),
    ]
    s.add_table(ws, "SignOff", ("Field", "Value"), rows, formula_columns=("Value",),
                widths={"Field": 18, "Value": 100}, style="TableStyleLight1")
    for row in ws.iter_rows(min_row=s.HEADER_ROW + 1, max_row=s.HEADER_ROW + len(rows),
                            min_col=2, max_col=2):
        for cell in row:
            cell.alignment = s.WRAP
    ws.row_dimensions[s.HEADER_ROW + 1].height = 62
    ws.row_dimensions[s.HEADER_ROW + len(rows)].height = 47
    legend_row = s.HEADER_ROW + len(rows) + 3
    ws.cell(legend_row, 1, "Colour key").font = s.BOLD
    for offset, (role, meaning) in enumerate(
        [("input", "Input: typed by the finance team"),
         ("calc", "Calculation: Excel formula, do not overwrite"),
         ("output", "Output: written by xlfund (Allocate button or `xlfund allocate`)"),
         ("check", "Check: shows OK when the figures reconcile")], start=1):
        cell = ws.cell(legend_row + offset, 1, role.capitalize())
        cell.fill = s.ROLE_FILLS[role]
        ws.cell(legend_row + offset, 2, meaning)
    ws.freeze_panes = None
    return ws


def write_parameters(wb: Workbook, params: Parameters) -> Worksheet:
    ws = wb.create_sheet(c.PARAMETERS)
    s.sheet_heading(ws, "Parameters",
                    "Yellow values are the council's choices. Sources: [decision] MI 233/12; "
                    "[public] published conventions; [assumption] illustrative defaults.")
    values = params.as_dict()
    rows = []
    formats = {}
    for spec in SPECS:
        value = excel_value(values[spec.key])
        rows.append((spec.key, spec.label, value, spec.unit, spec.reference))
        formats[spec.key] = {"money": s.POUNDS, "share": s.PERCENT, "signed_share": s.PERCENT,
                             "date": s.DATE, "number": "0.0", "text": s.TEXT}[spec.kind]
    first, _ = s.add_table(ws, "Parameters", c.PARAMETERS_TABLE.columns, rows,
                           roles={"Value": "input"},
                           widths={"Key": 22, "Parameter": 42, "Value": 14, "Unit": 7,
                                   "Notes": 60})
    for i, spec in enumerate(SPECS):
        cell = ws.cell(first + i, 3)
        cell.number_format = formats[spec.key]
        _define(wb, spec.key, ws, _abs(3, first + i))
    # Derived amounts, beside the table so the table can grow downwards.
    col = 7
    ws.cell(s.HEADER_ROW, col, "Derived amounts").font = s.BOLD
    ws.cell(s.HEADER_ROW, col + 1, "Value").font = s.BOLD
    for i, (name, label, formula, fmt) in enumerate(DERIVED, start=1):
        ws.cell(s.HEADER_ROW + i, col, label)
        cell = ws.cell(s.HEADER_ROW + i, col + 1, formula)
        cell.fill = s.CALC_FILL
        cell.number_format = fmt
        _define(wb, name, ws, _abs(col + 1, s.HEADER_ROW + i))
    check_row = s.HEADER_ROW + len(DERIVED) + 1
    ws.cell(check_row, col, "Check: weights add up to 100%")
    check = ws.cell(check_row, col + 1, '=IF(ROUND(weights_total,10)=1,"OK","CHECK WEIGHTS")')
    check.fill = s.CHECK_FILL
    ws.column_dimensions[get_column_letter(col)].width = 36
    ws.column_dimensions[get_column_letter(col + 1)].width = 16
    return ws


SCHOOL_FORMATS = {c.URN: "0", c.PUPILS: s.PUPILS, c.FSM: s.COUNT, c.SEN_SUPPORT: s.COUNT,
                  c.EHCP: s.COUNT}


def write_schools(wb: Workbook, schools: pd.DataFrame) -> tuple[Worksheet, int, int]:
    ws = wb.create_sheet(c.SCHOOLS)
    s.sheet_heading(ws, "Schools", "One row per school. Pupils on roll may include halves "
                    "for part-time pupils. Choose each school's cluster from the drop-down.")
    headers = c.SCHOOLS_TABLE.columns
    rows = [[excel_value(r.get(h)) for h in headers] for r in schools.to_dict("records")]
    roles = {h: "input" for h in headers if h != c.DATA_NOTE}
    first, last = s.add_table(ws, "Schools", headers, rows, roles=roles, formats=SCHOOL_FORMATS,
                              widths={c.SCHOOL_NAME: 44, c.PHASE: 20, c.DATA_NOTE: 28})
    phase = DataValidation(type="list", formula1='"' + ",".join(c.PHASES) + '"',
                           allow_blank=False, showErrorMessage=True,
                           errorTitle="Phase", error="Choose a phase from the list.")
    cluster = DataValidation(type="list", formula1="=ClusterIDs", allow_blank=False,
                             showErrorMessage=True, errorTitle="Cluster ID",
                             error="Choose a Cluster ID from the Clusters sheet.")
    counts = DataValidation(type="decimal", operator="greaterThanOrEqual", formula1="0",
                            showErrorMessage=True, errorTitle="Pupil count",
                            error="Enter a number of pupils, 0 or more.")
    for dv, column in ((phase, c.PHASE), (cluster, c.CLUSTER_ID)):
        letter = get_column_letter(headers.index(column) + 1)
        dv.add(f"{letter}{first}:{letter}{last}")
        ws.add_data_validation(dv)
    a = get_column_letter(headers.index(c.PUPILS) + 1)
    b = get_column_letter(headers.index(c.EHCP) + 1)
    counts.add(f"{a}{first}:{b}{last}")
    ws.add_data_validation(counts)
    return ws, first, last


def write_clusters(wb: Workbook, clusters: pd.DataFrame, school_rows: tuple[int, int]) -> Worksheet:
    ws = wb.create_sheet(c.CLUSTERS)
    s.sheet_heading(ws, "Clusters", "One row per SEND cluster. Baseline (£) is the cluster's "
                    "previous funding, used by the protection floor; leave blank for none.")
    headers = (*c.CLUSTERS_TABLE.columns, "Schools in cluster", "Pupils in cluster")
    first_school, last_school = school_rows
    sid = f"{quote_sheetname(c.SCHOOLS)}!$D${first_school}:$D${last_school}"
    spupils = f"{quote_sheetname(c.SCHOOLS)}!$E${first_school}:$E${last_school}"
    rows = []
    for i, r in enumerate(clusters.to_dict("records")):
        row_number = s.HEADER_ROW + 1 + i
        rows.append([*(excel_value(r.get(h)) for h in c.CLUSTERS_TABLE.columns),
                     f"=COUNTIF({sid},A{row_number})", f"=SUMIF({sid},A{row_number},{spupils})"])
    roles = {h: "input" for h in c.CLUSTERS_TABLE.columns}
    roles.update({"Schools in cluster": "calc", "Pupils in cluster": "calc"})
    first, last = s.add_table(ws, "Clusters", headers, rows, roles=roles,
                              formats={c.BASELINE: s.POUNDS, c.LEAD_URN: "0",
                                       "Schools in cluster": s.COUNT,
                                       "Pupils in cluster": s.PUPILS},
                              widths={c.CLUSTER_NAME: 30, c.DISTRICT: 22})
    _define(wb, "ClusterIDs", ws, f"$A${first}:$A${last}")
    return ws


def _replace_sheet(wb: Workbook, title: str, after: str | None) -> Worksheet:
    """A fresh sheet called ``title`` where the old one was (or after ``after``)."""
    if title in wb.sheetnames:
        index = wb.sheetnames.index(title)
        del wb[title]
    elif after in wb.sheetnames:
        index = wb.sheetnames.index(after) + 1
    else:
        index = len(wb.sheetnames)
    return wb.create_sheet(title, index)


def _totals_row(ws: Worksheet, row: int, headers: Sequence[str], first: int, last: int,
                summed: Sequence[str], formats: dict[str, str]) -> None:
    ws.cell(row, 1, "Total").font = s.BOLD
    for header in summed:
        col = headers.index(header) + 1
        letter = get_column_letter(col)
        cell = ws.cell(row, col, f"=SUM({letter}{first}:{letter}{last})")
        cell.font = s.BOLD
        cell.fill = s.CALC_FILL
        cell.border = s.TOTAL_BORDER
        cell.number_format = formats.get(header, s.POUNDS)


ALLOCATION_FORMATS = {
    **{h: s.POUNDS for h in (*c.ELEMENT_COLUMNS, c.FORMULA_GBP, c.ANNUAL_GBP, c.PART_YEAR_GBP,
                             c.BASELINE, c.CHANGE_GBP)},
    c.SHARE: s.SHARE, c.PUPILS: s.PUPILS, c.SCHOOL_COUNT: s.COUNT,
}


def write_allocation(wb: Workbook, result: AllocationResult) -> Worksheet:
    """(Re)write the Allocation sheet: the figures that are signed off, as values."""
    ws = _replace_sheet(wb, c.ALLOCATION, c.CLUSTERS)
    params = result.parameters
    s.sheet_heading(ws, f"Allocation {params.funding_year}",
                    "Written by xlfund from the Parameters, Schools and Clusters sheets: do "
                    "not type here. Totals and checks below the table are Excel formulas.")
    headers = c.ALLOCATION_TABLE.columns
    rows = [[excel_value(v) for v in r] for r in result.clusters[list(headers)].itertuples(
        index=False)]
    roles = {h: "output" for h in headers}
    first, last = s.add_table(ws, "Allocation", headers, rows, roles=roles,
                              formats=ALLOCATION_FORMATS, widths={c.CLUSTER_NAME: 30})
    summed = [h for h in headers if h not in (c.CLUSTER_ID, c.CLUSTER_NAME)]
    total_row = last + 1
    _totals_row(ws, total_row, headers, first, last, summed, ALLOCATION_FORMATS)

    def rng(header: str) -> str:
        letter = get_column_letter(headers.index(header) + 1)
        return f"{letter}{first}:{letter}{last}"

    elements = "+".join(rng(h) for h in c.ELEMENT_COLUMNS)
    checks = [
        ("Allocations add up to the pot to share between clusters",
         f'=IF(SUM({rng(c.ANNUAL_GBP)})=distributable_pot,"OK","ERROR: does not add up")'),
        ("Sep-Mar amounts add up to the amount paid in the financial year",
         f'=IF(SUM({rng(c.PART_YEAR_GBP)})=part_year_pot,"OK","ERROR: does not add up")'),
        ("Each cluster's elements add up to its allocation",
         f'=IF(SUMPRODUCT(ABS({elements}-{rng(c.ANNUAL_GBP)}))=0,"OK","ERROR: elements differ")'),
        ("Shares add up to 100%",
         f'=IF(ROUND(SUM({rng(c.SHARE)}),6)=1,"OK","ERROR: shares do not add up")'),
    ]
    _write_checks(ws, total_row + 2, checks)
    return ws


def _write_checks(ws: Worksheet, row: int, checks: Sequence[tuple[str, str]]) -> None:
    ws.cell(row, 1, "Checks").font = s.BOLD
    for i, (label, formula) in enumerate(checks, start=1):
        ws.cell(row + i, 1, formula).fill = s.CHECK_FILL
        ws.cell(row + i, 2, label)


def write_schedule(wb: Workbook, result: AllocationResult) -> Worksheet:
    """(Re)write the monthly payment schedule for the financial year."""
    ws = _replace_sheet(wb, c.SCHEDULE, c.TIMELINE)
    s.sheet_heading(ws, "Payment schedule",
                    "Monthly payments to each cluster in the financial year, written by xlfund. "
                    "Leftover pounds are paid in the earliest months.")
    frame = result.schedule
    headers = list(frame.columns)
    months = headers[2:-1]
    rows = []
    for i, r in enumerate(frame.itertuples(index=False)):
        row_number = s.HEADER_ROW + 1 + i
        values = [excel_value(v) for v in r][:-1]
        if months:
            a, b = get_column_letter(3), get_column_letter(2 + len(months))
            values.append(f"=SUM({a}{row_number}:{b}{row_number})")
        else:
            values.append(0)
        rows.append(values)
    roles = {h: "output" for h in headers}
    roles["Total (£)"] = "calc"
    formats = {h: s.POUNDS for h in headers[2:]}
    first, last = s.add_table(ws, "PaymentSchedule", headers, rows, roles=roles, formats=formats,
                              widths={c.CLUSTER_NAME: 30})
    total_row = last + 1
    _totals_row(ws, total_row, headers, first, last, headers[2:], formats)
    total_letter = get_column_letter(len(headers))
    _write_checks(ws, total_row + 2, [
        ("Payments add up to the amount paid in the financial year",
         f'=IF({total_letter}{total_row}=part_year_pot,"OK","ERROR: does not add up")'),
    ])
    return ws


def write_retained(wb: Workbook, posts: pd.DataFrame) -> Worksheet:
    ws = wb.create_sheet(c.RETAINED)
    s.sheet_heading(ws, "Retained countywide posts",
                    "Posts funded from the retained 25%. Annual cost = FTE x Salary x "
                    "(1 + On-cost rate) + Non-pay, in whole pounds.")
    headers = c.RETAINED_TABLE.columns
    rows = []
    for i, r in enumerate(posts.to_dict("records")):
        n = s.HEADER_ROW + 1 + i
        values = [excel_value(r.get(h)) for h in headers]
        values[headers.index("Annual cost (£)")] = f"=ROUND(D{n}*E{n}*(1+F{n})+G{n},0)"
        rows.append(values)
    roles = {h: "input" for h in headers}
    roles["Annual cost (£)"] = "calc"
    first, last = s.add_table(
        ws, "RetainedPosts", headers, rows, roles=roles,
        formats={"FTE": "0.00", "Salary (£)": s.POUNDS, "On-cost rate": "0.00%",
                 "Non-pay (£)": s.POUNDS, "Annual cost (£)": s.POUNDS},
        widths={"Post": 48, "Function": 38, "Grade": 18, "Notes": 44})
    col = len(headers) + 2
    summary = [
        ("retained_fte", "Total FTE", f"=SUM(D{first}:D{last})", "0.00"),
        ("retained_cost", "Total annual cost (£)", f"=SUM(H{first}:H{last})", s.POUNDS),
        (None, "Retained pot (£)", "=retained_pot", s.POUNDS),
        ("retained_headroom", "Headroom (£)", "=retained_pot-retained_cost", s.POUNDS),
        (None, "Planned FTE", "=retained_fte_planned", "0.00"),
    ]
    ws.cell(s.HEADER_ROW, col, "Summary").font = s.BOLD
    for i, (name, label, formula, fmt) in enumerate(summary, start=1):
        ws.cell(s.HEADER_ROW + i, col, label)
        cell = ws.cell(s.HEADER_ROW + i, col + 1, formula)
        cell.fill = s.CALC_FILL
        cell.number_format = fmt
        if name:
            _define(wb, name, ws, _abs(col + 1, s.HEADER_ROW + i))
    check_row = s.HEADER_ROW + len(summary) + 1
    ws.cell(check_row, col, "Check: posts fit the retained pot")
    ws.cell(check_row, col + 1, '=IF(retained_headroom>=0,"OK","OVERSPENT")').fill = s.CHECK_FILL
    ws.column_dimensions[get_column_letter(col)].width = 30
    ws.column_dimensions[get_column_letter(col + 1)].width = 14
    return ws


def write_timeline(wb: Workbook, rows: Sequence[Sequence[Any]] = TIMELINE) -> Worksheet:
    ws = wb.create_sheet(c.TIMELINE)
    s.sheet_heading(ws, "Timeline", "Milestones from MI 233/12.")
    s.add_table(ws, "Timeline", c.TIMELINE_TABLE.columns, [list(r) for r in rows],
                roles={h: "input" for h in c.TIMELINE_TABLE.columns},
                formats={"Start": s.DATE, "End": s.DATE},
                widths={"Milestone": 62, "Start": 14, "End": 14, "Status": 14})
    return ws


XLWINGS_CONF = (
    ("Interpreter_Win", None),
    ("UDF Modules", "xlfund.excel"),
    ("Debug UDFs", False),
    ("Use UDF Server", False),
    ("Show Console", False),
)


def write_xlwings_conf(wb: Workbook) -> Worksheet:
    """The settings sheet the classic xlwings add-in reads (docs/excel.md).

    Key in column A, value in column B from A1, no header: xlwings' own format.
    """
    ws = wb.create_sheet(c.XLWINGS_CONF)
    for row, (key, value) in enumerate(XLWINGS_CONF, start=1):
        ws.cell(row, 1, key)
        ws.cell(row, 2, value)
    ws.column_dimensions["A"].width = 18
    ws.column_dimensions["B"].width = 40
    return ws


def build_workbook(
    schools: pd.DataFrame,
    clusters: pd.DataFrame,
    params: Parameters,
    posts: pd.DataFrame,
    result: AllocationResult,
    *,
    sample: bool = True,
) -> Workbook:
    """The whole allocation workbook, in the contract's sheet order."""
    wb = Workbook()
    write_cover(wb, params, sample)
    write_parameters(wb, params)
    _, first, last = write_schools(wb, schools)
    write_clusters(wb, clusters, (first, last))
    write_allocation(wb, result)
    write_retained(wb, posts)
    write_timeline(wb)
    write_schedule(wb, result)
    write_xlwings_conf(wb)
    for ws in wb.worksheets:
        ws.sheet_view.zoomScale = 90
        ws["A1"].font = Font(bold=True, size=14, color="1F3864")
    # Deterministic document properties, so regenerating gives the same content.
    stamp = dt.datetime(2013, 1, 1)
    wb.properties.creator = "xlfund"
    wb.properties.created = stamp
    wb.properties.modified = stamp
    wb.properties.title = "Learning Support Funding allocation"
    return wb
