"""The spike-and-slab VAE (Tonolini et al. 2019): the closed-form KL against Monte Carlo and its
limits, the relaxed selector, the evaluation densities, training with exact resumption, config
errors. The players' gradients are in `gradient_cases_sparse_vae.py`."""

import math

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from jaxgen import algorithms, data
from jaxgen.algorithms.base import init_train_state
from jaxgen.configs import sparse_vae_digits
from jaxgen.errors import ConfigError
from jaxgen.losses import sparse_coding
from jaxgen.run import config_check, train

ALPHA = 0.3
# (mu, log sigma^2, logit gamma) per coordinate: on and off the prior, gamma small, even, large.
POSTERIOR = (
  np.array([0.0, 1.2, -0.7, 2.0]),
  np.array([0.0, -1.0, 0.5, -2.5]),
  np.array([-1.5, 0.0, 0.8, 2.5]),
)
MC_SAMPLES = 400_000


def hand_log_ratio(z, selected, mean, log_variance, logits, alpha):
  """log q(z) - log p(z) of exact draws, NumPy, written from the definitions: on the spike
  log(1 - gamma) - log(1 - alpha); on the slab log gamma N(z; mu, sigma^2) - log alpha N(z; 0,
  1)."""
  gamma = 1.0 / (1.0 + np.exp(-logits))
  log_q_slab = np.log(gamma) - 0.5 * ((z - mean) ** 2 / np.exp(log_variance) + log_variance)
  log_p_slab = math.log(alpha) - 0.5 * z**2  # the 1/2 log 2 pi cancels
  spike = np.log(1.0 - gamma) - math.log(1.0 - alpha)
  return np.sum(np.where(selected, log_q_slab - log_p_slab, spike), axis=-1)


def monte_carlo_kl(mean, log_variance, logits, alpha, seed=0):
  """(mean, standard error) of log q/p over MC_SAMPLES exact draws of q (NumPy's generator)."""
  rng = np.random.default_rng(seed)
  gamma = 1.0 / (1.0 + np.exp(-logits))
  shape = (MC_SAMPLES, len(mean))
  selected = rng.uniform(size=shape) < gamma
  z = np.where(selected, mean + np.exp(0.5 * log_variance) * rng.standard_normal(shape), 0.0)
  ratios = hand_log_ratio(z, selected, mean, log_variance, logits, alpha)
  return ratios.mean(), ratios.std() / math.sqrt(MC_SAMPLES)


def closed_form_kl(mean, log_variance, logits, alpha):
  with jax.enable_x64(True):
    args = [jnp.asarray(a, jnp.float64)[None] for a in (mean, log_variance, logits)]
    return float(sparse_coding.spike_and_slab_kl(*args, alpha)[0])


@pytest.mark.parametrize("alpha", [ALPHA, 0.05])
def test_closed_form_kl_matches_monte_carlo_in_float64(alpha):
  """Tonolini et al. 2019, eq. 6 against E_q[log q/p] from 400k exact draws: within 4 standard
  errors (the MC error; the closed form itself is exact)."""
  expected, error = monte_carlo_kl(*POSTERIOR, alpha)
  assert abs(closed_form_kl(*POSTERIOR, alpha) - expected) < 4 * error, (expected, error)
  assert error < 2e-3 * expected  # the test resolves the KL to a fraction of a percent


def test_kl_limits_gamma_to_one_and_to_zero():
  """gamma -> 1: the Gaussian VAE's KL to the slab plus log(1 / alpha) per coordinate; gamma -> 0:
  log(1 / (1 - alpha)) per coordinate, whatever mu and sigma."""
  mean, log_variance, _ = POSTERIOR
  d = len(mean)
  gaussian = 0.5 * np.sum(mean**2 + np.exp(log_variance) - 1.0 - log_variance)
  on = closed_form_kl(mean, log_variance, np.full(d, 40.0), ALPHA)
  np.testing.assert_allclose(on, gaussian + d * math.log(1.0 / ALPHA), rtol=1e-12)
  off = closed_form_kl(mean, log_variance, np.full(d, -40.0), ALPHA)
  np.testing.assert_allclose(off, d * math.log(1.0 / (1.0 - ALPHA)), rtol=1e-12)
  # and the posterior equal to the prior has KL 0
  prior_logit = math.log(ALPHA / (1.0 - ALPHA))
  assert abs(closed_form_kl(np.zeros(d), np.zeros(d), np.full(d, prior_logit), ALPHA)) < 1e-15


def test_relaxed_selector_tends_to_a_bernoulli_gamma_draw():
  """E_eta sigmoid(c (eta - 1 + gamma)) = (softplus(c gamma) - softplus(c (gamma - 1))) / c for
  eta ~ U(0, 1) (integrate the sigmoid), which -> gamma as c -> inf, where the values are 0 or 1."""
  eta = (np.arange(200_000) + 0.5) / 200_000  # midpoint rule on [0, 1]
  logits = np.array([-2.0, 0.0, 1.0])
  gamma = 1.0 / (1.0 + np.exp(-logits))
  softplus = lambda t: np.logaddexp(0.0, t)
  with jax.enable_x64(True):
    for c in (5.0, 100.0, 1e4):
      selector = np.asarray(
        sparse_coding.relaxed_selector(jnp.asarray(eta)[:, None], jnp.asarray(logits), c)
      )
      exact = (softplus(c * gamma) - softplus(c * (gamma - 1.0))) / c
      np.testing.assert_allclose(selector.mean(axis=0), exact, rtol=1e-8)
    np.testing.assert_allclose(selector.mean(axis=0), gamma, atol=1e-4)
    assert np.mean((selector > 0.01) & (selector < 0.99)) < 1e-3


def test_exact_draws_and_log_density_give_the_closed_form_kl():
  """The library's exact sampler and mixed-measure log-density (the IWAE weights) average to the
  closed-form KL; the spike's draws are exactly 0, with frequency 1 - gamma."""
  with jax.enable_x64(True):
    mean, log_variance, logits = (jnp.asarray(a, jnp.float64) for a in POSTERIOR)
    shape = (100_000, len(POSTERIOR[0]))
    z = sparse_coding.spike_and_slab_sample(
      jax.random.key(3), *(jnp.broadcast_to(a, shape) for a in (mean, log_variance, logits))
    )
    prior_logit = math.log(ALPHA / (1.0 - ALPHA))
    ratios = sparse_coding.spike_and_slab_log_density(
      z, mean, log_variance, logits
    ) - sparse_coding.spike_and_slab_log_density(z, spike_logits=prior_logit)
    error = float(jnp.std(ratios)) / math.sqrt(shape[0])
    kl = closed_form_kl(*POSTERIOR, ALPHA)
    assert abs(float(jnp.mean(ratios)) - kl) < 4 * error
    gamma = 1.0 / (1.0 + np.exp(-POSTERIOR[2]))
    np.testing.assert_allclose(np.mean(np.asarray(z) == 0.0, axis=0), 1.0 - gamma, atol=5e-3)


# --- The algorithm -------------------------------------------------------------------------------


def tiny_config(**algorithm):
  config = sparse_vae_digits.get_config()
  config.data.options = {"size": 8}
  config.batch_size = 16
  config.model.latent_dim = 4
  config.model.encoder = {"name": "mlp", "hidden": (16,)}
  config.model.decoder = {"name": "mlp", "hidden": (16,)}
  for key, value in algorithm.items():
    config.algorithm[key] = value
  return config


def build(config):
  dataset = data.get(config.data.name, **dict(config.data.options))
  algorithm = algorithms.get(config.algorithm.name)(config, dataset)
  batch = {k: jnp.asarray(v) for k, v in dataset.batch(0, 0, config.batch_size).items()}
  return algorithm, init_train_state(algorithm, jax.random.key(0), batch), batch


@pytest.fixture(scope="module")
def tiny():
  """A tiny sparse VAE with a 4-step warm-up, its initial state and a batch (built once)."""
  return build(tiny_config(spike_warmup_steps=4))


def test_codes_are_exactly_sparse_and_prior_samples_follow_alpha(tiny):
  algorithm, state, batch = tiny
  mean, _, logits = jax.jit(algorithm.encode)(state, batch["x"])
  code = jax.jit(algorithm.code)(state, batch["x"])
  np.testing.assert_array_equal(code, jnp.where(logits > 0, mean, 0.0))
  gamma = jax.jit(algorithm.slab_probabilities)(state, batch["x"])
  np.testing.assert_array_equal(gamma < 0.5, code == 0)
  z = jax.jit(algorithm.prior_samples, static_argnums=1)(jax.random.key(1), 4000)
  assert abs(float(jnp.mean(z == 0.0)) - (1.0 - algorithm.slab_probability)) < 0.02
  samples = jax.jit(algorithm.sample, static_argnums=2)(state, jax.random.key(2), 3)
  assert samples.shape == (3, 8, 8, 1)
  # the IWAE bound on exact draws is finite and, in expectation, above the ELBO
  rng = jax.random.key(4)
  elbo = float(jnp.mean(jax.jit(algorithm.elbo, static_argnums=3)(state, batch["x"], rng, 20)))
  iwae = jax.jit(algorithm.iwae_bound, static_argnums=3)(state, batch["x"], rng, 20)
  iwae = float(jnp.mean(iwae))
  assert np.isfinite(iwae) and iwae > elbo


def test_spike_warmup_scales_the_slab_from_unit_noise_to_the_posterior(tiny):
  """lambda = min(step / warmup, 1): at step 0 the slab of the training draw is N(0, 1) (the code
  carries only the selection), from step `warmup` on it is the posterior's."""
  algorithm, state, batch = tiny
  assert [float(algorithm.slab_scale(s)) for s in (0, 2, 4, 9)] == [0.0, 0.5, 1.0, 1.0]
  params = {name: state.players[name].params for name in algorithm.players}
  key = jax.random.key(7)
  z0, (mean, log_variance, logits), _ = algorithm.encode_train(params, state, batch["x"], None, key)
  unit = sparse_coding.relaxed_spike_and_slab_sample(key, 0 * mean, 0 * log_variance, logits, 100)
  np.testing.assert_allclose(z0, unit, rtol=1e-6)
  late = state.replace(step=jnp.asarray(4, jnp.int32))
  z4, *_ = algorithm.encode_train(params, late, batch["x"], None, key)
  full = sparse_coding.relaxed_spike_and_slab_sample(key, mean, log_variance, logits, 100)
  np.testing.assert_allclose(z4, full, rtol=1e-6)


def test_training_resumes_bit_exactly(tmp_path):
  """4 steps in one go vs 2 steps then a resumed run to 4 (the warm-up spans the boundary)."""

  def config(num_steps):
    c = tiny_config(spike_warmup_steps=3)
    c.update(
      {"num_steps": num_steps, "eval_every": 4, "checkpoint_every": 2, "progress_bar": False}
    )
    c.eval.num_samples = 16
    return c

  fresh = train.train_and_evaluate(config(4), tmp_path / "fresh")
  train.train_and_evaluate(config(2), tmp_path / "resumed")
  resumed = train.train_and_evaluate(config(4), tmp_path / "resumed")
  assert int(resumed.step) == int(fresh.step) == 4
  for a, b in zip(jax.tree.leaves(resumed.players), jax.tree.leaves(fresh.players), strict=True):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  start = build(config(4))[1]
  pairs = zip(jax.tree.leaves(start.players), jax.tree.leaves(fresh.players), strict=True)
  assert any(not np.array_equal(a, b) for a, b in pairs)


@pytest.mark.parametrize(
  "key, value, message",
  [
    ("algorithm.slab_probability", 1.0, "strictly between 0 and 1"),
    ("algorithm.slab_probability", 0, "strictly between 0 and 1"),
    ("algorithm.selector_sharpness", -1.0, "sharpness c must be a number > 0"),
    ("algorithm.spike_warmup_steps", -3, "int >= 0"),
    ("algorithm.reconstruction", {"name": "squared_error"}, "squared_error"),
    # the algorithm sets the encoder's third head; a config cannot switch it
    ("model.encoder", {"name": "mlp", "spike_and_slab": False}, "Bad options.*spike_and_slab"),
  ],
)
def test_bad_settings_are_config_errors_naming_the_key(key, value, message):
  config = sparse_vae_digits.get_config()
  section, _, field = key.rpartition(".")
  config[section][field] = ml_collections.ConfigDict(value) if isinstance(value, dict) else value
  with pytest.raises(ConfigError, match=message) as error:
    config_check.check_config(config)
  assert key.rpartition(".")[2] in str(error.value)


def test_missing_sparse_keys_are_named():
  config = sparse_vae_digits.get_config()
  del config.algorithm["slab_probability"]  # declared required; the others have defaults
  with pytest.raises(ConfigError, match="algorithm.slab_probability is required"):
    config_check.check_config(config)
