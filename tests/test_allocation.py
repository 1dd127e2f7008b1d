"""The allocation model as worked cases (computed by hand) and invariants (hypothesis)."""

from fractions import Fraction

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xlfund import contract as c
from xlfund.allocation import allocate
from xlfund.errors import InputError
from xlfund.parameters import Parameters


def frame(rows, columns):
    return pd.DataFrame(rows, columns=columns)


SCHOOL_COLUMNS = [c.URN, c.SCHOOL_NAME, c.CLUSTER_ID, c.PUPILS, c.FSM, c.SEN_SUPPORT, c.EHCP]

# Worked example (docs/method.md): total £1,000; 75% delegated = £750; £50 per school.
# Rest £600 by weight 40/20/30/10: pots pupils £240, FSM £120, SEN support £180, EHCP £60.
WORKED_SCHOOLS = frame(
    [
        [100001, "Alder Primary", "X", 100, 10, 5, 1],
        [100002, "Birch High", "X", 50, 20, 10, 0],
        [100003, "Cedar Primary", "Y", 50, 10, 5, 1],
    ],
    SCHOOL_COLUMNS,
)
WORKED_CLUSTERS = frame([["X", "Ex cluster", 400], ["Y", "Why cluster", 300]],
                        [c.CLUSTER_ID, c.CLUSTER_NAME, c.BASELINE])
WORKED_PARAMS = Parameters(total_funding=1000, lump_sum_per_school=50, protection_floor=None)


def row(result, cluster_id):
    table = result.clusters.set_index(c.CLUSTER_ID)
    return table.loc[cluster_id]


def test_worked_example_by_hand():
    result = allocate(WORKED_SCHOOLS, WORKED_CLUSTERS, WORKED_PARAMS)
    assert (result.pots.delegated, result.pots.retained) == (750, 250)
    x, y = row(result, "X"), row(result, "Y")
    # X: pupils 150/200 of 240 = 180; FSM 30/40 of 120 = 90; SEN 15/20 of 180 = 135;
    #    EHCP 1/2 of 60 = 30; lump 2 x 50 = 100; total 535.
    assert [x[k] for k in c.ELEMENT_COLUMNS[:-1]] == [100, 180, 90, 135, 30]
    assert x[c.ANNUAL_GBP] == 535
    # Y: 60 + 30 + 45 + 30 + 50 = 215
    assert [y[k] for k in c.ELEMENT_COLUMNS[:-1]] == [50, 60, 30, 45, 30]
    assert y[c.ANNUAL_GBP] == 215
    # Sep-Mar: 750 x 7/12 = 437.5 -> 438; X 312.08, Y 125.42: the spare pound to Y
    assert (x[c.PART_YEAR_GBP], y[c.PART_YEAR_GBP]) == (312, 126)
    # Alder: 50 + 120 + 30 + 45 + 30 = 275; Birch: 50 + 60 + 60 + 90 + 0 = 260
    notional = dict(zip(result.schools[c.URN], result.schools["Notional allocation (£)"],
                        strict=True))
    assert notional == {"100001": 275, "100002": 260, "100003": 215}
    # 312 over 7 months: 44.57 -> four payments of 45 then three of 44
    sched = result.schedule.set_index(c.CLUSTER_ID).loc["X"]
    assert list(sched.iloc[1:8]) == [45, 45, 45, 45, 44, 44, 44]
    assert sched["Total (£)"] == 312


def test_protection_by_hand():
    # Floor -10%: X floor 360 (formula 535, gain 175), Y floor 270 (formula 215, short 55).
    # Y is lifted by 55; X pays 55 (55/175 of its gain). Total still 750.
    params = WORKED_PARAMS.replace(protection_floor=Fraction(-1, 10))
    result = allocate(WORKED_SCHOOLS, WORKED_CLUSTERS, params)
    x, y = row(result, "X"), row(result, "Y")
    assert (x[c.PROTECTION_GBP], x[c.ANNUAL_GBP]) == (-55, 480)
    assert (y[c.PROTECTION_GBP], y[c.ANNUAL_GBP]) == (55, 270)


def test_protection_that_cannot_be_afforded_is_explained():
    clusters = WORKED_CLUSTERS.assign(**{c.BASELINE: [1000, 1000]})
    params = WORKED_PARAMS.replace(protection_floor=Fraction(0))
    with pytest.raises(InputError, match="protection_floor"):
        allocate(WORKED_SCHOOLS, clusters, params)


def test_contingency_is_held_back_from_the_delegated_pot():
    params = WORKED_PARAMS.replace(contingency_share=Fraction(1, 10))
    result = allocate(WORKED_SCHOOLS, WORKED_CLUSTERS, params)
    assert result.pots.contingency == 75 and result.pots.distributable == 675
    assert result.clusters[c.ANNUAL_GBP].sum() == 675


def test_equal_clusters_share_residue_deterministically():
    schools = frame([[100000 + i, f"S{i}", cid, 10, 1, 1, 1] for i, cid in
                     enumerate(["B", "A", "C"])], SCHOOL_COLUMNS)
    clusters = frame([["B", "b", None], ["A", "a", None], ["C", "cc", None]],
                     [c.CLUSTER_ID, c.CLUSTER_NAME, c.BASELINE])
    params = Parameters(total_funding=400, delegated_share=Fraction(1, 4), lump_sum_per_school=0)
    result = allocate(schools, clusters, params)
    # 100 over three identical clusters: 33.33 each; the spare pound goes to 'A'
    assert result.annual_by_cluster() == {"B": 33, "A": 34, "C": 33}


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda s, cl: s.assign(**{c.CLUSTER_ID: ["X", "X", "Z"]}),
         "Cedar Primary (URN 100003) is in cluster 'Z'"),
        (lambda s, cl: s.assign(**{c.PUPILS: [100, -5, 50]}),
         "Birch High (URN 100002): 'Pupils on roll' is negative"),
        (lambda s, cl: s.assign(**{c.FSM: [10, "lots", 10]}),
         "Birch High (URN 100002): 'Ever 6 FSM pupils' is 'lots', not a number"),
        (lambda s, cl: s.assign(**{c.URN: [100001, 100001, 100003]}),
         "URN 100001 appears twice"),
        (lambda s, cl: s.assign(**{c.CLUSTER_ID: ["X", "X", "X"]}),
         "Cluster 'Y' (Why cluster) has no schools"),
    ],
)
def test_bad_input_names_the_school_or_cluster(change, expected):
    schools = change(WORKED_SCHOOLS.copy(), WORKED_CLUSTERS)
    with pytest.raises(InputError) as info:
        allocate(schools, WORKED_CLUSTERS, WORKED_PARAMS)
    assert any(expected in p for p in info.value.problems), info.value.problems


def test_weights_not_adding_to_one_name_the_weights():
    with pytest.raises(InputError, match="factor weights add up to 110"):
        WORKED_PARAMS.replace(weight_pupils=Fraction(1, 2))


def test_empty_pot_and_oversized_lump_sums_are_explained():
    with pytest.raises(InputError, match="total_funding"):
        WORKED_PARAMS.replace(total_funding=0)
    with pytest.raises(InputError, match="lump_sum_per_school"):
        allocate(WORKED_SCHOOLS, WORKED_CLUSTERS, WORKED_PARAMS.replace(lump_sum_per_school=300))


def test_factor_with_weight_but_no_pupils_is_explained():
    schools = WORKED_SCHOOLS.assign(**{c.EHCP: [0, 0, 0]})
    with pytest.raises(InputError, match="weight_ehcp"):
        allocate(schools, WORKED_CLUSTERS, WORKED_PARAMS)


# ---------------------------------------------------------------- properties

counts = st.integers(0, 2000)


@st.composite
def scenarios(draw):
    n_clusters = draw(st.integers(1, 8))
    ids = [f"K{i:02d}" for i in range(n_clusters)]
    rows = []
    for i, cid in enumerate(ids + draw(st.lists(st.sampled_from(ids), max_size=25))):
        pupils = draw(counts)
        rows.append([200000 + i, f"School {i}", cid, pupils + draw(st.sampled_from([0, 0.5])),
                     draw(st.integers(0, pupils)), draw(st.integers(0, pupils)),
                     draw(st.integers(0, pupils))])
    schools = frame(rows, SCHOOL_COLUMNS)
    # make every factor non-empty so every weight can be used
    schools.loc[0, [c.PUPILS, c.FSM, c.SEN_SUPPORT, c.EHCP]] = [10, 3, 2, 1]
    baselines = draw(st.lists(st.one_of(st.none(), st.integers(0, 50_000)),
                              min_size=n_clusters, max_size=n_clusters))
    clusters = frame([[cid, f"Cluster {cid}", b] for cid, b in zip(ids, baselines, strict=True)],
                     [c.CLUSTER_ID, c.CLUSTER_NAME, c.BASELINE])
    weights = draw(st.lists(st.integers(0, 100), min_size=4, max_size=4).filter(sum))
    w = [Fraction(x, sum(weights)) for x in weights]
    params = Parameters(
        total_funding=draw(st.integers(50_000, 5_000_000)),
        delegated_share=draw(st.fractions(Fraction(1, 2), 1, max_denominator=100)),
        contingency_share=draw(st.sampled_from([Fraction(0), Fraction(1, 20)])),
        lump_sum_per_school=draw(st.integers(0, 500)),
        weight_pupils=w[0], weight_fsm=w[1], weight_sen_support=w[2], weight_ehcp=w[3],
        protection_floor=draw(st.sampled_from([None, Fraction(-3, 200), Fraction(-1, 10)])),
    )
    return schools, clusters, params


def try_allocate(schools, clusters, params):
    try:
        return allocate(schools, clusters, params)
    except InputError as err:  # unaffordable protection is a legitimate refusal
        assert "protection" in str(err)
        return None


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_everything_adds_up_exactly(scenario):
    result = try_allocate(*scenario)
    if result is None:
        return
    table, pots = result.clusters, result.pots
    assert pots.delegated + pots.retained == pots.total
    assert table[c.ANNUAL_GBP].sum() == pots.distributable
    assert table[c.PART_YEAR_GBP].sum() == pots.part_year_total
    elements = table[list(c.ELEMENT_COLUMNS)].sum(axis=1)
    assert (elements == table[c.ANNUAL_GBP]).all()
    assert (table[c.FORMULA_GBP] + table[c.PROTECTION_GBP] == table[c.ANNUAL_GBP]).all()
    assert table[c.PROTECTION_GBP].sum() == 0  # protection moves money, it adds none
    if scenario[2].protection_floor is None:
        assert (table[c.PROTECTION_GBP] == 0).all()
    notional = result.schools.groupby(c.CLUSTER_ID)["Notional allocation (£)"].sum()
    assert notional.to_dict() == result.annual_by_cluster()
    assert result.schedule["Total (£)"].tolist() == table[c.PART_YEAR_GBP].tolist()
    months = result.schedule.columns[2:-1]
    assert (result.schedule[months].sum(axis=1) == result.schedule["Total (£)"]).all()
    # rounding moves no cluster by a pound or more from its exact amount
    for cid, amount in result.annual_by_cluster().items():
        assert abs(amount - result.exact_annual[cid]) < 1


@settings(max_examples=60, deadline=None)
@given(scenarios(), st.randoms(use_true_random=False))
def test_row_order_does_not_matter(scenario, rnd):
    schools, clusters, params = scenario
    first = try_allocate(schools, clusters, params)
    if first is None:
        return
    shuffled_schools = schools.sample(frac=1, random_state=rnd.randint(0, 10**6))
    shuffled_clusters = clusters.sample(frac=1, random_state=rnd.randint(0, 10**6))
    second = allocate(shuffled_schools, shuffled_clusters, params)
    key = [c.CLUSTER_ID]
    assert (first.clusters.sort_values(key).reset_index(drop=True)
            .equals(second.clusters.sort_values(key).reset_index(drop=True)))


@settings(max_examples=80, deadline=None)
@given(scenarios(), st.integers(1, 500), st.data())
def test_more_pupils_never_means_less_money(scenario, extra, data):
    schools, clusters, params = scenario
    params = params.replace(protection_floor=None)
    before = allocate(schools, clusters, params)
    i = data.draw(st.integers(0, len(schools) - 1))
    column = data.draw(st.sampled_from([c.PUPILS, c.FSM, c.SEN_SUPPORT, c.EHCP]))
    more = schools.copy()
    more.loc[i, column] = more.loc[i, column] + extra
    if column != c.PUPILS:  # keep counts within pupils on roll
        more.loc[i, c.PUPILS] = more.loc[i, c.PUPILS] + extra
    after = allocate(more, clusters, params)
    cid = schools.loc[i, c.CLUSTER_ID]
    assert after.exact_annual[cid] >= before.exact_annual[cid]


def test_protected_cluster_never_published_below_its_floor():
    # floor -1.5%: Y's floor is 300 x 0.985 = 295.50, so at least £296 must be published
    clusters = WORKED_CLUSTERS.assign(**{c.BASELINE: [400, 300]})
    result = allocate(WORKED_SCHOOLS, clusters, WORKED_PARAMS.replace(
        protection_floor=Fraction(-3, 200)))
    assert row(result, "Y")[c.ANNUAL_GBP] >= 296
    assert result.clusters[c.ANNUAL_GBP].sum() == 750


def test_empty_clusters_table_is_explained():
    empty = WORKED_CLUSTERS.iloc[0:0]
    with pytest.raises(InputError, match="not in the Clusters table|has no clusters"):
        allocate(WORKED_SCHOOLS, empty, WORKED_PARAMS)


def test_on_cost_rate_by_hand():
    from xlfund.retained import LGPS_RATE, employer_on_cost_rate

    # £20,000 LGPS member: NI 13.8% x (20,000 - 7,696) = 1,697.952, less the 3.4% rebate
    # on 20,000 - 5,668 = 487.288, so 1,210.664; pension 17% = 3,400; total 4,610.664
    assert employer_on_cost_rate(20_000, LGPS_RATE) == Fraction(4_610_664, 1000) / 20_000
