"""Documentation generated from code must match the code."""

from pathlib import Path

import xlfund
from xlfund.checks_doc import render
from xlfund.findings import CHECKS

ROOT = Path(__file__).resolve().parents[1]


def test_checks_doc_is_up_to_date():
    assert (ROOT / "docs" / "checks.md").read_text(encoding="utf-8") == render(), (
        "run `python -m xlfund.checks_doc` to regenerate docs/checks.md"
    )


def test_every_check_explains_why_and_how_to_fix():
    render()  # imports every module that registers checks
    assert len(CHECKS) >= 40
    for check in CHECKS.values():
        assert check.title and len(check.why) > 20 and len(check.fix) > 10, check.code


def test_library_api_is_the_validator(shipped_template):
    report = xlfund.validate(shipped_template)
    assert report.status == "valid"
