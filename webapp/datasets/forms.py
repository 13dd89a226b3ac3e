"""The staff form that starts an import."""

from __future__ import annotations

from typing import Any

from django import forms

from webapp.datasets.models import Dataset


class DatasetImportForm(forms.Form):
    name = forms.CharField(max_length=200)
    source_format = forms.ChoiceField(choices=Dataset.Format.choices, label="Format")
    split = forms.CharField(max_length=32, required=False)
    archive = forms.FileField(required=False, help_text="a zip with the annotation file and the images")
    server_folder = forms.CharField(
        max_length=1000,
        required=False,
        help_text="or an absolute folder on the server (inside the import roots)",
    )
    s3_prefix = forms.CharField(max_length=1000, required=False, help_text="or s3://bucket/prefix")
    annotation_path = forms.CharField(
        max_length=500,
        help_text="the annotation file inside the zip or folder, e.g. "
        "annotations/person_keypoints_val2017.json (LSP: joints.mat; PoseTrack: the folder of "
        "per-video files, e.g. annotations/val)",
    )
    images_path = forms.CharField(
        max_length=500,
        required=False,
        help_text="the image folder inside the zip or folder, e.g. val2017 or images: the image names in the "
        "annotation file are relative to it (empty: the zip's or folder's top level)",
    )
    outside_policy = forms.ChoiceField(
        choices=Dataset.OutsidePolicy.choices, initial=Dataset.default("outside_policy")
    )
    split_preset = forms.ChoiceField(
        choices=Dataset.SplitPreset.choices, initial=Dataset.default("split_preset"), required=False
    )
    split_seed = forms.IntegerField(initial=Dataset.default("split_seed"), required=False)
    split_test_fraction = forms.FloatField(
        initial=Dataset.default("split_test_fraction"), min_value=0.0, max_value=1.0, required=False
    )
    licence = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if sum(bool(data.get(k)) for k in ("archive", "server_folder", "s3_prefix")) != 1:
            raise forms.ValidationError("give exactly one of: a zip, a server folder, an S3 prefix")
        for field in ("split_preset", "split_seed", "split_test_fraction"):
            if data.get(field) in (None, ""):
                data[field] = Dataset.default(field)
        return data
