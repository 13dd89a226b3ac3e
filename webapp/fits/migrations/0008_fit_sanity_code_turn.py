"""Which sanity check rejected each fit (a code the job page filters by), and the upright search's
turn. Fits made before the codes existed get theirs from their reason's wording; jobs started
before the stop threshold had units, or the upright search existed, keep what they ran with (image
pixels, no search), so their remaining or retried chunks run as their first ones did."""

from django.db import migrations, models


def codes_from_reasons(apps, schema_editor):
    fit = apps.get_model("fits", "Fit")
    fit.objects.filter(sanity_ok=False, sanity_reason__startswith="max |beta|").update(sanity_code="betas")
    fit.objects.filter(sanity_ok=False, sanity_reason__startswith="2D keypoint loss").update(
        sanity_code="keypoint_loss"
    )


def threshold_units_of_old_jobs(apps, schema_editor):
    job_model = apps.get_model("fits", "FitJob")
    for job in job_model.objects.exclude(method="smplify").only("config"):
        missing = {"threshold_units": "image", "upright_search": False}.items() - job.config.items()
        added = {key: value for key, value in missing if key not in job.config}
        if added:
            job.config = {**job.config, **added}
            job.save(update_fields=["config"])


class Migration(migrations.Migration):
    dependencies = [
        ("fits", "0007_fitjob_method_gold"),
    ]

    operations = [
        migrations.AddField(
            model_name="fit",
            name="sanity_code",
            field=models.CharField(
                choices=[
                    ("ok", "passes"),
                    ("betas", "max |beta| too large"),
                    ("keypoint_loss", "2D keypoint loss too large"),
                    ("relative_error", "2D error too large for the person's size"),
                    ("joint_limits", "a joint beyond its limits"),
                    ("self_intersection", "a limb through the torso"),
                ],
                default="ok",
                help_text="which check decided (fitting.sanity)",
                max_length=24,
            ),
        ),
        migrations.AddField(
            model_name="fit",
            name="turn_deg",
            field=models.PositiveSmallIntegerField(
                default=0, help_text="the upright search's turn of the crop the fit started from (degrees)"
            ),
        ),
        migrations.RunPython(codes_from_reasons, migrations.RunPython.noop),
        migrations.RunPython(threshold_units_of_old_jobs, migrations.RunPython.noop),
    ]
