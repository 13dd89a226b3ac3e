"""Benchmark: the HIT page and the vote endpoint under concurrent simulated crowd workers, served
by the production server (gunicorn) on PostgreSQL over loopback, with Redis as the cache.

    .venv/bin/python bench/hits.py                           # 50 and 200 workers, then capacity
    .venv/bin/python bench/hits.py --concurrency 20 --seconds 10 --people 600

A fresh database (``--database-url``; created, migrated and dropped) holds a finished fit job of
``--people`` people and an open MTurk validation campaign over them (10 items a HIT, 3 workers a
HIT). gunicorn serves it (``--gunicorn-workers`` sync workers). Each simulated worker is an MTurk
worker: it opens a HIT page with its own assignment id (the assignment is made then), reads the
token from the page, and votes on every item, pausing ``--think`` seconds on average before each
action (exponential), as a person would; then the next HIT. For each level of ``--concurrency``
it runs ``--seconds`` and reports p50 / p99 latency of the page and of a vote, requests and votes
per second. A last level, ``--capacity`` workers that never pause, gives the most votes per
second the server takes. Afterwards every vote answered 201 is looked for in the database:
``votes_lost`` must be 0. The load generator (asyncio, one process) shares the machine's cores
with the server, as a small deployment would not: the report says so.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SUBMIT_TO = "https://workersandbox.mturk.com"
HIT_DATA = re.compile(rb'<script id="hit-data" type="application/json">(.*?)</script>', re.S)


# ------------------------------------------------------------------------------- the database


def _admin_url(url: str) -> tuple[str, str]:
    """(the server's maintenance database URL, the bench database's name)."""
    base, _, name = url.rpartition("/")
    return f"{base}/postgres", name


def database_create(url: str) -> None:
    import psycopg

    admin, name = _admin_url(url)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def database_drop(url: str) -> None:
    import psycopg

    admin, name = _admin_url(url)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def child_setup(people: int) -> dict[str, Any]:
    """In the bench database: a finished fit job, its renders' rows, an open MTurk campaign."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    django.setup()
    from dataclasses import asdict

    import numpy as np
    from django.db import transaction
    from django.utils import timezone

    from bench.publish import make_people_and_fits
    from fitting.config import EftConfig
    from webapp.core.taskstate import TaskStatus
    from webapp.crowd.assignments import hit_key
    from webapp.crowd.models import Campaign, Hit, Provider
    from webapp.crowd.services import campaign_create_validation
    from webapp.datasets.models import Dataset
    from webapp.fits.models import FitJob, Render

    now = timezone.now()
    rng = np.random.default_rng(11)
    with transaction.atomic():
        dataset = Dataset.objects.create(
            name="bench-hits",
            source_format=Dataset.Format.COCO,
            source_kind=Dataset.Source.SERVER,
            source_location="/imports/bench-hits",
            annotation_path="annotations.json",
            images_path="images",
            status=TaskStatus.DONE,
            stage="done",
            people_count=people,
            annotations_count=people,
        )
        job = FitJob.objects.create(
            dataset=dataset,
            filter="all",
            method=FitJob.Method.EFT,
            config=asdict(EftConfig()),
            status=TaskStatus.DONE,
            people_total=people,
            people_done=people,
            render=True,
            started_at=now,
            finished_at=now,
        )
        fits = []
        for start in range(0, people, 2000):
            fits += make_people_and_fits(
                dataset, job, start, min(2000, people - start), rng, 2, (640, 480), "b" * 64
            )
        Render.objects.bulk_create(
            [
                Render(
                    fit=fit, kind=kind, size=512, status=TaskStatus.DONE, file=f"renders/{fit.pk}-{kind}.jpg"
                )
                for fit in fits
                for kind in Render.Kind.values
            ]
        )
        campaign = campaign_create_validation(
            name="bench-hits",
            job=job,
            provider=Provider.MTURK,
            items_per_hit=10,
            votes_per_item=3,
            gold_rate=0.0,
        )
        Campaign.objects.filter(pk=campaign.pk).update(state=Campaign.State.OPEN)
        hits = list(Hit.objects.filter(campaign=campaign).order_by("index"))
        for hit in hits:
            hit.provider_hit_id = f"BENCHHIT{hit.pk:08d}"
        Hit.objects.bulk_update(hits, ["provider_hit_id"])
    return {"hits": [[h.pk, hit_key(h), h.provider_hit_id] for h in hits], "items_per_hit": 10, "per_hit": 3}


def votes_in_database() -> int:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    django.setup()
    from webapp.crowd.models import Vote

    return Vote.objects.count()


# ------------------------------------------------------------------------ where the CPU goes


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (0 if it is gone), from /proc/<pid>/stat."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _processes_named(name: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == name:
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


class CpuMeter:
    """CPU seconds spent by each part of the set-up while a level runs: gunicorn (the Django app:
    its master and workers), PostgreSQL (every postgres process: backends, WAL writer), Redis
    (every redis-server) and the load generator (this process). Read from /proc, so the parts'
    shares are measured, not guessed (Linux only; elsewhere the figures are left out)."""

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid

    def snapshot(self) -> dict[str, dict[int, float]]:
        parts = {
            "gunicorn (Django)": [self.server_pid, *_children(self.server_pid)],
            "PostgreSQL": _processes_named("postgres"),
            "Redis": _processes_named("redis-server"),
        }
        taken = {part: {pid: _cpu_seconds(pid) for pid in pids} for part, pids in parts.items()}
        times = os.times()
        taken["load generator"] = {os.getpid(): times.user + times.system}
        return taken

    @staticmethod
    def spent(before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]) -> dict[str, float]:
        """CPU seconds of each part between two snapshots (a process that started in between
        counts from zero; one that ended in between is lost: gunicorn's workers and the kept
        database connections live through a run)."""
        return {
            part: sum(max(0.0, now - before.get(part, {}).get(pid, 0.0)) for pid, now in pids.items())
            for part, pids in after.items()
        }


# ---------------------------------------------------------------------------- the load itself


class Client:
    """HTTP/1.1 over asyncio streams, one connection a request (gunicorn's sync workers close it)."""

    def __init__(self, port: int) -> None:
        self.port = port

    async def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes, float]:
        started = time.perf_counter()
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        writer.write(head.encode() + b"\r\n" + (body or b""))
        await writer.drain()
        data = await reader.read()
        writer.close()
        seconds = time.perf_counter() - started
        status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
        return status, data.partition(b"\r\n\r\n")[2], seconds


class Load:
    """The shared state of one level: HITs with free places, what each request gave."""

    def __init__(self, hits: list[list[Any]], free: dict[int, int]) -> None:
        self.free = free  # places left on each HIT, shared by the levels of one run
        self.hits = {h[0]: h for h in hits}
        self.order = [h[0] for h in hits]
        self.page_ms: list[float] = []
        self.vote_ms: list[float] = []
        self.statuses: dict[str, int] = {}
        self.accepted = 0  # votes answered 201
        self.requests = 0

    def take(self, done: set[int]) -> list[Any] | None:
        for pk in self.order:
            if self.free[pk] > 0 and pk not in done:
                self.free[pk] -= 1
                return self.hits[pk]
        return None

    def count(self, kind: str, status: int) -> None:
        key = f"{kind} {status}"
        self.statuses[key] = self.statuses.get(key, 0) + 1
        self.requests += 1


async def simulated_worker(
    client: Client, load: Load, name: str, think: float, until: float, rng: random.Random
) -> None:
    done: set[int] = set()
    assignment = 0

    async def pause() -> None:
        if think > 0:
            await asyncio.sleep(rng.expovariate(1.0 / think))

    while time.perf_counter() < until:
        hit = load.take(done)
        if hit is None:
            return
        pk, key, provider_hit_id = hit
        done.add(pk)
        assignment += 1
        await pause()
        path = (
            f"/hit/{pk}/?key={key}&hitId={provider_hit_id}&assignmentId={name}A{assignment:05d}"
            f"&workerId={name}&turkSubmitTo={SUBMIT_TO}"
        )
        status, body, seconds = await client.request("GET", path)
        load.count("page", status)
        if status != 200:
            continue
        load.page_ms.append(1000 * seconds)
        found = HIT_DATA.search(body)
        if found is None:
            load.count("page without hit-data", status)
            continue
        data = json.loads(found.group(1))
        for step in data["steps"]:
            if time.perf_counter() >= until:
                return
            await pause()
            answer = "accept" if rng.random() < 0.85 else "reject"
            vote = json.dumps(
                {"token": data["token"], "step": step["step"], "answer": answer, "seconds": 2.0}
            )
            status, _, seconds = await client.request("POST", "/api/crowd/votes/", vote.encode())
            load.count("vote", status)
            load.vote_ms.append(1000 * seconds)
            if status == 201:
                load.accepted += 1


async def run_level(
    port: int,
    hits: list[list[Any]],
    free: dict[int, int],
    workers: int,
    think: float,
    seconds: float,
    prefix: str,
    meter: CpuMeter | None = None,
) -> dict[str, Any]:
    load = Load(hits, free)
    client = Client(port)
    before = meter.snapshot() if meter else {}
    started = time.perf_counter()
    until = started + seconds
    rngs = [random.Random(k) for k in range(workers)]
    await asyncio.gather(
        *(simulated_worker(client, load, f"{prefix}{k:05d}", think, until, rngs[k]) for k in range(workers))
    )
    elapsed = time.perf_counter() - started
    cpu = CpuMeter.spent(before, meter.snapshot()) if meter else {}

    def pct(values: list[float], q: float) -> float | None:
        if not values:
            return None
        ordered = sorted(values)
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)

    return {
        "workers": workers,
        "think_s": think,
        "seconds": round(elapsed, 1),
        "page_p50_ms": pct(load.page_ms, 0.50),
        "page_p99_ms": pct(load.page_ms, 0.99),
        "vote_p50_ms": pct(load.vote_ms, 0.50),
        "vote_p99_ms": pct(load.vote_ms, 0.99),
        "pages": len(load.page_ms),
        "votes_sent": len(load.vote_ms),
        "votes_accepted": load.accepted,
        "votes_per_s": round(load.accepted / elapsed, 1),
        "requests_per_s": round(load.requests / elapsed, 1),
        "vote_mean_ms": round(statistics.fmean(load.vote_ms), 1) if load.vote_ms else None,
        "statuses": load.statuses,
        "hits_exhausted": all(v == 0 for v in load.free.values()),
        # CPU milliseconds of each part per request answered, and the cores they kept busy.
        "cpu_ms_per_request": {
            part: round(1000 * spent / max(load.requests, 1), 2) for part, spent in cpu.items()
        },
        "cores_busy": round(sum(cpu.values()) / elapsed, 2) if cpu else None,
    }


# ------------------------------------------------------------------------------------- parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for(port: int, timeout: float = 60.0) -> None:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"gunicorn did not listen on port {port} within {timeout:.0f} s")


def _child(args: list[str], env: dict[str, str]) -> Any:
    with tempfile.NamedTemporaryFile(suffix=".json") as result:
        subprocess.run(
            [sys.executable, __file__, "--child", *args, "--result", result.name],
            cwd=ROOT,
            env=env,
            check=True,
        )
        return json.loads(Path(result.name).read_text())


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--concurrency", default="50,200", help="simulated workers at once, per level")
    parser.add_argument(
        "--capacity", type=int, default=50, help="workers that never pause (0: no such level)"
    )
    parser.add_argument("--think", type=float, default=1.0, help="mean pause before each action, seconds")
    parser.add_argument("--seconds", type=float, default=30.0, help="per level")
    parser.add_argument("--people", type=int, default=10000, help="items of the campaign (3 votes each)")
    parser.add_argument("--gunicorn-workers", type=int, default=4)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_hits"),
    )
    parser.add_argument("--cache-url", default=os.environ.get("BENCH_CACHE_URL", "redis://127.0.0.1:6379/14"))
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        what = args.child[0]
        out = child_setup(int(args.child[1])) if what == "setup" else votes_in_database()
        args.result.write_text(json.dumps(out))
        return 0

    levels = [int(v) for v in args.concurrency.split(",") if v.strip()]
    work = Path(tempfile.mkdtemp(prefix="bench-hits-"))
    env = dict(
        os.environ,
        DATABASE_URL=args.database_url,
        CACHE_URL=args.cache_url,
        DJANGO_DEBUG="false",
        SECRET_KEY="bench-" + "x" * 60,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        EFT_ENV_FILE="none",
        DATA_DIR=str(work),
        CROWD_VOTE_RATE="10000000/min",
        CELERY_TASK_ALWAYS_EAGER="true",
        PYTHONUNBUFFERED="1",
    )
    database_create(args.database_url)
    server = None
    try:
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=env, check=True
        )
        setup = _child(["setup", str(args.people)], env)
        hits = setup["hits"]
        print(
            f"set up {len(hits)} HITs of {setup['items_per_hit']} items ({args.people} people) in "
            f"{time.perf_counter() - started:.0f} s",
            flush=True,
        )
        port = _free_port()
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "webapp.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(args.gunicorn_workers),
                "--log-level",
                "warning",
                "--backlog",
                "2048",
            ],
            cwd=ROOT,
            env=env,
            start_new_session=True,
        )
        _wait_for(port)
        meter = CpuMeter(server.pid) if Path("/proc/self/stat").exists() else None
        results = []
        free = {h[0]: setup["per_hit"] for h in hits}
        # Warm-up, not counted: every gunicorn worker loads its URLs, templates and connections.
        warm = asyncio.run(run_level(port, hits, free, 2 * args.gunicorn_workers, 0.0, 3.0, "WARM"))
        plan = [(n, args.think) for n in levels] + ([(args.capacity, 0.0)] if args.capacity else [])
        for index, (n, think) in enumerate(plan):
            label = f"{n} workers" + (", no pause" if think == 0 else f", {think:g} s pauses")
            print(f"level: {label}, {args.seconds:.0f} s ...", flush=True)
            level = asyncio.run(run_level(port, hits, free, n, think, args.seconds, f"W{index}", meter))
            if level["hits_exhausted"]:
                print(
                    "  every HIT's places were taken before the time was up: give more --people", flush=True
                )
            results.append(level)
            print(
                f"  page p50 {level['page_p50_ms']} ms, p99 {level['page_p99_ms']} ms; vote p50 "
                f"{level['vote_p50_ms']} ms, p99 {level['vote_p99_ms']} ms; {level['votes_per_s']} votes/s; "
                f"{level['statuses']}",
                flush=True,
            )
            if level["cpu_ms_per_request"]:
                shares = ", ".join(f"{k} {v} ms" for k, v in level["cpu_ms_per_request"].items())
                print(f"  CPU per request: {shares}; {level['cores_busy']} cores busy", flush=True)
        stored = _child(["count"], env)
        accepted = warm["votes_accepted"] + sum(r["votes_accepted"] for r in results)
        figures: dict[str, Any] = {
            "people": args.people,
            "hits": len(hits),
            "gunicorn_workers": args.gunicorn_workers,
            "cores": os.cpu_count(),
            "database": "postgresql",
            "levels": {f"w{r['workers']}" + ("_capacity" if r["think_s"] == 0 else ""): r for r in results},
            "votes_accepted": accepted,
            "votes_stored": stored,
            "votes_lost": accepted - stored,
            "note": "the load generator runs on the same cores as the server",
        }
        print(f"votes answered 201: {accepted}; in the database: {stored}; lost: {accepted - stored}")
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2))
        return 0
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
        database_drop(args.database_url)
        import shutil

        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
