"""Tests of IS, KID, precision/recall and mode coverage against independent derivations."""

import itertools
import math

import numpy as np
import pytest

from jaxgen.metrics import (
  inception_score,
  kernel_inception_distance,
  mode_coverage,
  precision_recall,
)

# --- Inception Score -------------------------------------------------------------------------


def test_inception_score_of_uniform_predictions_is_one():
  mean, std = inception_score(np.zeros((100, 10)))
  np.testing.assert_allclose([mean, std], [1.0, 0.0], atol=1e-12)


@pytest.mark.parametrize("num_classes", [2, 10])
def test_inception_score_of_confident_balanced_predictions_is_the_class_count(num_classes):
  # 10 splits, each holding every class equally often, each prediction one-hot.
  labels = np.arange(10 * num_classes * 3) % num_classes
  logits = 100.0 * np.eye(num_classes)[labels]
  mean, std = inception_score(logits, num_splits=10)
  np.testing.assert_allclose([mean, std], [num_classes, 0.0], rtol=1e-9, atol=1e-9)


def test_inception_score_matches_entropy_identity_on_random_logits():
  # E_x KL(p(y|x) || p(y)) = H(y) - E_x H(y|x), evaluated with plain probabilities.
  logits = np.random.default_rng(0).normal(scale=3, size=(200, 7))
  probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
  scores = []
  for part in np.array_split(probs, 4):
    marginal = part.mean(axis=0)
    marginal_entropy = -np.sum(marginal * np.log(marginal))
    conditional_entropy = -np.mean(np.sum(part * np.log(part), axis=1))
    scores.append(math.exp(marginal_entropy - conditional_entropy))
  np.testing.assert_allclose(
    inception_score(logits, num_splits=4), [np.mean(scores), np.std(scores)], rtol=1e-10
  )


def test_inception_score_rejects_more_splits_than_samples():
  with pytest.raises(ValueError, match="num_splits"):
    inception_score(np.zeros((5, 3)), num_splits=10)


# --- KID -------------------------------------------------------------------------------------


def _mmd2_by_loops(x, y):
  """Unbiased MMD^2 with k(a, b) = (a.b / d + 1)^3, written as explicit double sums."""
  m, d = x.shape

  def k(a, b):
    return (np.dot(a, b) / d + 1.0) ** 3

  xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
  yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
  xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
  return xx + yy - 2 * xy


def test_kid_with_full_subsets_equals_the_double_sum():
  rng = np.random.default_rng(1)
  x, y = rng.normal(size=(7, 3)), rng.normal(size=(7, 3)) + 0.3
  # One subset of all 7 samples: only a permutation, to which MMD is invariant.
  mean, std = kernel_inception_distance(x, y, num_subsets=1, subset_size=7)
  np.testing.assert_allclose(mean, _mmd2_by_loops(x, y), rtol=1e-12)
  assert std == 0.0


def test_kid_of_one_distribution_is_zero_within_its_standard_error():
  rng = np.random.default_rng(2)
  estimates = [
    kernel_inception_distance(
      rng.normal(size=(200, 8)), rng.normal(size=(200, 8)), num_subsets=5, subset_size=100, seed=s
    )[0]
    for s in range(30)
  ]
  standard_error = np.std(estimates) / np.sqrt(len(estimates))
  assert abs(np.mean(estimates)) < 3 * standard_error
  # Unbiased, so single estimates fall on both sides of zero.
  assert min(estimates) < 0 < max(estimates)


def test_kid_of_shifted_distributions_is_positive():
  rng = np.random.default_rng(3)
  real = rng.normal(size=(300, 8))
  shifted, std = kernel_inception_distance(
    real, rng.normal(size=(300, 8)) + 0.5, num_subsets=20, subset_size=100
  )
  same, _ = kernel_inception_distance(
    real, rng.normal(size=(300, 8)), num_subsets=20, subset_size=100
  )
  # Positive by more than 3 standard errors of the subset mean, and far above the unshifted value.
  assert shifted > 3 * std / np.sqrt(20) > 0
  assert shifted > 20 * abs(same)


def test_kid_rejects_subsets_larger_than_the_sets():
  with pytest.raises(ValueError, match=r"subset_size must be an integer in \[2, 10\]"):
    kernel_inception_distance(np.zeros((10, 2)), np.zeros((20, 2)), subset_size=11)


# --- Precision and recall --------------------------------------------------------------------


def _precision_recall_by_loops(real, fake, k):
  def radii(points):
    return [
      sorted(np.linalg.norm(p - q) for j, q in enumerate(points) if j != i)[k - 1]
      for i, p in enumerate(points)
    ]

  def share_inside(manifold, manifold_radii, queries):
    inside = [
      any(np.linalg.norm(q - c) <= r for c, r in zip(manifold, manifold_radii, strict=True))
      for q in queries
    ]
    return float(np.mean(inside))

  return share_inside(real, radii(real), fake), share_inside(fake, radii(fake), real)


@pytest.mark.parametrize("k", [1, 3])
def test_precision_recall_match_brute_force(k):
  rng = np.random.default_rng(4)
  real = rng.normal(size=(40, 3))
  fake = rng.normal(size=(30, 3)) * 1.5 + 0.7
  result = precision_recall(real, fake, k=k)
  np.testing.assert_allclose(
    (result["precision"], result["recall"]), _precision_recall_by_loops(real, fake, k)
  )
  assert 0 < result["precision"] < 1 and 0 < result["recall"] < 1


def test_precision_recall_of_identical_and_disjoint_sets():
  real = np.random.default_rng(5).normal(size=(50, 4))
  assert precision_recall(real, real.copy()) == {"precision": 1.0, "recall": 1.0}
  assert precision_recall(real, real + 100.0) == {"precision": 0.0, "recall": 0.0}


def test_collapsed_generator_has_high_precision_and_low_recall():
  rng = np.random.default_rng(6)
  real = rng.normal(size=(200, 2))
  collapsed = real[0] + 1e-3 * rng.normal(size=(200, 2))
  result = precision_recall(real, collapsed)
  assert result["precision"] == 1.0
  assert result["recall"] < 0.1


# --- Mode coverage ---------------------------------------------------------------------------

RING8 = np.array([[math.cos(2 * math.pi * i / 8), math.sin(2 * math.pi * i / 8)] for i in range(8)])
GRID25 = np.array(list(itertools.product([-4, -2, 0, 2, 4], repeat=2)), dtype=float)


def _near(centers, counts, std, offset_in_stds=1.0):
  """counts[i] points at offset_in_stds * std from centre i (diagonal direction)."""
  direction = np.array([1.0, 1.0]) / math.sqrt(2)
  return np.concatenate(
    [
      np.tile(c + offset_in_stds * std * direction, (n, 1))
      for c, n in zip(centers, counts, strict=True)
      if n
    ]
  )


@pytest.mark.parametrize(("centers", "std"), [(RING8, 0.01), (GRID25, 0.05)])
def test_mode_coverage_all_modes_balanced(centers, std):
  samples = _near(centers, [100] * len(centers), std)
  assert mode_coverage(samples, centers, std) == {
    "modes": len(centers),
    "high_quality": 1.0,
    "reverse_kl": pytest.approx(0.0, abs=1e-12),
  }


def test_mode_coverage_one_mode():
  samples = _near(RING8, [2500, 0, 0, 0, 0, 0, 0, 0], 0.01)
  result = mode_coverage(samples, RING8, 0.01)
  assert result["modes"] == 1 and result["high_quality"] == 1.0
  # KL(one-hot || uniform over 8) = log 8.
  np.testing.assert_allclose(result["reverse_kl"], math.log(8), rtol=1e-12)


def test_mode_coverage_off_mode_noise_has_no_modes_and_an_undefined_reverse_kl():
  # The origin is 1 = 100 std away from every ring mode: no high-quality sample, so p_g is empty
  # and KL(p_g || uniform) is undefined, not log 8 (which a collapse onto one mode gives).
  result = mode_coverage(np.zeros((50, 2)), RING8, 0.01)
  assert result["modes"] == 0 and result["high_quality"] == 0.0
  assert math.isnan(result["reverse_kl"])


def test_mode_coverage_mixed_counts_and_off_mode_samples():
  std = 0.01
  samples = np.concatenate([_near(RING8, [3, 1, 0, 0, 0, 0, 0, 0], std), np.zeros((2, 2))])
  result = mode_coverage(samples, RING8, std)
  # Histogram of the 4 high-quality samples: (3/4, 1/4, 0, ...), KL to uniform over 8 modes.
  expected_kl = 0.75 * math.log(8 * 0.75) + 0.25 * math.log(8 * 0.25)
  assert result["modes"] == 2
  assert result["high_quality"] == pytest.approx(4 / 6)
  assert result["reverse_kl"] == pytest.approx(expected_kl, rel=1e-12)


def test_mode_coverage_threshold_is_three_standard_deviations():
  std = 0.05
  inside = _near(GRID25[:1], [1], std, offset_in_stds=2.99)
  outside = _near(GRID25[1:2], [1], std, offset_in_stds=3.01)
  result = mode_coverage(np.concatenate([inside, outside]), GRID25, std)
  assert result["modes"] == 1 and result["high_quality"] == 0.5


def test_mode_coverage_rejects_bad_std_and_shapes():
  with pytest.raises(ValueError, match="std"):
    mode_coverage(np.zeros((3, 2)), RING8, 0.0)
  with pytest.raises(ValueError, match="share d"):
    mode_coverage(np.zeros((3, 3)), RING8, 0.01)
