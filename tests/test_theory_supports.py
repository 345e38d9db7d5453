"""Disjoint supports (Arjovsky & Bottou 2017, sec. 2): D trained alone separates perfectly, the
minimax G gradient vanishes, the non-saturating one grows, instance noise keeps it.

The bounds are set from measured numbers (quick setting, 300 D steps, seeds 0-2): minimax decay
(mean norm at steps 10-19 / last 10 steps) 285-999 with single steps, 316 windowed at seed 0;
non-saturating 0.27-0.43 (the norm grows 2-4x, to ~14); instance noise 0.70-0.78.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.theory import supports


@pytest.fixture(scope="module")
def quick_result():
  return supports.disjoint_supports_experiment(quick=True, seed=0)


def test_discriminator_separates_disjoint_supports_perfectly(quick_result):
  # Without noise D sees the two supports exactly: on fresh samples it is right every time and
  # saturates (Arjovsky & Bottou 2017, Thm. 2.1: a perfect D exists, smooth, D = 1 / 0 on them).
  for setting in ("minimax", "non_saturating"):
    assert quick_result.accuracy[setting] == 1.0
    assert quick_result.d_real[setting] > 0.99
    assert quick_result.d_fake[setting] < 0.01
  # With instance noise the noised distributions overlap and D stays unsure (measured ~0.9 / 0.16).
  assert 0.6 < quick_result.d_real["instance_noise"] < 0.99
  assert 0.01 < quick_result.d_fake["instance_noise"] < 0.4


def test_minimax_gradient_vanishes_instance_noise_keeps_it(quick_result):
  decay, norms = quick_result.decay, quick_result.grad_norms
  assert decay["minimax"] >= 100.0  # Thm. 2.4: ||grad|| -> 0 as D -> D*
  assert 0.1 < decay["instance_noise"] < 10.0  # stays at its order of magnitude
  # Non-saturating: no vanishing; the norm grows as D grows confident (their Fig. 3).
  assert decay["non_saturating"] < 0.7
  assert np.mean(norms["non_saturating"][-10:]) > 1000 * np.mean(norms["minimax"][-10:])
  for setting in supports.SETTINGS:
    assert norms[setting].shape == (quick_result.num_steps,)
    assert np.all(np.isfinite(norms[setting]))


@pytest.mark.parametrize("setting", ["minimax", "non_saturating"])
def test_logged_generator_gradient_is_taken_after_the_discriminator_update(setting):
  """The loop's `generator/grad_norm` at the last step equals the norm of the gradient derived by
  hand (chain rule through G(z) = (theta, 0) + z (0, 1)) at D's params AFTER that step's update."""
  num_steps = 20
  run, state, series = supports.train_setting(setting, num_steps=num_steps)
  # G is frozen: its params are still those the experiment set.
  g = state.players["generator"].params["Dense_0"]
  np.testing.assert_array_equal(g["kernel"], [[0.0, 1.0]])
  np.testing.assert_array_equal(g["bias"], [supports.THETA, 0.0])
  # G's key at the last step: step key -> phase 1 (G's phase) -> player 0 (the generator)
  # (jaxgen.algorithms.base.make_train_step); the key itself draws z (GAN.latents).
  key = jax.random.fold_in(jax.random.fold_in(state.rng, num_steps - 1), 1)
  z = jax.random.normal(jax.random.fold_in(key, 0), (run.config.batch_size, 1))
  x = jnp.concatenate([jnp.full_like(z, supports.THETA), z], axis=1)
  d = state.players["discriminator"]  # D after its update of the last step
  module = run.algorithm.players["discriminator"].module
  logit = lambda x: module.apply({"params": d.params}, x, None, train=False)
  logits, grad_x = logit(x), jax.grad(lambda x: jnp.sum(logit(x)))(x)  # per sample: no BN
  if setting == "minimax":  # d/dl of log(1 - sigmoid(l)) = -sigmoid(l) (Goodfellow 2014, eq. 1)
    weight = -jax.nn.sigmoid(logits)
  else:  # d/dl of -log sigmoid(l) = -(1 - sigmoid(l)) (Goodfellow 2014, sec. 3)
    weight = -(1.0 - jax.nn.sigmoid(logits))
  per_sample = weight[:, None] * grad_x  # dL_i / dG(z_i)
  grad_bias = jnp.mean(per_sample, axis=0)
  grad_kernel = jnp.mean(z * per_sample, axis=0)  # dG/dW[0, j] = z
  expected = jnp.sqrt(jnp.sum(grad_bias**2) + jnp.sum(grad_kernel**2))
  np.testing.assert_allclose(series["generator/grad_norm"][-1], expected, rtol=1e-4)


def test_unknown_setting_is_refused():
  with pytest.raises(ValueError, match="instance_noise"):
    supports.disjoint_supports_config("wasserstein")
