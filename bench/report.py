"""The benchmark report: repeated runs reduced to medians with their spread, held against the
project's targets, written as ``REPORT.md`` with a JSON of every run and a plot of how each cost
grows. Pure functions over the runs' figures (no benchmark is run here)."""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Case:
    """One measured configuration of one suite: the script and its arguments, run ``repeat`` times."""

    suite: str  # eft, fits, imports, publish
    label: str  # e.g. "100,000 annotations"
    argv: tuple[str, ...]  # the script (relative to the repository) and its arguments
    size: float | None = None  # for the growth plot (annotations, batch, people...)
    timeout_s: float = 3600.0


@dataclass
class Measured:
    case: Case
    runs: list[dict[str, float]] = field(default_factory=list)  # flat figures of each run
    errors: list[str] = field(default_factory=list)
    raw: list[Any] = field(default_factory=list)

    def median(self, key: str) -> float | None:
        values = [r[key] for r in self.runs if key in r]
        return statistics.median(values) if values else None

    def spread(self, key: str) -> float | None:
        """(max - min) / median, in percent: how noisy the runs were."""
        values = [r[key] for r in self.runs if key in r]
        if len(values) < 2:
            return None
        middle = statistics.median(values)
        return 100.0 * (max(values) - min(values)) / abs(middle) if middle else None


def flatten(data: Any, prefix: str = "") -> dict[str, float]:
    """Numeric leaves of nested JSON as ``a.b.c`` keys (booleans and text left out)."""
    out: dict[str, float] = {}
    if isinstance(data, dict):
        for key, value in data.items():
            out.update(flatten(value, f"{prefix}{key}."))
    elif isinstance(data, (int, float)) and not isinstance(data, bool):
        out[prefix.rstrip(".")] = float(data)
    return out


@dataclass(frozen=True)
class Target:
    """A goal the report holds a figure against; ``applies`` says whether this run can judge it."""

    goal: str
    suite: str
    label: str | None  # the case's label (None: the suite's largest case)
    key: str
    limit: float
    at_most: bool  # True: the figure must be <= limit; False: >= limit
    unit: str
    applies: Callable[[dict[str, Any]], str | None] = lambda machine: None  # a reason it cannot be judged
    size_key: str | None = None  # a figure of the run that must reach size_at_least for the target to apply
    size_at_least: float = 0.0


def _case_for(measured: Sequence[Measured], suite: str, label: str | None) -> Measured | None:
    """The case a target is judged on: the named one, else the suite's largest (runs or none)."""
    mine = [m for m in measured if m.case.suite == suite]
    if label is not None:
        mine = [m for m in mine if m.case.label == label]
    if not mine:
        return None
    return max(mine, key=lambda m: m.case.size or 0.0)


def judge(
    targets: Sequence[Target], measured: Sequence[Measured], machine: dict[str, Any]
) -> list[dict[str, Any]]:
    """Each target: its figure (median), and met / not met / not measured (with why)."""
    rows = []
    for target in targets:
        row: dict[str, Any] = {
            "goal": target.goal,
            "unit": target.unit,
            "limit": target.limit,
            "at_most": target.at_most,
            "figure": None,
            "spread": None,
        }
        reason = target.applies(machine)
        found = _case_for(measured, target.suite, target.label)
        value = found.median(target.key) if found else None
        size = found.median(target.size_key) if found and target.size_key else None
        if not reason and target.size_key and value is not None:
            if size is None:
                reason = f"the runs do not say their size ({target.size_key})"
            elif size < target.size_at_least:
                reason = f"measured at {size:,.0f}, under the target's {target.size_at_least:,.0f}"
        if reason:
            row["status"], row["why"] = "not judged here", reason
        elif found is None:
            row["status"], row["why"] = "not measured", f"{target.suite} was not run"
        elif not found.runs:
            row["status"] = "not measured"
            row["why"] = (
                f"every run of {target.suite} ({found.case.label}) failed: {'; '.join(found.errors[:2])}"
            )
        elif value is None:
            row["status"], row["why"] = "not measured", f"no run of {target.suite} gave {target.key}"
        else:
            met = value <= target.limit if target.at_most else value >= target.limit
            row["status"] = "met" if met else "NOT MET"
        if value is not None and found is not None:
            row["figure"], row["spread"], row["case"] = value, found.spread(target.key), found.case.label
        rows.append(row)
    return rows


def _number(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def _spread(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}%"


@dataclass(frozen=True)
class Column:
    key: str
    title: str


def suite_table(measured: Sequence[Measured], columns: Sequence[Column]) -> list[str]:
    """A markdown table: one row per case, each column the median and, in brackets, the spread."""
    lines = [
        "| case | runs | " + " | ".join(c.title for c in columns) + " |",
        "|---|---|" + "---|" * len(columns),
    ]
    for m in measured:
        cells = []
        for column in columns:
            value = m.median(column.key)
            cells.append("-" if value is None else f"{_number(value)} ({_spread(m.spread(column.key))})")
        failed = f", {len(m.errors)} failed" if m.errors else ""
        lines.append(f"| {m.case.label} | {len(m.runs)}{failed} | " + " | ".join(cells) + " |")
    return lines


def targets_table(rows: Sequence[dict[str, Any]]) -> list[str]:
    lines = ["| target | figure (median) | spread | status |", "|---|---|---|---|"]
    for row in rows:
        figure = "-" if row["figure"] is None else f"{_number(row['figure'])} {row['unit']}"
        if row.get("case"):
            figure += f" ({row['case']})"
        status = row["status"] + (f": {row['why']}" if row.get("why") else "")
        lines.append(f"| {row['goal']} | {figure} | {_spread(row['spread'])} | **{status}** |")
    return lines


def growth_plot(
    measured: Sequence[Measured], panels: Sequence[tuple[str, str, str, str]], path: Path
) -> bool:
    """One panel per (suite, key, x label, y label): the median at each case's size, with the
    runs' range as error bars. False when there is nothing to draw."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    drawable = []
    for suite, key, xlabel, ylabel in panels:
        points = [
            (m.case.size, m.median(key), [r[key] for r in m.runs if key in r])
            for m in measured
            if m.case.suite == suite and m.case.size is not None and m.median(key) is not None
        ]
        if points:
            drawable.append((suite, key, xlabel, ylabel, sorted(points, key=lambda p: p[0])))
    if not drawable:
        return False
    fig, axes = plt.subplots(1, len(drawable), figsize=(4.2 * len(drawable), 3.4), squeeze=False)
    for axis, (suite, key, xlabel, ylabel, points) in zip(axes[0], drawable, strict=True):
        xs = [p[0] for p in points]
        ys = [p[1] for p in points]
        low = [p[1] - min(p[2]) for p in points]
        high = [max(p[2]) - p[1] for p in points]
        axis.errorbar(xs, ys, yerr=[low, high], marker="o", capsize=3)
        axis.set_xlabel(xlabel)
        axis.set_ylabel(ylabel)
        axis.set_title(f"{suite}: {key.split('.')[-1]}", fontsize=9)
        axis.grid(alpha=0.3)
        if len(xs) > 1 and max(xs) / max(min(xs), 1e-9) >= 10:
            axis.set_xscale("log")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def write_json(
    measured: Sequence[Measured], machine: dict[str, Any], judged: Sequence[dict[str, Any]], path: Path
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cases = [
        {
            "suite": m.case.suite,
            "label": m.case.label,
            "argv": list(m.case.argv),
            "size": m.case.size,
            "runs": m.raw,
            "errors": m.errors,
        }
        for m in measured
    ]
    path.write_text(
        json.dumps({"machine": machine, "targets": list(judged), "cases": cases}, indent=1, default=str)
    )
