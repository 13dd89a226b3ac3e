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


def read_people(fmt: str, path: Path, stats: ReadStats | None = None) -> Iterator[SourcePerson]:
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
    return readers[fmt](Path(path), stats)


__all__ = ["FORMATS", "DatasetError", "Format", "ReadStats", "SourcePerson", "read_people"]
