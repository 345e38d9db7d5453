"""Tests of jaxgen.theory.minmax against closed forms derived here by hand (float64), scipy and
brute force."""

import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, stats

from jaxgen.theory import minmax

X0, Y0 = 0.7, -0.3


def test_max_min_never_exceeds_min_max_brute_force():
  rng = np.random.default_rng(0)
  for _ in range(100):
    payoff = rng.normal(size=rng.integers(1, 6, size=2))
    rows, cols = payoff.shape
    brute_min_max = min(max(payoff[i, j] for j in range(cols)) for i in range(rows))
    brute_max_min = max(min(payoff[i, j] for i in range(rows)) for j in range(cols))
    assert minmax.min_max(payoff) == brute_min_max
    assert minmax.max_min(payoff) == brute_max_min
    assert minmax.max_min(payoff) <= minmax.min_max(payoff)
    low, high = minmax.mixed_values(payoff)
    np.testing.assert_allclose(low, high, atol=1e-7)  # von Neumann
    assert minmax.max_min(payoff) - 1e-7 <= low <= minmax.min_max(payoff) + 1e-7


def test_mixed_value_of_two_by_two_games():
  # No saddle point in [[a, b], [c, d]]: value (ad - bc) / (a + d - b - c) (equalising strategies).
  a, b, c, d = 3.0, -1.0, -2.0, 1.0
  low, high = minmax.mixed_values([[a, b], [c, d]])
  np.testing.assert_allclose([low, high], (a * d - b * c) / (a + d - b - c), atol=1e-9)
  assert (
    minmax.min_max(minmax.MATCHING_PENNIES) == 1 and minmax.max_min(minmax.MATCHING_PENNIES) == -1
  )
  np.testing.assert_allclose(minmax.mixed_values(minmax.MATCHING_PENNIES), 0.0, atol=1e-9)


def test_squared_distance_gap_on_grids():
  grid = np.linspace(0, 1, 101)  # holds 1/2
  payoff = minmax.grid_payoff(minmax.squared_distance_value, grid, grid)
  np.testing.assert_allclose(payoff, (grid[:, None] - grid[None, :]) ** 2, rtol=1e-5, atol=1e-7)
  assert minmax.min_max(payoff) == pytest.approx(minmax.SQUARED_DISTANCE_MIN_MAX, abs=1e-7)
  assert minmax.max_min(payoff) == minmax.SQUARED_DISTANCE_MAX_MIN == 0
  # Without 1/2 the minimiser's best x is the grid point nearest it:
  # max(x, 1 - x)^2 = (1/2 + h/2)^2.
  grid = np.linspace(0, 1, 10)
  payoff = minmax.grid_payoff(minmax.squared_distance_value, grid, grid)
  h = grid[1]
  assert minmax.min_max(payoff) == pytest.approx((0.5 + h / 2) ** 2, rel=1e-6)
  with pytest.raises(ValueError, match="2-D"):
    minmax.min_max(np.zeros(3))


def _jsd(mean, std=1.0):
  p, q = stats.norm(0, 1), stats.norm(mean, std)

  def integrand(x):
    a, b = p.pdf(x), q.pdf(x)
    m = (a + b) / 2
    return 0.5 * (a * np.log(a / m) + b * np.log(b / m))

  return integrate.quad(integrand, -12, 12 + mean, epsabs=1e-13, limit=200)[0]


def test_optimal_objective_and_jsd_gradient(x64):
  # Goodfellow et al. 2014, Theorem 1: C(G) = -log 4 + 2 JSD; minimum -log 4 at p_g = p_data.
  for mean in (0.0, 0.7, 1.5):
    c = minmax.optimal_generator_objective(0.0, 1.0, jnp.float64(mean), 1.0)
    np.testing.assert_allclose(c, -np.log(4) + 2 * _jsd(mean), atol=1e-9)
  h = 1e-4
  finite_difference = 2 * (_jsd(1.5 + h) - _jsd(1.5 - h)) / (2 * h)
  np.testing.assert_allclose(minmax.jsd_gradient(0.0, 1.0, 1.5, 1.0), finite_difference, rtol=1e-6)


def test_generator_gradient_with_optimal_d_is_the_jsd_gradient(x64):
  # N(0, 1) vs N(m, 1): log p_data / p_g = -m x + m^2 / 2, a linear logit. With it held fixed,
  # d/dm E_z -softplus(a (m + z) + c) = -a E_z sigmoid(a (m + z) + c) (checked by scipy), and at
  # (a, c) = (-m, m^2/2) it is the JSD gradient (envelope theorem).
  m = 1.5

  def by_scipy(a, c):
    density = lambda z: stats.norm.pdf(z) / (1 + np.exp(-(a * (m + z) + c)))
    return -a * integrate.quad(density, -12, 12, epsabs=1e-13)[0]

  for a, c in [(-0.8, 0.3), (-m, m**2 / 2)]:
    gradient = minmax.generator_gradient(lambda x, a=a, c=c: a * x + c, m, 1.0)
    np.testing.assert_allclose(gradient, by_scipy(a, c), rtol=1e-10)
  np.testing.assert_allclose(gradient, minmax.jsd_gradient(0.0, 1.0, m, 1.0), rtol=1e-10)


def test_minmax_experiment_d_approaches_optimum():
  result = minmax.minmax_experiment(quick=True)
  assert result.grid_min_max == pytest.approx(0.25) and result.grid_max_min == 0
  assert result.relative_errors[0] == pytest.approx(1.0)  # D = 1/2 gives G no gradient
  assert result.relative_errors[1] > 0.3  # one D step: far from the JSD gradient
  assert result.relative_errors[-1] < 0.05
  np.testing.assert_allclose(result.discriminator_params[-1], result.optimal_params, atol=0.15)
