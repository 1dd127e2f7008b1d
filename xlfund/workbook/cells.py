"""One streaming pass over each worksheet's XML for what value readers do not say.

python-calamine reads an error value (#DIV/0!) and a formula with no saved result both
as an empty cell.  This scan finds, for every formula cell, its formula text and whether
a result is saved, and every cell holding an error value.  XML is parsed with defusedxml
(no entity expansion, no external entities); nothing is evaluated.
"""

from __future__ import annotations

import posixpath
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from defusedxml.ElementTree import fromstring, iterparse
from openpyxl.formula.translate import Translator

MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"


@dataclass
class SheetCells:
    formulas: dict[str, str] = field(default_factory=dict)  # A1 -> "=..."
    uncached: set[str] = field(default_factory=set)  # formula cells without a saved result
    errors: dict[str, str] = field(default_factory=dict)  # A1 -> "#DIV/0!"


def sheet_parts(archive: zipfile.ZipFile) -> list[tuple[str, str]]:
    """(sheet name, zip member) for every worksheet, in workbook order."""
    workbook = fromstring(archive.read("xl/workbook.xml"))
    rels = fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    targets = {r.get("Id"): r.get("Target", "") for r in rels.iter(f"{PKG_REL}Relationship")}
    out = []
    for sheet in workbook.iter(f"{MAIN}sheet"):
        target = targets.get(sheet.get(f"{REL}id"), "")
        member = target.lstrip("/") if target.startswith("/") else posixpath.normpath(
            posixpath.join("xl", target))
        if member in archive.namelist():
            out.append((sheet.get("name", ""), member))
    return out


def scan_sheet(stream) -> SheetCells:  # noqa: ANN001 - a binary file object
    cells = SheetCells()
    shared: dict[str, tuple[str, str]] = {}  # shared formula index -> (anchor, formula)
    for _event, element in iterparse(stream, events=("end",)):
        if element.tag != f"{MAIN}c":
            if element.tag == f"{MAIN}row":
                element.clear()
            continue
        address = element.get("r", "")
        f = element.find(f"{MAIN}f")
        v = element.find(f"{MAIN}v")
        kind = element.get("t")
        if f is not None:
            text = f.text or ""
            if f.get("t") == "shared":
                index = f.get("si", "")
                if text:
                    shared[index] = (address, text)
                elif index in shared:
                    anchor, master = shared[index]
                    text = Translator("=" + master, origin=anchor).translate_formula(
                        address)[1:]
            cells.formulas[address] = "=" + text
            if v is None or (v.text is None and kind not in ("str", "inlineStr")):
                cells.uncached.add(address)
        if kind == "e" and v is not None and v.text:
            cells.errors[address] = v.text
    return cells


def scan_workbook(path: str | Path) -> dict[str, SheetCells]:
    """Formula and error facts for every worksheet of an .xlsx/.xlsm file."""
    out: dict[str, SheetCells] = {}
    with zipfile.ZipFile(path) as archive:
        for name, member in sheet_parts(archive):
            with archive.open(member) as stream:
                out[name] = scan_sheet(stream)
    return out
