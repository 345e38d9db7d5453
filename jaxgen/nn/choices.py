"""Activations and weight initialisers by name: the settings papers state, as network options.

    activation="tanh"                                    # Metz et al. 2016's demo MLPs
    activation="leaky_relu", leaky_slope=0.2             # Radford et al. 2016's discriminator
    kernel_init="orthogonal", init_scale=1.4             # Metz et al. 2016's demo (gain 1.4)
    kernel_init="orthogonal_tf1", init_scale=1.4         # ... as its TensorFlow 1.0 drew it
    kernel_init="normal", init_scale=0.02                # Radford et al. 2016, sec. 4

Biases start at zero throughout (Flax's and TF-slim's default).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from flax import linen as nn

# LeakyReLU slope of the GAN discriminators (Radford et al. 2016, sec. 3).
LEAKY_RELU_SLOPE = 0.2

ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
  "relu": nn.relu,
  "leaky_relu": nn.leaky_relu,  # max(x, slope x), slope = `leaky_slope`
  "tanh": jnp.tanh,
  "elu": nn.elu,  # Clevert et al. 2016, alpha = 1
  "softplus": nn.softplus,
  "gelu": nn.gelu,  # Hendrycks & Gimpel 2016 (tanh approximation, Flax's default)
  "swish": nn.swish,  # x sigmoid(x), Ramachandran et al. 2017
  "sigmoid": nn.sigmoid,
}


def orthogonal_tf1(gain: float) -> Callable:
  """TensorFlow 1.0's `orthogonal_initializer`, which Metz et al. 2016's demo ran: gain times the
  singular vectors (left ones for a tall kernel, right ones for a wide one) of a matrix of
  U[0, 1) numbers, not of normal ones. Orthonormal still, but not uniformly so: the leading
  vector lies near the all-ones direction, since the draws' mean dominates (TF 1.0 init_ops.py,
  `Orthogonal.__call__`)."""

  def init(key, shape, dtype=jnp.float32):
    rows, cols = math.prod(shape[:-1]), shape[-1]
    uniform = jax.random.uniform(key, (rows, cols), jnp.float32)
    u, _, vt = jnp.linalg.svd(uniform, full_matrices=False)
    return (gain * (u if rows > cols else vt)).reshape(shape).astype(dtype)

  return init


# name -> (initialiser from its scale, the scale it takes by default, what the scale means);
# None: the initialiser has no scale. lecun_normal is Flax's default for Dense and Conv.
_SCALED = {
  # w ~ N(0, std^2): DCGAN's N(0, 0.02^2) (Radford et al. 2016, sec. 4).
  "normal": (lambda std: nn.initializers.normal(stddev=std), 0.02, "its std"),
  # Saxe et al. 2014: a random orthogonal matrix times the gain (TF's orthogonal_initializer).
  "orthogonal": (lambda gain: nn.initializers.orthogonal(scale=gain), 1.0, "its gain"),
  "orthogonal_tf1": (orthogonal_tf1, 1.0, "its gain"),
}
_FIXED = {
  "lecun_normal": nn.initializers.lecun_normal,  # var 1 / fan_in (LeCun et al. 1998)
  "lecun_uniform": nn.initializers.lecun_uniform,
  "he_normal": nn.initializers.he_normal,  # var 2 / fan_in (He et al. 2015)
  "he_uniform": nn.initializers.he_uniform,
  "xavier_normal": nn.initializers.xavier_normal,  # var 2 / (fan_in + fan_out) (Glorot 2010)
  "xavier_uniform": nn.initializers.xavier_uniform,
}
INITIALISERS = (*_SCALED, *_FIXED)


def activation(name: Any, leaky_slope: Any, module: str) -> Callable:
  """The activation `name`; `leaky_slope` is leaky_relu's and must keep its default otherwise."""
  if name not in ACTIVATIONS:
    raise ValueError(f"{module}: unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}.")
  if not isinstance(leaky_slope, int | float) or isinstance(leaky_slope, bool):
    raise ValueError(f"{module}: leaky_slope must be a number; got {leaky_slope!r}.")
  if name != "leaky_relu":
    if leaky_slope != LEAKY_RELU_SLOPE:
      raise ValueError(
        f"{module}: leaky_slope = {leaky_slope} is leaky_relu's option, but the activation is "
        f"{name!r}; drop leaky_slope or use activation='leaky_relu'."
      )
    return ACTIVATIONS[name]
  return lambda x: nn.leaky_relu(x, leaky_slope)


def kernel_init(name: Any, scale: Any, module: str) -> Callable:
  """The weight initialiser `name` with `scale` (None: its default), see `INITIALISERS`."""
  if name in _FIXED:
    if scale is not None:
      raise ValueError(
        f"{module}: kernel_init {name!r} takes no init_scale (got {scale!r}); set init_scale to "
        f"None, or use 'normal' (scale = std) or 'orthogonal' (scale = gain)."
      )
    return _FIXED[name]()
  if name not in _SCALED:
    raise ValueError(f"{module}: unknown kernel_init {name!r}; choose one of {list(INITIALISERS)}.")
  make, default, meaning = _SCALED[name]
  scale = default if scale is None else scale
  if (
    not isinstance(scale, int | float)
    or isinstance(scale, bool)
    or not math.isfinite(scale)
    or scale <= 0
  ):
    raise ValueError(f"{module}: init_scale ({meaning}) must be a number > 0; got {scale!r}.")
  return make(float(scale))
