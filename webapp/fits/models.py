"""Fit jobs over a dataset's people, their chunks of work, and one Fit per person and job."""

from __future__ import annotations

from django.db import models

from fitting.config import MethodConfig, method_config
from fitting.datasets.filters import DEFAULT_FILTER
from webapp.core.taskstate import TaskStatus, TrackedWork
from webapp.datasets.models import Dataset, Person


class FitJob(models.Model):
    class Method(models.TextChoices):
        EFT = "eft", "EFT"
        SMPLIFY = "smplify", "SMPLify"
        REGRESSOR = "regressor", "regressor only"
        GOLD = "gold", "gold: made by the product (synthetic truth, some wrong on purpose)"

    #: What people may start (gold jobs are made by webapp.crowd.gold).
    STARTABLE = (Method.EFT, Method.SMPLIFY, Method.REGRESSOR)

    #: queued until a chunk is claimed, running, then done (some or all people fitted), failed
    #: (every chunk failed) or cancelled; derived from the chunks, never claimed itself.
    Status = TaskStatus

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="fit_jobs")
    filter = models.CharField(
        max_length=16, default=DEFAULT_FILTER, help_text="which people: a filter preset"
    )
    split = models.CharField(max_length=32, blank=True, help_text="only people of this split (blank: all)")
    method = models.CharField(max_length=16, choices=Method.choices, default=Method.EFT)
    config = models.JSONField(default=dict, help_text="EftConfig / SmplifyConfig as used")
    regressor = models.ForeignKey(
        "regressors.Regressor", null=True, blank=True, on_delete=models.PROTECT, related_name="fit_jobs",
        help_text="a registered checkpoint (blank: the checkpoint path below, else the configured one)",
    )  # fmt: skip
    checkpoint = models.CharField(max_length=500, blank=True, help_text="blank: the configured regressor")
    body_model = models.CharField(max_length=500, blank=True, help_text="blank: the configured body model")
    chunk_size = models.PositiveIntegerField(default=32)
    status = models.CharField(max_length=16, choices=TaskStatus.choices, default=TaskStatus.PENDING)
    people_total = models.PositiveIntegerField(default=0)
    people_done = models.PositiveIntegerField(default=0)
    people_failed = models.PositiveIntegerField(default=0)
    render = models.BooleanField(default=True, help_text="render every fit (crop, camera and side views)")
    render_size = models.PositiveIntegerField(default=512)
    renders_done = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True, help_text="when its first chunk was claimed")
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"job {self.pk}: {self.method} on {self.dataset.name} ({self.status})"

    def method_config(self) -> MethodConfig:
        """The stored options as the method's dataclass (validated when the job was started); a
        gold job is judged like the regressor alone (EFT with no update)."""
        if self.method == self.Method.GOLD:
            return method_config(self.Method.REGRESSOR, {})
        return method_config(self.method, self.config)


class FitChunk(TrackedWork):
    """A slice of a job's people: the unit a worker claims (webapp.core.taskstate)."""

    #: The shared vocabulary, and one state of a chunk's own: replaced by its two halves after
    #: running out of device memory.
    Status = TaskStatus
    SPLIT = "split"
    STATUS_CHOICES = (*TaskStatus.choices, (SPLIT, "split in two (out of device memory)"))

    job = models.ForeignKey(FitJob, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    person_ids = models.JSONField()
    status = models.CharField(max_length=16, choices=STATUS_CHOICES, default=TaskStatus.PENDING)
    device = models.CharField(max_length=32, blank=True, help_text="the torch device the worker fitted on")
    seconds = models.FloatField(default=0.0)
    people_done = models.PositiveIntegerField(default=0, help_text="fitted so far in the running attempt")

    class Meta:
        constraints = (models.UniqueConstraint(fields=("job", "index"), name="chunk_unique_index_per_job"),)
        ordering = ("job", "index")

    def __str__(self) -> str:
        return f"job {self.job_id} chunk {self.index} ({self.status})"


#: fitting.sanity's verdict codes, in words (the job page filters by them).
SANITY_CODE_CHOICES = [
    ("ok", "passes"),
    ("betas", "max |beta| too large"),
    ("keypoint_loss", "2D keypoint loss too large"),
    ("relative_error", "2D error too large for the person's size"),
    ("joint_limits", "a joint beyond its limits"),
    ("self_intersection", "a limb through the torso"),
]


class Fit(models.Model):
    job = models.ForeignKey(FitJob, on_delete=models.CASCADE, related_name="fits")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="fits")
    pose_rotmat = models.JSONField(help_text="24 x 3 x 3 rotation matrices, [0] the global orientation")
    betas = models.JSONField()
    cam_weak = models.JSONField(help_text="[s, tx, ty] in the normalised 224 crop")
    joint_error_px = models.JSONField(help_text="GT-24 2D error per joint in image pixels (null: unlabelled)")
    mean_error_px = models.FloatField()
    iterations = models.PositiveIntegerField()
    keypoint_loss = models.FloatField(help_text="2D keypoint loss of the final parameters (sanity rule)")
    loss_before = models.FloatField(default=0.0)
    loss_after = models.FloatField(default=0.0)
    max_abs_beta = models.FloatField()
    sanity_ok = models.BooleanField()
    sanity_reason = models.CharField(max_length=200)
    sanity_rule = models.CharField(max_length=16, default="paper")
    sanity_code = models.CharField(
        max_length=24,
        choices=SANITY_CODE_CHOICES,
        default="ok",
        help_text="which check decided (fitting.sanity)",
    )
    turn_deg = models.PositiveSmallIntegerField(
        default=0, help_text="the upright search's turn of the crop the fit started from (degrees)"
    )
    seconds = models.FloatField()
    checkpoint_sha256 = models.CharField(max_length=64, blank=True, help_text="the regressor that made it")
    body_model = models.CharField(max_length=500, blank=True)
    prior = models.CharField(max_length=200, blank=True, help_text="SMPLify's pose prior")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = (models.UniqueConstraint(fields=("job", "person"), name="fit_unique_person_per_job"),)
        ordering = ("job", "person")

    def __str__(self) -> str:
        return f"fit of {self.person_id} in job {self.job_id}"


class Render(TrackedWork):
    """A picture of a fit in media storage (what crowd workers and staff look at): a row is made
    queued with its fit, claimed by a render worker, and holds its file once done."""

    class Kind(models.TextChoices):
        CROP = "crop", "the person's crop of the image, nothing drawn (what the others are read against)"
        CAMERA = "camera", "over the image, from the fit's camera"
        SIDE = "side", "side view (90 degrees about the vertical axis)"

    fit = models.ForeignKey(Fit, on_delete=models.CASCADE, related_name="renders")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    file = models.FileField(max_length=500, blank=True)
    size = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = (models.UniqueConstraint(fields=("fit", "kind"), name="render_unique_kind_per_fit"),)
        ordering = ("fit", "kind")

    def __str__(self) -> str:
        return f"{self.kind} render of fit {self.fit_id} ({self.status})"


class PairRender(models.Model):
    """Two fits of one person side by side in distinct colours (A left, B right): the A/B picture."""

    fit_a = models.ForeignKey(Fit, on_delete=models.CASCADE, related_name="pair_renders_as_a")
    fit_b = models.ForeignKey(Fit, on_delete=models.CASCADE, related_name="pair_renders_as_b")
    file = models.FileField(max_length=500)
    size = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = (models.UniqueConstraint(fields=("fit_a", "fit_b"), name="pair_render_unique"),)

    def __str__(self) -> str:
        return f"A/B render of fits {self.fit_a_id} and {self.fit_b_id}"
