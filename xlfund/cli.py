"""The `xlfund` command line: thin wrappers over xlfund.jobs and xlfund.validation."""

from __future__ import annotations

from pathlib import Path

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from . import __version__
from . import contract as c
from .errors import XlfundError

app = typer.Typer(
    help="Learning Support Funding for school clusters: allocate, validate and sign off "
    "the allocation workbook.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Piped output (CI logs, files) gets a fixed width wide enough for the cluster table.
console = Console(width=None if Console().is_terminal else 132)
err_console = Console(stderr=True)


def _money(value: float | int) -> str:
    return f"£{value:,.0f}"


def print_allocation(outcome) -> None:  # noqa: ANN001 - JobOutcome
    result = outcome.allocation
    pots = result.pots
    params = result.parameters
    table = Table(title=f"Learning Support allocation {params.funding_year}", title_justify="left",
                  box=box.SIMPLE_HEAD)
    for header, justify in (("ID", "left"), ("Cluster", "left"), ("Schools", "right"),
                            ("Pupils", "right"), ("Formula", "right"),
                            ("Protection", "right"), ("Annual", "right"), ("Share", "right"),
                            ("Sep-Mar", "right")):
        table.add_column(header, justify=justify, no_wrap=True)
    frame = result.clusters
    for row in frame.to_dict("records"):
        table.add_row(
            str(row[c.CLUSTER_ID]), str(row[c.CLUSTER_NAME]), str(row[c.SCHOOL_COUNT]),
            f"{row[c.PUPILS]:,.1f}", _money(row[c.FORMULA_GBP]), _money(row[c.PROTECTION_GBP]),
            _money(row[c.ANNUAL_GBP]), f"{row[c.SHARE]:.2%}", _money(row[c.PART_YEAR_GBP]),
        )
    table.add_section()
    table.add_row("Total", "", str(int(frame[c.SCHOOL_COUNT].sum())),
                  f"{frame[c.PUPILS].sum():,.1f}", _money(frame[c.FORMULA_GBP].sum()),
                  _money(frame[c.PROTECTION_GBP].sum()), _money(frame[c.ANNUAL_GBP].sum()),
                  f"{frame[c.SHARE].sum():.2%}", _money(frame[c.PART_YEAR_GBP].sum()))
    console.print(table)
    lines = [
        f"Total funding {_money(pots.total)} = delegated {_money(pots.delegated)} "
        f"({float(params.delegated_share):.0%}) + retained {_money(pots.retained)}.",
        f"Shared between {len(frame)} clusters: {_money(pots.distributable)}"
        + (f" after a contingency of {_money(pots.contingency)}." if pots.contingency else "."),
        f"Paid {params.delegation_start:%d %B %Y} to {params.financial_year_end:%d %B %Y}: "
        f"{_money(pots.part_year_total)} ({pots.part_year_fraction.numerator}/"
        f"{pots.part_year_fraction.denominator} of a year, {len(pots.payment_months)} "
        "monthly payments).",
    ]
    if outcome.retained is not None:
        r = outcome.retained
        state = (f"headroom {_money(r.headroom)}" if r.headroom >= 0
                 else f"OVERSPENT by {_money(-r.headroom)}")
        lines.append(f"Retained posts: {float(r.total_fte):g} FTE costing "
                     f"{_money(r.total_cost)} against {_money(r.retained_pot)}: {state}.")
    lines.append(f"Written to {outcome.path}.")
    for line in lines:
        console.print(line)
    if outcome.note:
        err_console.print(f"[yellow]Note:[/yellow] {outcome.note}", soft_wrap=True)


@app.command()
def template(
    output: Path = typer.Option(Path("workbooks/learning_support_allocation.xlsx"), "--output",
                                "-o", help="Where to write the template workbook."),
    recalc: bool = typer.Option(True, help="Recalculate formulas with LibreOffice so every "
                                "reader sees numbers."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Do not print the allocation."),
) -> None:
    """Generate the allocation template with the illustrative Norfolk sample."""
    from .jobs import make_template

    outcome = make_template(output, recalc=recalc)
    if quiet:
        console.print(f"Template written to {outcome.path}.")
    else:
        print_allocation(outcome)


@app.command("allocate")
def allocate_command(
    workbook: Path = typer.Argument(..., help="Allocation workbook (.xlsx or .xlsm) to read.",
                                    exists=True, dir_okay=False, readable=True),
    output: Path = typer.Option(..., "--output", "-o",
                                help="New workbook to write; the input is never changed."),
    recalc: bool = typer.Option(True, help="Recalculate formulas with LibreOffice."),
) -> None:
    """Compute the allocation from a workbook and write it into a new copy."""
    from .jobs import allocate_file

    print_allocation(allocate_file(workbook, output, recalc=recalc))


def version_callback(value: bool) -> None:
    if value:
        console.print(f"xlfund {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(False, "--version", callback=version_callback, is_eager=True,
                                 help="Show the version and exit."),
) -> None:
    """xlfund: formula funding from Excel, correct to the penny."""


def main() -> None:
    try:
        app()
    except XlfundError as exc:
        err_console.print(f"[bold red]Error:[/bold red] {exc}", highlight=False, soft_wrap=True)
        raise SystemExit(1) from None
