"""Every file of the real-world corpus (../shared/corpus/real-world) gets a clear answer.

150 files from other projects' test suites: ordinary workbooks of every format, and the
awkward ones (damaged and truncated zips, fuzzer crash cases, encrypted files, strict
OOXML, an XML bomb, sheets claiming billions of cells, macros, links, connections).
The whole corpus is checked once, as one batch with the default limits and 2 workers,
and once through the command line.  What each file *is* (encrypted, strict, damaged,
holding macros or hidden sheets) is worked out here independently, from the bytes, with
zipfile and openpyxl, never from xlfund's answer.
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import pytest

from tests.test_safety import CORPUS, codes, leftovers, private_tempdir, sha256
from xlfund.batch import run_batch
from xlfund.findings import Severity
from xlfund.safety import Limits

pytestmark = [pytest.mark.skipif(not CORPUS.is_dir(),
                                 reason="the shared real-world corpus is not here"),
              pytest.mark.slow]

LIMITS = Limits()
STATUSES = {"valid", "invalid", "unreadable"}
CORPUS_SIZE = 150  # as the corpus README says

# Password-protected files, named so by the projects they come from.
ENCRYPTED = {
    "calamine__pass_protected.xlsx", "poi__extenxls_pwd123.xlsx", "poi__password.xls",
    "poi__protect.xlsx", "poi__protected_passtika.xlsb", "poi__protected_sha512.xlsx",
    "poi__xor-encryption-abc.xls", "sheetjs__password_2002_128_strong.xls",
    "sheetjs__password_2002_40_xor.xls",
}


def corpus_files() -> list[Path]:
    return sorted(p for p in CORPUS.iterdir() if p.is_file()) if CORPUS.is_dir() else []


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    files = corpus_files()
    hashes = {p: sha256(p) for p in files}
    with private_tempdir(tmp_path_factory.mktemp("corpus")) as scratch:
        outcomes = run_batch(files, LIMITS, jobs=2)
    return {"files": files, "outcomes": outcomes, "hashes": hashes,
            "left": leftovers(scratch), "by_name": {Path(o.path).name: o for o in outcomes}}


# --------------------------------------------------------------------------- independent facts


def is_zip(path: Path) -> bool:
    return path.read_bytes()[:2] == b"PK"


def damaged_zip(path: Path) -> bool:
    """A zip whose directory or checksums do not hold (zipfile's own verdict)."""
    if not is_zip(path):
        return False
    try:
        with zipfile.ZipFile(path) as zf:
            return zf.testzip() is not None
    except Exception:  # noqa: BLE001 - any failure to open is damage
        return True


def zip_names(path: Path) -> list[str]:
    try:
        with zipfile.ZipFile(path) as zf:
            return [n.lower() for n in zf.namelist()]
    except Exception:  # noqa: BLE001
        return []


def strict_ooxml(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as zf:
            head = zf.read("xl/workbook.xml")[:2000]
    except Exception:  # noqa: BLE001
        return False
    return b"http://purl.oclc.org/ooxml/spreadsheetml/main" in head


def ooxml_encrypted(path: Path) -> bool:
    """An OLE compound file holding an encrypted OOXML package (stream names in UTF-16)."""
    data = path.read_bytes()
    return data[:8] == bytes.fromhex("D0CF11E0A1B11AE1") and (
        "EncryptedPackage".encode("utf-16-le") in data)


# --------------------------------------------------------------------------- the batch


def test_every_file_gets_a_report_of_a_documented_status(batch):
    files, outcomes = batch["files"], batch["outcomes"]
    assert len(files) == CORPUS_SIZE
    assert [o.path for o in outcomes] == [str(p) for p in files]
    for outcome in outcomes:
        report = outcome.report
        assert report.status in STATUSES, outcome.path
        assert outcome.ending == "done", (outcome.path, outcome.ending)
        for f in report.findings:
            assert f.message.strip() and f.hint.strip(), (outcome.path, f)
        assert "FILE012" not in codes(report), (outcome.path, [
            f.message for f in report.findings if f.code == "FILE012"])
        if report.status == "unreadable":
            assert any(f.severity == Severity.ERROR and f.code.startswith(("FILE", "LIMIT"))
                       for f in report.findings), outcome.path


def test_every_file_within_the_time_and_memory_limits(batch):
    for outcome in batch["outcomes"]:
        assert outcome.seconds < LIMITS.timeout_s, outcome.path
        assert 0 < outcome.peak_rss_mb <= LIMITS.max_memory_mb, outcome.path


def test_inputs_unchanged_and_no_temporary_files_left(batch):
    assert {p: sha256(p) for p in batch["files"]} == batch["hashes"]
    assert batch["left"] == []


def test_encrypted_files_are_reported_as_encrypted(batch):
    by_name = batch["by_name"]
    encrypted = ENCRYPTED | {p.name for p in batch["files"] if ooxml_encrypted(p)}
    assert len(encrypted) >= len(ENCRYPTED)
    for name in encrypted:
        report = by_name[name].report
        assert report.status == "unreadable" and codes(report) == ["FILE004"], name
        assert "password" in report.findings[0].message


def test_strict_ooxml_is_never_valid_and_its_values_are_read(batch):
    strict = {p.name for p in batch["files"] if strict_ooxml(p)}
    assert len(strict) >= 2
    flagged = {name for name, o in batch["by_name"].items() if "FILE008" in codes(o.report)}
    assert flagged == strict
    for name in strict:
        report = batch["by_name"][name].report
        assert report.status != "valid", name
        assert "FILE010" not in codes(report), name  # python-calamine read its values


def test_damaged_zips_are_unreadable_with_a_file_code(batch):
    damaged = [p.name for p in batch["files"] if damaged_zip(p)]
    assert len(damaged) >= 5
    for name in damaged:
        report = batch["by_name"][name].report
        assert report.status == "unreadable", name
        assert report.errors[0].code.startswith("FILE"), (name, codes(report))


def test_formats_other_than_xlsx_say_what_was_checked(batch):
    for path in batch["files"]:
        report = batch["by_name"][path.name].report
        if report.status == "unreadable" and path.suffix != ".ods":
            continue
        expected = {".xls": "FILE005", ".xlsb": "FILE006", ".ods": "FILE007"}.get(path.suffix)
        if expected and not (path.suffix == ".xls" and is_zip(path)):
            assert expected in codes(report), path.name


def test_xml_bomb_and_sheets_claiming_billions_of_cells(batch):
    by_name = batch["by_name"]
    assert codes(by_name["poi__poc-xmlbomb.xlsx"].report) == ["FILE015"]
    claims = zipfile.ZipFile(CORPUS / "calamine__issue_174.xlsx").read(
        "xl/worksheets/sheet1.xml")[:1000]
    assert b'<dimension ref="A1:XFD1048576"/>' in claims
    # read in full (it holds 22 values), not refused and not allocated as claimed
    assert by_name["calamine__issue_174.xlsx"].report.status == "invalid"
    assert by_name["lo__export-millon-rows.xlsx"].ending == "done"


def test_content_risks_match_the_packages(batch):
    from openpyxl import load_workbook

    for path in batch["files"]:
        names = zip_names(path)
        found = codes(batch["by_name"][path.name].report)
        if "xl/vbaproject.bin" in names:
            assert "RISK001" in found, path.name
        if any(n.startswith("xl/macrosheets/") for n in names):
            assert "RISK002" in found, path.name
        if any(n.startswith("xl/externallinks/") for n in names):
            assert {"RISK004", "RISK005", "AUDIT010"} & set(found), path.name
        if "xl/connections.xml" in names:
            assert "RISK006" in found, path.name
        if any(n.startswith("xl/embeddings/") for n in names):
            assert "RISK010" in found, path.name
        if path.suffix in (".xlsx", ".xlsm") and names and "FILE008" not in found:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    wb = load_workbook(path, read_only=True)
                    states = {ws.title: ws.sheet_state for ws in wb.worksheets}
                    wb.close()
            except Exception:  # noqa: BLE001 - openpyxl cannot open it: nothing to compare
                continue
            hidden = {(("RISK008" if s == "veryHidden" else "RISK007"), t)
                      for t, s in states.items() if s != "visible"}
            reported = {(f.code, f.sheet) for f in batch["by_name"][path.name].report.findings
                        if f.code in ("RISK007", "RISK008")}
            assert hidden <= reported, path.name


# --------------------------------------------------------------------------- the command line


def test_xlfund_validate_over_the_whole_corpus():
    done = subprocess.run(
        [sys.executable, "-m", "xlfund", "validate", str(CORPUS), "--format", "json",
         "--jobs", "2"], capture_output=True, text=True, timeout=1200)
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert done.returncode == 1  # most files are not allocation workbooks
    report = json.loads(done.stdout)
    files = report["files"]
    assert sorted(Path(f["path"]).name for f in files) == sorted(p.name for p in corpus_files())
    assert {f["status"] for f in files} <= STATUSES
    assert report["summary"]["files"] == CORPUS_SIZE
    assert sum(report["summary"][s] for s in STATUSES) == CORPUS_SIZE
