"""AAE and WAE: each player's gradient against its loss written out here; priors; the schedule."""

import copy

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen import algorithms, data, losses
from jaxgen.algorithms.aae import AdversarialAutoencoder
from jaxgen.algorithms.base import make_train_step
from jaxgen.configs import aae_digits, wae_digits

# The rng the tests hand a grad_fn; it draws all the noise (eps, z ~ p(z)) of the player's losses.
NOISE_KEY = jax.random.key(1)


def tiny(config, **algorithm):
  config.data.options = {"size": 8}
  config.batch_size = 16
  config.model.latent_dim = 3
  config.model.encoder = {"name": "mlp", "hidden": (16,)}
  config.model.decoder = {"name": "mlp", "hidden": (16,)}
  config.model.discriminator = {"name": "mlp", "hidden": (8,), "maxout_pieces": 0}
  for key, value in algorithm.items():
    config.algorithm[key] = value
  return config


def apply(module, params, x):
  return module.apply({"params": params}, x, train=True)


def squared_error(x, logits):  # c(x, y) = ||x - y||^2 with y = 2 sigmoid(l) - 1
  return jnp.mean(jnp.sum((x - (2 * jax.nn.sigmoid(logits) - 1)) ** 2, axis=(1, 2, 3)))


def assert_grads_equal(grads, expected):
  for got, want in zip(jax.tree.leaves(grads), jax.tree.leaves(expected), strict=True):
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * float(jnp.max(jnp.abs(want))))


@pytest.fixture(scope="module")
def aae(setup_algorithm):
  config = tiny(aae_digits.get_config(), reconstruction={"name": "squared_error"})
  return setup_algorithm(config)


def test_aae_schedule_and_prior(aae):
  algorithm, _, _ = aae
  assert algorithm.schedule == (("discriminator",), ("encoder", "decoder"))
  z = algorithm.prior_samples(jax.random.key(0), 4000)
  np.testing.assert_allclose(np.sort(np.linalg.norm(z[:, :2], axis=1))[2000], 2.0, atol=0.3)


def test_aae_players_descend_their_stated_losses(aae):
  """D: -[log D(z_p) + log(1 - D(Enc x))]; Enc: c + lambda (-log D(Enc x)); Dec: c."""
  algorithm, state, batch = aae
  grads = jax.jit(
    lambda s, b: {p: algorithm.players[p].grad_fn(s, b, NOISE_KEY)[0] for p in algorithm.players}
  )(state, batch)
  params = {p: state.players[p].params for p in algorithm.players}
  x, lam = batch["x"], algorithm.penalty_weight
  log_sigmoid = lambda logits: jnp.log(jax.nn.sigmoid(logits))

  def d_loss(d):
    _, prior_key = jax.random.split(NOISE_KEY)
    z_prior = losses.sample_gaussian_mixture(prior_key, x.shape[0], 3, 10, 2.0, 0.5)
    z, _ = apply(algorithm.encoder, params["encoder"], x)
    real, fake = apply(algorithm.discriminator, d, z_prior), apply(algorithm.discriminator, d, z)
    return -jnp.mean(log_sigmoid(real)) - jnp.mean(jnp.log(1 - jax.nn.sigmoid(fake)))

  def autoencoder_loss(enc, dec, adversarial_weight):
    z, _ = apply(algorithm.encoder, enc, x)
    fake = apply(algorithm.discriminator, params["discriminator"], z)
    reconstruction = squared_error(x, apply(algorithm.decoder, dec, z))
    return reconstruction + adversarial_weight * -jnp.mean(log_sigmoid(fake))

  assert_grads_equal(grads["discriminator"], jax.grad(d_loss)(params["discriminator"]))
  expected_enc = jax.grad(lambda e: autoencoder_loss(e, params["decoder"], lam))(params["encoder"])
  assert_grads_equal(grads["encoder"], expected_enc)
  expected_dec = jax.grad(lambda d: autoencoder_loss(params["encoder"], d, 0.0))(params["decoder"])
  assert_grads_equal(grads["decoder"], expected_dec)


def test_aae_discriminator_phase_leaves_the_autoencoder_bit_identical(aae):
  algorithm, state, batch = aae
  batches = jax.tree.map(lambda x: jnp.stack([x, x]), batch)
  new_state, _ = jax.jit(make_train_step(algorithm))(state, batches)
  for player in algorithm.players:  # everyone moves over a full step ...
    changed = [
      not np.array_equal(a, b)
      for a, b in zip(
        jax.tree.leaves(new_state.players[player].params),
        jax.tree.leaves(state.players[player].params),
        strict=True,
      )
    ]
    assert any(changed), player
  alone = copy.copy(algorithm)
  alone.schedule = (("discriminator",),)
  d_only, _ = jax.jit(make_train_step(alone))(state, jax.tree.map(lambda x: x[None], batch))
  for player in ("encoder", "decoder"):  # ... but D's phase moves only D
    for a, b in zip(
      jax.tree.leaves(d_only.players[player]), jax.tree.leaves(state.players[player]), strict=True
    ):
      np.testing.assert_array_equal(a, b)


def _mmd_by_pairs(x, y, scales):
  """Unbiased IMQ MMD^2 from explicit pairwise differences (Gretton et al. 2012, Lemma 6)."""
  n = x.shape[0]
  k = lambda a, b: sum(c / (c + jnp.sum((a[:, None] - b[None]) ** 2, -1)) for c in scales)
  off_diagonal = 1 - jnp.eye(n)
  within = lambda a: jnp.sum(k(a, a) * off_diagonal) / (n * (n - 1))
  return within(x) + within(y) - 2 * jnp.mean(k(x, y))


def test_wae_mmd_players_descend_their_stated_losses(setup_algorithm):
  algorithm, state, batch = setup_algorithm(tiny(wae_digits.get_config()))
  assert algorithm.schedule == (("encoder", "decoder"),)
  grads = jax.jit(
    lambda s, b: {p: algorithm.players[p].grad_fn(s, b, NOISE_KEY)[0] for p in algorithm.players}
  )(state, batch)
  params = {p: state.players[p].params for p in algorithm.players}
  x = batch["x"]
  _, prior_key = jax.random.split(NOISE_KEY)
  z_prior = jax.random.normal(prior_key, (x.shape[0], 3))
  scales = [c * 2 * 3 for c in (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)]  # C = 2 d_z sigma^2 multiples

  def loss(enc, dec, lam):
    z, _ = apply(algorithm.encoder, enc, x)
    return squared_error(x, apply(algorithm.decoder, dec, z)) + lam * _mmd_by_pairs(
      z, z_prior, scales
    )

  assert_grads_equal(
    grads["encoder"], jax.grad(lambda e: loss(e, params["decoder"], 10.0))(params["encoder"])
  )
  assert_grads_equal(
    grads["decoder"], jax.grad(lambda d: loss(params["encoder"], d, 0.0))(params["decoder"])
  )


@pytest.mark.parametrize(
  "prior, variance",
  [
    ({"name": "gaussian"}, 1.0),
    ({"name": "spike_and_slab", "slab_probability": 0.25}, 0.25),  # Var z_j = alpha
    # 10 means on a circle of radius 2 in 2 of the 3 coordinates, std 0.5: 0.5^2 + 2^2 / 3.
    ({"name": "gaussian_mixture", "num_components": 10, "radius": 2.0, "std": 0.5}, 0.25 + 4 / 3),
  ],
)
def test_wae_imq_scales_use_the_prior_variance(prior, variance):
  """C = 2 d_z sigma_z^2 (Tolstikhin et al. 2018, sec. 4) times the authors' multipliers."""
  config = tiny(wae_digits.get_config(), prior=prior)
  algorithm = algorithms.get("wae")(config, data.get("digits", size=8))
  by_hand = [2 * 3 * variance * m for m in (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)]
  np.testing.assert_allclose(algorithm.scales, by_hand, rtol=1e-12)


def test_wae_gan_is_the_adversarial_autoencoder_and_penalties_are_named():
  config = tiny(wae_digits.get_config(), penalty="gan")
  dataset = data.get("digits", size=8)
  assert isinstance(algorithms.get("wae")(config, dataset), AdversarialAutoencoder)
  config.algorithm.penalty = "sinkhorn"
  with pytest.raises(ValueError, match="'gan', 'mmd'"):
    algorithms.get("wae")(config, dataset)


def test_spike_and_slab_prior_feeds_the_aae():
  config = tiny(aae_digits.get_config(), prior={"name": "spike_and_slab", "slab_probability": 0.25})
  algorithm = algorithms.get("aae")(config, data.get("digits", size=8))
  z = np.asarray(algorithm.prior_samples(jax.random.key(0), 10_000))
  assert abs(np.mean(z == 0) - 0.75) < 4 * np.sqrt(0.25 * 0.75 / z.size)


@pytest.mark.parametrize(
  "overrides, message",
  [
    ({"prior": {"name": "gaussian_mixture", "sigma": 1.0}}, "sigma"),
    ({"prior": {"name": "cauchy"}}, "spike_and_slab"),
    ({"prior": {"name": "spike_and_slab", "slab_probability": 2.0}}, "slab_probability"),
    ({"penalty_weight": -1.0}, "penalty_weight"),
  ],
)
def test_bad_aae_settings_are_named(overrides, message):
  with pytest.raises(ValueError, match=message):
    algorithms.get("aae")(tiny(aae_digits.get_config(), **overrides), data.get("digits", size=8))
