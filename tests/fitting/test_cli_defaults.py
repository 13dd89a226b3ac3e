"""`python -m fitting`: defaults come from the configuration dataclasses, shipped files from the
package's data folder, working output from $EFT_WORK_DIR (else ./data)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from fitting.__main__ import _train_config, build_parser
from fitting.assets import BOOTSTRAP_REGRESSOR_PATH, DATA_DIR, POSE_PRIOR_PATH, work_dir
from fitting.config import EFT_PRESETS, EftConfig
from fitting.pipeline import FitSettings
from fitting.smplify.prior import SHIPPED_PRIOR_PATH
from fitting.train.bootstrap import BootstrapConfig
from fitting.train.trainer import TrainConfig


def test_fit_defaults_are_the_config_defaults() -> None:
    args = build_parser().parse_args(["fit", "--coco", "a.json", "--images", "img", "--out", "b.json"])
    # Unset options take the preset's value; the default preset is the paper's defaults.
    assert (args.preset, args.iterations, args.threshold_px, args.gamma, args.sanity, args.upright) == (
        "paper", None, None, None, None, None,
    )  # fmt: skip
    assert EFT_PRESETS["paper"] == EftConfig()
    assert EFT_PRESETS["hard"] == EftConfig(max_iterations=100)
    settings = FitSettings()
    assert (args.method, args.batch) == (settings.method, settings.eft_batch)


def test_train_defaults_make_the_default_config(tmp_path: Path) -> None:
    args = build_parser().parse_args(["train", "--out", str(tmp_path)])
    assert _train_config(args) == TrainConfig(out=str(tmp_path))
    flipless = build_parser().parse_args(["train", "--out", str(tmp_path), "--no-flip"])
    default = TrainConfig(out=str(tmp_path))
    assert _train_config(flipless) == replace(default, augment=replace(default.augment, flip_prob=0.0))


def test_bootstrap_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("EFT_WORK_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    args = build_parser().parse_args(["bootstrap"])
    config = BootstrapConfig(work=args.work, export=args.export)
    assert (
        args.people,
        args.minutes,
        args.workers,
        args.device,
        args.distribution,
        args.init,
        args.baseline,
        args.rotate,
        args.lr,
    ) == (
        config.people,
        config.minutes,
        config.workers,
        config.device,
        config.distribution,
        config.init,
        config.baseline,
        config.rotate_prob,
        config.lr,
    )
    assert args.work == tmp_path.resolve() / "data" / "bootstrap"
    assert args.export == BOOTSTRAP_REGRESSOR_PATH == DATA_DIR / "bootstrap_hmr.pt"


def test_shipped_files_resolve_through_the_package(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # not the repository: the defaults must not depend on it
    args = build_parser().parse_args(["pose-prior"])
    assert args.out == POSE_PRIOR_PATH == SHIPPED_PRIOR_PATH
    assert args.out.is_absolute()
    assert args.out.is_file()
    assert build_parser().parse_args(["bootstrap"]).export.is_file()


def test_work_dir_follows_the_environment_at_call_time(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EFT_WORK_DIR", raising=False)
    assert work_dir() == tmp_path.resolve() / "data"
    monkeypatch.setenv("EFT_WORK_DIR", str(tmp_path / "elsewhere"))
    assert work_dir() == tmp_path.resolve() / "elsewhere"
    args = build_parser().parse_args(["compare"])
    assert args.out == args.work == tmp_path.resolve() / "elsewhere" / "compare"
    assert "EFT_WORK_DIR" in build_parser().format_help()
