"""The Fréchet distance between two Gaussians, the core of FID (Heusel et al. 2017).

    d^2 = ||mu1 - mu2||^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2))      (Heusel et al. 2017, eq. 6;
                                                                     Dowson & Landau 1982)

Method. S1 S2 is not symmetric, so its square root by `scipy.linalg.sqrtm` (the pytorch-fid route)
can come back complex or infinite when a covariance is near-singular; pytorch-fid then adds 1e-6 to
both diagonals and drops an imaginary part up to 1e-3. We avoid both by the symmetric form:
S1 S2 = A^-1 (A S2 A) A with A = S1^(1/2), so S1 S2 is similar to the symmetric positive
semi-definite M = A S2 A and tr((S1 S2)^(1/2)) = sum_i sqrt(lambda_i(M)). A comes from an
eigendecomposition of S1 (`numpy.linalg.eigh`), lambda(M) from `eigvalsh`, all in float64. Singular
or rank-deficient covariances (fewer samples than feature dimensions) need no offset: their zero
eigenvalues simply contribute zero.

Zero eigenvalues come out of `eigh` as round-off of either sign, about lambda_max * d * eps, and the
square root would amplify that to ~1e-8 each. Eigenvalues below lambda_max * d * eps (the rank
threshold of `numpy.linalg.matrix_rank`) are therefore taken as the exact zeros they are. A negative
eigenvalue beyond `psd_tolerance` times the largest means the input is not a covariance matrix, and
raises.
"""

from __future__ import annotations

import numpy as np

# Relative size of a negative eigenvalue that still counts as round-off of a PSD matrix.
PSD_TOLERANCE = 1e-8


def _as_mean(name: str, mu) -> np.ndarray:
  mu = np.asarray(mu, dtype=np.float64)
  if mu.ndim != 1:
    raise ValueError(f"{name} must be a vector [d]; got shape {mu.shape}.")
  return mu


def _as_covariance(name: str, sigma, dim: int) -> np.ndarray:
  sigma = np.asarray(sigma, dtype=np.float64)
  if sigma.shape != (dim, dim):
    raise ValueError(f"{name} must have shape {(dim, dim)} to match the mean; got {sigma.shape}.")
  if not np.all(np.isfinite(sigma)):
    raise ValueError(f"{name} holds non-finite values.")
  scale = max(np.max(np.abs(sigma)), np.finfo(np.float64).tiny)
  if not np.allclose(sigma, sigma.T, rtol=0, atol=1e-10 * scale):
    raise ValueError(
      f"{name} is not symmetric (max |S - S^T| = {np.max(np.abs(sigma - sigma.T))})."
    )
  # Use the exactly symmetric part: eigh reads one triangle only.
  return (sigma + sigma.T) / 2


def _psd_eigenvalues(name: str, eigenvalues: np.ndarray, tolerance: float) -> np.ndarray:
  """Eigenvalues of a matrix known to be PSD, with round-off around zero set to exact zeros."""
  largest = max(float(np.max(np.abs(eigenvalues))), np.finfo(np.float64).tiny)
  smallest = float(np.min(eigenvalues))
  if smallest < -tolerance * largest:
    raise ValueError(
      f"{name} is not positive semi-definite: eigenvalue {smallest:.3e} against a largest of "
      f"{largest:.3e} (tolerance {tolerance:g} relative)."
    )
  # numpy.linalg.matrix_rank's threshold: below it an eigenvalue is indistinguishable from 0.
  round_off = largest * eigenvalues.shape[0] * np.finfo(np.float64).eps
  return np.where(eigenvalues > round_off, eigenvalues, 0.0)


def sqrtm_psd(
  sigma: np.ndarray, name: str = "sigma", tolerance: float = PSD_TOLERANCE
) -> np.ndarray:
  """Symmetric square root A of a PSD matrix (A A = sigma), from its eigendecomposition."""
  eigenvalues, eigenvectors = np.linalg.eigh(sigma)
  root = np.sqrt(_psd_eigenvalues(name, eigenvalues, tolerance))
  # V diag(sqrt(lambda)) V^T.
  return (eigenvectors * root) @ eigenvectors.T


def trace_sqrt_product(sigma1, sigma2, tolerance: float = PSD_TOLERANCE) -> float:
  """tr((S1 S2)^(1/2)) = sum_i sqrt(lambda_i(S1^(1/2) S2 S1^(1/2))) (similar matrices)."""
  root1 = sqrtm_psd(sigma1, "sigma1", tolerance)
  middle = root1 @ sigma2 @ root1
  middle = (middle + middle.T) / 2
  eigenvalues = _psd_eigenvalues(
    "sigma1^(1/2) sigma2 sigma1^(1/2)", np.linalg.eigvalsh(middle), tolerance
  )
  return float(np.sum(np.sqrt(eigenvalues)))


def frechet_distance(mu1, sigma1, mu2, sigma2, psd_tolerance: float = PSD_TOLERANCE) -> float:
  """Squared Fréchet (2-Wasserstein) distance between N(mu1, sigma1) and N(mu2, sigma2).

  Computed in float64 by the symmetric eigendecomposition form described in the module docstring;
  stable for singular and near-singular covariances without any diagonal offset.

  Args:
    mu1, mu2: means, vectors [d].
    sigma1, sigma2: covariances, symmetric PSD [d, d].
    psd_tolerance: negative eigenvalues down to -psd_tolerance * (largest eigenvalue) are taken
      as round-off zeros; anything more negative raises.

  Returns:
    The distance as a Python float (>= 0 up to round-off; FID is this value on network features).
  """
  mu1 = _as_mean("mu1", mu1)
  mu2 = _as_mean("mu2", mu2)
  if mu1.shape != mu2.shape:
    raise ValueError(f"mu1 and mu2 must have the same length; got {mu1.shape} and {mu2.shape}.")
  dim = mu1.shape[0]
  sigma1 = _as_covariance("sigma1", sigma1, dim)
  sigma2 = _as_covariance("sigma2", sigma2, dim)
  diff = mu1 - mu2
  # Heusel et al. 2017, eq. 6.
  return float(
    diff @ diff
    + np.trace(sigma1)
    + np.trace(sigma2)
    - 2.0 * trace_sqrt_product(sigma1, sigma2, psd_tolerance)
  )
