"""The regressor registry: every checkpoint a fit job may start from is a row.

A row is made by ``webapp.regressors.services``: the shipped bootstrap regressor (registered on
first use, from the facts shipped beside it), a SPIN / EFT / own checkpoint a staff member
uploads, and the checkpoints training jobs make. An upload is queued, then checked on a worker
(torch lives there, not in the web process) by the strict load the fitting code does: only a
``done`` row may be chosen by a fit job; a ``failed`` one says why. The file lives in media
storage under ``regressors/<sha256>.pt`` and is never changed: a new checkpoint is a new row.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from webapp.core.taskstate import TaskStatus, TrackedWork


class Regressor(TrackedWork):
    Status = TaskStatus

    class Source(models.TextChoices):
        SHIPPED = "shipped", "shipped with the product (the bootstrap regressor)"
        UPLOADED = "uploaded", "uploaded by staff"
        TRAINED = "trained", "made by a training job"

    name = models.CharField(max_length=200, unique=True)
    source = models.CharField(max_length=16, choices=Source.choices)
    file = models.FileField(max_length=500, help_text="regressors/<sha256>.pt in media storage")
    sha256 = models.CharField(max_length=64, unique=True)
    size = models.PositiveBigIntegerField(help_text="bytes")
    original_name = models.CharField(max_length=255, blank=True, help_text="the file's name when uploaded")
    # What the weights are: read off the checkpoint by its check (blank until then).
    backbone = models.CharField(max_length=32, blank=True)
    input_size = models.PositiveIntegerField(default=0, help_text="crop side in pixels")
    in_channels = models.PositiveSmallIntegerField(default=0, help_text="3: RGB; 6: RGB and the 2D skeleton")
    # The body model it was trained for: "open" or "smpl" (the licensed file); the body file's
    # sha256 where the checkpoint records it (SPIN / EFT's own files do not: licensed SMPL).
    body_kind = models.CharField(max_length=16, blank=True)
    body_sha256 = models.CharField(max_length=64, blank=True)
    body_description = models.CharField(max_length=300, blank=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children",
        help_text="the checkpoint it was fine-tuned from",
    )  # fmt: skip
    training_data = models.JSONField(default=dict, blank=True, help_text="what it was trained on")
    metrics = models.JSONField(default=dict, blank=True, help_text="its evaluation figures")
    notes = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"{self.name} ({self.sha256[:12]})"

    @property
    def short_sha(self) -> str:
        return self.sha256[:12]
