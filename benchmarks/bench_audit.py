"""Time the formula audit beside a plain openpyxl read of the same files.

    python benchmarks/bench_audit.py [--data ../shared/data] [--repeat 3]

Three workbooks, each timed in the same run as its baseline (openpyxl read-only, every
cell's value or formula text: what any openpyxl-based tool pays just to see the formulas):

* ``template``: the shipped workbooks/learning_support_allocation.xlsx;
* ``national``: the allocation workbook for all 21,567 schools of England (as in
  bench_validate.py, not recalculated: the audit then also lists formulas without
  results, which is the extra work a fresh file from a script costs);
* ``formulas``: one sheet of 250,000 formulas in a column (``=A1*2`` ...), audited with
  the default limit of 200,000 formulas, to show the limit stops the work.

Exits non-zero if the template does not audit clean or the limit is not reported.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bench_validate import best  # same timing rule: best of --repeat runs
from openpyxl import Workbook, load_workbook

from xlfund.allocation import allocate
from xlfund.audit import audit_workbook
from xlfund.findings import Severity
from xlfund.parameters import Parameters
from xlfund.retained import illustrative_posts
from xlfund.sample.build import ENGLAND_PUPIL_PREMIUM, national_sample
from xlfund.workbook.template import build_workbook

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "workbooks" / "learning_support_allocation.xlsx"


def openpyxl_read(path: Path) -> int:
    wb = load_workbook(path, read_only=True, data_only=False)
    cells = 0
    for ws in wb.worksheets:
        for row in ws.iter_rows(values_only=True):
            cells += sum(1 for v in row if v is not None)
    wb.close()
    return cells


def national(folder: Path, data: Path) -> Path:
    schools, clusters = national_sample(data / ENGLAND_PUPIL_PREMIUM)
    authorities = clusters["Cluster ID"].str.split("-").str[0].nunique()
    params = Parameters(total_funding=2_000_000 * authorities)
    result = allocate(schools, clusters, params)
    path = folder / "england.xlsx"
    build_workbook(schools, clusters, params, illustrative_posts(), result,
                   sample=True).save(path)
    return path


def many_formulas(folder: Path, count: int = 250_000) -> Path:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Data")
    for r in range(1, count + 1):
        ws.append([r, f"=A{r}*2"])
    path = folder / "formulas.xlsx"
    wb.save(path)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        books = {"template": TEMPLATE, "national": national(folder, args.data),
                 "formulas": many_formulas(folder)}
        print(f"{'workbook':<10}{'cells':>10}{'MB':>6}{'openpyxl read s':>17}"
              f"{'audit s':>10}{'ratio':>8}  findings")
        for name, path in books.items():
            read_s, cells = best(args.repeat, lambda p=path: openpyxl_read(p))
            audit_s, found = best(args.repeat, lambda p=path: audit_workbook(p))
            loud = [f for f in found if f.severity != Severity.INFO]
            codes = sorted({f.code for f in found})
            print(f"{name:<10}{cells:>10,}{path.stat().st_size / 1e6:>6.1f}{read_s:>17.2f}"
                  f"{audit_s:>10.2f}{audit_s / read_s:>8.2f}  {len(found)} "
                  f"({', '.join(codes) or 'none'})")
            if name == "template" and loud:
                ok = False
                print("  the template does not audit clean:",
                      [f"{f.code} {f.location}" for f in loud[:5]])
            if name == "formulas" and "AUDIT014" not in codes:
                ok = False
                print("  the formula limit was not reported")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
