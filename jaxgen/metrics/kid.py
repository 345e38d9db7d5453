"""Kernel Inception Distance (Binkowski et al. 2018, "Demystifying MMD GANs", Sec. 5).

KID is the unbiased estimate of the squared maximum mean discrepancy between two feature sets under
the cubic polynomial kernel

    k(x, y) = (x . y / d + 1)^3                                     (Binkowski et al. 2018, Sec. 5)

with d the feature dimension. For sets X, Y of m samples each,

    MMD^2_u = sum_{i != j} k(x_i, x_j) / (m (m - 1)) + sum_{i != j} k(y_i, y_j) / (m (m - 1))
              - 2 sum_{i, j} k(x_i, y_j) / m^2                          (Gretton et al. 2012, eq. 3)

Unlike FID it has no bias from the sample size, which is why it suits the small sample sets a CPU
can score. As in the reference code (mbinkowski/MMD-GAN, `compute_scores.py`), the estimate is
averaged over `num_subsets` random subsets of `subset_size` samples drawn without replacement from
each set; the std over subsets is returned with the mean. Being unbiased, single estimates can be
slightly negative when the two distributions are equal.
"""

from __future__ import annotations

import numpy as np

from jaxgen.metrics._checks import as_matrix

# The reference implementation's subset size.
REFERENCE_SUBSET_SIZE = 1000


def polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
  """Gram matrix of k(x, y) = (x . y / d + 1)^3 between the rows of x and of y."""
  return (x @ y.T / x.shape[1] + 1.0) ** 3


def unbiased_mmd2(x: np.ndarray, y: np.ndarray) -> float:
  """MMD^2_u of Gretton et al. 2012 (eq. 3) for equal-size samples x, y under the cubic kernel."""
  m = x.shape[0]
  k_xx = polynomial_kernel(x, x)
  k_yy = polynomial_kernel(y, y)
  k_xy = polynomial_kernel(x, y)
  within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
  return float(within - 2.0 * k_xy.mean())


def kernel_inception_distance(
  features_a,
  features_b,
  num_subsets: int = 100,
  subset_size: int | None = None,
  seed: int = 0,
) -> tuple[float, float]:
  """KID: mean and std of MMD^2_u with the cubic polynomial kernel over random subsets.

  Args:
    features_a, features_b: feature sets [n_a, d] and [n_b, d] (e.g. real and generated).
    num_subsets: number of random subset pairs (the reference uses 100).
    subset_size: samples per subset, drawn without replacement from each set; must be in
      [2, min(n_a, n_b)]. None means min(1000, n_a, n_b), 1000 being the reference's size.
    seed: seed of the subset draws (numpy Generator), so a score is reproducible.

  Returns:
    (mean, std) of the per-subset estimates.
  """
  a = as_matrix("features_a", features_a)
  b = as_matrix("features_b", features_b)
  if a.shape[1] != b.shape[1]:
    raise ValueError(f"Feature dimensions differ: {a.shape[1]} and {b.shape[1]}.")
  available = min(a.shape[0], b.shape[0])
  if subset_size is None:
    subset_size = min(REFERENCE_SUBSET_SIZE, available)
  if int(subset_size) != subset_size or not 2 <= subset_size <= available:
    raise ValueError(
      f"subset_size must be an integer in [2, {available}] (the smaller set's size); "
      f"got {subset_size!r}."
    )
  if int(num_subsets) != num_subsets or num_subsets < 1:
    raise ValueError(f"num_subsets must be a positive integer; got {num_subsets!r}.")
  rng = np.random.default_rng(seed)
  estimates = [
    unbiased_mmd2(
      a[rng.choice(a.shape[0], int(subset_size), replace=False)],
      b[rng.choice(b.shape[0], int(subset_size), replace=False)],
    )
    for _ in range(int(num_subsets))
  ]
  return float(np.mean(estimates)), float(np.std(estimates))
