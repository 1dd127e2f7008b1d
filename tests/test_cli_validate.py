"""`xlfund validate` from the command line: formats, exit codes, paths."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from tests.conftest import needs_libreoffice
from tests.variants import make_variant, parameter_row
from xlfund import contract as c


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "xlfund", "validate", *args],
                          capture_output=True, text=True, cwd=cwd, timeout=600)


@pytest.fixture(scope="module")
def broken(tmp_path_factory, shipped_template):
    """A copy with a duplicate URN (error) and one with only a departure warning."""
    folder = tmp_path_factory.mktemp("batch")

    def duplicate(wb):
        ws = wb[c.SCHOOLS]
        ws["A9"] = ws["A6"].value

    def share_70(wb):
        ws = wb[c.PARAMETERS]
        ws.cell(parameter_row(ws, "delegated_share"), 3, 0.7)

    from xlfund.recalc import find_soffice
    if find_soffice() is None:
        pytest.skip("needs LibreOffice to recalculate the variants")
    make_variant(shipped_template, folder / "duplicate.xlsx", duplicate)
    make_variant(shipped_template, folder / "warning_only.xlsx", share_70)
    return folder


def test_clean_template_exits_0_and_says_valid(shipped_template):
    done = run(str(shipped_template))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "VALID" in done.stdout and "0 errors" in done.stdout


@needs_libreoffice
def test_error_exits_1_with_sheet_and_cell(broken):
    done = run(str(broken / "duplicate.xlsx"))
    assert done.returncode == 1
    assert "SCH003" in done.stdout and "Schools!A9" in done.stdout
    assert "How to fix:" in done.stdout
    assert "Traceback" not in done.stderr


@needs_libreoffice
def test_warnings_fail_only_with_strict(broken):
    path = str(broken / "warning_only.xlsx")
    relaxed, strict = run(path), run(path, "--strict")
    assert relaxed.returncode == 0 and "PAR010" in relaxed.stdout
    assert strict.returncode == 1


@needs_libreoffice
def test_json_report_shape(broken, shipped_template):
    done = run(str(broken), str(shipped_template), "--format", "json")
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert report["schema_version"] == 1
    by_name = {f["path"].split("/")[-1]: f for f in report["files"]}
    assert set(by_name) == {"duplicate.xlsx", "warning_only.xlsx",
                            "learning_support_allocation.xlsx"}
    assert by_name["learning_support_allocation.xlsx"]["status"] == "valid"
    assert by_name["duplicate.xlsx"]["status"] == "invalid"
    finding = next(f for f in by_name["duplicate.xlsx"]["findings"] if f["code"] == "SCH003")
    assert set(finding) >= {"code", "severity", "sheet", "cell", "message", "hint"}
    assert (finding["sheet"], finding["cell"], finding["severity"]) == ("Schools", "A9", "error")
    assert report["summary"]["files"] == 3 and report["summary"]["invalid"] == 1


@needs_libreoffice
def test_junit_report_parses_and_counts_failures(broken, tmp_path):
    out = tmp_path / "report.xml"
    done = run(str(broken / "*.xlsx"), "--format", "junit", "--output", str(out))
    assert done.returncode == 1
    assert done.stdout == ""  # the report went to the file
    root = ET.parse(out).getroot()
    suites = {s.get("name").split("/")[-1]: s for s in root.iter("testsuite")}
    assert int(suites["duplicate.xlsx"].get("failures")) >= 1
    assert suites["warning_only.xlsx"].get("failures") == "0"
    names = [case.get("name") for case in suites["duplicate.xlsx"].iter("testcase")]
    assert "SCH003 Schools!A9" in names


def test_usage_errors_exit_2(tmp_path):
    assert run(str(tmp_path / "missing.xlsx")).returncode == 2
    assert run(str(tmp_path), "--format", "pdf").returncode == 2


def test_not_a_workbook_is_unreadable_not_a_crash(tmp_path):
    bad = tmp_path / "notes.xlsx"
    bad.write_text("this is not a spreadsheet")
    done = run(str(bad), "--format", "json")
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert report["files"][0]["status"] == "unreadable"
    assert report["files"][0]["findings"][0]["message"]
    assert "Traceback" not in done.stderr


def test_folder_is_searched_recursively(tmp_path, shipped_template):
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    shutil.copyfile(shipped_template, nested / "one.xlsx")
    (tmp_path / "a" / "ignore.txt").write_text("x")
    done = run(str(tmp_path), "--format", "json")
    report = json.loads(done.stdout)
    assert [f["path"].split("/")[-1] for f in report["files"]] == ["one.xlsx"]
    assert done.returncode == 0
