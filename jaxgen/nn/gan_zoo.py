"""Discriminators of the GAN family beyond the plain real/fake critic.

- `HeadedDiscriminator` wraps any discriminator of `jaxgen.nn.gan` and adds outputs computed from
  the features it sows (`intermediates/features`): minibatch discrimination (Salimans et al. 2016,
  sec. 3.2) and a linear auxiliary head (ACGAN's class logits, InfoGAN's Q, MAD-GAN's generator
  classes). Apply it with `mutable=["intermediates", ...]`: the base's sown features are its input.
- `AutoencoderDiscriminator` is the energy-based discriminator of EBGAN and BEGAN: an autoencoder
  D(x) = Dec(Enc(x)), returning the reconstruction and the code.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
from flax import linen as nn

from jaxgen.nn.conv import ConvTranspose
from jaxgen.nn.gan import DCGAN_KERNEL_SIZE, LEAKY_RELU_SLOPE, resolution_steps
from jaxgen.nn.layers import MinibatchDiscrimination, check_positive_int
from jaxgen.nn.traits import RECONSTRUCTION, NetworkTraits


def sown_features(base: nn.Module, missing: str):
  """The `intermediates/features` the (already applied) discriminator `base` sowed; a ValueError
  saying `missing` when it sowed none."""
  sown = base.get_variable("intermediates", "features")
  if sown is None:
    raise ValueError(missing)
  return sown


class HeadedDiscriminator(nn.Module):
  """A discriminator plus heads on the features its base network sows.

  Minibatch discrimination concatenates the closeness features o(f) to the base's last hidden
  features f before its output layer (Salimans et al. 2016, sec. 3.2). The base's output layer is
  linear, so Dense([f, o]) = Dense(f) + W_o o: the logit is the base's logit plus a bias-free
  linear map of o, and the base network is reused unchanged.

  Attributes:
    base: a discriminator `D(x, labels, *, train) -> logits [B]` that sows `features`.
    aux_outputs: width of the linear auxiliary head on the features (0: none).
    minibatch_kernels: B, the closeness features of minibatch discrimination (0: off).
    minibatch_kernel_dim: C, the dimension of each kernel's rows.

  Returns:
    (logits [B], aux [B, aux_outputs]).
  """

  base: nn.Module
  aux_outputs: int = 0
  minibatch_kernels: int = 0
  minibatch_kernel_dim: int = 5

  @nn.compact
  def __call__(self, x: jax.Array, labels: jax.Array | None = None, *, train: bool):
    """(logits [B], aux [B, aux_outputs]): the base's logits (plus the minibatch term) and head."""
    for name in ("aux_outputs", "minibatch_kernels"):
      value = getattr(self, name)
      if not isinstance(value, int) or value < 0:
        raise ValueError(f"HeadedDiscriminator: {name} must be an int >= 0; got {value!r}.")
    logits = self.base(x, labels, train=train)
    sown = sown_features(
      self.base,
      f"the auxiliary head and minibatch discrimination read the features that the base "
      f"discriminator sows, and {type(self.base).__name__} sows none: choose a discriminator "
      "that does (model.discriminator.name = 'mlp', 'dcgan', 'sagan', ...), or apply the "
      "network with mutable=['intermediates', ...]",
    )
    features = sown[-1].reshape(x.shape[0], -1)
    if self.minibatch_kernels:
      layer = MinibatchDiscrimination(self.minibatch_kernels, self.minibatch_kernel_dim)
      closeness = layer(features)[:, features.shape[1] :]
      logits = logits + nn.Dense(1, use_bias=False, name="minibatch_logit")(closeness)[:, 0]
    if self.aux_outputs:
      aux = nn.Dense(self.aux_outputs, name="aux_head")(features)
    else:
      aux = jnp.zeros((x.shape[0], 0), features.dtype)
    return logits, aux


class AutoencoderDiscriminator(nn.Module):
  """An autoencoder as the discriminator: D(x) = Dec(Enc(x)) (Zhao et al. 2016, sec. 2.3).

  Vectors [B, d]: an MLP encoder (`hidden` widths, LeakyReLU) to `code_dim`, and the mirrored
  decoder. Images [B, H, W, C]: stride-2 4x4 convolutions (`hidden` widths, one per resolution
  step) and a Dense layer to the code; the decoder mirrors them with transposed convolutions.
  Outputs are linear (an energy is a distance, so nothing has to be squashed).

  Returns:
    (reconstruction shaped like x, code [B, code_dim]).
  """

  hidden: Sequence[int] = (64, 64)
  code_dim: int = 8
  dtype: Any = None
  traits = NetworkTraits(("discriminator",), RECONSTRUCTION)

  @nn.compact
  def __call__(self, x: jax.Array, labels: jax.Array | None = None, *, train: bool):
    """(Dec(Enc(x)) shaped like x, code [B, code_dim]) of x [B, d] or [B, H, W, C]."""
    del train  # no batch-dependent layers
    if labels is not None:
      raise ValueError("AutoencoderDiscriminator is unconditional; it was given labels.")
    check_positive_int("code_dim", self.code_dim)
    for width in self.hidden:
      check_positive_int("every hidden width", width)
    if x.ndim == 2:
      return self._mlp(x)
    if x.ndim == 4:
      return self._conv(x)
    raise ValueError(
      f"AutoencoderDiscriminator expects [batch, dim] or [batch, H, W, C]; got shape {x.shape}."
    )

  def _mlp(self, x):
    h = x
    for width in self.hidden:
      h = nn.leaky_relu(nn.Dense(width, dtype=self.dtype)(h), LEAKY_RELU_SLOPE)
    code = nn.Dense(self.code_dim, dtype=self.dtype, name="code")(h)
    h = code
    for width in reversed(self.hidden):
      h = nn.leaky_relu(nn.Dense(width, dtype=self.dtype)(h), LEAKY_RELU_SLOPE)
    return nn.Dense(x.shape[1], dtype=self.dtype)(h), code

  def _conv(self, x):
    _, height, width, channels = x.shape
    resolution_steps(height, width, len(self.hidden))  # checks that the sides halve evenly
    h = x
    for features in self.hidden:
      h = nn.Conv(features, DCGAN_KERNEL_SIZE, strides=2, padding="SAME", dtype=self.dtype)(h)
      h = nn.leaky_relu(h, LEAKY_RELU_SLOPE)
    base_shape = h.shape[1:]
    code = nn.Dense(self.code_dim, dtype=self.dtype, name="code")(h.reshape(x.shape[0], -1))
    h = nn.Dense(base_shape[0] * base_shape[1] * base_shape[2], dtype=self.dtype)(code)
    h = nn.leaky_relu(h.reshape(x.shape[0], *base_shape), LEAKY_RELU_SLOPE)
    # One transposed conv per encoder step, back through the encoder's widths to the channels.
    for features in reversed(self.hidden[:-1]):
      h = ConvTranspose(features, DCGAN_KERNEL_SIZE, strides=2, padding="SAME", dtype=self.dtype)(h)
      h = nn.leaky_relu(h, LEAKY_RELU_SLOPE)
    h = ConvTranspose(channels, DCGAN_KERNEL_SIZE, strides=2, padding="SAME", dtype=self.dtype)(h)
    return h, code
