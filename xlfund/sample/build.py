"""Derive the illustrative sample data that the template workbook ships.

Run from the repository root::

    python -m xlfund.sample.build --data ../shared/data --out xlfund/sample

Inputs (public DfE statistics, Open Government Licence v3.0):

* ``norfolk_pupil_premium_2019-20.csv``: the 421 Norfolk schools (DfE pupil premium
  allocations 2019-20 format).
* ``norfolk_sen_by_school.csv``: SEN support and EHC plan counts per Norfolk school,
  keyed by school name only.
* ``england_pupil_premium_2019-20.csv``: all English schools, used by
  :func:`national_sample` for tests and benchmarks (not shipped).

Outputs: ``schools.csv`` and ``clusters.csv`` with the workbook contract's columns.
The data are illustrative: 2019-20 figures, and cluster membership is invented by the
rules of :func:`group_into_clusters`.  docs/sample-data.md explains every rule.

Everything is deterministic: the same inputs give byte-identical CSVs.  Only this
module reads the raw data; the installed package reads the CSVs it produced.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections.abc import Iterable, Sequence
from fractions import Fraction
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from xlfund import contract as c
from xlfund.money import apportion, exact, round_half_up

# --- The DfE pupil premium file (headers with runs of spaces collapsed to one) ---
DFE_URN = "URN"
DFE_LA = "LA"
DFE_LA_NAME = "Local Authority"
DFE_NAME = "School Name"
DFE_TYPE = "School Type"
DFE_CONSTITUENCY = "Parliamentary Constituency"
DFE_ROLL = "Number of pupils on roll (7)"
DFE_PRIMARY_ROLL = "Number of Primary pupils on roll (9)"
DFE_SECONDARY_ROLL = "Number of Secondary pupils on roll (10)"
DFE_PRIMARY_FSM = "Number of Primary pupils eligible for the Deprivation Pupil Premium"
DFE_SECONDARY_FSM = "Number of Secondary pupils eligible for the Deprivation Pupil Premium"
DFE_FSM_TOTAL = "Total number of pupils eligible for the Deprivation Pupil Premium"
DFE_REQUIRED = (
    DFE_URN,
    DFE_LA,
    DFE_NAME,
    DFE_TYPE,
    DFE_CONSTITUENCY,
    DFE_ROLL,
    DFE_PRIMARY_ROLL,
    DFE_SECONDARY_ROLL,
)

# --- The SEN by school file ---
SEN_NAME = "school_name"
SEN_PUPILS = "Total pupils"
SEN_SUPPORT = "SEN support"
SEN_EHCP = "EHC plan"

NORFOLK_PUPIL_PREMIUM = "norfolk_pupil_premium_2019-20.csv"
NORFOLK_SEN = "norfolk_sen_by_school.csv"
ENGLAND_PUPIL_PREMIUM = "england_pupil_premium_2019-20.csv"

# --- The rules (docs/sample-data.md) ---
NORFOLK_MAX_CLUSTERS = 48  # Norfolk has about 46-52 clusters; the sample uses 48
BASELINE_TOTAL = 1_500_000  # 75% of about £2.0m, delegated to clusters
BASELINE_PER_SCHOOL = 1_000  # the fixed sum per school of the 2012 method
ENGLAND_SEN_SUPPORT_RATE = Fraction("0.121")  # DfE SEN in England 2020: 12.1% of pupils
ENGLAND_EHCP_RATE = Fraction("0.033")  # DfE SEN in England 2020: 3.3% of pupils
ALL_THROUGH_MIN_SHARE = Fraction(1, 20)  # below 5% of the roll, the minor phase is ignored

SPECIAL_TYPES = frozenset(
    {
        "Community special school",
        "Foundation special school",
        "Special Academy",
        "Free School-Special",
        "Non-maintained special school",
    }
)
AP_TYPES = frozenset({"AP Academy", "Free School AP", "Pupil referral unit"})
LEAD_PHASES = frozenset({"Secondary", "All-through"})
MAINSTREAM_PRIMARY_PHASES = frozenset({"Nursery", "Primary"})
SPECIALIST_PHASES = frozenset({"Special", "Alternative provision"})

CATHOLIC_PATTERN = r"(?i:\bcatholic\b|\bnotre dame\b|\bour lady\b)|\bR\.?C\.?(?=\s|,|$)"
# 14-19 institutions that recruit across a wide area and have no feeder primaries.
NON_LEAD_PATTERN = r"(?i:university technical college|studio school)|\bUTC\b"
NURSERY_PATTERN = (
    r"(?i)^(?!.*\b(?:infant|infants|primary|junior|first|academy|jmi)\b).*\bnursery school\b"
)
MIDDLE_PATTERN = r"(?i)\bmiddle (?:school|academy)\b"

CATHOLIC_CLUSTER_NAME = "Roman Catholic cluster"
SEN_ESTIMATED_NOTE = "SEN counts estimated"

SCHOOL_COLUMNS = c.SCHOOLS_TABLE.columns
CLUSTER_COLUMNS = c.CLUSTERS_TABLE.columns


class Grouping(NamedTuple):
    """Result of :func:`group_into_clusters`.

    ``schools``: one row per input row (same index): ``URN``, ``Phase``, ``Cluster ID``.
    ``clusters``: one row per cluster: ``Cluster ID``, ``Cluster name``,
    ``Lead school URN``, ``District``, ``LA``, ``Local Authority``, ``Schools``,
    ``Pupils on roll``; sorted by LA, then Cluster ID.
    """

    schools: pd.DataFrame
    clusters: pd.DataFrame


# ---------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------


def _tidy_headers(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.rename(columns=lambda h: " ".join(str(h).split()))


def read_pupil_premium(path: str | Path) -> pd.DataFrame:
    """Read a DfE pupil premium allocations CSV (2019-20 layout), headers tidied."""
    frame = _tidy_headers(pd.read_csv(path, encoding="utf-8-sig"))
    missing = [col for col in DFE_REQUIRED if col not in frame.columns]
    if missing:
        raise ValueError(f"{path}: not a DfE pupil premium file, missing {missing}")
    return frame


def read_sen(path: str | Path) -> pd.DataFrame:
    frame = _tidy_headers(pd.read_csv(path, encoding="utf-8-sig"))
    missing = [
        col for col in (SEN_NAME, SEN_PUPILS, SEN_SUPPORT, SEN_EHCP) if col not in frame.columns
    ]
    if missing:
        raise ValueError(f"{path}: not a SEN by school file, missing {missing}")
    return frame


# ---------------------------------------------------------------------------------
# Phase
# ---------------------------------------------------------------------------------


def derive_phase(schools: pd.DataFrame) -> pd.Series:
    """Phase of each school from its DfE School Type and primary/secondary rolls.

    Special types -> Special; AP Academy, Free School AP, Pupil referral unit ->
    Alternative provision.  Otherwise, by the primary and secondary rolls: both at
    least 5% of the roll -> All-through (middle schools excepted: they take the
    larger phase); only primary -> Primary (Nursery when the name is a nursery school's);
    only secondary, or no pupils at all (16-19 schools) -> Secondary.
    """
    frame = _tidy_headers(schools)
    school_type = frame[DFE_TYPE].astype("string").str.strip()
    name = frame[DFE_NAME].astype("string")
    primary = frame[DFE_PRIMARY_ROLL].astype(float).to_numpy()
    secondary = frame[DFE_SECONDARY_ROLL].astype(float).to_numpy()
    roll = primary + secondary
    share = float(ALL_THROUGH_MIN_SHARE)
    minor = np.minimum(primary, secondary)
    middle = name.str.contains(MIDDLE_PATTERN, regex=True).fillna(False).to_numpy(bool)
    both = (primary > 0) & (secondary > 0) & (minor >= share * roll) & ~middle
    mostly_primary = primary > secondary
    nursery = name.str.contains(NURSERY_PATTERN, regex=True).fillna(False).to_numpy(bool)
    phase = np.select(
        [
            school_type.isin(SPECIAL_TYPES).to_numpy(bool),
            school_type.isin(AP_TYPES).to_numpy(bool),
            both,
            mostly_primary & nursery,
            mostly_primary,
        ],
        ["Special", "Alternative provision", "All-through", "Nursery", "Primary"],
        default="Secondary",
    )
    return pd.Series(phase, index=schools.index, name=c.PHASE, dtype="str")


# ---------------------------------------------------------------------------------
# Grouping into clusters
# ---------------------------------------------------------------------------------


class _Cluster:
    """A cluster being built: its lead and running pupil totals."""

    __slots__ = (
        "lead",
        "la",
        "district",
        "catholic",
        "secondary",
        "primary",
        "total",
        "specialists",
        "members",
    )

    def __init__(self, lead: int, la: int, district: str, roll: float, catholic: bool = False):
        self.lead = lead
        self.la = la
        self.district = district
        self.catholic = catholic  # the LA's Roman Catholic cluster
        self.secondary = roll  # pupils of its secondary and all-through schools
        self.primary = 0.0  # pupils of its nursery and primary schools
        self.total = roll  # all its pupils
        self.specialists = 0  # its special and alternative provision schools
        self.members = [lead]


Member = tuple[int, float, str]  # URN, pupils on roll, phase


def _assign(clusters: Sequence[_Cluster], members: Iterable[Member]) -> None:
    """Share member schools among ``clusters`` (all of one constituency, usually).

    1. Secondary-phase members (leads merged away, UTCs, 16-19 schools), largest first,
       each to the cluster with the fewest secondary pupils so far.
    2. Nursery and primary schools, largest first, each to the cluster whose primary
       roll would be smallest relative to its secondary roll: feeder pupils end up in
       proportion to the high schools' sizes, as real feeder patterns roughly are.
    3. Special and alternative provision schools, by URN, each to the cluster with the
       fewest such schools so far, then the fewest pupils: they serve wide areas, so
       they are spread out rather than piled on the smallest cluster.
    Ties go to the cluster with the smallest lead URN.  Each school costs one pass
    over the constituency's clusters (a handful), so the whole is linear in schools.
    """
    members = list(members)
    secondaries = sorted((m for m in members if m[2] in LEAD_PHASES), key=lambda m: (-m[1], m[0]))
    primaries = sorted(
        (m for m in members if m[2] in MAINSTREAM_PRIMARY_PHASES), key=lambda m: (-m[1], m[0])
    )
    specialists = sorted(m for m in members if m[2] in SPECIALIST_PHASES)
    for urn, roll, _ in secondaries:
        k = min(clusters, key=lambda k: (k.secondary, k.lead))
        k.members.append(urn)
        k.secondary += roll
        k.total += roll
    for urn, roll, _ in primaries:
        k = min(clusters, key=lambda k: ((k.primary + roll) / max(k.secondary, 1.0), k.lead))
        k.members.append(urn)
        k.primary += roll
        k.total += roll
    for urn, roll, _ in specialists:
        k = min(clusters, key=lambda k: (k.specialists, k.total, k.lead))
        k.members.append(urn)
        k.specialists += 1
        k.total += roll


def _merge_to_fit(leads: dict[int, tuple[str, float]], limit: int) -> list[int]:
    """Merge away the smallest lead of a constituency with two or more until ``limit``.

    ``leads``: URN -> (constituency, pupils); changed in place.  Returns the merged URNs.
    """
    merged: list[int] = []
    while len(leads) > limit:
        per_district: dict[str, int] = {}
        for district, _ in leads.values():
            per_district[district] = per_district.get(district, 0) + 1
        candidates = [
            (roll, urn) for urn, (district, roll) in leads.items() if per_district[district] >= 2
        ]
        if not candidates:
            break  # one cluster per constituency already: cannot merge further
        _, urn = min(candidates)
        merged.append(urn)
        del leads[urn]
    return merged


def _largest(frame: pd.DataFrame) -> pd.Series:
    return frame.sort_values(["_roll", "_urn"], ascending=[False, True]).iloc[0]


def _group_la(
    la: int, g: pd.DataFrame, max_clusters: int | None, catholic_cluster: bool
) -> list[_Cluster]:
    """Clusters of one local authority (rows of the internal frame)."""
    clusters: list[_Cluster] = []
    rest = g
    if catholic_cluster:
        catholic = g[g["_catholic"]]
        catholic_leads = catholic[catholic["_eligible"]]
        others = g[g["_eligible"] & ~g["_catholic"]]
        if not catholic_leads.empty and not others.empty:
            lead = _largest(catholic_leads)
            rc = _Cluster(int(lead["_urn"]), la, str(lead["_district"]), float(lead["_roll"]), True)
            members = catholic[catholic["_urn"] != rc.lead]
            _assign([rc], zip(members["_urn"], members["_roll"], members["_phase"], strict=True))
            clusters.append(rc)
            rest = g[~g["_catholic"]]
    if rest.empty:
        return clusters

    eligible = rest[rest["_eligible"]]
    leads = dict(
        zip(
            eligible["_urn"].tolist(),
            zip(eligible["_district"].tolist(), eligible["_roll"].tolist(), strict=True),
            strict=True,
        )
    )
    if max_clusters is not None:
        _merge_to_fit(leads, max(max_clusters - len(clusters), 1))
    if not leads:
        lead = _largest(
            rest[rest["_phase"].isin(LEAD_PHASES)]
            if rest["_phase"].isin(LEAD_PHASES).any()
            else rest
        )
        leads = {int(lead["_urn"]): (str(lead["_district"]), float(lead["_roll"]))}
    local = [_Cluster(urn, la, district, roll) for urn, (district, roll) in sorted(leads.items())]
    by_district: dict[str, list[_Cluster]] = {}
    for k in local:
        by_district.setdefault(k.district, []).append(k)

    members = rest[~rest["_urn"].isin(leads)]
    orphans: list[Member] = []
    for district, d in members.groupby("_district", sort=True):
        rows = list(zip(d["_urn"].tolist(), d["_roll"].tolist(), d["_phase"].tolist(), strict=True))
        if district in by_district:
            _assign(by_district[district], rows)
        else:
            orphans.extend(rows)
    if orphans:  # constituencies of this LA with no lead of their own
        _assign(local, orphans)
    return clusters + local


_PAREN = re.compile(r"\([^)]*\)")
_NOISE_WIDE = frozenset(
    [
        "academy",
        "school",
        "high",
        "college",
        "community",
        "sixth",
        "form",
        "and",
        "norfolk",
        "ormiston",
        "the",
        "a",
        "an",
        "upper",
        "secondary",
        "foundation",
        "trust",
        "centre",
    ]
)
_NOISE_NARROW = frozenset(["academy", "school", "norfolk", "the", "a", "an"])


_LEADING_NOISE = frozenset(["the", "a", "an"])


def _strip_name(name: str, noise: frozenset[str]) -> str:
    """A school's name without parentheses, text after a comma, or generic end words."""
    text = _PAREN.sub(" ", name).split(",")[0]
    words = text.split()
    while words and words[-1].lower() in noise:
        words.pop()
    while words and words[0].lower() in _LEADING_NOISE:
        words.pop(0)
    return " ".join(words) or name.strip()


def cluster_names(leads: pd.DataFrame) -> pd.Series:
    """Unique cluster names from the lead schools' names (town, usually).

    ``leads`` has ``name``, ``district``, ``urn`` and ``catholic`` columns.  First the
    lead's name without generic words ("Aylsham High School" -> "Aylsham"); names that
    clash keep "High"/"College" ("Wymondham College", "Wymondham High"); then add the
    constituency, then the URN.
    """
    wide = leads["name"].map(lambda n: _strip_name(n, _NOISE_WIDE))
    narrow = leads["name"].map(lambda n: _strip_name(n, _NOISE_NARROW))
    rc = leads["catholic"].astype(bool)
    rc_name = CATHOLIC_CLUSTER_NAME.removesuffix(" cluster")
    wide = wide.where(~rc, rc_name)
    narrow = narrow.where(~rc, rc_name)
    name = wide.copy()
    clash = name.duplicated(keep=False)
    name[clash] = narrow[clash]
    clash = name.duplicated(keep=False)
    name[clash] = name[clash] + " (" + leads.loc[clash, "district"] + ")"
    clash = name.duplicated(keep=False)
    name[clash] = name[clash] + " " + leads.loc[clash, "urn"].astype(str)
    return name + " cluster"


def group_into_clusters(
    schools: pd.DataFrame,
    *,
    max_clusters: int | None = None,
    catholic_cluster: bool = False,
    id_format: str = "{la}-{n:02d}",
) -> Grouping:
    """Group schools (rows of the DfE pupil premium CSV) into clusters, per local authority.

    A cluster is one secondary or all-through school (its lead) plus nursery and
    primary schools of the same parliamentary constituency within the same LA, shared
    among that constituency's leads in proportion to the leads' rolls (see
    :func:`_assign`).  Special and alternative provision schools are spread over the
    clusters of their constituency (fewest such schools, then fewest pupils).  Schools
    of a constituency with no lead of its own join the LA's clusters by the same rules;
    an LA with no eligible lead is led by its largest school.  UTCs, studio schools and
    schools with no pupils on roll never lead.

    * ``max_clusters``: at most this many clusters per LA: the smallest lead of a
      constituency with two or more leads is merged into its neighbours, repeatedly.
    * ``catholic_cluster``: Catholic schools (by name) form one LA-wide cluster led by
      the largest Catholic secondary, when the LA has one (as Norfolk does).
    * ``id_format``: the Cluster ID, formatted with ``la`` (LA code) and ``n``
      (1, 2, ... within the LA, in order of constituency, then lead URN).

    Deterministic: the result does not depend on row order.  Linear in the number of
    schools (one pass over a constituency's few clusters per school).
    """
    frame = _tidy_headers(schools)
    missing = [col for col in DFE_REQUIRED if col not in frame.columns]
    if missing:
        raise ValueError(f"not DfE pupil premium rows, missing columns {missing}")
    work = pd.DataFrame(
        {
            "_urn": frame[DFE_URN].astype("int64").to_numpy(),
            "_la": frame[DFE_LA].astype("int64").to_numpy(),
            "_name": frame[DFE_NAME].astype("str").str.strip().to_numpy(),
            "_district": frame[DFE_CONSTITUENCY].astype("str").str.strip().to_numpy(),
            "_roll": frame[DFE_ROLL].astype(float).to_numpy(),
            "_phase": derive_phase(frame).to_numpy(),
        },
    )  # positional index: the input's may have duplicates
    if work["_urn"].duplicated().any():
        dupes = sorted(work.loc[work["_urn"].duplicated(), "_urn"].unique())[:5]
        raise ValueError(f"duplicate URNs, e.g. {dupes}")
    work["_catholic"] = work["_name"].str.contains(CATHOLIC_PATTERN, regex=True)
    work["_eligible"] = (
        work["_phase"].isin(LEAD_PHASES)
        & (work["_roll"] > 0)
        & ~work["_name"].str.contains(NON_LEAD_PATTERN, regex=True)
    )
    work = work.sort_values("_urn", kind="stable")

    rows = []  # one per cluster
    cluster_id: dict[int, str] = {}
    for la, g in work.groupby("_la", sort=True):
        clusters = _group_la(int(la), g, max_clusters, catholic_cluster)
        clusters.sort(key=lambda k: (k.district, k.lead))
        for n, k in enumerate(clusters, start=1):
            cid = id_format.format(la=int(la), n=n)
            rows.append((cid, k.lead, k.district, int(la), n, k.catholic))
            for urn in k.members:
                cluster_id[urn] = cid

    clusters = pd.DataFrame(
        rows, columns=[c.CLUSTER_ID, c.LEAD_URN, c.DISTRICT, "LA", "_n", "_catholic"]
    )
    if clusters[c.CLUSTER_ID].duplicated().any():
        raise ValueError(f"id_format {id_format!r} does not give unique Cluster IDs")
    assigned = work["_urn"].map(cluster_id)
    out = pd.DataFrame(
        {c.URN: work["_urn"], c.PHASE: work["_phase"], c.CLUSTER_ID: assigned.astype("str")},
        index=work.index,
    ).sort_index()
    out.index = schools.index

    by_urn = work.set_index("_urn")
    lead_rows = by_urn.loc[clusters[c.LEAD_URN].to_numpy()]
    clusters["Local Authority"] = (
        frame[DFE_LA_NAME].groupby(frame[DFE_LA]).first().reindex(clusters["LA"]).to_numpy()
        if DFE_LA_NAME in frame.columns
        else clusters["LA"].astype(str).to_numpy()
    )
    sizes = out.groupby(c.CLUSTER_ID).size()
    pupils = work.groupby(assigned)["_roll"].sum()
    clusters[c.SCHOOL_COUNT] = sizes.reindex(clusters[c.CLUSTER_ID]).to_numpy()
    clusters[c.PUPILS] = pupils.reindex(clusters[c.CLUSTER_ID]).to_numpy()
    names = cluster_names(
        pd.DataFrame(
            {
                "name": lead_rows["_name"].to_numpy(),
                "district": clusters[c.DISTRICT].to_numpy(),
                "urn": clusters[c.LEAD_URN].to_numpy(),
                "catholic": clusters["_catholic"].to_numpy(bool),
            }
        )
    )
    clusters.insert(1, c.CLUSTER_NAME, names.to_numpy())
    clusters = clusters.sort_values(["LA", "_n"], kind="stable").drop(columns=["_n", "_catholic"])
    clusters = clusters.reset_index(drop=True)
    return Grouping(out, clusters)


# ---------------------------------------------------------------------------------
# Counts: pupils, Ever 6 FSM, SEN
# ---------------------------------------------------------------------------------


def _format_number(value: float) -> str:
    return f"{value:g}" if float(value).is_integer() else repr(float(value))


def _whole_places(value: float) -> int:
    """Whole pupils a roll can hold (a count of pupils cannot exceed this)."""
    return math.floor(exact(value))


class Scaled(NamedTuple):
    """Numbers as exact integers over one common denominator: value = ints / scale.

    The DfE files publish decimals (halves for part-time pupils, tenths elsewhere);
    read through :func:`xlfund.money.exact` they become exact integers over 10, so
    whole columns can be summed and rounded exactly with numpy integer arithmetic.
    """

    ints: np.ndarray
    scale: int

    @classmethod
    def of(cls, values: pd.Series | np.ndarray) -> Scaled:
        array = np.asarray(values, dtype=float)
        uniques = pd.unique(array)
        fractions = {v: exact(float(v)) for v in uniques}
        scale = math.lcm(1, *(f.denominator for f in fractions.values()))
        big = scale > 10**6 or any(abs(f) > 10**9 for f in fractions.values())
        lookup = {v: int(f * scale) for v, f in fractions.items()}
        ints = pd.Series(array).map(lookup).to_numpy(dtype=object if big else np.int64)
        return cls(ints, scale)

    def rescale(self, scale: int) -> np.ndarray:
        """The integers over ``scale`` (a multiple of this scale)."""
        return self.ints * (scale // self.scale)

    def round_half_up(self) -> np.ndarray:
        """Nearest whole numbers, halves away from zero (as money.round_half_up)."""
        twice = 2 * np.abs(self.ints) + self.scale
        return np.sign(self.ints) * (twice // (2 * self.scale))

    def floor(self) -> np.ndarray:
        return self.ints // self.scale


def pupils_and_fsm(pp: pd.DataFrame) -> tuple[pd.Series, pd.Series, list[list[str]]]:
    """Pupils on roll (as published), Ever 6 FSM (whole pupils), and data notes per row.

    Ever 6 FSM is the primary plus secondary Deprivation Pupil Premium counts, summed
    exactly and rounded half up (the file's own total column rounds the same sum, but
    not always the same way); capped at the whole pupils on roll.
    """
    frame = _tidy_headers(pp)
    roll = frame[DFE_ROLL].astype(float)
    notes: list[list[str]] = [[] for _ in range(len(frame))]
    if DFE_PRIMARY_FSM in frame.columns and DFE_SECONDARY_FSM in frame.columns:
        primary = Scaled.of(frame[DFE_PRIMARY_FSM])
        secondary = Scaled.of(frame[DFE_SECONDARY_FSM])
        scale = math.lcm(primary.scale, secondary.scale)
        raw = Scaled(primary.rescale(scale) + secondary.rescale(scale), scale)
    else:
        raw = Scaled.of(frame[DFE_FSM_TOTAL])
    fsm = raw.round_half_up()
    published = (
        frame[DFE_FSM_TOTAL].to_numpy(dtype=float)
        if DFE_FSM_TOTAL in frame.columns
        else np.full(len(frame), np.nan)
    )
    for i in np.flatnonzero(raw.ints % raw.scale != 0):
        note = (
            f"Ever 6 FSM {_format_number(float(Fraction(int(raw.ints[i]), raw.scale)))} "
            f"in the DfE file, rounded to {int(fsm[i])}"
        )
        if not np.isnan(published[i]) and published[i] != fsm[i]:
            note += f" (DfE total column: {_format_number(published[i])})"
        notes[i].append(note)

    pupils = Scaled.of(roll)
    cap = pupils.floor()
    for i in np.flatnonzero(fsm > cap):
        notes[i].append(f"Ever 6 FSM capped at pupils on roll (was {int(fsm[i])})")
    fsm = np.minimum(fsm, cap)
    for i in np.flatnonzero(pupils.ints == 0):
        notes[i].append("No pupils on roll in the DfE file")
    # The contract counts pupils in halves (part-time pupils); a published roll such as
    # 570.3 is rounded to the nearest half pupil, and the note says so.
    roll = roll.copy()
    for i in np.flatnonzero((2 * pupils.ints) % pupils.scale != 0):
        published_roll = Fraction(int(pupils.ints[i]), pupils.scale)
        halves = round_half_up(published_roll * 2)
        roll.iloc[i] = halves / 2
        notes[i].append(
            f"Pupils on roll {_format_number(float(published_roll))} in the DfE file, "
            f"rounded to the nearest half pupil ({_format_number(halves / 2)})"
        )
    index = pp.index
    return (
        pd.Series(roll.to_numpy(), index=index, name=c.PUPILS),
        pd.Series(fsm.astype("int64"), index=index, name=c.FSM),
        notes,
    )


_NAME_RULES = [
    (r"&", " and "),
    (r"[()]", " "),
    (r"\bst\.", "st "),
    (r"\bsaint\b", "st"),
    (r"\bchurch of england\b|\bc\s*of\s*e\b|\bcofe\b|\bc\.e\.|\bce\b", " "),
    (r"\bvoluntary aided\b|\bvoluntary controlled\b|\bceva\b|\bcevc\b|\bva\b|\bvc\b", " "),
    (r"\bpart of .* federation\b", " "),
    (r"\b(?:and|with)\s+(?:nursery|pre-school|preschool)\s+school\b", " school"),
    (r"\b(?:and|with)\s+(?:nursery|pre-school|preschool)\b", " "),
    (r"[^a-z0-9 ]", " "),
    (r"\s+", " "),
    (r"^ ?the ", " "),
    (r" (?:norfolk|norwich) ?$", " "),
]
_NAME_RULES_COMPILED = [(re.compile(a), b) for a, b in _NAME_RULES]


def normalise_school_name(name: str) -> str:
    """A school name reduced to what identifies it across DfE files.

    Case, punctuation, "&"/"and", "St."/"St", the church designation (Church of
    England / C of E / CofE / CE, voluntary aided / controlled, VA / VC), "and nursery"
    or "with pre-school", a federation note, a leading "The" and a trailing "Norfolk" or
    "Norwich".  Not "School"/"Academy": a conversion to academy is a new school.
    """
    text = f" {name.lower()} "
    for pattern, replacement in _NAME_RULES_COMPILED:
        text = pattern.sub(replacement, text)
    return " ".join(text.split())


def match_sen(names: pd.Series, sen: pd.DataFrame) -> pd.DataFrame:
    """SEN file rows for each school name: exact name first, then normalised name.

    A normalised name that is not unique in either file is not used.  Returns, aligned
    with ``names``: ``SEN name``, ``SEN pupils``, ``SEN support``, ``EHCP`` (NaN where
    unmatched) and ``Match`` ("exact", "normalised" or "").
    """
    sen = _tidy_headers(sen)
    sen = sen.assign(_name=sen[SEN_NAME].astype(str).str.strip())
    sen = sen[~sen["_name"].duplicated(keep=False)]
    by_exact = sen.set_index("_name")
    names = names.astype(str).str.strip()
    matched_name = names.where(names.isin(by_exact.index))
    how = pd.Series(np.where(matched_name.notna(), "exact", ""), index=names.index)

    sen_norm = sen["_name"].map(normalise_school_name)
    unique_sen = sen_norm[~sen_norm.duplicated(keep=False)]
    norm_to_sen = dict(zip(unique_sen, sen.loc[unique_sen.index, "_name"], strict=True))
    names_norm = names.map(normalise_school_name)
    unique_names = ~names_norm.duplicated(keep=False)
    taken = set(matched_name.dropna())
    for i in names.index[matched_name.isna() & unique_names]:
        candidate = norm_to_sen.get(names_norm[i])
        if candidate is not None and candidate not in taken:
            matched_name[i] = candidate
            how[i] = "normalised"
            taken.add(candidate)

    picked = by_exact.reindex(matched_name.fillna("").to_numpy())
    return pd.DataFrame(
        {
            "SEN name": matched_name.to_numpy(),
            "SEN pupils": picked[SEN_PUPILS].to_numpy(dtype=float),
            "SEN support": picked[SEN_SUPPORT].to_numpy(dtype=float),
            "EHCP": picked[SEN_EHCP].to_numpy(dtype=float),
            "Match": how.to_numpy(),
        },
        index=names.index,
    )


def _clamp_sen(
    support: np.ndarray, ehcp: np.ndarray, pupils: pd.Series, notes: list[list[str]]
) -> tuple[np.ndarray, np.ndarray]:
    """EHCP <= whole pupils on roll; SEN support <= the pupils left over (a pupil has an
    EHC plan or SEN support, not both).  Notes say where a count was changed."""
    cap = Scaled.of(pupils).floor()
    for i in np.flatnonzero(ehcp > cap):
        notes[i].append(f"EHCP pupils capped at pupils on roll (was {int(ehcp[i])})")
    ehcp = np.minimum(ehcp, cap)
    room = cap - ehcp
    for i in np.flatnonzero(support > room):
        notes[i].append(
            f"SEN support pupils capped at pupils on roll less EHCP (was {int(support[i])})"
        )
    return np.minimum(support, room), ehcp


def sen_rates_by_phase(
    phase: pd.Series, matches: pd.DataFrame
) -> dict[str, tuple[Fraction, Fraction]]:
    """(SEN support rate, EHCP rate) per phase, from the matched schools' SEN file rows.

    Each rate is the phase's total count over its total pupils in the SEN file, exactly.
    A phase with no matched school uses the rate of all matched schools (key "*").
    """
    ok = matches["Match"] != ""
    rows = pd.DataFrame(
        {
            "phase": phase[ok],
            "pupils": matches.loc[ok, "SEN pupils"],
            "support": matches.loc[ok, "SEN support"],
            "ehcp": matches.loc[ok, "EHCP"],
        }
    )
    sums = rows.groupby("phase")[["pupils", "support", "ehcp"]].sum()
    sums.loc["*"] = rows[["pupils", "support", "ehcp"]].sum()
    rates = {}
    for key, row in sums.iterrows():
        if row["pupils"] > 0:
            rates[str(key)] = (
                Fraction(int(row["support"]), int(row["pupils"])),
                Fraction(int(row["ehcp"]), int(row["pupils"])),
            )
    return rates


def norfolk_sen(
    phase: pd.Series, pupils: pd.Series, names: pd.Series, sen: pd.DataFrame, notes: list[list[str]]
) -> tuple[pd.Series, pd.Series, pd.DataFrame]:
    """SEN support and EHCP counts: the SEN file where the name matches, else estimated
    at Norfolk's rate for the school's phase (notes get "SEN counts estimated")."""
    matches = match_sen(names, sen)
    rates = sen_rates_by_phase(phase, matches)
    support = np.zeros(len(phase), dtype=np.int64)
    ehcp = np.zeros(len(phase), dtype=np.int64)
    rows = zip(
        phase,
        pupils,
        matches["Match"],
        matches["SEN pupils"],
        matches["SEN support"],
        matches["EHCP"],
        strict=True,
    )
    for i, (key, roll, how, sen_roll, sen_support, sen_ehcp) in enumerate(rows):
        if how:
            support[i], ehcp[i] = int(sen_support), int(sen_ehcp)
            if not roll / 2 <= sen_roll <= roll * 2:
                notes[i].append(
                    f"SEN file has {_format_number(sen_roll)} pupils, "
                    f"the DfE file {_format_number(roll)}: counts used as published"
                )
        else:
            support_rate, ehcp_rate = rates.get(key, rates["*"])
            support[i] = round_half_up(support_rate * exact(roll))
            ehcp[i] = round_half_up(ehcp_rate * exact(roll))
            notes[i].insert(0, SEN_ESTIMATED_NOTE)
    support, ehcp = _clamp_sen(support, ehcp, pupils, notes)
    return (
        pd.Series(support, index=phase.index, dtype="int64"),
        pd.Series(ehcp, index=phase.index, dtype="int64"),
        matches,
    )


def estimate_at_rate(pupils: pd.Series, rate: Fraction) -> np.ndarray:
    """round_half_up(rate x pupils) for each school, exactly, without a loop."""
    roll = Scaled.of(pupils)
    return Scaled(roll.ints * rate.numerator, roll.scale * rate.denominator).round_half_up()


def england_sen(pupils: pd.Series, notes: list[list[str]]) -> tuple[pd.Series, pd.Series]:
    """SEN support and EHCP counts estimated at England rates (12.1%, 3.3%)."""
    support = estimate_at_rate(pupils, ENGLAND_SEN_SUPPORT_RATE)
    ehcp = estimate_at_rate(pupils, ENGLAND_EHCP_RATE)
    for note in notes:
        note.insert(0, SEN_ESTIMATED_NOTE)
    support, ehcp = _clamp_sen(support, ehcp, pupils, notes)
    return (
        pd.Series(support.astype("int64"), index=pupils.index),
        pd.Series(ehcp.astype("int64"), index=pupils.index),
    )


# ---------------------------------------------------------------------------------
# Baseline
# ---------------------------------------------------------------------------------


def baselines(
    cluster_ids: Sequence[str],
    school_clusters: pd.Series,
    pupils: pd.Series,
    total: int = BASELINE_TOTAL,
    per_school: int = BASELINE_PER_SCHOOL,
) -> list[int]:
    """Norfolk's 2012 method: a fixed sum per school, the rest in proportion to pupils.

    Whole pounds adding up to ``total`` exactly (largest remainder, ties to the
    smallest Cluster ID).  ``school_clusters`` and ``pupils`` are per school.
    """
    ids = list(cluster_ids)
    unknown = set(school_clusters) - set(ids)
    if unknown:
        raise ValueError(f"schools in unknown clusters {sorted(unknown)[:5]}")
    roll = Scaled.of(pupils)
    keys = np.asarray(school_clusters)
    weight = pd.Series(roll.ints, index=keys).groupby(level=0).sum()
    counts = pd.Series(1, index=keys).groupby(level=0).sum()
    weight = weight.reindex(ids, fill_value=0)
    counts = counts.reindex(ids, fill_value=0)
    schools = int(counts.sum())
    fixed = per_school * schools
    if fixed > total:
        raise ValueError(
            f"£{per_school:,} a school for {schools} schools is more than the £{total:,} to share"
        )
    shares = apportion(total - fixed, [Fraction(int(w), roll.scale) for w in weight], keys=ids)
    return [per_school * int(n) + share for n, share in zip(counts, shares, strict=True)]


# ---------------------------------------------------------------------------------
# The contract-shaped frames
# ---------------------------------------------------------------------------------


def _schools_frame(
    pp: pd.DataFrame,
    grouping: Grouping,
    support: pd.Series,
    ehcp: pd.Series,
    pupils: pd.Series,
    fsm: pd.Series,
    notes: list[list[str]],
) -> pd.DataFrame:
    frame = _tidy_headers(pp)
    schools = pd.DataFrame(
        {
            c.URN: grouping.schools[c.URN].astype("int64"),
            c.SCHOOL_NAME: frame[DFE_NAME].astype("str").str.strip(),
            c.PHASE: grouping.schools[c.PHASE].astype("str"),
            c.CLUSTER_ID: grouping.schools[c.CLUSTER_ID].astype("str"),
            c.PUPILS: pupils.astype(float),
            c.FSM: fsm.astype("int64"),
            c.SEN_SUPPORT: support.astype("int64"),
            c.EHCP: ehcp.astype("int64"),
            c.DATA_NOTE: pd.Series(["; ".join(n) for n in notes], index=pp.index, dtype="str"),
        },
        index=pp.index,
    )
    return schools[list(SCHOOL_COLUMNS)]


def _sorted_schools(schools: pd.DataFrame, clusters: pd.DataFrame) -> pd.DataFrame:
    """Cluster by cluster (in the clusters' order), lead school first, then by name."""
    order = {cid: i for i, cid in enumerate(clusters[c.CLUSTER_ID])}
    key = schools[c.CLUSTER_ID].map(order)
    not_lead = ~schools[c.URN].isin(clusters[c.LEAD_URN])
    return (
        schools.assign(_k=key, _l=not_lead)
        .sort_values(["_k", "_l", c.SCHOOL_NAME, c.URN], kind="stable")
        .drop(columns=["_k", "_l"])
        .reset_index(drop=True)
    )


class NorfolkSample(NamedTuple):
    schools: pd.DataFrame
    clusters: pd.DataFrame
    sen_matches: pd.DataFrame  # per school: how its SEN counts were found


def norfolk_sample(data_dir: str | Path) -> NorfolkSample:
    """The shipped sample: Norfolk's 421 schools in clusters, contract-shaped."""
    data_dir = Path(data_dir)
    pp = read_pupil_premium(data_dir / NORFOLK_PUPIL_PREMIUM)
    sen = read_sen(data_dir / NORFOLK_SEN)
    grouping = group_into_clusters(
        pp, max_clusters=NORFOLK_MAX_CLUSTERS, catholic_cluster=True, id_format="C{n:02d}"
    )
    pupils, fsm, notes = pupils_and_fsm(pp)
    names = _tidy_headers(pp)[DFE_NAME]
    support, ehcp, matches = norfolk_sen(grouping.schools[c.PHASE], pupils, names, sen, notes)
    schools = _schools_frame(pp, grouping, support, ehcp, pupils, fsm, notes)

    clusters = grouping.clusters
    ids = clusters[c.CLUSTER_ID].tolist()
    clusters = clusters.assign(
        **{c.BASELINE: baselines(ids, schools[c.CLUSTER_ID], schools[c.PUPILS])}
    )
    clusters = clusters[list(CLUSTER_COLUMNS)].reset_index(drop=True)
    matches = matches.assign(**{c.URN: schools[c.URN], c.SCHOOL_NAME: schools[c.SCHOOL_NAME]})
    return NorfolkSample(_sorted_schools(schools, clusters), clusters, matches)


def national_sample(path: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every school of a DfE pupil premium file (e.g. all of England) in clusters.

    Clusters per local authority (Cluster ID ``<LA code>-<nn>``, no cluster limit, no
    Catholic cluster); SEN counts estimated at England rates (12.1% SEN support, 3.3%
    EHCP) and flagged "SEN counts estimated"; each LA's clusters share a baseline of
    £1,500,000 by the Norfolk method.  Contract-shaped (schools, clusters).
    """
    pp = read_pupil_premium(path)
    grouping = group_into_clusters(pp)
    pupils, fsm, notes = pupils_and_fsm(pp)
    support, ehcp = england_sen(pupils, notes)
    schools = _schools_frame(pp, grouping, support, ehcp, pupils, fsm, notes)

    clusters = grouping.clusters
    la_of_cluster = dict(zip(clusters[c.CLUSTER_ID], clusters["LA"], strict=True))
    school_la = schools[c.CLUSTER_ID].map(la_of_cluster)
    baseline = pd.Series(0, index=clusters.index, dtype="int64")
    for la, idx in clusters.groupby("LA", sort=True).groups.items():
        ids = clusters.loc[idx, c.CLUSTER_ID].tolist()
        in_la = school_la == la
        baseline[idx] = baselines(
            ids, schools.loc[in_la, c.CLUSTER_ID], schools.loc[in_la, c.PUPILS]
        )
    clusters = clusters.assign(**{c.BASELINE: baseline})[list(CLUSTER_COLUMNS)]
    return _sorted_schools(schools, clusters), clusters.reset_index(drop=True)


# ---------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------


def to_csv_text(frame: pd.DataFrame) -> str:
    """CSV text, deterministic: no index, "\\n" line ends, pupils without a needless ".0"."""
    out = frame.copy()
    if c.PUPILS in out.columns:
        out[c.PUPILS] = out[c.PUPILS].map(_format_number)
    return out.to_csv(index=False, lineterminator="\n")


def write_sample(data_dir: str | Path, out_dir: str | Path) -> NorfolkSample:
    sample = norfolk_sample(data_dir)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, frame in (("schools.csv", sample.schools), ("clusters.csv", sample.clusters)):
        (out_dir / name).write_bytes(to_csv_text(frame).encode("utf-8"))
    return sample


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m xlfund.sample.build",
        description="Derive the illustrative Norfolk sample (schools.csv, clusters.csv) "
        "from public DfE data.",
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=Path("../shared/data"),
        help="folder with the DfE CSVs (default: ../shared/data)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent,
        help="where to write schools.csv and clusters.csv "
        "(default: the xlfund/sample package folder)",
    )
    args = parser.parse_args(argv)
    if not (args.data / NORFOLK_PUPIL_PREMIUM).is_file():
        parser.error(f"{args.data / NORFOLK_PUPIL_PREMIUM} not found (use --data)")
    sample = write_sample(args.data, args.out)
    schools, clusters = sample.schools, sample.clusters
    sizes = schools.groupby(c.CLUSTER_ID).size()
    how = sample.sen_matches["Match"].value_counts()
    print(
        f"{len(schools)} schools in {len(clusters)} clusters "
        f"({sizes.min()}-{sizes.max()} schools each); SEN matched by name: "
        f"{how.get('exact', 0)} exact + {how.get('normalised', 0)} normalised, "
        f"{how.get('', 0)} estimated; baselines total £{clusters[c.BASELINE].sum():,}"
    )
    print(f"wrote {args.out / 'schools.csv'} and {args.out / 'clusters.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
