"""fitting.votes: counting rules, Dawid-Skene (against crowd-kit 1.4), the A/B study, agreement
and the paper's rejection table, on hand-made votes whose answers are worked out in comments."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fitting.votes import (
    Vote,
    VoteTable,
    ab_results,
    dawid_skene,
    exclude_items,
    fleiss_kappa,
    k_of_n,
    majority,
    percent_agreement,
    rejection_table,
    unanimous,
    wilson_interval,
)

REFERENCE = Path(__file__).parent / "data" / "votes" / "dawid_skene_reference.json"

ACC, REJ = "accept", "reject"


def _votes(per_item: dict[int, str]) -> list[Vote]:
    """Votes from ``{item: "AAR"}`` (A accept, R reject), workers numbered 0.. per item."""
    return [
        (item, worker, ACC if answer == "A" else REJ)
        for item, answers in per_item.items()
        for worker, answer in enumerate(answers)
    ]


# item: its votes                 unanimous 3   2 of 3 (share >= 2/3)   majority
#  1: A A A                       accepted      accepted                accepted
#  2: A A R                       rejected      accepted (2/3)          accepted
#  3: A R R                       rejected      rejected (1/3)          rejected
#  4: A A                         incomplete    incomplete              accepted
#  5: A R A R                     rejected      rejected (2/4 < 2/3)    tied
#  6: A A A A                     accepted      accepted                accepted
#  7: A A A A R                   rejected      accepted (4/5)          accepted
#  8: R                           incomplete    incomplete              rejected
RULE_VOTES = _votes({1: "AAA", 2: "AAR", 3: "ARR", 4: "AA", 5: "ARAR", 6: "AAAA", 7: "AAAAR", 8: "R"})


def test_unanimous_is_the_papers_3_of_3() -> None:
    result = unanimous(RULE_VOTES)
    assert result.rule == "unanimous 3"
    assert result.item_ids.tolist() == [1, 2, 3, 4, 5, 6, 7, 8]
    assert result.n_votes.tolist() == [3, 3, 3, 2, 4, 4, 5, 1]
    assert result.n_accept.tolist() == [3, 2, 1, 2, 2, 4, 4, 0]
    assert result.accepted_ids.tolist() == [1, 6]
    assert result.incomplete_ids.tolist() == [4, 8]
    assert result.rejected_ids.tolist() == [2, 3, 5, 7]
    assert result.tied_ids.tolist() == []


def test_k_of_n_holds_larger_items_to_the_same_share() -> None:
    result = k_of_n(RULE_VOTES, k=2, n=3)
    assert result.rule == "2 of 3"
    assert result.accepted_ids.tolist() == [1, 2, 6, 7]
    assert result.incomplete_ids.tolist() == [4, 8]
    assert result.rejected_ids.tolist() == [3, 5]
    # k == n is unanimity; 1 of 3 accepts any complete item with an accept.
    assert k_of_n(RULE_VOTES, k=3, n=3).accepted_ids.tolist() == [1, 6]
    assert k_of_n(RULE_VOTES, k=1, n=3).accepted_ids.tolist() == [1, 2, 3, 5, 6, 7]
    with pytest.raises(ValueError, match="1 <= k <= n"):
        k_of_n(RULE_VOTES, k=4, n=3)


def test_majority_reports_ties_apart() -> None:
    result = majority(RULE_VOTES)
    assert result.accepted_ids.tolist() == [1, 2, 4, 6, 7]
    assert result.tied_ids.tolist() == [5]
    assert result.rejected_ids.tolist() == [3, 8]
    assert result.incomplete_ids.tolist() == []
    assert majority(RULE_VOTES, need=3).incomplete_ids.tolist() == [4, 8]


def test_rejection_table_has_the_papers_columns() -> None:
    # Complete items (3+ votes): 1, 2, 3, 5, 6, 7 -> initial 6; unanimous accepts 1 and 6 -> final 2,
    # rejection 1 - 2/6 = 2/3; 2 of 3 accepts 1, 2, 6, 7 -> 4, rejection 1 - 4/6 = 1/3.
    row = rejection_table(RULE_VOTES)
    assert (row.need, row.k, row.initial, row.final, row.final_lenient, row.incomplete) == (3, 2, 6, 2, 4, 2)
    assert row.rejection_rate == pytest.approx(2 / 3)
    assert row.rejection_rate_lenient == pytest.approx(1 / 3)
    # Gold items dropped first: without 6 and 7, initial 4, final 1, lenient 2.
    row = rejection_table(exclude_items(RULE_VOTES, [6, 7]))
    assert (row.initial, row.final, row.final_lenient) == (4, 1, 2)
    assert row.rejection_rate == pytest.approx(3 / 4)
    assert math.isnan(rejection_table(_votes({1: "AA"})).rejection_rate)


def test_exclude_items_keeps_the_rest_in_order() -> None:
    kept = exclude_items(RULE_VOTES, {2, 5, 99})
    assert kept.records() == [v for v in RULE_VOTES if v[0] not in (2, 5)]
    assert len(exclude_items(RULE_VOTES, [])) == len(RULE_VOTES)


def test_votes_are_never_modified() -> None:
    items = np.array([1, 1, 2])
    table = VoteTable.from_arrays(items, [7, 8, 7], [ACC, REJ, ACC])
    items[0] = 99  # the caller's array is not the table's
    assert table.item_ids.tolist() == [1, 1, 2]
    before = table.records()
    for aggregate in (unanimous, majority, k_of_n, dawid_skene, rejection_table, percent_agreement):
        aggregate(table)
    assert table.records() == before
    with pytest.raises(ValueError, match="read-only"):
        table.labels[0] = REJ


def test_the_votes_are_checked() -> None:
    with pytest.raises(ValueError, match="worker 7 voted more than once on item 2"):
        unanimous([(1, 7, ACC), (2, 7, ACC), (2, 8, REJ), (2, 7, REJ)])
    with pytest.raises(ValueError, match=r"labels \['a'\] outside"):
        majority([(1, 7, ACC), (1, 8, "a")])
    with pytest.raises(ValueError, match=r"labels \['accept'\] outside \('a', 'b'\)"):
        ab_results([(1, 7, ACC)])
    with pytest.raises(ValueError, match=r"got item_ids \(2,\), worker_ids \(2,\), labels \(1,\)"):
        VoteTable.from_arrays([1, 2], [3, 4], [ACC])
    empty = unanimous([])
    assert empty.item_ids.tolist() == []
    assert empty.accepted.tolist() == []


# --------------------------------------------------------------------------------- Dawid-Skene


def _reference() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(REFERENCE.read_text())
    return data


@pytest.mark.parametrize("run", ["default", "converged"])
def test_dawid_skene_follows_crowd_kit_iteration_for_iteration(run: str) -> None:
    """crowd-kit 1.4.2's DawidSkene on a simulated campaign (scripts/votes_reference.py): 1,204 votes,
    300 items, 25 workers. ``default`` stopped on its own rule after 36 iterations, ``converged``
    ran 2,000. Run as many iterations, the posteriors agree to 1e-10 (crowd-kit floors them there)."""
    ref = _reference()
    expected = ref["runs"][run]
    # tol 0: no early stop, exactly crowd-kit's number of iterations.
    result = dawid_skene([tuple(v) for v in ref["votes"]], max_iter=expected["iterations"], tol=0.0)
    assert result.n_iter == expected["iterations"]
    assert result.labels == ("accept", "reject") == tuple(ref["labels"])
    assert result.item_ids.tolist() == expected["items"]
    np.testing.assert_allclose(result.posteriors, expected["posteriors"], rtol=0, atol=1e-9)
    assert result.most_probable().tolist() == expected["most_probable"]
    np.testing.assert_allclose(result.class_priors, expected["class_priors"], rtol=0, atol=1e-12)
    workers = {w: i for i, w in enumerate(result.worker_ids.tolist())}
    labels = list(result.labels)
    for worker, given, if_accept, if_reject in expected["confusions"]:
        mine = result.confusions[workers[worker], :, labels.index(given)]
        np.testing.assert_allclose(mine, [if_accept, if_reject], rtol=0, atol=1e-9)


def test_dawid_skene_converges_to_crowd_kits_fixed_point() -> None:
    ref = _reference()
    expected = ref["runs"]["converged"]
    result = dawid_skene([tuple(v) for v in ref["votes"]], max_iter=1000, tol=1e-9)
    assert result.converged
    assert result.n_iter < 1000
    np.testing.assert_allclose(result.posteriors, expected["posteriors"], rtol=0, atol=1e-6)
    assert result.most_probable().tolist() == expected["most_probable"]
    # EM never lowers the evidence lower bound; the rows are distributions.
    assert np.all(np.diff(result.lower_bounds) >= -1e-12)
    np.testing.assert_allclose(result.posteriors.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(result.confusions.sum(axis=2), 1.0, rtol=0, atol=1e-12)
    # On that campaign's own truth it does better than the majority (0.94 against 0.88).
    truth = dict(ref["truth"])
    good = np.array([truth[item] == ACC for item in result.item_ids.tolist()])
    assert np.mean(result.accepted(0.5) == good) > np.mean(majority(ref["votes"]).accepted == good) + 0.03


def test_dawid_skene_does_not_depend_on_ids_or_order() -> None:
    ref = _reference()
    votes = [tuple(v) for v in ref["votes"]]
    base = dawid_skene(votes, max_iter=40, tol=0.0)
    rng = np.random.default_rng(3)
    shuffled = [votes[i] for i in rng.permutation(len(votes))]
    # Ids mapped by an increasing function keep their order, so rows line up one to one.
    moved = dawid_skene([(10 * i + 1, w - 50, label) for i, w, label in shuffled], max_iter=40, tol=0.0)
    np.testing.assert_allclose(moved.posteriors, base.posteriors, rtol=0, atol=1e-12)
    np.testing.assert_allclose(moved.confusions, base.confusions, rtol=0, atol=1e-12)


def _poor_crowd(seed: int, n_items: int = 400, per_item: int = 5) -> tuple[VoteTable, np.ndarray]:
    """A crowd mostly of poor workers, the truth known: 3 careful workers (accept a good fit 95%
    of the time, reject a bad one 90%), 6 lenient ones (95%, 25%), 3 who accept everything and 3
    random clickers; 70% of fits good; 5 distinct workers per item."""
    rng = np.random.default_rng(seed)
    kinds = [(0.95, 0.90)] * 3 + [(0.95, 0.25)] * 6 + [(1.0, 0.0)] * 3 + [(0.5, 0.5)] * 3
    sensitivity = np.array([k[0] for k in kinds])
    specificity = np.array([k[1] for k in kinds])
    good = rng.random(n_items) < 0.7
    items = np.repeat(np.arange(n_items), per_item)
    workers = np.concatenate([rng.choice(len(kinds), per_item, replace=False) for _ in range(n_items)])
    p_accept = np.where(good[items], sensitivity[workers], 1 - specificity[workers])
    labels = np.where(rng.random(items.size) < p_accept, ACC, REJ)
    return VoteTable.from_arrays(items, workers, labels), good


def test_dawid_skene_beats_majority_on_a_poor_crowd() -> None:
    votes, good = _poor_crowd(seed=0)
    ds = dawid_skene(votes)
    mv = majority(votes)
    ds_accuracy = float(np.mean(ds.accepted(0.5) == good))
    mv_accuracy = float(np.mean(mv.accepted == good))
    # The majority follows the lenient and always-accept workers (0.725 here); DS learns who they
    # are (0.865): their estimated P(accept | bad fit) is high, the careful workers' low.
    assert ds_accuracy > mv_accuracy + 0.05
    careful, always = ds.confusions[:3, 1, 0], ds.confusions[9:12, 1, 0]
    assert careful.max() < 0.3
    assert always.min() > 0.9


def test_dawid_skene_smoothing_and_checks() -> None:
    # One worker who always accepts: maximum likelihood makes their P(reject | any truth) ~0;
    # a pseudo-count of 1 per cell keeps it away from 0.
    votes = [(1, 1, ACC), (1, 2, ACC), (2, 1, ACC), (2, 2, REJ), (3, 1, ACC), (3, 2, REJ)]
    plain = dawid_skene(votes, max_iter=5, tol=0.0)
    smooth = dawid_skene(votes, max_iter=5, tol=0.0, smoothing=1.0)
    assert plain.confusions[0, :, 1].max() < 1e-6
    assert smooth.confusions[0, :, 1].min() > 0.1
    with pytest.raises(ValueError, match="no votes"):
        dawid_skene([])
    with pytest.raises(ValueError, match="smoothing >= 0"):
        dawid_skene(votes, smoothing=-1.0)
    with pytest.raises(ValueError, match="outside"):
        dawid_skene([(1, 1, "a")])


# ----------------------------------------------------------------------------------------- A/B


def test_wilson_interval_matches_newcombe_1998() -> None:
    # Newcombe (1998), Statistics in Medicine 17:857, table I, method 3 (score, no correction).
    for count, total, low, high in ((81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605),
                                    (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718)):  # fmt: skip
        got = wilson_interval(count, total)
        assert got == pytest.approx((low, high), abs=5e-5), (count, total)
    assert wilson_interval(29, 29)[1] == 1.0
    with pytest.raises(ValueError, match="total > 0"):
        wilson_interval(1, 0)


def test_ab_results_shares_of_items_and_of_votes() -> None:
    # item: votes     winner       a  b
    #  1: a a b       A            2  1
    #  2: b b b       B            0  3
    #  3: a b         tie          1  1
    #  4: a a a       A            3  0
    #  5: a           A            1  0
    # items: A 3/5, B 1/5, ties 1/5; votes: a 7/12, b 5/12.
    letters = {1: "aab", 2: "bbb", 3: "ab", 4: "aaa", 5: "a"}
    votes = [(item, w, answer) for item, answers in letters.items() for w, answer in enumerate(answers)]
    result = ab_results(votes)
    assert (result.n_items, result.n_votes) == (5, 12)
    assert (result.a.items.count, result.b.items.count, result.ties.count) == (3, 1, 1)
    assert (result.a.votes.count, result.b.votes.count) == (7, 5)
    assert result.a.items.share == pytest.approx(0.6)
    assert result.b.votes.share == pytest.approx(5 / 12)
    assert result.tied_item_ids.tolist() == [3]
    # 3 of 5 by hand: centre (0.6 + 1.9208/5) / (1 + 3.8415/5) = 0.5565, half-width
    # 1.96 / 1.7683 * sqrt(0.24/5 + 3.8415/100) = 0.3258 -> (0.2307, 0.8824).
    assert (result.a.items.low, result.a.items.high) == pytest.approx((0.2307, 0.8824), abs=1e-4)
    assert (result.a.votes.low, result.a.votes.high) == wilson_interval(7, 12)


# ----------------------------------------------------------------------------------- agreement

# The worked example of Fleiss' kappa on Wikipedia: 10 items, 14 raters each, 5 categories.
# Column sums 20, 28, 39, 21, 32 of 140 -> P_e = (400 + 784 + 1521 + 441 + 1024) / 140^2 = 4170/19600;
# sum of squared cells 828 -> P-bar = (828 - 140) / (10 * 14 * 13) = 688/1820; kappa 0.210.
WIKIPEDIA_TABLE = [
    [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
]  # fmt: skip


def _table_votes(table: list[list[int]]) -> list[Vote]:
    votes: list[Vote] = []
    for item, row in enumerate(table):
        answers = [f"c{j}" for j, count in enumerate(row, start=1) for _ in range(count)]
        votes += [(item, worker, answer) for worker, answer in enumerate(answers)]
    return votes


def test_fleiss_kappa_on_the_textbook_table() -> None:
    result = fleiss_kappa(_table_votes(WIKIPEDIA_TABLE))
    assert result.observed == pytest.approx(688 / 1820, abs=1e-12)
    assert result.expected == pytest.approx(4170 / 19600, abs=1e-12)
    assert round(result.kappa, 3) == 0.210
    assert (result.n_items, result.n_excluded, result.raters) == (10, 0, 14)
    # Equal counts: both ways of handling unequal counts give Fleiss' own statistic.
    assert fleiss_kappa(_table_votes(WIKIPEDIA_TABLE), unequal="modal") == result
    assert percent_agreement(_table_votes(WIKIPEDIA_TABLE)) == pytest.approx(688 / 1820, abs=1e-12)


# item: votes     n   pairwise agreement sum n_j(n_j-1) / n(n-1)
#  1: A A A       3   6/6 = 1
#  2: A A R       3   2/6 = 1/3
#  3: R R R       3   6/6 = 1
#  4: A R         2   0/2 = 0
#  5: A A A R     4   6/12 = 1/2
#  6: A           1   (one vote: left out)
# generalised, items 1-5: P-bar = (1 + 1/3 + 1 + 0 + 1/2) / 5 = 17/30; accepts 9 and rejects 6 of 15
#   -> P_e = (3/5)^2 + (2/5)^2 = 13/25; kappa = (17/30 - 13/25) / (12/25) = 7/72.
# modal (3 votes, items 1-3): P-bar = 7/9; accepts 5, rejects 4 of 9 -> P_e = 41/81;
#   kappa = (7/9 - 41/81) / (40/81) = 22/40 = 11/20.
UNEQUAL = _votes({1: "AAA", 2: "AAR", 3: "RRR", 4: "AR", 5: "AAAR", 6: "A"})


def test_fleiss_kappa_with_unequal_counts() -> None:
    general = fleiss_kappa(UNEQUAL)
    assert (general.observed, general.expected) == pytest.approx((17 / 30, 13 / 25), abs=1e-12)
    assert general.kappa == pytest.approx(7 / 72, abs=1e-12)
    assert (general.n_items, general.n_excluded, general.raters) == (5, 1, None)
    modal = fleiss_kappa(UNEQUAL, unequal="modal")
    assert (modal.observed, modal.expected) == pytest.approx((7 / 9, 41 / 81), abs=1e-12)
    assert modal.kappa == pytest.approx(11 / 20, abs=1e-12)
    assert (modal.n_items, modal.n_excluded, modal.raters) == (3, 3, 3)
    assert percent_agreement(UNEQUAL) == pytest.approx(17 / 30, abs=1e-12)
    # Two counts equally common (2 and 3 votes, twice each): the larger is used.
    tie = fleiss_kappa(_votes({1: "AA", 2: "AR", 3: "AAR", 4: "RRR"}), unequal="modal")
    assert (tie.raters, tie.n_items) == (3, 2)


def test_kappa_is_undefined_when_every_vote_agrees() -> None:
    # Every vote an accept: P_e = 1, so kappa is 0/0 while agreement is perfect.
    same = _votes({1: "AAA", 2: "AAA"})
    assert math.isnan(fleiss_kappa(same).kappa)
    assert percent_agreement(same) == 1.0
    with pytest.raises(ValueError, match="at least 2 votes"):
        fleiss_kappa(_votes({1: "A", 2: "R"}))
