"""Comparing workbooks: the changes, their cells, and the money effect on each cluster."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from openpyxl.utils.cell import range_boundaries

from tests.test_audit import CORPUS, corpus_files, hang_guard
from tests.variants import make_variant
from xlfund.allocation import allocate
from xlfund.diff import WorkbookDiff, changed_cells, diff_workbooks
from xlfund.errors import XlfundError
from xlfund.workbook.inputs import model_inputs
from xlfund.workbook.reader import read_workbook


def edited(tmp_path: Path, template: Path, change: Callable[..., None],
           name: str = "edited.xlsx") -> Path:
    return make_variant(template, tmp_path / name, change, recalc=False)


def find_row(ws, column: int, value: object) -> int:  # noqa: ANN001 - openpyxl Worksheet
    for row in ws.iter_rows(min_col=column, max_col=column):
        if row[0].value == value:
            return row[0].row
    raise AssertionError(f"{value!r} not found on {ws.title}")


def table_rows(ws, name: str) -> tuple[int, int]:  # noqa: ANN001
    _, first, _, last = range_boundaries(ws.tables[name].ref)
    return first + 1, last


def annual(path: Path) -> dict[str, int]:
    """The engine's annual allocation per cluster, worked out here, apart from the diff."""
    inputs = model_inputs(read_workbook(path))
    return allocate(inputs.schools, inputs.clusters, inputs.parameters).annual_by_cluster()


def effect(diff: WorkbookDiff) -> dict[str, int]:
    return {e.cluster_id: e.change for e in diff.allocation.clusters}


@pytest.fixture(scope="module")
def resaved(tmp_path_factory, shipped_template) -> Path:
    """The template saved by openpyxl unchanged (its formulas lose their cached values)."""
    return edited(tmp_path_factory.mktemp("diff"), shipped_template, lambda wb: None)


def test_a_workbook_equals_itself_and_a_resaved_copy(shipped_template, resaved):
    same = diff_workbooks(shipped_template, shipped_template)
    assert same.identical and "No differences" in same.to_text()
    # formulas are compared by text, not by cached result, so a resave changes nothing
    resave = diff_workbooks(shipped_template, resaved)
    assert resave.identical, resave.to_text()


def test_changed_pupils(tmp_path, shipped_template):
    wb = load_workbook(shipped_template)
    first, _ = table_rows(wb["Schools"], "Schools")
    urn = wb["Schools"].cell(first + 3, 1).value
    old_pupils = wb["Schools"].cell(first + 3, 5).value

    def change(wb) -> None:  # noqa: ANN001
        wb["Schools"].cell(first + 3, 5).value = old_pupils + 40

    new = edited(tmp_path, shipped_template, change)
    diff = diff_workbooks(shipped_template, new)
    (row,) = diff.schools.rows
    assert (row.kind, row.key) == ("changed", str(urn))
    (field,) = row.changes
    assert field.column == "Pupils on roll"
    assert (field.old, field.new) == (old_pupils, old_pupils + 40)
    assert field.new_cell == field.old_cell == f"Schools!E{first + 3}"
    assert not diff.parameters and not diff.clusters and not diff.sheets
    expected = {k: v - annual(shipped_template)[k] for k, v in annual(new).items()}
    assert effect(diff) == expected
    assert sum(expected.values()) == 0  # same pot, shared differently
    assert any(expected.values())
    assert f"Schools!E{first + 3}" in diff.to_text()


def test_added_and_removed_schools(tmp_path, shipped_template):
    wb = load_workbook(shipped_template)
    ws = wb["Schools"]
    first, last = table_rows(ws, "Schools")
    removed_urn = ws.cell(last, 1).value
    removed_cluster = ws.cell(last, 4).value

    def change(wb) -> None:  # noqa: ANN001
        ws = wb["Schools"]
        # remove the last school: clear its row and shrink the table
        for cell in ws[last]:
            cell.value = None
        # add a new school in its place, in cluster C01
        new_values = [999001, "New Free School", "Primary", "C01", 210, 30, 25, 4, None]
        for col, value in enumerate(new_values, start=1):
            ws.cell(last + 1, col, value)
        ws.tables["Schools"].ref = f"A{first - 1}:I{last + 1}"

    new = edited(tmp_path, shipped_template, change)
    diff = diff_workbooks(shipped_template, new)
    added = diff.schools.of_kind("added")
    removed = diff.schools.of_kind("removed")
    assert [(r.key, r.cell, r.new_row) for r in added] == [
        ("999001", f"Schools!A{last + 1}", last + 1)]
    assert added[0].values["Pupils on roll"] == 210 and added[0].name == "New Free School"
    assert [(r.key, r.cell, r.old_row) for r in removed] == [
        (str(removed_urn), f"Schools!A{last}", last)]
    assert not diff.schools.of_kind("changed")
    expected = {k: v - annual(shipped_template).get(k, 0) for k, v in annual(new).items()}
    assert effect(diff) == expected
    assert any(expected.values()) and removed_cluster in expected
    text = diff.to_text()
    assert "added    URN 999001 New Free School" in text
    assert f"removed  URN {removed_urn}" in text


def test_changed_parameter(tmp_path, shipped_template):
    wb = load_workbook(shipped_template)
    row = find_row(wb["Parameters"], 1, "total_funding")

    def change(wb) -> None:  # noqa: ANN001
        wb["Parameters"].cell(row, 3).value = 2_100_000

    new = edited(tmp_path, shipped_template, change)
    diff = diff_workbooks(shipped_template, new)
    (p,) = diff.parameters
    assert (p.key, p.column, p.old, p.new) == ("total_funding", "Value", 2_000_000, 2_100_000)
    assert p.old_cell == p.new_cell == f"Parameters!C{row}"
    before, after = annual(shipped_template), annual(new)
    assert effect(diff) == {k: after[k] - before[k] for k in before}
    # by hand: 75% of the extra £100,000 is delegated and shared out
    assert diff.allocation.new_total - diff.allocation.old_total == 75_000
    data = diff.to_dict()
    assert data["allocation"]["total"] == {"old": 1_500_000, "new": 1_575_000,
                                           "change": 75_000}
    assert f"total_funding: 2,000,000 -> 2,100,000 (Parameters!C{row})" in diff.to_text()


def test_unallocatable_side_is_explained(tmp_path, shipped_template):
    wb = load_workbook(shipped_template)
    row = find_row(wb["Parameters"], 1, "weight_pupils")

    def change(wb) -> None:  # noqa: ANN001
        wb["Parameters"].cell(row, 3).value = 0.5  # weights now add up to 110%

    diff = diff_workbooks(shipped_template, edited(tmp_path, shipped_template, change))
    assert not diff.allocation.available
    assert "new workbook cannot be allocated" in diff.allocation.reason
    assert "weights add up to" in diff.allocation.reason
    assert "old workbook" not in diff.allocation.reason
    assert diff.to_dict()["allocation"]["total"] is None
    assert "not available" in diff.to_text()


def test_signed_off_and_edited_copy(tmp_path, shipped_template):
    """Sign-off fields, sheets outside the contract and edited formulas are all listed."""
    wb = load_workbook(shipped_template)
    status_row = find_row(wb["Cover"], 1, "Status")
    signed = edited(tmp_path, shipped_template, lambda wb: (
        wb["Cover"].cell(status_row, 2, "Signed off"),
        wb.create_sheet("Notes").cell(1, 1, "Agreed at Schools Forum")), "signed.xlsx")

    def change(wb) -> None:  # noqa: ANN001
        wb["Cover"].cell(status_row, 2, "Draft: edited")
        wb["Notes"]["A1"] = "Agreed at Schools Forum, 12 March"
        wb["Notes"]["B3"] = 42
        wb["Parameters"]["H5"] = "=ROUND(total_funding*0.8,0)"  # a derived amount retyped
        wb.create_sheet("Scratch")["C2"] = "working"

    diff = diff_workbooks(signed, edited(tmp_path, signed, change))
    by_sheet = {s.sheet: s for s in diff.sheets}
    assert {(c.cell, c.old, c.new) for c in by_sheet["Notes"].changes} == {
        ("A1", "Agreed at Schools Forum", "Agreed at Schools Forum, 12 March"),
        ("B3", None, 42)}
    assert [(c.cell, c.old, c.new) for c in by_sheet["Cover"].changes] == [
        (f"B{status_row}", "Signed off", "Draft: edited")]
    assert [(c.cell, c.old, c.new) for c in by_sheet["Parameters"].changes] == [
        ("H5", "=ROUND(total_funding*delegated_share,0)", "=ROUND(total_funding*0.8,0)")]
    assert by_sheet["Scratch"].status == "added"
    assert by_sheet["Scratch"].changes[0].cell == "C2"
    assert {"Notes!A1", "Notes!B3", f"Cover!B{status_row}", "Parameters!H5"} <= set(
        changed_cells(diff))
    # the inputs are unchanged, so no cluster's money moves
    assert not any(effect(diff).values())
    json.loads(json.dumps(diff.to_dict()))


def test_workbooks_outside_the_contract(tmp_path):
    def book(name: str, rows: list[list[object]]) -> Path:
        wb = Workbook()
        ws = wb.active
        ws.title = "Budget"
        for r in rows:
            ws.append(r)
        ws["D1"] = "=SUM(B1:C1)"
        path = tmp_path / name
        wb.save(path)
        return path

    old = book("a.xlsx", [["Staff", 100, 5], ["Books", 20, 1]])
    new = book("b.xlsx", [["Staff", 110, 5], ["Books", 20, 1], ["Trips", 7, 0]])
    diff = diff_workbooks(old, new)
    (sheet,) = diff.sheets
    assert [(c.cell, c.old, c.new) for c in sheet.changes] == [
        ("B1", 100, 110), ("A3", None, "Trips"), ("B3", None, 7), ("C3", None, 0)]
    assert not diff.allocation.available
    assert "not allocation workbooks" in diff.allocation.reason
    data = diff.to_dict()
    assert data["schema_version"] == 1 and data["sheets"][0]["changed_cells"] == 4
    assert "Budget!B1: 100 -> 110" in diff.to_text()


def test_unreadable_file_is_a_plain_error(tmp_path, shipped_template):
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(b"not a workbook")
    with pytest.raises(XlfundError) as caught:
        diff_workbooks(shipped_template, bad)
    assert "bad.xlsx" in str(caught.value)
    with pytest.raises(XlfundError, match="does not exist"):
        diff_workbooks(tmp_path / "gone.xlsx", shipped_template)


def test_json_shape(shipped_template, resaved):
    data = diff_workbooks(shipped_template, resaved).to_dict()
    assert set(data) == {"schema_version", "old", "new", "identical", "parameters", "schools",
                         "clusters", "allocation", "sheets", "notes"}
    assert set(data["schools"]) == {"key_column", "added", "removed", "changed",
                                    "columns_added", "columns_removed"}
    assert data["allocation"]["available"] is True
    assert len(data["allocation"]["clusters"]) == 48
    json.dumps(data)


@pytest.mark.slow
@pytest.mark.skipif(not CORPUS.is_dir(), reason="real-world corpus not present")
@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: p.name)
def test_diff_real_world_workbooks(path):
    """Each corpus file compared with itself: no differences, or a plain refusal."""
    with hang_guard(300, f"the comparison of {path.name}"):
        try:
            diff = diff_workbooks(path, path)
        except XlfundError as exc:
            assert path.name in str(exc)
            return
    assert diff.identical, diff.to_text()[:2000]
    json.dumps(diff.to_dict())
    assert diff.to_text()
