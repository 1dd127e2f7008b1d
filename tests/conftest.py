"""Shared fixtures: the shipped template, a freshly generated one, and paths to shared data."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

# xlwings reads these once, at import: its decorators become the real Office.js runtime
# (xlwings Server / Lite), which runs headless here.  The noncommercial key is the
# PolyForm Noncommercial licence, checked offline.
os.environ.setdefault("XLWINGS_ON_SERVER", "true")
os.environ.setdefault("XLWINGS_LICENSE_KEY", "noncommercial")

import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "workbooks" / "learning_support_allocation.xlsx"
SHARED = ROOT.parent / "shared"
IN_CI = os.environ.get("CI", "").lower() == "true"

# CI replays the same examples every run, so a landing never depends on luck; developers'
# runs explore new examples each time (and keep failures in .hypothesis/).
settings.register_profile("ci", derandomize=True, print_blob=True)
if IN_CI:
    settings.load_profile("ci")


def needs_libreoffice(test):
    """Skip without LibreOffice on a developer's machine; in CI it must be there."""
    from xlfund.recalc import find_soffice

    skip = pytest.mark.skipif(find_soffice() is None and not IN_CI,
                              reason="LibreOffice (soffice) is not installed")
    return pytest.mark.libreoffice(skip(test))


@pytest.fixture(scope="session")
def shipped_template() -> Path:
    assert TEMPLATE.exists(), "run `xlfund template` to generate the shipped template"
    return TEMPLATE


@pytest.fixture(scope="session")
def fresh_template(tmp_path_factory) -> Path:
    """The template generated now, recalculated by LibreOffice."""
    from xlfund.jobs import make_template

    out = tmp_path_factory.mktemp("template") / "learning_support_allocation.xlsx"
    outcome = make_template(out, recalc=True)
    assert outcome.recalculated, outcome.note
    return out


@pytest.fixture
def template_copy(tmp_path, shipped_template) -> Path:
    """A private copy of the shipped template to break or change."""
    target = tmp_path / "copy.xlsx"
    shutil.copyfile(shipped_template, target)
    return target
