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


@dataclass
class SheetCells:
    formulas: dict[str, str] = field(default_factory=dict)  # A1 -> "=..."
    uncached: set[str] = field(default_factory=set)  # formula cells without a saved result
    errors: dict[str, str] = field(default_factory=dict)  # A1 -> "#DIV/0!"


OFFICE_DOCUMENT = "/officeDocument"  # relationship type suffix, transitional and strict


def _local(tag: str) -> str:
    """Tag name without namespace: transitional and Strict Open XML use different ones."""
    return tag.rsplit("}", 1)[-1]


def _relationships(archive: zipfile.ZipFile, part: str) -> list[tuple[str, str, str]]:
    """(id, type, target part) of a part's relationships, targets resolved to zip names."""
    folder, name = posixpath.split(part)
    rels_name = posixpath.join(folder, "_rels", f"{name}.rels")
    if rels_name not in archive.namelist():
        return []
    out = []
    for rel in fromstring(archive.read(rels_name)).iter():
        if _local(rel.tag) != "Relationship" or rel.get("TargetMode") == "External":
            continue
        target = rel.get("Target", "")
        resolved = target.lstrip("/") if target.startswith("/") else posixpath.normpath(
            posixpath.join(folder, target))
        out.append((rel.get("Id", ""), rel.get("Type", ""), resolved))
    return out


def sheet_parts(archive: zipfile.ZipFile) -> list[tuple[str, str]]:
    """(sheet name, zip member) for every worksheet, in workbook order.

    The workbook part is found through the package relationships (it is not always
    xl/workbook.xml), and tags are matched by local name so Strict files work too.
    """
    workbook_part = next((target for _, kind, target in _relationships(archive, "")
                          if kind.endswith(OFFICE_DOCUMENT)), "xl/workbook.xml")
    if workbook_part not in archive.namelist():
        return []
    targets = {rid: target for rid, _, target in _relationships(archive, workbook_part)}
    out = []
    for sheet in fromstring(archive.read(workbook_part)).iter():
        if _local(sheet.tag) != "sheet":
            continue
        rid = next((v for k, v in sheet.attrib.items() if _local(k) == "id"), "")
        member = targets.get(rid, "")
        if member in archive.namelist():
            out.append((sheet.get("name", ""), member))
    return out


def scan_sheet(stream) -> SheetCells:  # noqa: ANN001 - a binary file object
    cells = SheetCells()
    shared: dict[str, tuple[str, str]] = {}  # shared formula index -> (anchor, formula)
    for _event, element in iterparse(stream, events=("end",)):
        tag = _local(element.tag)
        if tag != "c":
            if tag == "row":
                element.clear()
            continue
        address = element.get("r", "")
        f = v = None
        for child in element:
            name = _local(child.tag)
            if name == "f":
                f = child
            elif name == "v":
                v = child
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
