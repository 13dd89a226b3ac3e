"""``manage.py crowd_gold``: make a gold set of synthetic people (right fits and fits made wrong on
purpose) for crowd quality control; its pictures are drawn by the render workers, or here
(``--here``) with a progress bar."""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from webapp.crowd.gold import gold_set_make
from webapp.crowd.models import GoldItem
from webapp.fits.models import Render


class Command(BaseCommand):
    help = "Make gold items from synthetic people with known 3D truth (40% right, the rest wrong on purpose)."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--people", type=int, default=40, help="synthetic people to make (default 40)")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--here", action="store_true", help="draw the pictures in this process")

    def handle(self, *args: Any, **options: Any) -> None:
        from webapp.fits.renders import fit_renders_make

        try:
            job = gold_set_make(
                people=options["people"], seed=options["seed"], render=not options["here"],
                say=lambda text: self.stdout.write(text),
            )  # fmt: skip
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if options["here"]:
            from webapp.fits.renders import renders_request

            ids = renders_request(job=job, fit_ids=list(job.fits.values_list("id", flat=True)), enqueue=False)
            for render_id in tqdm(ids, desc="drawing gold pictures", unit="picture"):
                fit_renders_make(render_ids=[render_id], worker="crowd_gold")
            failed = Render.objects.filter(fit__job=job, status="failed").count()
            if failed:
                raise CommandError(f"{failed} pictures could not be drawn: see the renders of job {job.pk}")
        gold = GoldItem.objects.filter(fit__job=job)
        right, wrong = gold.filter(answer="accept").count(), gold.filter(answer="reject").count()
        self.stdout.write(
            self.style.SUCCESS(
                f"gold job {job.pk}: {right + wrong} gold items ({right} right, {wrong} wrong)"
            )
        )
