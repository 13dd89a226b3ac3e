"""The web process serves its pages without importing torch (DESIGN.md: only workers load it).

A fresh Python process sets Django up on its own SQLite file, stores a dataset, a person, a fit
job, a fit and its renders as rows (no fitting is run), then GETs every staff page, picture and
API read as staff, and reports whether any ``torch`` module was imported on the way.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import io, json, sys
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)

from dataclasses import asdict
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from PIL import Image as PILImage

from fitting.config import EftConfig
from webapp.datasets.models import Dataset, Image, Person
from webapp.fits.models import Fit, FitJob, Render

buffer = io.BytesIO()
PILImage.new("RGB", (200, 240), (90, 120, 160)).save(buffer, format="JPEG")
stored = default_storage.save("datasets/1/000.jpg", ContentFile(buffer.getvalue()))
dataset = Dataset.objects.create(
    name="rows", source_format="coco", source_kind="server", source_location="/x",
    annotation_path="annotations.json", status="done", people_count=1, images_count=1,
    filter_counts={"all": 1, "coco-all": 1, "coco-part": 1}, split_counts={"": 1},
)
image = Image.objects.create(dataset=dataset, name="000.jpg", file=stored, width=200, height=240,
                             sha256="0" * 64, bytes=len(buffer.getvalue()))
labels = [[40.0 + 5 * j, 30.0 + 8 * j, 1.0] for j in range(24)]
person = Person.objects.create(
    dataset=dataset, image=image, source_annotation_id="9001", layout="coco17", bbox=[30, 20, 140, 210],
    keypoints_raw=[[40.0, 30.0, 2.0]] * 17, keypoints_gt24=labels, labelled=24, coco_all=True,
    coco_part=True,
)
job = FitJob.objects.create(dataset=dataset, config=asdict(EftConfig()), status="done", people_total=1,
                            people_done=1)
identity = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
fit = Fit.objects.create(
    job=job, person=person, pose_rotmat=[identity] * 24, betas=[0.0] * 10, cam_weak=[0.9, 0.0, 0.0],
    joint_error_px=[1.5] * 24, mean_error_px=1.5, iterations=12, keypoint_loss=0.001, max_abs_beta=0.0,
    sanity_ok=True, sanity_reason="ok", seconds=0.5, checkpoint_sha256="a" * 64,
)
for kind in ("camera", "side"):
    Render.objects.create(fit=fit, kind=kind, file=stored, size=512, status="done")

staff = get_user_model().objects.create_user("staff", password="pw", is_staff=True, is_superuser=True)
client = Client()
client.force_login(staff)
answers = {}
for url in ["/", "/staff/datasets/", f"/staff/datasets/{dataset.pk}/", f"/staff/people/{person.pk}.png",
            "/staff/jobs/", f"/staff/jobs/{job.pk}/", f"/staff/jobs/{job.pk}/plots.png",
            f"/staff/fits/{fit.pk}/", "/api/datasets/", f"/api/datasets/{dataset.pk}/", "/api/fits/jobs/",
            f"/api/fits/jobs/{job.pk}/", "/api/schema/", "/admin/", "/admin/datasets/dataset/",
            "/admin/fits/fitjob/", "/admin/crowd/campaign/", "/staff/regressors/",
            "/staff/regressors/1/", "/admin/regressors/regressor/", "/staff/training/"]:
    answers[url] = client.get(url).status_code
from webapp.fits.selectors import fit_eft_entry
entry = fit_eft_entry(fit)
torch_modules = sorted(m for m in sys.modules if m == "torch" or m.startswith("torch."))
print(json.dumps({"answers": answers, "annot_id": entry["annotId"], "torch": torch_modules[:5]}))
"""


def test_pages_are_served_without_importing_torch(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "webapp.settings",
        "DJANGO_DEBUG": "true",
        "EFT_ENV_FILE": "none",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "DATA_DIR": str(tmp_path / "data"),
        "MEDIA_ROOT": str(tmp_path / "media"),
        "ALLOWED_HOSTS": "testserver",
        "CELERY_TASK_ALWAYS_EAGER": "true",
    }
    env.pop("CELERY_BROKER_URL", None)
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert {url: code for url, code in report["answers"].items() if code != 200} == {}
    assert report["annot_id"] == 9001  # the export, made in the web process, too
    assert report["torch"] == []
