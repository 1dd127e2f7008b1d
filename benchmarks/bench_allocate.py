"""Benchmark: the exact allocation engine against a naive float computation.

Run from the repository root::

    python benchmarks/bench_allocate.py [--data ../shared/data] [--repeat 3]

Two data sets:

* ``national``: every school of England (``england_pupil_premium_2019-20.csv``, 21,567
  schools) grouped into clusters per local authority by
  :func:`xlfund.sample.build.national_sample`.  The default parameters are kept except
  the total, which is £2.0m per local authority (a single £2.0m cannot pay a £500 lump
  sum to 21,567 schools), so each authority's clusters share about the £1.5m their
  baselines add up to.
* ``norfolk``: the 421-school sample that the template ships, default parameters.

Each is allocated with protection on (the default floor, -1.5%) and off.  The baseline,
timed in the same run, is a vectorised pandas groupby over floats that computes the
same shares with no rounding guarantees.  The script exits non-zero if the engine's
annual allocations (or its Sep-Mar amounts) do not add up exactly to their pots.
benchmarks/README.md explains the columns.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from xlfund import contract as c
from xlfund.allocation import COUNT_COLUMNS, AllocationResult, allocate
from xlfund.parameters import Parameters
from xlfund.sample import load_clusters, load_schools
from xlfund.sample.build import ENGLAND_PUPIL_PREMIUM, national_sample

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data"
FUNDING_PER_LA = 2_000_000  # [decision] about £2.0m, here per local authority


def best_of(repeat: int, run: Callable[[], Any]) -> tuple[float, float, Any]:
    """(fastest, median) wall-clock seconds of ``repeat`` runs, and the last result."""
    times = []
    result = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times), result


def float_allocation(
    schools: pd.DataFrame, clusters: pd.DataFrame, params: Parameters
) -> pd.Series:
    """The same shares the naive way: floats, pandas groupby, no rounding at all."""
    delegated = params.total_funding * float(params.delegated_share)
    distributable = delegated * (1 - float(params.contingency_share))
    groups = schools.groupby(c.CLUSTER_ID)
    counts = groups[list(COUNT_COLUMNS)].sum().astype(float)
    amount = groups.size().astype(float) * params.lump_sum_per_school
    rest = distributable - params.lump_sum_per_school * len(schools)
    for key, count, _ in c.FACTORS:
        amount += rest * float(params.weight(key)) * counts[count] / counts[count].sum()
    amount = amount.reindex(clusters[c.CLUSTER_ID].to_numpy())
    if params.protection_floor is not None:
        baseline = clusters[c.BASELINE].to_numpy(dtype=float)
        floor = baseline * (1 + float(params.protection_floor))
        has = ~np.isnan(baseline)
        value = amount.to_numpy()
        need = np.where(has, np.clip(floor - value, 0, None), 0.0)
        gain = np.where(has, np.clip(value - floor, 0, None), 0.0)
        if need.sum() > 0:
            amount = amount + need - gain * (need.sum() / gain.sum())
    return amount


@dataclass
class Row:
    data: str
    protection: str
    clusters: int
    engine_best: float
    engine_median: float
    float_best: float
    max_diff: float
    float_error: float
    pot: int
    engine_sum: int
    naive_sum: int


def measure(
    data: str, schools: pd.DataFrame, clusters: pd.DataFrame, params: Parameters, repeat: int
) -> Row:
    engine_best, engine_median, result = best_of(
        repeat, lambda: allocate(schools, clusters, params)
    )
    float_best, _, floats = best_of(repeat, lambda: float_allocation(schools, clusters, params))
    check_reconciles(data, result)
    floor = params.protection_floor
    annual = result.clusters.set_index(c.CLUSTER_ID)[c.ANNUAL_GBP].astype(int)
    floats = floats.copy()
    floats.index = floats.index.map(str).str.strip()
    floats = floats.reindex(annual.index)
    diff = (annual - floats).abs()
    exact = pd.Series({k: float(v) for k, v in result.exact_annual.items()})
    float_error = (exact.reindex(annual.index) - floats).abs()
    return Row(
        data=data,
        protection="off" if floor is None else f"{float(floor):+.1%}",
        clusters=len(annual),
        engine_best=engine_best,
        engine_median=engine_median,
        float_best=float_best,
        max_diff=float(diff.max()),
        float_error=float(float_error.max()),
        pot=result.pots.distributable,
        engine_sum=int(annual.sum()),
        naive_sum=int(floats.round().sum()),
    )


def check_reconciles(data: str, result: AllocationResult) -> None:
    """Exit non-zero unless the engine's published pounds add up exactly to their pots."""
    table, pots = result.clusters, result.pots
    failures = []
    annual = int(table[c.ANNUAL_GBP].astype(int).sum())
    if annual != pots.distributable:
        failures.append(f"annual allocations add up to £{annual:,}, not £{pots.distributable:,}")
    part_year = int(table[c.PART_YEAR_GBP].astype(int).sum())
    if part_year != pots.part_year_total:
        failures.append(f"Sep-Mar amounts add up to £{part_year:,}, not £{pots.part_year_total:,}")
    if failures:
        sys.exit(f"FAIL ({data}): " + "; ".join(failures))


def print_table(rows: list[Row], repeat: int) -> None:
    header = (
        f"{'data':<9}{'protection':>11}{'clusters':>9}{'engine s':>10}{'(median)':>10}"
        f"{'float s':>9}{'ratio':>8}{'max |diff| £':>14}{'float err £':>13}{'pot £':>14}"
        f"{'engine sum-pot':>16}{'float rounded sum-pot':>23}"
    )
    print(f"best of {repeat} runs; 'ratio' is engine / float")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r.data:<9}{r.protection:>11}{r.clusters:>9,}{r.engine_best:>10.3f}"
            f"{r.engine_median:>10.3f}{r.float_best:>9.4f}{r.engine_best / r.float_best:>7.0f}x"
            f"{r.max_diff:>14.3f}{r.float_error:>13.1e}{r.pot:>14,}{r.engine_sum - r.pot:>+16,}"
            f"{r.naive_sum - r.pot:>+23,}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data",
        type=Path,
        default=DEFAULT_DATA,
        help=f"folder with {ENGLAND_PUPIL_PREMIUM} (default: {DEFAULT_DATA})",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing (default 3)")
    args = parser.parse_args(argv)
    england = args.data / ENGLAND_PUPIL_PREMIUM
    if not england.is_file():
        parser.error(f"{england} not found: pass the folder that holds it with --data")
    if args.repeat < 1:
        parser.error("--repeat must be 1 or more")

    print(
        f"xlfund allocation benchmark: Python {platform.python_version()}, "
        f"pandas {pd.__version__}, {os.cpu_count()} CPUs, {platform.machine()}"
    )
    start = time.perf_counter()
    schools, clusters = national_sample(england)
    built = time.perf_counter() - start
    authorities = clusters[c.CLUSTER_ID].str.split("-").str[0].nunique()
    print(
        f"national sample: {len(schools):,} schools in {len(clusters):,} clusters of "
        f"{authorities} local authorities (built in {built:.2f} s); "
        f"total_funding £{FUNDING_PER_LA * authorities:,}"
    )

    national = Parameters().replace(total_funding=FUNDING_PER_LA * authorities)
    norfolk_schools, norfolk_clusters = load_schools(), load_clusters()
    rows = []
    for data, frames, params in (
        ("national", (schools, clusters), national),
        ("norfolk", (norfolk_schools, norfolk_clusters), Parameters()),
    ):
        for floor in (params.protection_floor, None):
            rows.append(measure(data, *frames, params.replace(protection_floor=floor), args.repeat))
    print_table(rows, args.repeat)
    print(
        "OK: every engine run's annual allocations and Sep-Mar amounts add up exactly to their pots"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
