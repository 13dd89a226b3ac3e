"""Regressor-only and EFT post-processing of any checkpoint; the comparison and its report."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from fitting.__main__ import main
from fitting.body.model import BodyModel
from fitting.compare import Row, check_claims, default_methods, load_cases, run_comparison, write_report
from fitting.config import EftConfig, SmplifyConfig
from fitting.fit import Regressor, eft, regress, smplify
from fitting.regressor.hmr import HMR, save_checkpoint
from fitting.smplify.prior import PosePrior


@pytest.fixture(scope="module")
def body() -> BodyModel:
    return BodyModel.open_body()


def test_shipped_regressor_inputs_follow_its_metadata(tiny_set: Path) -> None:
    regressor = Regressor.load()
    assert (regressor.input_size, regressor.aux_channels) == (128, True)
    cases = load_cases(tiny_set, regressor, limit=2)
    assert cases.targets[0].image.shape == (6, 128, 128)
    assert cases.truth_gt24.shape == (2, 24, 3)


def test_regressor_only_is_eft_with_no_update(tiny_set: Path, body: BodyModel) -> None:
    regressor = Regressor.load()
    cases = load_cases(tiny_set, regressor, limit=2)
    direct = regress(regressor, body, cases.targets)
    zero = eft(regressor, body, cases.targets, EftConfig(max_iterations=0))
    for a, b in zip(direct, zero, strict=True):
        assert a.iterations == b.iterations == 0
        torch.testing.assert_close(a.pose_rotmat, b.pose_rotmat, atol=1e-5, rtol=0)
        assert a.mean_error_px == pytest.approx(b.mean_error_px, abs=1e-3)
        assert a.checkpoint_sha256 == regressor.checkpoint.sha256


def test_eft_post_processes_a_spin_checkpoint_without_metadata(
    tiny_set: Path, body: BodyModel, tmp_path: Path
) -> None:
    torch.manual_seed(0)
    path = tmp_path / "spin_like.pt"
    save_checkpoint(path, HMR("tiny"))  # SPIN's keys only: 224-pixel RGB crops assumed
    regressor = Regressor.load(path)
    assert (regressor.input_size, regressor.aux_channels) == (224, False)
    cases = load_cases(tiny_set, regressor, limit=1)
    assert cases.targets[0].image.shape == (3, 224, 224)
    before = regress(regressor, body, cases.targets)[0]
    after = eft(regressor, body, cases.targets, EftConfig(lr=1e-3, max_iterations=15, threshold_px=0.0))[0]
    assert after.iterations == 15
    assert after.mean_error_px < before.mean_error_px


def test_checkpoint_whose_channels_contradict_its_metadata_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "six.pt"
    save_checkpoint(path, HMR("tiny", in_channels=6))
    with pytest.raises(ValueError, match="6 input channels but its metadata says aux='none'"):
        Regressor.load(path)


def test_smplify_from_mean_pose_starts_worse(tiny_set: Path, body: BodyModel) -> None:
    regressor = Regressor.load()
    cases = load_cases(tiny_set, regressor, limit=3)
    config = SmplifyConfig(iterations=0)
    from_regressor = smplify(regressor, body, cases.targets, PosePrior.shipped(), config)
    from_mean = smplify(regressor, body, cases.targets, PosePrior.shipped(), config, init="mean")
    assert sum(r.mean_error_px for r in from_mean) > sum(r.mean_error_px for r in from_regressor)
    with pytest.raises(ValueError, match="init must be"):
        smplify(regressor, body, cases.targets, None, SmplifyConfig(priors=False), init="zero")


def test_comparison_rows_and_report(tiny_set: Path, body: BodyModel, tmp_path: Path) -> None:
    regressor = Regressor.load()
    cases = load_cases(tiny_set, regressor, limit=2)
    quick = {
        "regressor": {},
        "eft50": {"eft": EftConfig(max_iterations=3)},
        "smplify": {"smplify": SmplifyConfig(iterations=3)},
        "smplify-mean": {"smplify": SmplifyConfig(iterations=3)},
    }
    methods = [replace(m, **quick[m.key]) for m in default_methods() if m.key in quick]  # type: ignore[arg-type]
    ticks: list[str] = []
    rows = run_comparison(
        regressor,
        body,
        cases,
        methods,
        PosePrior.shipped(),
        progress=lambda name, n: lambda: ticks.append(name),
    )
    assert [r.key for r in rows] == ["regressor", "eft50", "smplify", "smplify-mean"]
    assert len(ticks) == 4 * 2
    assert all(r.people == 2 and r.pa_mpjpe > 0 for r in rows)
    assert rows[0].iterations == 0
    assert rows[1].iterations <= 3
    assert rows[2].iterations == 6
    assert rows[2].prior.startswith("pose_prior_gmm8.npz")
    meta = {
        "people": 2,
        "set": str(tiny_set),
        "checkpoint": "bootstrap_hmr.pt",
        "checkpoint_sha256": "ab" * 32,
        "device": "cpu",
        "threads": 1,
        "command": "python -m fitting compare",
        "date": "2026-11-25",
    }
    for row in rows:  # each sanity rule judged against PA-MPJPE above 100 mm, person by person
        assert set(row.rejected) == {"paper", "plausible"}
        assert 0.0 <= row.bad <= 1.0
        assert row.rejected["plausible"] >= row.rejected["paper"]  # it applies the paper's checks first
    write_report(tmp_path, rows, check_claims(rows), meta)
    markdown = (tmp_path / "comparison.md").read_text()
    assert "| SMPLify M+D+P from mean pose | 2 |" in markdown
    assert "| method | bad fits | paper: rejected / precision / recall |" in markdown
    assert json.loads((tmp_path / "comparison.json").read_text())["rows"][0]["key"] == "regressor"
    assert (tmp_path / "comparison.png").stat().st_size > 10_000


def _row(key: str, px: float, pa: float) -> Row:
    return Row(key, key, 10, px, 0.0, pa, 0.0, 1.0)


def test_claims_are_judged_on_the_figures() -> None:
    good = [_row("regressor", 10.0, 80.0), _row("eft50", 4.0, 70.0), _row("eft20", 6.0, 75.0),
            _row("smplify", 4.0, 72.0), _row("smplify-mean", 9.0, 150.0)]  # fmt: skip
    assert [c.holds for c in check_claims(good)] == [True, True, True, True]
    assert not EftConfig().upright_search  # off by default (the shipped regressor knows hard poses)
    assert not next(m for m in default_methods() if m.key == "eft50").eft.upright_search  # type: ignore[union-attr]
    bad = [_row("regressor", 10.0, 80.0), _row("eft50", 9.0, 70.0), _row("eft100", 3.0, 85.0),
           _row("smplify", 4.0, 60.0), _row("smplify-mean", 4.0, 61.0)]  # fmt: skip
    assert [c.holds for c in check_claims(bad)] == [False, False, False, False]
    assert "eft100" in check_claims(bad)[1].evidence
    assert check_claims([_row("regressor", 1.0, 1.0)]) == []


def test_claims_are_judged_set_by_set_with_the_products_options() -> None:
    def row(key: str, pa: float, set_name: str, recall: float = 0.5) -> Row:
        return replace(
            _row(key, 4.0, pa), set_name=set_name, recall={"paper": 0.1, "plausible": recall},
            precision={"paper": 1.0, "plausible": 0.8},
        )  # fmt: skip

    rows = [row("regressor", 90.0, "everyday"), row("eft50", 80.0, "everyday"),
            row("eft50-upright", 79.0, "everyday"),
            row("regressor", 170.0, "hard"), row("eft50", 150.0, "hard", recall=0.05),
            row("eft50-upright", 120.0, "hard")]  # fmt: skip
    claims = check_claims(rows)
    texts = [c.text for c in claims]
    assert texts[0].startswith("everyday set: EFT lowers the 2D error")
    upright = "(this product) the upright search lowers EFT's PA-MPJPE by more than 1 mm"
    by_text = {c.text: c for c in claims}
    assert by_text[f"hard set: {upright}"].holds  # 150 -> 120 mm
    assert not by_text[f"everyday set: {upright}"].holds  # 80 -> 79 mm: within 1 mm
    plausible = [c for c in claims if "plausible sanity rule" in c.text]
    assert [c.holds for c in plausible] == [True, False]  # hard: recall 10% (paper) -> 5%
    assert "recall 10% (paper) -> 5% (plausible)" in plausible[1].evidence


def test_compare_command_writes_the_report(
    tiny_set: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cmp"
    code = main(["compare", "--synthetic", str(tiny_set), "--people", "2", "--methods", "regressor,eft20",
                 "--out", str(out), "--device", "cpu"])  # fmt: skip
    assert code == 0
    markdown = (out / "comparison.md").read_text()
    assert "| EFT 20 it | 2 |" in markdown
    assert "| regressor only | 2 |" in markdown
    assert "--methods regressor,eft20" in markdown
    with pytest.raises(SystemExit, match="unknown \\['eft7'\\]"):
        main(["compare", "--synthetic", str(tiny_set), "--methods", "eft7", "--out", str(out)])
    with pytest.raises(SystemExit, match="--sets: unknown \\['sporty'\\]"):
        main(["compare", "--sets", "hard,sporty", "--out", str(out), "--work", str(tmp_path)])
