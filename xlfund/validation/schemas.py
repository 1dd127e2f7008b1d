"""pandera schemas for the contract's tables.

Frames arrive as read from the workbook: object columns, indexed by Excel row number.
Every check is vectorised and named by its finding code; a name of the form
``CODE|Column`` says which column a whole-row check points at.  Checks do not skip
blanks unless blank is allowed, so a missing URN is found, not ignored.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from .. import contract as c


def blank(series: pd.Series) -> pd.Series:
    """True where a cell is empty (None, NaN or only spaces)."""
    text = series.astype("string").str.strip()
    return series.isna() | text.eq("").fillna(False)


def numeric(series: pd.Series) -> pd.Series:
    """Numbers as floats; NaN for blanks, text and true/false (which are not counts)."""
    is_bool = series.map(type).isin((bool, np.bool_))
    values = series.mask(is_bool, None) if is_bool.any() else series
    return pd.to_numeric(values, errors="coerce")


def not_number(series: pd.Series) -> pd.Series:
    return ~blank(series) & numeric(series).isna()


def is_date(series: pd.Series) -> pd.Series:
    return series.map(lambda v: isinstance(v, dt.date))


def id_text(series: pd.Series) -> pd.Series:
    """IDs compared as trimmed text (7, 7.0 and '7' are the same ID)."""
    as_number = numeric(series)
    # whole numbers print without ".0"; beyond 2**53 a float is no longer an exact ID
    whole = as_number.notna() & (as_number % 1 == 0) & (as_number.abs() < 2**53)
    text = series.astype("string").str.strip()
    if whole.any():
        text[whole] = as_number[whole].astype("int64").astype("string")
    return text.where(~blank(series), None)


def _count_column(name: str) -> Series[object]:
    return pa.Field(alias=name, nullable=True)


class TableSchema(pa.DataFrameModel):
    """Columns are read as written (object); users may add their own columns."""

    class Config:
        strict = False
        coerce = False


class SchoolsSchema(TableSchema):
    urn: Series[object] = pa.Field(alias=c.URN, nullable=True)
    name: Series[object] = pa.Field(alias=c.SCHOOL_NAME, nullable=True)
    phase: Series[object] = pa.Field(alias=c.PHASE, nullable=True)
    cluster: Series[object] = pa.Field(alias=c.CLUSTER_ID, nullable=True)
    pupils: Series[object] = _count_column(c.PUPILS)
    fsm: Series[object] = _count_column(c.FSM)
    sen: Series[object] = _count_column(c.SEN_SUPPORT)
    ehcp: Series[object] = _count_column(c.EHCP)

    @pa.check(c.URN, name="SCH001", ignore_na=False)
    def urn_present(cls, s: pd.Series) -> pd.Series:
        return ~blank(s)

    @pa.check(c.URN, name="SCH002", ignore_na=False)
    def urn_six_digits(cls, s: pd.Series) -> pd.Series:
        n = numeric(s)
        return blank(s) | (n.notna() & (n % 1 == 0) & n.between(100_000, 999_999))

    @pa.check(c.URN, name="SCH003", ignore_na=False)
    def urn_unique(cls, s: pd.Series) -> pd.Series:
        key = id_text(s)
        return key.isna() | ~key.duplicated(keep="first")

    @pa.check(c.SCHOOL_NAME, name="SCH004", ignore_na=False)
    def name_present(cls, s: pd.Series) -> pd.Series:
        return ~blank(s)

    @pa.check(c.PHASE, name="SCH005", ignore_na=False)
    def phase_listed(cls, s: pd.Series) -> pd.Series:
        return s.astype("string").str.strip().isin(c.PHASES).fillna(False)

    @pa.check(c.CLUSTER_ID, name="SCH006", ignore_na=False)
    def cluster_present(cls, s: pd.Series) -> pd.Series:
        return ~blank(s)  # membership of the Clusters table is a cross-sheet rule

    @pa.check(c.PUPILS, c.FSM, c.SEN_SUPPORT, c.EHCP, name="SCH007", ignore_na=False)
    def count_is_number(cls, s: pd.Series) -> pd.Series:
        return ~not_number(s)

    @pa.check(c.PUPILS, c.FSM, c.SEN_SUPPORT, c.EHCP, name="SCH008", ignore_na=False)
    def count_not_negative(cls, s: pd.Series) -> pd.Series:
        return ~(numeric(s) < 0)

    @pa.check(c.PUPILS, name="SCH009", ignore_na=False)
    def pupils_in_halves(cls, s: pd.Series) -> pd.Series:
        n = numeric(s)
        return n.isna() | ((n * 2) % 1 == 0)

    @pa.check(c.FSM, c.SEN_SUPPORT, c.EHCP, name="SCH010", ignore_na=False)
    def count_whole(cls, s: pd.Series) -> pd.Series:
        n = numeric(s)
        return n.isna() | (n % 1 == 0)

    @pa.dataframe_check(name=f"SCH011|{c.FSM}")
    def fsm_within_roll(cls, df: pd.DataFrame) -> pd.Series:
        return _within_roll(df, c.FSM)

    @pa.dataframe_check(name=f"SCH011|{c.SEN_SUPPORT}")
    def sen_within_roll(cls, df: pd.DataFrame) -> pd.Series:
        return _within_roll(df, c.SEN_SUPPORT)

    @pa.dataframe_check(name=f"SCH011|{c.EHCP}")
    def ehcp_within_roll(cls, df: pd.DataFrame) -> pd.Series:
        return _within_roll(df, c.EHCP)


def _within_roll(df: pd.DataFrame, column: str) -> pd.Series:
    if column not in df or c.PUPILS not in df:
        return pd.Series(True, index=df.index)
    count, roll = numeric(df[column]), numeric(df[c.PUPILS])
    return ~(count > roll)


class ClustersSchema(TableSchema):
    cluster: Series[object] = pa.Field(alias=c.CLUSTER_ID, nullable=True)
    name: Series[object] = pa.Field(alias=c.CLUSTER_NAME, nullable=True)
    baseline: Series[object] = pa.Field(alias=c.BASELINE, nullable=True)

    @pa.check(c.CLUSTER_ID, name="CLU006", ignore_na=False)
    def id_present(cls, s: pd.Series) -> pd.Series:
        return ~blank(s)

    @pa.check(c.CLUSTER_ID, name="CLU001", ignore_na=False)
    def id_unique(cls, s: pd.Series) -> pd.Series:
        key = id_text(s)
        return key.isna() | ~key.duplicated(keep="first")

    @pa.check(c.CLUSTER_NAME, name="CLU007", ignore_na=False)
    def name_present(cls, s: pd.Series) -> pd.Series:
        return ~blank(s)

    @pa.check(c.BASELINE, name="CLU005", ignore_na=False)
    def baseline_valid(cls, s: pd.Series) -> pd.Series:
        n = numeric(s)
        return blank(s) | (n.notna() & (n >= 0))


class RetainedPostsSchema(TableSchema):
    fte: Series[object] = pa.Field(alias="FTE", nullable=True)
    salary: Series[object] = pa.Field(alias="Salary (£)", nullable=True)
    rate: Series[object] = pa.Field(alias="On-cost rate", nullable=True)
    non_pay: Series[object] = pa.Field(alias="Non-pay (£)", nullable=True)

    @pa.check("FTE", "Salary (£)", "On-cost rate", "Non-pay (£)", name="RET004", ignore_na=False)
    def number_not_negative(cls, s: pd.Series) -> pd.Series:
        return ~not_number(s) & ~(numeric(s) < 0)


class TimelineSchema(TableSchema):
    start: Series[object] = pa.Field(alias="Start", nullable=True)
    end: Series[object] = pa.Field(alias="End", nullable=True)

    @pa.check("Start", "End", name="TL001", ignore_na=False)
    def real_date(cls, s: pd.Series) -> pd.Series:
        return blank(s) | is_date(s)

    @pa.dataframe_check(name="TL002|End")
    def end_after_start(cls, df: pd.DataFrame) -> pd.Series:
        start, end = (pd.to_datetime(df[col].where(is_date(df[col])), errors="coerce")
                      for col in ("Start", "End"))
        return ~(end < start)

    @pa.dataframe_check(name="TL003|Start")
    def in_order(cls, df: pd.DataFrame) -> pd.Series:
        start = pd.to_datetime(df["Start"].where(is_date(df["Start"])), errors="coerce")
        return ~(start < start.cummax().shift(1))


class ParametersSchema(TableSchema):
    key: Series[object] = pa.Field(alias=c.KEY, nullable=True)

    @pa.check(c.KEY, name="PAR002", ignore_na=False)
    def key_once(cls, s: pd.Series) -> pd.Series:
        key = s.astype("string").str.strip()
        return key.isna() | ~key.duplicated(keep="first")


class AllocationSchema(TableSchema):
    cluster: Series[object] = pa.Field(alias=c.CLUSTER_ID, nullable=True)

    @pa.check(c.CLUSTER_ID, name="ALLOC002", ignore_na=False)
    def cluster_once(cls, s: pd.Series) -> pd.Series:
        key = id_text(s)
        return key.isna() | ~key.duplicated(keep="first")


SCHEMAS = {
    c.SCHOOLS_TABLE.name: SchoolsSchema,
    c.CLUSTERS_TABLE.name: ClustersSchema,
    c.RETAINED_TABLE.name: RetainedPostsSchema,
    c.TIMELINE_TABLE.name: TimelineSchema,
    c.PARAMETERS_TABLE.name: ParametersSchema,
    c.ALLOCATION_TABLE.name: AllocationSchema,
}


def failures(model: type[pa.DataFrameModel], frame: pd.DataFrame) -> list[tuple[str, str, int]]:
    """(code, column, Excel row) for every failed check; columns missing from the frame
    are skipped (they are reported once, as missing columns)."""
    schema = model.to_schema()
    missing = [name for name in schema.columns if name not in frame.columns]
    if missing:
        schema = schema.remove_columns(missing)
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as err:
        cases = err.failure_cases
    else:
        return []
    out: list[tuple[str, str, int]] = []
    seen: set[tuple[str, str, int]] = set()
    for check, column, index in zip(cases["check"], cases["column"], cases["index"], strict=True):
        if index is None or (isinstance(index, float) and index != index):
            continue
        code, _, pointed = str(check).partition("|")
        key = (code, pointed or str(column), int(index))
        if key not in seen:
            seen.add(key)
            out.append(key)
    return out
