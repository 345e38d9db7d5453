"""Gradient penalties against closed forms: linear and quadratic critics, image-shaped inputs."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen import algorithms, data
from jaxgen.configs import wgan_gp_ring8
from jaxgen.losses import penalties

RNG = np.random.default_rng(0)


def linear_critic(w):
  """f(x) = <w, x> over all non-batch axes: its input gradient is w for every sample."""
  return lambda x: jnp.sum(x * w, axis=tuple(range(1, x.ndim)))


@pytest.mark.parametrize("shape", [(2,), (5,), (4, 4, 3)], ids=["2d", "5d", "image"])
@pytest.mark.parametrize("scale", [0.3, 1.0, 2.5])
def test_wgan_gp_of_a_linear_critic_is_lambda_times_squared_distance_of_norm_to_one(shape, scale):
  w = RNG.normal(size=shape)
  w = jnp.asarray(scale * w / np.linalg.norm(w), jnp.float32)  # ||w|| = scale exactly
  real = jnp.asarray(RNG.normal(size=(8, *shape)), jnp.float32)
  fake = jnp.asarray(RNG.normal(size=(8, *shape)), jnp.float32)
  got = penalties.wgan_gp_penalty(linear_critic(w), real, fake, jax.random.key(0), weight=10.0)
  np.testing.assert_allclose(got, 10.0 * (scale - 1.0) ** 2, rtol=1e-5, atol=1e-9)


def test_image_gradient_norm_is_taken_over_all_non_batch_axes():
  """The one-axis bug (norm over the channels only, then a mean) gives another number here."""
  w = jnp.asarray(RNG.normal(size=(4, 4, 3)), jnp.float32)
  x = jnp.asarray(RNG.normal(size=(6, 4, 4, 3)), jnp.float32)
  norms = penalties.gradient_norms(linear_critic(w), x)
  np.testing.assert_allclose(norms, np.full(6, np.linalg.norm(np.asarray(w))), rtol=1e-5)
  one_axis = np.mean((np.linalg.norm(np.asarray(w), axis=-1) - 1) ** 2)  # the buggy penalty
  correct = penalties.unit_gradient_penalty(linear_critic(w), x, weight=1.0)
  np.testing.assert_allclose(correct, (np.linalg.norm(np.asarray(w)) - 1) ** 2, rtol=1e-5)
  assert abs(float(correct) - one_axis) > 1.0


def test_epsilon_inside_the_square_root_keeps_the_gradient_finite_at_zero():
  """d/dw (sqrt(||w||^2 + eps) - 1)^2 at w = 0 is 0; without eps it would be 0 / 0."""
  x = jnp.ones((4, 3))
  grad = jax.grad(lambda w: penalties.wgan_gp_penalty(linear_critic(w), x, x, jax.random.key(0)))
  value = grad(jnp.zeros(3))
  assert np.all(np.isfinite(value))
  np.testing.assert_allclose(value, 0.0, atol=1e-6)
  np.testing.assert_allclose(
    penalties.gradient_norms(linear_critic(jnp.zeros(3)), x),
    math.sqrt(penalties.NORM_EPSILON),
    rtol=1e-6,
  )


def test_interpolates_lie_on_the_segments_with_one_alpha_per_sample():
  real = jnp.asarray(RNG.normal(size=(64, 4, 4, 2)), jnp.float32)
  fake = jnp.asarray(RNG.normal(size=(64, 4, 4, 2)), jnp.float32)
  x_hat = np.asarray(penalties.interpolates(real, fake, jax.random.key(3))).reshape(64, -1)
  real, fake = np.asarray(real).reshape(64, -1), np.asarray(fake).reshape(64, -1)
  # x_hat = fake + alpha (real - fake) with one alpha per sample, in [0, 1]: alpha by least
  # squares, then the whole sample must sit at that point of its segment.
  direction = real - fake
  alpha = np.sum((x_hat - fake) * direction, axis=1) / np.sum(direction**2, axis=1)
  np.testing.assert_allclose(x_hat, fake + alpha[:, None] * direction, atol=1e-5)
  assert np.all((alpha >= -1e-6) & (alpha <= 1 + 1e-6))
  assert np.std(alpha) > 0.2  # a different alpha per sample, roughly uniform (std 0.29)
  with pytest.raises(ValueError, match="one shape"):
    penalties.interpolates(real, fake[:2], jax.random.key(0))


# A quadratic critic f(x) = 1/2 x^T A x + b^T x with A = diag(1, 2), b = (0.5, -1): grad = A x + b.
# At x1 = (1, 0): grad = (1.5, -1), ||grad||^2 = 3.25; at x2 = (0, 1): grad = (0.5, 1), 1.25.
A, B = jnp.array([1.0, 2.0]), jnp.array([0.5, -1.0])
POINTS = jnp.array([[1.0, 0.0], [0.0, 1.0]])


def quadratic_critic(x):
  return 0.5 * jnp.sum(A * x * x, axis=1) + x @ B


def test_r1_on_a_quadratic_critic_by_hand():
  # gamma / 2 * mean(3.25, 1.25) = 10 / 2 * 2.25 = 11.25.
  got = penalties.r1_penalty(quadratic_critic, POINTS, POINTS * 7, jax.random.key(0), weight=10.0)
  np.testing.assert_allclose(got, 11.25, rtol=1e-6)


def test_dragan_on_a_quadratic_critic_by_hand():
  # With no perturbation the points are the data: 10 * mean((sqrt(3.25) - 1)^2, (sqrt(1.25) - 1)^2).
  expected = 10 * ((math.sqrt(3.25) - 1) ** 2 + (math.sqrt(1.25) - 1) ** 2) / 2
  got = penalties.dragan_penalty(
    quadratic_critic, POINTS, POINTS * 7, jax.random.key(0), weight=10.0, scale=0.0
  )
  np.testing.assert_allclose(got, expected, rtol=1e-5)
  np.testing.assert_allclose(expected, 3.2919, atol=1e-4)


def test_dragan_points_perturb_the_data_by_at_most_half_a_standard_deviation():
  real = jnp.asarray(RNG.normal(size=(256, 2)) * 3, jnp.float32)
  offsets = np.asarray(penalties.dragan_points(real, jax.random.key(1))) - np.asarray(real)
  bound = 0.5 * float(jnp.std(real))
  assert np.all(offsets >= -1e-6) and np.all(offsets <= bound + 1e-5)
  assert offsets.max() > 0.5 * bound  # the perturbation is not degenerate


@pytest.mark.parametrize(
  "name, options, message",
  [
    ("wgan-gp", {}, "choose one of.*wgan_gp"),
    ("r1", {"lambda_": 1.0}, "Bad options"),
    ("dragan", {"weight": -1.0}, "finite number >= 0"),
    ("none", {"weight": 10.0}, "weight = 0"),
  ],
)
def test_bad_penalty_settings_are_named(name, options, message):
  with pytest.raises(ValueError, match=message):
    penalties.get_penalty(name, **options)


def test_gradient_penalty_refuses_a_batch_norm_discriminator():
  config = wgan_gp_ring8.get_config()
  config.data.name = "digits"
  config.model.generator = {"name": "dcgan", "base_features": 4}
  config.model.discriminator = {"name": "dcgan", "base_features": 4, "norm": "batch"}
  with pytest.raises(ValueError, match="'layer' or 'none'"):
    algorithms.get("gan")(config, data.get("digits"))
