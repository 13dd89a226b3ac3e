"""SMPLify's priors: a Gaussian mixture over the 69-d body pose, the elbow/knee angle prior.

Two mixtures can be used, and every fit records which one it used (:attr:`PosePrior.label`):

- the product's own (``fitting/data/pose_prior_gmm8.npz``, shipped): 8 full-covariance
  components fitted by EM to poses drawn from the product's pose distribution
  (``fitting.synth.poses``), with the command and settings in its ``provenance`` (the shipped
  file was made by this module's earlier NumPy EM: k-means++ seeds, 1e-4 on the diagonals).
  ``python -m fitting pose-prior`` rebuilds it with :func:`fit_gmm` (scikit-learn's
  ``GaussianMixture``, from the ``build-prior`` extra), and records that;
- SMPLify's original ``gmm_08.pkl`` (licensed with SMPLify; a user gives its path): a Python-2
  pickle of ``{"means" (8, 69), "covars" (8, 69, 69), "weights" (8,)}``, read without running
  any code from the file.

The penalty is SPIN's "merged" negative log-likelihood: the smallest over the components of
``0.5 (x - mu)^T Sigma^-1 (x - mu) - log(w / ((2 pi)^(d/2) sqrt(det Sigma / min det)))``.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor

from fitting.assets import POSE_PRIOR_PATH, file_sha256
from fitting.safe_pickle import load_restricted

POSE_DIM = 69  # 23 body joints x axis-angle (the global orientation is not in the prior)

#: The product's own mixture, fitted to its pose distribution.
SHIPPED_PRIOR_PATH = POSE_PRIOR_PATH

#: Body-pose entries (69-d, axis-angle) the angle prior bends: left elbow y, right elbow y, left
#: knee x, right knee x; with these signs a natural bend is negative and over-extension positive.
ANGLE_PRIOR_INDEX = (52, 55, 9, 12)
ANGLE_PRIOR_SIGN = (1.0, -1.0, -1.0, -1.0)


@dataclass(frozen=True)
class PosePrior:
    """A Gaussian mixture over the body pose; ``label`` names it in fit results."""

    means: NDArray[np.float64]  # (K, 69)
    covars: NDArray[np.float64]  # (K, 69, 69)
    weights: NDArray[np.float64]  # (K,)
    label: str
    sha256: str = ""

    def __post_init__(self) -> None:
        k = self.weights.shape[0]
        if self.means.shape != (k, POSE_DIM) or self.covars.shape != (k, POSE_DIM, POSE_DIM):
            raise ValueError(
                f"pose prior {self.label}: expected means (K, {POSE_DIM}), covars (K, {POSE_DIM}, "
                f"{POSE_DIM}) and weights (K,); got {self.means.shape}, {self.covars.shape}, "
                f"{self.weights.shape}"
            )
        if not np.all(np.isfinite(self.means)) or not np.all(np.isfinite(self.covars)):
            raise ValueError(f"pose prior {self.label}: non-finite values")
        if np.any(self.weights <= 0):
            raise ValueError(f"pose prior {self.label}: mixture weights must be positive")
        try:
            np.linalg.cholesky(self.covars)
        except np.linalg.LinAlgError as exc:
            raise ValueError(f"pose prior {self.label}: a covariance is not positive definite") from exc

    @classmethod
    def shipped(cls) -> PosePrior:
        return cls.from_npz(SHIPPED_PRIOR_PATH)

    @classmethod
    def from_npz(cls, path: Path) -> PosePrior:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"pose prior {path} does not exist")
        try:
            with np.load(path, allow_pickle=False) as data:
                means, covars, weights = (
                    np.asarray(data[k], np.float64) for k in ("means", "covars", "weights")
                )
        except (KeyError, ValueError, OSError) as exc:
            raise ValueError(f"pose prior {path} cannot be read: {exc}") from exc
        digest = file_sha256(path)
        return cls(means, covars, weights, f"{path.name} (sha256 {digest[:12]})", digest)

    @classmethod
    def from_smplify_pickle(cls, path: Path) -> PosePrior:
        """SMPLify's licensed ``gmm_08.pkl`` (a user's copy)."""
        raw = load_restricted(Path(path), "GMM pose prior")
        if not isinstance(raw, dict) or not {"means", "covars", "weights"} <= set(raw):
            keys = sorted(raw) if isinstance(raw, dict) else type(raw).__name__
            raise ValueError(f"GMM pose prior {path}: expected keys means, covars, weights; got {keys}")
        digest = file_sha256(Path(path))
        means, covars, weights = (
            np.asarray(raw[k], dtype=np.float64) for k in ("means", "covars", "weights")
        )
        return cls(means, covars, weights, f"{Path(path).name} (SMPLify, sha256 {digest[:12]})", digest)

    @classmethod
    def load(cls, path: Path | None) -> PosePrior:
        """The shipped prior when ``path`` is None; a ``.pkl`` is read as SMPLify's, else npz."""
        if path is None:
            return cls.shipped()
        return cls.from_smplify_pickle(path) if Path(path).suffix == ".pkl" else cls.from_npz(path)

    def save_npz(self, path: Path, provenance: dict[str, Any]) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial.npz")
        np.savez_compressed(
            partial,
            means=self.means.astype(np.float32),
            covars=self.covars.astype(np.float32),
            weights=self.weights.astype(np.float32),
            provenance=np.array(json.dumps(provenance, sort_keys=True)),
        )
        partial.replace(path)

    def torch_terms(self, device: torch.device | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """(means (K, 69), precisions (K, 69, 69), per-component constant (K,)) as float32."""
        _, logdet = np.linalg.slogdet(self.covars)
        constant = (
            -np.log(self.weights) + 0.5 * POSE_DIM * math.log(2 * math.pi) + 0.5 * (logdet - logdet.min())
        )
        precisions = np.linalg.inv(self.covars)
        return (
            torch.as_tensor(self.means, dtype=torch.float32, device=device),
            torch.as_tensor(precisions, dtype=torch.float32, device=device),
            torch.as_tensor(constant, dtype=torch.float32, device=device),
        )


def gmm_penalty(body_pose: Tensor, terms: tuple[Tensor, Tensor, Tensor]) -> Tensor:
    """SPIN's merged GMM negative log-likelihood per person: ``body_pose (B, 69)`` -> ``(B,)``."""
    means, precisions, constant = terms
    diff = body_pose[:, None, :] - means[None]  # (B, K, 69)
    quadratic = torch.einsum("bki,kij,bkj->bk", diff, precisions, diff)
    return (0.5 * quadratic + constant[None]).min(dim=1).values


def angle_penalty(body_pose: Tensor) -> Tensor:
    """SMPLify's elbow/knee prior per person: ``sum exp(sign * pose[index])^2`` -> ``(B,)``."""
    sign = torch.tensor(ANGLE_PRIOR_SIGN, dtype=body_pose.dtype, device=body_pose.device)
    return (torch.exp(body_pose[:, list(ANGLE_PRIOR_INDEX)] * sign) ** 2).sum(dim=-1)


@dataclass(frozen=True)
class GmmFit:
    means: NDArray[np.float64]
    covars: NDArray[np.float64]
    weights: NDArray[np.float64]
    mean_log_likelihood: float
    iterations: int
    converged: bool
    method: str  # what fitted it, for the provenance


def fit_gmm(
    samples: NDArray[np.floating],
    components: int = 8,
    iterations: int = 200,
    seed: int = 0,
    reg: float = 1e-4,
    tol: float = 1e-4,
) -> GmmFit:
    """Full-covariance Gaussian mixture by EM (scikit-learn's ``GaussianMixture``, started from
    k-means), deterministic in ``seed``. ``reg`` is added to every covariance's diagonal (keeps
    them invertible); EM stops when the mean log-likelihood gains less than ``tol`` per iteration.

    scikit-learn is needed only here, to build a prior (the ``build-prior`` extra); reading and
    using one needs numpy and torch alone.
    """
    import sklearn  # type: ignore[import-untyped]
    from sklearn.mixture import GaussianMixture  # type: ignore[import-untyped]

    x = np.asarray(samples, dtype=np.float64)
    n, d = x.shape
    if n < components * (d + 1):
        raise ValueError(f"fit_gmm: {n} samples are too few for {components} components of dimension {d}")
    mixture = GaussianMixture(
        n_components=components,
        covariance_type="full",
        reg_covar=reg,
        max_iter=iterations,
        tol=tol,
        random_state=seed,
    ).fit(x)
    return GmmFit(
        means=np.asarray(mixture.means_, dtype=np.float64),
        covars=np.asarray(mixture.covariances_, dtype=np.float64),
        weights=np.asarray(mixture.weights_, dtype=np.float64),
        mean_log_likelihood=float(mixture.score(x)),
        iterations=int(mixture.n_iter_),
        converged=bool(mixture.converged_),
        method=(
            f"sklearn.mixture.GaussianMixture {sklearn.__version__} (covariance_type full, "
            f"reg_covar {reg:g}, tol {tol:g}, max_iter {iterations}, random_state {seed})"
        ),
    )


def build_shipped_prior(
    out: Path = SHIPPED_PRIOR_PATH, samples: int = 40_000, components: int = 8, seed: int = 0
) -> PosePrior:
    """Fit the product's prior to its pose distribution and write it (``python -m fitting pose-prior``)."""
    from fitting.synth.poses import sample_poses

    started = time.perf_counter()
    poses = sample_poses(samples, np.random.default_rng(seed)).axis_angle[:, 1:].reshape(samples, POSE_DIM)
    fit = fit_gmm(poses, components=components, seed=seed)
    provenance = {
        "what": "Gaussian mixture pose prior over SMPL's 69-d body pose (axis-angle), for SMPLify",
        "source": "poses sampled from fitting.synth.poses (joint limits + key-pose families), CC0",
        "samples": samples,
        "components": components,
        "seed": seed,
        "method": fit.method,
        "em_iterations": fit.iterations,
        "em_converged": fit.converged,
        "mean_log_likelihood": fit.mean_log_likelihood,
        "command": (
            f"python -m fitting pose-prior --samples {samples} --components {components} --seed {seed}"
        ),
        "seconds": round(time.perf_counter() - started, 1),
    }
    prior = PosePrior(fit.means, fit.covars, fit.weights, "product GMM")
    prior.save_npz(out, provenance)
    return PosePrior.from_npz(out)
