"""Run every benchmark of the project and write ``bench/REPORT.md``.

    .venv/bin/python bench/run.py                  # every suite, 3 runs each (about 40 minutes here)
    .venv/bin/python bench/run.py --quick          # small sizes, 2 runs: checks the runner (minutes)
    .venv/bin/python bench/run.py --only imports,publish --repeat 5

Each case is a benchmark script run in its own process (``--json`` gives its figures), ``--repeat``
times; the report gives the median of the runs and their spread ((max - min) / median), holds
the figures against the project's targets (met, not met, or not judged on this machine, never
hidden), shows how each cost grows with its size (``bench/report/growth.png``) and keeps every
run in ``bench/report/figures.json``. A GPU section is filled in when torch sees CUDA; nothing
needs one. Not part of the test suite: benchmarks measure, tests check. Exits 1 when a case had
no successful run (the report says which and why); a case that failed some runs keeps the others.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.report import (  # noqa: E402
    Case,
    Column,
    Measured,
    Target,
    flatten,
    growth_plot,
    judge,
    suite_table,
    targets_table,
    write_json,
)

SUITES = ("eft", "renders", "hits", "fits", "train", "imports", "publish")


def machine_facts() -> dict[str, Any]:
    import torch

    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory_gb = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": memory_gb,
        "gpu": gpu,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "commit": commit.stdout.strip() or "unknown",
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def cases(quick: bool, gpu: bool) -> list[Case]:
    """What is measured, at which sizes (``quick``: small sizes that only check the runner)."""
    out: list[Case] = []
    people, iterations = ("4", "3") if quick else ("8", "10")
    for b in (4,) if quick else (2, 4, 8):
        argv = (
            "bench/eft.py",
            "--device",
            "cpu",
            "--people",
            people,
            "--batch",
            str(b),
            "--iterations",
            iterations,
        )
        out.append(Case("eft", f"CPU, batch {b}", argv, size=b))
    if gpu:
        for b in (8,) if quick else (8, 16, 32, 64):
            argv = ("bench/eft.py", "--device", "cuda", "--people", str(max(2 * b, 32)), "--batch", str(b),
                    "--iterations", "10")  # fmt: skip
            out.append(Case("eft-gpu", f"GPU, batch {b}", argv, size=b))
    for n in (5,) if quick else (40,):
        out.append(Case("renders", f"{n} people, 512 px", ("bench/renders.py", "--people", str(n)), size=n))
    hits = ("--concurrency", "10", "--capacity", "10", "--seconds", "5", "--people", "600") if quick else ()
    out.append(Case("hits", "10 workers (quick)" if quick else "50 and 200 workers, then 50 without pauses",
                    ("bench/hits.py", *hits)))  # fmt: skip
    for n in (8,) if quick else (24,):
        out.append(Case("fits", f"{n} people, EFT 50 it", ("bench/fits.py", "--people", str(n), "--work",
                                                            "{work}/fits"), size=n))  # fmt: skip
    # A training step of the shipped regressor's network (small backbone, 128 px) on the CPU;
    # the reference network (ResNet-50, 224 px) at two batch sizes on a GPU.
    steps = ("--steps", "3", "--warmup", "1") if quick else ("--steps", "20")
    for b in (8,) if quick else (16, 32):
        argv = ("bench/train.py", "--device", "cpu", "--batch", str(b), *steps)
        out.append(Case("train", f"CPU, small backbone, 128 px, batch {b}", argv, size=b))
    if gpu:
        for b in (16,) if quick else (32, 64):
            argv = ("bench/train.py", "--device", "cuda", "--backbone", "resnet50", "--input-size", "224",
                    "--batch", str(b), *steps)  # fmt: skip
            out.append(Case("train-gpu", f"GPU, ResNet-50, 224 px, batch {b}", argv, size=b))
    for n in (2_000, 5_000) if quick else (10_000, 30_000, 100_000):
        argv = ("bench/imports.py", "--annotations", str(n), "--work", "{work}/imports")
        out.append(Case("imports", f"{n:,} annotations", argv, size=n))
    # About 77% of the simulated fits are accepted: 131,000 people make a version of about 100K.
    sizes = ("--quick",) if quick else ("--people", "13100,131000")
    label = "quick sizes" if quick else "100K and 1M votes; versions of about 10K and 100K people"
    out.append(Case("publish", label, ("bench/publish.py", "--work", "{work}/publish", *sizes)))
    return out


def flat_figures(case: Case, data: dict[str, Any]) -> dict[str, float]:
    figures = flatten(data)
    if case.suite == "publish":  # the script measures its two sizes itself
        for part in ("aggregation", "export"):
            for size in ("small", "large"):
                block = data.get(part, {}).get(size, {})
                if part == "aggregation" and block:
                    figures[f"{part}.{size}.votes_per_s_publishing"] = block["votes"] / max(
                        block["rows"]["publishing's calls on tuples"]["seconds"], 1e-9
                    )
    return figures


def run_case(case: Case, work: Path, log: Path) -> tuple[dict[str, Any] | None, str]:
    """One run of a case in its own process group (so a timeout stops the script's own children
    too): its figures, or why there are none."""
    argv = [a.replace("{work}", str(work)) for a in case.argv]
    with tempfile.TemporaryDirectory(prefix="bench-result-") as folder:
        result = Path(folder) / "figures.json"
        command = [sys.executable, str(ROOT / argv[0]), *argv[1:], "--json", str(result)]
        started = time.perf_counter()
        with log.open("a") as out:
            out.write(f"\n$ {' '.join(command)}\n")
            out.flush()
            child = subprocess.Popen(
                command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
            try:
                code = child.wait(timeout=case.timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
                return None, f"timed out after {case.timeout_s:.0f} s"
            except BaseException:  # Ctrl-C: the case's processes go with the runner
                os.killpg(child.pid, signal.SIGKILL)
                raise
        if code != 0:
            return None, f"exit status {code} (see {log})"
        try:
            data = json.loads(result.read_text())
        except (OSError, ValueError) as error:
            return None, f"no figures written ({error})"
        if not isinstance(data, dict):
            return None, "the figures are not a JSON object"
        data["_wall_seconds"] = time.perf_counter() - started
        return data, ""


def _cpu_only(machine: dict[str, Any]) -> str | None:
    return None if machine["gpu"] else "no GPU on this machine: the CPU ratio is in the EFT table"


TARGETS = (
    Target("EFT batched >= 10x the one-at-a-time loop (persons/s), GPU", "eft-gpu", None, "ratio", 10.0,
           False, "x", _cpu_only),
    Target("import of 100K annotations under 60 s", "imports", None, "import_seconds", 60.0, True, "s",
           size_key="annotations", size_at_least=100_000),
    Target("import of 100K annotations under 1 GB peak memory", "imports", None, "peak_rss_mb", 1024.0, True,
           "MB", size_key="annotations", size_at_least=100_000),
    Target("aggregation of 1M votes under 10 s (publishing's calls)", "publish", None,
           "aggregation.large.rows.publishing's calls on tuples.seconds", 10.0, True, "s",
           size_key="aggregation.large.votes", size_at_least=1_000_000),
    Target("export of a 100K-person version under 30 s", "publish", None, "export.large.build_seconds", 30.0,
           True, "s", size_key="export.large.people_accepted", size_at_least=100_000),
    Target("export of a 100K-person version under 1 GB peak memory", "publish", None,
           "export.large.build_peak_mb", 1024.0, True, "MB", size_key="export.large.people_accepted",
           size_at_least=100_000),
    Target("HIT page p99 under 100 ms with 200 simulated workers", "hits", None, "levels.w200.page_p99_ms",
           100.0, True, "ms"),
    Target("vote endpoint p99 under 100 ms with 200 simulated workers", "hits", None,
           "levels.w200.vote_p99_ms", 100.0, True, "ms"),
    Target("at least 300 votes/s accepted", "hits", None, "levels.w50_capacity.votes_per_s", 300.0, False,
           "votes/s"),
    Target("no vote lost (answered 201 and not in the database)", "hits", None, "votes_lost", 0.0, True,
           "votes"),
    Target("renders: at least 5 overlay + side-view pairs per second (512 px)", "renders", None,
           "pairs_per_s", 5.0, False, "pairs/s"),
)  # fmt: skip


COLUMNS = {
    "eft": [
        Column("one_at_a_time_persons_per_s", "one at a time persons/s"),
        Column("batched_persons_per_s", "batched persons/s"),
        Column("ratio", "ratio"),
        Column("measured_mb_per_person", "MB/person (peak RSS)"),
        Column("memory_per_person_mb_estimate", "MB/person (estimate)"),
    ],
    "eft-gpu": [
        Column("one_at_a_time_persons_per_s", "one at a time persons/s"),
        Column("batched_persons_per_s", "batched persons/s"),
        Column("ratio", "ratio"),
        Column("peak_memory_mb", "peak MB"),
        Column("measured_mb_per_person", "MB/person (measured)"),
        Column("memory_per_person_mb_estimate", "MB/person (estimate)"),
    ],
    "fits": [
        Column("fits_per_s", "fits/s"),
        Column("fits_per_s_after_first_chunk", "fits/s after the 1st chunk"),
        Column("mean_iterations", "iterations"),
        Column("renders_per_s", "renders/s (3 views a fit)"),
    ],
    "imports": [
        Column("import_seconds", "seconds"),
        Column("annotations_per_s", "annotations/s"),
        Column("peak_rss_mb", "peak MB"),
        Column("growth_mb", "growth MB"),
    ],
    "publish": [
        Column("aggregation.small.rows.publishing's calls on tuples.seconds", "aggregate small s"),
        Column("aggregation.large.rows.publishing's calls on tuples.seconds", "aggregate large s"),
        Column("aggregation.large.votes_per_s_publishing", "votes/s (large)"),
        Column("export.small.people_accepted", "people in the small version"),
        Column("export.small.build_seconds", "export small s"),
        Column("export.large.people_accepted", "people in the large version"),
        Column("export.large.build_seconds", "export large s"),
        Column("export.large.build_peak_mb", "export large peak MB"),
    ],
    "hits": [
        Column("levels.w50.page_p50_ms", "page p50 ms (50)"),
        Column("levels.w50.page_p99_ms", "page p99 ms (50)"),
        Column("levels.w50.vote_p99_ms", "vote p99 ms (50)"),
        Column("levels.w200.page_p50_ms", "page p50 ms (200)"),
        Column("levels.w200.page_p99_ms", "page p99 ms (200)"),
        Column("levels.w200.vote_p50_ms", "vote p50 ms (200)"),
        Column("levels.w200.vote_p99_ms", "vote p99 ms (200)"),
        Column("levels.w200.requests_per_s", "requests/s (200)"),
        Column("levels.w50_capacity.votes_per_s", "votes/s, no pauses"),
        Column("levels.w50_capacity.vote_p99_ms", "vote p99 ms, no pauses"),
        Column("votes_lost", "votes lost"),
    ],
    "train": [
        Column("ms_per_step", "ms a step"),
        Column("images_per_s", "images/s"),
        Column("peak_mb", "peak MB (RSS)"),
    ],
    "train-gpu": [
        Column("ms_per_step", "ms a step"),
        Column("images_per_s", "images/s"),
        Column("peak_mb", "peak MB (CUDA)"),
    ],
    "renders": [
        Column("pairs_per_s", "pairs/s"),
        Column("pairs_per_s_with_jpeg", "pairs/s with JPEG"),
        Column("ms_per_pair", "ms a pair"),
        Column("first_pair_seconds", "first pair s (starts the renderer)"),
    ],
}

TITLES = {
    "eft": "EFT: one at a time (state restored per person, the reference loop) vs batched, CPU",
    "eft-gpu": "GPU: EFT one at a time vs batched",
    "hits": "HIT pages and votes under simulated crowd workers (bench/hits.py: gunicorn, PostgreSQL, Redis; "
    "workers pause 1 s on average before each action; the load generator shares the 2 cores)",
    "renders": "Renders: overlay + side-view pairs, 512 px (bench/renders.py)",
    "fits": "The fit-job path: fits/s and renders/s (bench/fits.py)",
    "train": "Training: one step of the regressor (forward, loss through the body's joints, backward, "
    "Adam; bench/train.py)",
    "train-gpu": "GPU: one training step of the reference network (bench/train.py)",
    "imports": "Dataset import (bench/imports.py, SQLite)",
    "publish": "Aggregation and export (bench/publish.py; each run measures two sizes, small and large)",
}


def _export_phases(measured: list[Measured]) -> list[str]:
    """Where the large export's time goes (the script times each step of the build): the
    bottleneck, named by measurement."""
    prefix = "export.large.phases."
    for m in measured:
        build = m.median("export.large.build_seconds")
        keys = {k for run in m.runs for k in run if k.startswith(prefix)}
        phases = sorted(((m.median(k) or 0.0, k.removeprefix(prefix)) for k in keys), reverse=True)
        if build and phases:
            top = "; ".join(
                f"{name} {seconds:.1f} s ({100 * seconds / build:.0f}%)" for seconds, name in phases[:4]
            )
            return [f"Where the large export's {build:.0f} s go (medians): {top}.", ""]
    return []


def _hits_cpu(measured: list[Measured], cores: int) -> list[str]:
    """Where the CPU goes when the server is pushed to its limit (bench/hits.py reads each part's
    CPU time from /proc): the bottleneck of the HIT targets, named by measurement."""
    for level, words in (("w50_capacity", "50 workers without pauses"), ("w200", "200 workers")):
        prefix = f"levels.{level}.cpu_ms_per_request."
        for m in measured:
            keys = sorted({k for run in m.runs for k in run if k.startswith(prefix)})
            parts = sorted(((m.median(k) or 0.0, k.removeprefix(prefix)) for k in keys), reverse=True)
            total = sum(ms for ms, _ in parts)
            if not total:
                continue
            busy = m.median(f"levels.{level}.cores_busy")
            split = "; ".join(f"{name} {ms:.2f} ms ({100 * ms / total:.0f}%)" for ms, name in parts)
            return [
                f"Where the CPU goes with {words} (medians, CPU milliseconds per request answered): "
                f"{split}; {busy or 0:.2f} of {cores} cores busy. The bottleneck is the largest part: "
                f"{parts[0][1]}.",
                "",
            ]
    return []


def write_report(
    measured: list[Measured],
    machine: dict[str, Any],
    out: Path,
    args: argparse.Namespace,
    seconds: float,
    rounds: int,
) -> None:
    judged = judge(TARGETS, measured, machine)
    folder = out.parent / "report"
    plotted = growth_plot(
        measured,
        [
            ("imports", "import_seconds", "annotations", "seconds"),
            ("imports", "peak_rss_mb", "annotations", "peak RSS (MB)"),
            ("eft", "batched_persons_per_s", "batch size", "persons/s"),
            ("eft-gpu", "batched_persons_per_s", "batch size", "persons/s"),
        ],
        folder / "growth.png",
    )
    write_json(measured, machine, judged, folder / "figures.json")
    gpu = machine["gpu"] or "none"
    lines = [
        "# Benchmark report",
        "",
        f"Made by `{machine.get('command', 'bench/run.py')}`" + f" on {machine['date']}, "
        f"commit {machine['commit']}, in {seconds / 60:.0f} minutes.",
        "",
        f"Machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory_gb']} GB; GPU: {gpu}; "
        f"Python {machine['python']}, torch {machine['torch']}.",
        "",
        f"Every figure is the median of {rounds} runs, each in a fresh process"
        + ("" if rounds == args.repeat else f" (partial: {rounds} of {args.repeat} rounds done)")
        + "; the spread in brackets is (max - min) / median of those runs: how noisy the figure is on this "
        "machine.",
        "",
        "## Targets",
        "",
        *targets_table(judged),
        "",
    ]
    if plotted:
        lines += ["## How the costs grow", "", "![growth](report/growth.png)", ""]
    for suite in ("eft", "eft-gpu", "hits", "renders", "fits", "train", "train-gpu", "imports", "publish"):
        mine = [m for m in measured if m.case.suite == suite]
        if not mine:
            if suite.endswith("-gpu") and any(m.case.suite == suite.removesuffix("-gpu") for m in measured):
                lines += [
                    "## " + TITLES[suite],
                    "",
                    "No GPU on this machine: run the same command on a GPU host to fill this section in.",
                    "",
                ]
            continue
        lines += ["## " + TITLES[suite], "", *suite_table(mine, COLUMNS[suite]), ""]
        if suite == "publish":
            lines += _export_phases(mine)
        if suite == "hits":
            lines += _hits_cpu(mine, int(machine["cores"]))
        if suite.startswith("eft"):
            best = max((m for m in mine if m.median("batched_persons_per_s")),
                       key=lambda m: m.median("batched_persons_per_s") or 0.0, default=None)  # fmt: skip
            if best is not None:
                lines += [f"The batch size that gives the most persons/s here: {best.case.size:g} "
                          f"({best.median('batched_persons_per_s'):.3g} persons/s).", ""]  # fmt: skip
        for m in mine:
            lines += [f"- {m.case.label}: failed: {e}" for e in m.errors]
        if any(m.errors for m in mine):
            lines.append("")
    lines += [
        "Every run's figures: [report/figures.json](report/figures.json); the scripts' own output: "
        "`bench/report/run.log` (not kept in git).",
        "",
    ]
    out.write_text("\n".join(lines))


def rebuild(args: argparse.Namespace) -> int:
    """The report again from the runs kept in ``report/figures.json`` (after a change to the report)."""
    saved = json.loads((args.out.parent / "report" / "figures.json").read_text())
    machine = saved["machine"]
    measured = []
    for row in saved["cases"]:
        m = Measured(Case(row["suite"], row["label"], tuple(row["argv"]), size=row["size"]))
        m.raw, m.errors = list(row["runs"]), list(row["errors"])
        m.runs = [flat_figures(m.case, data) for data in m.raw]
        measured.append(m)
    rounds = max((len(m.runs) + len(m.errors) for m in measured), default=0)
    args.repeat = machine.get("repeat", rounds)
    write_report(measured, machine, args.out, args, float(machine.get("seconds", 0.0)), rounds)
    print(f"wrote {args.out} from {len(measured)} cases' kept runs")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=None, help="runs per case (default 3; --quick: 2)")
    parser.add_argument(
        "--quick", action="store_true", help="small sizes: checks the runner, not the figures"
    )
    parser.add_argument(
        "--only", default=",".join(SUITES), help=f"comma-separated suites of {', '.join(SUITES)}"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "REPORT.md")
    parser.add_argument(
        "--rebuild",
        action="store_true",
        help="write the report again from report/figures.json, running nothing",
    )
    args = parser.parse_args()
    if args.rebuild:
        return rebuild(args)
    args.repeat = args.repeat or (2 if args.quick else 3)
    chosen = {s.strip() for s in args.only.split(",") if s.strip()}
    unknown = chosen - set(SUITES)
    if unknown:
        parser.error(f"unknown suite(s) {sorted(unknown)}; choose from {', '.join(SUITES)}")
    machine = machine_facts()
    machine["command"] = " ".join([".venv/bin/python bench/run.py", *sys.argv[1:]])
    machine["repeat"] = args.repeat
    todo = [c for c in cases(args.quick, bool(machine["gpu"])) if c.suite.removesuffix("-gpu") in chosen]
    folder = args.out.parent / "report"
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "run.log"
    log.write_text("")
    started = time.perf_counter()
    measured = [Measured(c) for c in todo]
    total = len(todo) * args.repeat
    done = 0
    with tempfile.TemporaryDirectory(prefix="bench-") as work:
        for repeat in range(args.repeat):  # rounds over every case, so slow drift spreads over all of them
            for m in measured:
                done += 1
                minutes = (time.perf_counter() - started) / 60
                print(
                    f"[{done}/{total}, {100 * done / total:.0f}%, {minutes:.1f} min] "
                    f"{m.case.suite}: {m.case.label} (run {repeat + 1})",
                    flush=True,
                )
                data, error = run_case(m.case, Path(work), log)
                if data is None:
                    m.errors.append(error)
                    print(f"    failed: {error}", flush=True)
                    continue
                m.raw.append(data)
                m.runs.append(flat_figures(m.case, data))
            # A report after every round: a run stopped part way still leaves its figures.
            machine["seconds"] = time.perf_counter() - started
            write_report(measured, machine, args.out, args, machine["seconds"], repeat + 1)
    print(f"wrote {args.out} and {folder}/ in {(time.perf_counter() - started) / 60:.1f} min")
    return 1 if any(m.errors and not m.runs for m in measured) else 0


if __name__ == "__main__":
    raise SystemExit(main())
