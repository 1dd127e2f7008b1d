"""Check submitted files one by one, each in its own worker process, so none can stop the rest.

``check_file`` runs in the calling process: inspection first (xlfund.safety), then, if
the file may be read, the reader, the validator and the formula audit, with any failure
of a reader (including a Rust panic inside python-calamine, which arrives as
BaseException) turned into a finding.  It cannot stop a reader that hangs, eats memory
or kills the process outright (python-calamine aborts when an allocation fails).

``check_files`` therefore runs ``check_file`` for every file in a fresh worker process
(forked from a server that has already imported xlfund, so a start costs milliseconds),
with the address space limited by RLIMIT_AS and a wall-clock timeout enforced by this
process, which kills the worker.  A worker that times out, runs out of memory or
crashes gives its file a Report with status 'unreadable' and a LIMIT or FILE finding;
the batch always goes on and returns one Report per file, in the order given.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import shutil
import signal
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any

from .findings import Finding, Report, finding
from .safety import MB, Limits, Preflight, formula_risks, hidden_sheet_risks, preflight

__all__ = ["Limits", "Outcome", "check_file", "check_files", "run_batch"]

Notify = Callable[[str, list[Finding]], None]
Progress = Callable[[int, int, Report], None]

# Imported once by the fork server, so that a worker starts with them in memory instead
# of importing them for every file.  '__main__' first: the calling program is imported by
# the server, not by every worker (a script keeps its work under ``if __name__ ==
# "__main__"``).  The rest is what the first check of a workbook would import.
PRELOAD = ("__main__", "xlfund.batch", "xlfund.workbook.reader", "xlfund.workbook.cells",
           "xlfund.validation", "xlfund.audit", "xlfund.signoff", "xlfund.files",
           "pandas.core.methods.to_dict", "pandera.backends.pandas.register",
           "pandera.accessors.pandas_accessor", "pandera.backends.pandas.builtin_checks",
           "pandera.backends.pandas.builtin_hypotheses", "pandera.strategies.pandas_strategies",
           "pandera.api.geopandas.model", "pandera.typing.dask", "pandera.typing.geopandas",
           "pandera.typing.modin", "pandera.typing.pyspark", "defusedxml.ElementTree",
           "defusedxml.minidom", "defusedxml.pulldom", "defusedxml.sax",
           "defusedxml.expatbuilder", "defusedxml.expatreader", "defusedxml.xmlrpc",
           "encodings.cp1252", "encodings.cp437", "encodings.utf_16_le")
_EXIT_MEMORY = 3  # a worker that could not even report its MemoryError
_MEMORY_MARKERS = (b"memory allocation of", b"MemoryError", b"Cannot allocate memory",
                   b"std::bad_alloc", b"out of memory")

# --------------------------------------------------------------------------- one file


def check_file(
    path: str | Path,
    limits: Limits | None = None,
    *,
    audit: bool = True,
    notify: Notify | None = None,
    workdir: str | Path | None = None,
) -> Report:
    """Inspect, read, validate and audit one file in this process; never raises for a bad
    file.  ``notify(phase, findings_so_far)`` is told where the check has got to;
    ``workdir`` is where a temporary link may be made (see ``_reader_path``)."""
    started = time.perf_counter()
    limits = limits or Limits()
    path = Path(path)
    say = notify or (lambda phase, found: None)
    pre = preflight(path, limits)
    report = Report(str(path), findings=[*pre.findings, *pre.risks])
    if pre.readable:
        _read_and_check(path, pre, report, audit, say, workdir)
    else:
        report.unreadable = True
    report.seconds = time.perf_counter() - started
    return report


def _read_and_check(path: Path, pre: Preflight, report: Report, audit: bool, say: Notify,
                    workdir: str | Path | None) -> None:
    from .workbook.reader import read_formulas, read_workbook

    with _reader_path(path, pre, workdir) as source:
        say("reading the values", list(report.findings))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                data = read_workbook(source, formulas=False)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # noqa: BLE001 - a Rust panic is a BaseException
            report.findings.append(reader_failure(path.name, exc))
            report.unreadable = True
            return
        # Strict Open XML (and any non-xlsx) formulas cannot be read: leave formulas_read
        # False rather than let "no formulas found" pass for "none there"
        if pre.formulas_readable:
            say("reading the formulas", list(report.findings))
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    read_formulas(Path(source), data)
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as exc:  # noqa: BLE001 - values are read: check those
                data.formulas, data.formulas_read = {}, False
                report.findings.append(finding(
                    "FILE016", "", "", f"The formulas of {path.name} could not be read "
                    f"({type(exc).__name__}: {_short(exc)}); its values are checked, its "
                    "formulas are not."))
        if not _any_value(data.grids):
            report.findings.append(finding(
                "FILE010", "", "", f"No value could be read from any sheet of {path.name} "
                f"({len(data.sheet_names)} sheet{'s' * (len(data.sheet_names) != 1)} found)."))
        report.findings += formula_risks(data.formulas)
        report.findings += hidden_sheet_risks(data.hidden_sheets, report.findings)
        say("validating", list(report.findings))
        if not _guarded(report, path, "validating", lambda: _validate(data, path)):
            return
        if audit and data.formulas_read:
            say("auditing the formulas", list(report.findings))
            _guarded(report, path, "auditing the formulas", lambda: _audit(data))
    _drop_duplicate_links(report)


def _validate(data: Any, path: Path) -> list[Finding]:
    from .validation import validate

    return validate(data, name=str(path)).findings


def _audit(data: Any) -> list[Finding]:
    from .audit import AuditUnreadable, audit_data

    try:
        return audit_data(data)
    except AuditUnreadable as exc:
        return [finding("FILE016", "", "", str(exc))]


def _guarded(report: Report, path: Path, phase: str, step: Callable[[], list[Finding]]) -> bool:
    """Run a check; a failure of xlfund's own code becomes FILE012 (LIMIT007 for memory)."""
    try:
        report.findings += step()
        return True
    except (KeyboardInterrupt, SystemExit):
        raise
    except MemoryError:
        report.findings.append(finding("LIMIT007", "", "", f"{path.name} needed more memory "
                                       f"than allowed while {phase}."))
    except BaseException as exc:  # noqa: BLE001 - the batch must go on
        report.findings.append(finding(
            "FILE012", "", "", f"xlfund failed while {phase} {path.name}: "
            f"{type(exc).__name__}: {_short(exc)}"))
    report.unreadable = True
    return False


def _drop_duplicate_links(report: Report) -> None:
    """The audit names linked workbooks itself (AUDIT010); keep one finding per link."""
    if any(f.code == "AUDIT010" and not f.sheet for f in report.findings):
        report.findings = [f for f in report.findings if f.code != "RISK004"]


def _any_value(grids: dict[str, list[list[Any]]]) -> bool:
    return any(value not in ("", None) for grid in grids.values() for row in grid
               for value in row)


def _short(exc: BaseException, length: int = 200) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= length else text[:length - 3] + "..."


def reader_failure(name: str, exc: BaseException) -> Finding:
    """The finding for a reader that raised on a file, in words for the sender."""
    import zipfile

    kind = type(exc).__name__
    detail = _short(exc)
    if kind == "PasswordError":
        return finding("FILE004", "", "", f"{name} is encrypted with a password to open.")
    if kind in ("DTDForbidden", "EntitiesForbidden", "ExternalReferenceForbidden") or (
            kind == "XmlError" and "entity" in detail.lower()):
        return finding("FILE015", "", "", f"{name} contains XML with entity declarations, "
                       f"which xlfund refuses to expand ({detail}).")
    if isinstance(exc, MemoryError):
        return finding("LIMIT007", "", "", f"Reading {name} needed more memory than allowed.")
    if kind in ("ZipError", "BadZipFile") or isinstance(exc, zipfile.BadZipFile | EOFError):
        return finding("FILE003", "", "", f"{name} is damaged: its zip package cannot be "
                       f"read ({detail}).")
    if kind == "PanicException":
        return finding("FILE011", "", "", f"The spreadsheet reader crashed on {name} "
                       f"({detail}).")
    return finding("FILE011", "", "", f"{name} could not be read ({kind}: {detail}).")


@contextlib.contextmanager
def _reader_path(path: Path, pre: Preflight, workdir: str | Path | None) -> Iterator[Path]:
    """The path to give the readers, which choose their parser by the extension.

    A file whose contents do not match its extension (FILE014) is read through a
    symbolic link with the right extension, in a private temporary folder removed
    afterwards.  The file itself is never copied, renamed or changed.
    """
    if not pre.reader_suffix:
        yield path
        return
    folder = Path(tempfile.mkdtemp(prefix="xlfund-read-", dir=workdir))
    try:
        link = folder / (path.stem + pre.reader_suffix)
        try:
            link.symlink_to(path.resolve())
        except OSError:
            link = path
        yield link
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# --------------------------------------------------------------------------- many files


@dataclass
class Outcome:
    """One file of a batch: its report and what checking it cost."""

    path: str
    report: Report
    seconds: float = 0.0
    peak_rss_mb: float = 0.0  # worker's peak resident memory (sampled if it was killed)
    ending: str = "done"  # done, timeout, memory or crashed


def check_files(
    paths: Sequence[str | Path],
    limits: Limits | None = None,
    *,
    jobs: int = 0,
    audit: bool = True,
    progress: Progress | None = None,
) -> list[Report]:
    """One Report per file, in order; each file checked in its own worker process.

    ``jobs``: workers at once (0: one per CPU).  ``progress(done, total, report)`` is
    called as each file finishes.
    """
    return [o.report for o in run_batch(paths, limits, jobs=jobs, audit=audit,
                                        progress=progress)]


@dataclass
class _Job:
    index: int
    path: str
    process: Any
    results: Any  # Connection: ("phase", name, findings) then ("report", report, rss)
    stderr: Any  # Connection whose fd receives the worker's raw stderr
    started: float
    phase: str = "inspecting the file"
    known: list[Finding] = field(default_factory=list)
    report: Report | None = None
    rss_mb: float = 0.0
    peak_sampled: float = 0.0
    err_tail: bytes = b""
    err_open: bool = True
    results_open: bool = True
    timed_out: bool = False


def run_batch(
    paths: Sequence[str | Path],
    limits: Limits | None = None,
    *,
    jobs: int = 0,
    audit: bool = True,
    progress: Progress | None = None,
) -> list[Outcome]:
    """``check_files`` with what each file cost (seconds, worker peak memory, ending)."""
    limits = limits or Limits()
    paths = [str(p) for p in paths]
    total = len(paths)
    outcomes: list[Outcome | None] = [None] * total
    if not paths:
        return []
    ctx = _context()
    workers = max(1, min(jobs or os.cpu_count() or 1, total))
    pending = list(range(total))
    pending.reverse()
    running: list[_Job] = []
    workdir = tempfile.mkdtemp(prefix="xlfund-batch-")
    done = 0
    try:
        while pending or running:
            while pending and len(running) < workers:
                running.append(_start(ctx, pending.pop(), paths, limits, audit, workdir))
            now = time.monotonic()
            next_deadline = min(j.started + limits.timeout_s for j in running)
            waitables = [j.process.sentinel for j in running]
            waitables += [j.results for j in running if j.report is None and j.results_open]
            waitables += [j.stderr for j in running if j.err_open]
            wait(waitables, timeout=max(0.0, min(next_deadline - now, 0.2)))
            for job in list(running):
                _pump(job)
                if job.process.exitcode is None and (
                        time.monotonic() - job.started > limits.timeout_s):
                    job.timed_out = True
                    job.process.kill()
                if job.process.exitcode is None and job.process.is_alive():
                    continue
                job.process.join()
                _pump(job, final=True)
                running.remove(job)
                outcome = _finish(job, limits)
                outcomes[job.index] = outcome
                done += 1
                if progress is not None:
                    progress(done, total, outcome.report)
    finally:
        for job in running:
            job.process.kill()
            job.process.join()
            _close(job)
        shutil.rmtree(workdir, ignore_errors=True)
    return [o for o in outcomes if o is not None]


def _context() -> Any:
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" in methods:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(list(PRELOAD))
        return ctx
    return multiprocessing.get_context("spawn")


def _start(ctx: Any, index: int, paths: list[str], limits: Limits, audit: bool,
           workdir: str) -> _Job:
    results_r, results_w = ctx.Pipe(duplex=False)
    stderr_r, stderr_w = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_worker, name=f"xlfund-check-{index}", daemon=True,
                          args=(paths[index], limits, audit, workdir, results_w, stderr_w))
    process.start()
    results_w.close()
    stderr_w.close()
    os.set_blocking(stderr_r.fileno(), False)
    return _Job(index, paths[index], process, results_r, stderr_r, time.monotonic())


def _pump(job: _Job, final: bool = False) -> None:
    """Take whatever the worker has sent: phases, the report, stderr bytes."""
    try:
        while job.report is None and job.results_open and job.results.poll():
            message = job.results.recv()
            if message[0] == "phase":
                job.phase, job.known = message[1], message[2]
            elif message[0] == "report":
                job.report, job.rss_mb = message[1], message[2]
    except (EOFError, OSError):
        job.results_open = False
    while job.err_open:
        try:
            chunk = os.read(job.stderr.fileno(), 65536)
        except BlockingIOError:
            break
        except OSError:
            chunk = b""
        if not chunk:
            job.err_open = False
            break
        job.err_tail = (job.err_tail + chunk)[-8192:]
    if not final and job.process.pid:
        job.peak_sampled = max(job.peak_sampled, _rss_mb(job.process.pid))
    if final:
        _close(job)


def _close(job: _Job) -> None:
    for conn in (job.results, job.stderr):
        with contextlib.suppress(OSError):
            conn.close()


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0.0


def _finish(job: _Job, limits: Limits) -> Outcome:
    seconds = time.monotonic() - job.started
    name = Path(job.path).name
    if job.report is not None:
        return Outcome(job.path, job.report, seconds, max(job.rss_mb, job.peak_sampled))
    code = job.process.exitcode
    if job.timed_out:
        ending, item = "timeout", finding(
            "LIMIT006", "", "", f"Checking {name} took longer than {limits.timeout_s:g} "
            f"second{'s' * (limits.timeout_s != 1)}, so it was stopped (while {job.phase}).")
    elif code == _EXIT_MEMORY or any(m in job.err_tail for m in _MEMORY_MARKERS) or (
            code == -signal.SIGKILL):
        ending, item = "memory", finding(
            "LIMIT007", "", "", f"Checking {name} needed more than the "
            f"{limits.max_memory_mb:,} MB of memory allowed, so it was stopped (while "
            f"{job.phase}).")
    else:
        how = (f"signal {signal.Signals(-code).name}" if code is not None and code < 0
               and -code in signal.valid_signals() else f"exit code {code}")
        ending, item = "crashed", finding(
            "FILE011", "", "", f"The spreadsheet reader crashed on {name} while {job.phase} "
            f"({how}).")
    report = Report(job.path, findings=[*job.known, item], unreadable=True, seconds=seconds)
    return Outcome(job.path, report, seconds, job.peak_sampled, ending)


# --------------------------------------------------------------------------- the worker


def _worker(path: str, limits: Limits, audit: bool, workdir: str, results: Any,
            stderr: Any) -> None:
    """Runs in the worker process: limits first, then the check; the report goes back."""
    os.dup2(stderr.fileno(), 2)  # a crash message (Rust, C) reaches the parent
    _limit_memory(limits.max_memory_mb)
    import defusedxml

    defusedxml.defuse_stdlib()
    warnings.simplefilter("ignore")

    def notify(phase: str, found: list[Finding]) -> None:
        results.send(("phase", phase, found))

    try:
        report = check_file(path, limits, audit=audit, notify=notify, workdir=workdir)
        results.send(("report", report, _peak_rss_mb()))
    except MemoryError:
        os._exit(_EXIT_MEMORY)


def _limit_memory(max_memory_mb: int) -> None:
    """Cap the worker's address space; never below what it already uses plus 64 MB."""
    import resource

    in_use = 0
    with contextlib.suppress(OSError, ValueError, IndexError), open(
            "/proc/self/statm", encoding="ascii") as fh:
        in_use = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    cap = max(max_memory_mb * MB, in_use + 64 * MB)
    with contextlib.suppress(ValueError, OSError):
        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            cap = min(cap, hard)
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
