"""Readers for the 2D keypoint datasets EFT fits (pure library: no Django).

``read_people(format, path)`` streams :class:`SourcePerson` records from the files as they are
distributed; every problem raises :class:`DatasetError` saying what is wrong and where.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal

from fitting.datasets.common import DatasetError, ReadStats, SourcePerson

Format = Literal["coco", "mpii", "lsp", "posetrack", "ochuman"]
FORMATS: tuple[Format, ...] = ("coco", "mpii", "lsp", "posetrack", "ochuman")


def read_people(
    fmt: str, path: Path, stats: ReadStats | None = None, check_format: bool = True
) -> Iterator[SourcePerson]:
    """``check_format``: refuse a COCO-format file under another format (one extra streamed pass
    over a JSON file; a caller reading the same file again skips it)."""
    from fitting.datasets.coco import iter_coco
    from fitting.datasets.lsp import iter_lsp
    from fitting.datasets.mpii import iter_mpii
    from fitting.datasets.ochuman import iter_ochuman
    from fitting.datasets.posetrack import iter_posetrack

    readers: dict[str, Callable[[Path, ReadStats | None], Iterator[SourcePerson]]] = {
        "coco": iter_coco,
        "mpii": iter_mpii,
        "lsp": iter_lsp,
        "posetrack": iter_posetrack,
        "ochuman": iter_ochuman,
    }
    if fmt not in readers:
        raise DatasetError(f"unknown dataset format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if check_format and fmt != "coco" and looks_like_coco(Path(path)):
        raise DatasetError(
            f"{Path(path).name} is a COCO-format keypoint file (top-level 'annotations' and "
            f"'categories'), not the {fmt} layout: choose the COCO format for it (OCHuman, MPII and "
            "PoseTrack are often shared in COCO format)"
        )
    return readers[fmt](Path(path), stats)


def looks_like_coco(path: Path) -> bool:
    """True for a JSON file whose top-level object has COCO's 'annotations' and 'categories'
    keys (read as a stream: a large file is not loaded)."""
    import ijson

    if not path.is_file():
        return False
    keys: set[str] = set()
    try:
        with path.open("rb") as handle:
            for prefix, event, value in ijson.parse(handle):
                if prefix == "" and event == "map_key":
                    keys.add(str(value))
                    if {"annotations", "categories"} <= keys:
                        return True
                elif prefix == "" and event in ("start_array", "end_map"):
                    return False
    except (ijson.JSONError, UnicodeDecodeError, OSError):
        return False
    return False


__all__ = ["FORMATS", "DatasetError", "Format", "ReadStats", "SourcePerson", "looks_like_coco", "read_people"]
