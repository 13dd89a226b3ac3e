"""Regenerate tests/fitting/data/votes/dawid_skene_reference.json: crowd-kit's Dawid-Skene on a
seeded, simulated validation campaign, the reference ``fitting.votes.dawid_skene`` is tested
against (tests/fitting/test_votes.py).

crowd-kit is not a dependency of this project; run this with a throwaway environment:

    python3.11 -m venv /tmp/ck && /tmp/ck/bin/pip install crowd-kit==1.4.2
    /tmp/ck/bin/python scripts/votes_reference.py

The campaign: 300 items (about 3 in 4 truly good fits), 25 workers of mixed quality (careful
ones, mediocre ones, lenient ones, a strict one, one who accepts everything, a random clicker and
one who answers backwards), 3 to 5 votes per item by distinct workers. Item and worker ids are
sparse and the votes shuffled, so the test exercises the factorisation too.
"""

from __future__ import annotations

import argparse
import json
from importlib.metadata import version
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "fitting" / "data" / "votes" / "dawid_skene_reference.json"

SEED = 20240518
N_ITEMS = 300
CONVERGED_ITER = 2000

#: (how many, P(accept | good fit) range, P(reject | bad fit) range, activity weight)
WORKER_KINDS = (
    ("careful", 12, (0.88, 0.97), (0.80, 0.92), 1.0),
    ("mediocre", 6, (0.70, 0.80), (0.55, 0.70), 1.0),
    ("lenient", 3, (0.93, 0.98), (0.25, 0.40), 1.5),
    ("strict", 1, (0.45, 0.55), (0.93, 0.97), 1.0),
    ("always-accept", 1, (1.0, 1.0), (0.0, 0.0), 2.0),
    ("random clicker", 1, (0.5, 0.5), (0.5, 0.5), 2.0),
    ("backwards", 1, (0.15, 0.25), (0.15, 0.25), 0.5),
)


def simulate(rng: np.random.Generator) -> tuple[list[list[object]], dict[int, str]]:
    sensitivity, specificity, activity, kinds = [], [], [], []
    for kind, count, sens, spec, weight in WORKER_KINDS:
        for _ in range(count):
            sensitivity.append(rng.uniform(*sens))
            specificity.append(rng.uniform(*spec))
            activity.append(weight)
            kinds.append(kind)
    n_workers = len(kinds)
    worker_ids = 100 + 17 * np.arange(n_workers)
    item_ids = 5000 + 3 * np.arange(N_ITEMS)
    good = rng.random(N_ITEMS) < 0.75
    weights = np.asarray(activity) / np.sum(activity)
    votes: list[list[object]] = []
    for item, is_good in zip(item_ids, good, strict=True):
        n_votes = int(rng.integers(3, 6))
        for w in rng.choice(n_workers, size=n_votes, replace=False, p=weights):
            p_accept = sensitivity[w] if is_good else 1.0 - specificity[w]
            label = "accept" if rng.random() < p_accept else "reject"
            votes.append([int(item), int(worker_ids[w]), label])
    order = rng.permutation(len(votes))
    truth = {int(i): ("accept" if g else "reject") for i, g in zip(item_ids, good, strict=True)}
    return [votes[i] for i in order], truth


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()

    import pandas as pd
    from crowdkit.aggregation import DawidSkene

    votes, truth = simulate(np.random.default_rng(SEED))
    frame = pd.DataFrame(votes, columns=["task", "worker", "label"])
    labels = ["accept", "reject"]

    def run(n_iter: int, tol: float) -> dict[str, object]:
        model = DawidSkene(n_iter=n_iter, tol=tol).fit(frame)
        probas = model.probas_.sort_index()
        errors = model.errors_
        return {
            "params": {"n_iter": n_iter, "tol": tol if np.isfinite(tol) else None},
            "iterations": len(model.loss_history_),
            "items": [int(i) for i in probas.index],
            "posteriors": [[float(row[label]) for label in labels] for _, row in probas.iterrows()],
            "most_probable": [str(model.labels_[i]) for i in probas.index],
            "class_priors": [float(model.priors_[label]) for label in labels],
            # [worker, given, P(given | true accept), P(given | true reject)]
            "confusions": [
                [int(worker), str(given), *(float(errors.loc[(worker, given), true]) for true in labels)]
                for worker, given in errors.index
            ],
        }

    reference = {
        "about": "crowd-kit DawidSkene on a simulated campaign; regenerate: scripts/votes_reference.py",
        "crowd_kit": version("crowd-kit"),
        "pandas": pd.__version__,
        "numpy": np.__version__,
        "seed": SEED,
        "labels": labels,
        "votes": votes,
        "truth": [[item, label] for item, label in sorted(truth.items())],
        # As the issue asks (crowd-kit's own stopping rule, tol 1e-5), and run to its fixed point
        # (its loss is not monotone, so a tol of 0 stops early too: no tol, all iterations).
        "runs": {"default": run(100, 1e-5), "converged": run(CONVERGED_ITER, -np.inf)},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(reference, indent=None, separators=(",", ":")) + "\n")
    runs = reference["runs"]
    assert isinstance(runs, dict)
    iterations = {name: r["iterations"] for name, r in runs.items()}
    print(f"{args.out}: {len(votes)} votes, {len(truth)} items, iterations {iterations}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
