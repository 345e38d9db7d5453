"""Autoencoder terms against independent derivations: Monte Carlo, SciPy densities, NumPy loops."""

import inspect

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import special, stats

from jaxgen import losses

RNG = np.random.default_rng(0)


def test_kl_is_zero_for_the_standard_normal_itself():
  kl = losses.gaussian_kl_standard_normal(jnp.zeros((3, 5)), jnp.zeros((3, 5)))
  np.testing.assert_array_equal(kl, np.zeros(3))


def test_closed_form_kl_matches_monte_carlo_within_its_standard_error():
  """KL(q || p) = E_q[log q(z) - log p(z)], estimated with SciPy's densities (not jaxgen's)."""
  mean = RNG.normal(size=(4, 3))
  log_variance = RNG.normal(scale=0.7, size=(4, 3))
  std = np.exp(0.5 * log_variance)
  num = 200_000
  z = mean + std * RNG.standard_normal((num, 4, 3))
  log_ratio = np.sum(stats.norm.logpdf(z, mean, std) - stats.norm.logpdf(z), axis=-1)
  estimate = log_ratio.mean(axis=0)
  standard_error = log_ratio.std(axis=0) / np.sqrt(num)
  kl = np.asarray(losses.gaussian_kl_standard_normal(jnp.asarray(mean), jnp.asarray(log_variance)))
  assert np.all(np.abs(kl - estimate) < 4 * standard_error), (kl, estimate, standard_error)


@pytest.mark.parametrize("a, b, mu, sigma", [(1.0, 0.0, 0.5, 1.0), (-0.7, 2.0, -1.3, 0.4)])
def test_reparameterised_pathwise_gradient_of_a_quadratic(a, b, mu, sigma):
  """d/d(mu, sigma) E[a z^2 + b z] with z ~ N(mu, sigma^2) = (2 a mu + b, 2 a sigma) analytically,
  since E[f] = a (mu^2 + sigma^2) + b mu."""
  num = 400_000

  def f_of_z(params, key):  # one pathwise sample: f(mu + sigma * eps)
    mu, sigma = params
    z = losses.reparameterize(key, mu, 2 * jnp.log(sigma))
    return a * z**2 + b * z

  keys = jax.random.split(jax.random.key(1), num)
  jacobian = jax.vmap(jax.grad(f_of_z), in_axes=(None, 0))(jnp.array([mu, sigma]), keys)
  estimate = np.asarray(jacobian.mean(axis=0))
  standard_error = np.asarray(jacobian.std(axis=0)) / np.sqrt(num)
  analytic = np.array([2 * a * mu + b, 2 * a * sigma])
  assert np.all(np.abs(estimate - analytic) < 4 * standard_error + 1e-6), (estimate, analytic)


def test_gaussian_log_density_matches_scipy():
  x, mean = RNG.normal(size=(2, 4, 2, 3))
  log_variance = RNG.normal(size=(4, 2, 3))
  expected = stats.norm.logpdf(x, mean, np.exp(0.5 * log_variance)).sum(axis=(1, 2))
  np.testing.assert_allclose(
    losses.gaussian_log_density(x, mean, log_variance), expected, rtol=1e-5
  )
  # Defaults: the standard normal, and batch_ndims=2 keeps two leading axes.
  np.testing.assert_allclose(
    losses.gaussian_log_density(x, batch_ndims=2), stats.norm.logpdf(x).sum(-1), rtol=1e-5
  )


def test_bernoulli_log_likelihood_matches_the_probability_formula_and_stays_finite():
  logits = RNG.normal(scale=3, size=(5, 7))
  targets = RNG.uniform(size=(5, 7))
  p = special.expit(logits)
  expected = np.sum(targets * np.log(p) + (1 - targets) * np.log1p(-p), axis=1)
  np.testing.assert_allclose(
    losses.bernoulli_log_likelihood(jnp.asarray(logits), jnp.asarray(targets)), expected, rtol=1e-5
  )
  # Far in the tails the probability form overflows to -inf; the logit form gives the asymptote
  # log sigmoid(l) ~ -softplus(-l): exactly -100 for a wrong confident pixel.
  extreme = losses.bernoulli_log_likelihood(jnp.array([[100.0, -100.0]]), jnp.array([[0.0, 1.0]]))
  np.testing.assert_allclose(extreme, [-200.0], rtol=1e-6)


def test_feature_log_likelihood_is_an_identity_covariance_gaussian():
  features, reconstructed = RNG.normal(size=(2, 3, 6))
  expected = [
    stats.multivariate_normal(reconstructed[i], np.eye(6)).logpdf(features[i]) for i in range(3)
  ]
  summed = losses.feature_log_likelihood(jnp.asarray(features), jnp.asarray(reconstructed))
  np.testing.assert_allclose(summed, expected, rtol=1e-5)
  mean = losses.feature_log_likelihood(features, reconstructed, reduction="mean")
  np.testing.assert_allclose(mean, np.asarray(expected) / 6, rtol=1e-5)
  with pytest.raises(ValueError, match="'sum', 'mean'"):
    losses.feature_log_likelihood(features, reconstructed, reduction="median")


def test_iwae_bound_is_log_mean_exp_and_above_the_mean_log_weight():
  log_weights = RNG.normal(scale=5, size=(10, 4)) - 300  # exp underflows in float64: use logs
  bound = np.asarray(losses.iwae_bound(jnp.asarray(log_weights)))
  shift = log_weights.max(axis=0)
  expected = shift + np.log(np.mean(np.exp(log_weights - shift), axis=0))
  np.testing.assert_allclose(bound, expected, rtol=1e-6)
  assert np.all(bound >= log_weights.mean(axis=0))  # Jensen: L_k >= the mean log weight


def _mmd_reference(x, y, scales):
  """The unbiased MMD^2 (Gretton et al. 2012, Lemma 6) with explicit loops."""
  k = lambda a, b: sum(c / (c + np.sum((a - b) ** 2)) for c in scales)
  n, m = len(x), len(y)
  xx = sum(k(x[i], x[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
  yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
  xy = sum(k(x[i], y[j]) for i in range(n) for j in range(m)) / (n * m)
  return xx + yy - 2 * xy


def test_mmd_matches_the_double_loop_u_statistic():
  x, y = RNG.normal(size=(9, 3)), RNG.normal(loc=0.5, size=(7, 3))
  scales = losses.imq_scales(3)
  np.testing.assert_allclose(losses.mmd_imq(x, y, scales), _mmd_reference(x, y, scales), rtol=1e-4)


def test_mmd_of_a_sample_with_itself_is_about_zero():
  """With y = x the U-statistic is -(2/n)(k(x, x) - mean off-diagonal k): O(1/n), not O(1)."""
  x = RNG.normal(size=(400, 4))
  scales = losses.imq_scales(4)
  same = float(losses.mmd_imq(x, x, scales))
  shifted = float(losses.mmd_imq(x, x + 1.0, scales))
  assert abs(same) < 2 * len(scales) / len(x)
  assert shifted > 50 * abs(same)


def test_unbiased_mmd_averages_zero_over_draws_of_one_distribution():
  draws = 300
  keys = jax.random.split(jax.random.key(0), draws)
  samples = jax.vmap(lambda k: jax.random.normal(k, (2, 16, 3)))(keys)
  scales = losses.imq_scales(3)
  values = np.asarray(jax.vmap(lambda s: losses.mmd_imq(s[0], s[1], scales))(samples))
  standard_error = values.std() / np.sqrt(draws)
  assert abs(values.mean()) < 3 * standard_error, (values.mean(), standard_error)
  assert np.any(values < 0)  # unbiased, hence sometimes negative (a V-statistic never is)


def test_imq_scales_follow_tolstikhin():
  np.testing.assert_allclose(losses.imq_scales(8), [1.6, 3.2, 8.0, 16.0, 32.0, 80.0, 160.0])
  with pytest.raises(ValueError, match="latent_dim"):
    losses.imq_scales(0)


@pytest.mark.parametrize(
  "name, options, by_hand",
  [
    ("gaussian", {}, 1.0),
    ("spike_and_slab", {"slab_probability": 0.3}, 0.3),  # mean 0, so Var z_j = E z_j^2 = alpha
    # K >= 3 means on a circle of radius r in 2 of d_z = 3 coordinates: std^2 + r^2 / 3.
    ("gaussian_mixture", {}, 0.5**2 + 2.0**2 / 3),
    # K = 2: means (+-r, 0), variance r^2 in coordinate 0 only: std^2 + r^2 / 3.
    ("gaussian_mixture", {"num_components": 2, "radius": 3.0, "std": 0.3}, 0.3**2 + 3.0**2 / 3),
    # K = 5 on a circle: std^2 + r^2 / 3 again.
    ("gaussian_mixture", {"num_components": 5, "radius": 1.5, "std": 0.7}, 0.7**2 + 1.5**2 / 3),
    # K = 1: one Gaussian, the means do not vary.
    ("gaussian_mixture", {"num_components": 1, "radius": 2.0, "std": 0.5}, 0.5**2),
  ],
)
def test_prior_variance_is_the_mean_per_coordinate_variance_of_the_samples(name, options, by_hand):
  """sigma_z^2 = tr Cov(z) / d_z (for C = 2 d_z sigma_z^2, Tolstikhin et al. 2018, sec. 4): the
  hand-derived value, and the mean over coordinates of the empirical variance of 200k draws."""
  num, dim = 200_000, 3
  variance = losses.latent_prior_variance(name, dim, **options)
  np.testing.assert_allclose(variance, by_hand, rtol=1e-12)
  z = np.asarray(losses.get_latent_prior(name)(jax.random.key(1), num, dim, **options), np.float64)
  squared = np.square(z - z.mean(axis=0))  # squared deviations, [num, dim]
  empirical = squared.mean()  # = np.mean(np.var(z, axis=0))
  standard_error = squared.mean(axis=1).std() / np.sqrt(num)
  assert abs(variance - empirical) < 5 * standard_error, (variance, empirical, standard_error)


def test_every_prior_has_a_variance_with_the_samplers_options():
  assert set(losses.LATENT_PRIOR_VARIANCES) == set(losses.LATENT_PRIORS)
  for name, sampler in losses.LATENT_PRIORS.items():
    sampled = [
      p for p in inspect.signature(sampler).parameters.values() if p.name not in ("rng", "num")
    ]
    variance = list(inspect.signature(losses.LATENT_PRIOR_VARIANCES[name]).parameters.values())
    assert [(p.name, p.default) for p in sampled] == [(p.name, p.default) for p in variance], name


@pytest.mark.parametrize("alpha", [0.0, 0.3, 1.0])
def test_spike_and_slab_has_the_right_share_of_exact_zeros(alpha):
  num, dim = 20_000, 8
  z = np.asarray(losses.sample_spike_and_slab(jax.random.key(3), num, dim, alpha))
  zeros = np.mean(z == 0.0)
  # Binomial standard error of the share of zeros (0 when alpha is 0 or 1).
  tolerance = 4 * np.sqrt(alpha * (1 - alpha) / (num * dim)) + 1e-12
  assert abs(zeros - (1 - alpha)) <= tolerance
  if alpha > 0:  # the slab is N(0, 1)
    slab = z[z != 0.0]
    assert abs(slab.mean()) < 0.05 and abs(slab.var() - 1) < 0.05
  with pytest.raises(ValueError, match="slab_probability"):
    losses.sample_spike_and_slab(jax.random.key(0), 2, 2, 1.5)


def test_gaussian_mixture_prior_puts_its_components_on_the_circle():
  z = np.asarray(losses.sample_gaussian_mixture(jax.random.key(0), 5000, 3, 10, 2.0, 1e-3))
  np.testing.assert_allclose(np.linalg.norm(z[:, :2], axis=1), 2.0, atol=1e-2)
  angles = np.round(np.arctan2(z[:, 1], z[:, 0]) / (2 * np.pi / 10)) % 10
  assert set(angles.astype(int)) == set(range(10))
  assert np.abs(z[:, 2]).max() < 1e-2
  with pytest.raises(ValueError, match="latent_dim >= 2"):
    losses.sample_gaussian_mixture(jax.random.key(0), 4, 1)


def test_unknown_prior_lists_the_choices():
  with pytest.raises(ValueError, match="spike_and_slab"):
    losses.get_latent_prior("laplace")
  assert losses.get_latent_prior("gaussian") is losses.sample_standard_normal
