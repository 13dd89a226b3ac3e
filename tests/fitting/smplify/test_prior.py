"""The pose priors: EM fitting (scikit-learn), building one, the shipped mixture, SMPLify's licensed
pickle read safely."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from fitting.smplify.prior import (
    ANGLE_PRIOR_INDEX,
    SHIPPED_PRIOR_PATH,
    PosePrior,
    angle_penalty,
    build_shipped_prior,
    fit_gmm,
    gmm_penalty,
)
from fitting.synth.poses import sample_poses


def test_em_recovers_a_known_mixture() -> None:
    rng = np.random.default_rng(0)
    centres = np.array([[-4.0, 0.0, 1.0], [3.0, 2.0, -1.0]])
    samples = np.concatenate(
        [rng.normal(centres[0], 0.5, size=(600, 3)), rng.normal(centres[1], 1.0, size=(1400, 3))]
    )
    fit = fit_gmm(samples, components=2, seed=1)
    order = np.argsort(fit.means[:, 0])
    np.testing.assert_allclose(fit.means[order], centres, atol=0.15)
    np.testing.assert_allclose(fit.weights[order], [0.3, 0.7], atol=0.03)
    np.testing.assert_allclose(np.diagonal(fit.covars[order[0]]), [0.25, 0.25, 0.25], atol=0.05)
    np.testing.assert_allclose(np.diagonal(fit.covars[order[1]]), [1.0, 1.0, 1.0], atol=0.15)
    assert fit.converged
    assert fit.method.startswith("sklearn.mixture.GaussianMixture")
    again = fit_gmm(samples, components=2, seed=1)
    np.testing.assert_array_equal(again.means, fit.means)  # deterministic in the seed


def test_em_refuses_too_few_samples() -> None:
    with pytest.raises(ValueError, match="too few"):
        fit_gmm(np.zeros((10, 69)), components=8)


def test_built_prior_is_written_with_its_provenance(tmp_path: Path) -> None:
    out = tmp_path / "prior.npz"
    prior = build_shipped_prior(out, samples=1500, components=2, seed=3)
    assert prior.weights.shape == (2,)
    assert abs(prior.weights.sum() - 1.0) < 1e-4
    assert prior.label.startswith("prior.npz (sha256 ")
    provenance = json.loads(str(np.load(out)["provenance"]))
    assert provenance["command"] == "python -m fitting pose-prior --samples 1500 --components 2 --seed 3"
    assert provenance["method"].startswith("sklearn.mixture.GaussianMixture")
    assert provenance["em_converged"] is True
    terms = prior.torch_terms()
    plausible = sample_poses(200, np.random.default_rng(9)).axis_angle[:, 1:].reshape(200, 69)
    random = np.random.default_rng(10).uniform(-1.5, 1.5, size=(200, 69))
    good = gmm_penalty(torch.as_tensor(plausible, dtype=torch.float32), terms)
    bad = gmm_penalty(torch.as_tensor(random, dtype=torch.float32), terms)
    assert float(good.median()) + 100 < float(bad.median())


def test_shipped_prior_prefers_plausible_poses() -> None:
    prior = PosePrior.shipped()
    assert prior.weights.shape == (8,)
    assert abs(prior.weights.sum() - 1.0) < 1e-4
    assert prior.label.endswith(f"(sha256 {prior.sha256[:12]})")
    terms = prior.torch_terms()
    plausible = sample_poses(300, np.random.default_rng(7)).axis_angle[:, 1:].reshape(300, 69)
    random = np.random.default_rng(8).uniform(-1.5, 1.5, size=(300, 69))
    good = gmm_penalty(torch.as_tensor(plausible, dtype=torch.float32), terms)
    bad = gmm_penalty(torch.as_tensor(random, dtype=torch.float32), terms)
    assert float(good.median()) + 100 < float(bad.median())
    provenance = json.loads(str(np.load(SHIPPED_PRIOR_PATH)["provenance"]))
    assert provenance["command"].startswith("python -m fitting pose-prior")


def test_angle_prior_penalises_over_extension_only() -> None:
    bent = torch.zeros(1, 69)
    bent[0, 52], bent[0, 55], bent[0, 9], bent[0, 12] = -1.5, 1.5, 1.5, 1.5  # elbows and knees bent
    over = -bent  # the same angles the wrong way
    assert float(angle_penalty(bent)) < 0.3
    assert float(angle_penalty(over)) > 50
    assert len(ANGLE_PRIOR_INDEX) == 4


def _write_smplify_pickle(path: Path, prior: PosePrior) -> None:
    with path.open("wb") as handle:
        pickle.dump(
            {"means": prior.means, "covars": prior.covars, "weights": prior.weights}, handle, protocol=2
        )


def test_licensed_pickle_format_is_read_and_named(tmp_path: Path) -> None:
    shipped = PosePrior.shipped()
    path = tmp_path / "gmm_08.pkl"
    _write_smplify_pickle(path, shipped)
    user = PosePrior.load(path)
    assert user.label.startswith("gmm_08.pkl (SMPLify")
    pose = torch.zeros(3, 69)
    torch.testing.assert_close(
        gmm_penalty(pose, user.torch_terms()), gmm_penalty(pose, shipped.torch_terms())
    )


def test_pickle_that_runs_code_is_refused(tmp_path: Path) -> None:
    class Evil:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (print, ("owned",))

    path = tmp_path / "gmm_08.pkl"
    path.write_bytes(pickle.dumps({"means": Evil()}))
    with pytest.raises(ValueError, match=r"refusing to load builtins\.print"):
        PosePrior.load(path)


def test_bad_prior_files_say_what_is_wrong(tmp_path: Path) -> None:
    keys = tmp_path / "keys.pkl"
    keys.write_bytes(pickle.dumps({"means": np.zeros((8, 69))}, protocol=2))
    with pytest.raises(ValueError, match=r"keys.pkl: expected keys means, covars, weights"):
        PosePrior.load(keys)
    with pytest.raises(FileNotFoundError, match=r"missing\.npz"):
        PosePrior.load(tmp_path / "missing.npz")
    shipped = PosePrior.shipped()
    covars = shipped.covars.copy()
    covars[0] = -np.eye(69)
    with pytest.raises(ValueError, match="not positive definite"):
        PosePrior(shipped.means, covars, shipped.weights, "broken")
    with pytest.raises(ValueError, match="expected means"):
        PosePrior(shipped.means[:, :10], shipped.covars, shipped.weights, "short")
