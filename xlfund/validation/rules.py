"""Checks across sheets, and the translation of schema failures into findings.

Schema failures arrive as (code, column, Excel row); here they become sentences that
name the school, cluster or parameter, located at the cell the user must change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd

from .. import contract as c
from ..allocation import allocate
from ..errors import InputError
from ..findings import Finding, Severity, finding
from ..money import split
from ..parameters import SPECS, SPECS_BY_KEY, WEIGHT_KEYS, Parameters, check_values, parse_value
from ..retained import cost_posts
from ..workbook.reader import TableData, WorkbookData
from .schemas import SCHEMAS, failures, id_text, numeric

MAX_PER_CODE = 200  # beyond this, one summary finding per code and sheet
INPUT_CODES = ("PAR", "SCH", "CLU", "SHEET001", "SHEET002", "SHEET003", "SHEET005")


def _show(value: Any) -> str:
    if value is None:
        return "blank"
    if isinstance(value, float) and value.is_integer():
        return f"{int(value)}"
    if isinstance(value, dt.datetime) and value.time() == dt.time(0):
        return value.date().isoformat()
    return repr(value) if isinstance(value, str) else str(value)


def _id(value: Any) -> str:
    return str(id_text(pd.Series([value], dtype=object))[0])


def _pounds(value: float | Fraction | int) -> str:
    return f"£{float(value):,.0f}"


class Validator:
    """One run of every check over one workbook."""

    def __init__(self, data: WorkbookData) -> None:
        self.data = data
        self.findings: list[Finding] = []
        self.tables: dict[str, TableData] = {}
        self.params: Parameters | None = None

    # ------------------------------------------------------------------ plumbing
    def add(self, code: str, sheet: str, cell: str, message: str, hint: str | None = None,
            severity: Severity | None = None) -> None:
        self.findings.append(finding(code, sheet, cell, message, hint, severity))

    def frame(self, spec: c.TableSpec) -> pd.DataFrame | None:
        table = self.tables.get(spec.name)
        return None if table is None else table.renamed(spec.columns)

    def cell(self, spec: c.TableSpec, column: str, row: int) -> str:
        table = self.tables[spec.name]
        actual = table.column(column)
        return table.cell(actual, row) if actual else table.header_cell()

    def has_input_errors(self) -> bool:
        return any(f.severity == Severity.ERROR and f.code.startswith(INPUT_CODES)
                   for f in self.findings)

    def run(self) -> list[Finding]:
        self.check_sheets()
        self.check_cells()
        for spec in (*c.INPUT_TABLES, c.ALLOCATION_TABLE):
            self.locate(spec)
        self.check_parameters()
        self.check_schools()
        self.check_clusters()
        self.check_memberships()
        self.check_retained()
        self.check_timeline()
        self.check_allocation()
        self.check_signoff()
        return _capped(self.findings)

    # ------------------------------------------------------------------ structure
    def check_sheets(self) -> None:
        present = ", ".join(f"'{n}'" for n in self.data.sheet_names) or "none"
        for sheet in c.SHEETS:
            if self.data.sheet(sheet) is None:
                self.add("SHEET001", sheet, "",
                         f"There is no sheet named '{sheet}'. Sheets in this workbook: {present}.")

    def check_cells(self) -> None:
        for sheet, address, error in self.data.error_cells():
            self.add("CELL001", sheet, address, f"Cell {sheet}!{address} shows the error {error}.")
        if self.data.formulas_read:
            for sheet, address, formula in self.data.uncalculated_cells():
                self.add("CELL002", sheet, address,
                         f"The formula in {sheet}!{address} ({formula[:60]}) has not been "
                         "calculated: its result is not saved in the file.")

    def locate(self, spec: c.TableSpec) -> None:
        table = self.data.find_table(spec)
        if table is None:
            self.add("SHEET002", spec.sheet, "",
                     f"Cannot find the '{spec.name}' table, nor a row with its headers "
                     f"({', '.join(spec.required)}).")
            return
        if table.found_by == "header":
            self.add("SHEET004", table.sheet, table.header_cell(),
                     f"The '{spec.name}' table has no Excel table name; it was found by its "
                     f"header row {table.header_row} on sheet '{table.sheet}'.")
        missing = [h for h in spec.required if table.column(h) is None]
        for header in missing:
            self.add("SHEET003", table.sheet, table.header_cell(),
                     f"The '{spec.name}' table (headers in row {table.header_row}) has no "
                     f"'{header}' column.")
        self.tables[spec.name] = table
        if table.frame.empty and spec is not c.ALLOCATION_TABLE:
            self.add("SHEET005", table.sheet, table.header_cell(),
                     f"The '{spec.name}' table has no rows.")

    def schema_failures(self, spec: c.TableSpec) -> Iterator[tuple[str, str, int, pd.Series]]:
        frame = self.frame(spec)
        if frame is None or frame.empty:
            return
        for code, column, row in failures(SCHEMAS[spec.name], frame):
            yield code, column, row, frame.loc[row]

    # ------------------------------------------------------------------ parameters
    def check_parameters(self) -> None:
        spec = c.PARAMETERS_TABLE
        frame = self.frame(spec)
        if frame is None or "Value" not in frame or c.KEY not in frame:
            return
        table = self.tables[spec.name]
        for _code, _column, row, values in self.schema_failures(spec):
            self.add("PAR002", table.sheet, self.cell(spec, c.KEY, row),
                     f"Parameter '{str(values[c.KEY]).strip()}' is given more than once; "
                     f"this is a repeat (row {row}).")
        rows: dict[str, int] = {}
        for row, key in frame[c.KEY].items():
            if key is None or not str(key).strip():
                continue
            key = str(key).strip()
            rows.setdefault(key, row)
            if key not in SPECS_BY_KEY:
                self.add("PAR005", table.sheet, self.cell(spec, c.KEY, row),
                         f"The Parameters table has an unknown key '{key}'.")
        typed: dict[str, Any] = {}
        for p in SPECS:
            if p.key not in rows:
                if not p.optional:
                    self.add("PAR001", table.sheet, table.header_cell(),
                             f"Parameter '{p.key}' ({p.label}) is missing from the "
                             "Parameters table.")
                continue
            row = rows[p.key]
            value = frame.at[row, "Value"]
            try:
                typed[p.key] = parse_value(p, value)
            except ValueError as exc:
                self.add("PAR003", table.sheet, self.cell(spec, "Value", row),
                         f"Parameter '{p.key}' ({p.label}) {exc}: it should be "
                         f"{p.describe_range()}.")
        value_cell = {k: self.cell(spec, "Value", r) for k, r in rows.items()}
        for problem in check_values(typed):
            code = "PAR004" if "factor weights" in problem else "PAR003"
            key = next((k for k in SPECS_BY_KEY if f"'{k}'" in problem), WEIGHT_KEYS[0])
            self.add(code, table.sheet, value_cell.get(key, table.header_cell()), problem)
        self.check_decision(typed, value_cell, table.sheet)
        if not any(f.code in ("PAR001", "PAR003", "PAR004") for f in self.findings):
            try:
                self.params = Parameters(**{k: v for k, v in typed.items()})
            except (InputError, TypeError):
                self.params = None

    def check_decision(self, typed: dict[str, Any], cells: dict[str, str], sheet: str) -> None:
        """Warnings where a value departs from MI 233/12."""
        share = typed.get("delegated_share")
        if share is not None and share != Fraction(3, 4):
            self.add("PAR010", sheet, cells["delegated_share"],
                     f"delegated_share is {float(share):.1%}; the decision delegates 75%.")
        start = typed.get("delegation_start")
        if start is not None and start != dt.date(2013, 9, 1):
            self.add("PAR011", sheet, cells["delegation_start"],
                     f"delegation_start is {start:%d %B %Y}; the decision says 1 September 2013.")
        ended = typed.get("team_decommissioned")
        if ended is not None and ended != dt.date(2013, 8, 31):
            self.add("PAR012", sheet, cells["team_decommissioned"],
                     f"team_decommissioned is {ended:%d %B %Y}; the decision says "
                     "31 August 2013.")
        fte = typed.get("retained_fte_planned")
        if fte is not None and abs(fte - 9) > 1:
            self.add("PAR013", sheet, cells["retained_fte_planned"],
                     f"retained_fte_planned is {float(fte):g} FTE; the decision funds "
                     "approximately 9 FTE.")

    # ------------------------------------------------------------------ schools, clusters
    def school_label(self, values: pd.Series) -> str:
        name = values.get(c.SCHOOL_NAME)
        urn = values.get(c.URN)
        name = "" if name is None or not str(name).strip() else str(name).strip()
        urn_text = "" if urn is None or not str(urn).strip() else _show(urn)
        if name and urn_text:
            return f"{name} (URN {urn_text})"
        return name or (f"URN {urn_text}" if urn_text else "The school")

    def check_schools(self) -> None:
        spec = c.SCHOOLS_TABLE
        if spec.name not in self.tables:
            return
        sheet = self.tables[spec.name].sheet
        frame = self.frame(spec)
        first_row: dict[str, int] = {}
        if frame is not None and c.URN in frame:
            keys = id_text(frame[c.URN])
            for row, key in keys.items():
                if key is not None and key is not pd.NA:
                    first_row.setdefault(str(key), row)
        for code, column, row, values in self.schema_failures(spec):
            who = self.school_label(values)
            value = values.get(column)
            cell = self.cell(spec, column, row)
            message = {
                "SCH001": f"The school in row {row} ({who}) has no URN.",
                "SCH002": f"{who}: the URN {_show(value)} is not a 6-digit number.",
                "SCH003": f"URN {_show(value)} appears again in row {row} ({who}); it first "
                          f"appears in row {first_row.get(_id(value), '?')}.",
                "SCH004": f"The school in row {row} (URN {_show(values.get(c.URN))}) has no name.",
                "SCH005": f"{who}: the phase {_show(value)} is not one of "
                          f"{', '.join(c.PHASES)}.",
                "SCH006": f"{who} has no Cluster ID.",
                "SCH007": f"{who}: '{column}' is {_show(value)}, not a number.",
                "SCH008": f"{who}: '{column}' is negative ({_show(value)}).",
                "SCH009": f"{who}: pupils on roll is {_show(value)}, not a whole or half number.",
                "SCH010": f"{who}: '{column}' is {_show(value)}, not a whole number of pupils.",
                "SCH011": f"{who} has {_show(value)} {column.lower().replace(' pupils', '')} "
                          f"pupils but only {_show(values.get(c.PUPILS))} pupils on roll.",
            }[code]
            self.add(code, sheet, cell, message)

    def check_clusters(self) -> None:
        spec = c.CLUSTERS_TABLE
        if spec.name not in self.tables:
            return
        sheet = self.tables[spec.name].sheet
        for code, column, row, values in self.schema_failures(spec):
            cid = values.get(c.CLUSTER_ID)
            who = f"Cluster {_show(cid)}" if cid is not None else f"The cluster in row {row}"
            value = values.get(column)
            message = {
                "CLU001": f"Cluster ID {_show(cid)} appears again in row {row}.",
                "CLU005": f"{who}: the baseline is {_show(value)}; it must be pounds, 0 or more.",
                "CLU006": f"The cluster in row {row} has no Cluster ID.",
                "CLU007": f"{who} has no name.",
            }[code]
            self.add(code, sheet, self.cell(spec, column, row), message)

    def check_memberships(self) -> None:
        """Schools in known clusters; every cluster has schools; leads belong to clusters."""
        schools, clusters = self.frame(c.SCHOOLS_TABLE), self.frame(c.CLUSTERS_TABLE)
        if schools is None or clusters is None:
            return
        if c.CLUSTER_ID not in schools or c.CLUSTER_ID not in clusters:
            return
        school_cluster = id_text(schools[c.CLUSTER_ID])
        known = set(id_text(clusters[c.CLUSTER_ID]).dropna())
        unknown = school_cluster.notna() & ~school_cluster.isin(known)
        s_sheet = self.tables[c.SCHOOLS_TABLE.name].sheet
        for row in school_cluster[unknown].index:
            values = schools.loc[row]
            self.add("SCH006", s_sheet, self.cell(c.SCHOOLS_TABLE, c.CLUSTER_ID, row),
                     f"{self.school_label(values)} is in cluster "
                     f"'{school_cluster[row]}', which is not in the Clusters table.")
        c_sheet = self.tables[c.CLUSTERS_TABLE.name].sheet
        cluster_ids = id_text(clusters[c.CLUSTER_ID])
        used = set(school_cluster.dropna())
        for row, cid in cluster_ids.items():
            if cid is not None and cid is not pd.NA and cid not in used:
                self.add("CLU002", c_sheet, self.cell(c.CLUSTERS_TABLE, c.CLUSTER_ID, row),
                         f"Cluster {cid} has no schools on the Schools sheet.")
        if c.LEAD_URN not in clusters or c.URN not in schools:
            return
        cluster_of = dict(zip(id_text(schools[c.URN]), school_cluster, strict=True))
        leads = id_text(clusters[c.LEAD_URN])
        for row, lead in leads.items():
            cid = cluster_ids[row]
            if lead is None or lead is pd.NA or cid is None or cid is pd.NA:
                continue
            cell = self.cell(c.CLUSTERS_TABLE, c.LEAD_URN, row)
            if lead not in cluster_of:
                self.add("CLU003", c_sheet, cell,
                         f"Cluster {cid}: lead school URN {lead} is not on the Schools sheet.")
            elif pd.isna(cluster_of[lead]):
                self.add("CLU004", c_sheet, cell,
                         f"Cluster {cid}: lead school URN {lead} has no Cluster ID on the "
                         "Schools sheet.")
            elif cluster_of[lead] != cid:
                self.add("CLU004", c_sheet, cell,
                         f"Cluster {cid}: lead school URN {lead} belongs to cluster "
                         f"{cluster_of[lead]} on the Schools sheet.")

    # ------------------------------------------------------------------ retained, timeline
    def check_retained(self) -> None:
        spec = c.RETAINED_TABLE
        if spec.name not in self.tables:
            return
        table = self.tables[spec.name]
        frame = self.frame(spec)
        bad_rows = set()
        for _code, column, row, values in self.schema_failures(spec):
            bad_rows.add(row)
            self.add("RET004", table.sheet, self.cell(spec, column, row),
                     f"Post '{values.get('Post') or row}': '{column}' is "
                     f"{_show(values.get(column))}; it must be a number, 0 or more.")
        columns = ("FTE", "Salary (£)", "On-cost rate", "Non-pay (£)", "Annual cost (£)")
        if frame is None or frame.empty or any(col not in frame for col in columns):
            return
        pot = 0 if self.params is None else split(self.params.total_funding,
                                                  self.params.delegated_share)[1]
        try:
            costed = cost_posts(frame.drop(index=list(bad_rows)), pot)
        except InputError:  # every such figure is already a RET004 finding
            return
        for row, cost in costed.posts["Annual cost (£)"].items():
            post = frame.at[row, "Post"] if "Post" in frame else row
            shown = frame.at[row, "Annual cost (£)"]
            shown_n = numeric(pd.Series([shown]))[0]
            if pd.isna(shown_n) or shown_n != cost:
                self.add("RET001", table.sheet, self.cell(spec, "Annual cost (£)", row),
                         f"Post '{post}': Annual cost shows {_show(shown)}, "
                         f"but FTE x Salary x (1 + On-cost rate) + Non-pay is {_pounds(cost)}.")
        total_cost, total_fte = costed.total_cost, costed.total_fte
        if self.params is not None and not bad_rows:
            retained = pot
            if total_cost > retained:
                self.add("RET002", table.sheet, table.header_cell(table.column("Annual cost (£)")),
                         f"The retained posts cost {_pounds(total_cost)} a year, "
                         f"{_pounds(total_cost - retained)} more than the retained pot of "
                         f"{_pounds(retained)}.")
            planned = self.params.retained_fte_planned
            if abs(total_fte - planned) > Fraction(1, 2):
                self.add("RET003", table.sheet, table.header_cell(table.column("FTE")),
                         f"The posts add up to {float(total_fte):g} FTE; the plan is "
                         f"{float(planned):g} FTE.")

    def check_timeline(self) -> None:
        spec = c.TIMELINE_TABLE
        if spec.name not in self.tables:
            return
        sheet = self.tables[spec.name].sheet
        for code, column, row, values in self.schema_failures(spec):
            milestone = values.get("Milestone") or f"row {row}"
            message = {
                "TL001": f"Milestone '{milestone}': {column} is {_show(values.get(column))}, "
                         "not a date.",
                "TL002": f"Milestone '{milestone}' ends ({_show(values.get('End'))}) before it "
                         f"starts ({_show(values.get('Start'))}).",
                "TL003": f"Milestone '{milestone}' starts before the milestone above it.",
            }[code]
            self.add(code, sheet, self.cell(spec, column, row), message)

    # ------------------------------------------------------------------ allocation
    def check_allocation(self) -> None:
        spec = c.ALLOCATION_TABLE
        if spec.name not in self.tables:
            return
        table = self.tables[spec.name]
        frame = self.frame(spec)
        if frame is None or frame.empty:
            self.add("ALLOC008", table.sheet, table.header_cell(),
                     "The Allocation table is empty: the allocation has not been calculated.")
            return
        for _code, _column, row, values in self.schema_failures(spec):
            self.add("ALLOC002", table.sheet, self.cell(spec, c.CLUSTER_ID, row),
                     f"Cluster {_show(values.get(c.CLUSTER_ID))} appears again in row {row} "
                     "of the Allocation table.")
        if self.has_input_errors() or self.params is None:
            self.add("ALLOC007", table.sheet, table.header_cell(),
                     "The allocation was not recomputed because the inputs have errors.")
            return
        try:
            result = allocate(self.frame(c.SCHOOLS_TABLE), self.frame(c.CLUSTERS_TABLE),
                              self.params)
        except InputError as err:
            self.add("ALLOC007", table.sheet, table.header_cell(),
                     f"The allocation cannot be recomputed: {err.problems[0]}")
            return
        expected = result.clusters.set_index(c.CLUSTER_ID)
        if c.CLUSTER_ID not in frame:
            return
        shown_ids = id_text(frame[c.CLUSTER_ID])
        for cid in expected.index.difference(pd.Index(shown_ids.dropna().astype(str))):
            self.add("ALLOC001", table.sheet, table.header_cell(table.column(c.CLUSTER_ID)),
                     f"Cluster {cid} ({expected.at[cid, c.CLUSTER_NAME]}) is missing from "
                     "the Allocation table.")
        first = shown_ids.notna() & ~shown_ids.duplicated(keep="first")
        known = shown_ids.isin(expected.index)
        for row in shown_ids[first & ~known].index:
            self.add("ALLOC002", table.sheet, self.cell(spec, c.CLUSTER_ID, row),
                     f"Cluster {shown_ids[row]} is in the Allocation table but not in the "
                     "Clusters table.")
        rows = shown_ids[first & known]
        want_frame = expected.loc[rows.to_numpy()]
        compared = [col for col in (c.SCHOOL_COUNT, c.PUPILS, *c.ELEMENT_COLUMNS[:-1],
                                    c.FORMULA_GBP, c.PROTECTION_GBP, c.ANNUAL_GBP,
                                    c.PART_YEAR_GBP, c.SHARE) if col in frame]
        for column in compared:
            got = numeric(frame.loc[rows.index, column]).to_numpy(dtype=float)
            want = want_frame[column].to_numpy(dtype=float)
            tolerance = 1e-6 if column == c.SHARE else 1e-9
            bad = np.isnan(got) | (np.abs(got - want) > tolerance)
            for row, g, w in zip(rows.index[bad], got[bad], want[bad], strict=True):
                cid, shown = rows[row], frame.at[row, column]
                if column == c.SHARE:
                    detail = f"the inputs give {w:.4%}"
                else:
                    gap = "" if np.isnan(g) else f" (a difference of {_pounds(g - w)})"
                    detail = f"the inputs give {_show(float(w))}{gap}"
                self.add("ALLOC003", table.sheet, self.cell(spec, column, row),
                         f"Cluster {cid}: '{column}' shows {_show(shown)}, but {detail}.")
        self.check_allocation_totals(frame, table, result)

    def check_allocation_totals(self, frame: pd.DataFrame, table: TableData, result) -> None:
        pots = result.pots
        totals = [
            (c.ANNUAL_GBP, pots.distributable, "ALLOC004", "the pot shared between clusters"),
            (c.PART_YEAR_GBP, pots.part_year_total, "ALLOC006",
             f"{pots.part_year_fraction.numerator}/{pots.part_year_fraction.denominator} of "
             "the pot, paid in the financial year"),
        ]
        for column, want, code, what in totals:
            if column not in frame:
                continue
            got = numeric(frame[column]).sum()
            if got != want:
                self.add(code, table.sheet, table.header_cell(table.column(column)),
                         f"'{column}' adds up to {_pounds(got)}, not the {_pounds(want)} of "
                         f"{what} (a difference of {_pounds(got - want)}).")
        if c.SHARE in frame:
            share = numeric(frame[c.SHARE]).sum()
            if abs(share - 1) > 1e-6:
                self.add("ALLOC005", table.sheet, table.header_cell(table.column(c.SHARE)),
                         f"The shares add up to {share:.4%}, not 100%.")

    # ------------------------------------------------------------------ sign-off
    def check_signoff(self) -> None:
        try:
            from ..signoff import signoff_findings
        except ImportError:
            return
        self.findings.extend(signoff_findings(self.data))


def _capped(findings: list[Finding]) -> list[Finding]:
    """At most MAX_PER_CODE findings per code and sheet, then one that says how many more."""
    counts: dict[tuple[str, str], int] = {}
    out: list[Finding] = []
    for f in findings:
        key = (f.code, f.sheet)
        counts[key] = counts.get(key, 0) + 1
        if counts[key] <= MAX_PER_CODE:
            out.append(f)
    for (code, sheet), n in counts.items():
        if n > MAX_PER_CODE:
            first = next(f for f in out if f.code == code and f.sheet == sheet)
            out.append(Finding(code, first.severity, sheet, "",
                               f"... and {n - MAX_PER_CODE} more '{code}' findings on sheet "
                               f"'{sheet}' (the first {MAX_PER_CODE} are listed).", first.hint))
    return out

