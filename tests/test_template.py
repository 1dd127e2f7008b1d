"""The template workbook: reproducible, readable without Python, agreeing with the engine."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import pytest
from openpyxl import load_workbook

from tests.conftest import needs_libreoffice
from xlfund import contract as c
from xlfund.allocation import allocate
from xlfund.retained import cost_posts
from xlfund.signoff import SIGNOFF_TABLE
from xlfund.workbook.content import content_differences, workbook_content
from xlfund.workbook.inputs import model_inputs
from xlfund.workbook.reader import read_workbook


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@needs_libreoffice
def test_shipped_template_matches_a_fresh_build(shipped_template, fresh_template):
    differences = content_differences(workbook_content(shipped_template),
                                      workbook_content(fresh_template))
    assert differences == [], "regenerate with `xlfund template`: " + "; ".join(differences)


def test_template_follows_the_contract(shipped_template):
    wb = load_workbook(shipped_template)
    assert wb.sheetnames == [*c.SHEETS, c.XLWINGS_CONF]
    conf = {row[0].value: row[1].value for row in wb[c.XLWINGS_CONF].iter_rows()}
    assert conf["UDF Modules"] == "xlfund.excel"
    tables = {name: ws.title for ws in wb.worksheets for name in ws.tables}
    for spec in c.TABLES:
        assert tables.get(spec.name) == spec.sheet, spec.name
    headers = {name: [cell.value for cell in ws[ref][0]]
               for ws in wb.worksheets for name, ref in ws.tables.items()}
    for spec in c.TABLES:
        assert set(spec.required) <= set(headers[spec.name]), spec.name
    schools = wb[c.SCHOOLS]
    formulas = {dv.formula1 for dv in schools.data_validations.dataValidation}
    assert "=ClusterIDs" in formulas
    assert any(f and "Secondary" in f for f in formulas)
    assert schools.freeze_panes == "A5"
    cover = " ".join(str(cell.value) for row in wb[c.COVER].iter_rows() for cell in row
                     if cell.value)
    assert "MI Sheet 233/12" in cover and "ILLUSTRATIVE" in cover


def test_every_formula_carries_a_cached_value(shipped_template):
    data = read_workbook(shipped_template)
    assert data.formulas, "the template should contain Excel formulas"
    assert list(data.uncalculated_cells()) == []
    assert list(data.error_cells()) == []


def test_template_figures_agree_with_the_engine(shipped_template):
    """Values LibreOffice computed from the formulas equal the Python engine's."""
    data = read_workbook(shipped_template)
    inputs = model_inputs(data)
    result = allocate(inputs.schools, inputs.clusters, inputs.parameters)
    pots = result.pots
    names = {name: value for name, value in _defined_values(shipped_template, data).items()}
    assert names["delegated_pot"] == pots.delegated
    assert names["retained_pot"] == pots.retained
    assert names["distributable_pot"] == pots.distributable
    assert names["part_year_pot"] == pots.part_year_total
    assert names["part_year_months"] == len(pots.payment_months)
    # the Allocation table holds exactly what the engine computes from the inputs
    allocation = data.find_table(c.ALLOCATION_TABLE)
    sheet_rows = allocation.frame.to_dict("records")
    for engine_row, sheet_row in zip(result.clusters.to_dict("records"), sheet_rows, strict=True):
        for column in c.ELEMENT_COLUMNS + (c.ANNUAL_GBP, c.PART_YEAR_GBP):
            assert sheet_row[column] == engine_row[column], (engine_row[c.CLUSTER_ID], column)
    # the Total row under the table (SUM formulas) adds to the pot
    total_row = max(allocation.frame.index) + 1
    annual = data.value(c.ALLOCATION, allocation.cell(c.ANNUAL_GBP, total_row))
    assert annual == pots.distributable
    # every post's cost formula agrees with the engine's costing
    posts = data.find_table(c.RETAINED_TABLE)
    costed = cost_posts(inputs.posts, pots.retained)
    assert posts.frame["Annual cost (£)"].tolist() == costed.posts["Annual cost (£)"].tolist()
    assert names["retained_cost"] == costed.total_cost
    assert names["retained_headroom"] == costed.headroom


def _defined_values(path, data):
    wb = load_workbook(path)
    out = {}
    for name, dn in wb.defined_names.items():
        for sheet, ref in dn.destinations:
            if ":" not in ref:
                out[name] = data.value(sheet, ref.replace("$", ""))
    return out


def test_check_cells_all_say_ok(shipped_template):
    data = read_workbook(shipped_template)
    checks = [(sheet, addr, data.value(sheet, addr))
              for sheet, cells in data.formulas.items() for addr, f in cells.items()
              if '"OK"' in f]
    assert len(checks) >= 6
    assert all(value == "OK" for _, _, value in checks), checks


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "xlfund", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=600)


@needs_libreoffice
def test_allocate_writes_a_new_file_and_never_touches_the_input(template_copy, tmp_path):
    before = sha256(template_copy)
    out = tmp_path / "allocated.xlsx"
    done = run_cli("allocate", str(template_copy), "--output", str(out))
    assert done.returncode == 0, done.stderr
    assert sha256(template_copy) == before
    assert "£1,500,000" in done.stdout and "Total" in done.stdout
    data = read_workbook(out)
    table = data.find_table(c.ALLOCATION_TABLE)
    assert sum(table.frame[c.ANNUAL_GBP]) == 1_500_000
    assert list(data.uncalculated_cells()) == []
    cover = data.find_table(SIGNOFF_TABLE)
    status_row = next(r for r in cover.frame.index if cover.frame.at[r, "Field"] == "Status")
    assert cover.frame.at[status_row, "Value"] == c.ALLOCATED_STATUS


def test_allocate_refuses_to_overwrite_its_input(template_copy):
    before = sha256(template_copy)
    done = run_cli("allocate", str(template_copy), "--output", str(template_copy))
    assert done.returncode == 1
    assert "never changes an input" in done.stderr
    assert sha256(template_copy) == before


@pytest.mark.parametrize("edit, message", [
    (lambda wb: wb[c.SCHOOLS].cell(6, 1, wb[c.SCHOOLS].cell(5, 1).value),
     "appears twice"),
    (lambda wb: wb[c.SCHOOLS].cell(5, 4, "NOPE"), "in cluster 'NOPE', which is not in"),
    (lambda wb: wb[c.PARAMETERS].cell(14, 3, 0.9), "factor weights add up to"),
])
def test_allocate_explains_bad_input_without_a_traceback(template_copy, tmp_path, edit, message):
    wb = load_workbook(template_copy)
    edit(wb)
    wb.save(template_copy)
    done = run_cli("allocate", str(template_copy), "--output", str(tmp_path / "out.xlsx"),
                   "--no-recalc")
    assert done.returncode == 1
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out.xlsx").exists()


def test_cli_usage_errors_exit_2(tmp_path):
    done = run_cli("allocate", str(tmp_path / "missing.xlsx"), "--output", "x.xlsx")
    assert done.returncode == 2
