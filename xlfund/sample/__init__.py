"""The illustrative sample data the template workbook ships (Norfolk schools, 2019-20).

``schools.csv`` and ``clusters.csv`` are package data, derived from public DfE
statistics by :mod:`xlfund.sample.build` (docs/sample-data.md).  They are illustrative:
not 2013 data, and the cluster membership is invented by rule.
"""

from __future__ import annotations

from importlib import resources

import pandas as pd

from xlfund import contract as c

__all__ = ["load_clusters", "load_schools"]

_SCHOOL_DTYPES = {
    c.URN: "int64",
    c.SCHOOL_NAME: "str",
    c.PHASE: "str",
    c.CLUSTER_ID: "str",
    c.PUPILS: "float64",
    c.FSM: "int64",
    c.SEN_SUPPORT: "int64",
    c.EHCP: "int64",
    c.DATA_NOTE: "str",
}
_CLUSTER_DTYPES = {
    c.CLUSTER_ID: "str",
    c.CLUSTER_NAME: "str",
    c.LEAD_URN: "int64",
    c.DISTRICT: "str",
    c.BASELINE: "int64",
}
_TEXT = (c.SCHOOL_NAME, c.PHASE, c.CLUSTER_ID, c.DATA_NOTE, c.CLUSTER_NAME, c.DISTRICT)


def _read(name: str, dtypes: dict[str, str]) -> pd.DataFrame:
    with resources.files(__name__).joinpath(name).open("r", encoding="utf-8") as handle:
        frame = pd.read_csv(
            handle,
            dtype=dtypes,
            keep_default_na=False,
            na_values={k: [""] for k in dtypes if k not in _TEXT},
        )
    return frame[list(dtypes)]


def load_schools() -> pd.DataFrame:
    """The sample Schools table: one row per school, the contract's columns.

    ``Data note`` is "" where there is nothing to say.
    """
    return _read("schools.csv", _SCHOOL_DTYPES)


def load_clusters() -> pd.DataFrame:
    """The sample Clusters table: one row per cluster, the contract's columns."""
    return _read("clusters.csv", _CLUSTER_DTYPES)
