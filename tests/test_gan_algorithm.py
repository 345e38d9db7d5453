"""The GAN as two players: isolated gradient functions and the k-step schedule (each player's
gradient against a hand-built float64 loss: tests/test_registry_gradients.py)."""

import copy

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxgen.algorithms.base import make_train_step
from jaxgen.configs import gan_ring8


def tiny_config(k=1, loss="non_saturating", optimizer="adam"):
  config = gan_ring8.get_config()
  config.batch_size = 16
  config.algorithm.loss = loss
  config.algorithm.discriminator_steps = k
  config.model.generator = {"name": "mlp", "hidden": (8, 8), "batch_norm": True}
  config.model.discriminator = {"name": "mlp", "hidden": (8, 8), "maxout_pieces": 2}
  config.optimizer.generator = {"name": optimizer, "learning_rate": 1e-2}
  config.optimizer.discriminator = {"name": optimizer, "learning_rate": 1e-2}
  return config


def only(algorithm, player):
  """The same algorithm with a schedule of one phase that updates `player` alone."""
  single = copy.copy(algorithm)
  single.schedule = ((player,),)
  return single


def _params(state, player):
  return jax.tree.map(np.asarray, state.players[player].params)


def _trees_equal(a, b):
  return all(
    np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
  )


@pytest.mark.parametrize(
  "player, other", [("discriminator", "generator"), ("generator", "discriminator")]
)
def test_a_players_step_leaves_the_other_player_bit_identical(player, other, setup_algorithm):
  algorithm, state, batch = setup_algorithm(tiny_config())
  step = jax.jit(make_train_step(only(algorithm, player)))
  new_state, _ = step(state, jax.tree.map(lambda x: x[None], batch))
  assert _trees_equal(_params(new_state, other), _params(state, other))
  assert _trees_equal(state.players[other].opt_state, new_state.players[other].opt_state)
  assert not _trees_equal(_params(new_state, player), _params(state, player))


@pytest.mark.parametrize("k", [1, 3])
def test_schedule_runs_k_discriminator_updates_per_generator_update(k, setup_algorithm):
  algorithm, state, batch = setup_algorithm(tiny_config(k=k))
  assert algorithm.schedule == (("discriminator",),) * k + (("generator",),)
  batches = jax.tree.map(lambda x: jnp.stack([x] * (k + 1)), batch)
  step = jax.jit(make_train_step(algorithm))
  for _ in range(2):
    state, _ = step(state, batches)
  count = lambda p: int(optax.tree_utils.tree_get(state.players[p].opt_state, "count"))
  assert count("discriminator") == 2 * k
  assert count("generator") == 2


def test_conditional_gan_feeds_labels_to_both_players(setup_algorithm):
  config = tiny_config()
  config.data.name = "digits"
  config.conditional = True
  config.model.generator = {"name": "mlp", "hidden": (8,)}
  with pytest.raises(ValueError, match="makes vectors"):
    setup_algorithm(config)
  config.model.generator = {"name": "dcgan", "base_features": 4}
  config.model.discriminator = {"name": "dcgan", "base_features": 4}
  algorithm, state, batch = setup_algorithm(config)
  assert algorithm.num_classes == 10
  samples = algorithm.sample(state, jax.random.key(0), 10, labels=jnp.arange(10))
  assert samples.shape == (10, 8, 8, 1)
  other = algorithm.sample(state, jax.random.key(0), 10, labels=(jnp.arange(10) + 1) % 10)
  assert not np.allclose(samples, other)


def test_conditional_on_unlabelled_data_is_refused(setup_algorithm):
  config = tiny_config()
  config.conditional = True
  config.data.name = "swissroll"
  with pytest.raises(ValueError, match="labelled"):
    setup_algorithm(config)


@pytest.mark.parametrize(
  "field, value, message",
  [
    ("algorithm.loss", "wgan-ish", "non_saturating"),
    ("algorithm.discriminator_steps", 0, "discriminator_steps"),
  ],
)
def test_bad_algorithm_settings_are_named(field, value, message, setup_algorithm):
  config = tiny_config()
  section, key = field.split(".")
  config[section][key] = value
  with pytest.raises(ValueError, match=message):
    setup_algorithm(config)


def test_unknown_network_lists_choices(setup_algorithm):
  config = tiny_config()
  config.model.generator = {"name": "stylegan9"}
  with pytest.raises(ValueError, match="dcgan"):
    setup_algorithm(config)
