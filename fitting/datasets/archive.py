"""Unpacking an uploaded dataset zip without trusting it.

Refused, before anything is written: entries with absolute paths, drive letters or ``..``;
links; more than ``max_entries`` entries; more than ``max_total_bytes`` uncompressed; an entry
whose compression ratio exceeds ``max_ratio`` (a zip bomb); a file that is not a zip. Sizes are
checked again while extracting (a zip's header can lie), and a partial extraction is removed.
"""

from __future__ import annotations

import shutil
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from fitting.datasets.common import DatasetError


@dataclass(frozen=True)
class ArchiveLimits:
    max_entries: int = 500_000
    max_total_bytes: int = 200 * 1024**3  # 200 GB uncompressed
    max_ratio: float = 200.0  # uncompressed / compressed, per entry
    min_ratio_bytes: int = 1024**2  # small entries may compress well without suspicion


def _safe_name(name: str, archive: Path) -> PurePosixPath:
    normalised = name.replace("\\", "/")
    path = PurePosixPath(normalised)
    if path.is_absolute() or normalised.startswith("/") or (len(normalised) > 1 and normalised[1] == ":"):
        raise DatasetError(f"{archive}: entry {name!r} has an absolute path")
    if any(part == ".." for part in path.parts):
        raise DatasetError(f"{archive}: entry {name!r} points outside the archive ('..')")
    return path


def check_archive(archive: Path, limits: ArchiveLimits | None = None) -> list[zipfile.ZipInfo]:
    """The entries of ``archive`` after every check; raises DatasetError naming the problem."""
    limits = limits or ArchiveLimits()
    archive = Path(archive)
    if not zipfile.is_zipfile(archive):
        raise DatasetError(f"{archive}: not a zip archive")
    with zipfile.ZipFile(archive) as handle:
        entries = handle.infolist()
    if len(entries) > limits.max_entries:
        raise DatasetError(f"{archive}: {len(entries)} entries, more than the limit of {limits.max_entries}")
    total = 0
    for info in entries:
        _safe_name(info.filename, archive)
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise DatasetError(f"{archive}: entry {info.filename!r} is a symbolic link")
        total += info.file_size
        if info.file_size > limits.min_ratio_bytes and info.file_size > limits.max_ratio * max(
            info.compress_size, 1
        ):
            ratio = info.file_size / max(info.compress_size, 1)
            raise DatasetError(
                f"{archive}: entry {info.filename!r} expands {ratio:.0f}x "
                f"(limit {limits.max_ratio:g}x): refused as a possible zip bomb"
            )
    if total > limits.max_total_bytes:
        raise DatasetError(
            f"{archive}: {total / 1024**3:.1f} GB uncompressed, more than the limit of "
            f"{limits.max_total_bytes / 1024**3:.1f} GB"
        )
    return entries


def extract_archive(archive: Path, target: Path, limits: ArchiveLimits | None = None) -> Path:
    """Check, then extract ``archive`` into the new folder ``target``; removes it on any failure."""
    limits = limits or ArchiveLimits()
    entries = check_archive(archive, limits)
    target = Path(target)
    target.mkdir(parents=True, exist_ok=False)
    written = 0
    try:
        with zipfile.ZipFile(archive) as handle:
            for info in entries:
                relative = _safe_name(info.filename, archive)
                destination = target.joinpath(*relative.parts)
                if info.is_dir():
                    destination.mkdir(parents=True, exist_ok=True)
                    continue
                destination.parent.mkdir(parents=True, exist_ok=True)
                with handle.open(info) as source, destination.open("wb") as out:
                    while chunk := source.read(1 << 20):
                        written += len(chunk)
                        if written > limits.max_total_bytes:
                            raise DatasetError(f"{archive}: expands past the limit while extracting")
                        out.write(chunk)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    return target
