"""Write docs/checks.md from every registered check: ``python -m xlfund.checks_doc``."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

# Modules that register checks when imported.
CHECK_MODULES = ("xlfund.validation.codes", "xlfund.safety", "xlfund.audit", "xlfund.signoff")


def load_all_checks() -> None:
    for name in CHECK_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise


def render() -> str:
    from .findings import checks_markdown

    load_all_checks()
    return checks_markdown() + "\n"


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/checks.md")
    target.write_text(render(), encoding="utf-8")
    print(f"wrote {target}")
