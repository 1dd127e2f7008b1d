"""Sign-off: who approved the allocation, when, and a content hash that notices later edits.

The content hash covers the inputs and results: the Parameters, Schools, Clusters,
Allocation, RetainedPosts, Timeline and PaymentSchedule tables, as read into
``WorkbookData``.  It is computed from canonical values, so the same workbook gives the
same hash whether it is read from a file (python-calamine) or from Excel through xlwings:

* numbers to 15 significant digits (so 2000000, 2000000.0 and Excel's and LibreOffice's
  spellings of one double agree); dates as ISO text; text trimmed; blanks dropped;
* each row as header -> value, and rows sorted, so the order of sheets, tables, columns
  and rows does not matter (sorting a table to look at it is not an edit);
* where a table sits on its sheet does not matter either.

Any other edit to those tables (a pupil count, a weight, an allocation) changes the hash,
and ``signoff_findings`` reports it as SIGN001 at the next validation.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

from . import contract as c
from .errors import InputError, XlfundError
from .files import atomic_path, refuse_overwriting_input
from .findings import Finding, Report, Severity, finding, register
from .workbook.reader import TableData, WorkbookData, read_workbook

HASHED_TABLES = (c.PARAMETERS_TABLE, c.SCHOOLS_TABLE, c.CLUSTERS_TABLE, c.ALLOCATION_TABLE,
                 c.RETAINED_TABLE, c.TIMELINE_TABLE, c.SCHEDULE_TABLE)
SIGNOFF_TABLE = c.TableSpec("SignOff", c.COVER, ("Field", "Value"), ("Field", "Value"))
STATUS = "Status"
SIGNED_BY = "Signed off by"
SIGNED_AT = "Signed off at"
CONTENT_HASH = "Content hash"
SIGNOFF_FIELDS = (STATUS, SIGNED_BY, SIGNED_AT, CONTENT_HASH)
HASH_PREFIX = "sha256:"
_HASH_PATTERN = re.compile(r"^sha256:[0-9a-f]{64}$")
_VERSION = 1

register("SIGN001", Severity.ERROR, "Edited after sign-off",
         "The inputs and results (Parameters, Schools, Clusters, Allocation, Retained posts, "
         "Timeline, Payment schedule) no longer match the content hash recorded when the "
         "workbook was signed off, so the signed-off figures are not the ones in the file.",
         "If the change was intended, validate the workbook and sign it off again; "
         "otherwise go back to the signed-off copy.")
register("SIGN002", Severity.WARNING, "Sign-off incomplete",
         "'Signed off at' is filled in on Cover but there is no content hash, so edits "
         "after sign-off cannot be detected.",
         "Sign off with the Sign off button or `xlfund sign-off`, which record the hash; "
         "do not type sign-off details by hand.")
register("SIGN003", Severity.ERROR, "Content hash not recognised",
         "The Content hash on Cover is not one xlfund wrote (sha256: and 64 hex digits), "
         "so the sign-off cannot be checked.",
         "Sign off again with the Sign off button or `xlfund sign-off`.")
register("SIGN004", Severity.WARNING, "Sign-off not checked",
         "Some formulas in the signed-off tables have no saved result, so the content "
         "hash cannot be compared.",
         "Open the workbook in Excel and save it (or recalculate it with LibreOffice), "
         "then validate again.")


# ---------------------------------------------------------------------------- hashing
def _number(value: Any) -> str:
    if isinstance(value, Fraction):
        value = float(value) if value.denominator != 1 else int(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    number = Decimal(format(float(value), ".15g")) if not isinstance(value, Decimal) else value
    if number == number.to_integral_value():
        return str(int(number))
    return format(number.normalize(), "f")


def canonical_value(value: Any) -> str | None:
    """One cell as tagged text ("n:0.75", "d:2013-09-01", "t:Primary"); None if blank."""
    if value is None:
        return None
    if isinstance(value, bool):
        return f"b:{str(value).lower()}"
    if isinstance(value, str):
        text = unicodedata.normalize("NFC", value).strip()
        return f"t:{text}" if text else None
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return f"d:{value.date().isoformat()}"
        return f"d:{value.replace(microsecond=0, tzinfo=None).isoformat()}"
    if isinstance(value, dt.date):
        return f"d:{value.isoformat()}"
    if isinstance(value, int | float | Decimal | Fraction):
        if isinstance(value, float) and math.isnan(value):
            return None
        return f"n:{_number(value)}"
    if hasattr(value, "item"):  # numpy scalars
        return canonical_value(value.item())
    try:
        if value != value:  # NaN-likes (pandas NA)
            return None
    except (TypeError, ValueError):
        pass
    return f"t:{value}"


def _header(header: str) -> str:
    return " ".join(str(header).split())


def canonical_table(table: TableData) -> list[str]:
    """The table's rows as sorted JSON texts of header -> value (blanks dropped)."""
    headers = [(name, _header(name)) for name in table.columns]
    rows = []
    for record in table.frame.to_dict("records"):
        row = {}
        for name, label in headers:
            value = canonical_value(record.get(name))
            if value is not None:
                row[label] = value
        if row:
            rows.append(json.dumps(row, sort_keys=True, ensure_ascii=False))
    return sorted(rows)


def canonical_content(data: WorkbookData) -> dict[str, Any]:
    """What the content hash covers, as plain data."""
    tables: dict[str, list[str] | None] = {}
    for spec in HASHED_TABLES:
        table = data.find_table(spec)
        tables[spec.name] = None if table is None else canonical_table(table)
    return {"xlfund content hash": _VERSION, "tables": tables}


def content_hash(data: WorkbookData) -> str:
    """``sha256:`` and the hex digest of the canonical inputs and results."""
    text = json.dumps(canonical_content(data), sort_keys=True, ensure_ascii=False,
                      separators=(",", ":"))
    return HASH_PREFIX + hashlib.sha256(text.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------- Cover
@dataclass(frozen=True)
class FieldCell:
    sheet: str
    cell: str  # the Value cell of the field's row
    value: Any


def signoff_fields(data: WorkbookData) -> dict[str, FieldCell]:
    """The SignOff table's rows by field name (casefolded), found by Field text."""
    table = data.find_table(SIGNOFF_TABLE)
    if table is None:
        return {}
    field_col, value_col = table.column("Field"), table.column("Value")
    if not field_col or not value_col:
        return {}
    out: dict[str, FieldCell] = {}
    for row in table.frame.index:
        label = table.frame.at[row, field_col]
        if not isinstance(label, str) or not label.strip():
            continue
        key = " ".join(label.split()).casefold()
        value = table.frame.at[row, value_col]
        out.setdefault(key, FieldCell(table.sheet, table.cell(value_col, row), value))
    return out


def field_cells(data: WorkbookData) -> dict[str, tuple[str, str]]:
    """Field name (casefolded) -> (sheet, A1 of its Value cell)."""
    return {k: (v.sheet, v.cell) for k, v in signoff_fields(data).items()}


def field_text(value: Any) -> str:
    """A SignOff value as a person reads it ('' when blank; dates as 15 Jul 2013 10:30)."""
    if value is None:
        return ""
    if isinstance(value, float) and value != value:
        return ""
    if isinstance(value, dt.datetime):
        return f"{value:%d %b %Y %H:%M}"
    if isinstance(value, dt.date):
        return f"{value:%d %b %Y}"
    return str(value).strip()


def signoff_findings(data: WorkbookData) -> list[Finding]:
    """SIGN001 when the workbook changed after sign-off (and SIGN002-004, see the registry)."""
    fields = signoff_fields(data)
    recorded = fields.get(CONTENT_HASH.casefold())
    signed_at = fields.get(SIGNED_AT.casefold())
    signed_by = fields.get(SIGNED_BY.casefold())
    recorded_hash = field_text(recorded.value) if recorded else ""
    if not recorded_hash:
        if signed_at is not None and field_text(signed_at.value):
            return [finding("SIGN002", signed_at.sheet, signed_at.cell,
                            f"'Signed off at' says {field_text(signed_at.value)}, but the Content "
                            "hash is blank.")]
        return []
    assert recorded is not None
    if not _HASH_PATTERN.match(recorded_hash.lower()):
        return [finding("SIGN003", recorded.sheet, recorded.cell,
                        f"The Content hash is {recorded_hash[:40]!r}, which xlfund did not "
                        "write.")]
    if _uncalculated_in_hashed_tables(data):
        return [finding("SIGN004", recorded.sheet, recorded.cell,
                        "Formulas in the signed-off tables have no saved result, so the "
                        "sign-off cannot be checked.")]
    if content_hash(data) == recorded_hash.lower():
        return []
    who = field_text(signed_by.value) if signed_by else ""
    when = field_text(signed_at.value) if signed_at else ""
    by = f" by {who}" if who else ""
    on = f" on {when}" if when else ""
    return [finding("SIGN001", recorded.sheet, recorded.cell,
                    f"The workbook was edited after it was signed off{by}{on}: the inputs "
                    "and results no longer match the recorded content hash.")]


def _uncalculated_in_hashed_tables(data: WorkbookData) -> bool:
    if not data.formulas_read:
        return False
    from openpyxl.utils.cell import coordinate_to_tuple, range_boundaries

    areas = [(t.sheet, range_boundaries(t.ref)) for spec in HASHED_TABLES
             if (t := data.find_table(spec)) is not None and t.ref]
    for sheet, address, _ in data.uncalculated_cells():
        row, col = coordinate_to_tuple(address)
        for table_sheet, (min_col, min_row, max_col, max_row) in areas:
            if sheet == table_sheet and min_row <= row <= max_row and min_col <= col <= max_col:
                return True
    return False


def blocking_findings(report: Report) -> list[Finding]:
    """Errors that stop a sign-off (a stale earlier sign-off does not: signing replaces it)."""
    return [f for f in report.sorted_findings()
            if f.severity == Severity.ERROR and not f.code.startswith("SIGN")]


def status_after_validation(report: Report, data: WorkbookData) -> str:
    """The Cover status line after a validation."""
    errors, warnings = len(report.errors), len(report.warnings)
    warned = f", {warnings} warning{'s' * (warnings != 1)}" if warnings else ""
    if errors:
        return (f"Invalid: {errors} error{'s' * (errors != 1)}{warned}; see the Validation "
                "sheet")
    recorded = signoff_fields(data).get(CONTENT_HASH.casefold())
    if recorded is not None and field_text(recorded.value):
        return f"Signed off and valid{warned}"
    return f"Valid{warned}: ready for sign-off"


def signed_status(by: str, when: dt.datetime) -> str:
    return f"Signed off by {by} on {when:%d %b %Y %H:%M}"


def signoff_values(by: str, when: dt.datetime, digest: str) -> dict[str, Any]:
    """What a sign-off writes into the SignOff table, by field."""
    return {SIGNED_BY: by, SIGNED_AT: when, CONTENT_HASH: digest,
            STATUS: signed_status(by, when)}


def now() -> dt.datetime:
    return dt.datetime.now().replace(microsecond=0)


# ---------------------------------------------------------------------------- headless
class SignOffRefused(XlfundError):
    """Sign-off refused because validation reports errors."""

    def __init__(self, findings: list[Finding]) -> None:
        self.findings = findings
        shown = [f"- {f.location} {f.code}: {f.message}" for f in findings[:10]]
        more = len(findings) - len(shown)
        if more:
            shown.append(f"- ... and {more} more")
        count = len(findings)
        super().__init__(
            f"Not signed off: {count} error{'s' * (count != 1)} remain. Fix them, validate "
            "again (xlfund validate FILE), then sign off.\n" + "\n".join(shown))


@dataclass(frozen=True)
class SignOffOutcome:
    path: Path
    by: str
    when: dt.datetime
    content_hash: str
    recalculated: bool
    note: str = ""
    warnings: list[Finding] = field(default_factory=list)


def _missing_fields(cells: dict[str, tuple[str, str]]) -> list[str]:
    return [name for name in SIGNOFF_FIELDS if name.casefold() not in cells]


def require_fields(cells: dict[str, tuple[str, str]]) -> None:
    missing = _missing_fields(cells)
    if missing:
        raise InputError(
            f"The SignOff table on sheet '{c.COVER}' has no row for "
            f"{', '.join(repr(m) for m in missing)}. Add a row with that text in the Field "
            "column (docs/workbook.md), then sign off again.")


def sign_off_file(source: str | Path, output: str | Path, by: str,
                  when: dt.datetime | None = None, *, recalc: bool = True) -> SignOffOutcome:
    """Validate ``source`` and, if it has no errors, write a signed-off copy to ``output``.

    The copy records who, when and the content hash in the Cover SignOff table; the
    input file is never changed.  Raises SignOffRefused while validation reports errors.
    """
    from openpyxl import load_workbook

    from .jobs import recalculate_if_possible
    from .validation import validate

    source, output = Path(source), Path(output)
    refuse_overwriting_input(source, output)
    by = " ".join(str(by or "").split())
    if not by:
        raise InputError("Say who signs off: give a name with --by, e.g. --by \"A. Smith\".")
    data = read_workbook(source)
    cells = field_cells(data)
    require_fields(cells)
    report = validate(data, name=str(source))
    blocking = blocking_findings(report)
    if blocking:
        raise SignOffRefused(blocking)
    digest = content_hash(data)
    when = (when or now()).replace(microsecond=0, tzinfo=None)
    wb = load_workbook(source, keep_vba=source.suffix.lower() == ".xlsm", keep_links=True)
    for name, value in signoff_values(by, when, digest).items():
        sheet, address = cells[name.casefold()]
        cell = wb[sheet][address]
        cell.value = value
        if name == SIGNED_AT:
            from .workbook.style import DATETIME

            cell.number_format = DATETIME
    with atomic_path(output) as tmp:
        wb.save(tmp)
        recalculated, note = recalculate_if_possible(tmp, recalc)
    return SignOffOutcome(output, by, when, digest, recalculated, note, report.warnings)
