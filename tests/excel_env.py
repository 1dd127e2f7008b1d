"""Make xlwings' decorators the real Office.js runtime (xlwings Server / Lite) for tests.

Import this before anything imports xlwings: xlwings reads XLWINGS_ON_SERVER once, at
import time, and its PRO part checks the licence key when first imported.  The
``noncommercial`` key (PolyForm Noncommercial) is accepted offline.
"""

from __future__ import annotations

import os

os.environ["XLWINGS_ON_SERVER"] = "true"
os.environ.setdefault("XLWINGS_LICENSE_KEY", "noncommercial")

import xlwings as xw  # noqa: E402
import xlwings.server as server  # noqa: E402

if not (xw.on_server and xw.__pro__):
    raise RuntimeError(
        "xlwings was imported before tests/excel_env.py set XLWINGS_ON_SERVER and "
        "XLWINGS_LICENSE_KEY, so its decorators are no-op stubs. Import tests.excel_env "
        "first (or set both variables in tests/conftest.py or the environment)."
    )

__all__ = ["xw", "server"]
