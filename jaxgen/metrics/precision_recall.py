"""Improved precision and recall of generative models (Kynkäänniemi et al. 2019).

Each set of features is turned into a manifold estimate: the union of balls centred on its samples,
each ball's radius being the distance to that sample's k-th nearest neighbour within the same set
(the sample itself not counted). Then (Kynkäänniemi et al. 2019, eqs. 1-2)

    precision = share of generated samples inside the real manifold
    recall    = share of real samples inside the generated manifold

with "inside" meaning within the radius of at least one ball (distance <= radius). Distances are
Euclidean, computed in float64 and in row blocks so no n x n matrix is ever held whole.
"""

from __future__ import annotations

import numpy as np

from jaxgen.metrics._checks import as_matrix

_BLOCK_ROWS = 1024


def _squared_distances(x: np.ndarray, y: np.ndarray) -> np.ndarray:
  """||x_i - y_j||^2 for all pairs, expanded as ||x||^2 - 2 x.y + ||y||^2."""
  d2 = np.sum(x * x, axis=1)[:, None] - 2.0 * x @ y.T + np.sum(y * y, axis=1)[None, :]
  # The expansion can dip below zero by round-off where x_i == y_j.
  return np.maximum(d2, 0.0)


def knn_radii_squared(features: np.ndarray, k: int) -> np.ndarray:
  """Squared distance from each sample to its k-th nearest other sample of the same set."""
  radii = np.empty(features.shape[0])
  for start in range(0, features.shape[0], _BLOCK_ROWS):
    block = _squared_distances(features[start : start + _BLOCK_ROWS], features)
    # Index 0 of the sorted row is the sample itself (distance 0), so index k is its k-th neighbour.
    radii[start : start + _BLOCK_ROWS] = np.partition(block, k, axis=1)[:, k]
  return radii


def manifold_coverage(
  manifold: np.ndarray, radii_squared: np.ndarray, queries: np.ndarray
) -> float:
  """Share of `queries` within the radius of at least one manifold sample."""
  inside = np.empty(queries.shape[0], dtype=bool)
  for start in range(0, queries.shape[0], _BLOCK_ROWS):
    block = _squared_distances(queries[start : start + _BLOCK_ROWS], manifold)
    inside[start : start + _BLOCK_ROWS] = np.any(block <= radii_squared[None, :], axis=1)
  return float(np.mean(inside))


def _as_features(name: str, features, k: int) -> np.ndarray:
  features = as_matrix(name, features)
  if features.shape[0] <= k:
    raise ValueError(
      f"{name} needs more than k={k} samples for k-NN radii; got {features.shape[0]}."
    )
  return features


def precision_recall(real_features, fake_features, k: int = 3) -> dict[str, float]:
  """Improved precision and recall (Kynkäänniemi et al. 2019) with k-NN manifolds.

  Args:
    real_features: [n_real, d] features of real data.
    fake_features: [n_fake, d] features of generated samples.
    k: neighbourhood size of the manifold estimate (the paper uses 3).

  Returns:
    {"precision": float, "recall": float}, both in [0, 1].
  """
  if int(k) != k or k < 1:
    raise ValueError(f"k must be a positive integer; got {k!r}.")
  k = int(k)
  real = _as_features("real_features", real_features, k)
  fake = _as_features("fake_features", fake_features, k)
  if real.shape[1] != fake.shape[1]:
    raise ValueError(f"Feature dimensions differ: {real.shape[1]} and {fake.shape[1]}.")
  return {
    "precision": manifold_coverage(real, knn_radii_squared(real, k), fake),
    "recall": manifold_coverage(fake, knn_radii_squared(fake, k), real),
  }
