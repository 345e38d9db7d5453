"""GAN players: MLP and DCGAN generators and discriminators, unconditional or conditional.

Uniform call signatures, which the training loop relies on:

  G(z, labels=None, *, train) -> samples        z: [B, z_dim]
  D(x, labels=None, *, train) -> logits [B]     x: [B, dim] (MLP) or [B, H, W, C] (DCGAN)

Batch-norm statistics live in the `batch_stats` collection (apply with `mutable=["batch_stats"]`
when `train=True`). Every discriminator sows the features of its last layer before any norm as
`intermediates/features` (apply with `mutable=["intermediates"]`): the Dis_l features of VAE-GAN.

Conditional variants (CGAN, Mirza & Osindero 2014, sec. 3.2) have `num_classes > 0`: the labels,
one-hot, are concatenated to z in G and to the input of D (as extra constant channels for images).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
from flax import linen as nn

from jaxgen.nn import choices
from jaxgen.nn.choices import LEAKY_RELU_SLOPE
from jaxgen.nn.conv import ConvTranspose
from jaxgen.nn.traits import BATCH_NORM, EXAMPLE, LOGIT, NetworkTraits

# DCGAN initialisation: weights from N(0, 0.02^2) (Radford et al. 2016, sec. 4).
DCGAN_KERNEL_INIT = nn.initializers.normal(stddev=0.02)
# Batch-norm running-average decay and epsilon of the DCGAN reference code (TensorFlow DCGAN:
# decay 0.9, epsilon 1e-5); flax's defaults are 0.99 and 1e-5.
BATCH_NORM_MOMENTUM = 0.9
BATCH_NORM_EPSILON = 1e-5
# The smallest feature map a DCGAN projects z to or reduces an image to (Radford et al. 2016,
# Fig. 1: 4 x 4 for 64 x 64 images). Each resolution step is a stride-2 (transposed) conv.
MIN_BASE_SIZE = 4
# Kernel of every (transposed) conv: 4 x 4 with stride 2 and 'SAME' padding doubles or halves the
# size exactly (PyTorch DCGAN: kernel 4, stride 2, padding 1).
DCGAN_KERNEL_SIZE = (4, 4)
DISCRIMINATOR_NORMS = ("batch", "layer", "none")


def _one_hot_labels(
  labels: jax.Array | None, num_classes: int, batch_size: int, module: str
) -> jax.Array | None:
  """One-hot labels [B, num_classes], or None for an unconditional model; checks the pairing."""
  if not isinstance(num_classes, int) or num_classes < 0:
    raise ValueError(f"{module}: num_classes must be an int >= 0; got {num_classes!r}.")
  if num_classes == 0:
    if labels is not None:
      raise ValueError(
        f"{module} is unconditional (num_classes=0) but was given labels; set num_classes > 0 "
        "for a conditional model."
      )
    return None
  if labels is None:
    raise ValueError(f"{module} is conditional (num_classes={num_classes}) and needs labels.")
  labels = jnp.asarray(labels)
  if labels.shape != (batch_size,) or not jnp.issubdtype(labels.dtype, jnp.integer):
    raise ValueError(
      f"{module}: labels must be integers of shape ({batch_size},); got {labels.dtype} "
      f"{labels.shape}."
    )
  # Out-of-range labels cannot be checked under jit: jax.nn.one_hot maps them to all-zeros.
  return jax.nn.one_hot(labels, num_classes)


def concat_labels(
  inputs: jax.Array, labels: jax.Array | None, num_classes: int, module: str
) -> jax.Array:
  """Appends one-hot labels as features (last axis), broadcast over any spatial axes."""
  one_hot = _one_hot_labels(labels, num_classes, inputs.shape[0], module)
  if one_hot is None:
    return inputs
  spatial = inputs.shape[1:-1]
  one_hot = jnp.broadcast_to(
    one_hot.reshape((-1,) + (1,) * len(spatial) + (num_classes,)),
    (*inputs.shape[:-1], num_classes),
  )
  return jnp.concatenate([inputs, one_hot.astype(inputs.dtype)], axis=-1)


def dcgan_upsampling(
  features: int,
  use_bias: bool,
  dtype: Any = None,
  conv_transpose: Callable[..., nn.Module] = ConvTranspose,
  kernel_init: Callable = DCGAN_KERNEL_INIT,
) -> nn.Module:
  """A DCGAN generator's upsampling layer: a 4 x 4 stride-2 transposed conv with 'SAME' padding
  (by default with the DCGAN initialisation), which doubles the height and width."""
  return conv_transpose(
    features,
    DCGAN_KERNEL_SIZE,
    strides=2,
    padding="SAME",
    use_bias=use_bias,
    kernel_init=kernel_init,
    dtype=dtype,
  )


def _check_rank(inputs: jax.Array, rank: int, expected: str, module: str) -> None:
  if inputs.ndim != rank:
    raise ValueError(f"{module} expects inputs of shape {expected}; got shape {inputs.shape}.")


def _positive_int(value: Any, name: str, module: str) -> None:
  if not isinstance(value, int) or value < 1:
    raise ValueError(f"{module}: {name} must be an int >= 1; got {value!r}.")


def _batch_norm(train: bool, dtype: Any) -> nn.BatchNorm:
  return nn.BatchNorm(
    use_running_average=not train,
    momentum=BATCH_NORM_MOMENTUM,
    epsilon=BATCH_NORM_EPSILON,
    dtype=dtype,
  )


def resolution_steps(height: int, width: int, num_steps: int | None = None) -> int:
  """Stride-2 steps between an H x W image and the DCGAN base feature map.

  With `num_steps=None`: the largest n such that H / 2^n and W / 2^n are integers >= MIN_BASE_SIZE
  (8 -> 1, 16 -> 2, 28 -> 2, 32 -> 3, 64 -> 4). An explicit n must divide the image evenly.
  """
  if num_steps is None:
    num_steps = 0
    while all(side % 2 ** (num_steps + 1) == 0 for side in (height, width)) and (
      min(height, width) // 2 ** (num_steps + 1) >= MIN_BASE_SIZE
    ):
      num_steps += 1
    if num_steps == 0:
      raise ValueError(
        f"cannot build a DCGAN for images of {height} x {width}: height and width must be "
        f"2^n * base with n >= 1 and base >= {MIN_BASE_SIZE} (e.g. 8, 16, 28, 32, 64), or pass "
        "an explicit number of resolution steps."
      )
    return num_steps
  if not isinstance(num_steps, int) or num_steps < 1:
    raise ValueError(f"the number of resolution steps must be an int >= 1; got {num_steps!r}.")
  if height % 2**num_steps or width % 2**num_steps:
    raise ValueError(
      f"cannot build a DCGAN with {num_steps} stride-2 steps for images of {height} x {width}: "
      f"both sides must be divisible by {2**num_steps}."
    )
  return num_steps


class Maxout(nn.Module):
  """Maxout unit: the max over `pieces` affine maps (Goodfellow et al. 2013, eq. 1)."""

  features: int
  pieces: int
  dtype: Any = None
  kernel_init: Callable = nn.initializers.lecun_normal()  # Flax's Dense default

  @nn.compact
  def __call__(self, inputs: jax.Array) -> jax.Array:
    """max_j (W_j x + b_j) over the pieces: [..., features] from inputs [..., D]."""
    h = nn.Dense(self.features * self.pieces, kernel_init=self.kernel_init, dtype=self.dtype)(
      inputs
    )
    return jnp.max(h.reshape((*h.shape[:-1], self.features, self.pieces)), axis=-1)


class MLPGenerator(nn.Module):
  """MLP generator for low-dimensional data: [Dense -> (BN) -> activation] per hidden layer, linear
  out.

  The defaults are PacGAN's 2-D generator (Lin et al. 2018, sec. 5.1: 4 x 400 ReLU with batch norm).
  The output is unbounded (2-D mixtures reach +-4). Metz et al. 2016's demo: hidden (128, 128),
  batch_norm False, activation 'tanh', kernel_init 'orthogonal', init_scale 1.4.

  Attributes:
    output_dim: dimension of a sample.
    hidden: widths of the hidden layers.
    batch_norm: batch norm after each hidden Dense (the Dense then has no bias).
    num_classes: > 0 for a conditional generator (labels one-hot, concatenated to z).
    activation: of the hidden layers, a name of `jaxgen.nn.choices.ACTIVATIONS`.
    leaky_slope: leaky_relu's slope (only with activation 'leaky_relu').
    kernel_init: every Dense's weight initialiser, a name of `jaxgen.nn.choices.INITIALISERS`.
    init_scale: the std ('normal') or gain ('orthogonal'); None: its default.
    dtype: computation dtype (params stay float32).
  """

  output_dim: int = 2
  hidden: Sequence[int] = (400,) * 4
  batch_norm: bool = True
  num_classes: int = 0
  activation: str = "relu"
  leaky_slope: float = LEAKY_RELU_SLOPE
  kernel_init: str = "lecun_normal"
  init_scale: float | None = None
  dtype: Any = None

  @property
  def traits(self) -> NetworkTraits:
    """A generator of examples; it mixes samples through batch norm when `batch_norm` is on."""
    mixing = (BATCH_NORM, "set {block}.batch_norm = False") if self.batch_norm else ("", "")
    return NetworkTraits(("generator",), EXAMPLE, *mixing)

  @nn.compact
  def __call__(self, z: jax.Array, labels: jax.Array | None = None, *, train: bool) -> jax.Array:
    """Samples [B, output_dim], unbounded, from z [B, z_dim]; BN in batch mode if `train`."""
    name = type(self).__name__
    _check_rank(z, 2, "[batch, z_dim]", name)
    _positive_int(self.output_dim, "output_dim", name)
    act = choices.activation(self.activation, self.leaky_slope, name)
    init = choices.kernel_init(self.kernel_init, self.init_scale, name)
    h = concat_labels(z, labels, self.num_classes, name)
    for width in self.hidden:
      _positive_int(width, "every hidden width", name)
      h = nn.Dense(width, use_bias=not self.batch_norm, kernel_init=init, dtype=self.dtype)(h)
      if self.batch_norm:
        h = _batch_norm(train, self.dtype)(h)
      h = act(h)
    return nn.Dense(self.output_dim, kernel_init=init, dtype=self.dtype)(h)


class MLPDiscriminator(nn.Module):
  """MLP discriminator: maxout (or LeakyReLU) hidden layers, one logit per sample.

  The defaults are PacGAN's 2-D discriminator (Lin et al. 2018, sec. 5.1: maxout, 3 x 200, 5
  pieces). The last hidden layer is sown as `intermediates/features`.

  Attributes:
    hidden: widths of the hidden layers.
    maxout_pieces: pieces per maxout unit (>= 2), or 0 for Dense + `activation`.
    num_classes: > 0 for a conditional discriminator (labels one-hot, concatenated to x).
    activation: of the hidden Dense layers when maxout_pieces = 0 (`jaxgen.nn.choices`).
    leaky_slope: leaky_relu's slope (only with activation 'leaky_relu').
    kernel_init: every Dense's weight initialiser (`jaxgen.nn.choices.INITIALISERS`).
    init_scale: the std ('normal') or gain ('orthogonal'); None: its default.
    input_scale: a constant the input is multiplied by before the first layer (Metz et al. 2016,
      app. A: 0.25 "to roughly scale [the radius-2 ring] to (-1, 1)"); 1: none.
    dtype: computation dtype (params stay float32).
  """

  hidden: Sequence[int] = (200,) * 3
  maxout_pieces: int = 5
  num_classes: int = 0
  activation: str = "leaky_relu"
  leaky_slope: float = LEAKY_RELU_SLOPE
  kernel_init: str = "lecun_normal"
  init_scale: float | None = None
  input_scale: float = 1.0
  dtype: Any = None
  traits = NetworkTraits(("discriminator",), LOGIT)

  @nn.compact
  def __call__(self, x: jax.Array, labels: jax.Array | None = None, *, train: bool) -> jax.Array:
    """Logits [B] of samples x [B, dim] (times `input_scale`, one-hot labels appended)."""
    del train  # No batch-dependent layers; the argument keeps the players' signatures uniform.
    name = type(self).__name__
    _check_rank(x, 2, "[batch, dim]", name)
    if not isinstance(self.maxout_pieces, int) or self.maxout_pieces < 0 or self.maxout_pieces == 1:
      raise ValueError(
        f"{name}: maxout_pieces must be 0 (LeakyReLU) or an int >= 2; got {self.maxout_pieces!r}."
      )
    if self.maxout_pieces and (self.activation, self.leaky_slope) != (
      "leaky_relu",
      LEAKY_RELU_SLOPE,
    ):
      raise ValueError(
        f"{name}: maxout units are their own activation, so activation={self.activation!r} "
        f"(leaky_slope={self.leaky_slope}) would be ignored; set maxout_pieces=0 to use it."
      )
    act = choices.activation(self.activation, self.leaky_slope, name)
    init = choices.kernel_init(self.kernel_init, self.init_scale, name)
    if (
      isinstance(self.input_scale, bool)
      or not isinstance(self.input_scale, (int, float))
      or not (self.input_scale > 0)
    ):
      raise ValueError(f"{name}: input_scale must be a number > 0; got {self.input_scale!r}.")
    if self.input_scale != 1:  # skipped at 1 so that default runs keep their bits
      x = x * jnp.asarray(self.input_scale, x.dtype)
    h = concat_labels(x, labels, self.num_classes, name)
    for width in self.hidden:
      _positive_int(width, "every hidden width", name)
      if self.maxout_pieces:
        h = Maxout(width, self.maxout_pieces, dtype=self.dtype, kernel_init=init)(h)
      else:
        h = act(nn.Dense(width, kernel_init=init, dtype=self.dtype)(h))
    self.sow("intermediates", "features", h)
    return nn.Dense(1, kernel_init=init, dtype=self.dtype)(h)[:, 0]


class DCGANGenerator(nn.Module):
  """DCGAN generator (Radford et al. 2016): project z, then stride-2 transposed convs, tanh.

  Dense -> [base_h, base_w, base_features * 2^(n-1)] -> BN -> ReLU, then n - 1 blocks of
  ConvTranspose(4x4, stride 2) -> BN -> ReLU halving the width, and a last ConvTranspose to the
  image channels -> tanh. n comes from `resolution_steps` (28 x 28: 7x7x128 -> 14x14x64 -> 28x28xC).
  The transposed convs are `jaxgen.nn.conv.ConvTranspose` (fast kernel gradient on CPU).

  Attributes:
    image_shape: (H, W, C) of the samples.
    base_features: width of the last hidden layer; doubles towards the base.
    num_classes: > 0 for a conditional generator (labels one-hot, concatenated to z).
    num_upsamplings: None to derive n from image_shape, or an explicit n (e.g. 2 for 8 x 8 images
      from a 2 x 2 base).
    activation: of the hidden layers (`jaxgen.nn.choices.ACTIVATIONS`; the output is tanh).
    leaky_slope: leaky_relu's slope (only with activation 'leaky_relu').
    kernel_init: every layer's weight initialiser (`jaxgen.nn.choices.INITIALISERS`).
    init_scale: the std ('normal', default 0.02) or gain ('orthogonal'); None: its default.
    dtype: computation dtype (params stay float32).
    conv_transpose: the transposed-conv layer class; `flax.linen.ConvTranspose` gives the same
      function and parameters with flax's slow kernel gradient (for benchmarks).
  """

  image_shape: tuple[int, int, int]
  base_features: int = 64
  num_classes: int = 0
  num_upsamplings: int | None = None
  activation: str = "relu"
  leaky_slope: float = LEAKY_RELU_SLOPE
  kernel_init: str = "normal"  # N(0, 0.02^2), Radford et al. 2016, sec. 4
  init_scale: float | None = None
  dtype: Any = None
  conv_transpose: Callable[..., nn.Module] = ConvTranspose
  traits = NetworkTraits(("generator",), EXAMPLE, BATCH_NORM)

  @nn.compact
  def __call__(self, z: jax.Array, labels: jax.Array | None = None, *, train: bool) -> jax.Array:
    """Images [B, H, W, C] in [-1, 1] from z [B, z_dim]; BN in batch mode if `train`."""
    name = type(self).__name__
    _check_rank(z, 2, "[batch, z_dim]", name)
    _positive_int(self.base_features, "base_features", name)
    if len(self.image_shape) != 3 or not all(
      isinstance(s, int) and s >= 1 for s in self.image_shape
    ):
      raise ValueError(
        f"{name}: image_shape must be (H, W, C) ints >= 1; got {self.image_shape!r}."
      )
    height, width, channels = self.image_shape
    steps = resolution_steps(height, width, self.num_upsamplings)
    features = self.base_features * 2 ** (steps - 1)
    act = choices.activation(self.activation, self.leaky_slope, name)
    init = choices.kernel_init(self.kernel_init, self.init_scale, name)

    h = concat_labels(z, labels, self.num_classes, name)
    h = nn.Dense(
      (height >> steps) * (width >> steps) * features,
      use_bias=False,
      kernel_init=init,
      dtype=self.dtype,
    )(h)
    h = h.reshape((-1, height >> steps, width >> steps, features))
    h = act(_batch_norm(train, self.dtype)(h))
    for _ in range(steps - 1):
      features //= 2
      h = dcgan_upsampling(features, False, self.dtype, self.conv_transpose, init)(h)
      h = act(_batch_norm(train, self.dtype)(h))
    return jnp.tanh(dcgan_upsampling(channels, True, self.dtype, self.conv_transpose, init)(h))


class DCGANDiscriminator(nn.Module):
  """DCGAN discriminator (Radford et al. 2016): stride-2 convs with LeakyReLU(0.2), one logit.

  n blocks of Conv(4x4, stride 2) -> norm -> LeakyReLU with widths base_features * 2^i, no norm on
  the first block (Radford et al. 2016, sec. 3), then a Dense head to one logit. n comes from
  `resolution_steps` of the input (28 x 28: 14x14x64 -> 7x7x128 -> logit). The output of the last
  conv, before its norm, is sown as `intermediates/features` (VAE-GAN's Dis_l, Larsen et al. 2016;
  the reference code andersbll/autoencoding_beyond_pixels takes its 4th conv before batch norm).

  Attributes:
    base_features: width of the first conv; doubles per block.
    norm: 'batch'; 'layer' (per sample over H, W, C, as the WGAN-GP reference critic) or 'none' -
      use one of these two with a gradient penalty, which batch norm invalidates (Gulrajani et al.
      2017, sec. 4).
    num_classes: > 0 for a conditional discriminator (labels one-hot, as extra input channels).
    num_downsamplings: None to derive n from the input shape, or an explicit n.
    activation: of every block (`jaxgen.nn.choices.ACTIVATIONS`).
    leaky_slope: leaky_relu's slope (only with activation 'leaky_relu').
    kernel_init: every layer's weight initialiser (`jaxgen.nn.choices.INITIALISERS`).
    init_scale: the std ('normal', default 0.02) or gain ('orthogonal'); None: its default.
    dtype: computation dtype (params stay float32).
  """

  base_features: int = 64
  norm: str = "batch"
  num_classes: int = 0
  num_downsamplings: int | None = None
  activation: str = "leaky_relu"
  leaky_slope: float = LEAKY_RELU_SLOPE
  kernel_init: str = "normal"  # N(0, 0.02^2), Radford et al. 2016, sec. 4
  init_scale: float | None = None
  dtype: Any = None

  @property
  def traits(self) -> NetworkTraits:
    """A discriminator with one logit per sample; it mixes samples when `norm` is 'batch'."""
    batch = (BATCH_NORM, "set {block}.norm to 'layer' or 'none'") if self.norm == "batch" else ()
    return NetworkTraits(("discriminator",), LOGIT, *batch)

  @nn.compact
  def __call__(self, x: jax.Array, labels: jax.Array | None = None, *, train: bool) -> jax.Array:
    """Logits [B] of images x [B, H, W, C]; batch norm in batch mode if `train`."""
    name = type(self).__name__
    _check_rank(x, 4, "[batch, H, W, C]", name)
    _positive_int(self.base_features, "base_features", name)
    if self.norm not in DISCRIMINATOR_NORMS:
      raise ValueError(f"{name}: unknown norm {self.norm!r}; choose one of {DISCRIMINATOR_NORMS}.")
    steps = resolution_steps(x.shape[1], x.shape[2], self.num_downsamplings)
    act = choices.activation(self.activation, self.leaky_slope, name)
    init = choices.kernel_init(self.kernel_init, self.init_scale, name)

    h = concat_labels(x, labels, self.num_classes, name)
    for i in range(steps):
      normalised = i > 0 and self.norm != "none"
      h = nn.Conv(
        self.base_features * 2**i,
        DCGAN_KERNEL_SIZE,
        strides=2,
        padding="SAME",
        # A batch norm's mean subtraction cancels a per-channel bias.
        use_bias=not (normalised and self.norm == "batch"),
        kernel_init=init,
        dtype=self.dtype,
      )(h)
      if i == steps - 1:
        self.sow("intermediates", "features", h)
      if normalised:
        h = self._norm(train)(h)
      h = act(h)
    h = h.reshape((h.shape[0], -1))
    return nn.Dense(1, kernel_init=init, dtype=self.dtype)(h)[:, 0]

  def _norm(self, train: bool) -> nn.Module:
    if self.norm == "batch":
      return _batch_norm(train, self.dtype)
    # Gulrajani et al.'s critic (tflib layernorm) normalises each sample over channels and space.
    return nn.LayerNorm(
      epsilon=BATCH_NORM_EPSILON, reduction_axes=(-3, -2, -1), feature_axes=-1, dtype=self.dtype
    )
