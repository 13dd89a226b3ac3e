"""``manage.py score_fits``: a fit job's fits against known 3D truth (a synthetic set's
``truth.npz``): PA-MPJPE and MPJPE in millimetres, as a whole and by sanity verdict."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from fitting.truth import TruthFileError
from webapp.fits.models import FitJob
from webapp.fits.selectors import job_truth_score


class Command(BaseCommand):
    help = "Score a fit job's fits against 3D truth (truth.npz, matched by annotation id): PA-MPJPE, MPJPE."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("job", type=int, help="the fit job's id")
        parser.add_argument(
            "--truth", required=True, type=Path, help="truth.npz of the synthetic set imported"
        )
        parser.add_argument("--json", action="store_true", help="print JSON instead of lines")

    def handle(self, *args: Any, **options: Any) -> None:
        job = FitJob.objects.filter(pk=options["job"]).select_related("regressor", "dataset").first()
        if job is None:
            raise CommandError(f"no fit job {options['job']}")
        if not job.fits.exists():
            raise CommandError(f"fit job {job.pk} has no fits yet ({job.status})")
        try:
            score = job_truth_score(job, options["truth"])
        except TruthFileError as error:
            raise CommandError(str(error)) from error
        if score.people == 0:
            raise CommandError(
                f"none of job {job.pk}'s {len(score.unmatched)} fits has a row in {options['truth']}: "
                "is it the truth of the dataset this job fitted?"
            )
        regressor = job.regressor.name if job.regressor else "the configured regressor"
        if job.status != FitJob.Status.DONE:
            self.stderr.write(f"fit job {job.pk} is {job.status}: its {score.people} fits so far are scored")
        if options["json"]:
            self.stdout.write(
                json.dumps({"job": job.pk, "regressor": regressor, **score.as_dict()}, indent=1)
            )
            return
        self.stdout.write(
            f"job {job.pk} ({job.get_method_display()} on {job.dataset.name}, from {regressor}): "
            f"{score.people} fits scored, {len(score.unmatched)} without truth, "
            f"{score.labels_checked} people's labels checked against the file's"
        )
        self.stdout.write(
            f"  PA-MPJPE {score.pa_mpjpe:.1f} mm (median {score.pa_mpjpe_median:.1f}), "
            f"MPJPE {score.mpjpe:.1f} mm"
        )
        for group, (count, value) in score.by_group.items():
            self.stdout.write(f"  {group} by the sanity rule: {count} fits, PA-MPJPE {value:.1f} mm")
