"""xlfund: the Learning Support delegation to school clusters, computed exactly from Excel.

``xlfund.validate(path_or_workbook)`` is the validator every adapter calls (the command
line, the Excel macros, CI); ``xlfund.allocate(schools, clusters, parameters)`` the model.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "allocate", "validate", "Parameters"]


def __getattr__(name: str) -> Any:
    # Imported on first use, so `xlfund --help` does not pay for pandas and pandera.
    if name == "validate":
        from .validation import validate

        return validate
    if name == "allocate":
        from .allocation import allocate

        return allocate
    if name == "Parameters":
        from .parameters import Parameters

        return Parameters
    raise AttributeError(f"module 'xlfund' has no attribute {name!r}")
