"""The GAN as two players: isolated gradient functions, finite differences, the k-step schedule."""

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


def _sigmoid_loss_terms(logits):
  """(log D, log(1 - D)) for logits, written with numpy-style formulas (not jaxgen.losses)."""
  d = 1 / (1 + jnp.exp(-logits))
  return jnp.log(d), jnp.log(1 - d)


@pytest.mark.parametrize("player", ["discriminator", "generator"])
def test_player_gradient_equals_finite_differences_of_its_own_loss(player, setup_algorithm):
  """Directional derivatives of the player's loss, in float64, by central differences."""
  with jax.enable_x64(True):
    algorithm, state, batch = setup_algorithm(tiny_config(loss="minimax"))
    to64 = lambda t: jax.tree.map(lambda x: x.astype(jnp.float64), t)
    state = state.replace(
      players={
        name: p.replace(params=to64(p.params), model_state=to64(p.model_state))
        for name, p in state.players.items()
      }
    )
    batch = {"x": batch["x"].astype(jnp.float64), "y": batch["y"]}
    rng = jax.random.key(7)
    grads, _, _ = jax.jit(algorithm.players[player].grad_fn)(state, batch, rng)
    g, d = state.players["generator"], state.players["discriminator"]
    z = algorithm.latents(rng, batch["x"].shape[0])

    def run(module, player_state, params, x):
      out, _ = module.apply(
        {"params": params, **player_state.model_state},
        x,
        train=True,
        mutable=list(player_state.model_state),
      )
      return out

    def loss(params):  # Goodfellow et al. 2014, eq. 1, built here from the modules directly
      if player == "discriminator":
        fake = run(algorithm.generator, g, g.params, z)
        log_d_real, _ = _sigmoid_loss_terms(run(algorithm.discriminator, d, params, batch["x"]))
        _, log_1m_d_fake = _sigmoid_loss_terms(run(algorithm.discriminator, d, params, fake))
        return -(jnp.mean(log_d_real) + jnp.mean(log_1m_d_fake))
      fake = run(algorithm.generator, g, params, z)
      _, log_1m_d_fake = _sigmoid_loss_terms(run(algorithm.discriminator, d, d.params, fake))
      return jnp.mean(log_1m_d_fake)

    loss = jax.jit(loss)
    params = state.players[player].params
    leaves, treedef = jax.tree.flatten(params)
    key = jax.random.key(3)
    eps = 1e-6
    for _ in range(3):
      key, sub = jax.random.split(key)
      direction = jax.tree.unflatten(
        treedef,
        [
          jax.random.normal(k, x.shape, jnp.float64)
          for k, x in zip(jax.random.split(sub, len(leaves)), leaves, strict=True)
        ],
      )
      plus = jax.tree.map(lambda p, v: p + 1e-6 * v, params, direction)
      minus = jax.tree.map(lambda p, v: p - 1e-6 * v, params, direction)
      numeric = (loss(plus) - loss(minus)) / (2 * eps)
      analytic = sum(
        jnp.vdot(a, v)
        for a, v in zip(jax.tree.leaves(grads), jax.tree.leaves(direction), strict=True)
      )
      np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9)


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
