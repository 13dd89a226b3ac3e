"""Benchmark: fits/s and renders/s of the fit-job path on this machine.

    .venv/bin/python bench/fits.py --people 40 --method eft

Makes a synthetic dataset, imports it into a fresh embedded database (SQLite in ``--work``), starts
a fit job and runs its chunks in this process through the same services the Celery tasks call
(so the figures are the engine's, without broker latency), then renders every fit (camera and
side views, 512 px). Prints fits/s (all chunks, and without the first one, which loads the
engine) and renders/s. ``--device cuda`` on a GPU host.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--people", type=int, default=40)
    parser.add_argument("--method", choices=["eft", "regressor", "smplify"], default="eft")
    parser.add_argument(
        "--iterations", type=int, default=50, help="EFT iteration limit (stops early under 3 px)"
    )
    parser.add_argument("--chunk", type=int, default=8)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench-fits"))
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    if args.work.exists():
        shutil.rmtree(args.work)
    os.environ.update(
        DATA_DIR=str(args.work / "data"), DATASET_IMPORT_ROOTS=str(args.work / "imports"),
        SECRET_KEY="bench-" + "x" * 60, DJANGO_DEBUG="false", EFT_ENV_FILE="none",
        EFT_TORCH_DEVICE=args.device, DJANGO_SETTINGS_MODULE="webapp.settings",
    )  # fmt: skip
    os.environ.pop("DATABASE_URL", None)
    import django

    django.setup()
    from django.core.management import call_command

    from fitting.synth.generate import SynthConfig, generate
    from webapp.datasets.services import dataset_create, dataset_import
    from webapp.fits.models import Fit, FitChunk
    from webapp.fits.renders import fit_renders_make, renders_request
    from webapp.fits.services import fit_chunk_run, fit_job_config, fit_job_start

    call_command("migrate", verbosity=0)
    folder = args.work / "imports" / "synth"
    generate(SynthConfig(people=args.people, seed=7), folder, progress=False)
    dataset = dataset_import(
        dataset_id=dataset_create(name="bench", source_format="coco", source_kind="server",
                                  source_location=str(folder), annotation_path="annotations.json",
                                  images_path="images", enqueue=False).pk
    )  # fmt: skip
    options = {"max_iterations": args.iterations} if args.method != "smplify" else {}
    config = fit_job_config(method=args.method, options=options)
    job = fit_job_start(dataset=dataset, method=args.method, filter_name="coco-all", config=config,
                        chunk_size=args.chunk, render=False, enqueue=False)  # fmt: skip
    times = []
    for chunk in FitChunk.objects.filter(job=job).order_by("index"):
        started = time.perf_counter()
        fit_chunk_run(chunk_id=chunk.pk)
        times.append((time.perf_counter() - started, len(chunk.person_ids)))
    fits = Fit.objects.filter(job=job).count()
    total = sum(t for t, _ in times)
    steady = sum(t for t, _ in times[1:])
    steady_people = sum(n for _, n in times[1:])
    started = time.perf_counter()
    fit_ids = list(Fit.objects.filter(job=job).values_list("id", flat=True))
    renders = fit_renders_make(render_ids=renders_request(job=job, fit_ids=fit_ids, enqueue=False))
    render_seconds = time.perf_counter() - started
    from fitting.render.backend import detect_backend

    figures = {
        "method": args.method,
        "device": args.device,
        "people": fits,
        "chunks": len(times),
        "fits_per_s": round(fits / total, 3),
        "fits_per_s_after_first_chunk": round(steady_people / steady, 3) if steady else None,
        "mean_iterations": round(
            sum(Fit.objects.filter(job=job).values_list("iterations", flat=True)) / fits, 1
        ),
        "renders": renders,
        "renders_per_s": round(renders / render_seconds, 2),
        "render_backend": detect_backend(["egl", "osmesa"]).backend,
    }
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
