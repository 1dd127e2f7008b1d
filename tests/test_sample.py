"""The illustrative sample data (xlfund/sample): shape, invariants, and provenance.

Expected values here come from the raw DfE files or from the rules in
docs/sample-data.md, never from the code's own output.
"""

from __future__ import annotations

import ast
import math
import os
import re
import subprocess
import sys
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xlfund.money import round_half_up
from xlfund.sample import build, load_clusters, load_schools

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("XLFUND_SAMPLE_DATA", REPO.parent / "shared" / "data"))
NORFOLK_PP = DATA / "norfolk_pupil_premium_2019-20.csv"
NORFOLK_SEN = DATA / "norfolk_sen_by_school.csv"
ENGLAND_PP = DATA / "england_pupil_premium_2019-20.csv"

needs_data = pytest.mark.skipif(not NORFOLK_PP.is_file(), reason=f"no raw data in {DATA}")
needs_england = pytest.mark.skipif(not ENGLAND_PP.is_file(), reason=f"no {ENGLAND_PP}")

SCHOOL_COLUMNS = [
    "URN",
    "School name",
    "Phase",
    "Cluster ID",
    "Pupils on roll",
    "Ever 6 FSM pupils",
    "SEN support pupils",
    "EHCP pupils",
    "Data note",
]
CLUSTER_COLUMNS = ["Cluster ID", "Cluster name", "Lead school URN", "District", "Baseline (£)"]
PHASES = {"Nursery", "Primary", "Secondary", "All-through", "Special", "Alternative provision"}
COUNTS = ["Ever 6 FSM pupils", "SEN support pupils", "EHCP pupils"]


@pytest.fixture(scope="module")
def schools() -> pd.DataFrame:
    return load_schools()


@pytest.fixture(scope="module")
def clusters() -> pd.DataFrame:
    return load_clusters()


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    if not NORFOLK_PP.is_file():
        pytest.skip(f"no raw data in {DATA}")
    frame = pd.read_csv(NORFOLK_PP)
    frame.columns = [" ".join(col.split()) for col in frame.columns]
    return frame


# --- The shipped files ---------------------------------------------------------------


def test_columns_and_types(schools: pd.DataFrame, clusters: pd.DataFrame) -> None:
    assert list(schools.columns) == SCHOOL_COLUMNS
    assert list(clusters.columns) == CLUSTER_COLUMNS
    assert schools["URN"].dtype == "int64"
    assert schools["Pupils on roll"].dtype == "float64"
    for col in COUNTS:
        assert schools[col].dtype == "int64", col
    assert clusters["Baseline (£)"].dtype == "int64"
    assert clusters["Lead school URN"].dtype == "int64"
    assert all(isinstance(v, str) for v in schools["Cluster ID"])
    assert all(isinstance(v, str) for v in clusters["Cluster ID"])
    assert all(isinstance(v, str) for v in schools["Data note"])
    assert schools.notna().all().all()
    assert clusters.notna().all().all()


def test_csv_files_are_plain_utf8_without_index() -> None:
    folder = REPO / "xlfund" / "sample"
    for name, header in (("schools.csv", SCHOOL_COLUMNS), ("clusters.csv", CLUSTER_COLUMNS)):
        data = (folder / name).read_bytes()
        text = data.decode("utf-8")  # raises if not UTF-8
        assert not text.startswith("\ufeff")
        assert "\r" not in text
        assert text.splitlines()[0] == ",".join(header)


@needs_data
def test_shipped_csvs_equal_a_fresh_build(tmp_path: Path) -> None:
    build.main(["--data", str(DATA), "--out", str(tmp_path)])
    for name in ("schools.csv", "clusters.csv"):
        shipped = (REPO / "xlfund" / "sample" / name).read_bytes()
        assert (tmp_path / name).read_bytes() == shipped, f"{name} is stale: rerun the build"


@needs_data
def test_build_is_deterministic(tmp_path: Path) -> None:
    build.write_sample(DATA, tmp_path / "a")
    build.write_sample(DATA, tmp_path / "b")
    for name in ("schools.csv", "clusters.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_package_reads_without_the_raw_data(tmp_path: Path) -> None:
    code = (
        "from xlfund.sample import load_schools, load_clusters; "
        "print(len(load_schools()), len(load_clusters()))"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == "421"
    source = (REPO / "xlfund" / "sample" / "__init__.py").read_text()
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            imported |= {node.module or "", *(a.name for a in node.names)}
        elif isinstance(node, ast.Import):
            imported |= {a.name for a in node.names}
    assert not any("build" in name for name in imported), imported
    assert "shared" not in source


# --- Clusters ------------------------------------------------------------------------


def test_every_school_is_in_exactly_one_known_cluster(
    schools: pd.DataFrame, clusters: pd.DataFrame
) -> None:
    assert schools["URN"].is_unique
    assert clusters["Cluster ID"].is_unique
    assert set(schools["Cluster ID"]) <= set(clusters["Cluster ID"])


def test_every_cluster_has_schools_and_its_lead(
    schools: pd.DataFrame, clusters: pd.DataFrame
) -> None:
    cluster_of = dict(zip(schools["URN"], schools["Cluster ID"], strict=True))
    sizes = schools["Cluster ID"].value_counts()
    for row in clusters.itertuples(index=False):
        cid, lead = row[0], row[2]
        assert sizes.get(cid, 0) >= 1, cid
        assert cluster_of.get(lead) == cid, f"{cid}: lead {lead} is not one of its schools"


def test_norfolk_has_45_to_50_clusters(clusters: pd.DataFrame) -> None:
    assert 45 <= len(clusters) <= 50


def test_cluster_ids_names_and_leads(schools: pd.DataFrame, clusters: pd.DataFrame) -> None:
    expected = [f"C{n:02d}" for n in range(1, len(clusters) + 1)]
    assert list(clusters["Cluster ID"]) == expected
    assert clusters["Cluster name"].is_unique
    assert all(name.endswith(" cluster") for name in clusters["Cluster name"])
    phase = dict(zip(schools["URN"], schools["Phase"], strict=True))
    assert {phase[u] for u in clusters["Lead school URN"]} <= {"Secondary", "All-through"}
    assert "Aylsham cluster" in set(clusters["Cluster name"])


def test_roman_catholic_cluster(schools: pd.DataFrame, clusters: pd.DataFrame) -> None:
    catholic = schools[schools["School name"].str.contains("Catholic|Notre Dame")]
    assert len(catholic) >= 5
    assert catholic["Cluster ID"].nunique() == 1
    cid = catholic["Cluster ID"].iloc[0]
    rc = clusters.set_index("Cluster ID").loc[cid]
    assert "Catholic" in rc["Cluster name"]
    notre_dame = schools.loc[schools["School name"].str.startswith("Notre Dame"), "URN"]
    assert rc["Lead school URN"] == notre_dame.item()
    # and nobody else is in it
    assert set(schools.loc[schools["Cluster ID"] == cid, "URN"]) == set(catholic["URN"])


def test_clusters_stay_within_their_constituency(
    schools: pd.DataFrame, clusters: pd.DataFrame, raw: pd.DataFrame
) -> None:
    constituency = dict(zip(raw["URN"], raw["Parliamentary Constituency"], strict=True))
    district = dict(zip(clusters["Cluster ID"], clusters["District"], strict=True))
    catholic_ids = set(schools.loc[schools["School name"].str.contains("Catholic"), "Cluster ID"])
    assert set(clusters["District"]) == set(raw["Parliamentary Constituency"])
    for row in schools.itertuples(index=False):
        if row[3] in catholic_ids:
            continue
        assert constituency[row[0]] == district[row[3]], row[1]


def test_clusters_are_not_absurdly_unbalanced(schools: pd.DataFrame) -> None:
    pupils = schools.groupby("Cluster ID")["Pupils on roll"].sum()
    sizes = schools.groupby("Cluster ID").size()
    assert sizes.min() >= 2
    assert pupils.max() <= 5 * pupils.min()


# --- Schools -------------------------------------------------------------------------


def test_all_421_norfolk_schools_are_present(schools: pd.DataFrame, raw: pd.DataFrame) -> None:
    assert len(raw) == 421
    assert sorted(schools["URN"]) == sorted(raw["URN"])
    names = dict(zip(raw["URN"], raw["School Name"].str.strip(), strict=True))
    assert all(names[u] == n for u, n in zip(schools["URN"], schools["School name"], strict=True))


def test_counts_are_whole_non_negative_and_within_the_roll(schools: pd.DataFrame) -> None:
    pupils = schools["Pupils on roll"]
    assert (pupils >= 0).all()
    for col in COUNTS:
        assert (schools[col] >= 0).all(), col
        assert (schools[col] <= pupils).all(), col
    assert (schools["SEN support pupils"] + schools["EHCP pupils"] <= pupils).all()
    assert set(schools["Phase"]) <= PHASES


def test_pupils_on_roll_as_published(schools: pd.DataFrame, raw: pd.DataFrame) -> None:
    published = dict(zip(raw["URN"], raw["Number of pupils on roll (7)"], strict=True))
    for urn, pupils in zip(schools["URN"], schools["Pupils on roll"], strict=True):
        # as published, or (where published in tenths) the nearest half pupil
        assert pupils == published[urn] or (
            abs(pupils - published[urn]) <= 0.25 and (pupils * 2) % 1 == 0
        )
    assert (schools["Pupils on roll"] % 1 == 0.5).sum() >= 10  # halves kept
    assert ((schools["Pupils on roll"] * 2) % 1 == 0).all()  # everything in halves
    city_academy = schools.set_index("URN").loc[135904]
    assert city_academy["Pupils on roll"] == 570.5  # 570.3 published
    assert "nearest half pupil" in city_academy["Data note"]


def test_ever6_fsm_is_the_exact_total_rounded_half_up(
    schools: pd.DataFrame, raw: pd.DataFrame
) -> None:
    expected = {}
    primary = raw["Number of Primary pupils eligible for the Deprivation Pupil Premium"]
    secondary = raw["Number of Secondary pupils eligible for the Deprivation Pupil Premium"]
    for urn, p, s in zip(raw["URN"], primary, secondary, strict=True):
        total = Decimal(repr(p)) + Decimal(repr(s))
        expected[urn] = int(total.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    got = dict(zip(schools["URN"], schools["Ever 6 FSM pupils"], strict=True))
    assert got == expected
    # Norfolk's own total column agrees (it, too, rounded its halves up)
    published = raw["Total number of pupils eligible for the Deprivation Pupil Premium"]
    assert dict(zip(raw["URN"], published, strict=True)) == expected
    assert expected[140753] == 217  # Short Stay School for Norfolk: 83.5 + 133 = 216.5
    rounded = schools[schools["Data note"].str.contains("Ever 6 FSM")]
    assert len(rounded) == sum(
        (Decimal(repr(p)) + Decimal(repr(s))) % 1 != 0
        for p, s in zip(primary, secondary, strict=True)
    )


def test_phases_follow_the_dfe_school_type(schools: pd.DataFrame, raw: pd.DataFrame) -> None:
    phase = dict(zip(schools["URN"], schools["Phase"], strict=True))
    for row in raw.itertuples(index=False):
        urn, school_type = row[0], row[6]
        primary, secondary = row[9], row[13]
        if "pecial" in school_type:
            assert phase[urn] == "Special", row[5]
        elif school_type in {"AP Academy", "Free School AP", "Pupil referral unit"}:
            assert phase[urn] == "Alternative provision", row[5]
        elif primary > 0 and secondary == 0:
            assert phase[urn] in {"Primary", "Nursery"}, row[5]
        elif secondary > 0 and primary == 0:
            assert phase[urn] == "Secondary", row[5]
    assert phase[146237] == "All-through"  # Litcham School: 149 primary, 572 secondary


# --- SEN -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sen() -> pd.DataFrame:
    if not NORFOLK_SEN.is_file():
        pytest.skip(f"no {NORFOLK_SEN}")
    return pd.read_csv(NORFOLK_SEN)


def test_sen_counts_come_from_the_sen_file_where_the_name_matches(
    schools: pd.DataFrame, sen: pd.DataFrame
) -> None:
    by_name = sen.set_index("school_name")
    exact_names = schools[schools["School name"].isin(by_name.index)]
    assert len(exact_names) >= 360  # "about 370 names match"
    for row in exact_names.itertuples(index=False):
        source = by_name.loc[row[1]]
        places = math.floor(row[4])
        ehcp = min(int(source["EHC plan"]), places)
        support = min(int(source["SEN support"]), places - ehcp)
        assert (row[6], row[7]) == (support, ehcp), row[1]
        assert "SEN counts estimated" not in row[8]


def test_unmatched_schools_are_estimated_and_flagged(
    schools: pd.DataFrame, sen: pd.DataFrame
) -> None:
    estimated = schools[schools["Data note"].str.contains("SEN counts estimated")]
    assert 10 <= len(estimated) <= 60
    assert not estimated["School name"].isin(sen["school_name"]).any()
    # normalised-name matches (spelling only) are not estimated
    fakenham = schools[schools["School name"] == "Fakenham Academy Norfolk"].iloc[0]
    source = sen[sen["school_name"] == "Fakenham Academy"].iloc[0]
    assert fakenham["SEN support pupils"] == source["SEN support"]
    assert fakenham["EHCP pupils"] == source["EHC plan"]
    # estimates are plausible rates for mainstream schools
    mainstream = estimated[estimated["Phase"].isin({"Primary", "Secondary"})]
    rate = mainstream["SEN support pupils"].sum() / mainstream["Pupils on roll"].sum()
    assert 0.05 < rate < 0.3


def test_blank_note_means_nothing_to_say(schools: pd.DataFrame) -> None:
    assert (schools["Data note"] == "").sum() >= 300


def test_name_normalisation() -> None:
    norm = build.normalise_school_name
    assert norm("St. Mary's (Endowed) CofE VA Primary School") == norm(
        "St Mary's Endowed Voluntary Aided Church of England Primary School"
    )
    assert norm("Nightingale Infant & Nursery School") == norm("Nightingale Infant School")
    assert norm("The Hewett Academy, Norwich") == norm("Hewett Academy")
    assert norm("Lyng Church of England Primary School") != norm(
        "Lyng Church of England Primary Academy"
    )


# --- Baseline ------------------------------------------------------------------------


def test_baseline_is_norfolks_2012_method(schools: pd.DataFrame, clusters: pd.DataFrame) -> None:
    assert clusters["Baseline (£)"].sum() == 1_500_000
    per_school = 1_000
    n_schools = schools.groupby("Cluster ID").size()
    pupils = schools.groupby("Cluster ID")["Pupils on roll"].sum()
    rest = 1_500_000 - per_school * len(schools)
    for row in clusters.itertuples(index=False):
        cid, baseline = row[0], row[4]
        ideal = per_school * n_schools[cid] + rest * pupils[cid] / pupils.sum()
        assert abs(baseline - ideal) < 1, cid


# --- group_into_clusters on synthetic rows ---------------------------------------------

TYPES = ["Community school", "Mainstream Academy", "Foundation special school", "AP Academy"]


def _synthetic(rows: list[tuple[int, int, int, float, float]]) -> pd.DataFrame:
    """DfE-shaped rows from (LA, constituency, type, primary roll, secondary roll)."""
    return pd.DataFrame(
        {
            "URN": [100000 + i for i in range(len(rows))],
            "LA": [r[0] for r in rows],
            "Local Authority": [f"LA {r[0]}" for r in rows],
            "School Name": [f"School {i}" for i in range(len(rows))],
            "School Type": [TYPES[r[2]] for r in rows],
            "Parliamentary Constituency": [f"Seat {r[1]}" for r in rows],
            "Number of pupils on roll (7)": [r[3] + r[4] for r in rows],
            "Number of Primary pupils on roll (9)": [r[3] for r in rows],
            "Number of  Secondary pupils on roll (10)": [r[4] for r in rows],
        }
    )


school_rows = st.lists(
    st.tuples(
        st.integers(800, 802),
        st.integers(0, 3),
        st.integers(0, 3),
        st.sampled_from([0.0, 12.5, 90.0, 210.0, 430.5]),
        st.sampled_from([0.0, 0.0, 0.0, 150.0, 900.0, 1200.5]),
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(school_rows, st.one_of(st.none(), st.integers(1, 6)), st.randoms(use_true_random=False))
def test_grouping_invariants(rows, max_clusters, rnd) -> None:
    frame = _synthetic(rows)
    grouping = build.group_into_clusters(frame, max_clusters=max_clusters)
    assigned, clusters = grouping.schools, grouping.clusters
    assert len(assigned) == len(frame)
    assert assigned["Cluster ID"].notna().all()
    assert set(assigned["Cluster ID"]) == set(clusters["Cluster ID"])
    cluster_of = dict(zip(assigned["URN"], assigned["Cluster ID"], strict=True))
    la_of = dict(zip(frame["URN"], frame["LA"], strict=True))
    for row in clusters.itertuples(index=False):
        assert cluster_of[row[2]] == row[0]
        assert row[0].startswith(f"{la_of[row[2]]}-")
    for urn, cid in cluster_of.items():  # never across local authorities
        assert cid.startswith(f"{la_of[urn]}-")
    if max_clusters is not None:
        per_la = clusters.groupby("LA").size()
        seats = frame.groupby("LA")["Parliamentary Constituency"].nunique()
        assert (
            per_la
            <= pd.concat([seats, pd.Series(max_clusters, index=seats.index)], axis=1).max(axis=1)
        ).all()
    # row order does not matter
    order = list(range(len(frame)))
    rnd.shuffle(order)
    again = build.group_into_clusters(frame.iloc[order], max_clusters=max_clusters)
    assert dict(zip(again.schools["URN"], again.schools["Cluster ID"], strict=True)) == cluster_of
    assert again.clusters.equals(clusters)


@given(st.lists(st.integers(0, 100_000), min_size=1, max_size=30), st.sampled_from([1, 2, 10]))
def test_scaled_rounding_matches_money(numerators, scale) -> None:
    values = pd.Series([n / scale for n in numerators])
    scaled = build.Scaled.of(values)
    assert list(scaled.round_half_up()) == [round_half_up(Fraction(n, scale)) for n in numerators]


# --- England ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def england() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    if not ENGLAND_PP.is_file():
        pytest.skip(f"no {ENGLAND_PP}")
    raw_england = pd.read_csv(ENGLAND_PP, usecols=["URN", "LA"])
    schools, clusters = build.national_sample(ENGLAND_PP)
    return raw_england, schools, clusters


@needs_england
def test_national_sample_groups_every_english_school(england) -> None:
    raw_england, schools, clusters = england
    assert len(raw_england) == 21_567
    assert list(schools.columns) == SCHOOL_COLUMNS
    assert list(clusters.columns) == CLUSTER_COLUMNS
    assert schools["URN"].is_unique
    assert sorted(schools["URN"]) == sorted(raw_england["URN"])
    assert set(schools["Cluster ID"]) == set(clusters["Cluster ID"])
    la_of = dict(zip(raw_england["URN"], raw_england["LA"], strict=True))
    assert all(
        re.fullmatch(rf"{la_of[u]}-\d{{2,}}", cid)
        for u, cid in zip(schools["URN"], schools["Cluster ID"], strict=True)
    )
    cluster_of = dict(zip(schools["URN"], schools["Cluster ID"], strict=True))
    assert all(
        cluster_of[lead] == cid
        for cid, lead in zip(clusters["Cluster ID"], clusters["Lead school URN"], strict=True)
    )
    assert raw_england["LA"].nunique() == clusters["Cluster ID"].str.split("-").str[0].nunique()


@needs_england
def test_national_sample_counts_and_baselines(england) -> None:
    _, schools, clusters = england
    pupils = schools["Pupils on roll"]
    for col in COUNTS:
        assert (schools[col] >= 0).all() and (schools[col] <= pupils).all(), col
    assert schools["Data note"].str.startswith("SEN counts estimated").all()
    big = schools[pupils >= 1000]
    rate = big["SEN support pupils"].sum() / big["Pupils on roll"].sum()
    assert abs(rate - 0.121) < 0.001
    la = clusters["Cluster ID"].str.split("-").str[0]
    assert (clusters.groupby(la)["Baseline (£)"].sum() == 1_500_000).all()
