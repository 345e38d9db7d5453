"""VAE and CVAE: player gradients against the ELBO built by hand, IWAE vs ELBO, conditioning."""

import importlib
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen import algorithms, data
from jaxgen.algorithms.base import init_train_state, make_train_step, phase_noise_key
from jaxgen.configs import cvae_digits, vae_digits

# The rng the tests hand a grad_fn; it draws all the noise (eps, z ~ p(z)) of the player's losses.
NOISE_KEY = jax.random.key(5)


def tiny_config(conditional=False):
  config = cvae_digits.get_config() if conditional else vae_digits.get_config()
  config.data.options = {"size": 8}
  config.batch_size = 16
  config.model.latent_dim = 4
  config.model.encoder = {"name": "mlp", "hidden": (32,)}
  config.model.decoder = {"name": "mlp", "hidden": (32,)}
  return config


def setup(config):
  dataset = data.get(config.data.name, **dict(config.data.options))
  algorithm = algorithms.get(config.algorithm.name)(config, dataset)
  batch = {k: jnp.asarray(v) for k, v in dataset.batch(0, 0, config.batch_size).items()}
  state = init_train_state(algorithm, jax.random.key(0), batch)
  return algorithm, state, batch, dataset


@pytest.fixture(scope="module")
def vae():
  return setup(tiny_config())


def _negative_elbo(algorithm, state, batch, encoder_params, decoder_params):
  """-ELBO with a Bernoulli decoder and the closed-form KL, written out here (K&W 2014, eq. 10)."""
  x = batch["x"]
  mean, log_variance = algorithm.encoder.apply({"params": encoder_params}, x, train=True)
  eps = jax.random.normal(NOISE_KEY, mean.shape)
  z = mean + jnp.exp(log_variance / 2) * eps
  logits = algorithm.decoder.apply({"params": decoder_params}, z, train=True)
  p = jax.nn.sigmoid(logits)
  t = (x + 1) / 2
  log_likelihood = jnp.sum(t * jnp.log(p) + (1 - t) * jnp.log(1 - p), axis=(1, 2, 3))
  kl = 0.5 * jnp.sum(mean**2 + jnp.exp(log_variance) - 1 - log_variance, axis=1)
  return jnp.mean(kl - log_likelihood)


def test_the_train_step_hands_both_players_their_phase_noise_key(vae):
  """Both players of the one phase get `phase_noise_key(state, 0)`: one draw of eps for both."""
  algorithm, state, batch, _ = vae
  _, metrics = jax.jit(make_train_step(algorithm))(state, jax.tree.map(lambda x: x[None], batch))
  for player in ("encoder", "decoder"):
    _, _, expected = algorithm.players[player].grad_fn(state, batch, phase_noise_key(state, 0))
    np.testing.assert_allclose(metrics[f"{player}/loss"], expected["loss"], rtol=1e-6)


@pytest.mark.parametrize("player", ["encoder", "decoder"])
def test_each_player_descends_the_negative_elbo_of_its_own_params(vae, player):
  algorithm, state, batch, _ = vae
  grads, _, metrics = jax.jit(algorithm.players[player].grad_fn)(state, batch, NOISE_KEY)
  enc, dec = state.players["encoder"].params, state.players["decoder"].params
  if player == "encoder":
    expected = jax.grad(lambda p: _negative_elbo(algorithm, state, batch, p, dec))(enc)
  else:
    expected = jax.grad(lambda p: _negative_elbo(algorithm, state, batch, enc, p))(dec)
  for got, want in zip(jax.tree.leaves(grads), jax.tree.leaves(expected), strict=True):
    np.testing.assert_allclose(got, want, rtol=2e-4, atol=1e-5)
  np.testing.assert_allclose(
    metrics["loss"], _negative_elbo(algorithm, state, batch, enc, dec), rtol=1e-5
  )
  np.testing.assert_allclose(metrics["elbo"], -metrics["loss"], rtol=1e-6)


def test_both_players_update_in_one_phase_on_one_noise_draw(vae):
  algorithm, state, batch, _ = vae
  assert algorithm.schedule == (("encoder", "decoder"),)
  new_state, metrics = jax.jit(make_train_step(algorithm))(
    state, jax.tree.map(lambda x: x[None], batch)
  )
  # The same ELBO estimate in both players: they saw the same eps.
  np.testing.assert_array_equal(metrics["encoder/loss"], metrics["decoder/loss"])
  for player in ("encoder", "decoder"):
    before, after = (
      jax.tree.leaves(state.players[player].params),
      jax.tree.leaves(new_state.players[player].params),
    )
    assert any(not np.array_equal(a, b) for a, b in zip(before, after, strict=True))


def test_iwae_bound_is_above_the_elbo_and_grows_with_k_on_held_out_digits(vae):
  algorithm, state, _, dataset = vae
  x = jnp.asarray(dataset.eval_data()["x"])  # all 360 held-out digits
  rng = jax.random.key(11)
  elbo = float(jnp.mean(jax.jit(algorithm.elbo, static_argnums=3)(state, x, rng, 64)))
  iwae = jax.jit(algorithm.iwae_bound, static_argnums=3)
  bounds = {k: np.asarray(iwae(state, x, jax.random.fold_in(rng, k), k)) for k in (1, 8, 64)}
  means = {k: float(b.mean()) for k, b in bounds.items()}
  # L_1 estimates the ELBO itself (unbiased); L_k for k > 1 sits above it and grows with k.
  standard_error = bounds[1].std() / np.sqrt(len(bounds[1]))
  assert abs(means[1] - elbo) < 4 * standard_error, (means[1], elbo, standard_error)
  assert elbo < means[8] < means[64], (elbo, means)


def test_cvae_decodes_the_chosen_digit_and_transfers_style():
  algorithm, state, batch, _ = setup(tiny_config(conditional=True))
  assert algorithm.num_classes == 10
  z = jnp.zeros((10, algorithm.latent_dim))
  images = algorithm.decode(state, z, jnp.arange(10))
  others = algorithm.decode(state, z, (jnp.arange(10) + 1) % 10)
  assert images.shape == (10, 8, 8, 1) and not np.allclose(images, others)
  x, y = batch["x"][:4], batch["y"][:4]
  moved = algorithm.transfer_style(state, x, y, (y + 3) % 10)
  assert moved.shape == x.shape
  np.testing.assert_allclose(
    algorithm.transfer_style(state, x, y, y), algorithm.reconstruct(state, x, y)
  )
  samples = algorithm.sample(state, jax.random.key(0), 20)
  np.testing.assert_allclose(
    samples[:10], algorithm.sample(state, jax.random.key(0), 20, jnp.arange(20) % 10)[:10]
  )


@pytest.mark.parametrize(
  "section, key, value, message",
  [
    ("algorithm", "reconstruction", {"name": "squared_error"}, "bernoulli"),
    ("algorithm", "reconstruction", {"name": "gaussian", "std": -1.0}, "std"),
    ("algorithm", "reconstruction", {"name": "gaussian", "sigma": 1.0}, "sigma"),
    ("model", "encoder", {"name": "resnet"}, "conv"),
    ("model", "latent_dim", 0, "latent_dim"),
  ],
)
def test_bad_settings_are_named(section, key, value, message):
  config = tiny_config()
  config[section][key] = value
  with pytest.raises(ValueError, match=message):
    setup(config)


def test_conditioning_needs_labelled_data_and_a_conditional_model(vae):
  algorithm, state, batch, _ = vae
  with pytest.raises(ValueError, match="conditional"):
    algorithm.transfer_style(state, batch["x"], batch["y"], batch["y"])
  config = tiny_config(conditional=True)
  config.data.name = "swissroll"
  config.data.options = {}
  with pytest.raises(ValueError, match="labelled"):
    setup(config)


CONFIGS = [
  f"{name}_{data}"
  for name in ("vae", "cvae", "vaegan", "aae", "wae")
  for data in ("digits", "mnist")
] + ["sparse_vae_digits"]


@pytest.mark.parametrize("name", CONFIGS)
def test_every_autoencoder_config_builds_its_players_for_its_data(name):
  """Shapes only (jax.eval_shape): MNIST needs TFDS files, so a stand-in with MNIST's facts."""
  config = importlib.import_module(f"jaxgen.configs.{name}").get_config()
  if config.data.name == "mnist":
    dataset = types.SimpleNamespace(name="mnist", example_shape=(28, 28, 1), num_classes=10)
  else:
    dataset = data.get(config.data.name, **dict(config.data.options))
  algorithm = algorithms.get(config.algorithm.name)(config, dataset)
  batch = {
    "x": jax.ShapeDtypeStruct((config.batch_size, *dataset.example_shape), jnp.float32),
    "y": jax.ShapeDtypeStruct((config.batch_size,), jnp.int32),
  }
  variables = jax.eval_shape(algorithm.init_variables, jax.random.key(0), batch)
  assert (
    set(variables) == set(algorithm.players) == {p for phase in algorithm.schedule for p in phase}
  )
  assert algorithm.num_classes == (10 if config.conditional else 0)
