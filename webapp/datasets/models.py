"""Datasets of annotated people, their images and persons (2D keypoints in GT-24)."""

from __future__ import annotations

from typing import Any

from django.db import models

from webapp.core.models import field_default
from webapp.core.taskstate import TaskStatus, TrackedWork


class Dataset(TrackedWork):
    """One imported annotation file (one split of one source dataset) and its import's state
    (the shared task vocabulary: a dataset can be used once its import is ``done``)."""

    class Format(models.TextChoices):
        COCO = "coco", "COCO keypoints JSON"
        MPII = "mpii", "MPII (JSON list)"
        LSP = "lsp", "LSP / LSPet joints.mat"
        POSETRACK = "posetrack", "PoseTrack 2018 (per-video JSON)"
        OCHUMAN = "ochuman", "OCHuman JSON"

    Status = TaskStatus

    class Source(models.TextChoices):
        UPLOAD = "upload", "uploaded zip"
        SERVER = "server", "folder on the server"
        S3 = "s3", "S3 prefix"

    class SplitPreset(models.TextChoices):
        FILE = "file", "every person in the dataset's split"
        RANDOM = "random", "random split by image (seed, test fraction), e.g. LSPet"
        OCHUMAN = "ochuman", "OCHuman as in the paper: its val file is train, its test file is test"

    class OutsidePolicy(models.TextChoices):
        KEEP = "keep", "keep keypoints outside the image (counted)"
        UNLABEL = "unlabel", "mark keypoints outside the image as unlabelled"
        REJECT = "reject", "refuse the import"

    name = models.CharField(max_length=200, unique=True)
    source_format = models.CharField(max_length=16, choices=Format.choices)
    split = models.CharField(
        max_length=32, blank=True, help_text="train, val, test ... as the source names it"
    )
    licence = models.TextField(blank=True, help_text="the source dataset's licence terms, shown with exports")
    source_kind = models.CharField(max_length=8, choices=Source.choices)
    source_location = models.CharField(
        max_length=1000, help_text="the zip's stored name, the server folder, or s3://bucket/prefix"
    )
    annotation_path = models.CharField(
        max_length=500, help_text="annotation file (or PoseTrack folder) relative to the source root"
    )
    images_path = models.CharField(
        max_length=500, blank=True, help_text="image folder relative to the source root"
    )
    outside_policy = models.CharField(max_length=8, choices=OutsidePolicy.choices, default=OutsidePolicy.KEEP)
    split_preset = models.CharField(max_length=8, choices=SplitPreset.choices, default=SplitPreset.FILE)
    split_seed = models.IntegerField(default=0)
    split_test_fraction = models.FloatField(default=0.2)

    stage = models.CharField(max_length=64, blank=True)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)

    annotations_count = models.PositiveIntegerField(default=0)
    people_count = models.PositiveIntegerField(default=0)
    images_count = models.PositiveIntegerField(default=0)
    skipped = models.JSONField(default=dict, blank=True, help_text="reason -> count")
    keypoints_outside = models.PositiveIntegerField(default=0)
    filter_counts = models.JSONField(default=dict, blank=True, help_text="filter preset -> people kept")
    split_counts = models.JSONField(default=dict, blank=True, help_text="split -> people")

    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"{self.name} ({self.get_source_format_display()}, {self.status})"

    @classmethod
    def default(cls, field: str) -> Any:
        """A field's default: the one place it is stated (forms and the command read it)."""
        return field_default(cls, field)

    @property
    def ready(self) -> bool:
        return self.status == TaskStatus.DONE

    @property
    def state(self) -> str:
        """The import's state in the words of a dataset: importing, ready, failed ..."""
        words: dict[str, str] = {TaskStatus.RUNNING: "importing", TaskStatus.DONE: "ready"}
        return words.get(self.status, self.status)

    @property
    def progress_percent(self) -> float:
        return 100.0 * self.progress_done / self.progress_total if self.progress_total else 0.0


class Image(models.Model):
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="images")
    name = models.CharField(max_length=500, help_text="path relative to the dataset's image folder")
    file = models.FileField(max_length=700)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    bytes = models.PositiveBigIntegerField()

    class Meta:
        constraints = (
            models.UniqueConstraint(fields=("dataset", "name"), name="image_unique_name_per_dataset"),
        )
        ordering = ("dataset", "name")

    def __str__(self) -> str:
        return self.name


class Person(models.Model):
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="people")
    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="people")
    source_annotation_id = models.CharField(max_length=64)
    subject_id = models.CharField(max_length=128, blank=True)
    layout = models.CharField(max_length=16)
    bbox = models.JSONField(
        null=True, blank=True, help_text="[x, y, w, h] in pixels, when the source gives one"
    )
    keypoints_raw = models.JSONField(help_text="the source's keypoints (K x 3), flags as written")
    keypoints_gt24 = models.JSONField(help_text="24 x 3: x, y in pixels and validity 0/1")
    labelled = models.PositiveSmallIntegerField()
    keypoints_outside = models.PositiveSmallIntegerField(default=0)
    coco_all = models.BooleanField(help_text="6 or more labelled keypoints")
    coco_part = models.BooleanField(help_text="all 12 limb keypoints labelled")
    split = models.CharField(max_length=32, blank=True)

    class Meta:
        constraints = (
            models.UniqueConstraint(
                fields=("dataset", "source_annotation_id"), name="person_unique_annotation_per_dataset"
            ),
        )
        ordering = ("dataset", "id")

    def __str__(self) -> str:
        return f"{self.dataset.name}:{self.source_annotation_id}"
