"""The workbook contract: sheet, table and column names every part of xlfund relies on.

Written down for people in docs/workbook.md.  Code finds tables by these names and
columns by these headers, never by fixed cell positions.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TableSpec:
    """One Excel table (ListObject) of the contract."""

    name: str
    sheet: str
    columns: tuple[str, ...]
    required: tuple[str, ...]

    def __post_init__(self) -> None:
        missing = set(self.required) - set(self.columns)
        assert not missing, f"{self.name}: required columns not listed: {missing}"


# Sheets, in the order the template shows them.
COVER = "Cover"
PARAMETERS = "Parameters"
SCHOOLS = "Schools"
CLUSTERS = "Clusters"
ALLOCATION = "Allocation"
RETAINED = "Retained"
TIMELINE = "Timeline"
SCHEDULE = "Schedule"
VALIDATION = "Validation"
XLWINGS_CONF = "xlwings.conf"  # settings for the classic xlwings add-in (docs/excel.md)
SHEETS = (COVER, PARAMETERS, SCHOOLS, CLUSTERS, ALLOCATION, RETAINED, TIMELINE, SCHEDULE)

# Column headers used in more than one place.
KEY = "Key"
URN = "URN"
SCHOOL_NAME = "School name"
PHASE = "Phase"
CLUSTER_ID = "Cluster ID"
CLUSTER_NAME = "Cluster name"
PUPILS = "Pupils on roll"
FSM = "Ever 6 FSM pupils"
SEN_SUPPORT = "SEN support pupils"
EHCP = "EHCP pupils"
DATA_NOTE = "Data note"
LEAD_URN = "Lead school URN"
DISTRICT = "District"
BASELINE = "Baseline (£)"
SCHOOL_COUNT = "Schools"
LUMP_SUM_GBP = "Lump sum (£)"
PUPILS_GBP = "Pupils (£)"
FSM_GBP = "Ever 6 FSM (£)"
SEN_SUPPORT_GBP = "SEN support (£)"
EHCP_GBP = "EHCP (£)"
FORMULA_GBP = "Formula total (£)"
PROTECTION_GBP = "Protection (£)"
ANNUAL_GBP = "Annual allocation (£)"
SHARE = "Share"
PART_YEAR_GBP = "Sep-Mar (£)"
CHANGE_GBP = "Change from baseline (£)"

PHASES = ("Nursery", "Primary", "Secondary", "All-through", "Special", "Alternative provision")

# The four pupil-led factors: (parameter key of the weight, count column, money column).
FACTORS = (
    ("weight_pupils", PUPILS, PUPILS_GBP),
    ("weight_fsm", FSM, FSM_GBP),
    ("weight_sen_support", SEN_SUPPORT, SEN_SUPPORT_GBP),
    ("weight_ehcp", EHCP, EHCP_GBP),
)
ELEMENT_COLUMNS = (LUMP_SUM_GBP, *(money for _, _, money in FACTORS), PROTECTION_GBP)

PARAMETERS_TABLE = TableSpec(
    "Parameters",
    PARAMETERS,
    (KEY, "Parameter", "Value", "Unit", "Notes"),
    (KEY, "Value"),
)
SCHOOLS_TABLE = TableSpec(
    "Schools",
    SCHOOLS,
    (URN, SCHOOL_NAME, PHASE, CLUSTER_ID, PUPILS, FSM, SEN_SUPPORT, EHCP, DATA_NOTE),
    (URN, SCHOOL_NAME, PHASE, CLUSTER_ID, PUPILS, FSM, SEN_SUPPORT, EHCP),
)
CLUSTERS_TABLE = TableSpec(
    "Clusters",
    CLUSTERS,
    (CLUSTER_ID, CLUSTER_NAME, LEAD_URN, DISTRICT, BASELINE),
    (CLUSTER_ID, CLUSTER_NAME, LEAD_URN, DISTRICT, BASELINE),
)
ALLOCATION_TABLE = TableSpec(
    "Allocation",
    ALLOCATION,
    (
        CLUSTER_ID,
        CLUSTER_NAME,
        SCHOOL_COUNT,
        PUPILS,
        *ELEMENT_COLUMNS[:-1],
        FORMULA_GBP,
        PROTECTION_GBP,
        ANNUAL_GBP,
        SHARE,
        PART_YEAR_GBP,
        BASELINE,
        CHANGE_GBP,
    ),
    (
        CLUSTER_ID,
        CLUSTER_NAME,
        SCHOOL_COUNT,
        PUPILS,
        *ELEMENT_COLUMNS,
        ANNUAL_GBP,
        SHARE,
        PART_YEAR_GBP,
    ),
)
RETAINED_TABLE = TableSpec(
    "RetainedPosts",
    RETAINED,
    ("Post", "Function", "Grade", "FTE", "Salary (£)", "On-cost rate", "Non-pay (£)",
     "Annual cost (£)", "Notes"),
    ("Post", "Function", "FTE", "Salary (£)", "On-cost rate", "Non-pay (£)", "Annual cost (£)"),
)
TIMELINE_TABLE = TableSpec(
    "Timeline",
    TIMELINE,
    ("Milestone", "Start", "End", "Status"),
    ("Milestone", "Start", "End", "Status"),
)
SCHEDULE_TABLE = TableSpec(
    "PaymentSchedule",
    SCHEDULE,
    (CLUSTER_ID, CLUSTER_NAME),  # followed by one column per month, then the total
    (CLUSTER_ID, CLUSTER_NAME),
)
VALIDATION_TABLE = TableSpec(
    "ValidationFindings",
    VALIDATION,
    ("Code", "Severity", "Sheet", "Cell", "Message", "How to fix"),
    ("Code", "Severity", "Sheet", "Cell", "Message", "How to fix"),
)

INPUT_TABLES = (PARAMETERS_TABLE, SCHOOLS_TABLE, CLUSTERS_TABLE, RETAINED_TABLE, TIMELINE_TABLE)
TABLES = (*INPUT_TABLES, ALLOCATION_TABLE, SCHEDULE_TABLE)
TABLES_BY_NAME = {t.name: t for t in TABLES}

# Cover status written after allocating, before validation has run.
ALLOCATED_STATUS = "Allocated: not yet validated"
