"""jaxgen.theory.divergences against scipy and closed forms (GAN theory items 3 and 5)."""

import math

import numpy as np
import pytest
from scipy import optimize, spatial, stats

from jaxgen.theory import divergences


def _random_distribution(rng, size, kind):
  """A probability vector of `size`: dense, sparse (random zeros) or a point mass."""
  if kind == "point":
    p = np.zeros(size)
    p[rng.integers(size)] = 1.0
    return p
  p = rng.dirichlet(np.full(size, rng.choice([0.1, 1.0, 10.0])))
  if kind == "sparse":
    p = p * (rng.random(size) < 0.5)
    if p.sum() == 0:
      p[rng.integers(size)] = 1.0
  return p / p.sum()


def _pairs():
  """Random pairs over sizes and seeds: independent, sparse, disjoint, identical, near-identical."""
  rng = np.random.default_rng(0)
  for size in (1, 2, 3, 5, 10, 50):
    for _ in range(40):
      kind = rng.choice(["dense", "sparse", "point"])
      p, q = _random_distribution(rng, size, kind), _random_distribution(rng, size, kind)
      yield p, q
      yield p, p.copy()
      if size >= 2:
        # Disjoint: split the bins into two non-empty random halves, one per distribution.
        order = rng.permutation(size)
        cut = rng.integers(1, size)
        a, b = np.zeros(size), np.zeros(size)
        a[order[:cut]] = rng.random(cut) + 0.01
        b[order[cut:]] = rng.random(size - cut) + 0.01
        yield a / a.sum(), b / b.sum()


PAIRS = list(_pairs())


def test_jsd_bits_is_in_0_1_with_equality_cases_and_matches_scipy():
  for p, q in PAIRS:
    value = divergences.jsd(p, q, base=2)
    # Independent: scipy's Jensen-Shannon distance is sqrt(JSD); and H(m) - (H(p) + H(q)) / 2.
    assert value == pytest.approx(spatial.distance.jensenshannon(p, q, base=2) ** 2, abs=1e-9)
    by_entropy = (
      stats.entropy((p + q) / 2, base=2) - (stats.entropy(p, base=2) + stats.entropy(q, base=2)) / 2
    )
    assert value == pytest.approx(by_entropy, abs=1e-9)
    assert -1e-12 <= value <= 1 + 1e-12
    assert value == pytest.approx(divergences.jsd(q, p, base=2), abs=1e-12)
    equal = np.array_equal(p, q)
    disjoint = not np.any((p > 0) & (q > 0))
    assert (value < 1e-12) == equal, (p, q, value)
    assert (abs(value - 1) < 1e-12) == disjoint, (p, q, value)


def test_jsd_equality_cases_are_all_exercised():
  kinds = {(np.array_equal(p, q), not np.any((p > 0) & (q > 0))) for p, q in PAIRS}
  assert kinds == {(True, False), (False, False), (False, True)}


def test_jsd_in_nats_is_bits_times_log2_and_batches():
  p = np.stack([pq[0] for pq in PAIRS if pq[0].size == 5])
  q = np.stack([pq[1] for pq in PAIRS if pq[1].size == 5])
  batched = divergences.jsd(p, q)
  assert batched.shape == (len(p),)
  np.testing.assert_allclose(batched, divergences.jsd(p, q, base=2) * math.log(2), atol=1e-12)
  np.testing.assert_allclose(
    batched, [divergences.jsd(a, b) for a, b in zip(p, q, strict=True)], atol=1e-15
  )


def test_kl_matches_scipy_entropy_and_is_infinite_off_support():
  for p, q in PAIRS[:300]:
    assert divergences.kl(p, q) == pytest.approx(stats.entropy(p, q), abs=1e-9)
    assert divergences.kl(p, q, base=2) == pytest.approx(stats.entropy(p, q, base=2), abs=1e-9)
  assert divergences.kl([0.5, 0.5, 0.0], [0.25, 0.25, 0.5]) == pytest.approx(math.log(2))
  assert divergences.kl([0.5, 0.5], [1.0, 0.0]) == math.inf


@pytest.mark.parametrize(
  "p, q, match",
  [
    ([0.5, -0.1, 0.6], [0.3, 0.3, 0.4], "negative"),
    ([0.5, 0.6], [0.5, 0.5], "sum to 1"),
    ([0.5, 0.5], [0.2, 0.3], "sum to 1"),
    ([0.5, 0.5], [0.2, 0.3, 0.5], "same shape"),
    ([np.nan, 1.0], [0.5, 0.5], "non-finite"),
    ([], [], "probability vector"),
  ],
)
def test_non_distributions_raise(p, q, match):
  for fn in (divergences.kl, divergences.jsd):
    with pytest.raises(ValueError, match=match):
      fn(p, q)


def test_bad_base_raises():
  with pytest.raises(ValueError, match="base"):
    divergences.jsd([1.0], [1.0], base=1)


def test_w1_1d_matches_scipy_wasserstein_distance():
  rng = np.random.default_rng(1)
  for n in (1, 7, 100):
    a, b = rng.normal(size=n), rng.exponential(size=n) + 0.3
    assert divergences.w1_1d(a, b) == pytest.approx(stats.wasserstein_distance(a, b), rel=1e-12)
  assert divergences.w1_1d([0.0, 1.0], [3.0, 2.0]) == pytest.approx(2.0)
  with pytest.raises(ValueError, match="equal-size"):
    divergences.w1_1d([0.0, 1.0], [1.0])
  with pytest.raises(ValueError, match="1-D"):
    divergences.w1_1d(np.zeros((2, 2)), np.zeros((2, 2)))


def _w1_normals(m1, s1, m2, s2):
  """W1 between N(m1, s1^2) and N(m2, s2^2): E|dm + ds Z|, the folded normal's mean."""
  dm, ds = m1 - m2, abs(s1 - s2)
  if ds == 0:
    return abs(dm)
  return ds * math.sqrt(2 / math.pi) * math.exp(-(dm**2) / (2 * ds**2)) + dm * (
    1 - 2 * stats.norm.cdf(-dm / ds)
  )


@pytest.mark.parametrize(
  "m1, s1, m2, s2", [(0, 1, 0, 1), (0, 1, 2, 1), (0, 1, 0, 3), (1, 0.5, -1, 2)]
)
def test_w1_quantiles_matches_the_normal_closed_form(m1, s1, m2, s2):
  value = divergences.w1_quantiles(stats.norm(m1, s1).ppf, stats.norm(m2, s2).ppf)
  assert value == pytest.approx(_w1_normals(m1, s1, m2, s2), abs=1e-4)


def test_w1_quantiles_matches_uniform_closed_form_and_rejects_bad_num():
  # U[0, 1] vs U[0, 2]: int_0^1 |u - 2u| du = 1/2.
  assert divergences.w1_quantiles(lambda u: u, lambda u: 2 * u, num=10) == pytest.approx(0.5)
  with pytest.raises(ValueError, match="num"):
    divergences.w1_quantiles(lambda u: u, lambda u: u, num=0)


@pytest.mark.parametrize("theta", [0.0, 0.3, -1.5, 4.0])
def test_point_masses_against_discrete_divergences(theta):
  values = divergences.point_masses(theta)
  # Independent: delta_0 and delta_theta on the atoms {0, theta} (one atom when theta = 0).
  p, q = ([1.0], [1.0]) if theta == 0 else ([1.0, 0.0], [0.0, 1.0])
  assert values["kl"] == divergences.kl(p, q)
  assert values["jsd"] == pytest.approx(divergences.jsd(p, q), abs=1e-15)
  assert values["w1"] == pytest.approx(divergences.w1_1d([0.0], [theta]))
  assert values["tv"] == pytest.approx(0.5 * np.abs(np.subtract(p, q)).sum())


@pytest.mark.parametrize("theta", [0.0, 0.25, -2.0])
def test_parallel_segments_against_discretised_segments(theta):
  values = divergences.parallel_segments(theta)
  # W1 by brute-force optimal assignment between 64 points on each segment (random heights).
  rng = np.random.default_rng(3)
  n = 64
  a = np.stack([np.zeros(n), np.linspace(0, 1, n)], axis=1)
  b = np.stack([np.full(n, theta), np.linspace(0, 1, n)], axis=1)
  b[:, 1] = rng.permutation(b[:, 1])
  cost = spatial.distance.cdist(a, b)
  rows, cols = optimize.linear_sum_assignment(cost)
  assert values["w1"] == pytest.approx(cost[rows, cols].mean(), abs=1e-9)
  # KL and JSD of the two segments' histograms on a 2-D grid of cells (x-cells of width 1e-3).
  x_edges = np.arange(-2.5, 2.5, 1e-3)
  cells = [np.histogram2d(*pts.T, bins=(x_edges, np.linspace(0, 1, 11)))[0] for pts in (a, b)]
  p, q = (c.ravel() / c.sum() for c in cells)
  assert values["jsd"] == pytest.approx(divergences.jsd(p, q), abs=1e-12)
  assert values["kl"] == divergences.kl(p, q)


def test_closed_forms_reject_non_finite_theta():
  with pytest.raises(ValueError, match="theta"):
    divergences.point_masses(math.nan)
