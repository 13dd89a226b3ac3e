"""Fixtures of the web app tests: a small synthetic dataset, imported (fits, regressors)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fitting.synth.generate import SynthConfig, generate
from webapp.datasets.models import Dataset
from webapp.datasets.services import dataset_create, dataset_import


@pytest.fixture
def dataset(tmp_path: Path, settings: Any) -> Dataset:
    settings.DATASET_IMPORT_ROOTS = [tmp_path / "imports"]
    settings.DATASET_WORK_DIR = tmp_path / "work"
    settings.MEDIA_ROOT = tmp_path / "media"
    folder = tmp_path / "imports" / "synth"
    generate(
        SynthConfig(people=5, seed=44, width=160, height=160, max_people_per_image=2), folder, progress=False
    )
    created = dataset_create(
        name="synth", source_format="coco", source_kind="server", source_location=str(folder),
        annotation_path="annotations.json", images_path="images", enqueue=False,
    )  # fmt: skip
    done = dataset_import(dataset_id=created.pk)
    assert done.status == Dataset.Status.DONE, done.error
    return done
