"""Sign-off: the content hash, the headless sign-off and the check for edits afterwards."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from tests.conftest import needs_libreoffice
from tests.variants import make_variant
from xlfund import contract as c
from xlfund.errors import InputError, XlfundError
from xlfund.findings import CHECKS, Report, Severity
from xlfund.signoff import (
    HASHED_TABLES,
    SignOffRefused,
    canonical_value,
    content_hash,
    sign_off_file,
    signoff_findings,
    status_after_validation,
)
from xlfund.validation import validate
from xlfund.workbook.reader import WorkbookData, read_workbook

WHEN = dt.datetime(2013, 7, 15, 10, 30)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cover(path: Path) -> dict[str, tuple[str, object]]:
    """Field -> (address of its value, value), read with openpyxl."""
    ws = load_workbook(path)[c.COVER]
    out = {}
    for row in ws.iter_rows(min_col=1, max_col=2):
        if isinstance(row[0].value, str):
            out[row[0].value] = (row[1].coordinate, row[1].value)
    return out


def set_cover(**fields: object):
    """An edit for make_variant: type values into the Cover sheet's SignOff rows."""
    labels = {k.replace("_", " ").capitalize(): v for k, v in fields.items()}

    def edit(wb) -> None:
        for row in wb[c.COVER].iter_rows(min_col=1, max_col=2):
            if row[0].value in labels:
                row[1].value = labels[row[0].value]

    return edit


@pytest.fixture(scope="module")
def template_data(shipped_template) -> WorkbookData:
    return read_workbook(shipped_template)


# Registry ---------------------------------------------------------------------------
def test_sign_codes_are_registered():
    assert {code: CHECKS[code].severity for code in ("SIGN001", "SIGN002", "SIGN003",
                                                     "SIGN004")} == {
        "SIGN001": Severity.ERROR, "SIGN002": Severity.WARNING, "SIGN003": Severity.ERROR,
        "SIGN004": Severity.WARNING}


# Canonical values -------------------------------------------------------------------
@pytest.mark.parametrize("a, b", [
    (2000000, 2000000.0),
    (0.1 + 0.2, 0.3),  # a double spelled with 17 digits by Excel, 15 by LibreOffice
    (0.75, Fraction(3, 4)),
    (Decimal("12.50"), 12.5),
    (dt.date(2013, 9, 1), dt.datetime(2013, 9, 1)),
    ("  Primary ", "Primary"),
])
def test_same_value_however_it_was_read(a, b):
    assert canonical_value(a) == canonical_value(b)


@pytest.mark.parametrize("a, b", [
    (5, "5"),  # a number is not the text of a number
    (dt.date(2013, 9, 1), "2013-09-01"),
    (1, True),
    (0.3, 0.30000001),
    (dt.datetime(2013, 9, 1, 10, 30), dt.date(2013, 9, 1)),
])
def test_different_values_stay_different(a, b):
    assert canonical_value(a) != canonical_value(b)


@pytest.mark.parametrize("blank", [None, "", "   ", float("nan")])
def test_blanks_are_dropped(blank):
    assert canonical_value(blank) is None


# Content hash -----------------------------------------------------------------------
def _permuted(data: WorkbookData, seed: int) -> WorkbookData:
    out = copy.deepcopy(data)
    for spec in HASHED_TABLES:
        table = out.find_table(spec)
        columns = list(table.frame.columns)
        order = columns[seed % len(columns):] + columns[:seed % len(columns)]
        table.frame = table.frame[order].sample(frac=1, random_state=seed)
        table.header_row += 10  # the table moved down the sheet
    out.tables = dict(reversed(list(out.tables.items())))
    return out


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10**6))
def test_order_of_rows_columns_and_tables_does_not_matter(template_data, seed):
    assert content_hash(_permuted(template_data, seed)) == content_hash(template_data)


@settings(max_examples=40, deadline=None)
@given(which=st.integers(0, len(HASHED_TABLES) - 1), row=st.integers(0, 10**6),
       col=st.integers(0, 100), new=st.one_of(st.integers(-10**6, 10**6), st.text(min_size=1,
                                                                               max_size=5)))
def test_any_edit_to_a_signed_off_table_changes_the_hash(template_data, which, row, col, new):
    edited = copy.deepcopy(template_data)
    table = edited.find_table(HASHED_TABLES[which])
    index = table.frame.index[row % len(table.frame)]
    column = table.frame.columns[col % len(table.frame.columns)]
    old = table.frame.at[index, column]
    if canonical_value(old) == canonical_value(new) or canonical_value(new) is None:
        return
    table.frame.at[index, column] = new
    assert content_hash(edited) != content_hash(template_data)


@needs_libreoffice
def test_cover_and_other_sheets_are_not_hashed(tmp_path, shipped_template):
    def edit(wb) -> None:
        set_cover(status="Anything", prepared_by="Someone")(wb)
        wb.create_sheet("Notes")["A1"] = "my working"

    changed = make_variant(shipped_template, tmp_path / "changed.xlsx", edit)
    assert content_hash(read_workbook(changed)) == content_hash(
        read_workbook(shipped_template))


def test_hash_looks_like_sha256(template_data):
    digest = content_hash(template_data)
    assert digest.startswith("sha256:") and len(digest) == 7 + 64
    int(digest[7:], 16)


# Checking a sign-off ----------------------------------------------------------------
def test_no_sign_off_no_findings(template_data):
    assert signoff_findings(template_data) == []


def test_signed_off_at_without_hash_is_incomplete(tmp_path, shipped_template):
    path = make_variant(shipped_template, tmp_path / "x.xlsx", set_cover(signed_off_at=WHEN),
                        recalc=False)
    findings = signoff_findings(read_workbook(path))
    address, _ = cover(path)["Signed off at"]
    assert [(f.code, f.sheet, f.cell) for f in findings] == [("SIGN002", c.COVER, address)]


def test_a_hash_xlfund_did_not_write_is_reported(tmp_path, shipped_template):
    path = make_variant(shipped_template, tmp_path / "x.xlsx",
                        set_cover(content_hash="looks fine to me"), recalc=False)
    findings = signoff_findings(read_workbook(path))
    address, _ = cover(path)["Content hash"]
    assert [(f.code, f.cell) for f in findings] == [("SIGN003", address)]
    assert "looks fine to me" in findings[0].message


def test_uncalculated_formulas_mean_not_checked_rather_than_edited(tmp_path,
                                                                  shipped_template):
    # openpyxl saves formulas without results: the Clusters table's counts read blank
    digest = content_hash(read_workbook(shipped_template))
    path = make_variant(shipped_template, tmp_path / "x.xlsx", set_cover(content_hash=digest),
                        recalc=False)
    findings = signoff_findings(read_workbook(path))
    assert [f.code for f in findings] == ["SIGN004"]


def test_status_after_validation(template_data):
    from xlfund.findings import finding

    error = finding("SCH003", c.SCHOOLS, "A6", "URN repeated")
    warning = finding("PAR010", c.PARAMETERS, "C7", "Delegated share is 70%")
    assert status_after_validation(Report("x"), template_data) == "Valid: ready for sign-off"
    assert status_after_validation(Report("x", [warning]), template_data) == (
        "Valid, 1 warning: ready for sign-off")
    assert status_after_validation(Report("x", [error, error, warning]), template_data) == (
        "Invalid: 2 errors, 1 warning; see the Validation sheet")


# Headless sign-off ------------------------------------------------------------------
@needs_libreoffice
def test_sign_off_file_writes_a_signed_copy_and_leaves_the_input_alone(tmp_path,
                                                                       shipped_template):
    before = sha256(shipped_template)
    out = tmp_path / "signed.xlsx"
    outcome = sign_off_file(shipped_template, out, by="  A.  Smith ", when=WHEN)
    assert sha256(shipped_template) == before
    assert outcome.recalculated and outcome.path == out
    fields = cover(out)
    assert fields["Signed off by"][1] == "A. Smith"
    assert fields["Signed off at"][1] == WHEN
    assert fields["Content hash"][1] == content_hash(read_workbook(shipped_template))
    assert fields["Status"][1] == "Signed off by A. Smith on 15 Jul 2013 10:30"
    signed = read_workbook(out)
    assert content_hash(signed) == fields["Content hash"][1]  # survives openpyxl + LibreOffice
    report = validate(signed)
    assert report.errors == [] and not [f for f in report.findings if f.code.startswith("SIGN")]
    assert not list(tmp_path.glob(".signed-*"))  # no temporary file left behind


@needs_libreoffice
def test_an_edit_after_headless_sign_off_is_detected(tmp_path, shipped_template):
    out = tmp_path / "signed.xlsx"
    sign_off_file(shipped_template, out, by="A. Smith", when=WHEN)

    def one_more_pupil(wb) -> None:
        wb[c.SCHOOLS]["E5"] = wb[c.SCHOOLS]["E5"].value + 1

    edited = make_variant(out, tmp_path / "edited.xlsx", one_more_pupil)
    report = validate(edited)
    address, _ = cover(edited)["Content hash"]
    sign = [f for f in report.findings if f.code == "SIGN001"]
    assert [(f.severity, f.sheet, f.cell) for f in sign] == [(Severity.ERROR, c.COVER, address)]
    assert "A. Smith" in sign[0].message and "15 Jul 2013 10:30" in sign[0].message
    assert report.status == "invalid"


def test_sign_off_without_recalculation_still_records_the_hash(tmp_path, shipped_template):
    out = tmp_path / "signed.xlsx"
    outcome = sign_off_file(shipped_template, out, by="A. Smith", when=WHEN, recalc=False)
    assert not outcome.recalculated and "not recalculated" in outcome.note
    assert cover(out)["Content hash"][1] == content_hash(read_workbook(shipped_template))
    assert [f.code for f in signoff_findings(read_workbook(out))] == ["SIGN004"]


@needs_libreoffice
def test_sign_off_is_refused_while_errors_remain(tmp_path, shipped_template):
    def duplicate_urn(wb) -> None:
        wb[c.SCHOOLS]["A6"] = wb[c.SCHOOLS]["A5"].value

    broken = make_variant(shipped_template, tmp_path / "broken.xlsx", duplicate_urn)
    out = tmp_path / "signed.xlsx"
    with pytest.raises(SignOffRefused) as refused:
        sign_off_file(broken, out, by="A. Smith", recalc=False)
    assert ("SCH003", c.SCHOOLS, "A6") in {(f.code, f.sheet, f.cell)
                                          for f in refused.value.findings}
    assert "Not signed off" in str(refused.value) and "Schools!A6" in str(refused.value)
    assert not out.exists()


@needs_libreoffice
def test_a_stale_sign_off_does_not_block_signing_again(tmp_path, shipped_template):
    stale = make_variant(shipped_template, tmp_path / "stale.xlsx", set_cover(
        content_hash="sha256:" + "0" * 64, signed_off_by="Old", signed_off_at=WHEN))
    assert [f.code for f in validate(stale).errors] == ["SIGN001"]
    out = tmp_path / "signed.xlsx"
    sign_off_file(stale, out, by="New", when=WHEN, recalc=False)
    assert cover(out)["Content hash"][1] == content_hash(read_workbook(shipped_template))


@pytest.mark.parametrize("by", ["", "   ", None])
def test_sign_off_needs_a_name(tmp_path, shipped_template, by):
    with pytest.raises(InputError, match="--by"):
        sign_off_file(shipped_template, tmp_path / "out.xlsx", by=by)


def test_sign_off_never_overwrites_its_input(template_copy):
    before = sha256(template_copy)
    with pytest.raises(XlfundError, match="never changes an input"):
        sign_off_file(template_copy, template_copy, by="A. Smith")
    assert sha256(template_copy) == before


def test_sign_off_needs_the_sign_off_rows_on_cover(tmp_path, shipped_template):
    def rename(wb) -> None:
        for row in wb[c.COVER].iter_rows(min_col=1, max_col=1):
            if row[0].value == "Content hash":
                row[0].value = "Hash"

    path = make_variant(shipped_template, tmp_path / "x.xlsx", rename, recalc=False)
    with pytest.raises(InputError, match="'Content hash'"):
        sign_off_file(path, tmp_path / "out.xlsx", by="A. Smith", recalc=False)
