"""ALI / BiGAN beyond the gradient cases (`gradient_cases_ali.py`): the schedule and its shared
noise, one train step against the grad_fns, the inference-mode helpers and the config's refusals."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from gradient_cases_ali import ali_config

from jaxgen.algorithms.base import make_train_step, phase_noise_key
from jaxgen.configs import ali_ring8
from jaxgen.errors import ConfigError
from jaxgen.run.config_check import check_config

LEARNING_RATE = 0.1  # ali_config's SGD


def test_simultaneous_schedule_is_one_phase_with_one_noise_draw(setup_algorithm):
  algorithm, _, _ = setup_algorithm(ali_config()())
  assert algorithm.schedule == (("discriminator", "generator", "encoder"),)
  assert all(player.shares_phase_noise for player in algorithm.players.values())


def test_alternating_schedule_puts_k_discriminator_phases_first(setup_algorithm):
  config = ali_config(updates="alternating", discriminator_steps=3)()
  algorithm, _, _ = setup_algorithm(config)
  assert algorithm.schedule == (("discriminator",),) * 3 + (("generator", "encoder"),)


def test_a_simultaneous_step_applies_every_gradient_taken_at_the_start(setup_algorithm):
  """ALI's Algorithm 1: theta_d and theta_g both move by their gradients at the same point and on
  the same draw of z and eps (the phase's key), here with SGD: theta - lr * grad."""
  algorithm, state, batch = setup_algorithm(ali_config()())
  new_state, metrics = jax.jit(make_train_step(algorithm))(
    state, jax.tree.map(lambda x: x[None], batch)
  )
  rng = phase_noise_key(state, 0)
  for name, player in algorithm.players.items():
    grads, model_state, _ = player.grad_fn(state, batch, rng)
    expected = optax.apply_updates(
      state.players[name].params, jax.tree.map(lambda g: -LEARNING_RATE * g, grads)
    )
    for got, want in zip(
      jax.tree.leaves(new_state.players[name].params), jax.tree.leaves(expected), strict=True
    ):
      np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert jax.tree.structure(new_state.players[name].model_state) == jax.tree.structure(
      model_state
    )
  # G and E descend one joint loss L_g, so their reported losses are one number.
  np.testing.assert_allclose(metrics["generator/loss"], metrics["encoder/loss"], rtol=1e-6)
  assert int(metrics.health.first_nonfinite_update) == -1


@pytest.mark.parametrize("stochastic", [True, False])
def test_sample_encode_and_reconstruct_shapes(setup_algorithm, stochastic):
  algorithm, state, batch = setup_algorithm(ali_config(stochastic_encoder=stochastic)())
  x = batch["x"]
  assert algorithm.sample(state, jax.random.key(0), 5).shape == (5, 2)
  code = algorithm.encode(state, x)
  assert code.shape == (x.shape[0], 2)
  drawn = algorithm.encode(state, x, jax.random.key(1))
  # A Gaussian q(z|x) draws around its mean; BiGAN's E(x) has no noise.
  assert bool(jnp.any(drawn != code)) == stochastic
  assert algorithm.reconstruct(state, x).shape == x.shape


def test_config_builds_for_both_data_sets_and_refuses_others():
  for data in ali_ring8.DATA:
    config = ali_ring8.get_config(data)
    check_config(config)
    assert config.data.name == data
  with pytest.raises(ConfigError, match="after ':' comes one of"):
    ali_ring8.get_config("ring9")


@pytest.mark.parametrize(
  "key, value",
  [
    ("stabilisers", {"packing": 2}),
    ("penalty", {"name": "r1", "weight": 1.0}),
    ("weight_clip", 0.01),
  ],
)
def test_gan_switches_ali_does_not_take_are_refused_by_name(key, value):
  config = ali_ring8.get_config()
  config.algorithm[key] = value
  with pytest.raises(
    ConfigError, match=rf"Unknown config key 'algorithm\.{key}' for algorithm 'ali'"
  ):
    check_config(config)
