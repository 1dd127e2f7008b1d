"""Validation of the template and of broken copies: exact code, sheet and cell."""

from __future__ import annotations

import pytest
from openpyxl.utils import get_column_letter

from tests.conftest import needs_libreoffice
from tests.variants import (
    FIRST,
    HEADER,
    delete_column,
    header_column,
    make_variant,
    move_table,
    parameter_row,
    swap_columns,
)
from xlfund import contract as c
from xlfund.findings import Severity
from xlfund.validation import validate


def cell(ws, header: str, row: int) -> str:
    return f"{get_column_letter(header_column(ws, header))}{row}"


def located(report):
    return {(f.code, f.sheet, f.cell) for f in report.findings}


def test_template_validates_clean(shipped_template):
    report = validate(shipped_template)
    assert report.status == "valid"
    assert [f for f in report.findings if f.severity != Severity.INFO] == []


# Each case: an edit to a copy of the template, and the finding it must produce, located
# by looking the cell up in the edited workbook (never copied from the validator's output).
def dup_urn(wb):
    ws = wb[c.SCHOOLS]
    ws[cell(ws, c.URN, FIRST + 7)] = ws[cell(ws, c.URN, FIRST + 2)].value
    return "SCH003", c.SCHOOLS, cell(ws, c.URN, FIRST + 7)


def unknown_cluster(wb):
    ws = wb[c.SCHOOLS]
    ws[cell(ws, c.CLUSTER_ID, FIRST + 10)] = "C99"
    return "SCH006", c.SCHOOLS, cell(ws, c.CLUSTER_ID, FIRST + 10)


def negative_pupils(wb):
    ws = wb[c.SCHOOLS]
    ws[cell(ws, c.PUPILS, FIRST + 3)] = -12
    return "SCH008", c.SCHOOLS, cell(ws, c.PUPILS, FIRST + 3)


def fsm_above_pupils(wb):
    ws = wb[c.SCHOOLS]
    ws[cell(ws, c.FSM, FIRST + 4)] = ws[cell(ws, c.PUPILS, FIRST + 4)].value + 10
    return "SCH011", c.SCHOOLS, cell(ws, c.FSM, FIRST + 4)


def text_in_count(wb):
    ws = wb[c.SCHOOLS]
    ws[cell(ws, c.SEN_SUPPORT, FIRST + 20)] = "about 12"
    return "SCH007", c.SCHOOLS, cell(ws, c.SEN_SUPPORT, FIRST + 20)


def blank_urn(wb):
    ws = wb[c.SCHOOLS]
    ws[cell(ws, c.URN, FIRST + 30)] = None
    return "SCH001", c.SCHOOLS, cell(ws, c.URN, FIRST + 30)


def weights_off(wb):
    ws = wb[c.PARAMETERS]
    ws.cell(parameter_row(ws, "weight_fsm"), 3, 0.25)
    return "PAR004", c.PARAMETERS, f"C{parameter_row(ws, 'weight_pupils')}"


def tampered_allocation(wb):
    ws = wb[c.ALLOCATION]
    target = ws[cell(ws, c.ANNUAL_GBP, FIRST + 5)]
    target.value = target.value + 100
    return "ALLOC003", c.ALLOCATION, target.coordinate


def retained_overspend(wb):
    ws = wb[c.RETAINED]
    ws[cell(ws, "Salary (£)", FIRST)] = 400_000
    return "RET002", c.RETAINED, cell(ws, "Annual cost (£)", HEADER)


def missing_column(wb):
    ws = wb[c.SCHOOLS]
    delete_column(ws, "Schools", c.EHCP)
    return "SHEET003", c.SCHOOLS, f"A{HEADER}"


def renamed_sheet(wb):
    wb[c.TIMELINE].title = "Milestones"
    return "SHEET001", c.TIMELINE, ""


def text_date_in_timeline(wb):
    ws = wb[c.TIMELINE]
    ws[cell(ws, "Start", FIRST + 1)] = "early January"
    return "TL001", c.TIMELINE, cell(ws, "Start", FIRST + 1)


def lead_in_other_cluster(wb):
    clusters = wb[c.CLUSTERS]
    other_lead = clusters[cell(clusters, c.LEAD_URN, FIRST + 1)].value
    clusters[cell(clusters, c.LEAD_URN, FIRST)] = other_lead
    return "CLU004", c.CLUSTERS, cell(clusters, c.LEAD_URN, FIRST)


def lead_school_without_cluster(wb):
    """Found by damage testing: a blank Cluster ID on a lead school crashed the check."""
    schools, clusters = wb[c.SCHOOLS], wb[c.CLUSTERS]
    lead = clusters[cell(clusters, c.LEAD_URN, FIRST)].value
    row = next(r[0].row for r in schools.iter_rows(min_row=FIRST) if r[0].value == lead)
    schools[cell(schools, c.CLUSTER_ID, row)] = ""
    return "CLU004", c.CLUSTERS, cell(clusters, c.LEAD_URN, FIRST)


BROKEN = [lead_school_without_cluster, dup_urn, unknown_cluster, negative_pupils,
          fsm_above_pupils, text_in_count, blank_urn, weights_off, tampered_allocation,
          retained_overspend, missing_column, renamed_sheet, text_date_in_timeline,
          lead_in_other_cluster]


@needs_libreoffice
@pytest.mark.parametrize("edit", BROKEN, ids=[f.__name__ for f in BROKEN])
def test_broken_variant_is_found_at_its_cell(shipped_template, tmp_path, edit):
    expected = {}

    def apply(wb):
        expected["finding"] = edit(wb)

    path = make_variant(shipped_template, tmp_path / f"{edit.__name__}.xlsx", apply)
    report = validate(path)
    assert expected["finding"] in located(report), sorted(located(report))
    assert report.status == "invalid"
    finding = next(f for f in report.findings if (f.code, f.sheet, f.cell) == expected["finding"])
    assert finding.message and finding.hint
    for jargon in ("pandera", "SchemaError", "dtype", "Traceback", "failure_case"):
        assert jargon not in finding.message


def moved_schools_table(wb):
    move_table(wb[c.SCHOOLS], "Schools", rows=3, cols=2)


def reordered_columns(wb):
    swap_columns(wb[c.SCHOOLS], "Schools", c.PUPILS, c.EHCP)
    swap_columns(wb[c.CLUSTERS], "Clusters", c.CLUSTER_NAME, c.BASELINE)


def extra_user_column(wb):
    ws = wb[c.SCHOOLS]
    last = ws.max_column + 1
    ws.cell(HEADER + 0, last + 2, "My own notes")  # outside the table: ignored


@needs_libreoffice
@pytest.mark.parametrize("edit", [moved_schools_table, reordered_columns, extra_user_column],
                         ids=["table moved", "columns reordered", "own column"])
def test_rearranged_workbook_still_validates(shipped_template, tmp_path, edit):
    path = make_variant(shipped_template, tmp_path / "rearranged.xlsx", edit)
    report = validate(path)
    problems = [f for f in report.findings if f.severity != Severity.INFO]
    assert report.status == "valid", problems
    assert problems == []


def test_saved_without_calculating_is_reported(shipped_template, tmp_path):
    """openpyxl drops cached results: every formula is then 'not calculated', never blank."""
    path = make_variant(shipped_template, tmp_path / "nocalc.xlsx", lambda wb: None,
                        recalc=False)
    report = validate(path)
    cells = {(f.sheet, f.cell) for f in report.findings if f.code == "CELL002"}
    assert (c.PARAMETERS, "H5") in cells  # delegated_pot's formula
    assert report.status == "invalid"


@needs_libreoffice
def test_error_value_is_located(shipped_template, tmp_path):
    def edit(wb):
        wb[c.RETAINED]["K20"] = "=1/0"
    report = validate(make_variant(shipped_template, tmp_path / "err.xlsx", edit))
    assert ("CELL001", c.RETAINED, "K20") in located(report)


def test_table_without_a_name_is_found_by_its_headers(shipped_template, tmp_path):
    def edit(wb):
        del wb[c.TIMELINE].tables["Timeline"]
    path = make_variant(shipped_template, tmp_path / "noname.xlsx", edit, recalc=False)
    report = validate(path)
    assert ("SHEET004", c.TIMELINE, f"A{HEADER}") in located(report)
    assert not any(f.code.startswith("TL") for f in report.findings)
