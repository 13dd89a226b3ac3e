"""``manage.py fit_job``: start a fit job over a dataset's people, queued for the workers or run
here and now with a progress bar (``--here``)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from fitting.datasets.filters import DEFAULT_FILTER, FILTERS
from webapp.core.models import field_default
from webapp.datasets.models import Dataset
from webapp.fits.models import FitChunk, FitJob
from webapp.fits.selectors import job_progress, job_summary
from webapp.fits.services import fit_chunk_run, fit_job_config, fit_job_start
from webapp.regressors.models import Regressor
from webapp.regressors.selectors import regressor_named


def _option(text: str) -> tuple[str, Any]:
    name, sep, raw = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"{text!r}: write an option as name=value, e.g. max_iterations=100")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw  # a bare word, e.g. sanity=exporter
    return name.strip(), value


class Command(BaseCommand):
    help = "Start a fit job (EFT, SMPLify or the regressor alone) over a ready dataset's people."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--dataset", required=True, help="the dataset's name or id")
        parser.add_argument(
            "--method", default=FitJob.Method.EFT, choices=[m.value for m in FitJob.STARTABLE]
        )
        parser.add_argument(
            "--filter", default=DEFAULT_FILTER, choices=sorted(FILTERS),
            help=f"which people (default {DEFAULT_FILTER}: {FILTERS[DEFAULT_FILTER].description})",
        )  # fmt: skip
        parser.add_argument("--split", default="", help="only people of this split (default: all)")
        parser.add_argument(
            "--option", action="append", type=_option, default=[], metavar="NAME=VALUE",
            help="a method option, repeatable: --option max_iterations=100 --option sanity=exporter",
        )  # fmt: skip
        parser.add_argument("--chunk-size", type=int, default=field_default(FitJob, "chunk_size"))
        parser.add_argument(
            "--regressor", default="", help="a registered regressor's name or id (default: the configured)"
        )
        parser.add_argument("--no-render", action="store_true", help="do not render the fits")
        parser.add_argument(
            "--here", action="store_true", help="fit here and now in this process (no worker needed)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        key = options["dataset"]
        dataset = Dataset.objects.filter(pk=int(key)).first() if key.isdigit() else None
        dataset = dataset or Dataset.objects.filter(name=key).first()
        if dataset is None:
            names = ", ".join(Dataset.objects.values_list("name", flat=True)[:20]) or "none yet"
            raise CommandError(f"no dataset {key!r} (datasets: {names})")
        regressor = None
        if options["regressor"]:
            regressor = regressor_named(options["regressor"])
            if regressor is None:
                names = ", ".join(Regressor.objects.values_list("name", flat=True)[:20]) or "none yet"
                raise CommandError(f"no regressor {options['regressor']!r} (registered: {names})")
        try:
            config = fit_job_config(method=options["method"], options=dict(options["option"]))
            job = fit_job_start(
                dataset=dataset, method=options["method"], filter_name=options["filter"],
                split=options["split"], config=config, chunk_size=options["chunk_size"],
                render=not options["no_render"], enqueue=not options["here"], regressor=regressor,
            )  # fmt: skip
        except ValidationError as exc:
            raise CommandError(f"cannot start the job: {'; '.join(exc.messages)}") from exc
        self.stdout.write(
            f"job {job.pk}: {job.get_method_display()} on {dataset.name}, {job.people_total} people in "
            f"{job.chunks.count()} chunks of {job.chunk_size}; page /staff/jobs/{job.pk}/"
        )
        if not options["here"]:
            self.stdout.write("queued for the workers (gpu queue); follow it on its page or /api/fits/jobs/")
            return
        with tqdm(total=job.people_total, unit="person", desc=f"job {job.pk}") as bar:
            for chunk in FitChunk.objects.filter(job=job).order_by("index"):
                fit_chunk_run(chunk_id=chunk.pk, worker="manage.py fit_job")
                job.refresh_from_db()
                bar.update(job.people_done + job.people_failed - bar.n)
        job.refresh_from_db()
        progress, summary = job_progress(job), job_summary(job)
        self.stdout.write(
            f"job {job.pk} {progress['state']}: {progress['people_done']} fitted, "
            f"{progress['people_failed']} failed; 2D error mean {summary['error_mean_px']} px, "
            f"median {summary['error_median_px']} px; sanity pass rate {summary['sanity_pass_rate']}"
        )
        if job.status == FitJob.Status.FAILED:
            raise CommandError(f"job {job.pk} failed: every chunk failed (see its page)")
