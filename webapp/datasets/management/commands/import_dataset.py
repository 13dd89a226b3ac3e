"""``manage.py import_dataset``: import a dataset from a server folder or a zip, here and now."""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.management.base import BaseCommand, CommandError

from webapp.datasets.models import Dataset
from webapp.datasets.services import dataset_import, dataset_import_request
from webapp.datasets.sources import SourceRequest


class Command(BaseCommand):
    help = "Import a dataset (COCO, MPII, LSP, PoseTrack, OCHuman) from a server folder or a zip."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--format", required=True, choices=[c.value for c in Dataset.Format])
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument(
            "--folder", type=Path, help="a folder on this server (inside DATASET_IMPORT_ROOTS)"
        )
        source.add_argument("--zip", type=Path, help="a zip with the annotation file and the images")
        source.add_argument(
            "--s3", help="an S3 prefix, s3://bucket/prefix (credentials from AWS_* variables)"
        )
        parser.add_argument(
            "--annotations", required=True, help="annotation file (or folder) inside the source"
        )
        parser.add_argument("--images", default="", help="image folder inside the source")
        parser.add_argument("--split", default="")
        parser.add_argument("--licence", default="")
        parser.add_argument(
            "--outside",
            default=Dataset.default("outside_policy"),
            choices=[c.value for c in Dataset.OutsidePolicy],
        )
        parser.add_argument(
            "--split-preset",
            default=Dataset.default("split_preset"),
            choices=[c.value for c in Dataset.SplitPreset],
        )
        parser.add_argument("--split-seed", type=int, default=Dataset.default("split_seed"))
        parser.add_argument(
            "--split-test-fraction", type=float, default=Dataset.default("split_test_fraction")
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            with contextlib.ExitStack() as stack:
                source = SourceRequest(
                    server_folder=str(Path(options["folder"]).resolve()) if options["folder"] else "",
                    s3_prefix=options["s3"] or "",
                )
                if options["zip"]:
                    path = Path(options["zip"])
                    try:
                        handle = stack.enter_context(path.open("rb"))
                    except OSError as exc:
                        raise CommandError(f"{path}: cannot be read ({exc.strerror})") from exc
                    source = SourceRequest(archive=File(handle, name=path.name))
                dataset = self._request(source, options)
        except ValidationError as exc:
            raise CommandError(f"cannot create the dataset: {'; '.join(exc.messages)}") from exc

        def progress(stage: str, done: int, total: int) -> None:
            share = f" {100 * done / total:5.1f}%" if total else ""
            self.stdout.write(f"\r{stage}: {done}/{total or '?'}{share}", ending="")
            self.stdout.flush()

        dataset = dataset_import(dataset_id=dataset.pk, progress=progress)
        self.stdout.write("")
        if dataset.status != Dataset.Status.DONE:
            raise CommandError(f"import of {dataset.name} failed: {dataset.error}")
        self.stdout.write(
            f"imported {dataset.name}: {dataset.people_count} people in {dataset.images_count} images "
            f"({dataset.annotations_count} annotations; skipped {dataset.skipped or 'none'}; "
            f"{dataset.keypoints_outside} keypoints outside their image); filters {dataset.filter_counts}; "
            f"splits {dataset.split_counts}"
        )

    def _request(self, source: SourceRequest, options: dict[str, Any]) -> Dataset:
        return dataset_import_request(
            source=source,
            name=options["name"],
            source_format=options["format"],
            annotation_path=options["annotations"],
            images_path=options["images"],
            split=options["split"],
            licence=options["licence"],
            outside_policy=options["outside"],
            split_preset=options["split_preset"],
            split_seed=options["split_seed"],
            split_test_fraction=options["split_test_fraction"],
            enqueue=False,
        )
