"""Tests of the Fréchet distance and the streaming statistics, against independent derivations."""

import numpy as np
import pytest
import scipy.linalg

from jaxgen.metrics import RunningStatistics, cached_statistics, frechet_distance, statistics_of


def _random_covariance(rng, dim, rank=None):
  factor = rng.normal(size=(dim, rank or dim))
  return factor @ factor.T / dim


def _reference_fid(mu1, sigma1, mu2, sigma2):
  """The textbook formula with a plain scipy.linalg.sqrtm of the (non-symmetric) product."""
  covmean = scipy.linalg.sqrtm(sigma1 @ sigma2)
  return float(np.sum((mu1 - mu2) ** 2) + np.trace(sigma1 + sigma2 - 2 * covmean.real))


@pytest.mark.parametrize(("num_samples", "dim"), [(500, 16), (20, 64)])
def test_fid_of_a_set_with_itself_is_zero(num_samples, dim):
  # (20, 64): fewer samples than dimensions, a rank-deficient covariance.
  features = np.random.default_rng(0).normal(size=(num_samples, dim)) * 3 + 1
  mu, sigma = features.mean(0), np.cov(features, rowvar=False)
  assert abs(frechet_distance(mu, sigma, mu, sigma)) < 1e-6


@pytest.mark.parametrize("with_zero_variances", [False, True])
def test_fid_of_diagonal_gaussians_matches_closed_form(with_zero_variances):
  rng = np.random.default_rng(1)
  dim = 12
  mu1, mu2 = rng.normal(size=dim), rng.normal(size=dim)
  s1, s2 = rng.uniform(0.1, 3, dim), rng.uniform(0.1, 3, dim)
  if with_zero_variances:
    s1[:4] = 0.0
    s2[2:6] = 0.0
  # Commuting diagonal covariances: sqrt(S1 S2) = diag(sqrt(s1 s2)).
  expected = np.sum((mu1 - mu2) ** 2 + s1 + s2 - 2 * np.sqrt(s1 * s2))
  np.testing.assert_allclose(
    frechet_distance(mu1, np.diag(s1), mu2, np.diag(s2)), expected, rtol=1e-10
  )


def test_fid_is_invariant_under_orthogonal_rotation():
  rng = np.random.default_rng(2)
  dim = 10
  mu1, mu2 = rng.normal(size=dim), rng.normal(size=dim)
  sigma1, sigma2 = _random_covariance(rng, dim), _random_covariance(rng, dim)
  rotation, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
  rotated = frechet_distance(
    rotation @ mu1, rotation @ sigma1 @ rotation.T, rotation @ mu2, rotation @ sigma2 @ rotation.T
  )
  np.testing.assert_allclose(rotated, frechet_distance(mu1, sigma1, mu2, sigma2), rtol=1e-9)


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_fid_matches_plain_scipy_sqrtm_on_non_commuting_covariances(seed):
  rng = np.random.default_rng(seed)
  dim = 20
  mu1, mu2 = rng.normal(size=dim), rng.normal(size=dim)
  sigma1, sigma2 = _random_covariance(rng, dim), _random_covariance(rng, dim)
  assert np.linalg.norm(sigma1 @ sigma2 - sigma2 @ sigma1) > 0.1
  np.testing.assert_allclose(
    frechet_distance(mu1, sigma1, mu2, sigma2),
    _reference_fid(mu1, sigma1, mu2, sigma2),
    rtol=1e-6,
  )


def test_fid_of_singular_covariances_equals_fid_in_their_common_subspace():
  # Both Gaussians live in one 5-d subspace of R^40: the distance must equal the full-rank
  # computation in that subspace's coordinates, where plain sqrtm is well-posed.
  rng = np.random.default_rng(6)
  basis, _ = np.linalg.qr(rng.normal(size=(40, 5)))
  small = [(rng.normal(size=5), _random_covariance(rng, 5)) for _ in range(2)]
  (m1, c1), (m2, c2) = small
  lifted = frechet_distance(basis @ m1, basis @ c1 @ basis.T, basis @ m2, basis @ c2 @ basis.T)
  np.testing.assert_allclose(lifted, _reference_fid(m1, c1, m2, c2), rtol=1e-6)


@pytest.mark.parametrize(
  ("sigma1", "message"),
  [
    (np.array([[1.0, 0.5], [0.0, 1.0]]), "not symmetric"),
    (np.array([[1.0, 0.0], [0.0, -0.5]]), "not positive semi-definite"),
    (np.eye(3), "shape"),
  ],
)
def test_fid_rejects_bad_covariances(sigma1, message):
  with pytest.raises(ValueError, match=message):
    frechet_distance(np.zeros(2), sigma1, np.zeros(2), np.eye(2))


def test_streaming_statistics_equal_batch_statistics():
  rng = np.random.default_rng(7)
  # A large common offset is where the naive sum-of-outer-products formula loses digits.
  features = rng.normal(size=(1000, 8)) @ rng.normal(size=(8, 8)) + 1e4
  stats = RunningStatistics(8)
  for piece in np.split(features, [1, 7, 300, 301, 999]):
    stats.update(piece)
  assert stats.count == 1000
  np.testing.assert_allclose(stats.mean, features.mean(axis=0), rtol=1e-12)
  np.testing.assert_allclose(stats.covariance, np.cov(features, rowvar=False), rtol=1e-9)


def test_merged_statistics_equal_statistics_of_the_union():
  rng = np.random.default_rng(8)
  a, b = rng.normal(size=(50, 4)), rng.normal(size=(70, 4)) + 2
  merged = statistics_of(a).merge(statistics_of(b))
  union = np.concatenate([a, b])
  np.testing.assert_allclose(merged.mean, union.mean(axis=0), rtol=1e-12)
  np.testing.assert_allclose(merged.covariance, np.cov(union, rowvar=False), rtol=1e-12)


def test_statistics_reject_wrong_shapes_and_too_few_samples():
  stats = RunningStatistics(3)
  with pytest.raises(ValueError, match=r"\[n, 3\]"):
    stats.update(np.zeros((4, 2)))
  stats.update(np.zeros((1, 3)))
  with pytest.raises(ValueError, match="at least two samples"):
    _ = stats.covariance


def test_cached_statistics_compute_once_then_load(tmp_path):
  features = np.random.default_rng(9).normal(size=(30, 3))
  calls = []

  def compute():
    calls.append(1)
    return statistics_of(features)

  first = cached_statistics("digits", "train", "cnn.abc", compute, cache_dir=tmp_path)
  second = cached_statistics("digits", "train", "cnn.abc", compute, cache_dir=tmp_path)
  assert len(calls) == 1
  assert (tmp_path / "digits-train-cnn.abc.npz").is_file()
  np.testing.assert_array_equal(second.mean, first.mean)
  np.testing.assert_array_equal(second.covariance, first.covariance)
  # Another split is another key.
  cached_statistics("digits", "test", "cnn.abc", compute, cache_dir=tmp_path)
  assert len(calls) == 2


def test_cached_statistics_reject_bad_keys_and_mismatched_files(tmp_path):
  with pytest.raises(ValueError, match="cannot name a cache file"):
    cached_statistics("digits", "train/../x", "cnn", lambda: None, cache_dir=tmp_path)
  stats = statistics_of(np.eye(3))
  cached_statistics("digits", "train", "cnn", lambda: stats, cache_dir=tmp_path)
  (tmp_path / "digits-train-cnn.npz").rename(tmp_path / "mnist-train-cnn.npz")
  with pytest.raises(ValueError, match="does not hold the key"):
    cached_statistics("mnist", "train", "cnn", lambda: stats, cache_dir=tmp_path)
