"""Renders move under their dataset's folder (datasets/<id>/renders/...), so deleting a dataset
or a job deletes every file made for it."""

from pathlib import PurePosixPath
from typing import Any

from django.core.files.storage import default_storage
from django.db import migrations


def _move(name: str, target: str) -> str:
    if not name or name == target or not default_storage.exists(name):
        return name
    with default_storage.open(name, "rb") as handle:
        moved = default_storage.save(target, handle)
    default_storage.delete(name)
    return moved


def forwards(apps: Any, schema_editor: Any) -> None:
    Render = apps.get_model("fits", "Render")
    PairRender = apps.get_model("fits", "PairRender")
    for render in Render.objects.select_related("fit__job").exclude(file="").iterator():
        job = render.fit.job
        base = PurePosixPath(render.file.name).name
        target = f"datasets/{job.dataset_id}/renders/job-{job.pk}/{base}"
        if not render.file.name.startswith(f"datasets/{job.dataset_id}/"):
            render.file.name = _move(render.file.name, target)
            render.save(update_fields=["file"])
    for pair in PairRender.objects.select_related("fit_a__job").exclude(file="").iterator():
        dataset_id = pair.fit_a.job.dataset_id
        target = f"datasets/{dataset_id}/renders/ab/{PurePosixPath(pair.file.name).name}"
        if not pair.file.name.startswith(f"datasets/{dataset_id}/"):
            pair.file.name = _move(pair.file.name, target)
            pair.save(update_fields=["file"])


class Migration(migrations.Migration):
    dependencies = [("fits", "0003_task_state")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
