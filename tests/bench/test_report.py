"""The benchmark report's arithmetic: medians and spread of repeated runs, targets judged met or
not met (never hidden), a target measured at a smaller size than it names is not judged, a
figure nobody measured says so."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.report import (
    Case,
    Column,
    Measured,
    Target,
    flatten,
    growth_plot,
    judge,
    suite_table,
    targets_table,
)


def _measured(suite: str, label: str, runs: list[dict[str, float]], size: float | None = None) -> Measured:
    m = Measured(Case(suite, label, ("bench/x.py",), size=size))
    m.runs = runs
    return m


def test_median_and_spread_of_runs() -> None:
    m = _measured("imports", "10", [{"s": 10.0}, {"s": 12.0}, {"s": 11.0}])
    assert m.median("s") == 11.0
    assert m.spread("s") == pytest.approx(100 * 2 / 11)
    assert m.median("absent") is None
    assert _measured("imports", "1", [{"s": 3.0}]).spread("s") is None  # one run: no spread to tell


def test_flatten_keeps_numbers_only() -> None:
    data = {"a": {"b": 1, "c": "text", "d": True}, "e": 2.5, "f": {"g": {"h": 3}}}
    assert flatten(data) == {"a.b": 1.0, "e": 2.5, "f.g.h": 3.0}


def test_targets_are_met_missed_unjudged_or_unmeasured() -> None:
    measured = [
        _measured("imports", "10K", [{"seconds": 5.0, "n": 10_000}], size=10_000),
        _measured(
            "imports",
            "100K",
            [{"seconds": 70.0, "n": 100_000}, {"seconds": 80.0, "n": 100_000}],
            size=100_000,
        ),
        _measured("publish", "quick", [{"agg": 0.1, "votes": 10_000}]),
    ]
    targets = [
        Target(
            "import fast", "imports", None, "seconds", 60.0, True, "s", size_key="n", size_at_least=100_000
        ),
        Target("import slow is fine", "imports", None, "seconds", 100.0, True, "s"),
        Target("aggregate 1M", "publish", None, "agg", 10.0, True, "s", size_key="votes", size_at_least=1e6),
        Target("gpu ratio", "eft-gpu", None, "ratio", 10.0, False, "x", lambda machine: "no GPU"),
        Target("hits p99", "hits", None, "p99_ms", 100.0, True, "ms"),
    ]
    rows = judge(targets, measured, {"gpu": None})
    status = {r["goal"]: r["status"] for r in rows}
    assert status == {
        "import fast": "NOT MET",  # the largest case (100K) is judged: median 75 s
        "import slow is fine": "met",
        "aggregate 1M": "not judged here",  # measured at 10,000 votes only
        "gpu ratio": "not judged here",
        "hits p99": "not measured",
    }
    assert rows[4]["why"] == "hits was not run"
    assert rows[0]["figure"] == 75.0
    assert rows[0]["case"] == "100K"
    assert "under the target's 1,000,000" in rows[2]["why"]
    table = "\n".join(targets_table(rows))
    assert "**NOT MET**" in table
    assert "75 s (100K)" in table


def test_tables_and_plot(tmp_path: Path) -> None:
    measured = [
        _measured("imports", "10K", [{"seconds": 5.0}, {"seconds": 6.0}], size=10_000),
        _measured("imports", "100K", [{"seconds": 50.0}, {"seconds": 60.0}], size=100_000),
    ]
    lines = suite_table(measured, [Column("seconds", "seconds"), Column("absent", "absent")])
    assert lines[2] == "| 10K | 2 | 5.5 (18%) | - |"
    assert growth_plot(measured, [("imports", "seconds", "annotations", "s")], tmp_path / "g.png")
    assert (tmp_path / "g.png").stat().st_size > 1000
    assert not growth_plot(measured, [("eft", "ratio", "batch", "x")], tmp_path / "none.png")
