"""xlfund.recalc against a real LibreOffice (no mocks).

Tests marked ``libreoffice`` are skipped when LibreOffice is not installed, except in
CI (``CI=true``), where a missing LibreOffice must fail the build.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import openpyxl
import pytest
import python_calamine
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.table import Table, TableStyleInfo

from xlfund.errors import XlfundError
from xlfund.recalc import (
    ExcelError,
    RecalcError,
    embed_cached_values,
    find_soffice,
    libreoffice_values,
    recalculate,
)

SOFFICE = find_soffice()
IN_CI = os.environ.get("CI", "").lower() == "true"
_skip_without_lo = pytest.mark.skipif(
    SOFFICE is None and not IN_CI,
    reason="LibreOffice not installed (apt-get install libreoffice-calc-nogui)",
)


def needs_libreoffice(test):
    return pytest.mark.libreoffice(_skip_without_lo(test))


CALC = "Funding Calc"  # a sheet name with a space, to exercise quoting

# Every formula of the template and its result, worked out by hand:
#   rolls 120 + 85.5 + 240 + 0 + 60 = 505.5; North rolls 120 + 240 + 60 = 420 (3 schools)
#   505.5 * rate 1.75 = 884.625 -> ROUND(.., 2) = 884.63 (half away from zero, not to even)
EXPECTED: dict[str, dict[str, object]] = {
    "Data": {"E2": 442.315},  # 884.63 / 2
    "Params": {},
    CALC: {
        "A1": 505.5,  # SUM
        "A2": 884.63,  # ROUND
        "A3": "over",  # IF -> text
        "A4": 3,  # COUNTIF
        "A5": 420,  # SUMIF
        "A6": True,  # comparison -> boolean
        "A7": "#DIV/0!",  # 420 / Dale's roll of 0
        "A8": 0.8309,  # ROUND(420 / 505.5, 4) = ROUND(0.830860.., 4)
        "A9": 17.5,  # defined name Rate * 10
        "A10": 1 / 3,  # only 15 significant digits survive LibreOffice
    },
}


def _build_template(path: Path) -> Path:
    wb = openpyxl.Workbook()
    data = wb.active
    data.title = "Data"
    data.append(["School", "Cluster", "Roll"])
    for row in [
        ("Ash", "North", 120),
        ("Birch", "South", 85.5),
        ("Cedar", "North", 240),
        ("Dale", "East", 0),
        ("Elm", "North", 60),
    ]:
        data.append(row)
    for row in range(2, 7):
        data.cell(row, 3).number_format = "#,##0.0"
    table = Table(displayName="Schools", ref="A1:C6")
    table.tableStyleInfo = TableStyleInfo(name="TableStyleMedium9", showRowStripes=True)
    data.add_table(table)
    data["E2"] = f"='{CALC}'!A2/2"

    params = wb.create_sheet("Params")
    params["A1"] = "Rate"
    params["B1"] = 1.75
    wb.defined_names["Rate"] = DefinedName("Rate", attr_text="Params!$B$1")

    calc = wb.create_sheet(CALC)
    calc["A1"] = "=SUM(Data!C2:C6)"
    calc["A2"] = "=ROUND(A1*Params!B1,2)"
    calc["A3"] = '=IF(A1>500,"over","under")'
    calc["A4"] = '=COUNTIF(Data!B2:B6,"North")'
    calc["A5"] = '=SUMIF(Data!B2:B6,"North",Data!C2:C6)'
    calc["A6"] = "=A5>400"
    calc["A7"] = "=A5/Data!C5"
    calc["A8"] = "=ROUND(A5/A1,4)"
    calc["A9"] = "=Rate*10"
    calc["A10"] = "=1/3"
    calc["A2"].number_format = "#,##0.00"
    calc["A8"].number_format = "0.00%"
    calc["C1"] = "Yes"
    dv = DataValidation(type="list", formula1='"Yes,No"', allow_blank=False)
    dv.add("C1")
    calc.add_data_validation(dv)
    wb.save(path)
    return path


@pytest.fixture
def template(tmp_path: Path) -> Path:
    return _build_template(tmp_path / "template.xlsx")


def _assert_expected(values: dict[str, dict[str, object]]) -> None:
    assert set(values) == set(EXPECTED)
    for sheet, cells in EXPECTED.items():
        assert set(values[sheet]) == set(cells), sheet
        for address, want in cells.items():
            got = values[sheet][address]
            if address == "A10":
                assert got == pytest.approx(want, rel=1e-14, abs=0)
            else:
                assert got == want, f"{sheet}!{address}"
                assert type(got) is type(want) or isinstance(got, ExcelError), (address, got)
    assert isinstance(values[CALC]["A7"], ExcelError)


def _calamine(path: Path, sheet: str) -> list[list[object]]:
    book = python_calamine.CalamineWorkbook.from_path(str(path))
    return book.get_sheet_by_name(sheet).to_python()


def _snapshot(path: Path) -> dict[str, object]:
    """Everything openpyxl sees besides cached values."""
    wb = openpyxl.load_workbook(path)
    snap: dict[str, object] = {"names": {n: d.attr_text for n, d in wb.defined_names.items()}}
    for ws in wb.worksheets:
        snap[ws.title] = {
            "cells": {
                c.coordinate: (c.value, c.data_type, c.number_format)
                for row in ws.iter_rows()
                for c in row
            },
            "tables": {
                t.displayName: (t.ref, t.tableStyleInfo.name, [c.name for c in t.tableColumns])
                for t in ws.tables.values()
            },
            "validations": [
                (str(dv.sqref), dv.type, dv.formula1) for dv in ws.data_validations.dataValidation
            ],
        }
    return snap


# --------------------------------------------------------------------------- LibreOffice


@needs_libreoffice
def test_libreoffice_recalculates_formulas_without_cached_values(template: Path) -> None:
    before = template.read_bytes()
    cached = openpyxl.load_workbook(template, data_only=True)
    assert cached[CALC]["A1"].value is None  # openpyxl wrote no results

    values = libreoffice_values(template)

    _assert_expected(values)
    assert template.read_bytes() == before


@needs_libreoffice
def test_libreoffice_ignores_wrong_cached_values(template: Path, tmp_path: Path) -> None:
    # Proves OOXMLRecalcMode=0 works: by default LibreOffice would keep these stale values.
    stale = tmp_path / "stale.xlsx"
    wrong = {sheet: dict.fromkeys(cells, 999) for sheet, cells in EXPECTED.items()}
    embed_cached_values(template, wrong, stale)
    assert _calamine(stale, CALC)[0][0] == 999

    _assert_expected(libreoffice_values(stale))


@needs_libreoffice
def test_control_default_libreoffice_keeps_stale_values(template: Path, tmp_path: Path) -> None:
    # Control for the test above: without the profile setting the stale value survives.
    stale = tmp_path / "stale.xlsx"
    embed_cached_values(template, {CALC: {"A1": 999}}, stale)
    profile, outdir = tmp_path / "plain-profile", tmp_path / "converted"
    subprocess.run(
        [
            SOFFICE or "soffice",
            f"-env:UserInstallation={profile.as_uri()}",
            "--headless",
            "--norestore",
            "--convert-to",
            "xlsx",
            "--outdir",
            str(outdir),
            str(stale),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    value = _calamine(outdir / "stale.xlsx", CALC)[0][0]
    if value != 999:
        pytest.skip("this LibreOffice recalculates xlsx files by default; control is moot")


@needs_libreoffice
def test_recalculate_embeds_values_readable_without_calculation(
    template: Path, tmp_path: Path
) -> None:
    before = template.read_bytes()
    out = tmp_path / "out.xlsx"

    values = recalculate(template, out)

    _assert_expected(values)
    assert template.read_bytes() == before
    rows = _calamine(out, CALC)
    firsts = [r[0] for r in rows[:6] + rows[7:9]]
    assert firsts == [505.5, 884.63, "over", 3, 420, True, 0.8309, 17.5]
    assert _calamine(out, "Data")[1][4] == 442.315
    cached = openpyxl.load_workbook(out, data_only=True)
    assert cached[CALC]["A2"].value == 884.63
    assert cached[CALC]["A7"].value == "#DIV/0!"
    assert _snapshot(out) == _snapshot(template)


@needs_libreoffice
def test_recalculate_replaces_the_file_in_place(template: Path) -> None:
    snapshot = _snapshot(template)

    recalculate(template)

    assert _calamine(template, CALC)[0][0] == 505.5
    assert _snapshot(template) == snapshot


@needs_libreoffice
def test_concurrent_calls_use_separate_libreoffice_instances(tmp_path: Path) -> None:
    books = [_build_template(tmp_path / f"book{i}.xlsx") for i in range(3)]
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(libreoffice_values, books))
    for values in results:
        _assert_expected(values)


@needs_libreoffice
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to list processes")
def test_timeout_stops_libreoffice(
    template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))

    with pytest.raises(RecalcError, match="did not finish"):
        libreoffice_values(template, timeout=0.2)

    time.sleep(0.5)
    assert _processes_mentioning(str(scratch)) == []
    assert list(scratch.iterdir()) == []  # the private profile was removed


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmdline:
            found.append(cmdline)
    return found


# --------------------------------------------------------------------------- no LibreOffice


def test_embed_cached_values_keeps_everything_else(template: Path, tmp_path: Path) -> None:
    before = template.read_bytes()
    out = tmp_path / "embedded.xlsx"
    values = {
        sheet: {a: ExcelError(v) if a == "A7" else v for a, v in cells.items()}
        for sheet, cells in EXPECTED.items()
    }

    embed_cached_values(template, values, out)

    assert template.read_bytes() == before
    rows = _calamine(out, CALC)
    assert [r[0] for r in rows[:6]] == [505.5, 884.63, "over", 3, 420, True]
    cached = openpyxl.load_workbook(out, data_only=True)[CALC]
    assert [cached[f"A{i}"].value for i in range(1, 10)] == [
        505.5,
        884.63,
        "over",
        3,
        420,
        True,
        "#DIV/0!",
        0.8309,
        17.5,
    ]
    assert cached["A10"].value == 1 / 3  # a Python float round-trips exactly
    assert _snapshot(out) == _snapshot(template)
    with zipfile.ZipFile(template) as a, zipfile.ZipFile(out) as b:
        assert a.namelist() == b.namelist()
        changed = [n for n in a.namelist() if a.read(n) != b.read(n)]
        sheet_xml = b.read("xl/worksheets/sheet3.xml").decode()
    assert changed == ["xl/worksheets/sheet1.xml", "xl/worksheets/sheet3.xml"]
    assert '<c r="A3" t="str"><f>IF(A1&gt;500,"over","under")</f><v>over</v></c>' in sheet_xml
    assert '<c r="A6" t="b"><f>A5&gt;400</f><v>1</v></c>' in sheet_xml
    assert '<c r="A7" t="e"><f>A5/Data!C5</f><v>#DIV/0!</v></c>' in sheet_xml
    assert "<f>SUM(Data!C2:C6)</f><v>505.5</v>" in sheet_xml


def test_embed_replaces_values_and_types(template: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "first.xlsx", tmp_path / "second.xlsx"
    embed_cached_values(template, {CALC: {"A1": "text", "$a$2": True}}, first)
    embed_cached_values(first, {CALC: {"A1": 7, "A2": None}}, second)

    cached = openpyxl.load_workbook(second, data_only=True)[CALC]
    assert cached["A1"].value == 7
    assert cached["A2"].value is None
    with zipfile.ZipFile(second) as zf:
        xml = zf.read("xl/worksheets/sheet3.xml").decode()
    assert '<c r="A1"><f>SUM(Data!C2:C6)</f><v>7</v></c>' in xml
    assert "<f>ROUND(A1*Params!B1,2)</f></c>" in xml  # no <v>, no t=
    assert ' t="b"' not in xml


def test_embed_rejects_cells_without_formulas(template: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.xlsx"
    with pytest.raises(RecalcError, match=r"no formula in C1"):
        embed_cached_values(template, {CALC: {"C1": 1}}, out)
    with pytest.raises(RecalcError, match="no worksheet named 'Nope'"):
        embed_cached_values(template, {"Nope": {"A1": 1}}, out)
    with pytest.raises(RecalcError, match="cannot store a list"):
        embed_cached_values(template, {CALC: {"A1": [1]}}, out)
    with pytest.raises(RecalcError, match="infinity or NaN"):
        embed_cached_values(template, {CALC: {"A1": float("nan")}}, out)
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_not_a_workbook_is_reported(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.xlsx"
    bogus.write_text("this is not a spreadsheet\n")
    for call in (
        lambda: libreoffice_values(bogus),
        lambda: embed_cached_values(bogus, {}, tmp_path / "out.xlsx"),
        lambda: recalculate(bogus),
    ):
        with pytest.raises(RecalcError, match="not an Excel workbook") as info:
            call()
        assert isinstance(info.value, XlfundError)
    with pytest.raises(RecalcError, match="does not exist"):
        libreoffice_values(tmp_path / "missing.xlsx")
    assert bogus.read_text() == "this is not a spreadsheet\n"


def test_bad_soffice_path_is_reported(template: Path, tmp_path: Path) -> None:
    with pytest.raises(RecalcError, match="install LibreOffice: apt-get install"):
        libreoffice_values(template, soffice=tmp_path / "no-such-soffice")


@pytest.mark.skipif(sys.platform == "win32", reason="uses a POSIX shell script as soffice")
def test_soffice_that_produces_nothing_is_reported(template: Path, tmp_path: Path) -> None:
    fake = tmp_path / "fake-soffice"
    fake.write_text("#!/bin/sh\necho 'Error: source file could not be loaded'\nexit 0\n")
    fake.chmod(0o755)
    with pytest.raises(RecalcError, match="could not convert.*source file could not be loaded"):
        libreoffice_values(template, soffice=fake)


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to list processes")
def test_timeout_kills_the_whole_process_tree(template: Path, tmp_path: Path) -> None:
    marker = f"xlfund-hang-{os.getpid()}-{tmp_path.name}"
    fake = tmp_path / "hanging-soffice"
    # A parent that starts a child, like soffice -> oosplash -> soffice.bin.
    fake.write_text(f"#!/bin/sh\nsh -c 'sleep 300; echo {marker}' &\nsleep 300\n")
    fake.chmod(0o755)
    started = time.monotonic()
    with pytest.raises(RecalcError, match="did not finish .* within 1 seconds"):
        libreoffice_values(template, timeout=1, soffice=fake)
    assert time.monotonic() - started < 30
    time.sleep(0.3)
    assert _processes_mentioning(marker) == []


def test_find_soffice_matches_path() -> None:
    found = find_soffice()
    on_path = shutil.which("soffice") or shutil.which("libreoffice")
    if on_path:
        assert found == on_path
    if found is not None:
        assert os.access(found, os.X_OK)
