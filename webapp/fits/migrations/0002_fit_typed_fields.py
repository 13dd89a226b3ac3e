"""Fit provenance as fields (was a ``details`` dict): loss before/after, sanity rule, checkpoint
hash, body model, prior."""

from typing import Any

from django.db import migrations, models


def details_to_fields(apps: Any, schema_editor: Any) -> None:
    Fit = apps.get_model("fits", "Fit")
    for fit in Fit.objects.exclude(details={}).iterator():
        details = fit.details or {}
        fit.sanity_rule = str(details.get("sanity_rule", "paper"))
        fit.checkpoint_sha256 = str(details.get("checkpoint_sha256", ""))
        fit.body_model = str(details.get("body_model", ""))[:500]
        fit.prior = str(details.get("prior", ""))[:200]
        fit.save(update_fields=["sanity_rule", "checkpoint_sha256", "body_model", "prior"])


class Migration(migrations.Migration):
    dependencies = [("fits", "0001_initial")]

    operations = [
        migrations.AddField("fit", "loss_before", models.FloatField(default=0.0)),
        migrations.AddField("fit", "loss_after", models.FloatField(default=0.0)),
        migrations.AddField("fit", "sanity_rule", models.CharField(default="paper", max_length=16)),
        migrations.AddField(
            "fit",
            "checkpoint_sha256",
            models.CharField(blank=True, help_text="the regressor that made it", max_length=64),
        ),
        migrations.AddField("fit", "body_model", models.CharField(blank=True, max_length=500)),
        migrations.AddField(
            "fit", "prior", models.CharField(blank=True, help_text="SMPLify's pose prior", max_length=200)
        ),
        migrations.AlterField(
            "fit",
            "keypoint_loss",
            models.FloatField(help_text="2D keypoint loss of the final parameters (sanity rule)"),
        ),
        migrations.RunPython(details_to_fields, migrations.RunPython.noop),
        migrations.RemoveField("fit", "details"),
    ]
