"""Highway layers and networks, fully connected and convolutional (pure Flax linen).

A highway layer (Srivastava, Greff, Schmidhuber, "Training Very Deep Networks", NeurIPS 2015,
arXiv 1507.06228, eq. 2-3) lets a learnt gate choose, per unit, between transforming its input and
carrying it unchanged:

  y = H(x) * T(x) + x * (1 - T(x)),   T(x) = sigmoid(W_T x + b_T),   H(x) = act(W_H x + b_H).

With b_T negative at initialisation (Sec. 2.2; the paper uses -1 to -3, more negative for deeper
nets) the gates start mostly closed, every layer starts close to the identity, and gradient flows
through any depth along the carry path x * (1 - T(x)).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgen.nn.layers import check_positive_int

Array = jax.Array
Dtype = Any

DEFAULT_GATE_BIAS = -2.0

# H feeds a ReLU by default: He initialisation N(0, 2 / fan_in) (He et al. 2015, eq. 10).
_transform_init = nn.initializers.variance_scaling(2.0, "fan_in", "normal")


def _linear(features: int, kernel_size: Sequence[int] | None, **kwargs) -> nn.Module:
  """A dense layer (kernel_size None) or a 'SAME' convolution with `kernel_size`."""
  if kernel_size is None:
    return nn.Dense(features, **kwargs)
  return nn.Conv(features, tuple(kernel_size), padding="SAME", **kwargs)


class Highway(nn.Module):
  """One highway layer, y = H(x) * T(x) + x * (1 - T(x)) (Srivastava et al. 2015, eq. 3).

  Its width equals its input's last dimension (the carry path needs matching shapes).

  Attributes:
    kernel_size: None for the fully connected layer (x: [..., features]); e.g. (3, 3) for the
      convolutional variant (x: [batch, height, width, channels]; H and T are 'SAME' convolutions).
    gate_bias: initial b_T; negative keeps the gate mostly closed (T = sigmoid(-2) ~ 0.12).
    act: the nonlinearity of H.
    dtype: computation dtype.
  """

  kernel_size: Sequence[int] | None = None
  gate_bias: float = DEFAULT_GATE_BIAS
  act: Callable[[Array], Array] = nn.relu
  dtype: Dtype | None = None

  @nn.compact
  def __call__(self, x: Array) -> Array:
    """y = H(x) T(x) + x (1 - T(x)), shaped like x; the mean gate is sown as `gate_mean`."""
    if not math.isfinite(self.gate_bias):
      raise ValueError(f"gate_bias must be a finite number; got {self.gate_bias!r}.")
    features = x.shape[-1]
    transform = _linear(
      features, self.kernel_size, kernel_init=_transform_init, dtype=self.dtype, name="transform"
    )
    gate = _linear(
      features,
      self.kernel_size,
      bias_init=nn.initializers.constant(self.gate_bias),
      dtype=self.dtype,
      name="gate",
    )
    h = self.act(transform(x))
    t = nn.sigmoid(gate(x))
    self.sow("intermediates", "gate_mean", jnp.mean(t.astype(jnp.float32)))
    return h * t + x.astype(h.dtype) * (1 - t)


# The convolutional variant: H and T are 3x3 convolutions (Srivastava et al. 2015, Sec. 2.1).
HighwayConv = functools.partial(Highway, kernel_size=(3, 3))


class HighwayNet(nn.Module):
  """A plain input layer to `features` units, `depth` highway layers, and an optional linear head.

  As in Srivastava et al. (2015, Sec. 3), the first layer is an ordinary layer that changes the
  dimensionality; all later layers are highway layers of the same width. The convolutional form
  (kernel_size set) ends with global average pooling before the head.

  Attributes:
    depth: number of highway layers (>= 1).
    features: width of every highway layer.
    num_outputs: size of the linear head; None returns the last hidden layer.
    kernel_size: None for the fully connected net, e.g. (3, 3) for the convolutional one.
    gate_bias: initial transform-gate bias of every layer.
    act: the nonlinearity.
    dtype: computation dtype.
  """

  depth: int
  features: int
  num_outputs: int | None = None
  kernel_size: Sequence[int] | None = None
  gate_bias: float = DEFAULT_GATE_BIAS
  act: Callable[[Array], Array] = nn.relu
  dtype: Dtype | None = None

  @nn.compact
  def __call__(self, x: Array) -> Array:
    """Outputs [B, num_outputs], or the last highway layer's activations when there is no head."""
    check_positive_int("depth", self.depth)
    check_positive_int("features", self.features)
    if self.num_outputs is not None:
      check_positive_int("num_outputs", self.num_outputs)
    if self.kernel_size is not None and x.ndim != 4:
      raise ValueError(
        f"the convolutional HighwayNet expects [batch, height, width, channels]; got {x.shape}."
      )
    x = _linear(
      self.features, self.kernel_size, kernel_init=_transform_init, dtype=self.dtype, name="input"
    )(x)
    x = self.act(x)
    for index in range(self.depth):
      x = Highway(
        kernel_size=self.kernel_size,
        gate_bias=self.gate_bias,
        act=self.act,
        dtype=self.dtype,
        name=f"highway{index + 1}",
      )(x)
    if self.num_outputs is None:
      return x
    if self.kernel_size is not None:
      x = jnp.mean(x, axis=(1, 2))
    return nn.Dense(self.num_outputs, dtype=self.dtype, name="head")(x)
