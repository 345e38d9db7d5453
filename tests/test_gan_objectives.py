"""The GAN family's objectives and extra terms against hand-written NumPy formulas, fixed numbers.

(tests/test_losses.py covers minimax / non_saturating against the closed forms of Goodfellow et
al. 2014; here: WGAN, LSGAN, hinge, label smoothing, ACGAN, InfoGAN, EBGAN, BEGAN, MAD-GAN, feature
matching, and the minimax / non-saturating pair told apart by the generator's gradient through the
whole algorithm.)
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen import algorithms, data, losses
from jaxgen.algorithms.base import init_train_state
from jaxgen.configs import wgan_ring8

RNG = np.random.default_rng(0)
REAL, FAKE = RNG.normal(size=32) * 2, RNG.normal(size=32) * 2


def _softplus(x):
  return np.logaddexp(0.0, x)


@pytest.mark.parametrize(
  "name, d_expected, g_expected",
  [
    # Arjovsky et al. 2017, Algorithm 1: the critic ascends mean f(x) - mean f(G(z)).
    ("wasserstein", FAKE.mean() - REAL.mean(), -FAKE.mean()),
    # Mao et al. 2017, eq. 2 with a = 0, b = c = 1.
    (
      "least_squares",
      0.5 * np.mean((REAL - 1) ** 2) + 0.5 * np.mean(FAKE**2),
      0.5 * np.mean((FAKE - 1) ** 2),
    ),
    # Miyato et al. 2018, eq. 16-17.
    ("hinge", np.mean(np.maximum(0, 1 - REAL)) + np.mean(np.maximum(0, 1 + FAKE)), -FAKE.mean()),
  ],
)
def test_objective_values_match_naive_formulas(name, d_expected, g_expected):
  objective = losses.get_gan_objective(name)
  np.testing.assert_allclose(objective.discriminator_loss(REAL, FAKE), d_expected, rtol=1e-5)
  np.testing.assert_allclose(objective.generator_loss(FAKE), g_expected, rtol=1e-5)


@pytest.mark.parametrize("name", ["minimax", "non_saturating", "least_squares"])
def test_one_sided_label_smoothing_changes_only_the_real_targets(name):
  objective = losses.get_gan_objective(name)
  assert objective.has_real_target
  grad = jax.grad(objective.discriminator_loss, argnums=(0, 1))
  plain_real, plain_fake = grad(REAL, FAKE)
  smooth_real, smooth_fake = grad(REAL, FAKE, real_target=0.9)
  np.testing.assert_array_equal(smooth_fake, plain_fake)  # fake targets stay 0
  # d/dl of the real term per sample, by hand: cross-entropy sigmoid(l) - t; squares (D(x) - t).
  expected = (1 / (1 + np.exp(-REAL)) - 0.9 if name != "least_squares" else REAL - 0.9) / REAL.size
  np.testing.assert_allclose(smooth_real, expected, rtol=1e-5, atol=1e-7)
  assert not np.allclose(smooth_real, plain_real)


def test_objectives_without_targets_do_not_take_smoothing():
  assert not losses.get_gan_objective("hinge").has_real_target
  assert not losses.get_gan_objective("wasserstein").has_real_target


def test_auxiliary_classifier_loss_is_the_cross_entropy():
  logits, labels = RNG.normal(size=(8, 5)), RNG.integers(5, size=8)
  log_softmax = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
  expected = -np.mean(log_softmax[np.arange(8), labels])
  np.testing.assert_allclose(losses.auxiliary_classifier_loss(logits, labels), expected, rtol=1e-5)


def test_categorical_mutual_information_is_entropy_minus_cross_entropy_and_at_most_entropy():
  num_values = 10
  logits = RNG.normal(size=(64, num_values)) * 3
  codes = RNG.integers(num_values, size=64)
  log_q = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
  cross_entropy = -np.mean(log_q[np.arange(64), codes])
  bound = losses.categorical_mutual_information_bound(logits, codes)
  np.testing.assert_allclose(bound, math.log(num_values) - cross_entropy, rtol=1e-5)
  assert bound <= math.log(num_values)
  # A Q certain of the right code attains H(c) = log K; a uniform Q gives 0.
  certain = np.eye(num_values)[codes] * 50.0
  np.testing.assert_allclose(
    losses.categorical_mutual_information_bound(certain, codes), math.log(num_values), atol=1e-5
  )
  np.testing.assert_allclose(
    losses.categorical_mutual_information_bound(np.zeros((64, num_values)), codes), 0.0, atol=1e-6
  )


def test_gaussian_mutual_information_bound():
  means, codes = RNG.normal(size=(16, 2)), RNG.uniform(-1, 1, size=(16, 2))
  log_q = -0.5 * (codes - means) ** 2 - 0.5 * np.log(2 * np.pi)  # N(c; mean, 1) per dimension
  expected = np.mean(log_q.sum(axis=1)) + 2 * np.log(2.0)  # + H(U[-1, 1]^2) = 2 log 2
  np.testing.assert_allclose(
    losses.gaussian_mutual_information_bound(means, codes), expected, rtol=1e-5
  )


def test_ebgan_losses_and_pulling_away_term():
  real, fake = np.array([0.2, 0.5, 1.5]), np.array([0.1, 0.8, 2.5])
  # Zhao et al. 2016, eq. 1-2 with m = 1: mean(real) + mean(max(0, 1 - fake)) = 0.7333 + 0.3667.
  np.testing.assert_allclose(
    losses.ebgan_discriminator_loss(real, fake, 1.0),
    np.mean(real) + (0.9 + 0.2 + 0.0) / 3,
    rtol=1e-6,
  )
  np.testing.assert_allclose(losses.ebgan_generator_loss(fake), np.mean(fake), rtol=1e-6)
  codes = RNG.normal(size=(5, 3))
  total = sum(
    (codes[i] @ codes[j] / np.linalg.norm(codes[i]) / np.linalg.norm(codes[j])) ** 2
    for i in range(5)
    for j in range(5)
    if i != j
  )
  np.testing.assert_allclose(losses.pulling_away_term(codes), total / 20, rtol=1e-5)
  # Orthogonal codes repel nothing; identical codes give the maximum, 1.
  np.testing.assert_allclose(losses.pulling_away_term(np.eye(3)), 0.0, atol=1e-7)
  np.testing.assert_allclose(losses.pulling_away_term(np.ones((4, 3))), 1.0, rtol=1e-6)


def _pulling_away_by_loop(codes):
  """Zhao et al. 2016, eq. 7 in float64, one pair at a time; a zero code's cosines count as 0."""
  codes = np.asarray(codes, np.float64).reshape(len(codes), -1)
  n, total = len(codes), 0.0
  for i in range(n):
    for j in range(n):
      norms = np.linalg.norm(codes[i]) * np.linalg.norm(codes[j])
      if i != j and norms > 0:
        total += (codes[i] @ codes[j] / norms) ** 2
  return total / (n * (n - 1))


@pytest.mark.parametrize("shape", [(6, 4), (5, 2, 3)])
def test_pulling_away_term_is_eq7_to_1e6(shape):
  codes = RNG.normal(size=shape)
  np.testing.assert_allclose(
    losses.pulling_away_term(jnp.asarray(codes, jnp.float32)),
    _pulling_away_by_loop(codes),
    rtol=1e-6,
  )


def test_pulling_away_term_and_its_gradient_are_finite_at_a_zero_code():
  codes = RNG.normal(size=(4, 3))
  codes[2] = 0.0  # e.g. a dead ReLU encoder's code
  codes = jnp.asarray(codes, jnp.float32)
  value, grad = jax.value_and_grad(losses.pulling_away_term)(codes)
  assert np.isfinite(value) and np.all(np.isfinite(grad))
  np.testing.assert_allclose(value, _pulling_away_by_loop(codes), rtol=1e-6)


def test_reconstruction_energy_averages_over_every_non_batch_axis():
  x = np.zeros((2, 2, 2, 1))
  reconstruction = np.array([np.full((2, 2, 1), 2.0), np.full((2, 2, 1), -1.0)])
  np.testing.assert_allclose(losses.reconstruction_energy(x, reconstruction, 2), [4.0, 1.0])
  np.testing.assert_allclose(losses.reconstruction_energy(x, reconstruction, 1), [2.0, 1.0])


@pytest.mark.parametrize(
  "k, real, fake, expected_k, expected_m",
  [
    # k + lambda (gamma L(x) - L(G)) = 0.3 + 0.001 (0.5 * 0.8 - 0.2); M = 0.8 + |0.4 - 0.2|.
    (0.3, 0.8, 0.2, 0.3002, 1.0),
    # 0.0 + 0.001 (0.5 * 0.2 - 0.9) < 0: clipped to 0; M = 0.2 + |0.1 - 0.9| = 1.0.
    (0.0, 0.2, 0.9, 0.0, 1.0),
    # 0.99995 + 0.001 (0.5 * 1.0 - 0.1) > 1: clipped to 1; M = 1.0 + 0.4.
    (0.99995, 1.0, 0.1, 1.0, 1.4),
  ],
)
def test_began_k_update_and_convergence_measure_on_fixed_numbers(
  k, real, fake, expected_k, expected_m
):
  np.testing.assert_allclose(losses.began_k_update(k, real, fake, 0.5, 1e-3), expected_k, rtol=1e-6)
  np.testing.assert_allclose(
    losses.began_convergence_measure(real, fake, 0.5), expected_m, rtol=1e-6
  )
  np.testing.assert_allclose(
    losses.began_discriminator_loss(np.array([real]), np.array([fake]), k),
    real - k * fake,
    rtol=1e-6,
  )


def test_multi_generator_losses():
  logits, sources = RNG.normal(size=(6, 4)), np.array([0, 1, 2, 3, 3, 0])
  log_softmax = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
  np.testing.assert_allclose(
    losses.multi_generator_discriminator_loss(logits, sources),
    -np.mean(log_softmax[np.arange(6), sources]),
    rtol=1e-5,
  )
  # Generators push towards the last class, "real".
  np.testing.assert_allclose(
    losses.multi_generator_generator_loss(logits), -np.mean(log_softmax[:, -1]), rtol=1e-5
  )


def test_feature_matching_loss():
  real, fake = RNG.normal(size=(8, 2, 3)), RNG.normal(size=(8, 2, 3)) + 1
  expected = np.sum((real.reshape(8, -1).mean(0) - fake.reshape(8, -1).mean(0)) ** 2)
  np.testing.assert_allclose(losses.feature_matching_loss(real, fake), expected, rtol=1e-5)


def _tiny(config, loss):
  config.batch_size = 16
  config.algorithm.loss = loss
  config.model.generator = {"name": "mlp", "hidden": (8,), "batch_norm": False}
  config.model.discriminator = {"name": "mlp", "hidden": (8,), "maxout_pieces": 0}
  return config


@pytest.fixture(scope="module")
def confident_discriminator_setup():
  """A GAN whose D rejects every fake with a logit close to -10 (bias -10, small weights)."""
  config = _tiny(wgan_ring8.get_config(), "minimax")
  dataset = data.get("ring8")
  batch = {k: jnp.asarray(v) for k, v in dataset.batch(0, 0, 16).items()}
  grads = {}
  for loss in ("minimax", "non_saturating"):
    config.algorithm.loss = loss
    algorithm = algorithms.get("gan")(config, dataset)
    state = init_train_state(algorithm, jax.random.key(0), batch)
    d = state.players["discriminator"]
    head = dict(d.params["Dense_1"])
    head["kernel"] = head["kernel"] * 0.01
    head["bias"] = jnp.full_like(head["bias"], -10.0)
    params = {**d.params, "Dense_1": head}
    state = state.replace(players={**state.players, "discriminator": d.replace(params=params)})
    grads[loss], _, _ = algorithm.generator_grads(state, batch, jax.random.key(1))
  return grads


def test_minimax_and_non_saturating_are_told_apart_by_the_generator_gradient(
  confident_discriminator_setup,
):
  """At logit l ~ -10, d/dl log(1 - sigmoid(l)) = -sigmoid(l) and d/dl -log sigmoid(l) =
  -sigmoid(-l): the same direction through G, scaled by sigmoid(l) / sigmoid(-l) = e^l ~ e^-10."""
  grads = confident_discriminator_setup
  minimax = np.concatenate([np.ravel(x) for x in jax.tree.leaves(grads["minimax"])])
  non_saturating = np.concatenate([np.ravel(x) for x in jax.tree.leaves(grads["non_saturating"])])
  ratio = np.linalg.norm(minimax) / np.linalg.norm(non_saturating)
  assert 0.8 * math.exp(-10) < ratio < 1.25 * math.exp(-10), ratio
  cosine = minimax @ non_saturating / np.linalg.norm(minimax) / np.linalg.norm(non_saturating)
  assert cosine > 0.99


def test_wgan_config_has_the_paper_defaults():
  config = wgan_ring8.get_config()
  algorithm = algorithms.get("gan")(_tiny(config, "wasserstein"), data.get("ring8"))
  assert algorithm.schedule == (("discriminator",),) * 5 + (("generator",),)
  assert algorithm.weight_clip == 0.01
  assert config.optimizer.discriminator.name == "rmsprop"
  assert config.optimizer.discriminator.learning_rate == 5e-5


def test_weight_clipping_keeps_every_critic_weight_in_range_after_each_step():
  config = _tiny(wgan_ring8.get_config(), "wasserstein")
  config.optimizer.discriminator = {"name": "rmsprop", "learning_rate": 0.1}  # big steps
  dataset = data.get("ring8")
  algorithm = algorithms.get("gan")(config, dataset)
  batch = {k: jnp.asarray(v) for k, v in dataset.batch(0, 0, 16).items()}
  state = init_train_state(algorithm, jax.random.key(0), batch)
  weights = lambda s: np.concatenate(
    [np.ravel(x) for x in jax.tree.leaves(s.players["discriminator"].params)]
  )
  assert np.abs(weights(state)).max() > 0.1  # the initial critic is far outside [-c, c]
  step = jax.jit(algorithms.make_train_step(algorithm))
  batches = jax.tree.map(lambda x: jnp.stack([x] * 6), batch)
  for _ in range(3):
    state, _ = step(state, batches)
    assert np.abs(weights(state)).max() <= 0.01
  assert np.abs(weights(state)).max() == pytest.approx(0.01)  # the clip is active
