"""The regressor registry: every checkpoint a fit job may start from is a row.

A row is made by ``webapp.regressors.services``: the shipped bootstrap regressor (registered on
first use, from the facts shipped beside it), a SPIN / EFT / own checkpoint a staff member
uploads, and the checkpoints training jobs make. An upload is queued, then checked on a worker
(torch lives there, not in the web process) by the strict load the fitting code does: only a
``done`` row may be chosen by a fit job; a ``failed`` one says why. The file lives in media
storage under ``regressors/<sha256>.pt`` and is never changed: a new checkpoint is a new row.
"""

from __future__ import annotations

import uuid

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


class TrainingJob(TrackedWork):
    """Fine-tuning a registered regressor on fits (the paper's loop: EFT fits of 2D datasets as
    pseudo ground truth train a better regressor), on the ``gpu`` queue.

    Resumable: the worker saves ``latest.pt`` every ``checkpoint_every`` steps into media storage;
    a worker that dies leaves the row running with an old heartbeat, the sweeper queues it again,
    and the next worker goes on from the saved step. Cancellable: ``cancel_requested`` is read at
    each progress report. It ends in a new registered ``Regressor`` (``result``).
    """

    Status = TaskStatus

    class Selection(models.TextChoices):
        SANITY = "sanity", "every fit of the fit jobs that passes its sanity check"
        ACCEPTED = "accepted", "only fits of the fit jobs that a published benchmark version accepted"

    name = models.CharField(max_length=200, help_text="the new regressor's name")
    key = models.UUIDField(
        default=uuid.uuid4,
        unique=True,
        editable=False,
        help_text="names its folders (an id may repeat)",
    )
    parent = models.ForeignKey(
        Regressor, on_delete=models.PROTECT, related_name="training_jobs", help_text="fine-tuned from"
    )
    fit_jobs = models.ManyToManyField("fits.FitJob", blank=True, related_name="training_jobs")
    versions = models.ManyToManyField(
        "benchmarks.BenchmarkVersion", blank=True, related_name="training_jobs",
        help_text="published benchmark versions: their accepted fits",
    )  # fmt: skip
    selection = models.CharField(max_length=16, choices=Selection.choices, default=Selection.SANITY)
    config = models.JSONField(default=dict, help_text="TrainingOptions as used")
    people_train = models.PositiveIntegerField(default=0)
    people_val = models.PositiveIntegerField(default=0)
    step = models.PositiveIntegerField(default=0)
    max_steps = models.PositiveIntegerField(default=0)
    loss = models.FloatField(null=True, blank=True)
    val_pa_mpjpe = models.FloatField(null=True, blank=True, help_text="mm, against the held-out fits")
    best_pa_mpjpe = models.FloatField(null=True, blank=True)
    eta_seconds = models.FloatField(null=True, blank=True)
    history = models.JSONField(default=list, blank=True, help_text="the curves: loss and validation per step")
    resumed = models.PositiveIntegerField(default=0, help_text="times it went on from a saved step")
    cancel_requested = models.BooleanField(default=False)
    result = models.OneToOneField(
        Regressor, null=True, blank=True, on_delete=models.SET_NULL, related_name="made_by"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"training {self.pk}: {self.name} ({self.status})"
