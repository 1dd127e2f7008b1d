"""The main jobs, shared by the command line and the Excel macros' headless twins."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from openpyxl import load_workbook

from . import contract as c
from .allocation import AllocationResult, allocate
from .files import atomic_path, refuse_overwriting_input
from .parameters import Parameters
from .retained import RetainedResult, cost_posts, illustrative_posts
from .workbook.inputs import model_inputs
from .workbook.reader import read_workbook
from .workbook.template import build_workbook, write_allocation, write_schedule

DEFAULT_TEMPLATE = Path("workbooks") / "learning_support_allocation.xlsx"


@dataclass(frozen=True)
class JobOutcome:
    path: Path
    allocation: AllocationResult
    retained: RetainedResult | None
    recalculated: bool
    note: str = ""


def recalculate_if_possible(path: Path, recalc: bool) -> tuple[bool, str]:
    """Give the file's formulas cached values with LibreOffice, if asked and available."""
    if not recalc:
        return False, "Formulas were not recalculated (--no-recalc)."
    from .recalc import find_soffice, recalculate

    if find_soffice() is None:
        return False, (
            "LibreOffice is not installed, so Excel formulas carry no cached values until the "
            "file is opened and saved in Excel. Install it with: "
            "sudo apt-get install libreoffice-calc-nogui"
        )
    recalculate(path)
    return True, ""


def make_template(output: Path = DEFAULT_TEMPLATE, *, recalc: bool = True) -> JobOutcome:
    """Write the sample allocation workbook, computed and (if possible) recalculated."""
    from .sample import load_clusters, load_schools

    schools, clusters, params = load_schools(), load_clusters(), Parameters()
    result = allocate(schools, clusters, params)
    posts = illustrative_posts()
    wb = build_workbook(schools, clusters, params, posts, result, sample=True)
    with atomic_path(output) as tmp:
        wb.save(tmp)
        recalculated, note = recalculate_if_possible(tmp, recalc)
    retained = cost_posts(posts, result.pots.retained)
    return JobOutcome(Path(output), result, retained, recalculated, note)


def allocate_file(source: Path, output: Path, *, recalc: bool = True) -> JobOutcome:
    """Read a workbook, compute the allocation, write it into a new copy of the workbook."""
    source, output = Path(source), Path(output)
    refuse_overwriting_input(source, output)
    data = read_workbook(source, formulas=False)
    inputs = model_inputs(data)
    result = allocate(inputs.schools, inputs.clusters, inputs.parameters)
    retained = (cost_posts(inputs.posts, result.pots.retained)
                if inputs.posts is not None else None)
    keep_vba = source.suffix.lower() == ".xlsm"
    wb = load_workbook(source, keep_vba=keep_vba, keep_links=True)
    write_allocation(wb, result)
    write_schedule(wb, result)
    _set_status(wb, data, c.ALLOCATED_STATUS)
    with atomic_path(output) as tmp:
        wb.save(tmp)
        recalculated, note = recalculate_if_possible(tmp, recalc)
    return JobOutcome(output, result, retained, recalculated, note)


def _set_status(wb, data, status: str) -> None:  # noqa: ANN001 - openpyxl Workbook
    """Set Status in the Cover sheet's SignOff table, found as sign-off finds it."""
    from .signoff import STATUS, field_cells

    place = field_cells(data).get(STATUS.casefold())
    if place is not None:
        sheet, address = place
        wb[sheet][address] = status
