"""Body models in SMPL's format: the open body shipped here, or the licensed SMPL file by path."""
