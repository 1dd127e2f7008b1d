"""Turn the tables read from a workbook into the engine's inputs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from .. import contract as c
from ..errors import InputError
from ..parameters import Parameters, parse_parameters
from .reader import TableData, WorkbookData, empty_to_none


@dataclass(frozen=True)
class ModelInputs:
    schools: pd.DataFrame
    clusters: pd.DataFrame
    parameters: Parameters
    posts: pd.DataFrame | None


def require_table(data: WorkbookData, spec: c.TableSpec) -> TableData:
    table = data.find_table(spec)
    if table is None:
        raise InputError(
            f"Cannot find the '{spec.name}' table (sheet '{spec.sheet}'). Restore the sheet, "
            f"or a header row with the columns {', '.join(spec.required)}."
        )
    missing = [h for h in spec.required if table.column(h) is None]
    if missing:
        raise InputError(
            f"The '{spec.name}' table on sheet '{table.sheet}' has no column "
            f"{', '.join(repr(m) for m in missing)} (headers in row {table.header_row}). "
            "Add the column with that exact header."
        )
    return table


def raw_parameters(data: WorkbookData) -> dict[str, Any]:
    """``key -> value`` from the Parameters table; the last row wins for repeated keys."""
    table = require_table(data, c.PARAMETERS_TABLE)
    frame = table.renamed(c.PARAMETERS_TABLE.columns)
    out: dict[str, Any] = {}
    for key, value in zip(frame[c.KEY], frame["Value"], strict=True):
        if key is None:
            continue
        out[str(key).strip()] = empty_to_none(value)
    return out


def model_inputs(data: WorkbookData) -> ModelInputs:
    """Schools, clusters, parameters and posts, in contract spellings."""
    schools = require_table(data, c.SCHOOLS_TABLE).renamed(c.SCHOOLS_TABLE.columns)
    clusters = require_table(data, c.CLUSTERS_TABLE).renamed(c.CLUSTERS_TABLE.columns)
    params = parse_parameters(raw_parameters(data))
    posts_table = data.find_table(c.RETAINED_TABLE)
    posts = posts_table.renamed(c.RETAINED_TABLE.columns) if posts_table is not None else None
    return ModelInputs(schools, clusters, params, posts)
