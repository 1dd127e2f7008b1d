"""Damage the template at random (hypothesis); the check must always end in a clear answer.

Edits are made with openpyxl on a copy (wrong types in random cells, deleted rows and
columns, renamed sheets) or on the file's bytes (truncation, flipped bytes).  Whatever
the damage, ``check_file`` must return a report of a documented status, every finding
must say what is wrong and what to do, xlfund's own checks must not fail on it (FILE012),
and the damaged input must be left as it was.
"""

from __future__ import annotations

import datetime as dt
import io
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from tests.conftest import TEMPLATE
from tests.test_safety import sha256
from xlfund.batch import check_file
from xlfund.findings import Severity

DAMAGE = settings(max_examples=25, deadline=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
STATUSES = {"valid", "invalid", "unreadable"}


@pytest.fixture(scope="module")
def template_bytes() -> bytes:
    return TEMPLATE.read_bytes()


@pytest.fixture(scope="module")
def template_report():
    return check_file(TEMPLATE)


@pytest.fixture(scope="module")
def sizes() -> dict[str, tuple[int, int]]:
    wb = load_workbook(TEMPLATE, read_only=True)
    out = {ws.title: (ws.max_row, ws.max_column) for ws in wb.worksheets}
    wb.close()
    return out


def assert_clear_answer(path: Path):
    """Check a damaged file; return the report after asserting it is a proper answer."""
    before = sha256(path)
    report = check_file(path)
    assert report.status in STATUSES
    failures = [f.message for f in report.findings if f.code == "FILE012"]
    assert not failures
    for f in report.findings:
        assert f.message.strip() and f.hint.strip(), f
    if report.status == "unreadable":
        assert any(f.severity == Severity.ERROR and f.code.startswith(("FILE", "LIMIT"))
                   for f in report.findings)
    assert sha256(path) == before  # the input is never changed
    return report


def edited_copy(template_bytes: bytes, edit) -> Path:  # noqa: ANN001 - edit(workbook)
    wb = load_workbook(io.BytesIO(template_bytes))
    edit(wb)
    folder = Path(tempfile.mkdtemp(prefix="damage-"))
    target = folder / "damaged.xlsx"
    wb.save(target)
    return target


def remove(path: Path) -> None:
    path.unlink()
    path.parent.rmdir()


SHEETS = ("Cover", "Parameters", "Schools", "Clusters", "Allocation", "Retained", "Timeline",
          "Schedule")
printable = st.characters(blacklist_categories=("Cs", "Cc"))
odd_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**15), max_value=10**15),
    st.floats(),  # with nan and inf, which openpyxl writes as they are
    st.text(printable, max_size=40),
    st.datetimes(min_value=dt.datetime(1900, 3, 1), max_value=dt.datetime(9999, 12, 31)),
    st.sampled_from(["#REF!", "#DIV/0!", "=1/0", "=A1", "=Schools!ZZ9", "'=x", "TRUE",
                     "=cmd|' /C calc'!A0", "1e308", "£1,000", " 100001 ", "-0"]),
)


@DAMAGE
@given(data=st.data())
def test_wrong_types_in_random_cells(template_bytes, sizes, data):
    edits = []
    for _ in range(data.draw(st.integers(1, 6))):
        sheet = data.draw(st.sampled_from(SHEETS))
        max_row, max_col = sizes[sheet]
        edits.append((sheet, data.draw(st.integers(1, max_row + 2)),
                      data.draw(st.integers(1, max_col + 1)), data.draw(odd_values)))

    def edit(wb):
        for sheet, row, col, value in edits:
            wb[sheet].cell(row, col, value)

    path = edited_copy(template_bytes, edit)
    try:
        assert_clear_answer(path)
    finally:
        remove(path)


@pytest.mark.parametrize("value", [0.5, 2.6988678749113865e22, 1e300, float("nan")])
def test_numbers_that_are_no_urn(template_bytes, value):
    """Found by test_wrong_types_in_random_cells (the validator once raised TypeError)."""
    path = edited_copy(template_bytes, lambda wb: wb["Schools"].cell(48, 1, value))
    try:
        report = assert_clear_answer(path)
        assert report.status != "valid"
    finally:
        remove(path)


def test_blank_cluster_id_of_a_cluster_with_a_lead_school(template_bytes):
    """Found by test_wrong_types_in_random_cells: Clusters!A5 emptied."""
    path = edited_copy(template_bytes, lambda wb: wb["Clusters"].cell(5, 1, ""))
    try:
        report = check_file(path)
        assert "FILE012" not in [f.code for f in report.findings]
        assert report.status == "invalid"
    finally:
        remove(path)


@DAMAGE
@given(sheet=st.sampled_from(SHEETS), rows=st.booleans(), start=st.integers(1, 430),
       amount=st.integers(1, 6))
def test_deleted_rows_or_columns(template_bytes, sizes, sheet, rows, start, amount):
    max_row, max_col = sizes[sheet]

    def edit(wb):
        if rows:
            wb[sheet].delete_rows(min(start, max_row + 1), amount)
        else:
            wb[sheet].delete_cols(min(start, max_col + 1), amount)

    path = edited_copy(template_bytes, edit)
    try:
        assert_clear_answer(path)
    finally:
        remove(path)


sheet_titles = st.text(st.characters(blacklist_categories=("Cs", "Cc"),
                                     blacklist_characters="[]:*?/\\'"),
                       min_size=1, max_size=31).filter(lambda t: t.strip() == t and t)


@DAMAGE
@given(renames=st.dictionaries(st.sampled_from(SHEETS), sheet_titles, min_size=1, max_size=3))
def test_renamed_sheets(template_bytes, renames):
    titles = [renames.get(s, s) for s in SHEETS]
    if len({t.casefold() for t in titles}) != len(titles):
        return  # Excel refuses two sheets with the same name; nothing to test

    def edit(wb):
        for old, new in renames.items():
            wb[old].title = new

    path = edited_copy(template_bytes, edit)
    try:
        report = assert_clear_answer(path)
        renamed = {old for old, new in renames.items()
                   if new.strip().casefold() != old.casefold()}
        if renamed:  # a contract sheet under another name is missing, and said so
            assert report.status != "valid"
            assert renamed <= {f.sheet for f in report.findings if f.code == "SHEET001"}
    finally:
        remove(path)


@DAMAGE
@given(keep=st.integers(min_value=0))
def test_truncated_bytes(template_bytes, keep):
    keep %= len(template_bytes)
    folder = Path(tempfile.mkdtemp(prefix="damage-"))
    path = folder / "cut.xlsx"
    path.write_bytes(template_bytes[:keep])
    try:
        report = assert_clear_answer(path)
        assert report.status == "unreadable"
        assert report.findings[0].code in ("FILE001", "FILE002", "FILE003")
    finally:
        remove(path)


@DAMAGE
@given(flips=st.lists(st.tuples(st.integers(min_value=0), st.integers(1, 255)),
                      min_size=1, max_size=8))
def test_flipped_bytes_inside_the_zip(template_bytes, template_report, flips):
    damaged = bytearray(template_bytes)
    for position, mask in flips:
        damaged[position % len(damaged)] ^= mask
    folder = Path(tempfile.mkdtemp(prefix="damage-"))
    path = folder / "flipped.xlsx"
    path.write_bytes(bytes(damaged))
    try:
        report = assert_clear_answer(path)
        if report.status == "valid":
            # bytes that matter are checksummed: a valid answer means the same workbook
            assert [f.as_dict() for f in report.sorted_findings()] == [
                f.as_dict() for f in template_report.sorted_findings()]
    finally:
        remove(path)
