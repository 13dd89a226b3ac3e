"""The benchmark runner: every target has a case that can judge it at full size, a case that
fails or hangs is recorded with why (its own child processes stopped too), and the full-size
cases reach the sizes the targets name."""

from __future__ import annotations

import os
import time
from pathlib import Path

from bench.report import Case, Measured, judge
from bench.run import TARGETS, cases, run_case


def test_every_target_has_a_case_and_full_sizes_reach_it() -> None:
    full = cases(quick=False, gpu=True)
    suites = {c.suite for c in full}
    assert {t.suite for t in TARGETS} <= suites
    imports = max(c.size or 0 for c in full if c.suite == "imports")
    assert imports >= 100_000
    publish = next(c for c in full if c.suite == "publish")
    people = int(publish.argv[publish.argv.index("--people") + 1].split(",")[1])
    assert people * 0.77 >= 100_000  # about 77% of the simulated fits are accepted
    quick = cases(quick=True, gpu=True)
    assert max(c.size or 0 for c in quick if c.suite == "imports") < 100_000
    gpu_quick = [c for c in quick if c.suite == "eft-gpu"]
    assert len(gpu_quick) == 1  # quick on a GPU host stays quick


def test_a_failing_case_is_reported_not_hidden(tmp_path: Path) -> None:
    quiet = tmp_path / "quiet.py"
    quiet.write_text("import sys\nsys.exit(0)\n")  # exits 0 without writing its figures
    broken = tmp_path / "broken.py"
    broken.write_text("import sys\nsys.exit(3)\n")
    good = tmp_path / "good.py"
    good.write_text(
        "import json, sys\nout = sys.argv[sys.argv.index('--json') + 1]\n"
        "json.dump({'annotations': 100000, 'import_seconds': 42.0}, open(out, 'w'))\n"
    )
    log = tmp_path / "run.log"
    data, error = run_case(Case("imports", "q", (str(quiet),)), tmp_path, log)
    assert data is None
    assert "no figures written" in error
    data, error = run_case(Case("imports", "b", (str(broken),)), tmp_path, log)
    assert data is None
    assert error.startswith("exit status 3")
    data, error = run_case(Case("imports", "g", (str(good),)), tmp_path, log)
    assert error == ""
    assert data is not None
    assert data["import_seconds"] == 42.0

    failed = Measured(Case("imports", "100,000 annotations", ("x",), size=100_000), errors=["exit status 3"])
    smaller = Measured(
        Case("imports", "30,000 annotations", ("x",), size=30_000), runs=[{"import_seconds": 9.0}]
    )
    rows = judge([t for t in TARGETS if t.key == "import_seconds"], [smaller, failed], {"gpu": None})
    assert rows[0]["status"] == "not measured"  # judged on the largest case, whose every run failed
    assert "exit status 3" in rows[0]["why"]


def test_a_hanging_case_is_stopped_with_its_children(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    hang = tmp_path / "hang.py"
    hang.write_text(
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(60)\n"
    )
    started = time.perf_counter()
    data, error = run_case(Case("imports", "h", (str(hang),), timeout_s=3.0), tmp_path, tmp_path / "run.log")
    assert data is None
    assert error == "timed out after 3 s"
    assert time.perf_counter() - started < 30
    child = int(pid_file.read_text())
    for _ in range(50):  # the grandchild was killed with its group
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        raise AssertionError(f"the script's child {child} is still running")


def test_the_large_exports_time_is_broken_down() -> None:
    from bench.run import _export_phases

    m = Measured(Case("publish", "p", ("x",)))
    m.runs = [
        {
            "export.large.build_seconds": 100.0,
            "export.large.phases.body": 60.0,
            "export.large.phases.zip": 10.0,
        },
        {
            "export.large.build_seconds": 120.0,
            "export.large.phases.body": 70.0,
            "export.large.phases.zip": 12.0,
        },
    ]
    line = _export_phases([m])[0]
    assert line.startswith("Where the large export's 110 s go (medians): body 65.0 s (59%); zip 11.0 s (10%)")
    assert _export_phases([Measured(Case("publish", "p", ("x",)))]) == []


def test_the_report_is_rebuilt_from_the_kept_runs(tmp_path: Path) -> None:
    import argparse
    import json

    from bench.run import rebuild

    (tmp_path / "report").mkdir()
    machine = {"cpu": "a CPU", "cores": 2, "memory_gb": 24, "gpu": None, "python": "3.11", "torch": "2",
               "commit": "abc1234", "date": "2026-11-30 12:00 UTC", "command": "bench/run.py --only renders",
               "repeat": 2, "seconds": 120.0}  # fmt: skip
    runs = [{"pairs_per_s": 6.0, "ms_per_pair": 160.0}, {"pairs_per_s": 8.0, "ms_per_pair": 120.0}]
    case = {"suite": "renders", "label": "40 people", "argv": ["bench/renders.py"], "size": 40}
    cases = [{**case, "runs": runs, "errors": []}]
    (tmp_path / "report" / "figures.json").write_text(json.dumps({"machine": machine, "cases": cases}))
    assert rebuild(argparse.Namespace(out=tmp_path / "REPORT.md")) == 0
    text = (tmp_path / "REPORT.md").read_text()
    assert (
        "Made by `bench/run.py --only renders` on 2026-11-30 12:00 UTC, commit abc1234, in 2 minutes" in text
    )
    row = (
        "| renders: at least 5 overlay + side-view pairs per second (512 px) | 7 pairs/s (40 people) | 29% |"
    )
    assert row + " **met** |" in text


def test_the_hit_servers_cpu_is_broken_down_at_capacity() -> None:
    from bench.run import _hits_cpu

    m = Measured(Case("hits", "h", ("x",)))
    prefix = "levels.w50_capacity."
    m.runs = [
        {prefix + "cpu_ms_per_request.gunicorn (Django)": 7.0, prefix + "cpu_ms_per_request.PostgreSQL": 2.0,
         prefix + "cores_busy": 1.9, "levels.w200.cpu_ms_per_request.PostgreSQL": 99.0},
        {prefix + "cpu_ms_per_request.gunicorn (Django)": 9.0, prefix + "cpu_ms_per_request.PostgreSQL": 2.0,
         prefix + "cores_busy": 1.7},
    ]  # fmt: skip
    line = _hits_cpu([m], 2)[0]
    assert line.startswith("Where the CPU goes with 50 workers without pauses")
    assert "gunicorn (Django) 8.00 ms (80%); PostgreSQL 2.00 ms (20%); 1.80 of 2 cores busy" in line
    assert line.endswith("The bottleneck is the largest part: gunicorn (Django).")
    assert _hits_cpu([Measured(Case("hits", "h", ("x",)))], 2) == []
