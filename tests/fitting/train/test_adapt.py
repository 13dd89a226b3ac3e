"""The adaptation loop (EFT fits of 2D labels train the regressor, in rounds), end to end on a
handful of people: every figure the report holds is made and written."""

from __future__ import annotations

import json
import math
from pathlib import Path

from fitting.config import EftConfig
from fitting.train.adapt import AdaptConfig, report_table, run_adaptation


def test_one_round_fits_trains_and_reports(tmp_path: Path) -> None:
    config = AdaptConfig(
        work=tmp_path, people=8, rounds=1, steps=3, batch_size=2, eft=EftConfig(max_iterations=2),
        eft_batch=4, workers=0, heldout_people=6, image_size=160,
    )  # fmt: skip
    results = run_adaptation(config, log=lambda _m: None)
    assert [r.round for r in results] == [0, 1]
    start, first = results
    assert set(start.heldout_pa_mpjpe) == {"everyday", "hard"}  # the target's held-out set and everyday
    assert all(math.isfinite(v) and v > 0 for r in results for v in r.heldout_pa_mpjpe.values())
    truth = json.loads((tmp_path / "target-hard" / "meta.json").read_text())
    assert first.pseudo_gt_people + first.pseudo_gt_rejected == truth["people"]  # every person fitted once
    assert first.pseudo_gt_people > 0
    assert math.isfinite(first.pseudo_gt_pa_mpjpe)
    assert first.pseudo_gt_pa_mpjpe > 0
    assert first.steps == 3
    assert Path(first.checkpoint).is_file()
    assert first.checkpoint != start.checkpoint
    table = report_table(results)
    assert table.count("\n") == 4  # head, rule, two rounds
    assert "| 1 | after round 1 |" in table
    for name in ("adapt.md", "adapt.json", "adapt.png"):
        assert (tmp_path / name).stat().st_size > 0
