"""Gold items made by the product, with no manual labelling: a set of synthetic people with known
3D truth is made, imported as a dataset like any other, and given a gold fit job whose fits are
the truth ("accept") or the truth made wrong on purpose ("reject": a forearm or shin bent past
its joint limit, the legs swapped, the body turned about its vertical axis, an arm pushed behind
the torso; fitting.synth.gold). Their pictures are drawn by the render workers exactly like a
real fit's, with the open body that made the people.
"""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from django.core.files import File
from django.db import transaction
from django.utils import timezone

from webapp.core.taskstate import TaskStatus
from webapp.crowd.models import GoldItem
from webapp.datasets.models import Dataset, Person
from webapp.datasets.services import dataset_import, dataset_import_request
from webapp.datasets.sources import SourceRequest
from webapp.fits.engine import OPEN_BODY
from webapp.fits.models import Fit, FitJob
from webapp.fits.renders import renders_request

if TYPE_CHECKING:
    from fitting.synth.gold import GoldFit

#: Share of a gold set that is right (the rest is wrong on purpose, kinds in turn).
SHARE_RIGHT = 0.4
#: People whose truth a weak camera cannot lay on them this close (share of the crop side) get
#: no gold fit (fitting.synth.gold.gold_fits).
MAX_CAMERA_ERROR = 0.05


def zip_folder(folder: Path, target: Path) -> Path:
    """A stored (uncompressed) zip of every file under ``folder``, paths relative to it."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
    return target


def gold_set_make(
    *, people: int = 40, seed: int = 0, render: bool = True, say: Callable[[str], None] | None = None
) -> FitJob:
    """Make a gold set of ``people`` synthetic people (seeded): their dataset, a done gold job of
    one fit each (about 40% right), a GoldItem per fit, and their renders requested (``render``:
    sent to the render workers on commit). Returns the gold job."""
    from fitting.synth.generate import SynthConfig, generate
    from fitting.synth.gold import gold_fits

    if not 1 <= people <= 10_000:
        raise ValueError(f"people must be 1..10000, got {people}")
    say = say or (lambda _: None)
    work = Path(tempfile.mkdtemp(prefix="eft-gold-"))
    try:
        folder = work / "set"
        say(f"making {people} synthetic people (seed {seed})")
        generate(
            SynthConfig(people=people, seed=seed, width=384, height=384, max_people_per_image=1,
                        truncation_rate=0.0),
            folder, progress=False,
        )  # fmt: skip
        say("computing the right and wrong fits")
        fits = gold_fits(folder, rng_seed=seed, share_right=SHARE_RIGHT, max_camera_error=MAX_CAMERA_ERROR)
        name = f"gold: synthetic people (seed {seed}, {people} people)"
        if Dataset.objects.filter(name=name).exists():
            name = f"{name} {timezone.now():%Y-%m-%d %H:%M:%S}"
        say(f"importing the set as dataset {name!r}")
        archive = zip_folder(folder, work / f"gold-seed{seed}.zip")
        with archive.open("rb") as handle:
            dataset = dataset_import_request(
                source=SourceRequest(archive=File(handle, name=archive.name)), enqueue=False, name=name,
                source_format="coco", annotation_path="annotations.json", images_path="images",
                licence="CC0-1.0 (synthetic people made by this product)",
            )  # fmt: skip
        dataset = dataset_import(dataset_id=dataset.pk)
        if dataset.status != TaskStatus.DONE:
            raise RuntimeError(f"the gold set's import failed: {dataset.error}")
        return _gold_job(dataset, fits, seed, render, say)
    finally:
        shutil.rmtree(work, ignore_errors=True)


@transaction.atomic
def _gold_job(
    dataset: Dataset, fits: list[GoldFit], seed: int, render: bool, say: Callable[[str], None]
) -> FitJob:
    persons = {p.source_annotation_id: p for p in Person.objects.filter(dataset=dataset)}
    now = timezone.now()
    job = FitJob.objects.create(
        dataset=dataset, filter="all", method=FitJob.Method.GOLD, body_model=OPEN_BODY,
        config={"seed": seed, "share_right": SHARE_RIGHT, "max_camera_error": MAX_CAMERA_ERROR},
        status=TaskStatus.DONE, people_total=len(fits), people_done=len(fits), render=render,
        started_at=now, finished_at=now,
    )  # fmt: skip
    rows = []
    shown: set[str] = set()  # one example of each kind for the instructions, kept out of HITs
    for gold in fits:
        person = persons[str(gold.annotation_id)]
        row = Fit.objects.create(
            job=job, person=person, pose_rotmat=gold.pose_rotmat.tolist(), betas=gold.betas.tolist(),
            cam_weak=gold.cam_weak.tolist(), joint_error_px=[None] * 24, mean_error_px=0.0, iterations=0,
            keypoint_loss=0.0, max_abs_beta=float(abs(gold.betas).max()), sanity_ok=True,
            sanity_reason=f"gold ({gold.kind})", sanity_rule="gold", seconds=0.0, body_model=OPEN_BODY,
        )  # fmt: skip
        example = gold.kind not in shown
        shown.add(gold.kind)
        rows.append(
            GoldItem(
                fit=row, source=GoldItem.Source.SYNTHETIC, answer=gold.answer, reason=gold.reason,
                example=example,
            )
        )  # fmt: skip
    GoldItem.objects.bulk_create(rows)
    right = sum(1 for g in fits if g.answer == "accept")
    say(f"gold job {job.pk}: {len(fits)} gold fits ({right} right, {len(fits) - right} wrong on purpose)")
    if render:
        renders_request(job=job, fit_ids=[r.fit_id for r in rows])
    return job
