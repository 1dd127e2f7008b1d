"""Excel functions through xlwings' real Office.js runtime, and as plain Python calls.

Every expected figure is worked out by hand (or, for the template, checked against
totals fixed by the decision: £2m x 75% = £1.5m shared, 7/12 of it paid Sep-Mar).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.excel_env import server
from tests.xlwings_payload import function_call, table_range
from xlfund import contract as c
from xlfund import excel

# Excel date serials, counted by hand: 1 Jan 2013 is 41275.
SEP_1_2013 = 41275 + 243  # Jan-Aug 2013 have 243 days
AUG_31_2013 = SEP_1_2013 - 1
APR_1_2013 = 41275 + 31 + 28 + 31
MAR_31_2014 = 41275 + 365 + 31 + 28 + 30
JAN_1_2014 = 41275 + 365
APR_1_2014 = MAR_31_2014 + 1
NA = {"type": "Error", "basicValue": "#N/A", "errorType": "NotAvailable"}


def call(func_name: str, *args):
    """Call a function as Excel on the web/Windows/Mac would through xlwings Server."""
    return asyncio.run(server.custom_functions_call(function_call(func_name, *args), excel))


def is_message(result, *words: str) -> bool:
    """A single cell holding a sentence that mentions every word (case-insensitive)."""
    if not (isinstance(result, list) and len(result) == 1 and len(result[0]) == 1):
        return False
    text = result[0][0]
    return isinstance(text, str) and all(w.casefold() in text.casefold() for w in words)


# A small workbook worked by hand --------------------------------------------------
# total 4,000 x 50% = 2,000 delegated; lump sums 3 x £100 = £300; the other £1,700 by
# pupils alone (weight 100%): 340 pupils, so £5 a pupil.
#   cluster A: schools 100 + 50 pupils -> 2 x 100 + 150 x 5 = 950
#   cluster B: school 190 pupils       -> 100 + 190 x 5      = 1,050
# Sep-Mar is 7/12: exact 554.17 and 612.50 must add up to round(2,000 x 7/12) = 1,167,
# so the spare pound goes to the larger remainder (B): 554 and 613.
SCHOOLS = [
    [c.URN, c.SCHOOL_NAME, c.PHASE, c.CLUSTER_ID, c.PUPILS, c.FSM, c.SEN_SUPPORT, c.EHCP,
     c.DATA_NOTE],
    [100001.0, "Alpha Primary", "Primary", "A", 100.0, None, 3.0, 0.0, None],
    [100002.0, "Beta Primary", "Primary", "A", 50.0, 1.0, None, None, None],
    [100003.0, "Gamma High", "Secondary", "B", 190.0, 4.0, 9.0, 1.0, "new head"],
]
CLUSTERS = [
    [c.CLUSTER_ID, c.CLUSTER_NAME, c.LEAD_URN, c.DISTRICT, c.BASELINE],
    ["A", "Cluster A", 100001.0, "North", None],
    ["B", "Cluster B", 100003.0, "South", None],
]
PARAMETERS = [
    ["Key", "Parameter", "Value", "Unit", "Notes"],
    ["funding_year", "Funding year", "2013-14", "text", None],
    ["total_funding", "Total", 4000.0, "£", None],
    ["delegated_share", "Delegated", 0.5, "%", None],
    ["contingency_share", "Contingency", 0.0, "%", None],
    ["delegation_start", "Start", float(SEP_1_2013), "date", None],
    ["team_decommissioned", "Team ends", float(AUG_31_2013), "date", None],
    ["financial_year_start", "FY start", float(APR_1_2013), "date", None],
    ["financial_year_end", "FY end", float(MAR_31_2014), "date", None],
    ["lump_sum_per_school", "Lump sum", 100.0, "£", None],
    ["weight_pupils", "Pupils", 1.0, "%", None],
    ["weight_fsm", "FSM", 0.0, "%", None],
    ["weight_sen_support", "SEN", 0.0, "%", None],
    ["weight_ehcp", "EHCP", 0.0, "%", None],
    ["protection_floor", "Floor", None, "%", "blank: no protection"],
    ["retained_fte_planned", "FTE", 9.0, "FTE", None],
]
EXPECTED_ALLOCATION = [
    list(c.ALLOCATION_TABLE.columns),
    ["A", "Cluster A", 2, 150, 200, 750, 0, 0, 0, 950, 0, 950, 0.475, 554, "", ""],
    ["B", "Cluster B", 1, 190, 100, 950, 0, 0, 0, 1050, 0, 1050, 0.525, 613, "", ""],
]


def replaced(rows, row: int, column: str, value):
    out = [list(r) for r in rows]
    out[row][out[0].index(column)] = value
    return out


# Metadata ---------------------------------------------------------------------------
def test_functions_are_registered_with_descriptions_for_the_function_wizard():
    meta = server.custom_functions_meta(excel)
    functions = {f["name"]: f for f in meta["functions"]}
    assert set(functions) == {"XLF_SPLIT", "XLF_ALLOCATE", "XLF_CLUSTER_ALLOCATION",
                              "XLF_PART_YEAR", "XLF_ROUND_TO_TOTAL", "XLF_POSTS_COST"}
    for f in functions.values():
        assert not f["description"].startswith("Python function")
        for p in f["parameters"]:
            assert not p["description"].startswith("Positional argument"), (f["name"], p)
    assert [p["name"] for p in functions["XLF_ALLOCATE"]["parameters"]] == [
        "schools", "clusters", "parameters"]


# XLF_SPLIT --------------------------------------------------------------------------
def test_split_the_decision():
    assert call("xlf_split", [[2000000]], [[0.75]]) == [[1500000, 500000]]
    assert call("xlf_split", [[2000000.0]], [["75%"]]) == [[1500000, 500000]]
    assert excel.xlf_split(2000000, 0.75) == [[1500000, 500000]]


def test_split_rounds_half_up_and_still_adds_up():
    # 1,001 x 50% = 500.5: the delegated half rounds up, the rest is what is left
    assert call("xlf_split", [[1001]], [[0.5]]) == [[501, 500]]


@pytest.mark.parametrize("total, share, words", [
    ([["two million"]], [[0.75]], ["total", "two million", "not a number"]),
    ([[2000000.5]], [[0.75]], ["total", "whole pounds"]),
    ([[2000000]], [[75]], ["delegated_share", "between 0% and 100%"]),
    ([[2000000]], [[None]], ["delegated_share", "blank"]),
    ([[2000000]], [[NA]], ["delegated_share", "#N/A"]),
    ([[1, 2]], [[0.75]], ["total", "single cell"]),
    ([[True]], [[0.75]], ["total", "not a number"]),
])
def test_split_bad_input_gives_a_message(total, share, words):
    assert is_message(call("xlf_split", total, share), *words)


@settings(max_examples=60, deadline=None)
@given(total=st.integers(0, 10**9), share=st.decimals(0, 1, places=4))
def test_split_always_adds_up_to_the_total(total, share):
    [[delegated, retained]] = call("xlf_split", [[total]], [[float(share)]])
    assert delegated + retained == total
    assert delegated >= 0 and retained >= 0
    assert abs(delegated - Decimal(total) * share) <= Decimal("0.5")


# XLF_PART_YEAR ----------------------------------------------------------------------
@pytest.mark.parametrize("start, expected", [
    (SEP_1_2013, 875000),  # 7/12 of 1.5m (Sep-Mar)
    (JAN_1_2014, 375000),  # Jan-Mar: 3/12
    (41275, 1500000),  # 1 Jan 2013 is before the year: all of it
    (APR_1_2014, 0),  # starts after the year
])
def test_part_year(start, expected):
    assert call("xlf_part_year", [[1500000]], [[float(start)]], [[float(MAR_31_2014)]]) == [
        [expected]]


def test_part_year_rounds_to_whole_pounds():
    # 1,000 x 7/12 = 583.33
    assert call("xlf_part_year", [[1000]], [[SEP_1_2013]], [[MAR_31_2014]]) == [[583]]


def test_part_year_as_plain_python_with_dates():
    assert excel.xlf_part_year(1500000, dt.date(2013, 9, 1), dt.datetime(2014, 3, 31)) == 875000
    assert excel.xlf_part_year(1500000, "2013-09-01", "2014-03-31") == 875000


@pytest.mark.parametrize("start, words", [
    ("next September", ["start_date", "not a date"]),
    (2013, ["start_date", "not a date"]),  # a year typed into a date cell
    (None, ["start_date", "blank"]),
])
def test_part_year_bad_date_gives_a_message(start, words):
    assert is_message(call("xlf_part_year", [[1500000]], [[start]], [[MAR_31_2014]]), *words)


# XLF_ROUND_TO_TOTAL -----------------------------------------------------------------
def test_round_to_total_column_with_a_blank():
    # floors 1 + 1 + 1 = 3; the missing pound goes to the first of the tied .5 remainders
    result = call("xlf_round_to_total", [[1.5], [1.5], [None], [1.0]], [[4]])
    assert result == [[2], [1], [""], [1]]


def test_round_to_total_row():
    # 33.3 + 33.3 + 33.4: floors give 99, the pound goes to the largest remainder (.4)
    assert call("xlf_round_to_total", [[33.3, 33.3, 33.4]], [[100]]) == [[33, 33, 34]]
    assert excel.xlf_round_to_total([33.3, 33.3, 33.4], 100) == [[33, 33, 34]]


@pytest.mark.parametrize("values, total, words", [
    ([[1.0], [1.0]], [[5]], ["too far", "5"]),
    ([[1.0], ["lots"]], [[2]], ["row 2", "lots", "not a number"]),
    ([[None], [None]], [[0]], ["no numbers"]),
    ([[1.0], [NA]], [[1]], ["#N/A"]),
])
def test_round_to_total_bad_input_gives_a_message(values, total, words):
    assert is_message(call("xlf_round_to_total", values, [[total[0][0]]]), *words)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 10**8), min_size=1, max_size=30))
def test_round_to_total_adds_up_and_moves_each_amount_by_less_than_a_pound(pence):
    amounts = [p / 100 for p in pence]
    total = int((Decimal(sum(pence)) / 100).quantize(Decimal(1), ROUND_HALF_UP))
    result = call("xlf_round_to_total", [[a] for a in amounts], [[total]])
    rounded = [row[0] for row in result]
    assert sum(rounded) == total
    assert all(abs(r - Decimal(p) / 100) < 1 for r, p in zip(rounded, pence, strict=True))


# XLF_POSTS_COST ---------------------------------------------------------------------
POSTS = [
    ["Post", "Function", "FTE", "Salary (£)", "On-cost rate", "Non-pay (£)", "Annual cost (£)"],
    ["Adviser", "Disability", 1.0, 30000.0, 0.2, 1000.0, None],  # 30,000 x 1.2 + 1,000
    ["Assistant", "LAC", 0.5, 20000.0, 0.25, None, None],  # 0.5 x 20,000 x 1.25
]


def test_posts_cost_by_hand():
    assert call("xlf_posts_cost", POSTS) == [[37000 + 12500]]
    assert excel.xlf_posts_cost(POSTS) == 49500


def test_posts_cost_of_the_template_matches_its_round_formulas(shipped_template):
    posts = table_range(shipped_template, "RetainedPosts")
    column = posts[0].index("Annual cost (£)")
    by_excel_formulas = sum(row[column] for row in posts[1:])  # cached =ROUND(...) results
    assert call("xlf_posts_cost", posts) == [[by_excel_formulas]]


@pytest.mark.parametrize("posts, words", [
    ([[h for h in POSTS[0] if h != "FTE"], *[r[:2] + r[3:] for r in POSTS[1:]]],
     ["posts", "'FTE'", "RetainedPosts[#All]"]),
    (replaced(POSTS, 2, "FTE", "half"), ["Assistant", "FTE", "half"]),
    (POSTS[1:], ["posts", "header"]),
    ([POSTS[0]], ["posts", "whole RetainedPosts table"]),
])
def test_posts_cost_bad_input_gives_a_message(posts, words):
    assert is_message(call("xlf_posts_cost", posts), *words)


# XLF_ALLOCATE and XLF_CLUSTER_ALLOCATION --------------------------------------------
def test_allocate_small_example_by_hand():
    assert call("xlf_allocate", SCHOOLS, CLUSTERS, PARAMETERS) == EXPECTED_ALLOCATION


def test_allocate_as_plain_python_gives_a_frame():
    frame = excel.xlf_allocate(SCHOOLS, CLUSTERS, PARAMETERS)
    assert isinstance(frame, pd.DataFrame)
    assert [list(frame.columns), *frame.values.tolist()] == EXPECTED_ALLOCATION


def test_cluster_allocation_by_hand():
    assert call("xlf_cluster_allocation", [["A"]], SCHOOLS, CLUSTERS, PARAMETERS) == [[950]]
    assert excel.xlf_cluster_allocation("B", SCHOOLS, CLUSTERS, PARAMETERS) == 1050


def test_numeric_cluster_ids_match_however_excel_sends_them():
    schools = [row[:] for row in SCHOOLS]
    clusters = [row[:] for row in CLUSTERS]
    for row in schools[1:]:
        row[3] = 7.0 if row[3] == "A" else 8.0
    clusters[1][0], clusters[2][0] = 7.0, "8"
    assert call("xlf_cluster_allocation", [[7]], schools, clusters, PARAMETERS) == [[950]]
    assert call("xlf_cluster_allocation", [["8"]], schools, clusters, PARAMETERS) == [[1050]]


def test_allocate_the_template(shipped_template):
    schools, clusters, params = (table_range(shipped_template, name)
                                 for name in ("Schools", "Clusters", "Parameters"))
    result = call("xlf_allocate", schools, clusters, params)
    header, rows = result[0], result[1:]
    assert header == list(c.ALLOCATION_TABLE.columns)
    col = {h: i for i, h in enumerate(header)}
    assert len(rows) == len(clusters) - 1
    assert sum(r[col[c.ANNUAL_GBP]] for r in rows) == 1_500_000  # £2m x 75%
    assert sum(r[col[c.PART_YEAR_GBP]] for r in rows) == 875_000  # 7/12 of it
    # counted independently from the Schools range
    school_cluster = schools[0].index(c.CLUSTER_ID)
    for r in rows:
        members = [s for s in schools[1:] if s[school_cluster] == r[col[c.CLUSTER_ID]]]
        assert r[col[c.SCHOOL_COUNT]] == len(members)
        assert r[col[c.LUMP_SUM_GBP]] == 500 * len(members)
        elements = sum(r[col[h]] for h in c.ELEMENT_COLUMNS)
        assert elements == r[col[c.ANNUAL_GBP]]
    # the same figures as the Allocation table the command line wrote into the template
    written = table_range(shipped_template, "Allocation")
    assert [[r[col[c.CLUSTER_ID]], r[col[c.ANNUAL_GBP]]] for r in rows] == [
        [w[col[c.CLUSTER_ID]], w[col[c.ANNUAL_GBP]]] for w in written[1:]]
    first = rows[0][col[c.CLUSTER_ID]]
    expected = next(r[col[c.ANNUAL_GBP]] for r in rows if r[col[c.CLUSTER_ID]] == first)
    assert call("xlf_cluster_allocation", [[first]], schools, clusters, params) == [[expected]]


@pytest.mark.parametrize("schools, clusters, params, words", [
    (replaced(SCHOOLS, 2, c.URN, 100001.0), CLUSTERS, PARAMETERS,
     ["URN 100001", "appears twice"]),
    (replaced(SCHOOLS, 3, c.CLUSTER_ID, "Z"), CLUSTERS, PARAMETERS,
     ["Gamma High", "'Z'", "not in the Clusters table"]),
    (replaced(SCHOOLS, 1, c.SEN_SUPPORT, "lots"), CLUSTERS, PARAMETERS,
     ["Alpha Primary", "SEN support pupils", "lots", "not a number"]),
    (replaced(SCHOOLS, 1, c.PUPILS, NA), CLUSTERS, PARAMETERS,
     ["Alpha Primary", "Pupils on roll", "#N/A"]),
    (SCHOOLS, [r[:4] for r in CLUSTERS], PARAMETERS, ["clusters", "'Baseline (£)'"]),
    (SCHOOLS[1:], CLUSTERS, PARAMETERS, ["schools", "header row"]),
    (SCHOOLS, CLUSTERS, replaced(PARAMETERS, 10, "Value", 0.9),
     ["weights add up to 90", "100%"]),
    (SCHOOLS, CLUSTERS, replaced(PARAMETERS, 5, "Value", "next September"),
     ["delegation_start", "next September", "not a date"]),
    (SCHOOLS, CLUSTERS, replaced(PARAMETERS, 3, "Key", "total_funding"),
     ["parameters", "total_funding", "appears twice"]),
    (SCHOOLS, CLUSTERS, [r[:2] for r in PARAMETERS], ["parameters", "'Value'"]),
])
def test_allocate_bad_input_gives_a_message_naming_the_problem(schools, clusters, params,
                                                                 words):
    assert is_message(call("xlf_allocate", schools, clusters, params), *words)
    assert is_message(call("xlf_cluster_allocation", [["A"]], schools, clusters, params),
                      *words)


def test_several_problems_are_counted():
    schools = replaced(replaced(SCHOOLS, 1, c.SEN_SUPPORT, "lots"), 2, c.EHCP, "few")
    result = call("xlf_allocate", schools, CLUSTERS, PARAMETERS)
    assert is_message(result, "lots", "and 1 more problem")


def test_unknown_cluster_id_gives_a_message():
    assert is_message(call("xlf_cluster_allocation", [["C"]], SCHOOLS, CLUSTERS, PARAMETERS),
                      "Cluster 'C'", "not in the clusters range")


def test_frames_work_as_arguments_in_plain_python():
    frames = [pd.DataFrame(rows[1:], columns=rows[0]) for rows in (SCHOOLS, CLUSTERS,
                                                                    PARAMETERS)]
    assert excel.xlf_cluster_allocation("A", *frames) == 950


# Never a traceback ------------------------------------------------------------------
CELL = st.one_of(st.none(), st.booleans(), st.floats(allow_nan=False, allow_infinity=False),
                 st.integers(-10**12, 10**12), st.text(max_size=8), st.just(NA))
GRID = st.integers(1, 4).flatmap(lambda w: st.lists(st.lists(CELL, min_size=w, max_size=w),
                                                    min_size=1, max_size=5))


@settings(max_examples=120, deadline=None)
@given(name=st.sampled_from(["xlf_split", "xlf_part_year", "xlf_round_to_total",
                             "xlf_posts_cost", "xlf_allocate", "xlf_cluster_allocation"]),
       grids=st.lists(GRID, min_size=4, max_size=4))
def test_any_input_gives_values_or_a_message_never_an_error(name, grids):
    arity = {"xlf_split": 2, "xlf_part_year": 3, "xlf_round_to_total": 2,
             "xlf_posts_cost": 1, "xlf_allocate": 3, "xlf_cluster_allocation": 4}[name]
    result = call(name, *grids[:arity])
    assert isinstance(result, list) and all(isinstance(r, list) for r in result)
    for row in result:
        for value in row:
            assert not (isinstance(value, dict) and value.get("type") == "Error"), result
            if isinstance(value, str):  # a readable message, not an unexpected failure
                assert "Traceback" not in value
                assert not value.startswith("xlfund could not work this out"), value


@settings(max_examples=150, deadline=None)
@given(which=st.integers(0, 2), row=st.integers(0, 15), col=st.integers(0, 8), value=CELL)
def test_one_bad_cell_in_the_tables_gives_a_table_or_a_message(which, row, col, value):
    tables = [[list(r) for r in t] for t in (SCHOOLS, CLUSTERS, PARAMETERS)]
    target = tables[which]
    target[row % len(target)][col % len(target[0])] = value
    result = call("xlf_allocate", *tables)
    if len(result) == 1:
        text = result[0][0]
        assert isinstance(text, str) and not text.startswith("xlfund could not"), text
    else:
        assert result[0] == list(c.ALLOCATION_TABLE.columns)
        annual = [r[result[0].index(c.ANNUAL_GBP)] for r in result[1:]]
        assert all(isinstance(a, int) for a in annual)
