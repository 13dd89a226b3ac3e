"""Shared fixtures of the fitting tests: a tiny synthetic set with 3D truth."""

from __future__ import annotations

from pathlib import Path

import pytest

from fitting.synth.generate import SynthConfig, generate


@pytest.fixture(scope="session")
def tiny_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four people, one per 192-pixel image, with their truth (a few seconds to render)."""
    out = tmp_path_factory.mktemp("tiny") / "set"
    generate(
        SynthConfig(people=4, seed=33, width=192, height=192, max_people_per_image=1, truncation_rate=0.0),
        out,
        progress=False,
    )
    return out
