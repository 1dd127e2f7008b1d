"""Validate a national-scale workbook and time it beside a plain python-calamine read.

    python benchmarks/bench_validate.py [--data ../shared/data] [--repeat 3] [--no-recalc]

Builds the allocation workbook for all 21,567 schools of England (clusters per local
authority, from xlfund.sample.build.national_sample), recalculates it with LibreOffice
(so formulas carry values, as a file saved by Excel would), then prints, from the same
run: the time of a bare python-calamine read of every sheet (the floor any validator
reading the file must pay) and the time of xlfund's full validation of the same file.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import python_calamine

from xlfund.allocation import allocate
from xlfund.parameters import Parameters
from xlfund.retained import illustrative_posts
from xlfund.sample.build import ENGLAND_PUPIL_PREMIUM, national_sample
from xlfund.validation import validate
from xlfund.workbook.template import build_workbook


def calamine_read(path: Path) -> int:
    book = python_calamine.CalamineWorkbook.from_path(str(path))
    cells = 0
    for name in book.sheet_names:
        rows = book.get_sheet_by_name(name).to_python()
        cells += sum(len(r) for r in rows)
    return cells


def best(repeat: int, run) -> tuple[float, object]:  # noqa: ANN001
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-recalc", action="store_true",
                        help="skip LibreOffice (formulas then show as not calculated)")
    args = parser.parse_args()

    schools, clusters = national_sample(args.data / ENGLAND_PUPIL_PREMIUM)
    authorities = clusters["Cluster ID"].str.split("-").str[0].nunique()
    params = Parameters(total_funding=2_000_000 * authorities)
    result = allocate(schools, clusters, params)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "england.xlsx"
        build_workbook(schools, clusters, params, illustrative_posts(), result,
                       sample=True).save(path)
        if not args.no_recalc:
            from xlfund.recalc import recalculate

            start = time.perf_counter()
            recalculate(path, timeout=900)
            print(f"LibreOffice recalculation (setup, not timed below): "
                  f"{time.perf_counter() - start:.1f} s")
        size = path.stat().st_size / 1e6
        read_s, cells = best(args.repeat, lambda: calamine_read(path))
        check_s, report = best(args.repeat, lambda: validate(path))
    print(f"Workbook: {len(schools):,} schools, {len(clusters):,} clusters, "
          f"{cells:,} cells, {size:.1f} MB")
    print(f"{'what':<44}{'best of ' + str(args.repeat):>14}")
    print(f"{'python-calamine read of every sheet':<44}{read_s:>12.2f} s")
    print(f"{'xlfund validate (read + all checks)':<44}{check_s:>12.2f} s")
    print(f"{'ratio':<44}{check_s / read_s:>12.1f} x")
    print(f"Report: {report.status}, {len(report.errors)} errors, "
          f"{len(report.warnings)} warnings")
    if not args.no_recalc and report.status != "valid":
        for f in report.sorted_findings()[:10]:
            print(f"  {f.code} {f.location} {f.message}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
