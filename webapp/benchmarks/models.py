"""Benchmarks: the accepted fits of crowd campaigns, frozen into immutable, content-hashed
versions in the EFT JSON format that researchers download.

A version is never changed once published: publishing again makes a new version (its number one
higher), and the file's name carries its content hash.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from webapp.core.taskstate import TaskStatus, TrackedWork
from webapp.crowd.models import Campaign


class Benchmark(models.Model):
    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=100, unique=True, help_text="in addresses and file names")
    description = models.TextField(blank=True)
    private = models.BooleanField(default=False, help_text="only staff and the readers below see it")
    readers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="readable_benchmarks",
        help_text="accounts that may see a private benchmark",
    )  # fmt: skip
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class BenchmarkVersion(TrackedWork):
    """One published version: the fits the rule accepted among the campaigns' votes, as a file."""

    class Rule(models.TextChoices):
        UNANIMOUS = "unanimous", "unanimous: every vote accepts (the paper's 3 of 3)"
        TWO_OF_THREE = "two_of_three", "2 of 3 votes accept"
        MAJORITY = "majority", "a strict majority accepts"

    Status = TaskStatus

    benchmark = models.ForeignKey(Benchmark, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    campaigns = models.ManyToManyField(Campaign, related_name="benchmark_versions")
    rule = models.CharField(max_length=16, choices=Rule.choices, default=Rule.UNANIMOUS)
    votes_needed = models.PositiveSmallIntegerField(default=3, help_text="votes an item needs to be judged")
    note = models.CharField(max_length=500, blank=True, help_text="what changed, in a line")
    people_total = models.PositiveIntegerField(default=0, help_text="fits judged")
    people_done = models.PositiveIntegerField(default=0, help_text="written so far")
    file = models.FileField(max_length=500, blank=True)
    archive = models.FileField(
        max_length=500, blank=True, help_text="a zip of the JSON, its dataset card and the body files"
    )
    sha256 = models.CharField(max_length=64, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    people = models.PositiveIntegerField(default=0, help_text="people in the file")
    card = models.JSONField(default=dict, blank=True, help_text="the dataset card's figures")
    fit_ids = models.JSONField(
        default=list, blank=True, help_text="the accepted fits written in its file (what training reads)"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = (models.UniqueConstraint(fields=("benchmark", "number"), name="version_unique_number"),)
        ordering = ("benchmark", "-number")

    def __str__(self) -> str:
        return f"{self.benchmark.name} v{self.number} ({self.status})"

    @property
    def download_name(self) -> str:
        """The JSON file's name for whoever downloads it (the stored one is its hash)."""
        return f"{self.benchmark.slug}-v{self.number}.json"
