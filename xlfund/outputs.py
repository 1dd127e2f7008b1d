"""Make text that came from a submitted workbook safe to put in a report or a new file.

Cell text, sheet names and file names in a submission are chosen by whoever sent it.
Echoed into a CSV or XLSX output, text starting with ``=``, ``+``, ``-`` or ``@`` becomes
a formula when the output is opened in a spreadsheet ("CSV injection": it can run a DDE
command or send data to a web address).  Echoed into an HTML report, ``<script>`` would
run in the reader's browser.  Renderers call these helpers on every value they echo.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any

# Characters that make a spreadsheet read a cell or CSV field as a formula (OWASP), with
# their full-width forms, which some spreadsheet programs also accept.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d",
                    "\uff20")


def looks_like_formula(text: str) -> bool:
    """True when a spreadsheet could take this text for a formula (leading spaces ignored)."""
    return text.lstrip(" ").startswith(FORMULA_TRIGGERS)


def neutralise_formula_text(value: Any) -> Any:
    """A value for a CSV field or a text output cell: formula-like text gets a leading
    apostrophe, so spreadsheets show it as text; anything else is returned unchanged.

    Numbers are not text and are never changed (-5 stays the number -5).
    """
    if isinstance(value, str) and looks_like_formula(value):
        return "'" + value
    return value


def neutralise_row(values: Iterable[Any]) -> list[Any]:
    """``neutralise_formula_text`` on every field of a CSV row."""
    return [neutralise_formula_text(v) for v in values]


def set_text_cell(cell: Any, value: Any) -> None:
    """Put ``value`` in an openpyxl cell so that text can never become a formula.

    openpyxl stores any string starting with ``=`` as a formula.  Here such text is stored
    as a string with Excel's quote prefix, so Excel shows exactly the text (no visible
    apostrophe) and never calculates it.
    """
    cell.value = value
    if isinstance(value, str) and looks_like_formula(value):
        cell.data_type = "s"
        cell.quotePrefix = True


def html_text(value: Any) -> str:
    """Text for an HTML report: every character that means something in HTML is escaped,
    quotes included, so the result is safe in element content and in attribute values."""
    return html.escape("" if value is None else str(value), quote=True)
