"""Recalculate a workbook with LibreOffice and embed the results as cached values.

openpyxl writes formulas without results, so a reader that does not calculate
(python-calamine, pandas, most viewers, a phone) sees empty cells. This module

1. runs LibreOffice headless on the workbook, **forcing a full recalculation**, and
   reads the result of every formula cell (:func:`libreoffice_values`);
2. writes a copy of the *original* file in which each formula cell carries that
   result as its cached value, ``<c><f>…</f><v>…</v></c>``
   (:func:`embed_cached_values`);
3. does both in one call (:func:`recalculate`).

Forcing recalculation
    LibreOffice does not recalculate OOXML files on load by default; it trusts the
    cached values (and ignores ``fullCalcOnLoad``). Each call therefore starts
    LibreOffice with a fresh, private user profile
    (``-env:UserInstallation=file:///tmp/…``) whose ``registrymodifications.xcu`` sets
    ``/org.openoffice.Office.Calc/Formula/Load`` ``OOXMLRecalcMode`` (and
    ``ODFRecalcMode``) to 0, "always recalculate". The private profile also means the
    user's own LibreOffice profile is never touched and a LibreOffice instance that
    is already running is neither reused nor waited for.

Why LibreOffice's xlsx output is read, not openpyxl's
    The converted copy is parsed directly (``t="n"``/``"str"``/``"b"``/``"e"``), so
    date-formatted results stay serial numbers and errors stay distinguishable from
    text (errors are returned as :class:`ExcelError`, a ``str`` subclass).

``fullCalcOnLoad``
    openpyxl already writes ``<calcPr fullCalcOnLoad="1"/>``. It is deliberately kept:
    Excel recomputes everything when the file is opened (so Excel users see Excel's
    own results and the cached values only serve readers that cannot calculate),
    at the price of Excel asking "save changes?" on close. :func:`embed_cached_values`
    does not touch ``xl/workbook.xml``, so whatever the input says is kept.

Caveats
    * LibreOffice (7.4) writes results with 15 significant digits, so ``=1/3`` comes
      back as ``0.333333333333333``. Compare with the Python engine using a relative
      tolerance of about 1e-14; money rounded to cents round-trips exactly.
    * Only the anchor cell of an array formula gets a cached value.
    * A text result that looks exactly like an error code (``"#N/A"``) is embedded as
      that error; pass ``ExcelError`` explicitly to be unambiguous.
    * Strict OOXML (ISO 29500 strict namespaces) is not supported.
    * Rewritten worksheet parts are equivalent XML, not byte-identical: empty elements
      are written ``<x/>`` (openpyxl writes ``<x />``), CDATA becomes escaped text.
      All other zip members are copied byte for byte.
    * Each call starts a fresh LibreOffice (about 1-1.5 s for a small workbook).
"""

from __future__ import annotations

import contextlib
import copy
import glob
import io
import math
import numbers
import os
import posixpath
import shutil
import signal
import subprocess
import tempfile
import zipfile
from collections.abc import Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any
from xml.sax import InputSource
from xml.sax.handler import ContentHandler, LexicalHandler, property_lexical_handler

import defusedxml.ElementTree as SafeET
import defusedxml.sax
import openpyxl
from openpyxl.utils.cell import column_index_from_string, coordinate_from_string, get_column_letter

from xlfund.errors import XlfundError

__all__ = [
    "ERROR_CODES",
    "ExcelError",
    "RecalcError",
    "embed_cached_values",
    "find_soffice",
    "libreoffice_values",
    "recalculate",
]

INSTALL_HINT = "install LibreOffice: apt-get install libreoffice-calc-nogui"

#: Error values a spreadsheet formula can produce, as Excel spells them.
ERROR_CODES = frozenset(
    {
        "#NULL!",
        "#DIV/0!",
        "#VALUE!",
        "#REF!",
        "#NAME?",
        "#NUM!",
        "#N/A",
        "#GETTING_DATA",
        "#SPILL!",
        "#CALC!",
        "#FIELD!",
        "#BLOCKED!",
        "#CONNECT!",
        "#BUSY!",
        "#UNKNOWN!",
    }
)

_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_DOC_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_WORKSHEET_REL = _DOC_REL_NS + "/worksheet"
_SHARED_STRINGS_REL = _DOC_REL_NS + "/sharedStrings"
_OFFICE_DOCUMENT_REL = _DOC_REL_NS + "/officeDocument"

_REGISTRY = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" \
xmlns:xs="http://www.w3.org/2001/XMLSchema" \
xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load">\
<prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load">\
<prop oor:name="ODFRecalcMode" oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""

_USUAL_SOFFICE_PATHS = (
    "/usr/bin/soffice",
    "/usr/lib/libreoffice/program/soffice",
    "/usr/local/bin/soffice",
    "/usr/local/lib/libreoffice/program/soffice",
    "/opt/libreoffice/program/soffice",
    "/snap/bin/libreoffice",
    "/Applications/LibreOffice.app/Contents/MacOS/soffice",
    r"C:\Program Files\LibreOffice\program\soffice.exe",
    r"C:\Program Files (x86)\LibreOffice\program\soffice.exe",
)

Values = dict[str, dict[str, object]]


class RecalcError(XlfundError):
    """LibreOffice is missing, failed or timed out, or the workbook cannot be used."""


class ExcelError(str):
    """A formula's error result, e.g. ``ExcelError("#DIV/0!")``; compares equal to the text."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"ExcelError({str(self)!r})"


# --------------------------------------------------------------------------- soffice


def find_soffice() -> str | None:
    """Return the LibreOffice executable (``soffice``/``libreoffice``), or None if absent."""
    for name in ("soffice", "libreoffice"):
        found = shutil.which(name)
        if found:
            return found
    candidates = list(_USUAL_SOFFICE_PATHS)
    candidates += sorted(glob.glob("/opt/libreoffice*/program/soffice"), reverse=True)
    for candidate in candidates:
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def libreoffice_values(
    path: str | os.PathLike[str],
    timeout: float = 120,
    *,
    soffice: str | os.PathLike[str] | None = None,
) -> Values:
    """Recalculate every formula of the workbook at ``path`` with LibreOffice.

    Returns ``{sheet name: {"A1": value}}`` for every worksheet (formula-free sheets map
    to ``{}``) and every formula cell found by openpyxl in the original file. A value
    is an ``int`` (whole numbers) or ``float``, ``str``, ``bool``, an :class:`ExcelError`
    such as ``"#DIV/0!"``, or None if LibreOffice wrote no result. ``soffice`` overrides
    :func:`find_soffice`. The input file is only read.
    """
    path = Path(path)
    if timeout <= 0:
        raise ValueError("timeout must be a positive number of seconds")
    formulas = _formula_cells(path)
    exe = os.fspath(soffice) if soffice is not None else find_soffice()
    if exe is None:
        raise RecalcError(f"LibreOffice is needed to recalculate {path.name}; {INSTALL_HINT}")

    with tempfile.TemporaryDirectory(prefix="xlfund-recalc-") as tmp_name:
        tmp = Path(tmp_name)
        profile = tmp / "profile"
        (profile / "user").mkdir(parents=True)
        (profile / "user" / "registrymodifications.xcu").write_text(_REGISTRY, encoding="utf-8")
        source = tmp / "in" / f"workbook{path.suffix.lower() or '.xlsx'}"
        source.parent.mkdir()
        shutil.copyfile(path, source)
        outdir = tmp / "out"
        outdir.mkdir()
        command = [
            exe,
            f"-env:UserInstallation={profile.as_uri()}",
            "--headless",
            "--invisible",
            "--nologo",
            "--nodefault",
            "--norestore",
            "--nolockcheck",
            "--convert-to",
            "xlsx:Calc MS Excel 2007 XML",
            "--outdir",
            str(outdir),
            str(source),
        ]
        output = _run(command, timeout, cwd=tmp, what=path.name)
        converted = outdir / "workbook.xlsx"
        if not converted.is_file():
            raise RecalcError(
                f"LibreOffice could not convert {path.name}; is it a valid Excel workbook? "
                f"LibreOffice said: {output or '(nothing)'}"
            )
        try:
            return _read_results(converted, formulas)
        except (zipfile.BadZipFile, KeyError, ValueError, SyntaxError) as exc:
            raise RecalcError(
                f"LibreOffice produced an unreadable copy of {path.name}: {exc}"
            ) from exc


def _run(command: list[str], timeout: float, *, cwd: Path, what: str) -> str:
    """Run LibreOffice in its own process group; kill the whole group on timeout."""
    options: dict[str, Any] = {}
    if os.name == "nt":
        options["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP
    else:
        options["start_new_session"] = True
    try:
        proc = subprocess.Popen(
            command,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            **options,
        )
    except OSError as exc:
        raise RecalcError(
            f"could not start LibreOffice at {command[0]!r} ({exc.strerror or exc}); "
            f"{INSTALL_HINT}, or give the path of the soffice program"
        ) from exc
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_tree(proc)
        raise RecalcError(
            f"LibreOffice did not finish recalculating {what} within {timeout:g} seconds "
            "and was stopped; try again with a longer timeout"
        ) from None
    except BaseException:
        _kill_tree(proc)
        raise
    text = out.decode("utf-8", "replace").strip()
    if proc.returncode != 0:
        raise RecalcError(
            f"LibreOffice failed (exit code {proc.returncode}) while recalculating {what}: "
            f"{text or '(no message)'}"
        )
    return text


def _kill_tree(proc: subprocess.Popen[bytes]) -> None:
    """Kill ``proc`` and everything it started (soffice -> oosplash -> soffice.bin)."""
    if os.name == "nt":
        subprocess.run(
            ["taskkill", "/F", "/T", "/PID", str(proc.pid)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        with contextlib.suppress(OSError):
            proc.kill()
    else:
        # The group id is proc.pid (start_new_session) and is not reaped yet: safe to kill.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(Exception):
        proc.communicate(timeout=10)


# --------------------------------------------------------------------------- reading


def _formula_cells(path: Path) -> dict[str, list[str]]:
    """``{sheet: [A1 addresses]}`` of every formula cell, found with openpyxl."""
    if not path.is_file():
        raise RecalcError(f"{path} does not exist or is not a file")
    try:
        wb = openpyxl.load_workbook(path)
    except Exception as exc:  # openpyxl raises many types for a non-workbook
        raise RecalcError(
            f"{path.name} is not an Excel workbook (.xlsx) that can be opened: {exc}"
        ) from exc
    try:
        return {
            ws.title: [
                cell.coordinate for row in ws.iter_rows() for cell in row if cell.data_type == "f"
            ]
            for ws in wb.worksheets
        }
    finally:
        wb.close()


def _read_results(converted: Path, formulas: dict[str, list[str]]) -> Values:
    with zipfile.ZipFile(converted) as zf:
        parts = _worksheet_parts(zf)
        shared: list[str] | None = None
        results: Values = {}
        for sheet, addresses in formulas.items():
            wanted = set(addresses)
            found: dict[str, object] = {}
            if wanted:
                part = parts.get(sheet)
                if part is None:
                    raise RecalcError(f"LibreOffice's output has no sheet named {sheet!r}")
                for address, cell_type, text in _iter_cells(zf, part):
                    if address not in wanted:
                        continue
                    if cell_type == "s" and shared is None:
                        shared = _shared_strings(zf)
                    found[address] = _python_value(cell_type, text, shared)
            results[sheet] = {address: found.get(address) for address in addresses}
        return results


def _iter_cells(zf: zipfile.ZipFile, part: str) -> Iterator[tuple[str, str, str | None]]:
    """Yield ``(address, t attribute, value text)`` for each cell of a worksheet part."""
    c_tag, v_tag, is_tag, t_tag = (f"{{{_MAIN_NS}}}{n}" for n in ("c", "v", "is", "t"))
    row_tag = f"{{{_MAIN_NS}}}row"
    row, col = 0, 0
    with zf.open(part) as fh:
        for event, elem in SafeET.iterparse(fh, events=("start", "end")):
            if event == "start":
                if elem.tag == row_tag:
                    row = int(elem.get("r", row + 1))
                    col = 0
                continue
            if elem.tag == c_tag:
                ref = elem.get("r")
                if ref:
                    letters, row = coordinate_from_string(ref.replace("$", ""))
                    col = column_index_from_string(letters)
                else:
                    col += 1
                cell_type = elem.get("t", "n")
                if cell_type == "inlineStr":
                    inline = elem.find(is_tag)
                    parts = [] if inline is None else inline.iter(t_tag)
                    text = "".join(t.text or "" for t in parts)
                else:
                    v = elem.find(v_tag)
                    text = None if v is None else (v.text or "")
                yield f"{get_column_letter(col)}{row}", cell_type, text
                elem.clear()
            elif elem.tag == row_tag:
                elem.clear()


def _shared_strings(zf: zipfile.ZipFile) -> list[str]:
    workbook = _workbook_part(zf)
    rels = _relationships(zf, workbook)
    target = next((t for t, kind in rels.values() if kind == _SHARED_STRINGS_REL), None)
    if target is None:
        return []
    si_tag, t_tag, rph_tag = (f"{{{_MAIN_NS}}}{n}" for n in ("si", "t", "rPh"))
    strings = []
    root = SafeET.fromstring(zf.read(_member(zf, target)))
    for si in root.iter(si_tag):
        phonetic = {id(t) for r in si.iter(rph_tag) for t in r.iter(t_tag)}
        strings.append("".join(t.text or "" for t in si.iter(t_tag) if id(t) not in phonetic))
    return strings


def _python_value(cell_type: str, text: str | None, shared: list[str] | None) -> object:
    if cell_type in ("str", "inlineStr"):
        return text or ""
    if text is None:
        return None
    if cell_type == "b":
        return text.strip() in ("1", "true")
    if cell_type == "e":
        return ExcelError(text)
    if cell_type == "s":
        return (shared or [])[int(text)]
    if cell_type == "d":
        return text
    if not text.strip():
        return None
    number = float(text)
    if number.is_integer() and abs(number) < 1e15:
        return int(number)
    return number


def _workbook_part(zf: zipfile.ZipFile) -> str:
    for target, kind in _relationships(zf, "").values():
        if kind == _OFFICE_DOCUMENT_REL:
            return target
    return "xl/workbook.xml"


def _relationships(zf: zipfile.ZipFile, part: str) -> dict[str, tuple[str, str]]:
    """``{rId: (target part, type)}`` for the relationships of ``part`` ("" = package)."""
    folder, name = posixpath.split(part)
    rels_name = posixpath.join(folder, "_rels", f"{name}.rels")
    try:
        member = _member(zf, rels_name)
    except KeyError:
        return {}
    root = SafeET.fromstring(zf.read(member))
    rels = {}
    for rel in root.iter(f"{{{_PKG_REL_NS}}}Relationship"):
        if rel.get("TargetMode") == "External":
            continue
        target = rel.get("Target", "")
        if target.startswith("/"):
            resolved = target.lstrip("/")
        else:
            resolved = posixpath.normpath(posixpath.join(folder, target))
        rels[rel.get("Id", "")] = (resolved, rel.get("Type", ""))
    return rels


def _worksheet_parts(zf: zipfile.ZipFile) -> dict[str, str]:
    """``{sheet name: zip member of its worksheet XML}``."""
    workbook = _workbook_part(zf)
    rels = _relationships(zf, workbook)
    root = SafeET.fromstring(zf.read(_member(zf, workbook)))
    parts = {}
    for sheet in root.iter(f"{{{_MAIN_NS}}}sheet"):
        target, kind = rels.get(sheet.get(f"{{{_DOC_REL_NS}}}id", ""), ("", ""))
        if kind == _WORKSHEET_REL:
            parts[sheet.get("name", "")] = _member(zf, target)
    return parts


def _member(zf: zipfile.ZipFile, part: str) -> str:
    """The zip member name of an OPC part (part names are case-insensitive)."""
    wanted = part.lstrip("/").lower()
    for name in zf.namelist():
        if name.lower() == wanted:
            return name
    raise KeyError(f"the workbook has no part {part!r}")


# --------------------------------------------------------------------------- writing


def embed_cached_values(
    path: str | os.PathLike[str],
    values: Mapping[str, Mapping[str, object]],
    out_path: str | os.PathLike[str],
) -> None:
    """Write a copy of the workbook at ``path`` to ``out_path`` with cached formula results.

    ``values`` is ``{sheet name: {"A1": value}}`` (as :func:`libreoffice_values` returns);
    every address must be a formula cell. Numbers get no ``t=``, text ``t="str"``,
    booleans ``t="b"``, errors (:class:`ExcelError` or a text in :data:`ERROR_CODES`)
    ``t="e"``; None removes the cached value. Only the ``<c>`` elements of formula cells
    change; every other part and byte of the worksheet XML is kept. The copy is written
    to a temporary file and renamed into place, so ``out_path`` may equal ``path``.
    """
    path, out_path = Path(path), Path(out_path)
    wanted: dict[str, dict[str, tuple[str | None, str] | None]] = {}
    for sheet, cells in values.items():
        wanted[sheet] = {}
        for address, value in cells.items():
            key = address.replace("$", "").upper()
            wanted[sheet][key] = _cached(value, f"{sheet!r}!{key}")

    if not path.is_file():
        raise RecalcError(f"{path} does not exist or is not a file")
    try:
        zin = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise RecalcError(f"{path.name} is not an Excel workbook (.xlsx): {exc}") from exc
    with zin:
        try:
            parts = _worksheet_parts(zin)
        except (KeyError, ValueError, SyntaxError) as exc:
            raise RecalcError(f"{path.name} is not an Excel workbook (.xlsx): {exc}") from exc
        unknown = sorted(set(wanted) - set(parts))
        if unknown:
            raise RecalcError(
                f"{path.name} has no worksheet named {', '.join(map(repr, unknown))}; "
                f"its worksheets are {', '.join(map(repr, parts))}"
            )
        by_part = {parts[sheet]: (sheet, cells) for sheet, cells in wanted.items() if cells}

        out_path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{out_path.name}.", suffix=".tmp", dir=out_path.parent
        )
        os.close(fd)
        try:
            with zipfile.ZipFile(tmp_name, "w") as zout:
                for info in zin.infolist():
                    data = zin.read(info)
                    if info.filename in by_part:
                        sheet, cells = by_part[info.filename]
                        data = _rewrite_sheet(data, sheet, cells)
                    zout.writestr(copy.copy(info), data)
            target_mode = out_path if out_path.exists() else path
            shutil.copymode(target_mode, tmp_name)
            os.replace(tmp_name, out_path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
            raise


def recalculate(
    path: str | os.PathLike[str],
    out_path: str | os.PathLike[str] | None = None,
    timeout: float = 120,
    *,
    soffice: str | os.PathLike[str] | None = None,
) -> Values:
    """Recalculate with LibreOffice and embed the results; return them.

    Writes to ``out_path``, or replaces ``path`` atomically when it is None.
    """
    values = libreoffice_values(path, timeout, soffice=soffice)
    embed_cached_values(path, values, path if out_path is None else out_path)
    return values


def _cached(value: object, where: str) -> tuple[str | None, str] | None:
    """``(t attribute or None, <v> text)`` for a value, or None for 'no cached value'."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "b", "1" if value else "0"
    if isinstance(value, ExcelError) or (isinstance(value, str) and value in ERROR_CODES):
        return "e", str(value)
    if isinstance(value, str):
        return "str", value
    if isinstance(value, numbers.Integral):
        return None, str(int(value))
    if isinstance(value, numbers.Real | Decimal):
        number = float(value)
        if not math.isfinite(number):
            raise RecalcError(
                f"cannot store {value!r} as the result of {where}: a workbook cell "
                "cannot hold infinity or NaN; store an error such as '#NUM!' instead"
            )
        if number.is_integer() and abs(number) < 1e15:
            return None, str(int(number))
        return None, repr(number).upper()
    raise RecalcError(
        f"cannot store a {type(value).__name__} as the result of {where}; "
        "give a number, text, True/False or an error such as '#DIV/0!'"
    )


def _rewrite_sheet(
    data: bytes, sheet: str, cells: dict[str, tuple[str | None, str] | None]
) -> bytes:
    handler = _CellRewriter(cells, _xml_prolog(data))
    parser = defusedxml.sax.make_parser()
    parser.setContentHandler(handler)
    parser.setProperty(property_lexical_handler, handler)
    source = InputSource()
    source.setByteStream(io.BytesIO(data))
    try:
        parser.parse(source)
    except Exception as exc:
        raise RecalcError(f"the XML of worksheet {sheet!r} cannot be read: {exc}") from exc
    missing = [address for address in cells if address not in handler.formula_cells]
    if missing:
        shown = ", ".join(missing[:10])
        if len(missing) > 10:
            shown += f" and {len(missing) - 10} more"
        raise RecalcError(
            f"worksheet {sheet!r} has no formula in {shown}; cached values can only be "
            "stored for formula cells"
        )
    return handler.result()


def _xml_prolog(data: bytes) -> str:
    """The original XML declaration plus the whitespace after it (SAX does not report it)."""
    body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    if not body.startswith(b"<?xml"):
        return ""
    end = body.find(b"?>")
    if end < 0:
        return ""
    declaration = body[: end + 2].decode("utf-8", "replace")
    if "encoding" in declaration and "utf-8" not in declaration.lower():
        declaration = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    rest = end + 2
    while rest < len(body) and body[rest : rest + 1] in (b" ", b"\t", b"\r", b"\n"):
        rest += 1
    return declaration + body[end + 2 : rest].decode("ascii")


def _escape_text(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")
    )


def _escape_attr(text: str) -> str:
    return _escape_text(text).replace('"', "&quot;").replace("\n", "&#10;").replace("\t", "&#9;")


class _CellRewriter(ContentHandler, LexicalHandler):
    """SAX filter that copies a worksheet verbatim except the cached values of formula cells.

    Runs without namespace processing so element names, prefixes and namespace
    declarations are written back exactly as read; the namespace of ``c``/``f``/``v``
    is resolved from the ``xmlns`` attributes in scope. Events inside each ``<c>`` are
    buffered until ``</c>`` so the cell can be rewritten once it is known to hold a formula.
    """

    def __init__(self, cells: dict[str, tuple[str | None, str] | None], prolog: str) -> None:
        super().__init__()
        self._cells = cells
        self._out: list[str] = [prolog]
        self._open = False  # a start tag is written but not yet closed with ">" or "/>"
        self._scopes: list[dict[str, str]] = [{}]
        self._cell: list[tuple[Any, ...]] | None = None
        self._depth = 0
        self._row = 0
        self._col = 0
        self.formula_cells: set[str] = set()

    def result(self) -> bytes:
        self._close_tag()
        return "".join(self._out).encode("utf-8")

    # -- namespace bookkeeping
    def _resolve(self, qname: str) -> tuple[str, str]:
        prefix, _, local = qname.rpartition(":")
        for scope in reversed(self._scopes):
            if prefix in scope:
                return scope[prefix], local
        return "", local

    # -- output primitives
    def _close_tag(self) -> None:
        if self._open:
            self._out.append(">")
            self._open = False

    def _start(self, name: str, attrs: Mapping[str, str]) -> None:
        self._close_tag()
        self._out.append(f"<{name}")
        for key, value in attrs.items():
            self._out.append(f' {key}="{_escape_attr(value)}"')
        self._open = True

    def _end(self, name: str) -> None:
        if self._open:
            self._out.append("/>")
            self._open = False
        else:
            self._out.append(f"</{name}>")

    def _text(self, text: str) -> None:
        if text:
            self._close_tag()
            self._out.append(_escape_text(text))

    def _emit(self, event: tuple[Any, ...]) -> None:
        kind = event[0]
        if kind == "start":
            self._start(event[1], event[2])
        elif kind == "end":
            self._end(event[1])
        elif kind == "text":
            self._text(event[1])
        elif kind == "pi":
            self._close_tag()
            self._out.append(f"<?{event[1]} {event[2]}?>" if event[2] else f"<?{event[1]}?>")
        elif kind == "comment":
            self._close_tag()
            self._out.append(f"<!--{event[1]}-->")

    def _event(self, event: tuple[Any, ...]) -> None:
        if self._cell is not None:
            self._cell.append(event)
        else:
            self._emit(event)

    # -- SAX content events
    def startElement(self, name: str, attrs: Any) -> None:  # noqa: N802 (SAX API)
        attributes = dict(attrs.items())
        scope = {
            (key[6:] if key.startswith("xmlns:") else ""): value
            for key, value in attributes.items()
            if key == "xmlns" or key.startswith("xmlns:")
        }
        self._scopes.append(scope)
        uri, local = self._resolve(name)
        if self._cell is not None:
            self._depth += 1
            self._cell.append(("start", name, attributes, uri, local, self._depth))
            return
        if uri == _MAIN_NS and local == "row":
            self._row = int(attributes.get("r", self._row + 1))
            self._col = 0
        elif uri == _MAIN_NS and local == "c":
            self._cell = [("start", name, attributes, uri, local, 0)]
            self._depth = 0
            return
        self._emit(("start", name, attributes))

    def endElement(self, name: str) -> None:  # noqa: N802 (SAX API)
        self._scopes.pop()
        if self._cell is None:
            self._emit(("end", name))
            return
        self._cell.append(("end", name, self._depth))
        if self._depth == 0:
            events, self._cell = self._cell, None
            self._flush_cell(events)
        else:
            self._depth -= 1

    def characters(self, content: str) -> None:
        self._event(("text", content))

    def ignorableWhitespace(self, whitespace: str) -> None:  # noqa: N802 (SAX API)
        self._event(("text", whitespace))

    def processingInstruction(self, target: str, data: str) -> None:  # noqa: N802 (SAX API)
        self._event(("pi", target, data))

    def comment(self, content: str) -> None:
        self._event(("comment", content))

    # -- the actual rewrite
    def _flush_cell(self, events: list[tuple[Any, ...]]) -> None:
        _, name, attrs, *_ = events[0]
        ref = attrs.get("r")
        if ref:
            letters, self._row = coordinate_from_string(ref.replace("$", "").upper())
            self._col = column_index_from_string(letters)
        else:
            self._col += 1
        address = f"{get_column_letter(self._col)}{self._row}"
        formula = next(
            (e for e in events if e[0] == "start" and e[5] == 1 and e[3:5] == (_MAIN_NS, "f")),
            None,
        )
        if formula is not None:
            self.formula_cells.add(address)
        if formula is None or address not in self._cells:
            for event in events:
                self._emit(event[:3])
            return

        cached = self._cells[address]
        new_attrs = dict(attrs)
        if cached is not None and cached[0] is not None:
            new_attrs["t"] = cached[0]
        else:
            new_attrs.pop("t", None)
        prefix = formula[1][: -len("f")]  # "f" -> "", "x:f" -> "x:"
        self._start(name, new_attrs)
        skipping = False
        in_formula = False
        for event in events[1:-1]:
            kind = event[0]
            if kind == "start" and event[5] == 1:
                skipping = event[3:5] == (_MAIN_NS, "v")
                in_formula = event is formula
            if not skipping:
                self._emit(event[:3])
            if kind == "end" and event[2] == 1:
                if in_formula and cached is not None:
                    self._start(f"{prefix}v", {})
                    self._text(cached[1])
                    self._close_tag()
                    self._out.append(f"</{prefix}v>")
                skipping = in_formula = False
        self._end(name)

    # -- unused lexical events
    def startDTD(self, name: str, public_id: str | None, system_id: str | None) -> None:  # noqa: N802
        pass

    def endDTD(self) -> None:  # noqa: N802
        pass

    def startCDATA(self) -> None:  # noqa: N802
        pass

    def endCDATA(self) -> None:  # noqa: N802
        pass
