"""Encoders and decoders for the autoencoder family (VAE, CVAE, VAE-GAN, AAE, WAE).

Uniform call signatures, which the algorithms rely on:

  Enc(x, labels=None, *, train) -> (mean [B, d], log_variance [B, d])   Gaussian q(z|x)
                                -> (z [B, d], None)               deterministic (stochastic=False)
                                -> (mean, log_variance, spike_logits [B, d])
                                   spike-and-slab q(z|x) (spike_and_slab=True; sparse_vae)
  Dec(z, labels=None, *, train) -> logits [B, *image_shape]

A decoder returns *logits* l: the Bernoulli decoder's pixel-on probability is sigmoid(l), and the
image in [-1, 1] (the Gaussian decoder's mean, the picture shown, the input of a discriminator) is
2 sigmoid(l) - 1 = tanh(l / 2) — one output serves both likelihoods.

Conditional variants (CVAE, Sohn et al. 2015, sec. 4) have `num_classes > 0`: the labels, one-hot,
are concatenated to the encoder's input (as constant channels for images) and to z.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
from flax import linen as nn

from jaxgen.nn.gan import (
  BATCH_NORM_EPSILON,
  BATCH_NORM_MOMENTUM,
  DCGAN_KERNEL_INIT,
  DCGAN_KERNEL_SIZE,
  concat_labels,
  dcgan_upsampling,
  resolution_steps,
)
from jaxgen.nn.traits import BATCH_NORM, CODE, EXAMPLE, NetworkTraits

Encoded = tuple[jax.Array, jax.Array | None] | tuple[jax.Array, jax.Array, jax.Array]


def logits_to_image(logits: jax.Array) -> jax.Array:
  """The decoder's image in [-1, 1]: 2 sigmoid(l) - 1, written as tanh(l / 2) (same function)."""
  return jnp.tanh(0.5 * logits)


def _check_positive(value: Any, name: str, module: str) -> None:
  if not (isinstance(value, int) and value >= 1):
    raise ValueError(f"{module}: {name} must be an int >= 1; got {value!r}.")


def _check_image_shape(image_shape: Any, module: str) -> tuple[int, int, int]:
  if len(image_shape) != 3 or not all(isinstance(s, int) and s >= 1 for s in image_shape):
    raise ValueError(f"{module}: image_shape must be (H, W, C) ints >= 1; got {image_shape!r}.")
  return tuple(image_shape)


def _batch_norm(train: bool) -> nn.BatchNorm:
  return nn.BatchNorm(
    use_running_average=not train, momentum=BATCH_NORM_MOMENTUM, epsilon=BATCH_NORM_EPSILON
  )


class GaussianHead(nn.Module):
  """Dense heads to the latent code: (mean, log-variance) of q(z|x) (Kingma & Welling 2014, App.
  C.2), or (z, None) for a deterministic encoder (AAE, WAE); with `spike_and_slab` a third head,
  the logits of the slab probabilities gamma (Tonolini et al. 2019: the recognition
  model outputs mu, sigma and gamma)."""

  latent_dim: int
  stochastic: bool = True
  spike_and_slab: bool = False

  @nn.compact
  def __call__(self, h: jax.Array) -> Encoded:
    """(mean, log_variance[, spike_logits]), each [B, latent_dim], or (z, None), from h [B, F]."""
    name = type(self).__name__
    _check_positive(self.latent_dim, "latent_dim", name)
    if self.spike_and_slab and not self.stochastic:
      raise ValueError(f"{name}: a spike-and-slab code is stochastic; set stochastic=True.")
    mean = nn.Dense(self.latent_dim, name="mean")(h)
    if not self.stochastic:
      return mean, None
    log_variance = nn.Dense(self.latent_dim, name="log_variance")(h)
    if not self.spike_and_slab:
      return mean, log_variance
    return mean, log_variance, nn.Dense(self.latent_dim, name="spike_logits")(h)


class MLPEncoder(nn.Module):
  """Flattened input -> [Dense -> ReLU] per hidden layer -> Gaussian (or deterministic) code.

  The defaults are the Flax VAE example's (one hidden layer of 500 units).
  """

  latent_dim: int
  hidden: Sequence[int] = (500,)
  stochastic: bool = True
  num_classes: int = 0
  spike_and_slab: bool = False
  traits = NetworkTraits(("encoder",), CODE)

  @nn.compact
  def __call__(self, x: jax.Array, labels: jax.Array | None = None, *, train: bool) -> Encoded:
    """The code of x [B, ...] (flattened, one-hot labels appended), as `GaussianHead` returns."""
    del train  # no batch-dependent layers; the argument keeps the signatures uniform
    name = type(self).__name__
    h = concat_labels(x.reshape((x.shape[0], -1)), labels, self.num_classes, name)
    for width in self.hidden:
      _check_positive(width, "every hidden width", name)
      h = nn.relu(nn.Dense(width)(h))
    return GaussianHead(self.latent_dim, self.stochastic, self.spike_and_slab)(h)


class MLPDecoder(nn.Module):
  """z -> [Dense -> ReLU] per hidden layer -> Dense to the image's logits."""

  image_shape: tuple[int, ...]
  hidden: Sequence[int] = (500,)
  num_classes: int = 0
  traits = NetworkTraits(("decoder",), EXAMPLE)

  @nn.compact
  def __call__(self, z: jax.Array, labels: jax.Array | None = None, *, train: bool) -> jax.Array:
    """Logits [B, *image_shape] of z [B, latent_dim] (one-hot labels appended to z)."""
    del train
    name = type(self).__name__
    h = concat_labels(z, labels, self.num_classes, name)
    for width in self.hidden:
      _check_positive(width, "every hidden width", name)
      h = nn.relu(nn.Dense(width)(h))
    return nn.Dense(math.prod(self.image_shape))(h).reshape((-1, *self.image_shape))


class ConvEncoder(nn.Module):
  """Stride-2 convs -> Dense -> Gaussian (or deterministic) code.

  Larsen et al. 2016, Table 1 (encoder: conv -> BN -> ReLU blocks, a dense BN ReLU layer, then the
  mean and log-variance), at DCGAN's 4 x 4 / stride 2 kernels: n blocks of Conv -> BN -> ReLU with
  widths base_features * 2^i (no BN on the first), n from `resolution_steps` of the input.

  Attributes:
    latent_dim: dimension of z.
    base_features: width of the first conv; doubles per block.
    hidden: width of the dense layer before the heads.
    stochastic: Gaussian q(z|x) (mean, log-variance) or a deterministic code.
    num_classes: > 0 for a conditional encoder (labels as extra input channels).
    spike_and_slab: also the logits of the slab probabilities (see `GaussianHead`).
  """

  latent_dim: int
  base_features: int = 32
  hidden: int = 256
  stochastic: bool = True
  num_classes: int = 0
  spike_and_slab: bool = False
  traits = NetworkTraits(("encoder",), CODE, BATCH_NORM)

  @nn.compact
  def __call__(self, x: jax.Array, labels: jax.Array | None = None, *, train: bool) -> Encoded:
    """The code of images x [B, H, W, C], as `GaussianHead` returns; BN in batch mode if `train`."""
    name = type(self).__name__
    if x.ndim != 4:
      raise ValueError(f"{name} expects images [batch, H, W, C]; got shape {x.shape}.")
    _check_positive(self.base_features, "base_features", name)
    _check_positive(self.hidden, "hidden", name)
    h = concat_labels(x, labels, self.num_classes, name)
    for i in range(resolution_steps(x.shape[1], x.shape[2])):
      h = nn.Conv(
        self.base_features * 2**i,
        DCGAN_KERNEL_SIZE,
        strides=2,
        padding="SAME",
        use_bias=i == 0,  # a batch norm's mean subtraction cancels a bias
        kernel_init=DCGAN_KERNEL_INIT,
      )(h)
      h = nn.relu(_batch_norm(train)(h) if i > 0 else h)
    h = nn.Dense(self.hidden, use_bias=False)(h.reshape((h.shape[0], -1)))
    h = nn.relu(_batch_norm(train)(h))
    return GaussianHead(self.latent_dim, self.stochastic, self.spike_and_slab)(h)


class ConvDecoder(nn.Module):
  """DCGAN-style decoder (Radford et al. 2016; Larsen et al. 2016, Table 1): project z, then
  stride-2 transposed convs with BN and ReLU, and a last transposed conv to the image's logits.

  The layout of `jaxgen.nn.gan.DCGANGenerator` without its final tanh: the decoder returns logits
  (see the module docstring), and `logits_to_image` is that tanh up to the factor 1/2.

  Attributes:
    image_shape: (H, W, C) of the images.
    base_features: width of the last hidden layer; doubles towards the base.
    num_classes: > 0 for a conditional decoder (labels one-hot, concatenated to z).
  """

  image_shape: tuple[int, int, int]
  base_features: int = 32
  num_classes: int = 0
  traits = NetworkTraits(("decoder",), EXAMPLE, BATCH_NORM)

  @nn.compact
  def __call__(self, z: jax.Array, labels: jax.Array | None = None, *, train: bool) -> jax.Array:
    """Logits [B, H, W, C] of z [B, latent_dim]; `logits_to_image` maps them into [-1, 1]."""
    name = type(self).__name__
    height, width, channels = _check_image_shape(self.image_shape, name)
    _check_positive(self.base_features, "base_features", name)
    steps = resolution_steps(height, width)
    features = self.base_features * 2 ** (steps - 1)
    h = concat_labels(z, labels, self.num_classes, name)
    h = nn.Dense(
      (height >> steps) * (width >> steps) * features, use_bias=False, kernel_init=DCGAN_KERNEL_INIT
    )(h)
    h = nn.relu(_batch_norm(train)(h.reshape((-1, height >> steps, width >> steps, features))))
    for _ in range(steps - 1):
      features //= 2
      h = nn.relu(_batch_norm(train)(dcgan_upsampling(features, use_bias=False)(h)))
    return dcgan_upsampling(channels, use_bias=True)(h)
