"""The Excel buttons (macros) through xlwings' real Office.js runtime.

Each test builds the request Excel would send for a workbook file (every sheet's values,
tables with their addresses, names), runs the macro with
``xlwings.server.custom_scripts_call`` and checks ``book.json()["actions"]``: what
xlwings would tell Excel to write, colour and create.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from openpyxl import load_workbook

from tests.conftest import needs_libreoffice
from tests.excel_env import server, xw
from tests.variants import make_variant, move_table
from tests.xlwings_payload import book_payload
from xlfund import contract as c
from xlfund import excel, livebook
from xlfund.signoff import content_hash
from xlfund.validation import validate
from xlfund.workbook.reader import read_workbook

ALLOCATION_INDEX = 4  # sheet positions in the template (0-based, as in actions)
SCHOOLS_INDEX = 2


# Helpers ----------------------------------------------------------------------------
def run(name: str, payload: dict, *args) -> list[dict]:
    """Run a macro on the workbook Excel sent; return the actions xlwings sends back."""
    book = xw.Book(json=copy.deepcopy(payload))
    try:
        asyncio.run(server.custom_scripts_call(excel, name, typehint_to_value={xw.Book: book},
                                               args=list(args)))
        return book.json()["actions"]
    finally:
        book.close()


def of(actions: list[dict], func: str, sheet: int | None = None) -> list[dict]:
    return [a for a in actions if a["func"] == func
            and (sheet is None or a["sheet_position"] == sheet)]


def written(actions: list[dict], sheet: int, row: int, col: int):
    """The value last written into one cell (1-based row and column)."""
    value = None
    for a in actions:
        if a["func"] in ("setValues", "setFormula") and a["sheet_position"] == sheet:
            r, k = row - 1 - a["start_row"], col - 1 - a["start_column"]
            if 0 <= r < a["row_count"] and 0 <= k < a["column_count"]:
                value = a["values"][r][k]
    return value


def sheet_index(payload: dict, name: str) -> int:
    return [s["name"] for s in payload["sheets"]].index(name)


def findings_table(actions: list[dict]) -> list[list]:
    """The rows the macro wrote under the Validation sheet's header row."""
    added = of(actions, "addSheet")
    assert added and added[-1]["args"][1] == c.VALIDATION
    position = added[-1]["args"][0]
    tables = [a for a in of(actions, "setValues", position)
              if a["values"][0] == list(c.VALIDATION_TABLE.columns)]
    assert len(tables) == 1
    return tables[0]["values"][1:]


def located(rows: list[list]) -> Counter:
    return Counter((r[0], r[2], r[3]) for r in rows if r[0] != "OK")


def from_file(path: Path) -> Counter:
    return Counter((f.code, f.sheet, f.cell) for f in validate(path).findings)


def cover_cell(path: Path, field: str) -> tuple[int, int]:
    """(row, column) of a SignOff field's value, found by reading the file with openpyxl."""
    ws = load_workbook(path)[c.COVER]
    for row in ws.iter_rows():
        for cell in row:
            if cell.value == field:
                return cell.row, cell.column + 1
    raise AssertionError(field)


def row_of(path: Path, sheet: str, key: str) -> int:
    ws = load_workbook(path)[sheet]
    return next(cell.row for cell in ws["A"] if cell.value == key)


def put(payload: dict, sheet: str, row: int, col: int, value) -> None:
    """Type a value into the payload's sheet (1-based row and column)."""
    values = payload["sheets"][sheet_index(payload, sheet)]["values"]
    while len(values) < row:
        values.append([""] * len(values[0]))
    for line in values:
        line.extend([""] * (col - len(line)))
    values[row - 1][col - 1] = value


def fill(path: Path, sheet: str, address: str) -> str | None:
    cell = load_workbook(path)[sheet][address]
    return "#" + cell.fill.fgColor.rgb[-6:] if cell.fill.fill_type == "solid" else None


# Workbooks --------------------------------------------------------------------------
BROKEN_CELLS = {("Schools", "A6"), ("Schools", "D7"), ("Schools", "G8")}


def _break(wb) -> None:
    ws = wb[c.SCHOOLS]
    ws["A6"] = ws["A5"].value  # duplicate URN
    ws["D7"] = "C99"  # a cluster that does not exist
    ws["G8"] = "lots"  # text in a count


@pytest.fixture(scope="module")
def broken(tmp_path_factory, shipped_template) -> Path:
    """The template with a duplicate URN (A6), an unknown cluster (D7) and text in a
    count (G8), recalculated by LibreOffice so every formula has its result."""
    from xlfund.recalc import find_soffice

    if find_soffice() is None:
        pytest.skip("LibreOffice (soffice) is not installed")
    return make_variant(shipped_template, tmp_path_factory.mktemp("broken") / "broken.xlsx",
                        _break)


@pytest.fixture(scope="module")
def moved(tmp_path_factory, shipped_template) -> Path:
    """The template with its Timeline table dragged 3 rows down and 2 columns right (no
    formula refers to it, so nothing else changes)."""
    from xlfund.recalc import find_soffice

    if find_soffice() is None:
        pytest.skip("LibreOffice (soffice) is not installed")
    return make_variant(shipped_template, tmp_path_factory.mktemp("moved") / "moved.xlsx",
                        lambda wb: move_table(wb[c.TIMELINE], c.TIMELINE_TABLE.name, 3, 2))


@pytest.fixture(scope="module")
def template_payload(shipped_template) -> dict:
    return book_payload(shipped_template)


# The open workbook reads like the file ----------------------------------------------
def _reads_alike(path: Path, dates: str) -> None:
    book = xw.Book(json=book_payload(path, dates=dates))
    try:
        live = livebook.workbook_data(book)
    finally:
        book.close()
    file = read_workbook(path)
    assert live.sheet_names == file.sheet_names
    assert live.grids == file.grids
    assert live.table_refs == file.table_refs
    assert sorted(live.tables) == sorted(file.tables)
    for key, table in file.tables.items():
        other = live.tables[key]
        assert (other.sheet, other.header_row, other.columns, other.ref) == (
            table.sheet, table.header_row, table.columns, table.ref)
        assert other.frame.equals(table.frame), key
    assert content_hash(live) == content_hash(file)


@pytest.mark.parametrize("dates", ["iso", "serial"])
def test_open_workbook_reads_exactly_like_the_file(shipped_template, dates):
    _reads_alike(shipped_template, dates)


@needs_libreoffice
def test_a_moved_table_reads_alike_and_is_not_an_edit(moved, shipped_template):
    _reads_alike(moved, "iso")
    assert read_workbook(moved).table_refs[c.TIMELINE_TABLE.name] == (c.TIMELINE, "C7:F13")
    assert content_hash(read_workbook(moved)) == content_hash(read_workbook(shipped_template))
    rows = findings_table(run("validate_workbook", book_payload(moved)))
    assert located(rows) == from_file(moved)


def test_hidden_sheets_are_reported_as_the_file_reader_does(template_copy):
    wb = load_workbook(template_copy)
    wb[c.TIMELINE].sheet_state = "hidden"
    wb[c.SCHEDULE].sheet_state = "veryHidden"
    wb.save(template_copy)
    book = xw.Book(json=book_payload(template_copy))
    try:
        live = livebook.workbook_data(book)
    finally:
        book.close()
    assert live.hidden_sheets == read_workbook(template_copy).hidden_sheets == {
        c.TIMELINE: "hidden", c.SCHEDULE: "veryhidden"}


# Validate ---------------------------------------------------------------------------
def test_validate_the_template(shipped_template, template_payload):
    actions = run("validate_workbook", template_payload)
    # the Validation sheet is added after the workbook's last sheet
    assert of(actions, "addSheet")[0]["args"] == [len(template_payload["sheets"]),
                                                  c.VALIDATION]
    assert located(findings_table(actions)) == from_file(shipped_template)
    assert of(actions, "addTable")[0]["args"][-1] == c.VALIDATION_TABLE.name
    row, col = cover_cell(shipped_template, "Status")
    assert written(actions, 0, row, col).startswith("Valid")
    assert not of(actions, "setRangeColor", SCHOOLS_INDEX)


@needs_libreoffice
def test_validate_a_broken_workbook_lists_links_and_marks_the_cells(broken):
    payload = book_payload(broken)
    actions = run("validate_workbook", payload)
    rows = findings_table(actions)
    errors = {(r[2], r[3]) for r in rows if r[1] == "error"}
    assert errors >= BROKEN_CELLS
    codes = {(r[2], r[3]): r[0] for r in rows}
    assert codes[("Schools", "A6")] == "SCH003"  # duplicate URN
    assert codes[("Schools", "D7")] == "SCH006"  # unknown cluster
    assert all(r[4] and r[5] for r in rows)  # every finding says what and how to fix
    links = [v[0] for a in of(actions, "setFormula") for v in a["values"]]
    assert "=HYPERLINK(\"#'Schools'!D7\",\"D7\")" in links
    marked = {(a["start_row"] + 1, a["start_column"] + 1): a["args"][0]
              for a in of(actions, "setRangeColor", SCHOOLS_INDEX)}
    assert marked == {(6, 1): "#FFC7CE", (7, 4): "#FFC7CE", (8, 7): "#FFC7CE"}
    row, col = cover_cell(broken, "Status")
    assert written(actions, 0, row, col).startswith("Invalid: 3 errors")
    severity = [(a["start_row"] + 1, a["row_count"], a["args"][0])
                for a in of(actions, "setRangeColor", len(payload["sheets"]))]
    assert severity[0] == (5, 3, "#FFC7CE")  # the three errors, listed first, in red


@needs_libreoffice
@pytest.mark.parametrize("dates", ["iso", "serial"])
def test_macro_and_validate_give_the_same_findings(broken, shipped_template, dates):
    for path in (shipped_template, broken):
        rows = findings_table(run("validate_workbook", book_payload(path, dates=dates)))
        assert located(rows) == from_file(path), path.name


@needs_libreoffice
def test_macro_and_the_command_line_give_the_same_findings(broken, shipped_template):
    """`xlfund validate` without the formula audit, which needs the file's formulas."""
    for path in (shipped_template, broken):
        done = subprocess.run([sys.executable, "-m", "xlfund", "validate", "--no-audit",
                               "--format", "json", str(path)],
                              capture_output=True, text=True, timeout=600)
        report = json.loads(done.stdout)["files"][0]
        command_line = Counter((f["code"], f["sheet"], f["cell"]) for f in report["findings"])
        rows = findings_table(run("validate_workbook", book_payload(path)))
        assert located(rows) == command_line, path.name


@needs_libreoffice
def test_revalidating_clears_the_old_marks_before_marking_again(broken, shipped_template):
    payload = book_payload(broken)
    with_sheet = _with_validation_sheet(payload, broken)
    actions = run("validate_workbook", with_sheet)
    colours = [(a["start_row"] + 1, a["start_column"] + 1, a["args"][0])
               for a in of(actions, "setRangeColor", SCHOOLS_INDEX)]
    restored = fill(shipped_template, "Schools", "D7")
    assert colours.index((7, 4, restored)) < colours.index((7, 4, "#FFC7CE"))
    assert of(actions, "sheetDelete")  # the old Validation sheet is replaced


def _with_validation_sheet(payload: dict, path: Path) -> dict:
    """The payload as Excel sends it after an earlier validation wrote its sheet."""
    out = copy.deepcopy(payload)
    findings = validate(path).sorted_findings()
    header = list(c.VALIDATION_TABLE.columns)
    rows = [[f.code, str(f.severity), f.sheet, f.cell, f.message, f.hint] for f in findings]
    values = [["Validation", "", "", "", "", ""], [""] * 6, [""] * 6, header, *rows]
    last = len(values)
    out["sheets"].append({
        "name": c.VALIDATION, "visibility": "Visible", "values": values, "pictures": [],
        "notes": [], "used_range_address": f"A1:F{last}", "tables": [{
            "name": c.VALIDATION_TABLE.name, "range_address": f"A4:F{last}",
            "header_row_range_address": "A4:F4", "data_body_range_address": f"A5:F{last}",
            "total_row_range_address": None, "show_headers": True, "show_totals": False,
            "table_style": "TableStyleLight9", "show_autofilter": True}],
    })
    return out


# Clear marks ------------------------------------------------------------------------
@needs_libreoffice
def test_clear_marks_gives_cells_their_colour_key_back(broken, shipped_template):
    payload = _with_validation_sheet(book_payload(broken), broken)
    actions = run("clear_marks", payload)
    sheets = [s["name"] for s in payload["sheets"]]
    restored = {(sheets[a["sheet_position"]],
                 f"{chr(65 + a['start_column'])}{a['start_row'] + 1}"): a["args"][0]
                for a in of(actions, "setRangeColor")}
    expected = {(f.sheet, f.cell) for f in validate(broken).findings if f.cell}
    assert set(restored) == expected
    for (sheet, cell), colour in restored.items():  # as the template file has it
        assert colour == fill(shipped_template, sheet, cell), (sheet, cell)
    assert restored[("Schools", "D7")] == "#FFF2CC"  # yellow: an input
    assert [a["func"] for a in actions] == ["setRangeColor"] * len(restored)


def test_clear_marks_without_a_validation_sheet_does_nothing(template_payload):
    assert run("clear_marks", template_payload) == []


# Allocate ---------------------------------------------------------------------------
def _allocation_grid(actions: list[dict], position: int = ALLOCATION_INDEX) -> list[list]:
    grids = [a for a in of(actions, "setFormula", position) if a["start_row"] == 0]
    assert len(grids) == 1
    return grids[0]["values"]


def test_allocate_writes_what_the_command_line_wrote(shipped_template, template_payload):
    actions = run("allocate", template_payload)
    grid = _allocation_grid(actions)
    header_row = 4
    assert grid[header_row - 1][:len(c.ALLOCATION_TABLE.columns)] == list(
        c.ALLOCATION_TABLE.columns)
    ws = load_workbook(shipped_template, data_only=True)[c.ALLOCATION]
    table_ref = ws.tables[c.ALLOCATION_TABLE.name].ref
    last = int(table_ref.split(":")[1].lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    for row in range(header_row + 1, last + 1):
        expected = [ws.cell(row, col).value for col in range(1, 17)]
        for got, want in zip(grid[row - 1], expected, strict=True):
            # LibreOffice stored the share with 15 significant digits
            assert got == (pytest.approx(want, rel=1e-14) if isinstance(want, float) else want)
    annual = c.ALLOCATION_TABLE.columns.index(c.ANNUAL_GBP)
    assert sum(grid[r][annual] for r in range(header_row, last)) == 1_500_000
    assert grid[last][annual] == f"=SUM(L5:L{last})"  # totals row formula, as the template
    assert not of(actions, "resizeTable") and not of(actions, "addTable")
    assert of(actions, "setFormula", sheet_index(template_payload, c.SCHEDULE))
    row, col = cover_cell(shipped_template, "Status")
    assert written(actions, 0, row, col) == "Allocated: not yet validated"


def test_allocate_uses_the_figures_typed_in_the_open_workbook(shipped_template,
                                                              template_payload):
    payload = copy.deepcopy(template_payload)
    put(payload, c.PARAMETERS, row_of(shipped_template, c.PARAMETERS, "total_funding"), 3,
        4_000_000)
    grid = _allocation_grid(run("allocate", payload))
    annual = c.ALLOCATION_TABLE.columns.index(c.ANNUAL_GBP)
    part = c.ALLOCATION_TABLE.columns.index(c.PART_YEAR_GBP)
    total_row = next(i for i, r in enumerate(grid) if r[0] == "Total")
    body = grid[4:total_row]
    assert len(body) == 48
    assert sum(r[annual] for r in body) == 3_000_000  # £4m x 75%
    assert sum(r[part] for r in body) == 1_750_000  # 7/12 of it


def test_allocate_with_a_new_cluster_resizes_the_table(template_payload):
    payload = copy.deepcopy(template_payload)
    clusters = payload["sheets"][sheet_index(payload, c.CLUSTERS)]
    table = clusters["tables"][0]
    last = int(table["range_address"].split(":")[1][1:])
    put(payload, c.CLUSTERS, last + 1, 1, "C99")
    put(payload, c.CLUSTERS, last + 1, 2, "New cluster")
    put(payload, c.CLUSTERS, last + 1, 3, 120788)
    put(payload, c.CLUSTERS, last + 1, 4, "Broadland")
    table["range_address"] = f"A4:G{last + 1}"
    table["data_body_range_address"] = f"A5:G{last + 1}"
    clusters["used_range_address"] = f"A1:G{len(clusters['values'])}"
    put(payload, c.SCHOOLS, 6, 4, "C99")  # Blofield Primary moves to the new cluster
    actions = run("allocate", payload)
    clusters_now = last - 4 + 1
    assert of(actions, "resizeTable", ALLOCATION_INDEX)[0]["args"][1] == (
        f"$A$4:$P${4 + clusters_now}")
    grid = _allocation_grid(actions)
    ids = [row[0] for row in grid[4:4 + clusters_now]]
    assert ids[-1] == "C99" and len(set(ids)) == clusters_now
    annual = c.ALLOCATION_TABLE.columns.index(c.ANNUAL_GBP)
    assert sum(row[annual] for row in grid[4:4 + clusters_now]) == 1_500_000
    assert of(actions, "rangeClear", ALLOCATION_INDEX)  # old totals and checks removed


def test_allocate_recreates_a_deleted_allocation_sheet(template_payload):
    payload = copy.deepcopy(template_payload)
    del payload["sheets"][ALLOCATION_INDEX]
    actions = run("allocate", payload)
    added = [a["args"] for a in of(actions, "addSheet")]
    assert [name for _, name in added] == [c.ALLOCATION]
    position = added[0][0]
    assert position == sheet_index(payload, c.CLUSTERS) + 1  # straight after Clusters
    assert of(actions, "addTable", position)[0]["args"][-1] == c.ALLOCATION_TABLE.name


@needs_libreoffice
def test_allocate_refuses_broken_inputs_and_says_why(broken):
    payload = book_payload(broken)
    actions = run("allocate", payload)
    assert not of(actions, "setFormula", ALLOCATION_INDEX)
    assert {(r[2], r[3]) for r in findings_table(actions)} >= BROKEN_CELLS
    row, col = cover_cell(broken, "Status")
    assert written(actions, 0, row, col).startswith("Not allocated")
    assert "Not allocated" in of(actions, "alert")[0]["args"][0]


# Sign off ---------------------------------------------------------------------------
def _typed_name(path: Path, payload: dict, name: str) -> dict:
    out = copy.deepcopy(payload)
    row, col = cover_cell(path, "Signed off by")
    put(out, c.COVER, row, col, name)
    return out


def test_sign_off_records_who_when_and_the_file_content_hash(shipped_template,
                                                             template_payload):
    before = dt.datetime.now().replace(microsecond=0)
    actions = run("sign_off", _typed_name(shipped_template, template_payload, "A. Smith"))
    value = {field: written(actions, 0, *cover_cell(shipped_template, field))
             for field in ("Signed off by", "Signed off at", "Content hash", "Status")}
    assert value["Signed off by"] == "A. Smith"
    assert value["Content hash"] == content_hash(read_workbook(shipped_template))
    assert before <= dt.datetime.fromisoformat(value["Signed off at"]) <= dt.datetime.now()
    assert value["Status"].startswith("Signed off by A. Smith")
    assert "Signed off" in of(actions, "alert")[0]["args"][0]


def test_sign_off_takes_the_name_as_an_argument(shipped_template, template_payload):
    actions = run("sign_off", template_payload, "B. Jones")
    assert written(actions, 0, *cover_cell(shipped_template, "Signed off by")) == "B. Jones"


def test_sign_off_without_a_name_asks_for_one(shipped_template, template_payload):
    actions = run("sign_off", template_payload)
    assert written(actions, 0, *cover_cell(shipped_template, "Content hash")) is None
    assert "type your name" in of(actions, "alert")[0]["args"][0]


@needs_libreoffice
def test_sign_off_is_refused_while_errors_remain(broken):
    actions = run("sign_off", _typed_name(broken, book_payload(broken), "A. Smith"))
    assert written(actions, 0, *cover_cell(broken, "Content hash")) is None
    status = written(actions, 0, *cover_cell(broken, "Status"))
    assert status.startswith("Not signed off: 3 errors remain")
    assert {(r[2], r[3]) for r in findings_table(actions)} >= BROKEN_CELLS


def _signed(path: Path, payload: dict, digest: str) -> dict:
    out = _typed_name(path, payload, "A. Smith")
    put(out, c.COVER, *cover_cell(path, "Content hash"), digest)
    put(out, c.COVER, *cover_cell(path, "Signed off at"), "2013-07-15T10:30:00.000Z")
    return out


def test_validation_notices_an_edit_after_sign_off(shipped_template, template_payload):
    signed = _signed(shipped_template, template_payload,
                     content_hash(read_workbook(shipped_template)))
    actions = run("validate_workbook", signed)
    assert "SIGN001" not in {r[0] for r in findings_table(actions)}
    assert written(actions, 0, *cover_cell(shipped_template, "Status")).startswith(
        "Signed off and valid")
    put(signed, c.SCHOOLS, 5, 5, 1066)  # one more pupil at the first school
    actions = run("validate_workbook", signed)
    row, col = cover_cell(shipped_template, "Content hash")
    sign = [r for r in findings_table(actions) if r[0] == "SIGN001"]
    assert [(r[1], r[2], r[3]) for r in sign] == [("error", c.COVER, f"B{row}")]
    assert "A. Smith" in sign[0][4] and "15 Jul 2013 10:30" in sign[0][4]
    assert written(actions, 0, *cover_cell(shipped_template, "Status")).startswith("Invalid")


def test_sorting_a_table_after_sign_off_is_not_an_edit(shipped_template, template_payload):
    signed = _signed(shipped_template, template_payload,
                     content_hash(read_workbook(shipped_template)))
    values = signed["sheets"][SCHOOLS_INDEX]["values"]
    values[4], values[5] = values[5], values[4]  # rows 5 and 6 swapped
    actions = run("validate_workbook", signed)
    assert "SIGN001" not in {r[0] for r in findings_table(actions)}


def test_signing_off_again_replaces_a_stale_sign_off(shipped_template, template_payload):
    stale = _signed(shipped_template, template_payload, "sha256:" + "0" * 64)
    actions = run("sign_off", stale)
    assert written(actions, 0, *cover_cell(shipped_template, "Content hash")) == (
        content_hash(read_workbook(shipped_template)))
    assert "SIGN001" not in {r[0] for r in findings_table(actions)}


# Classic add-in path: the undecorated functions take the book directly ---------------
def test_macros_run_as_plain_python_on_a_book(shipped_template, template_payload):
    book = xw.Book(json=copy.deepcopy(template_payload))
    try:
        excel.validate_workbook.__wrapped__(book)
        assert of(book.json()["actions"], "addTable")
    finally:
        book.close()


def test_the_office_scripts_client_payload_reads_too():
    """Office Scripts sends fewer keys per sheet (no visibility, no used range)."""
    payload = {
        "client": "Microsoft Office Scripts", "version": xw.__version__,
        "book": {"name": "Book.xlsx", "active_sheet_index": 0, "selection": "A1"},
        "names": [],
        "sheets": [{"name": "Timeline", "pictures": [], "values": [
            ["Milestone", "Start", "End", "Status"],
            ["Delegation", "2013-09-01T00:00:00.000Z", 41729, "Planned"],
            ["", "", "", ""]],
            "tables": [{"name": "Timeline", "range_address": "A1:D3",
                        "header_row_range_address": "A1:D1",
                        "data_body_range_address": "A2:D3", "total_row_range_address": None,
                        "show_headers": True, "show_totals": False,
                        "table_style": "TableStyleLight9", "show_autofilter": True}]}],
    }
    book = xw.Book(json=payload)
    try:
        data = livebook.workbook_data(book)
    finally:
        book.close()
    assert data.hidden_sheets == {}
    assert data.grids["Timeline"][1] == ["Delegation", dt.date(2013, 9, 1),
                                         dt.date(2014, 3, 31), "Planned"]  # serial 41729
    assert data.tables["timeline"].frame.to_dict("records") == [
        {"Milestone": "Delegation", "Start": dt.date(2013, 9, 1), "End": dt.date(2014, 3, 31),
         "Status": "Planned"}]


def test_allocate_says_why_when_the_money_does_not_reach(shipped_template, template_payload):
    payload = copy.deepcopy(template_payload)
    row = row_of(shipped_template, c.PARAMETERS, "lump_sum_per_school")
    put(payload, c.PARAMETERS, row, 3, 10_000)  # 421 schools x £10,000 > the £1.5m pot
    actions = run("allocate", payload)
    assert not of(actions, "setFormula", ALLOCATION_INDEX)
    status = written(actions, 0, *cover_cell(shipped_template, "Status"))
    assert status.startswith("Not allocated")
    alert = of(actions, "alert")[0]["args"][0]
    assert "Not allocated" in alert and ("lump" in alert.lower() or "Validation" in alert)
