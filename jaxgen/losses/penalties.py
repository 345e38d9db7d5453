"""Gradient penalties on the discriminator: WGAN-GP, DRAGAN and R1.

A penalty is a function `penalty(critic, real, fake, rng) -> scalar` that the discriminator adds to
its loss; `critic` maps a batch of D's inputs [B, ...] to one output per sample [B] (with D's
current parameters and labels already bound). Gradients are taken with respect to the *inputs*,
one per sample: `jax.grad` of the sum of the outputs, which equals the per-sample gradients when the
critic treats samples independently (no batch norm; Gulrajani et al. 2017, sec. 4, drop it for this
reason).

The gradient norm is the Euclidean norm of the whole per-sample gradient, i.e. over *all*
non-batch axes of the gradient flattened to [B, -1], with a small epsilon inside the square root
so that its own gradient stays finite at zero. Taking the norm over one axis only (e.g. the
channels of an image) gives a different penalty; several public implementations shipped that bug.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp

Array = jax.Array
Critic = Callable[[Array], Array]
Penalty = Callable[[Critic, Array, Array, Array], Array]

# Inside the square root of the gradient norm: d sqrt(s) / ds = 1 / (2 sqrt(s)) is infinite at
# s = 0, which a dead critic (zero input gradient) would otherwise hit.
NORM_EPSILON = 1e-12
# Gulrajani et al. 2017, Algorithm 1: lambda = 10. Kodali et al. 2017 use the same lambda = 10;
# Mescheder et al. 2018 (sec. 4, their image experiments) gamma = 10 for R1.
GRADIENT_PENALTY_WEIGHT = 10.0
# Kodali et al. 2017, reference code (kodalinaveen3/DRAGAN): x_p = x + 0.5 std(x) U[0, 1).
DRAGAN_PERTURBATION_SCALE = 0.5


def input_gradients(critic: Critic, inputs: Array) -> Array:
  """d critic(x)_i / d x_i for every sample i, shaped like `inputs`."""
  return jax.grad(lambda x: jnp.sum(critic(x)))(inputs)


def gradient_norms(critic: Critic, inputs: Array, epsilon: float = NORM_EPSILON) -> Array:
  """||grad_x critic(x_i)||_2 per sample [B]: sqrt(sum over all non-batch axes + epsilon)."""
  gradients = input_gradients(critic, inputs)
  flat = gradients.reshape(gradients.shape[0], -1)
  return jnp.sqrt(jnp.sum(jnp.square(flat), axis=1) + epsilon)


def interpolates(real: Array, fake: Array, rng: Array) -> Array:
  """x_hat = eps x + (1 - eps) x_tilde with one eps ~ U[0, 1] per sample (Gulrajani et al. 2017,
  Algorithm 1, line 6): points on the segments between paired real and generated samples."""
  if real.shape != fake.shape:
    raise ValueError(f"real and fake must have one shape; got {real.shape} and {fake.shape}.")
  eps = jax.random.uniform(rng, (real.shape[0],) + (1,) * (real.ndim - 1), real.dtype)
  return eps * real + (1.0 - eps) * fake


def unit_gradient_penalty(critic: Critic, points: Array, weight: float) -> Array:
  """lambda E[(||grad critic(x)|| - 1)^2] at `points` (Gulrajani et al. 2017, eq. 3)."""
  return weight * jnp.mean(jnp.square(gradient_norms(critic, points) - 1.0))


def wgan_gp_penalty(
  critic: Critic, real: Array, fake: Array, rng: Array, weight: float = GRADIENT_PENALTY_WEIGHT
) -> Array:
  """WGAN-GP: the unit gradient penalty on random interpolates (Gulrajani et al. 2017, eq. 3)."""
  return unit_gradient_penalty(critic, interpolates(real, fake, rng), weight)


def dragan_points(real: Array, rng: Array, scale: float = DRAGAN_PERTURBATION_SCALE) -> Array:
  """Points around the data: x + alpha (x_p - x) with x_p = x + scale std(x) u, u ~ U[0, 1)^shape.

  Kodali et al. 2017 (the gradient penalty on x + delta, perturbed real data), in the form of the
  authors' code: std over the whole batch, one alpha ~ U[0, 1] per sample along the perturbation.
  """
  noise_rng, alpha_rng = jax.random.split(rng)
  perturbed = real + scale * jnp.std(real) * jax.random.uniform(noise_rng, real.shape, real.dtype)
  return interpolates(perturbed, real, alpha_rng)


def dragan_penalty(
  critic: Critic,
  real: Array,
  fake: Array,
  rng: Array,
  weight: float = GRADIENT_PENALTY_WEIGHT,
  scale: float = DRAGAN_PERTURBATION_SCALE,
) -> Array:
  """DRAGAN: lambda E[(||grad D(x + delta)|| - 1)^2] around real data (Kodali et al. 2017)."""
  del fake  # the penalty lives around the data manifold only
  return unit_gradient_penalty(critic, dragan_points(real, rng, scale), weight)


def r1_penalty(
  critic: Critic, real: Array, fake: Array, rng: Array, weight: float = GRADIENT_PENALTY_WEIGHT
) -> Array:
  """R1 = gamma / 2 E_{p_D}[||grad D(x)||^2] on real data (Mescheder et al. 2018, eq. 9).

  `weight` is gamma; D's outputs are its logits. No square root, so no epsilon is needed.
  """
  del fake, rng
  gradients = input_gradients(critic, real)
  flat = gradients.reshape(gradients.shape[0], -1)
  return 0.5 * weight * jnp.mean(jnp.sum(jnp.square(flat), axis=1))


PENALTIES: dict[str, Callable[..., Array]] = {
  "wgan_gp": wgan_gp_penalty,
  "dragan": dragan_penalty,
  "r1": r1_penalty,
}


def get_penalty(name: str, **options) -> Penalty | None:
  """The penalty called `name` with `options` (e.g. weight) bound; None for "none".

  "none" accepts weight = 0 only (a config may spell the field out), so a weight is never ignored.
  """
  if name == "none":
    if {k: v for k, v in options.items() if not (k == "weight" and v == 0)}:
      raise ValueError(f"The penalty 'none' takes no options but weight = 0; got {options}.")
    return None
  if name not in PENALTIES:
    raise ValueError(f"Unknown penalty {name!r}; choose one of {['none', *sorted(PENALTIES)]}.")
  penalty = PENALTIES[name]
  try:
    inspect.signature(penalty).bind(None, None, None, None, **options)
  except TypeError as error:  # an unknown option
    raise ValueError(f"Bad options {sorted(options)} for the {name!r} penalty: {error}") from None
  for key, value in options.items():
    if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
      raise ValueError(f"The {name!r} penalty's {key} must be a finite number >= 0; got {value!r}.")
  if options.get("weight", GRADIENT_PENALTY_WEIGHT) == 0:
    default = inspect.signature(penalty).parameters["weight"].default
    raise ValueError(
      f"The {name!r} penalty with weight 0 adds nothing to D's loss: set a weight > 0 ({name}'s "
      f"default, its paper's value: {default}) or name the penalty 'none'."
    )
  return functools.partial(penalty, **options)
