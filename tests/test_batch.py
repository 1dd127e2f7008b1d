"""Batches: every file gets a report, in order, whatever another file does to its worker.

The hostile files are real: a workbook with a value at XFD1048576 (python-calamine aborts
the process when the limit that guards it is lifted), a workbook big enough to exceed a
small time or memory limit, damaged and non-workbook files.
"""

from __future__ import annotations

import shutil
import time
import zipfile
from pathlib import Path

import pytest

from tests.test_safety import (
    CORPUS,
    codes,
    leftovers,
    private_tempdir,
    sha256,
    sparse_workbook,
)
from xlfund.batch import check_file, check_files, run_batch
from xlfund.findings import Severity
from xlfund.safety import Limits
from xlfund.validation import validate

HANG_BOUND = 120  # seconds: only to detect a hung batch, never a speed requirement


def big_workbook(target: Path, rows: int, cols: int = 4) -> Path:
    """A minimal but complete .xlsx written as raw XML: ``rows`` x ``cols`` numbers."""
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    pkg = "http://schemas.openxmlformats.org/package/2006/relationships"
    parts = {
        "[Content_Types].xml":
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
            'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.'
            'openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/></Types>',
        "_rels/.rels": f'<Relationships xmlns="{pkg}"><Relationship Id="rId1" '
                       f'Type="{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": f'<workbook xmlns="{main}" xmlns:r="{rel}"><sheets><sheet name="Big" '
                           'sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": f'<Relationships xmlns="{pkg}"><Relationship Id="rId1" '
                                      f'Type="{rel}/worksheet" Target="worksheets/sheet1.xml"/>'
                                      '</Relationships>',
    }
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[:cols]
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in parts.items():
            zf.writestr(name, text)
        with zf.open("xl/worksheets/sheet1.xml", "w") as fh:
            fh.write(f'<worksheet xmlns="{main}"><sheetData>'.encode())
            for r in range(1, rows + 1):
                cells = "".join(f'<c r="{c}{r}"><v>{r}</v></c>' for c in letters)
                fh.write(f'<row r="{r}">{cells}</row>'.encode())
            fh.write(b"</sheetData></worksheet>")
    return target


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> Path:
    return big_workbook(tmp_path_factory.mktemp("big") / "big.xlsx", 150_000)


def comparable(report):
    return report.status, [f.as_dict() for f in report.sorted_findings()]


def test_mixed_batch_validates_the_good_files_exactly_as_alone(shipped_template, tmp_path):
    good = tmp_path / "good.xlsx"
    shutil.copyfile(shipped_template, good)
    also_good = tmp_path / "also_good.xlsm"  # contents decide, not the name
    shutil.copyfile(shipped_template, also_good)
    cut = tmp_path / "cut.xlsx"
    cut.write_bytes(shipped_template.read_bytes()[:5000])
    text = tmp_path / "notes.xlsx"
    text.write_text("Please find attached the allocation.\n")
    far = sparse_workbook(tmp_path / "far.xlsx")
    empty = tmp_path / "empty.xlsx"
    empty.write_bytes(b"")
    paths = [good, cut, text, far, empty, also_good]
    hashes = {p: sha256(p) for p in paths}
    seen: list[tuple[int, int, str]] = []

    reports = check_files(paths, jobs=2, progress=lambda done, total, r: seen.append(
        (done, total, r.status)))

    assert [r.path for r in reports] == [str(p) for p in paths]
    assert [s[0] for s in seen] == list(range(1, len(paths) + 1))
    assert {s[1] for s in seen} == {len(paths)}
    statuses = [r.status for r in reports]
    assert statuses == ["valid", "unreadable", "unreadable", "unreadable", "unreadable", "valid"]
    assert codes(reports[1]) == ["FILE003"]
    assert codes(reports[2]) == ["FILE002"]
    assert codes(reports[3]) == ["LIMIT005"]
    assert codes(reports[4]) == ["FILE001"]
    # the good file: exactly as checking it alone, in this process and in a batch of one
    assert comparable(reports[0]) == comparable(check_file(good))
    assert comparable(reports[0]) == comparable(check_files([good])[0])
    alone = validate(good)
    assert alone.status == reports[0].status == "valid"
    assert {f.as_dict()["code"] for f in alone.findings} <= set(codes(reports[0]))
    assert all(sha256(p) == h for p, h in hashes.items())


def test_a_reader_that_aborts_the_process_only_loses_its_own_file(shipped_template, tmp_path):
    """With the cell limit lifted, python-calamine really tries to allocate the 17 billion
    cells of a sheet with a value at XFD1048576, and the allocation failure aborts the
    worker.  The files either side are checked as usual."""
    far = sparse_workbook(tmp_path / "far.xlsx")
    good = tmp_path / "good.xlsx"
    shutil.copyfile(shipped_template, good)
    started = time.monotonic()
    outcomes = run_batch([good, far, good], Limits(max_cells=10**12, max_memory_mb=1024),
                         jobs=1)
    assert time.monotonic() - started < HANG_BOUND
    assert [o.report.status for o in outcomes] == ["valid", "unreadable", "valid"]
    crashed = outcomes[1]
    assert crashed.ending in ("memory", "crashed")
    (item,) = [f for f in crashed.report.findings if f.severity == Severity.ERROR]
    assert item.code in ("LIMIT007", "FILE011") and "far.xlsx" in item.message
    assert "reading the values" in item.message  # says where it stopped


def test_timeout_stops_one_file_and_the_batch_goes_on(big, shipped_template):
    limits = Limits(timeout_s=0.5)
    outcomes = run_batch([big, shipped_template], limits, jobs=1)
    slow, good = outcomes
    assert slow.ending == "timeout" and slow.report.status == "unreadable"
    assert codes(slow.report) == ["LIMIT006"]
    assert "0.5 seconds" in slow.report.findings[0].message
    assert slow.seconds < limits.timeout_s + 10  # killed at its limit, not run to the end
    assert good.report.status == "valid"


def test_memory_limit_stops_one_file_and_the_batch_goes_on(big, shipped_template):
    limits = Limits(max_memory_mb=300)
    outcomes = run_batch([big, shipped_template], limits, jobs=2)
    hungry, good = outcomes
    assert hungry.ending == "memory" or "LIMIT007" in codes(hungry.report)
    assert hungry.report.status == "unreadable" and "LIMIT007" in codes(hungry.report)
    assert good.report.status == "valid"
    assert all(o.peak_rss_mb <= limits.max_memory_mb for o in outcomes)


def test_the_same_file_passes_with_default_limits(big):
    (outcome,) = run_batch([big], jobs=1)
    assert outcome.ending == "done"
    assert outcome.report.status == "invalid"  # read in full: not the allocation workbook
    assert "SHEET001" in codes(outcome.report)


def test_no_temporary_files_are_left(shipped_template, tmp_path):
    mislabelled = tmp_path / "allocation.xls"  # read through a temporary link
    shutil.copyfile(shipped_template, mislabelled)
    far = sparse_workbook(tmp_path / "far.xls")  # killed while reading, link in place
    with private_tempdir(tmp_path) as scratch:
        outcomes = run_batch([mislabelled, far, mislabelled],
                             Limits(max_cells=10**12, max_memory_mb=1024), jobs=2)
    assert [o.report.status for o in outcomes] == ["valid", "unreadable", "valid"]
    assert codes(outcomes[0].report)[0] == codes(outcomes[1].report)[0] == "FILE014"
    assert outcomes[1].ending in ("memory", "crashed")
    assert leftovers(scratch) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["allocation.xls", "far.xls",
                                                          "private-tmp"]


def test_empty_batch_and_more_jobs_than_files(shipped_template):
    assert check_files([]) == []
    (report,) = check_files([shipped_template], jobs=8)
    assert report.status == "valid"


@pytest.mark.skipif(not CORPUS.is_dir(), reason="the shared real-world corpus is not here")
def test_encrypted_and_damaged_real_files_in_a_batch(shipped_template):
    paths = [CORPUS / "poi__protected_sha512.xlsx", shipped_template,
             CORPUS / "poi__crash-274d6342e4842d61be0fb48eaadad6208ae767ae.xlsx",
             CORPUS / "poi__password.xls"]
    reports = check_files(paths, jobs=2)
    assert [r.status for r in reports] == ["unreadable", "valid", "unreadable", "unreadable"]
    assert [codes(r) for r in reports] == [["FILE004"], [], ["FILE003"], ["FILE004"]]
