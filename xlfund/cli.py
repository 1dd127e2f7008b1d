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
    """Pounds as a finance officer writes them: -£9,461, not £-9,461."""
    return f"-£{-value:,.0f}" if value < 0 else f"£{value:,.0f}"


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


SPREADSHEET_SUFFIXES = (".xlsx", ".xlsm", ".xltx", ".xltm", ".xls", ".xlsb", ".ods")


def expand_paths(arguments: list[str]) -> list[Path]:
    """Files as given, folders searched recursively for spreadsheets, globs expanded."""
    import glob

    found: list[Path] = []
    for argument in arguments:
        path = Path(argument)
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file()
                            and p.suffix.lower() in SPREADSHEET_SUFFIXES
                            and not p.name.startswith("~$"))
        elif path.exists():
            found.append(path)
        elif any(ch in argument for ch in "*?["):
            matches = sorted(Path(m) for m in glob.glob(argument, recursive=True))
            if not matches:
                raise typer.BadParameter(f"no files match {argument!r}", param_hint="PATH")
            found += [m for m in matches if m.is_file()]
        else:
            raise typer.BadParameter(f"{argument!r} does not exist", param_hint="PATH")
    unique = list(dict.fromkeys(found))
    if not unique:
        raise typer.BadParameter("no spreadsheet files found", param_hint="PATH")
    return unique


def check_paths(paths: list[Path], *, audit: bool, jobs: int, limits: dict) -> list:
    """Validate every file; each gets a Report, whatever is wrong with it."""
    from rich.progress import Progress

    from .batch import Limits, check_files

    show = err_console.is_terminal and len(paths) > 1
    with Progress(console=err_console, disable=not show, transient=True) as progress:
        task = progress.add_task("Validating", total=len(paths))
        return check_files(paths, Limits(**{k: v for k, v in limits.items() if v is not None}),
                           jobs=jobs, audit=audit,
                           progress=lambda *_: progress.advance(task))


@app.command()
def validate(
    paths: list[str] = typer.Argument(..., metavar="PATH...",
                                      help="Workbooks, folders (searched recursively) or globs."),
    format: str = typer.Option("text", "--format", "-f",
                               help="Report format: text, json or junit (JUnit XML for CI)."),
    output: Path | None = typer.Option(None, "--output", "-o",
                                       help="Write the report to this file instead of the screen."),
    strict: bool = typer.Option(False, "--strict", help="Warnings fail too."),
    audit: bool = typer.Option(True, help="Include the formula audit."),
    jobs: int = typer.Option(0, "--jobs", "-j",
                             help="Files checked at once (0: one per CPU core)."),
    timeout: float | None = typer.Option(None, "--timeout",
                                         help="Seconds allowed per file (default 120)."),
    max_memory: int | None = typer.Option(None, "--max-memory",
                                          help="Memory allowed per file, in MB (default 2048)."),
    max_cells: int | None = typer.Option(
        None, "--max-cells",
        help="Cells one sheet may span, rows x columns from A1 to its last value "
        "(default 20 million)."),
) -> None:
    """Check workbooks before sign-off; every finding names its sheet and cell.

    Exit code 0: no errors (with --strict, no warnings either); 1: a file has errors or
    could not be read; 2: the command line was wrong.
    """
    from .reporting import RENDERERS

    if format not in RENDERERS:
        raise typer.BadParameter("choose text, json or junit", param_hint="--format")
    files = expand_paths(paths)
    reports = check_paths(files, audit=audit, jobs=jobs,
                          limits={"timeout_s": timeout, "max_memory_mb": max_memory,
                                  "max_cells": max_cells})
    _emit(reports, format, output, strict)


def audit_one(path: Path, allowed: tuple[float, ...]):  # noqa: ANN201 - Report
    """Inspect the file first (zip bombs, encryption), then audit its formulas."""
    from .audit import AuditUnreadable, audit_workbook
    from .findings import Report, finding
    from .safety import preflight

    report = Report(str(path))
    pre = preflight(path)
    report.extend(pre.findings)
    if not pre.readable or not pre.formulas_readable:
        report.unreadable = not pre.readable
        if pre.readable:
            report.extend([finding("FILE016", "", "",
                                   f"{path.name} is not an .xlsx/.xlsm workbook, so its "
                                   "formulas cannot be audited.")])
        return report
    try:
        report.extend(audit_workbook(path, allowed_constants=allowed))
    except AuditUnreadable as exc:
        report.unreadable = True
        report.extend([finding("FILE016", "", "", str(exc))])
    return report


@app.command()
def audit(
    paths: list[str] = typer.Argument(..., metavar="PATH...",
                                      help="Workbooks, folders (searched recursively) or globs."),
    format: str = typer.Option("text", "--format", "-f", help="text, json or junit."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the report here."),
    allow_constant: list[float] = typer.Option(
        [], "--allow-constant", help="A number allowed inside formulas (repeatable), beside "
        "0, 1, 2, 12, 100 and 1000."),
    strict: bool = typer.Option(False, "--strict", help="Warnings fail too."),
) -> None:
    """Audit formulas: errors, hard-coded numbers, inconsistent formulas, circular references,
    empty references, volatile functions, external links, manual calculation."""
    from .audit import DEFAULT_ALLOWED_CONSTANTS

    allowed = (*DEFAULT_ALLOWED_CONSTANTS, *allow_constant)
    reports = [audit_one(path, allowed) for path in expand_paths(paths)]
    _emit(reports, format, output, strict)


def _emit(reports: list, format: str, output: Path | None, strict: bool) -> None:
    """Print or write a report in the chosen format; exit 1 unless every file passed."""
    from .files import atomic_path
    from .reporting import RENDERERS, summary

    if format not in RENDERERS:
        raise typer.BadParameter("choose text, json or junit", param_hint="--format")
    rendered = RENDERERS[format](reports, strict)
    if output is not None:
        with atomic_path(output) as tmp:
            tmp.write_text(rendered, encoding="utf-8")
        s = summary(reports, strict)
        err_console.print(f"{s['files']} checked: {s['valid']} valid, {s['invalid']} invalid, "
                          f"{s['unreadable']} unreadable. Report written to {output}.",
                          soft_wrap=True)
    else:
        print(rendered, end="")
    if not all(r.passed(strict) for r in reports):
        raise typer.Exit(1)


@app.command()
def diff(
    old: Path = typer.Argument(..., exists=True, dir_okay=False, help="The earlier workbook."),
    new: Path = typer.Argument(..., exists=True, dir_okay=False, help="The later workbook."),
    format: str = typer.Option("text", "--format", "-f", help="text or json."),
) -> None:
    """Show what changed between two workbooks: schools, clusters, parameters, other cells,
    and the effect on each cluster's allocation in pounds.  Exit code 1 when they differ."""
    import json

    from .diff import diff_workbooks

    if format not in ("text", "json"):
        raise typer.BadParameter("choose text or json", param_hint="--format")
    result = diff_workbooks(old, new)
    if format == "json":
        print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False, default=str))
    else:
        print(result.to_text(), end="" if result.to_text().endswith("\n") else "\n")
    if not result.identical:
        raise typer.Exit(1)


@app.command("sign-off")
def sign_off_command(
    workbook: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True,
                                    help="Allocation workbook to sign off."),
    by: str = typer.Option(..., "--by", help="Name of the person signing off."),
    output: Path = typer.Option(..., "--output", "-o",
                                help="New signed-off workbook; the input is never changed."),
    recalc: bool = typer.Option(True, help="Recalculate formulas with LibreOffice."),
) -> None:
    """Sign off a workbook with no errors: record who, when and a content hash in a new copy.

    Validation of the signed-off copy reports any later edit to its inputs or results.
    """
    from .signoff import sign_off_file

    outcome = sign_off_file(workbook, output, by, recalc=recalc)
    console.print(f"Signed off by {outcome.by} on {outcome.when:%d %b %Y %H:%M}; content hash "
                  f"{outcome.content_hash}. Written to {outcome.path}.", soft_wrap=True)
    if outcome.note:
        err_console.print(f"[yellow]Note:[/yellow] {outcome.note}", soft_wrap=True)


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
