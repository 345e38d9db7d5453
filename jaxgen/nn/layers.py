"""GAN building blocks: spectral norm, self-attention, minibatch features, pixel norm, equalised lr.

Every module is pure Flax linen. State that is not trained by gradients (the power-iteration vector
of spectral normalisation) lives in the `batch_stats` collection, next to batch-norm statistics, so
a train step that already threads `batch_stats` as mutable state carries it without changes.

References:
  Miyato, Kataoka, Koyama, Yoshida, "Spectral Normalization for Generative Adversarial Networks",
    ICLR 2018 (arXiv 1802.05957).
  Zhang, Goodfellow, Metaxas, Odena, "Self-Attention Generative Adversarial Networks", ICML 2019
    (arXiv 1805.08318).
  Salimans, Goodfellow, Zaremba, Cheung, Radford, Chen, "Improved Techniques for Training GANs",
    NeurIPS 2016 (arXiv 1606.03498).
  Karras, Aila, Laine, Lehtinen, "Progressive Growing of GANs for Improved Quality, Stability, and
    Variation", ICLR 2018 (arXiv 1710.10196).
  He, Zhang, Ren, Sun, "Delving Deep into Rectifiers", ICCV 2015 (arXiv 1502.01852).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

Array = jax.Array
Dtype = Any

# The collection that holds spectral normalisation's power-iteration vectors u and estimates sigma.
SPECTRAL_NORM_COLLECTION = "batch_stats"


def check_choice(name: str, value: Any, choices: Sequence[Any]) -> None:
  """Raises a ValueError naming `value` and the allowed `choices` unless `value` is one of them."""
  if value not in choices:
    raise ValueError(f"Unknown {name} {value!r}; choose one of {tuple(choices)}.")


def check_positive_int(name: str, value: Any) -> None:
  """Raises a ValueError unless `value` is an int >= 1."""
  if isinstance(value, bool) or not isinstance(value, int) or value < 1:
    raise ValueError(f"{name} must be an integer >= 1; got {value!r}.")


def spectral_normalized(
  layer: nn.Module, *, update_stats: bool, enabled: bool = True, n_steps: int = 1
) -> Callable[..., Array]:
  """Returns `layer`, or `layer` applied with its weight divided by its largest singular value.

  Uses `flax.linen.SpectralNorm` (Miyato et al. 2018, Algorithm 1). With the weight as a matrix W
  of shape [fan_in, fan_out] (conv kernels flattened to [kh * kw * c_in, c_out]), `n_steps` power
  iterations v <- W u / ||W u||, u <- W^T v / ||W^T v|| estimate sigma(W) = v^T W u, and the layer
  runs with W / sigma(W). The vector u persists in `SPECTRAL_NORM_COLLECTION`, so one iteration per
  training step suffices, as in the paper: pass `mutable=["batch_stats"]` and `update_stats=True`
  while training the discriminator, `update_stats=False` otherwise.

  Args:
    layer: an unbound `nn.Dense` / `nn.Conv` (any layer whose >= 2-D params are weights).
    update_stats: whether to store the new u and sigma.
    enabled: False returns `layer` unchanged, so a model can switch spectral norm by a flag.
    n_steps: power iterations per call (>= 1).

  Returns:
    A callable taking the layer's inputs.
  """
  check_positive_int("n_steps", n_steps)
  if not enabled:
    return layer
  wrapped = nn.SpectralNorm(
    layer,
    n_steps=n_steps,
    collection_name=SPECTRAL_NORM_COLLECTION,
    name=f"{layer.name}_spectral_norm" if layer.name else None,
  )
  return functools.partial(wrapped, update_stats=update_stats)


class SelfAttention(nn.Module):
  """SAGAN self-attention block, y = gamma * o + x with gamma initialised at 0.

  Zhang et al. (2019), Sec. 3, eq. 1-3: with 1x1 convolutions f, g, h (C -> C / reduction) and
  v (C / reduction -> C) over the N = H * W positions,
    s_ij = f(x_i)^T g(x_j),  beta_ji = exp(s_ij) / sum_i exp(s_ij),
    o_j = v(sum_i beta_ji h(x_i)),  y_j = gamma * o_j + x_j.
  Since gamma starts at 0 the block starts as the identity and learns how much non-local evidence to
  mix in. The attention map beta [batch, N, N] (row j: where position j looks; rows sum to 1) is
  sown into the `intermediates` collection as `attention`.

  Attributes:
    reduction: channel reduction of f, g, h (the paper's k; C must be divisible by it).
    spectral_norm: apply spectral normalisation to the four 1x1 convs (SAGAN does, in G and D).
    dtype: computation dtype; the softmax is computed in at least float32.
  """

  reduction: int = 8
  spectral_norm: bool = False
  dtype: Dtype | None = None

  @nn.compact
  def __call__(self, x: Array, train: bool = False) -> Array:
    """x: [batch, height, width, channels]; `train` updates spectral-norm statistics."""
    check_positive_int("reduction", self.reduction)
    if x.ndim != 4:
      raise ValueError(f"SelfAttention expects [batch, height, width, channels]; got {x.shape}.")
    batch, height, width, channels = x.shape
    if channels % self.reduction:
      raise ValueError(f"channels ({channels}) must be divisible by reduction ({self.reduction}).")
    inner = channels // self.reduction

    def conv1x1(features: int, name: str) -> Callable[[Array], Array]:
      layer = nn.Conv(features, (1, 1), use_bias=False, dtype=self.dtype, name=name)
      return spectral_normalized(layer, update_stats=train, enabled=self.spectral_norm)

    positions = height * width
    query = conv1x1(inner, "f")(x).reshape(batch, positions, inner)
    key = conv1x1(inner, "g")(x).reshape(batch, positions, inner)
    value = conv1x1(inner, "h")(x).reshape(batch, positions, inner)
    # logits[b, j, i] = s_ij = f(x_i)^T g(x_j); softmax over i gives beta_ji (eq. 1).
    # At least float32 for the softmax (bf16 logits lose the small differences it exponentiates);
    # float64 stays float64, so gradient checks see the function they differentiate.
    logits = jnp.einsum("bjc,bic->bji", key, query)
    logits = logits.astype(jnp.promote_types(logits.dtype, jnp.float32))
    attention = jax.nn.softmax(logits, axis=-1)
    self.sow("intermediates", "attention", attention)
    attended = jnp.einsum("bji,bic->bjc", attention.astype(value.dtype), value)
    out = conv1x1(channels, "v")(attended.reshape(batch, height, width, inner))
    gamma = self.param("gamma", nn.initializers.zeros_init(), ())
    return (gamma * out + x).astype(out.dtype)


class MinibatchDiscrimination(nn.Module):
  """Minibatch discrimination: features that tell a sample how close it is to the rest of the batch.

  Salimans et al. (2016), Sec. 3.2: with f(x_i) in R^A and a learnt tensor T in R^{A x B x C},
    M_i = f(x_i) T in R^{B x C},
    c_b(x_i, x_j) = exp(-||M_{i,b} - M_{j,b}||_L1),
    o(x_i)_b = sum_{j != i} c_b(x_i, x_j),
  and the layer returns [f(x_i), o(x_i)] in R^{A + B}. The self term j = i (always exp(0) = 1) is
  left out, as in the authors' code (openai/improved-gan, `MinibatchLayer`); it is a constant.

  Attributes:
    num_kernels: B, the number of closeness features added.
    kernel_dim: C, the dimension of each row of M_i.
    dtype: computation dtype.
  """

  num_kernels: int = 100
  kernel_dim: int = 5
  dtype: Dtype | None = None

  @nn.compact
  def __call__(self, features: Array) -> Array:
    """features: [batch, A] -> [batch, A + num_kernels]."""
    check_positive_int("num_kernels", self.num_kernels)
    check_positive_int("kernel_dim", self.kernel_dim)
    if features.ndim != 2:
      raise ValueError(f"MinibatchDiscrimination expects [batch, features]; got {features.shape}.")
    # improved-gan initialises T ~ N(0, 0.05^2).
    projection = nn.Dense(
      self.num_kernels * self.kernel_dim,
      use_bias=False,
      kernel_init=nn.initializers.normal(0.05),
      dtype=self.dtype,
      name="T",
    )
    rows = projection(features).reshape(-1, self.num_kernels, self.kernel_dim)
    l1 = jnp.sum(jnp.abs(rows[:, None] - rows[None, :]), axis=-1)  # [i, j, b]
    closeness = jnp.sum(jnp.exp(-l1), axis=1) - 1.0  # drop the j = i term, exp(0) = 1
    return jnp.concatenate([features, closeness.astype(features.dtype)], axis=-1)


def minibatch_stddev(x: Array, group_size: int = 4, epsilon: float = 1e-8) -> Array:
  """Appends the minibatch standard deviation as one extra feature (channel) to `x`.

  Karras et al. (2018), Sec. 3: split the batch into groups of `group_size` (sample i belongs to
  group i mod (batch / group_size), as in the authors' code), compute the standard deviation of
  every feature at every position over the group, average it over features and positions, and
  append that scalar as a constant extra channel to every sample of the group. As in the reference
  implementation, a batch smaller than `group_size` forms one group of the whole batch.

  Args:
    x: [batch, ..., channels].
    group_size: samples per group (>= 2 for a non-trivial statistic); the batch (or, when smaller
      than `group_size`, the whole batch) must be divisible by it.
    epsilon: inside the square root, for a finite gradient at zero variance.

  Returns:
    [batch, ..., channels + 1].
  """
  check_positive_int("group_size", group_size)
  batch = x.shape[0]
  group = min(group_size, batch)
  if batch % group:
    raise ValueError(
      f"minibatch_stddev needs the batch ({batch}) divisible by group_size ({group_size})."
    )
  # At least float32 for the statistics; float64 stays float64 (gradient checks).
  grouped = x.astype(jnp.promote_types(x.dtype, jnp.float32))
  grouped = grouped.reshape(group, batch // group, *x.shape[1:])
  # std over the group of every feature (biased, 1/G, as in Karras et al.'s code).
  variance = jnp.mean(jnp.square(grouped - jnp.mean(grouped, axis=0)), axis=0)
  per_group = jnp.mean(jnp.sqrt(variance + epsilon), axis=tuple(range(1, x.ndim)))
  stat = jnp.tile(per_group, group)  # sample i -> group i mod (batch / group)
  stat_channel = jnp.broadcast_to(stat.reshape(batch, *([1] * (x.ndim - 1))), (*x.shape[:-1], 1))
  return jnp.concatenate([x, stat_channel.astype(x.dtype)], axis=-1)


class MinibatchStdDev(nn.Module):
  """Module form of `minibatch_stddev` (Karras et al. 2018, Sec. 3); it has no parameters."""

  group_size: int = 4
  epsilon: float = 1e-8

  @nn.compact
  def __call__(self, x: Array) -> Array:
    """x [B, ..., C] with the group's mean stddev appended as a channel: [B, ..., C + 1]."""
    return minibatch_stddev(x, self.group_size, self.epsilon)


def pixel_norm(x: Array, epsilon: float = 1e-8) -> Array:
  """b = a / sqrt(mean_j a_j^2 + epsilon) over the channel axis (Karras et al. 2018, Sec. 4.2)."""
  wide = x.astype(jnp.promote_types(x.dtype, jnp.float32))  # float64 stays float64
  scale = jax.lax.rsqrt(jnp.mean(jnp.square(wide), axis=-1, keepdims=True) + epsilon)
  return (wide * scale).astype(x.dtype)


class PixelNorm(nn.Module):
  """Module form of `pixel_norm` (Karras et al. 2018, Sec. 4.2); it has no parameters."""

  epsilon: float = 1e-8

  @nn.compact
  def __call__(self, x: Array) -> Array:
    """x / sqrt(mean_j x_j^2 + epsilon) over the channel axis, shaped like x."""
    return pixel_norm(x, self.epsilon)


def he_constant(fan_in: int, gain: float = math.sqrt(2.0)) -> float:
  """c = gain / sqrt(fan_in): He et al. (2015), eq. 10 (std sqrt(2 / n_l) for gain sqrt(2))."""
  check_positive_int("fan_in", fan_in)
  return gain / math.sqrt(fan_in)


class _EqualizedLearningRate(nn.Module):
  """Shared core of the equalised-lr layers: w ~ N(0, 1), output scaled by c = he_constant(fan_in).

  Karras et al. (2018), Sec. 4.1: w_hat_i = w_i / c with c the per-layer He constant, applied at run
  time instead of at initialisation, so that adaptive optimisers (Adam, RMSProp) see every weight at
  the same scale and learn every layer at the same speed. Because a linear layer is linear in its
  weights, layer(x; c * w) = c * layer(x; w), which is how it is computed.
  """

  features: int
  gain: float = math.sqrt(2.0)
  use_bias: bool = True
  dtype: Dtype | None = None

  def _scaled(self, linear_out: Array, fan_in: int) -> Array:
    out = linear_out * jnp.asarray(he_constant(fan_in, self.gain), linear_out.dtype)
    if not self.use_bias:
      return out
    bias = self.param("bias", nn.initializers.zeros_init(), (self.features,))
    return out + bias.astype(out.dtype)


class EqualizedDense(_EqualizedLearningRate):
  """Fully connected layer with the equalised learning rate (Karras et al. 2018, Sec. 4.1)."""

  @nn.compact
  def __call__(self, x: Array) -> Array:
    """c W x + b, [..., features] from x [..., D]; c = `he_constant(D)`, W ~ N(0, 1)."""
    check_positive_int("features", self.features)
    linear = nn.Dense(
      self.features,
      use_bias=False,
      kernel_init=nn.initializers.normal(1.0),
      dtype=self.dtype,
      name="linear",
    )
    return self._scaled(linear(x), fan_in=x.shape[-1])


class EqualizedConv(_EqualizedLearningRate):
  """Convolution with the equalised learning rate (Karras et al. 2018, Sec. 4.1); NHWC, 'SAME'."""

  kernel_size: Sequence[int] = (3, 3)
  strides: Sequence[int] = (1, 1)

  @nn.compact
  def __call__(self, x: Array) -> Array:
    """c conv(x, W) + b, [B, H', W', features]; c = `he_constant(kh kw C)`, W ~ N(0, 1)."""
    check_positive_int("features", self.features)
    conv = nn.Conv(
      self.features,
      tuple(self.kernel_size),
      strides=tuple(self.strides),
      padding="SAME",
      use_bias=False,
      kernel_init=nn.initializers.normal(1.0),
      dtype=self.dtype,
      name="conv",
    )
    fan_in = math.prod(self.kernel_size) * x.shape[-1]
    return self._scaled(conv(x), fan_in=fan_in)
