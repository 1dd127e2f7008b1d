"""Look at a submitted file before any parser does: what it is, whether it is safe to read.

A submitted workbook is untrusted.  ``preflight(path, limits)`` inspects the container
only (the zip directory, an OLE compound file's directory, the first bytes) and a few
small XML parts (package relationships, content types, ``xl/workbook.xml``), so a normal
workbook costs milliseconds.  It says what kind of file it is (``Preflight.kind``),
whether the readers may be let loose on it (``Preflight.readable``) and why not
(findings FILE001-FILE016, LIMIT001-LIMIT007).  It also lists what the workbook contains
that could act when someone opens it in Excel, or that its reader cannot see (findings
RISK001-RISK011: VBA, Excel 4.0 macro sheets, DDE, links to other files, data
connections, ActiveX and embedded objects, hidden sheets).  Nothing is ever run,
followed, evaluated or written.

XML is parsed with defusedxml only (no DTDs, entities or external references); every
part read is capped in size.  Each worksheet part is scanned once, with a streaming
search for cell addresses (no XML parser), to learn the cells it really holds: the
readers build a grid from A1 to the last cell, so one cell at XFD1048576 would make
them allocate 17 billion cells (python-calamine aborts the whole process).  Declared
sizes in a zip can lie; the worker process's memory limit (xlfund.batch) is the
backstop for what inspection cannot prove.
"""

from __future__ import annotations

import re
import struct
import time
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from .findings import Finding, Severity, finding, register

MB = 1024 * 1024

# --------------------------------------------------------------------------- limits


@dataclass(frozen=True)
class Limits:
    """Bounds on the work and memory one submitted file may cost (docs/security.md).

    The command line sets ``max_cells`` (--max-cells), ``timeout_s`` (--timeout) and
    ``max_memory_mb`` (--max-memory); the others keep these defaults.
    """

    max_file_bytes: int = 100 * MB  # size of the file on disk
    max_uncompressed_bytes: int = 512 * MB  # all parts of a zip package once unpacked
    max_ratio: float = 200.0  # unpacked/packed size of any part bigger than 1 MB
    max_members: int = 10_000  # parts in a zip package
    max_cells: int = 20_000_000  # rows x columns from A1 that one sheet holds or claims
    timeout_s: float = 120.0  # wall-clock seconds per file (batch workers only)
    max_memory_mb: int = 2048  # address space of a batch worker process, in MB

    def __post_init__(self) -> None:
        for name in ("max_file_bytes", "max_uncompressed_bytes", "max_members", "max_cells",
                     "max_memory_mb"):
            if int(getattr(self, name)) <= 0:
                raise ValueError(f"{name} must be a positive number")
        if self.max_ratio <= 1 or self.timeout_s <= 0:
            raise ValueError("max_ratio must be above 1 and timeout_s above 0")


RATIO_FLOOR = 1 * MB  # parts smaller than this may compress as well as they like
PART_CAP = 16 * MB  # largest XML part parsed whole (workbook.xml, relationships, links)
SNIFF = 4096  # bytes read to recognise a file or find a DTD at the top of a part
EXCEL_ROWS, EXCEL_COLS = 1_048_576, 16_384

# --------------------------------------------------------------------------- check codes

E, W, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO
_SAVE_AS = ("Open it in Excel and use File > Save As > 'Excel Workbook (*.xlsx)', then send "
            "that copy.")

register("FILE001", E, "Empty file",
         "The file has no content at all (0 bytes), usually a failed upload or copy.",
         "Send the workbook again; check that it opens in Excel before sending.")
register("FILE002", E, "Not a spreadsheet",
         "The file is not an Excel or OpenDocument workbook (for example a text file, web "
         "page, Word document or zip archive with a spreadsheet name).",
         "Send the allocation workbook itself, saved from Excel as .xlsx.")
register("FILE003", E, "Damaged file",
         "The file is incomplete or damaged (for example cut short during upload or "
         "copying), so its contents cannot be read reliably.",
         "Send the workbook again from the original; if Excel reports it as damaged, use "
         "File > Open > Open and Repair, then save a new copy.")
register("FILE004", E, "Password-protected (encrypted) file",
         "The workbook is encrypted with a password to open. xlfund never guesses or asks for "
         "passwords, so it cannot read any of it.",
         "In Excel: File > Info > Protect Workbook > Encrypt with Password, delete the "
         "password, save, and send that copy.")
register("FILE005", W, "Older Excel format (.xls)",
         "Excel 97-2003 files are read for their values only: formulas, the formula audit and "
         "Excel table names cannot be checked, so tables are found by their header rows.",
         _SAVE_AS)
register("FILE006", W, "Excel binary format (.xlsb)",
         "Binary workbooks are read for their values only: formulas, the formula audit and "
         "Excel table names cannot be checked, so tables are found by their header rows.",
         _SAVE_AS)
register("FILE007", W, "OpenDocument format (.ods)",
         "OpenDocument spreadsheets are read for their values only: formulas, the formula "
         "audit and Excel table names cannot be checked.",
         "Save it as 'Excel 2007-365 (.xlsx)' in LibreOffice (File > Save As), or as .xlsx in "
         "Excel, and send that copy.")
register("FILE008", W, "Strict Open XML workbook",
         "The workbook was saved as 'Strict Open XML Spreadsheet'. Its values are read, but "
         "its formulas cannot be, so the formula audit and checks of calculated cells are "
         "not done.",
         _SAVE_AS)
register("FILE009", E, "Unsupported spreadsheet format",
         "The file is a spreadsheet in a format xlfund cannot read (for example Excel 2.x-4.0 "
         "or Excel 2003 XML).",
         _SAVE_AS)
register("FILE010", E, "Nothing could be read",
         "No value could be read from any sheet. A file that shows nothing cannot be "
         "reported as valid.",
         "Check that the file opens in Excel and shows the allocation sheets; " + _SAVE_AS)
register("FILE011", E, "File could not be read",
         "The program reading the file failed on it (the file is damaged, or uses a feature "
         "the reader does not handle).",
         "Open it in Excel, save it as a new .xlsx workbook and send that copy; if it still "
         "fails, send the file to the xlfund maintainers.")
register("FILE012", E, "Check could not be completed",
         "xlfund itself failed while checking this file. This is a fault in xlfund, not "
         "necessarily in the workbook.",
         "Send the file and this message to the xlfund maintainers.")
register("FILE013", E, "Two parts with the same name",
         "The package holds two parts with the same name, so different programs may show "
         "different contents: what is checked might not be what Excel shows.",
         _SAVE_AS)
register("FILE014", W, "File name does not match its contents",
         "The file's extension says one format but the contents are another. It was read "
         "by its contents.",
         "Rename the file with the extension shown, or save it again from Excel as .xlsx.")
register("FILE015", E, "XML with a document type declaration",
         "A part of the workbook declares XML entities or a DTD, which Excel never writes. "
         "This is how 'XML bomb' and external-entity attacks work, so the file is not read.",
         "Do not open the file; ask the sender where it came from and for a copy saved by "
         "Excel.")
register("FILE016", W, "Formula audit not possible",
         "The formulas of this workbook could not be read for the audit.",
         "Open it in Excel, save it as a new .xlsx workbook and check that copy.")

register("LIMIT001", E, "File too large",
         "The file is larger than xlfund reads (a safeguard for shared machines).",
         "Remove sheets or data the allocation does not need, or raise the limit in the "
         "configuration (see docs/security.md).")
register("LIMIT002", E, "Too much data once unpacked",
         "An .xlsx file is a compressed package; unpacked, this one would be larger than "
         "xlfund reads.",
         "Remove sheets or data the allocation does not need; if the file should not be "
         "this big, ask the sender for a fresh copy.")
register("LIMIT003", E, "Compressed far more than a normal workbook (zip bomb)",
         "A part of the package unpacks to hundreds of times its packed size. Spreadsheets do "
         "not compress like that; 'zip bombs' do, to exhaust the memory of the machine.",
         "Do not open the file; ask the sender where it came from and for a copy saved by "
         "Excel.")
register("LIMIT004", E, "Too many parts in the package",
         "The package holds more parts than any real workbook needs.",
         "Ask the sender for a copy saved by Excel, without unneeded sheets and objects.")
register("LIMIT005", E, "Sheet too large",
         "The sheet holds or claims more cells (counted from A1 to its last cell) than "
         "xlfund reads; a single stray entry far down or to the right counts all the "
         "empty cells before it.",
         "Delete stray entries and unused rows and columns (select them, right-click, "
         "Delete), save, and check again; or raise --max-cells.")
register("LIMIT006", E, "Took too long",
         "Checking the file took longer than the time allowed, so it was stopped.",
         "Remove data the allocation does not need, or raise --timeout.")
register("LIMIT007", E, "Needed too much memory",
         "Reading the file needed more memory than allowed, so it was stopped.",
         "Remove data the allocation does not need, or raise --max-memory.")

register("RISK001", W, "Macros (VBA)",
         "The workbook contains a macro program. xlfund never runs it, but Excel may when "
         "someone opens the file and enables content.",
         "Unless the macros are the expected xlfund ones, save a copy as .xlsx (which drops "
         "macros) and use that; never enable content in a file you do not trust.")
register("RISK002", E, "Excel 4.0 macro sheet",
         "A sheet holds old-style Excel 4.0 (XLM) macros, which can run commands when the "
         "workbook is opened. An allocation workbook has no reason to contain one.",
         "Do not enable content; delete the macro sheet (or copy the allocation sheets into "
         "a new workbook) and send that copy.")
register("RISK003", E, "Macro set to run on opening",
         "A name such as Auto_Open tells Excel to run a macro as soon as the file is opened.",
         "Do not enable content; delete the name (Formulas > Name Manager) and any macros.")
register("RISK004", W, "Link to another file",
         "The workbook takes values from another file. xlfund never follows the link, so "
         "the values checked are the ones last saved, which may be out of date.",
         "Copy the values in (Data > Edit Links > Break Link) and note where they came from.")
register("RISK005", E, "DDE link (can start another program)",
         "Dynamic Data Exchange asks Excel to start another program and take data from it "
         "when the workbook is opened or recalculated; it is a known way to run commands.",
         "Do not open the file in Excel; remove the DDE formula or link and send a clean "
         "copy.")
register("RISK006", W, "Data connection",
         "The workbook can refresh data from a database, web page or other source. xlfund "
         "never refreshes it, so the values checked are the ones last saved.",
         "Remove the connection (Data > Queries & Connections) after refreshing, or paste "
         "the data as values.")
register("RISK007", INFO, "Hidden sheet",
         "A hidden sheet is read and checked like any other, but the people reviewing the "
         "workbook in Excel do not see it.",
         "Unhide it (right-click a sheet tab > Unhide) if it matters, or delete it.")
register("RISK008", W, "Very hidden sheet",
         "The sheet is 'very hidden': it cannot be unhidden from Excel's menus, only by a "
         "macro or the VBA editor, so reviewers cannot easily see what it holds.",
         "Make it visible in the VBA editor (sheet property Visible = -1) or delete it.")
register("RISK009", W, "ActiveX controls",
         "ActiveX controls are programs embedded in the sheet; Excel may run them when the "
         "file is opened.",
         "Delete the controls (Developer > Design Mode, select, Delete), or save a copy as "
         "a new .xlsx without them.")
register("RISK010", W, "Embedded object or file",
         "The workbook carries another file inside it (a document, package or program). "
         "xlfund never opens it; double-clicking it in Excel would.",
         "Delete the embedded object unless it is needed, and never open it if unsure.")
register("RISK011", W, "Formula that reaches outside the workbook",
         "WEBSERVICE, IMAGE and RTD fetch data from a web address or another program when "
         "Excel calculates, which can also send the workbook's figures out.",
         "Replace the formula by the value it should have, typed in or pasted as a value.")

FILE_LEVEL_CODES = {"FILE001", "FILE002", "FILE003", "FILE004", "FILE009", "FILE010",
                    "FILE011", "FILE012", "FILE013", "FILE015"}

# --------------------------------------------------------------------------- results

OOXML_KINDS = ("xlsx", "xlsm", "xltx", "xltm")
READABLE_KINDS = (*OOXML_KINDS, "xlsb", "xls", "ods")
SUFFIX_KIND = {".xlsx": "xlsx", ".xlsm": "xlsm", ".xltx": "xltx", ".xltm": "xltm",
               ".xlsb": "xlsb", ".xls": "xls", ".xlt": "xls", ".ods": "ods", ".ots": "ods"}
# what the reader needs to see to pick the right parser for a kind
READER_SUFFIX = {"xlsx": ".xlsx", "xlsm": ".xlsm", "xltx": ".xltx", "xltm": ".xltm",
                 "xlsb": ".xlsb", "xls": ".xls", "ods": ".ods"}


@dataclass
class SheetInfo:
    """A sheet as the package lists it."""

    name: str
    state: str = "visible"  # visible, hidden or veryHidden
    kind: str = "worksheet"  # worksheet, chartsheet, macrosheet, dialogsheet
    part: str = ""  # zip member holding it (OOXML)
    rows: int = 0  # last row holding a cell (0: none, or not scanned)
    columns: int = 0  # last column holding a cell
    claimed: str = ""  # the sheet's <dimension ref>, as written


@dataclass
class Preflight:
    """What a file is and whether it may be read; see the module docstring."""

    path: str
    kind: str  # one of READABLE_KINDS, or encrypted, empty, corrupt, not_spreadsheet,
    # unsupported, too_large, missing
    readable: bool
    findings: list[Finding] = field(default_factory=list)  # FILE and LIMIT findings
    risks: list[Finding] = field(default_factory=list)  # RISK findings
    sheets: list[SheetInfo] = field(default_factory=list)
    strict: bool = False  # Strict Open XML (openpyxl reads it as empty)
    reader_suffix: str = ""  # set when the readers must see another extension
    seconds: float = 0.0

    @property
    def formulas_readable(self) -> bool:
        """Whether the formula reader (openpyxl) can see this file's formulas."""
        return self.kind in OOXML_KINDS and not self.strict


class _Stop(Exception):
    """Inspection found a reason not to read the file (the finding is already added)."""


class _Damaged(Exception):
    """A part of the container cannot be read; the message says which."""


# --------------------------------------------------------------------------- entry points


def preflight(path: str | Path, limits: Limits | None = None) -> Preflight:
    """Inspect ``path`` without handing it to a spreadsheet reader; never raises for a bad
    file (only for a programming error)."""
    started = time.perf_counter()
    path = Path(path)
    limits = limits or Limits()
    pre = Preflight(str(path), "unknown", False)
    try:
        _inspect(path, limits, pre)
    except _Stop:
        pre.readable = False
    pre.seconds = time.perf_counter() - started
    return pre


def content_risks(path: str | Path, limits: Limits | None = None) -> list[Finding]:
    """Macros, links, connections, embedded objects and hidden sheets of a file."""
    return preflight(path, limits).risks


def _add(pre: Preflight, code: str, message: str, *, sheet: str = "", cell: str = "",
         hint: str | None = None, stop: bool = False, kind: str | None = None) -> None:
    item = finding(code, sheet, cell, message, hint)
    (pre.risks if code.startswith("RISK") else pre.findings).append(item)
    if kind:
        pre.kind = kind
    if stop:
        raise _Stop


def _inspect(path: Path, limits: Limits, pre: Preflight) -> None:
    name = path.name
    try:
        size = path.stat().st_size
        if not path.is_file():
            _add(pre, "FILE002", f"{name} is not a file (it is a folder or a device).",
                 stop=True, kind="not_spreadsheet")
    except OSError as exc:
        _add(pre, "FILE011", f"{name} could not be opened: {exc.strerror or exc}.",
             hint="Check the file name and that you may read the file.", stop=True,
             kind="missing")
    if size == 0:
        _add(pre, "FILE001", f"{name} is empty (0 bytes).", stop=True, kind="empty")
    if size > limits.max_file_bytes:
        _add(pre, "LIMIT001", f"{name} is {_mb(size)}; the limit is "
             f"{_mb(limits.max_file_bytes)}.", stop=True, kind="too_large")
    with path.open("rb") as fh:
        head = fh.read(SNIFF)
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08"):
        _inspect_zip(path, limits, pre)
    elif head[:8] == OLE_SIGNATURE:
        _inspect_ole(path, size, pre)
    else:
        _inspect_other(name, head, pre)
    _check_suffix(path, pre)
    pre.readable = pre.kind in READABLE_KINDS


def _mb(size: int) -> str:
    return f"{size / MB:,.1f} MB" if size >= MB else f"{size:,} bytes"


def _check_suffix(path: Path, pre: Preflight) -> None:
    expected = SUFFIX_KIND.get(path.suffix.lower())
    family = {k: "ooxml" for k in OOXML_KINDS}
    if pre.kind not in READABLE_KINDS:
        return
    if expected is None or family.get(expected, expected) != family.get(pre.kind, pre.kind):
        pre.reader_suffix = READER_SUFFIX[pre.kind]
        shown = path.suffix or "no extension"
        _add(pre, "FILE014", f"{path.name} is named {shown} but is {_DESCRIBE[pre.kind]}; it "
             f"was read as a {READER_SUFFIX[pre.kind]} file.",
             hint=f"Rename it to end in {READER_SUFFIX[pre.kind]}, or save it again from "
             "Excel as .xlsx.")


_DESCRIBE = {"xlsx": "an Excel workbook", "xlsm": "a macro-enabled Excel workbook",
             "xltx": "an Excel template", "xltm": "a macro-enabled Excel template",
             "xlsb": "an Excel binary workbook", "xls": "an Excel 97-2003 workbook",
             "ods": "an OpenDocument spreadsheet"}

# --------------------------------------------------------------------------- not zip, not OLE


def _inspect_other(name: str, head: bytes, pre: Preflight) -> None:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head[:2] in (b"\x09\x00", b"\x09\x02", b"\x09\x04") and len(head) > 4:
        _add(pre, "FILE009", f"{name} is an Excel 2.x-4.0 worksheet (a format from before "
             "1993), which xlfund cannot read.", stop=True, kind="unsupported")
    if text.startswith(b"<?xml") and b"urn:schemas-microsoft-com:office:spreadsheet" in head:
        _add(pre, "FILE009", f"{name} is an 'XML Spreadsheet 2003' file, which xlfund cannot "
             "read.", stop=True, kind="unsupported")
    if text.startswith((b"<!doctype html", b"<html", b"<table", b"<meta")):
        what = "a web page (HTML), perhaps exported by another system with a spreadsheet name"
    elif text.startswith(b"{\\rtf"):
        what = "a Rich Text document"
    elif head[:5] == b"%PDF-":
        what = "a PDF document"
    elif _looks_like_text(head):
        what = "a text file (for example CSV), not a workbook"
    else:
        what = "not a spreadsheet xlfund recognises"
    _add(pre, "FILE002", f"{name} is {what}.",
         hint="Send the allocation workbook itself, saved from Excel as .xlsx. A CSV file "
         "can be opened in Excel and saved as .xlsx.", stop=True, kind="not_spreadsheet")


def _looks_like_text(head: bytes) -> bool:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        try:
            text = head.decode("cp1252")
        except UnicodeDecodeError:
            return False
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
    return bool(text) and printable / len(text) > 0.95


# --------------------------------------------------------------------------- zip packages


def _inspect_zip(path: Path, limits: Limits, pre: Preflight) -> None:
    name = path.name
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError,
            NotImplementedError, struct.error, IndexError) as exc:
        _add(pre, "FILE003", f"{name} is a damaged or incomplete zip package ({exc}), as "
             "happens when a file is cut short during upload or copying.", stop=True,
             kind="corrupt")
    with zf:
        _zip_limits(name, zf, limits, pre)
        parts = {info.filename.lower(): info for info in zf.infolist()}
        try:
            _refuse_dtds(name, zf, parts, pre)
            if not (("mimetype" in parts or "content.xml" in parts)
                    and _inspect_ods(name, zf, parts, pre)):
                _inspect_ooxml(name, zf, parts, limits, pre)
            _verify_checksums(zf, parts, pre)
        except _Damaged as exc:
            _add(pre, "FILE003", f"{name} is damaged: {exc}.", stop=True, kind="corrupt")


def _verify_checksums(zf: zipfile.ZipFile, parts: dict[str, zipfile.ZipInfo],
                      pre: Preflight) -> None:
    """Unpack every part not yet read in full, so that a damaged one is found here.

    zipfile checks each part's CRC-32 when it reaches its end, and never unpacks more
    than the size the directory declares (already within the limits).  Worksheets were
    read in full by the extent scan.
    """
    scanned = {s.part for s in pre.sheets if s.kind in _SCANNED_KINDS and s.part in parts}
    for key, info in parts.items():
        if key in scanned or not info.file_size:
            continue
        try:
            with zf.open(info) as fh:
                while fh.read(_CHUNK):
                    pass
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError,
                RuntimeError, ValueError) as exc:
            raise _Damaged(f"the part {info.filename} cannot be unpacked ({exc})") from exc


def _zip_limits(name: str, zf: zipfile.ZipFile, limits: Limits, pre: Preflight) -> None:
    infos = zf.infolist()
    if len(infos) > limits.max_members:
        _add(pre, "LIMIT004", f"{name} is a package of {len(infos):,} parts; the limit is "
             f"{limits.max_members:,}.", stop=True, kind="too_large")
    seen: set[str] = set()
    for info in infos:
        key = info.filename.lower()
        if key in seen:
            _add(pre, "FILE013", f"{name} holds more than one part named {info.filename}.",
                 stop=True, kind="corrupt")
        seen.add(key)
    total = sum(i.file_size for i in infos)
    if total > limits.max_uncompressed_bytes:
        _add(pre, "LIMIT002", f"{name} unpacks to {_mb(total)}; the limit is "
             f"{_mb(limits.max_uncompressed_bytes)}.", stop=True, kind="too_large")
    for info in infos:
        if info.file_size > RATIO_FLOOR:
            ratio = info.file_size / max(info.compress_size, 1)
            if ratio > limits.max_ratio:
                _add(pre, "LIMIT003", f"In {name}, the part {info.filename} unpacks from "
                     f"{_mb(info.compress_size)} to {_mb(info.file_size)} ({ratio:,.0f} "
                     f"times); the limit is {limits.max_ratio:,.0f} times.", stop=True,
                     kind="too_large")
        if info.flag_bits & 0x1:
            _add(pre, "FILE004", f"{name} is a zip package with encrypted parts.",
                 stop=True, kind="encrypted")


def _read_part(zf: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int = PART_CAP) -> bytes:
    """A whole part, or _Damaged; parts over ``cap`` are refused."""
    if info.file_size > cap:
        raise _Damaged(f"the part {info.filename} is {_mb(info.file_size)}, more than a "
                       f"workbook part of its kind should be ({_mb(cap)} at most)")
    try:
        with zf.open(info) as fh:
            data = fh.read(cap + 1)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError,
            RuntimeError, ValueError) as exc:
        raise _Damaged(f"the part {info.filename} cannot be unpacked ({exc})") from exc
    if len(data) > cap:
        raise _Damaged(f"the part {info.filename} is larger than its package says")
    return data


def _read_head(zf: zipfile.ZipFile, info: zipfile.ZipInfo, size: int = SNIFF) -> bytes:
    try:
        with zf.open(info) as fh:
            return fh.read(size)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError,
            RuntimeError, ValueError) as exc:
        raise _Damaged(f"the part {info.filename} cannot be unpacked ({exc})") from exc


_DTD = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)
_ELEMENT = re.compile(rb"<[A-Za-z_]")
_PROLOGUE_MAX = 64 * 1024


def _refuse_dtds(name: str, zf: zipfile.ZipFile, parts: dict[str, zipfile.ZipInfo],
                 pre: Preflight) -> None:
    """Excel, LibreOffice and openpyxl never write a DTD: one is an XML bomb or XXE attempt.

    Only the prologue (what comes before the first element) can hold one.
    """
    for key, info in parts.items():
        if not key.endswith((".xml", ".rels", ".vml")) or not info.file_size:
            continue
        head = _read_head(zf, info, SNIFF)
        if not _ELEMENT.search(head) and info.file_size > SNIFF:
            head = _read_head(zf, info, _PROLOGUE_MAX)
        start = _ELEMENT.search(head)
        prologue = head[:start.start()] if start else head
        if _DTD.search(prologue) or (start is None and len(head) >= _PROLOGUE_MAX):
            _add(pre, "FILE015", f"In {name}, the part {info.filename} declares a DTD or "
                 "XML entities.", stop=True, kind="corrupt")


def _xml(data: bytes, part: str) -> Any:
    """Parse one small XML part with defusedxml (no DTD, entities or external references)."""
    from xml.etree.ElementTree import ParseError

    import defusedxml.ElementTree as DET
    from defusedxml import DefusedXmlException

    try:
        return DET.fromstring(data, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise _Damaged(f"the part {part} declares a DTD or entities ({exc})") from exc
    except (ParseError, ValueError) as exc:
        raise _Damaged(f"the part {part} is not well-formed XML ({exc})") from exc


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _attr(element: Any, local: str) -> str | None:
    """An attribute by local name, whatever its namespace."""
    for key, value in element.attrib.items():
        if _local(key) == local:
            return value
    return None


@dataclass(frozen=True)
class _Rel:
    id: str
    type: str  # local part of the relationship type, e.g. worksheet, vbaProject
    target: str  # resolved part name (lower case) or the external target as written
    external: bool
    strict: bool


def _rels(zf: zipfile.ZipFile, parts: dict[str, zipfile.ZipInfo], source: str) -> list[_Rel]:
    """Relationships of a part (``source`` = '' for the package), targets resolved."""
    folder, _, base = source.rpartition("/")
    rels_name = (f"{folder}/_rels/{base}.rels" if folder else f"_rels/{base}.rels").lower()
    info = parts.get(rels_name)
    if info is None:
        return []
    root = _xml(_read_part(zf, info), info.filename)
    out = []
    for rel in root:
        if _local(rel.tag) != "Relationship":
            continue
        rtype = rel.get("Type") or ""
        target = rel.get("Target") or ""
        external = (rel.get("TargetMode") or "").lower() == "external"
        if not external:
            target = _resolve(folder, target)
        out.append(_Rel(rel.get("Id") or "", rtype.rstrip("/").rsplit("/", 1)[-1], target,
                        external, rtype.startswith("http://purl.oclc.org/")))
    return out


def _resolve(folder: str, target: str) -> str:
    target = target.split("#", 1)[0]
    joined = target if target.startswith("/") or not folder else f"{folder}/{target}"
    stack: list[str] = []
    for piece in joined.split("/"):
        if piece == "..":
            if stack:
                stack.pop()
        elif piece not in (".", ""):
            stack.append(piece)
    return "/".join(stack).lower()


_CONTENT_KIND = {
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml": "xlsx",
    "application/vnd.ms-excel.sheet.macroenabled.main+xml": "xlsm",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.template.main+xml": "xltx",
    "application/vnd.ms-excel.template.macroenabled.main+xml": "xltm",
    "application/vnd.ms-excel.sheet.binary.macroenabled.main": "xlsb",
}
_OTHER_OFFICE = {"wordprocessingml": "a Word document", "presentationml": "a PowerPoint "
                 "presentation", "drawingml": "an Office drawing", "ms-visio": "a Visio drawing"}


def _content_types(zf: zipfile.ZipFile, parts: dict[str, zipfile.ZipInfo]) -> dict[str, str]:
    info = parts.get("[content_types].xml")
    if info is None:
        return {}
    out = {}
    for item in _xml(_read_part(zf, info), info.filename):
        if _local(item.tag) == "Override" and item.get("PartName"):
            out[item.get("PartName", "").lstrip("/").lower()] = (item.get("ContentType")
                                                                or "").lower()
    return out


def _inspect_ooxml(name: str, zf: zipfile.ZipFile, parts: dict[str, zipfile.ZipInfo],
                   limits: Limits, pre: Preflight) -> None:
    package = _rels(zf, parts, "")
    main = next((r for r in package if r.type == "officeDocument" and not r.external), None)
    if main is not None and main.target in parts:
        main_part = main.target
    else:
        main_part = next((p for p in ("xl/workbook.xml", "xl/workbook.bin") if p in parts), "")
    types = _content_types(zf, parts)
    declared = types.get(main_part, "")
    for marker, what in _OTHER_OFFICE.items():
        if marker in declared:
            _add(pre, "FILE002", f"{name} is {what}, not a workbook.", stop=True,
                 kind="not_spreadsheet")
    if not main_part:
        listing = ", ".join(sorted(i.filename for i in zf.infolist())[:3]) or "nothing"
        _add(pre, "FILE002", f"{name} is a zip archive but not a workbook (it holds "
             f"{listing}).", hint="Unzip it and send the workbook inside, or send the "
             "workbook itself.", stop=True, kind="not_spreadsheet")
    kind = _CONTENT_KIND.get(declared) or ("xlsb" if main_part.endswith(".bin") else "xlsx")
    if kind == "xlsx" and "xl/vbaproject.bin" in parts:
        kind = "xlsm"
    pre.kind = kind
    pre.strict = bool(main and main.strict)
    workbook_rels = _rels(zf, parts, main_part)
    by_id = {r.id: r for r in workbook_rels}
    if kind != "xlsb":
        root = _xml(_read_part(zf, parts[main_part]), parts[main_part].filename)
        pre.strict = pre.strict or root.tag.startswith("{http://purl.oclc.org/ooxml/")
        _workbook_sheets(root, by_id, pre)
        _auto_open_names(root, pre)
    else:
        for rel in workbook_rels:
            if rel.type in _SHEET_RELS:
                pre.sheets.append(SheetInfo(PurePosixPath(rel.target).stem,
                                            kind=_SHEET_RELS[rel.type], part=rel.target))
    if kind == "xlsb":
        _add(pre, "FILE006", f"{name} is an Excel binary workbook (.xlsb): its values are "
             "checked, its formulas are not.")
    if pre.strict:
        _add(pre, "FILE008", f"{name} is saved as a Strict Open XML Spreadsheet: its values "
             "are checked but its formulas cannot be read.")
    _package_risks(name, zf, parts, workbook_rels, pre)
    if kind != "xlsb":
        _sheet_extents(name, zf, parts, limits, pre)


_SCANNED_KINDS = ("worksheet", "macrosheet", "dialogsheet")
_SHEET_RELS = {"worksheet": "worksheet", "chartsheet": "chartsheet",
               "xlMacrosheet": "macrosheet", "xlIntlMacrosheet": "macrosheet",
               "dialogsheet": "dialogsheet"}


def _workbook_sheets(root: Any, by_id: dict[str, _Rel], pre: Preflight) -> None:
    for element in root.iter():
        if _local(element.tag) != "sheet":
            continue
        rel = by_id.get(_attr(element, "id") or "")
        state = element.get("state") or "visible"
        pre.sheets.append(SheetInfo(
            element.get("name") or "(unnamed)",
            state="veryHidden" if state.lower() == "veryhidden" else state.lower(),
            kind=_SHEET_RELS.get(rel.type, "worksheet") if rel else "worksheet",
            part=rel.target if rel and not rel.external else ""))


_AUTO_NAMES = ("auto_open", "auto_close", "auto_activate", "auto_deactivate")


def _auto_open_names(root: Any, pre: Preflight) -> None:
    for element in root.iter():
        if _local(element.tag) != "definedName":
            continue
        label = (element.get("name") or "").removeprefix("_xlnm.")
        if label.lower().startswith(_AUTO_NAMES):
            _add(pre, "RISK003", f"The workbook defines the name {label}, which makes Excel "
                 f"run the macro at {(element.text or '?').strip()[:80]} when the file is "
                 "opened.")


def _sheet_risks(pre: Preflight, sheet: SheetInfo) -> None:
    """Macro sheets and hidden sheets, as the package lists them."""
    if sheet.kind == "macrosheet":
        _add(pre, "RISK002", f"'{sheet.name}' is an Excel 4.0 macro sheet.", sheet=sheet.name)
    if sheet.state == "hidden":
        _add(pre, "RISK007", f"The sheet '{sheet.name}' is hidden.", sheet=sheet.name)
    elif sheet.state == "veryHidden":
        _add(pre, "RISK008", f"The sheet '{sheet.name}' is very hidden.", sheet=sheet.name)


_SHEET_RISK = {"control": "RISK009", "oleObject": "RISK010", "package": "RISK010",
               "queryTable": "RISK006"}


def _package_risks(name: str, zf: zipfile.ZipFile, parts: dict[str, zipfile.ZipInfo],
                   workbook_rels: list[_Rel], pre: Preflight) -> None:
    keys = list(parts)
    if any(k.endswith("vbaproject.bin") for k in keys):
        _add(pre, "RISK001", f"{name} contains a VBA macro project (never run by xlfund).")
    for sheet in pre.sheets:
        _sheet_risks(pre, sheet)
    if any(k.startswith("xl/macrosheets/") for k in keys) and not any(
            s.kind == "macrosheet" for s in pre.sheets):
        _add(pre, "RISK002", f"{name} contains an Excel 4.0 macro sheet.")
    attached: set[str] = set()
    for sheet in pre.sheets:
        if not sheet.part:
            continue
        found: dict[str, int] = {}
        for rel in _rels(zf, parts, sheet.part):
            code = _SHEET_RISK.get(rel.type)
            if code:
                found[code] = found.get(code, 0) + 1
                attached.add(rel.target)
        for code, count in sorted(found.items()):
            _add(pre, code, _SHEET_MESSAGE[code].format(n=count, sheet=sheet.name,
                                                        s="s" * (count != 1)),
                 sheet=sheet.name)
    for prefix, code, what in (("xl/activex/", "RISK009", "ActiveX controls"),
                               ("xl/embeddings/", "RISK010", "embedded objects or files"),
                               ("xl/querytables/", "RISK006", "query tables")):
        loose = [k for k in keys if k.startswith(prefix) and not k.endswith(".rels")
                 and k not in attached and not k.endswith("/")]
        if loose and not any(f.code == code for f in pre.risks):
            _add(pre, code, f"{name} contains {what} ({len(loose)} part"
                 f"{'s' * (len(loose) != 1)} under {prefix}).")
    if "xl/connections.xml" in parts:
        root = _xml(_read_part(zf, parts["xl/connections.xml"]), "xl/connections.xml")
        names = [c.get("name") or "(unnamed)" for c in root if _local(c.tag) == "connection"]
        shown = ", ".join(f"'{n}'" for n in names[:5]) + (" and more" if len(names) > 5 else "")
        _add(pre, "RISK006", f"{name} has {len(names)} data connection"
             f"{'s' * (len(names) != 1)}{': ' + shown if names else ''} (never refreshed by "
             "xlfund).")
    if any(k.startswith("xl/model/") for k in keys):
        _add(pre, "RISK006", f"{name} contains a Power Pivot data model (never refreshed by "
             "xlfund).")
    for rel in workbook_rels:
        if rel.type == "externalLink" and rel.target in parts:
            _external_link(name, zf, parts, rel.target, pre)


_SHEET_MESSAGE = {
    "RISK009": "The sheet '{sheet}' has {n} ActiveX control{s}.",
    "RISK010": "The sheet '{sheet}' has {n} embedded object{s} or file{s}.",
    "RISK006": "The sheet '{sheet}' has {n} query table{s} that refresh from a data "
               "source (never refreshed by xlfund).",
}


def _external_link(name: str, zf: zipfile.ZipFile, parts: dict[str, zipfile.ZipInfo],
                   part: str, pre: Preflight) -> None:
    targets = [r.target for r in _rels(zf, parts, part) if r.external] or ["an unnamed file"]
    if not part.endswith(".xml"):  # .xlsb keeps links in binary parts: name the target only
        _add(pre, "RISK004", f"{name} is linked to {targets[0][:200]} (the link is never "
             "followed).")
        return
    root = _xml(_read_part(zf, parts[part]), parts[part].filename)
    for element in root.iter():
        tag = _local(element.tag)
        if tag == "ddeLink":
            service = element.get("ddeService") or "?"
            topic = element.get("ddeTopic") or "?"
            _add(pre, "RISK005", f"{name} has a DDE link asking Excel to start '{service}' "
                 f"with '{topic[:120]}'.")
            return
        if tag == "oleLink":
            break
    kind = "an OLE object in" if any(_local(e.tag) == "oleLink" for e in root.iter()) else ""
    _add(pre, "RISK004", f"{name} is linked to {kind + ' ' if kind else ''}"
         f"{targets[0][:200]} (the link is never followed).")


def _sheet_extents(name: str, zf: zipfile.ZipFile, parts: dict[str, zipfile.ZipInfo],
                   limits: Limits, pre: Preflight) -> None:
    """The real extent of every worksheet; LIMIT005 when rows x columns from A1 is too many.

    python-calamine builds each sheet as a grid from A1 to its last cell with a value.  A
    fast scan takes every row and cell address; only when that exceeds the limit does a
    slower scan leave out empty formatted cells (``<c r="XFD1048576" s="1"/>``), which
    no reader turns into grid cells.  The ``<dimension>`` a sheet claims is never trusted.
    """
    scanned: dict[str, tuple[int, int, str]] = {}
    for sheet in pre.sheets:
        info = parts.get(sheet.part)
        if info is None or sheet.kind not in _SCANNED_KINDS:
            continue
        if sheet.part not in scanned:
            rows, columns, claimed = _scan_extent(zf, info)
            if rows * columns > limits.max_cells:
                rows, columns, claimed = _scan_extent(zf, info, precise=True)
            scanned[sheet.part] = rows, columns, claimed
        sheet.rows, sheet.columns, sheet.claimed = scanned[sheet.part]
        cells = sheet.rows * sheet.columns
        if cells > limits.max_cells:
            last = f"{_column_letters(sheet.columns)}{sheet.rows}"
            _add(pre, "LIMIT005", f"The sheet '{sheet.name}' has values down to row "
                 f"{sheet.rows:,} and across to column {_column_letters(sheet.columns)} "
                 f"(last cell {last}): {cells:,} cells counted from A1; the limit is "
                 f"{limits.max_cells:,}.", sheet=sheet.name, stop=True, kind="too_large")


# Every r attribute (<row r="7">, <c r="B7">): fast, counts empty formatted cells too.
_REF = re.compile(rb"""\sr\s*=\s*["']\$?([A-Za-z]{0,4})\$?(\d{1,20})""")
# Cells only, with a group telling whether the tag closes itself (a cell with no value).
_CELL = re.compile(rb"""<(?:[\w.-]+:)?c\s[^>]*?\br\s*=\s*["']\$?([A-Za-z]{1,4})\$?(\d{1,20})"""
                   rb"""["'][^>]*?(/?)>""")
_DIMENSION = re.compile(rb"<(?:[\w.-]+:)?dimension\b[^>]*?\bref\s*=\s*[\"']([^\"']{1,40})")
_CHUNK = 1 * MB
_CARRY_MAX = 64 * 1024


def _scan_extent(zf: zipfile.ZipFile, info: zipfile.ZipInfo,
                 precise: bool = False) -> tuple[int, int, str]:
    """(last row, last column, dimension ref as written) of one worksheet part."""
    max_row = max_col = 0
    claimed = ""
    carry = b""
    first = True
    try:
        with zf.open(info) as fh:
            while True:
                chunk = fh.read(_CHUNK)
                buf = carry + chunk
                if chunk:
                    cut = buf.rfind(b"<")
                    cut = cut if cut > 0 and len(buf) - cut <= _CARRY_MAX else len(buf)
                    work, carry = buf[:cut], buf[cut:]
                else:
                    work, carry = buf, b""
                if first:
                    found = _DIMENSION.search(work)
                    claimed = found.group(1).decode("ascii", "replace") if found else ""
                    first = False
                if precise:
                    refs = [(letters, number) for letters, number, empty
                            in _CELL.findall(work) if not empty]
                else:
                    refs = _REF.findall(work)
                if refs:
                    max_row = max(max_row, max(int(number) for _, number in refs))
                    letters = {letters for letters, _ in refs if letters}
                    if letters:
                        max_col = max(max_col, max(_column_number(b) for b in letters))
                if not chunk:
                    break
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError,
            RuntimeError, ValueError) as exc:
        raise _Damaged(f"the sheet part {info.filename} cannot be unpacked ({exc})") from exc
    return max_row, max_col, claimed


def _column_number(letters: bytes) -> int:
    number = 0
    for ch in letters.upper():
        number = number * 26 + ch - 64
    return number


def _column_letters(number: int) -> str:
    out = ""
    while number > 0:
        number, rest = divmod(number - 1, 26)
        out = chr(65 + rest) + out
    return out


# --------------------------------------------------------------------------- OpenDocument


def _inspect_ods(name: str, zf: zipfile.ZipFile, parts: dict[str, zipfile.ZipInfo],
                 pre: Preflight) -> bool:
    """True when the package is OpenDocument (inspected here), False to try OOXML."""
    mimetype = b""
    if "mimetype" in parts:
        mimetype = _read_part(zf, parts["mimetype"], 256).strip().lower()
    if not mimetype.startswith(b"application/vnd.oasis.opendocument"):
        return False
    if b"spreadsheet" not in mimetype:
        what = mimetype.decode("ascii", "replace").rsplit(".", 1)[-1]
        _add(pre, "FILE002", f"{name} is an OpenDocument {what}, not a spreadsheet.",
             stop=True, kind="not_spreadsheet")
    manifest = parts.get("meta-inf/manifest.xml")
    if manifest is not None and b"encryption-data" in _read_part(zf, manifest):
        _add(pre, "FILE004", f"{name} is an OpenDocument spreadsheet encrypted with a "
             "password.", hint="In LibreOffice: File > Properties > Security, remove the "
             "password (or File > Save As without 'Save with password'), and send that copy.",
             stop=True, kind="encrypted")
    if "content.xml" not in parts:
        raise _Damaged("the part content.xml (the sheets) is missing")
    pre.kind = "ods"
    if any(k.startswith(("basic/", "scripts/")) for k in parts):
        _add(pre, "RISK001", f"{name} contains macros (LibreOffice Basic or scripts), never "
             "run by xlfund.")
    _add(pre, "FILE007", f"{name} is an OpenDocument spreadsheet: its values are checked, its "
         "formulas are not.")
    return True


# --------------------------------------------------------------------------- OLE files

OLE_SIGNATURE = bytes.fromhex("D0CF11E0A1B11AE1")
_FREE, _END = 0xFFFFFFFF, 0xFFFFFFFE


class _Cfb:
    """Just enough of the Compound File Binary format to list names and read a stream's
    start; every index is checked, every chain bounded, so a hostile file only raises
    _Damaged."""

    def __init__(self, fh: Any, size: int) -> None:
        self.fh, self.size = fh, size
        header = self._at(0, 512)
        self.shift = struct.unpack_from("<H", header, 0x1E)[0]
        if self.shift not in (9, 12):
            raise _Damaged(f"unknown sector size 2^{self.shift}")
        self.sector = 1 << self.shift
        self.mini_shift = struct.unpack_from("<H", header, 0x20)[0]
        n_fat, first_dir = struct.unpack_from("<II", header, 0x2C)
        self.cutoff, first_minifat, n_minifat, first_difat, n_difat = struct.unpack_from(
            "<IIIII", header, 0x38)
        self.n_sectors = max((size - 1) // self.sector, 0)
        if n_fat > self.n_sectors + 1:
            raise _Damaged("the allocation table is larger than the file")
        fat_sectors = [s for s in struct.unpack_from("<109I", header, 0x4C)[:n_fat]]
        next_difat, hops = first_difat, 0
        while len(fat_sectors) < n_fat and next_difat < self.n_sectors and hops <= n_difat:
            words = struct.unpack(f"<{self.sector // 4}I", self._sector(next_difat))
            fat_sectors += list(words[:-1])
            next_difat, hops = words[-1], hops + 1
        fat: list[int] = []
        for sid in fat_sectors[:n_fat]:
            fat += struct.unpack(f"<{self.sector // 4}I", self._sector(sid))
        self.fat = fat
        self.entries = self._directory(first_dir)
        self.first_minifat, self.n_minifat = first_minifat, n_minifat

    def _at(self, offset: int, length: int) -> bytes:
        self.fh.seek(offset)
        data = self.fh.read(length)
        if len(data) < length:
            raise _Damaged("the file ends in the middle of a sector")
        return data

    def _sector(self, sid: int) -> bytes:
        if sid >= self.n_sectors:
            raise _Damaged(f"sector {sid} points past the end of the file")
        return self._at((sid + 1) << self.shift, self.sector)

    def _chain(self, start: int, limit: int) -> list[int]:
        chain: list[int] = []
        sid = start
        while sid not in (_END, _FREE) and len(chain) < limit:
            if sid >= len(self.fat) or sid >= self.n_sectors or sid in chain[-64:]:
                raise _Damaged("a sector chain is broken")
            chain.append(sid)
            sid = self.fat[sid]
        return chain

    def _directory(self, first: int) -> list[tuple[str, int, int, int]]:
        entries = []
        for sid in self._chain(first, 4096):
            block = self._sector(sid)
            for off in range(0, self.sector, 128):
                raw = block[off:off + 128]
                length = min(struct.unpack_from("<H", raw, 0x40)[0], 64)
                kind = raw[0x42]
                if kind not in (1, 2, 5):
                    continue
                name = raw[:max(length - 2, 0)].decode("utf-16-le", "replace")
                start, size = struct.unpack_from("<IQ", raw, 0x74)
                if self.shift == 9:
                    size &= 0xFFFFFFFF
                entries.append((name, kind, start, size))
        if not entries or entries[0][1] != 5:
            raise _Damaged("the directory of the compound file is missing")
        return entries

    def names(self) -> set[str]:
        return {name.lower() for name, *_ in self.entries}

    def head(self, stream: str, length: int) -> bytes:
        """The first ``length`` bytes of a stream (regular or mini stream)."""
        entry = next((e for e in self.entries if e[0].lower() == stream.lower()
                      and e[1] == 2), None)
        if entry is None:
            return b""
        _, _, start, size = entry
        want = min(size, length)
        if size >= self.cutoff:
            sectors = self._chain(start, want // self.sector + 1)
            data = b"".join(self._sector(s) for s in sectors)
            return data[:want]
        root = self.entries[0]
        mini = 1 << self.mini_shift
        minifat: list[int] = []
        for sid in self._chain(self.first_minifat, self.n_minifat + 1):
            minifat += struct.unpack(f"<{self.sector // 4}I", self._sector(sid))
        container = self._chain(root[2], self.n_sectors)
        out, sid = [], start
        while sid not in (_END, _FREE) and len(out) * mini < want:
            offset = sid * mini
            index = offset >> self.shift
            if sid >= len(minifat) or index >= len(container) or len(out) > 1 + want // mini:
                raise _Damaged("a mini-stream chain is broken")
            block = self._sector(container[index])
            within = offset - (index << self.shift)
            out.append(block[within:within + mini])
            sid = minifat[sid]
        return b"".join(out)[:want]


def _inspect_ole(path: Path, size: int, pre: Preflight) -> None:
    name = path.name
    try:
        with path.open("rb") as fh:
            cfb = _Cfb(fh, size)
            names = cfb.names()
            if {"encryptioninfo", "encryptedpackage"} & names:
                _add(pre, "FILE004", f"{name} is encrypted with a password to open.",
                     stop=True, kind="encrypted")
            stream = "workbook" if "workbook" in names else "book" if "book" in names else ""
            if not stream:
                what = ("a Word document" if "worddocument" in names else
                        "a PowerPoint presentation" if "powerpoint document" in names else
                        "an Outlook message" if any(n.startswith("__substg") for n in names)
                        else "an Office file that holds no workbook")
                _add(pre, "FILE002", f"{name} is {what}, not a spreadsheet.", stop=True,
                     kind="not_spreadsheet")
            pre.kind = "xls"
            globals_part = cfb.head(stream, 1 * MB)
    except _Damaged:
        # python-calamine reads some damaged compound files; let it try, it will say if not
        pre.kind = "xls"
        _add(pre, "FILE005", f"{name} is an Excel 97-2003 workbook: its values are checked, "
             "its formulas are not.")
        return
    if _biff_globals(name, globals_part, pre):
        _add(pre, "FILE004", f"{name} is an Excel 97-2003 workbook encrypted with a password "
             "to open.", stop=True, kind="encrypted")
    if "_vba_project_cur" in names or "vba" in names:
        _add(pre, "RISK001", f"{name} contains a VBA macro project (never run by xlfund).")
    if any(n.startswith("mbd") for n in names):
        _add(pre, "RISK010", f"{name} contains embedded objects or files.")
    if "ctls" in names:
        _add(pre, "RISK009", f"{name} contains ActiveX controls.")
    _add(pre, "FILE005", f"{name} is an Excel 97-2003 workbook: its values are checked, its "
         "formulas are not.")


_BOF, _EOF, _FILEPASS, _BOUNDSHEET = 0x0809, 0x000A, 0x002F, 0x0085


def _biff_globals(name: str, data: bytes, pre: Preflight) -> bool:
    """Read sheet names, states and types from the workbook globals; True if encrypted."""
    pos = 0
    biff8 = True
    while pos + 4 <= len(data):
        rtype, length = struct.unpack_from("<HH", data, pos)
        body = data[pos + 4:pos + 4 + length]
        pos += 4 + length
        if rtype == _BOF and len(body) >= 2:
            biff8 = struct.unpack_from("<H", body, 0)[0] >= 0x0600
        elif rtype == _FILEPASS:
            return True
        elif rtype == _BOUNDSHEET and len(body) >= 7:
            state, dt, count = body[4] & 0x03, body[5], body[6]
            if biff8 and len(body) >= 8:
                raw = body[8:8 + count * (2 if body[7] & 1 else 1)]
                sheet = raw.decode("utf-16-le" if body[7] & 1 else "latin-1", "replace")
            else:
                sheet = body[7:7 + count].decode("cp1252", "replace")
            info = SheetInfo(sheet or "(unnamed)", state=("visible", "hidden",
                                                          "veryHidden", "visible")[state],
                             kind={1: "macrosheet", 2: "chartsheet", 6: "module"}.get(
                                 dt, "worksheet"))
            pre.sheets.append(info)
            _sheet_risks(pre, info)
        elif rtype == _EOF:
            break
    return False


# --------------------------------------------------------------------------- after reading

_STRING = re.compile(r'"(?:[^"]|"")*"')
_QUOTED_SHEET = re.compile(r"'(?:[^']|'')*'!")
_DDE = re.compile(r"(?<![\w.])[A-Za-z][\w.-]{0,63}\|")
_REACHING = re.compile(r"(?<![\w.])(?:_xlfn\.)?(WEBSERVICE|IMAGE|RTD)\s*\(", re.IGNORECASE)


def formula_risks(formulas: dict[str, dict[str, str]]) -> list[Finding]:
    """DDE and formulas that fetch data from outside, from formulas already read
    (sheet -> A1 -> text, as xlfund.workbook.reader gives them)."""
    out: list[Finding] = []
    for sheet, cells in formulas.items():
        reaching = 0
        for address, text in cells.items():
            bare = _QUOTED_SHEET.sub("''!", _STRING.sub('""', text))
            if _DDE.search(bare):
                out.append(finding("RISK005", sheet, address,
                                   f"The formula in {sheet}!{address} is a DDE link: "
                                   f"{text[:80]}"))
            elif (hit := _REACHING.search(bare)) and reaching < 20:
                reaching += 1
                out.append(finding("RISK011", sheet, address,
                                   f"The formula in {sheet}!{address} uses "
                                   f"{hit.group(1).upper()}, which reaches outside the "
                                   "workbook."))
    return out


def hidden_sheet_risks(hidden: dict[str, str], known: Iterable[Finding]) -> list[Finding]:
    """Hidden sheets reported by the reader that inspection did not already report."""
    seen = {f.sheet for f in known if f.code in ("RISK007", "RISK008")}
    out = []
    for sheet, state in hidden.items():
        if sheet in seen:
            continue
        very = state.replace("_", "").lower() == "veryhidden"
        out.append(finding("RISK008" if very else "RISK007", sheet, "",
                           f"The sheet '{sheet}' is {'very ' if very else ''}hidden."))
    return out
