"""Aggregation of crowd votes: pure functions over raw votes (numpy only, never Django).

A vote is ``(item_id, worker_id, label)``. Validation campaigns answer ``"accept"`` / ``"reject"``
about one fit, A/B campaigns ``"a"`` / ``"b"`` about a pair. Votes are facts and are never
modified: every function here reads them and returns a new, typed result, so any rule can be
re-applied to the same votes (or a subset) later. Gold items are the caller's to drop first
(:func:`exclude_items`); nothing here knows which items are gold.

Conventions, stated once:

- Every per-item array of a result is aligned with its ``item_ids``, ascending; per-worker arrays
  with ``worker_ids``, ascending.
- One worker votes at most once on an item (the database's constraint); a repeated
  ``(item, worker)`` pair is refused (``ValueError``) rather than counted twice.
- An item is *incomplete* under a rule when it has fewer votes than the rule needs; it is neither
  accepted nor rejected, and results report it apart.
- Everything is vectorised: ids are factorised once with ``np.unique(return_inverse=True)`` and
  counted with ``np.bincount``: on a million votes a counting rule takes about 0.1 s and 100
  Dawid-Skene iterations about 1 s (a shared 2-core machine).

Rules: :func:`unanimous` (the paper's publication rule, 3 of 3), :func:`k_of_n` (e.g. 2 of 3),
:func:`majority`, :func:`dawid_skene` (EM over per-worker confusion matrices). Reports:
:func:`ab_results` (the A/B study), :func:`fleiss_kappa`, :func:`percent_agreement`,
:func:`rejection_table` (the paper's Table 1 columns).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, TypeAlias

import numpy as np
from numpy.typing import ArrayLike, NDArray

ACCEPT = "accept"
REJECT = "reject"
A = "a"
B = "b"
VALIDATION_LABELS: tuple[str, str] = (ACCEPT, REJECT)
AB_LABELS: tuple[str, str] = (A, B)

#: The 0.975 quantile of the standard normal: two-sided 95% intervals.
Z95 = 1.959963984540054

#: Floor of probabilities before a logarithm (as crowd-kit's DawidSkene, so the two agree).
_EPS = 1e-10

Vote: TypeAlias = tuple[int, int, str]
IntArray: TypeAlias = NDArray[np.int64]
BoolArray: TypeAlias = NDArray[np.bool_]
FloatArray: TypeAlias = NDArray[np.float64]


# --------------------------------------------------------------------------------------- the votes


@dataclass(frozen=True, eq=False)
class VoteTable:
    """Votes as three read-only columns of one length ``N``: ``item_ids (N,)`` and
    ``worker_ids (N,)`` int64, ``labels (N,)`` str. Made from records
    (:meth:`from_records`) or columns (:meth:`from_arrays`); the arrays are copies, frozen, so no
    aggregation can modify the votes it was given."""

    item_ids: IntArray
    worker_ids: IntArray
    labels: NDArray[np.str_]

    def __post_init__(self) -> None:
        items = np.array(self.item_ids, dtype=np.int64)
        workers = np.array(self.worker_ids, dtype=np.int64)
        labels = np.array(self.labels, dtype=np.str_)
        if labels.size == 0:
            labels = labels.astype("<U1")  # an empty column of str, whatever it was made from
        if not (items.ndim == workers.ndim == labels.ndim == 1) or not (
            items.shape == workers.shape == labels.shape
        ):
            raise ValueError(
                "VoteTable: expected three (N,) columns of one length, got item_ids "
                f"{items.shape}, worker_ids {workers.shape}, labels {labels.shape}"
            )
        for name, column in (("item_ids", items), ("worker_ids", workers), ("labels", labels)):
            column.setflags(write=False)
            object.__setattr__(self, name, column)

    @classmethod
    def from_records(cls, votes: Iterable[Vote]) -> VoteTable:
        """From ``(item_id, worker_id, label)`` tuples."""
        rows = list(votes)
        if not rows:
            return cls.from_arrays([], [], [])
        items, workers, labels = zip(*rows, strict=True)
        return cls.from_arrays(items, workers, labels)

    @classmethod
    def from_arrays(cls, item_ids: ArrayLike, worker_ids: ArrayLike, labels: ArrayLike) -> VoteTable:
        """From three columns of one length (anything ``np.array`` takes)."""
        return cls(
            np.asarray(item_ids, dtype=np.int64),
            np.asarray(worker_ids, dtype=np.int64),
            np.asarray(labels, dtype=np.str_),
        )

    def __len__(self) -> int:
        return int(self.item_ids.shape[0])

    def records(self) -> list[Vote]:
        """The votes as ``(item_id, worker_id, label)`` tuples, in their order."""
        return list(zip(self.item_ids.tolist(), self.worker_ids.tolist(), self.labels.tolist(), strict=True))


#: What every function takes: a :class:`VoteTable` or ``(item_id, worker_id, label)`` tuples.
Votes: TypeAlias = VoteTable | Iterable[Vote]


def as_table(votes: Votes) -> VoteTable:
    """``votes`` as a :class:`VoteTable` (itself when it is one already)."""
    return votes if isinstance(votes, VoteTable) else VoteTable.from_records(votes)


def exclude_items(votes: Votes, gold_ids: Iterable[int]) -> VoteTable:
    """The votes less those on the items ``gold_ids`` (gold items, or any other set), order kept."""
    table = as_table(votes)
    drop = np.fromiter(gold_ids, dtype=np.int64)
    keep = ~np.isin(table.item_ids, drop)
    return VoteTable(table.item_ids[keep], table.worker_ids[keep], table.labels[keep])


@dataclass(frozen=True, eq=False)
class _Coded:
    """Votes factorised: per vote the index of its item, worker and label."""

    item_ids: IntArray  # (I,) ascending
    worker_ids: IntArray  # (W,) ascending
    labels: tuple[str, ...]  # (K,)
    item: NDArray[np.intp]  # (N,) into item_ids
    worker: NDArray[np.intp]  # (N,) into worker_ids
    label: NDArray[np.intp]  # (N,) into labels

    @property
    def n_votes(self) -> int:
        return int(self.item.shape[0])

    def counts(self) -> IntArray:
        """``(I, K)``: how many votes each item got of each label."""
        n_items, n_labels = self.item_ids.shape[0], len(self.labels)
        flat = np.bincount(self.item * n_labels + self.label, minlength=n_items * n_labels)
        return flat.reshape(n_items, n_labels).astype(np.int64)


def _code_labels(
    column: NDArray[np.str_], labels: Sequence[str] | None
) -> tuple[tuple[str, ...], NDArray[np.intp]]:
    """The label names and, per vote, the index of its label among them."""
    if labels is None:
        found, code = np.unique(column, return_inverse=True)
        return tuple(str(name) for name in found), code.astype(np.intp)
    names = tuple(labels)
    if not names or len(set(names)) != len(names):
        raise ValueError(f"labels: expected distinct names, got {names!r}")
    # A comparison per label: a few passes over the column, far cheaper than sorting strings.
    code = np.full(column.shape[0], -1, dtype=np.intp)
    for index, name in enumerate(names):
        code[column == name] = index
    if np.any(code < 0):
        unknown = sorted(str(name) for name in np.unique(column[code < 0]))
        raise ValueError(f"votes carry labels {unknown!r} outside {names!r}")
    return names, code


def _code(votes: Votes, labels: Sequence[str] | None) -> _Coded:
    """Factorise ``votes``; ``labels`` fixes the label order and refuses any other label (None:
    the labels found, sorted)."""
    table = as_table(votes)
    item_ids, item = np.unique(table.item_ids, return_inverse=True)
    worker_ids, worker = np.unique(table.worker_ids, return_inverse=True)
    names, label = _code_labels(table.labels, labels)
    n_workers = max(worker_ids.shape[0], 1)
    pair = np.sort(item.astype(np.int64) * n_workers + worker)
    repeated = np.flatnonzero(pair[1:] == pair[:-1])
    if repeated.shape[0]:
        twice = int(pair[repeated[0]])
        raise ValueError(
            f"worker {int(worker_ids[twice % n_workers])} voted more than once on item "
            f"{int(item_ids[twice // n_workers])}: one vote per worker and item"
        )
    return _Coded(
        item_ids.astype(np.int64), worker_ids.astype(np.int64), names, item.astype(np.intp),
        worker.astype(np.intp), label,
    )  # fmt: skip


# ---------------------------------------------------------------------------- counting rules


@dataclass(frozen=True, eq=False)
class RuleResult:
    """A counting rule's verdict per item (arrays ``(I,)`` aligned with ``item_ids``).

    ``accepted`` is False for incomplete and tied items; ``tied`` is only ever set by
    :func:`majority`. An item is rejected when it is complete, not accepted and not tied."""

    rule: str
    item_ids: IntArray
    n_votes: IntArray
    n_accept: IntArray
    accepted: BoolArray
    incomplete: BoolArray
    tied: BoolArray

    @property
    def rejected(self) -> BoolArray:
        out: BoolArray = ~(self.accepted | self.incomplete | self.tied)
        return out

    @property
    def accepted_ids(self) -> IntArray:
        return self.item_ids[self.accepted]

    @property
    def rejected_ids(self) -> IntArray:
        return self.item_ids[self.rejected]

    @property
    def incomplete_ids(self) -> IntArray:
        return self.item_ids[self.incomplete]

    @property
    def tied_ids(self) -> IntArray:
        return self.item_ids[self.tied]


def _validation_counts(votes: Votes) -> tuple[IntArray, IntArray, IntArray]:
    """``item_ids (I,)``, votes per item ``(I,)`` and accepts per item ``(I,)``."""
    coded = _code(votes, VALIDATION_LABELS)
    counts = coded.counts()
    return coded.item_ids, counts.sum(axis=1), counts[:, 0]


def k_of_n(votes: Votes, k: int = 2, n: int = 3) -> RuleResult:
    """Accept an item when at least ``k`` of its ``n`` votes accept (``k_of_n(votes, 2, 3)``: the
    lenient rule the paper quotes beside its 3 of 3).

    An item needs at least ``n`` votes (fewer: incomplete). One with ``m > n`` votes is held to the
    same share: accepted when ``accepts / m >= k / n`` (so 4 accepts of 5 pass 2 of 3, 3 of 5 pass,
    1 of 5 does not). With ``k == n`` this is :func:`unanimous`."""
    if not 1 <= k <= n:
        raise ValueError(f"k_of_n: expected 1 <= k <= n, got k={k}, n={n}")
    item_ids, n_votes, n_accept = _validation_counts(votes)
    incomplete = n_votes < n
    accepted = ~incomplete & (n_accept * n >= k * n_votes)
    rule = f"unanimous {n}" if k == n else f"{k} of {n}"
    return RuleResult(rule, item_ids, n_votes, n_accept, accepted, incomplete, np.zeros_like(accepted))


def unanimous(votes: Votes, need: int = 3) -> RuleResult:
    """The paper's publication rule: accept an item when it has at least ``need`` votes and every
    one of them accepts (3 of 3). Items with fewer votes are incomplete (not accepted)."""
    if need < 1:
        raise ValueError(f"unanimous: expected need >= 1, got {need}")
    return k_of_n(votes, k=need, n=need)


def majority(votes: Votes, need: int = 1) -> RuleResult:
    """Accept an item when more than half of its votes accept. Exactly half is a tie: not
    accepted, reported in ``tied``. Items with fewer than ``need`` votes are incomplete."""
    if need < 1:
        raise ValueError(f"majority: expected need >= 1, got {need}")
    item_ids, n_votes, n_accept = _validation_counts(votes)
    incomplete = n_votes < need
    accepted = ~incomplete & (2 * n_accept > n_votes)
    tied = ~incomplete & (2 * n_accept == n_votes)
    return RuleResult("majority", item_ids, n_votes, n_accept, accepted, incomplete, tied)


# -------------------------------------------------------------------------------- Dawid-Skene


@dataclass(frozen=True, eq=False)
class DawidSkeneResult:
    """What :func:`dawid_skene` estimated.

    - ``posteriors (I, K)``: P(true label = ``labels[k]`` | the votes) per item, rows sum to 1.
    - ``confusions (W, K, K)``: per worker, ``[w, true, given]`` = P(worker answers ``given`` |
      the truth is ``true``); each ``[w, true]`` row sums to 1.
    - ``class_priors (K,)``: the estimated share of each true label.
    - ``lower_bounds``: the evidence lower bound per vote after each iteration (nats).
    - ``converged``: whether it stopped on ``tol`` rather than on ``max_iter``."""

    labels: tuple[str, ...]
    item_ids: IntArray
    posteriors: FloatArray
    worker_ids: IntArray
    confusions: FloatArray
    class_priors: FloatArray
    n_iter: int
    converged: bool
    lower_bounds: tuple[float, ...]

    def posterior(self, label: str = ACCEPT) -> FloatArray:
        """``(I,)``: P(true label = ``label``) per item."""
        column: FloatArray = self.posteriors[:, self.labels.index(label)]
        return column

    def most_probable(self) -> NDArray[np.str_]:
        """``(I,)``: each item's most probable label (an exact tie goes to the first in ``labels``)."""
        names = np.array(self.labels, dtype=np.str_)
        picked: NDArray[np.str_] = names[np.argmax(self.posteriors, axis=1)]
        return picked

    def accepted(self, threshold: float = 0.95, label: str = ACCEPT) -> BoolArray:
        """``(I,)``: items whose posterior of ``label`` is at least ``threshold``."""
        out: BoolArray = self.posterior(label) >= threshold
        return out


class _DawidSkeneVotes:
    """The votes laid out for EM: sorted by item, so an item's votes are one run (``starts``) and
    per-item arrays reach the votes by ``np.repeat``; arrays over classes are ``(K, I)`` rows,
    which keeps every step a few contiguous passes over ``N`` or ``I`` values."""

    def __init__(self, coded: _Coded) -> None:
        self.n_items, self.n_labels = int(coded.item_ids.shape[0]), len(coded.labels)
        self.n_workers = int(coded.worker_ids.shape[0])
        order = np.argsort(coded.item, kind="stable")
        self.cell = (coded.worker * self.n_labels + coded.label)[order]  # (N,) worker * K + given
        self.per_item = np.bincount(coded.item, minlength=self.n_items)  # (I,), each >= 1
        self.starts = np.concatenate([[0], np.cumsum(self.per_item)[:-1]])  # (I,)

    def confusions(self, posteriors_t: FloatArray, smoothing: float) -> FloatArray:
        """Confusions ``(W, K, K)`` [worker, true, given] from the posteriors ``(K, I)``: expected
        counts of (truth, answer) per worker, plus ``smoothing``, floored, normalised over answers."""
        size = self.n_workers * self.n_labels
        expected = np.stack(
            [
                np.bincount(self.cell, weights=np.repeat(row, self.per_item), minlength=size)
                for row in posteriors_t
            ]
        )  # [true, worker * K + given]
        expected = expected.reshape(self.n_labels, self.n_workers, self.n_labels).transpose(1, 0, 2)
        expected = np.maximum(expected + smoothing, _EPS)
        confusions: FloatArray = expected / expected.sum(axis=2, keepdims=True)
        return confusions

    def log_likelihoods(self, confusions: FloatArray) -> FloatArray:
        """``(K, I)``: log P(the item's votes | truth k), summed over each item's votes."""
        # [true, worker * K + given]: a small table, gathered once per vote.
        table = np.log(confusions.transpose(1, 0, 2).reshape(self.n_labels, -1))
        return np.stack([np.add.reduceat(row[self.cell], self.starts) for row in table])


def _ds_e_step(class_priors: FloatArray, item_ll_t: FloatArray) -> FloatArray:
    """Posteriors ``(K, I)`` from the class priors and the log-likelihoods (Bayes, in logs)."""
    log_joint = np.log(np.maximum(class_priors, _EPS))[:, None] + item_ll_t
    scaled = np.exp(log_joint - log_joint.max(axis=0))
    posteriors_t: FloatArray = scaled / scaled.sum(axis=0)
    return posteriors_t


def _ds_lower_bound(posteriors_t: FloatArray, class_priors: FloatArray, item_ll_t: FloatArray) -> float:
    """The evidence lower bound ``E_q[log P(votes, truth)] + H(q)`` in nats, q the posteriors."""
    log_prior = np.log(np.maximum(class_priors, _EPS))[:, None]
    q = np.maximum(posteriors_t, _EPS)
    return float(np.sum(posteriors_t * (item_ll_t + log_prior)) - np.sum(q * np.log(q)))


def dawid_skene(
    votes: Votes,
    labels: Sequence[str] = VALIDATION_LABELS,
    *,
    max_iter: int = 100,
    tol: float = 1e-6,
    smoothing: float = 0.0,
) -> DawidSkeneResult:
    """Dawid & Skene (1979): each worker answers through a confusion matrix of their own; EM
    estimates the matrices, the class priors and each item's posterior over its true label.

    Initialised as crowd-kit's ``DawidSkene`` is: the posteriors start as each item's vote shares
    (a soft majority vote), then an M-step. Each iteration is an E-step (posteriors), the class
    priors (the posteriors' mean), an M-step (confusions), and the evidence lower bound per vote
    (kept for diagnosis: EM never lowers it). It stops once no item's posterior moved by ``tol``
    or more in the last iteration (``converged``), or after ``max_iter`` iterations.

    The iterations are crowd-kit's (1.4): after as many iterations the two agree to 1e-10
    (tests/fitting/test_votes.py). Its stopping rule differs: crowd-kit stops once its loss gains
    less than its ``tol`` (1e-5), which on slowly converging votes stops early, while posteriors
    still move (on the reference campaign after 36 iterations, up to 0.07 from the fixed point).

    ``labels`` fixes the classes and their order (a vote with another label is a ``ValueError``).
    ``smoothing`` is a pseudo-count added to every (worker, true, given) cell and to every class
    count before normalising (a symmetric Dirichlet prior: MAP-EM); 0 is the maximum-likelihood
    EM of the paper and of crowd-kit. Probabilities are floored at 1e-10 before logarithms.
    """
    if max_iter < 1:
        raise ValueError(f"dawid_skene: expected max_iter >= 1, got {max_iter}")
    if smoothing < 0:
        raise ValueError(f"dawid_skene: expected smoothing >= 0, got {smoothing}")
    coded = _code(votes, labels)
    if coded.n_votes == 0:
        raise ValueError("dawid_skene: no votes")
    data = _DawidSkeneVotes(coded)
    n_items, n_labels = data.n_items, data.n_labels

    def class_priors_of(posteriors_t: FloatArray) -> FloatArray:
        priors: FloatArray = (posteriors_t.sum(axis=1) + smoothing) / (n_items + n_labels * smoothing)
        return priors

    counts_t = coded.counts().T.astype(np.float64)  # (K, I)
    posteriors_t = counts_t / counts_t.sum(axis=0)
    previous = posteriors_t
    confusions = data.confusions(posteriors_t, smoothing)
    class_priors = class_priors_of(posteriors_t)
    item_ll_t = data.log_likelihoods(confusions)
    bounds: list[float] = []
    converged = False
    for _ in range(max_iter):
        posteriors_t = _ds_e_step(class_priors, item_ll_t)
        class_priors = class_priors_of(posteriors_t)
        confusions = data.confusions(posteriors_t, smoothing)
        item_ll_t = data.log_likelihoods(confusions)  # for the bound and the next E-step
        bounds.append(_ds_lower_bound(posteriors_t, class_priors, item_ll_t) / coded.n_votes)
        if np.max(np.abs(posteriors_t - previous)) < tol:
            converged = True
            break
        previous = posteriors_t
    return DawidSkeneResult(
        labels=coded.labels,
        item_ids=coded.item_ids,
        posteriors=np.ascontiguousarray(posteriors_t.T),
        worker_ids=coded.worker_ids,
        confusions=confusions,
        class_priors=class_priors,
        n_iter=len(bounds),
        converged=converged,
        lower_bounds=tuple(bounds),
    )


# ---------------------------------------------------------------------------------------- A/B


@dataclass(frozen=True)
class Share:
    """``count`` of ``total``, its share and a two-sided 95% Wilson score interval."""

    count: int
    total: int
    share: float
    low: float
    high: float


def wilson_interval(count: int, total: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of the proportion ``count / total`` (``z`` = 1.96: 95%).

    Unlike the normal (Wald) interval it stays inside [0, 1] and keeps its coverage near 0 and 1
    and for small totals (Newcombe 1998)."""
    if total <= 0 or not 0 <= count <= total:
        raise ValueError(f"wilson_interval: expected 0 <= count <= total, total > 0; got {count} of {total}")
    p = count / total
    z2 = z * z
    centre = (p + z2 / (2 * total)) / (1 + z2 / total)
    half = z / (1 + z2 / total) * math.sqrt(p * (1 - p) / total + z2 / (4 * total * total))
    # The exact ends are 0 and 1 when count is 0 or total; keep rounding from leaving [0, 1].
    return (
        0.0 if count == 0 else max(0.0, centre - half),
        1.0 if count == total else min(1.0, centre + half),
    )


def share(count: int, total: int) -> Share:
    """``count / total`` with its Wilson 95% interval."""
    low, high = wilson_interval(count, total)
    return Share(count, total, count / total, low, high)


@dataclass(frozen=True)
class ABMethod:
    """One side of an A/B study: ``items``, the items where this method won the majority of the
    item's votes (of all items, ties included); ``votes``, its votes (of all votes)."""

    method: str
    items: Share
    votes: Share


@dataclass(frozen=True, eq=False)
class ABResult:
    """The paper's A/B study: per method the share of items won and the share of votes, each with
    a Wilson 95% interval, and the tied items (as many votes for A as for B; won by neither).

    Both intervals treat their units as independent trials. That holds for items (each item's
    winner is one Bernoulli outcome, so ``a.items`` is the figure to quote); votes on one item are
    correlated (they judge the same pair), so the interval of ``votes`` is narrower than the truth
    when items differ in difficulty."""

    n_items: int
    n_votes: int
    a: ABMethod
    b: ABMethod
    ties: Share
    tied_item_ids: IntArray


def ab_results(votes: Votes) -> ABResult:
    """Aggregate A/B votes (labels ``"a"`` and ``"b"``) as in the paper's A/B study."""
    coded = _code(votes, AB_LABELS)
    if coded.n_votes == 0:
        raise ValueError("ab_results: no votes")
    counts = coded.counts()
    n_items, n_votes = int(counts.shape[0]), coded.n_votes
    a_won = int(np.sum(counts[:, 0] > counts[:, 1]))
    b_won = int(np.sum(counts[:, 1] > counts[:, 0]))
    tied = counts[:, 0] == counts[:, 1]
    a_votes = int(counts[:, 0].sum())
    return ABResult(
        n_items=n_items,
        n_votes=n_votes,
        a=ABMethod(A, share(a_won, n_items), share(a_votes, n_votes)),
        b=ABMethod(B, share(b_won, n_items), share(n_votes - a_votes, n_votes)),
        ties=share(int(tied.sum()), n_items),
        tied_item_ids=coded.item_ids[tied],
    )


# ----------------------------------------------------------------------------------- agreement


@dataclass(frozen=True)
class FleissKappa:
    """Fleiss' kappa and its parts: ``observed`` (mean pairwise agreement per item, P-bar),
    ``expected`` (chance agreement from the pooled label shares, P_e), the items used and those
    left out, and ``raters``: the one number of votes per used item, or None where it varies.
    ``kappa`` is NaN when ``expected`` is 1 (every vote one label: kappa is undefined)."""

    kappa: float
    observed: float
    expected: float
    n_items: int
    n_excluded: int
    raters: int | None
    labels: tuple[str, ...]


def _pairwise_agreement(counts: IntArray) -> FloatArray:
    """``(I,)``: per item the share of ordered rater pairs that agree, sum n_ij(n_ij-1) / n(n-1)."""
    n = counts.sum(axis=1)
    out: FloatArray = (counts * (counts - 1)).sum(axis=1) / (n * (n - 1))
    return out


def fleiss_kappa(
    votes: Votes,
    labels: Sequence[str] | None = None,
    *,
    unequal: Literal["generalised", "modal"] = "generalised",
) -> FleissKappa:
    """Fleiss' kappa (Fleiss 1971) over the labels of ``votes`` (``labels``: all the categories,
    including any no one chose; None: those found).

    Fleiss defined it for a fixed number of raters per item. When the counts vary:

    - ``"generalised"`` (default): every item with at least 2 votes is used; P-bar is the
      unweighted mean of the items' pairwise agreement, P_e the sum of squared label shares
      pooled over the used items' votes. With equal counts this is Fleiss' statistic exactly.
    - ``"modal"``: only the items with the most common number of votes (the larger on a tie) are
      used, and Fleiss' statistic is computed on them as published.

    Items with a single vote say nothing about agreement and are always left out."""
    coded = _code(votes, labels)
    counts = coded.counts()
    n = counts.sum(axis=1)
    used = n >= 2
    if unequal == "modal":
        if used.any():
            sizes, how_many = np.unique(n[used], return_counts=True)
            modal = int(sizes[how_many == how_many.max()].max())
            used = n == modal
    elif unequal != "generalised":
        raise ValueError(f"fleiss_kappa: unequal must be 'generalised' or 'modal', got {unequal!r}")
    if not used.any():
        raise ValueError("fleiss_kappa: no item has at least 2 votes")
    kept = counts[used]
    observed = float(_pairwise_agreement(kept).mean())
    pooled = kept.sum(axis=0) / kept.sum()
    expected = float(np.sum(pooled**2))
    kappa = math.nan if expected >= 1.0 else (observed - expected) / (1.0 - expected)
    sizes_used = np.unique(n[used])
    return FleissKappa(
        kappa=kappa,
        observed=observed,
        expected=expected,
        n_items=int(used.sum()),
        n_excluded=int((~used).sum()),
        raters=int(sizes_used[0]) if sizes_used.shape[0] == 1 else None,
        labels=coded.labels,
    )


def percent_agreement(votes: Votes) -> float:
    """Raw agreement: per item the share of rater pairs that gave the same label, averaged over
    the items with at least 2 votes (Fleiss' P-bar; no correction for chance)."""
    counts = _code(votes, None).counts()
    kept = counts[counts.sum(axis=1) >= 2]
    if kept.shape[0] == 0:
        raise ValueError("percent_agreement: no item has at least 2 votes")
    return float(_pairwise_agreement(kept).mean())


# ------------------------------------------------------------------------------- rejection rates


@dataclass(frozen=True)
class RejectionRow:
    """The paper's Table 1 columns for one set of votes.

    ``initial``: items with at least ``need`` votes (the judged ones); ``final``: of those, the
    items accepted by the unanimous rule; ``rejection_rate`` = 1 - final / initial;
    ``final_lenient`` and ``rejection_rate_lenient``: the same under ``k`` of ``need``
    (2 of 3); ``incomplete``: items with fewer votes, in no other column."""

    need: int
    k: int
    initial: int
    final: int
    rejection_rate: float
    final_lenient: int
    rejection_rate_lenient: float
    incomplete: int


def rejection_table(votes: Votes, need: int = 3, k: int = 2) -> RejectionRow:
    """Initial and final counts and rejection rates under unanimity (``need`` of ``need``) and
    under ``k`` of ``need``, as the paper's Table 1 reports them. Rates are NaN when no item is
    complete."""
    strict = unanimous(votes, need)
    lenient = k_of_n(votes, k=k, n=need)
    initial = int((~strict.incomplete).sum())
    final, final_lenient = int(strict.accepted.sum()), int(lenient.accepted.sum())
    return RejectionRow(
        need=need,
        k=k,
        initial=initial,
        final=final,
        rejection_rate=1.0 - final / initial if initial else math.nan,
        final_lenient=final_lenient,
        rejection_rate_lenient=1.0 - final_lenient / initial if initial else math.nan,
        incomplete=int(strict.incomplete.sum()),
    )
