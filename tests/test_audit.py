"""The formula audit: each planted fault is found at its cell; the clean template is quiet."""

from __future__ import annotations

import contextlib
import re
import signal
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from openpyxl.formula.tokenizer import Tokenizer
from openpyxl.formula.translate import Translator, TranslatorError
from openpyxl.utils import get_column_letter

from tests.conftest import SHARED, needs_libreoffice
from tests.variants import make_variant
from xlfund.audit import (
    AuditLimits,
    AuditUnreadable,
    audit_data,
    audit_workbook,
    hard_coded_numbers,
    relative_form,
    split_sheet,
)
from xlfund.errors import XlfundError
from xlfund.findings import CHECKS, Finding, Severity
from xlfund.workbook.reader import read_workbook

CORPUS = SHARED / "corpus" / "real-world"
A1 = re.compile(r"^[A-Z]{1,3}[1-9][0-9]*$")


def broken_copy(tmp_path: Path, template: Path, change: Callable[..., None],
                name: str = "broken.xlsx") -> Path:
    """A copy of the template changed with openpyxl, as a user's script might."""
    return make_variant(template, tmp_path / name, change, recalc=False)


def at(findings: list[Finding], code: str) -> set[str]:
    return {f.location for f in findings if f.code == code and f.severity != Severity.INFO}


def _set(sheet: str, cell: str, value: object) -> Callable[..., None]:
    def change(wb) -> None:  # noqa: ANN001 - openpyxl Workbook
        wb[sheet][cell] = value
    return change


def _manual(wb) -> None:  # noqa: ANN001
    wb.calculation.calcMode = "manual"


PLANTED = [
    # (what, change, code, location)
    ("hard-coded share", _set("Parameters", "H5", "=ROUND(total_funding*0.75,0)"),
     "AUDIT004", "Parameters!H5"),
    ("hard-coded percentage", _set("Retained", "H6", "=ROUND(D6*E6*(1+21.5%)+G6,0)"),
     "AUDIT004", "Retained!H6"),
    ("odd row in Retained 'Annual cost (£)'", _set("Retained", "H7", "=ROUND(D7*E7*(1+F6)+G7,0)"),
     "AUDIT005", "Retained!H7"),
    ("odd row in the Clusters COUNTIF column",
     _set("Clusters", "F10", "=COUNTIF('Schools'!$D$5:$D$425,A9)"), "AUDIT005", "Clusters!F10"),
    ("figure typed over a calculated column", _set("Retained", "H8", 98016),
     "AUDIT006", "Retained!H8"),
    ("reference to an emptied input", _set("Retained", "G6", None), "AUDIT007", "Retained!H6"),
    ("loop across sheets through defined names",
     _set("Parameters", "H5", "=ROUND(total_funding*delegated_share,0)-MIN(0,retained_headroom)"),
     "AUDIT008", "Parameters!H5"),
    ("total that includes itself", _set("Schedule", "J53", "=SUM(J5:J53)"),
     "AUDIT008", "Schedule!J53"),
    ("manual calculation", _manual, "AUDIT009", "(file)"),
    ("external link", _set("Clusters", "E7", "='[Baselines 2012.xlsx]Clusters'!E7"),
     "AUDIT010", "Clusters!E7"),
    ("volatile TODAY()", _set("Cover", "B12", "=TODAY()"), "AUDIT011", "Cover!B12"),
    ("volatile OFFSET", _set("Retained", "L6", "=SUM(OFFSET(H5,0,0,6,1))"),
     "AUDIT011", "Retained!L6"),
    ("whole-column reference", _set("Clusters", "G5", "=SUMIF('Schools'!D:D,A5,'Schools'!E:E)"),
     "AUDIT012", "Clusters!G5"),
    ("deleted cells", _set("Retained", "L9", "=#REF!*2"), "AUDIT003", "Retained!L9"),
    ("error value typed in an input", _set("Parameters", "C7", "#DIV/0!"),
     "AUDIT001", "Parameters!C7"),
    ("error passed on", _set("Parameters", "C7", "#DIV/0!"), "AUDIT002", "Parameters!H5"),
]


@pytest.fixture(scope="module")
def resaved(tmp_path_factory, shipped_template) -> Path:
    """The template opened and saved by openpyxl, unchanged: the control for PLANTED."""
    return broken_copy(tmp_path_factory.mktemp("resaved"), shipped_template, lambda wb: None)


def test_the_clean_template_audits_clean(shipped_template):
    findings = audit_workbook(shipped_template)
    loud = [f for f in findings if f.severity in (Severity.ERROR, Severity.WARNING)]
    assert loud == [], [f"{f.code} {f.location}: {f.message}" for f in loud]


def test_an_openpyxl_copy_only_lacks_calculated_values(resaved):
    """Without any change, saving with openpyxl only drops cached values (AUDIT013)."""
    findings = audit_workbook(resaved)
    assert {f.code for f in findings} == {"AUDIT013"}
    # capped per sheet: Clusters has 96 formulas -> 50 findings and one summary
    clusters = [f for f in findings if f.sheet == "Clusters"]
    assert len(clusters) == 51
    assert clusters[-1].severity == Severity.INFO and "46 more" in clusters[-1].message


@pytest.mark.parametrize(("what", "change", "code", "location"), PLANTED,
                         ids=[p[0] for p in PLANTED])
def test_each_planted_fault_is_found_at_its_cell(tmp_path, shipped_template, resaved, what,
                                                 change, code, location):
    broken = broken_copy(tmp_path, shipped_template, change)
    found = audit_workbook(broken)
    assert location in at(found, code), (what, [(f.code, f.location) for f in found
                                                if f.code != "AUDIT013"])
    assert location not in at(audit_workbook(resaved), code)
    assert CHECKS[code].severity in (Severity.ERROR, Severity.WARNING)


def test_odd_one_out_is_reported_alone(tmp_path, shipped_template):
    broken = broken_copy(tmp_path, shipped_template,
                         _set("Clusters", "F10", "=COUNTIF('Schools'!$D$5:$D$425,A9)"))
    odd = [f for f in audit_workbook(broken) if f.code == "AUDIT005"]
    assert [f.location for f in odd] == ["Clusters!F10"]
    assert "=COUNTIF('Schools'!$D$5:$D$425,A10)" in odd[0].message  # what it should be


def test_loop_message_names_every_cell_in_it(tmp_path, shipped_template):
    change = _set("Parameters", "H5",
                  "=ROUND(total_funding*delegated_share,0)-MIN(0,retained_headroom)")
    loops = [f for f in audit_workbook(broken_copy(tmp_path, shipped_template, change))
             if f.code == "AUDIT008"]
    assert len(loops) == 1
    # H5 (delegated_pot) -> Retained!L8 (retained_headroom) -> H6 (retained_pot) -> H5
    for cell in ("Parameters!H5", "Parameters!H6", "Retained!L8"):
        assert cell in loops[0].message


def test_error_passed_on_names_where_it_starts(tmp_path, shipped_template):
    findings = audit_workbook(broken_copy(tmp_path, shipped_template,
                                          _set("Parameters", "C7", "#DIV/0!")))
    passed = {f.location: f.message for f in findings if f.code == "AUDIT002"}
    # delegated_share feeds delegated_pot (H5), which feeds retained_pot (H6)
    assert "Parameters!C7" in passed["Parameters!H5"]
    assert "Parameters!C7" in passed["Parameters!H6"] and "Parameters!H5" in passed[
        "Parameters!H6"]
    assert at(findings, "AUDIT001") == {"Parameters!C7"}
    # formulas that do not use delegated_share are not blamed
    assert "Parameters!H9" not in passed and "Clusters!F5" not in passed


@needs_libreoffice
def test_cached_error_results_after_recalculation(tmp_path, shipped_template):
    """With real cached #DIV/0! results (LibreOffice), the origin and the chain are the same."""
    from xlfund.recalc import recalculate

    broken = broken_copy(tmp_path, shipped_template, _set("Parameters", "C7", "=1/0"))
    recalculate(broken)
    findings = audit_workbook(broken)
    assert at(findings, "AUDIT001") == {"Parameters!C7"}
    assert {"Parameters!H5", "Parameters!H6"} <= at(findings, "AUDIT002")
    assert "AUDIT013" not in {f.code for f in findings}


def test_allowed_constants_are_configurable(tmp_path, shipped_template):
    broken = broken_copy(tmp_path, shipped_template,
                         _set("Parameters", "H5", "=ROUND(total_funding*0.75,0)"))
    assert "Parameters!H5" in at(audit_workbook(broken), "AUDIT004")
    relaxed = audit_workbook(broken, allowed_constants=(0, 1, 12, 0.75))
    assert "Parameters!H5" not in at(relaxed, "AUDIT004")


@pytest.mark.parametrize(("formula", "expected"), [
    ("=ROUND(A1*B1,2)", []),  # decimal places of ROUND
    ("=ROUNDUP(A1,3)+ROUNDDOWN(A1,4)+TRUNC(A1,5)", []),
    ("=ROUND(A1*1.5,0)", ["1.5"]),
    ("=A1*12+A2/100-1", []),
    ("=-7", ["7"]),
    ("=A1*5%", ["5%"]),
    ("=A1*100%", []),  # 100% is 1
    ("=IF(A1>7696,(A1-7696)*0.138,0)", ["7696", "7696", "0.138"]),
    ("=SUM({1,2,3})", ["3"]),
    ('=TEXT(A1,"0.00")', []),  # numbers in text are not numbers
])
def test_hard_coded_numbers(formula, expected):
    assert hard_coded_numbers(Tokenizer(formula).items, (0, 1, 2, 12, 100, 1000)) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("A1", (None, "A1")),
    ("'My sheet'!$B$2", ("'My sheet'", "$B$2")),
    ("'It''s!'!A1", ("'It''s!'", "A1")),
    ("[1]Sheet1!A1", ("[1]Sheet1", "A1")),
    ("Table1[Col!x]", (None, "Table1[Col!x]")),
    ("Sheet1:Sheet3!A1:B2", ("Sheet1:Sheet3", "A1:B2")),
])
def test_split_sheet(text, expected):
    assert split_sheet(text) == expected


FORMULAS = ["=A1+B1", "=SUM($C$5:C9)*D$2", "=Sheet2!A1-$B7", "=ROUND(D5*E5*(1+F5)+G5,0)",
            "=COUNTIF('Schools'!$D$5:$D$425,A5)", "=SUM(A:A)+SUM(3:3)", "=total_funding*B4"]


@settings(max_examples=200, deadline=None)
@given(formula=st.sampled_from(FORMULAS), row=st.integers(10, 5000), col=st.integers(8, 200),
       drow=st.integers(-5, 5000), dcol=st.integers(-5, 200))
def test_a_copied_formula_has_the_same_relative_form(formula, row, col, drow, dcol):
    """Copying a formula (Translator) keeps its R1C1 form; a changed reference does not."""
    origin = f"{get_column_letter(col)}{row}"
    dest = (row + drow, col + dcol)
    try:
        moved = Translator(formula, origin).translate_formula(
            f"{get_column_letter(dest[1])}{dest[0]}")
    except TranslatorError:  # Excel would show #REF!: not a copy of the formula
        assume(False)
    form = relative_form(Tokenizer(formula).items, (row, col))
    assert form is not None
    assert relative_form(Tokenizer(moved).items, dest) == form
    if "B1" in formula:
        other = formula.replace("B1", "B2")
        assert relative_form(Tokenizer(other).items, (row, col)) != form


def test_audit_of_read_data_agrees_with_audit_of_the_file(tmp_path, shipped_template):
    def change(wb) -> None:  # noqa: ANN001
        wb["Parameters"]["H5"] = "=ROUND(total_funding*0.75,0)"
        wb["Retained"]["H7"] = "=ROUND(D7*E7*(1+F6)+G7,0)"
        wb["Cover"]["B12"] = "=TODAY()"
        wb["Retained"]["G6"] = None

    broken = broken_copy(tmp_path, shipped_template, change)
    from_file = {(f.code, f.location) for f in audit_workbook(broken)}
    from_data = {(f.code, f.location) for f in audit_data(read_workbook(broken))}
    assert from_file == from_data
    assert ("AUDIT005", "Retained!H7") in from_data


def test_limits_stop_the_audit_and_say_so(shipped_template):
    findings = audit_workbook(shipped_template, limits=AuditLimits(max_formulas=20))
    stopped = [f for f in findings if f.code == "AUDIT014"]
    assert len(stopped) == 1 and stopped[0].severity == Severity.INFO
    assert stopped[0].sheet == "Clusters"  # Cover 1 + Parameters 8 formulas, then Clusters
    assert "20 formulas" in stopped[0].message


def test_many_formulas_are_bounded(tmp_path):
    """A sheet of 30,000 formulas audited with a 10,000 limit stops there."""
    wb = Workbook()
    ws = wb.active
    for r in range(1, 30_001):
        ws.cell(r, 1, r)
        ws.cell(r, 2, f"=A{r}*2")
    path = tmp_path / "big.xlsx"
    wb.save(path)
    findings = audit_workbook(path, limits=AuditLimits(max_formulas=10_000))
    assert any(f.code == "AUDIT014" and f.cell == "B10000" for f in findings)
    assert not any(f.code == "AUDIT013" and f.cell == "B10001" for f in findings)


def test_circularity_through_structured_references(tmp_path):
    from openpyxl.worksheet.table import Table

    wb = Workbook()
    ws = wb.active
    ws.title = "Data"
    ws.append(["Qty", "Price", "Total"])
    for qty, price in ((1, 10), (2, 20), (3, 30)):
        row = ws.max_row + 1
        ws.append([qty, price, "=[@Qty]*[@Price]"])
    ws.add_table(Table(displayName="Sales", ref=f"A1:C{row}"))
    ws["E1"] = "=SUM(Sales[Total])"
    ws["E2"] = "=E1+SUM(Sales[Total])/E1"
    ws["C3"] = "=[@Qty]*[@Price]+E2*0"  # a row that uses the total of its own column
    path = tmp_path / "sales.xlsx"
    wb.save(path)
    findings = audit_workbook(path)
    loops = [f for f in findings if f.code == "AUDIT008"]
    # C3 -> E2 -> E1 -> Sales[Total] -> C3, reported once at its first cell (row by row)
    assert [f.location for f in loops] == ["Data!E1"]
    assert "Data!C3" in loops[0].message and "Data!E2" in loops[0].message
    assert "Data!C2" not in loops[0].message
    # row formulas [@Qty]*[@Price] are not circular and refer to filled cells
    assert not at(findings, "AUDIT007")


def test_shape_only_and_blank_tests_are_not_faults(tmp_path):
    wb = Workbook()
    ws = wb.active
    ws["A1"] = "=ROWS(A1:A10)"  # uses the size of its own column, not values
    ws["B1"] = '=IF(C1="","",C1*2)'  # expects C1 may be empty
    ws["B2"] = "=C2*2"  # does not
    path = tmp_path / "shapes.xlsx"
    wb.save(path)
    findings = audit_workbook(path)
    assert not at(findings, "AUDIT008")
    assert at(findings, "AUDIT007") == {"Sheet!B2"}


@pytest.mark.parametrize("name", ["old.xls", "damaged.xlsx", "missing.xlsx", "text.xlsx"])
def test_unreadable_files_get_a_plain_answer(tmp_path, name):
    path = tmp_path / name
    if name == "old.xls":
        path.write_bytes(b"\xd0\xcf\x11\xe0" + b"\0" * 100)
    elif name == "damaged.xlsx":
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("[Content_Types].xml", "<Types/>")
    elif name == "text.xlsx":
        path.write_text("URN,Name\n1,A\n")
    with pytest.raises(AuditUnreadable) as caught:
        audit_workbook(path)
    assert isinstance(caught.value, XlfundError)
    assert name in str(caught.value)
    assert "Traceback" not in str(caught.value)


def corpus_files() -> list[Path]:
    return sorted(CORPUS.iterdir()) if CORPUS.is_dir() else []


class _Hang(Exception):
    pass


@contextlib.contextmanager
def hang_guard(seconds: int, what: str) -> Iterator[None]:
    """Fail instead of hanging when a block runs past ``seconds`` (hang detection only)."""
    def alarm(signum, frame):  # noqa: ANN001
        raise _Hang()

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    except _Hang:
        pytest.fail(f"{what} did not finish within {seconds} s")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.slow
@pytest.mark.skipif(not CORPUS.is_dir(), reason="real-world corpus not present")
@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: p.name)
def test_audit_real_world_workbooks(path):
    """Every corpus file is audited or refused in plain words, never a crash."""
    with hang_guard(300, f"the audit of {path.name}"):  # typical files: well under 1 s
        try:
            findings = audit_workbook(path)
        except XlfundError as exc:
            assert path.name in str(exc)
            return
    for f in findings:
        assert f.code in CHECKS and f.message and f.hint
        assert f.cell == "" or A1.match(f.cell), f
        assert f.sheet or not f.cell, f
