"""The audit, diff and sign-off commands end to end, as a finance officer runs them."""

from __future__ import annotations

import json
import subprocess
import sys

from openpyxl import load_workbook

from tests.conftest import needs_libreoffice
from tests.variants import make_variant
from xlfund import contract as c


def run(*args):
    return subprocess.run([sys.executable, "-m", "xlfund", *args], capture_output=True,
                          text=True, timeout=600)


def test_audit_is_quiet_on_the_template(shipped_template):
    done = run("audit", str(shipped_template))
    assert done.returncode == 0, done.stdout
    assert "0 errors, 0 warnings" in done.stdout


@needs_libreoffice
def test_audit_finds_a_circular_reference(shipped_template, tmp_path):
    def edit(wb):
        ws = wb[c.RETAINED]
        ws["K20"] = "=K21+1"
        ws["K21"] = "=K20*2"
    path = make_variant(shipped_template, tmp_path / "circular.xlsx", edit)
    done = run("audit", str(path), "--format", "json")
    assert done.returncode == 1
    findings = json.loads(done.stdout)["files"][0]["findings"]
    circular = {(f["sheet"], f["cell"]) for f in findings if f["code"] == "AUDIT008"}
    assert circular & {(c.RETAINED, "K20"), (c.RETAINED, "K21")}


def test_diff_reports_the_changed_cell_and_exit_codes(shipped_template, tmp_path):
    same = run("diff", str(shipped_template), str(shipped_template))
    assert same.returncode == 0
    changed = tmp_path / "changed.xlsx"
    wb = load_workbook(shipped_template)
    wb[c.SCHOOLS]["E6"] = wb[c.SCHOOLS]["E6"].value + 25
    wb.save(changed)
    done = run("diff", str(shipped_template), str(changed), "--format", "json")
    assert done.returncode == 1
    assert "Schools!E6" in json.dumps(json.loads(done.stdout))


@needs_libreoffice
def test_sign_off_then_edit_is_caught(shipped_template, tmp_path):
    signed = tmp_path / "signed.xlsx"
    done = run("sign-off", str(shipped_template), "--by", "A. Finance", "--output", str(signed))
    assert done.returncode == 0, done.stderr
    assert "Signed off by A. Finance" in done.stdout
    check = run("validate", str(signed), "--format", "json")
    assert check.returncode == 0, check.stdout
    # an edit after sign-off: one pupil more at one school
    edited = make_variant(signed, tmp_path / "edited.xlsx",
                          lambda wb: wb[c.SCHOOLS].cell(7, 5, wb[c.SCHOOLS].cell(7, 5).value + 1))
    report = json.loads(run("validate", str(edited), "--format", "json").stdout)
    codes = {f["code"] for f in report["files"][0]["findings"]}
    assert "SIGN001" in codes


def test_sign_off_is_refused_while_errors_remain(shipped_template, tmp_path):
    broken = tmp_path / "broken.xlsx"
    wb = load_workbook(shipped_template)
    wb[c.SCHOOLS]["A9"] = wb[c.SCHOOLS]["A6"].value
    wb.save(broken)
    done = run("sign-off", str(broken), "--by", "A. Finance", "--output",
               str(tmp_path / "never.xlsx"), "--no-recalc")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and done.stderr.strip()
    assert not (tmp_path / "never.xlsx").exists()
