"""Safe zip extraction: every refusal happens before anything is written."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

import pytest

from fitting.datasets.archive import ArchiveLimits, extract_archive
from fitting.datasets.common import DatasetError


def _zip(path: Path, entries: dict[str, bytes], link: str | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as handle:
        for name, data in entries.items():
            handle.writestr(name, data)
        if link:
            info = zipfile.ZipInfo(link)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            handle.writestr(info, "/etc/passwd")
    return path


def test_extracts_a_good_archive(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "a.zip", {"annotations.json": b"{}", "images/a.jpg": b"x" * 10})
    out = extract_archive(archive, tmp_path / "out")
    assert (out / "images" / "a.jpg").read_bytes() == b"x" * 10


@pytest.mark.parametrize(
    ("entries", "link", "limits", "message"),
    [
        ({"a/../../x": b"1"}, None, ArchiveLimits(), "points outside the archive"),
        ({"C:/x": b"1"}, None, ArchiveLimits(), "absolute path"),
        ({"a": b"1"}, "images/link.jpg", ArchiveLimits(), "is a symbolic link"),
        (
            {"a": b"1" * 5000, "b": b"2" * 5000},
            None,
            ArchiveLimits(max_total_bytes=8000),
            "more than the limit",
        ),
        ({"z": bytes(3 * 1024**2)}, None, ArchiveLimits(max_ratio=50), "possible zip bomb"),
        ({"a": b"1", "b": b"2", "c": b"3"}, None, ArchiveLimits(max_entries=2), "3 entries"),
    ],
)
def test_refusals(
    tmp_path: Path, entries: dict[str, bytes], link: str | None, limits: ArchiveLimits, message: str
) -> None:
    archive = _zip(tmp_path / "bad.zip", entries, link)
    with pytest.raises(DatasetError, match=message):
        extract_archive(archive, tmp_path / "out", limits)
    assert not (tmp_path / "out").exists()
