"""SAGAN players (Zhang et al. 2019): DCGAN-shaped networks with self-attention and spectral norm.

Uniform call signatures, as the other GAN players (`jaxgen.nn.gan`):

  G(z, labels=None, *, train) -> samples [B, H, W, C]   z: [B, z_dim]
  D(x, labels=None, *, train) -> logits [B]             x: [B, H, W, C]

What SAGAN adds to the DCGAN of `jaxgen.nn.gan`:
- a `SelfAttention` block (Zhang et al. 2019, sec. 3, eq. 1-3) after the hidden layer whose feature
  map has height `attention_resolution`, in both G and D (sec. 5 puts it at the middle-to-high
  resolutions; `valid_attention_resolutions` lists the choices); its map is sown as
  `intermediates/.../attention`;
- spectral norm on every conv / dense layer of BOTH networks, the attention block's 1x1 convs
  included (Zhang et al. 2019, sec. 4.1; Miyato et al. 2018, Algorithm 1). The power-iteration
  vectors u and estimates sigma live in `batch_stats` (`jaxgen.nn.layers.SPECTRAL_NORM_COLLECTION`),
  which the training loop already carries as model state and makes mutable in training mode
  (`jaxgen.algorithms.base.apply_module`); `train=True` advances them one step per call;
- G: batch norm, conditional batch norm when `num_classes > 0` (Zhang et al. 2019, sec. 5;
  de Vries et al. 2017, eq. 2-3; Miyato & Koyama 2018, sec. 3). D: no batch norm (spectral norm is
  its Lipschitz control, Miyato et al. 2018, sec. 4), conditioning by projection (Miyato & Koyama
  2018, eq. 3), as SAGAN's D (Zhang et al. 2019, sec. 5).

References:
  Zhang, Goodfellow, Metaxas, Odena, "Self-Attention Generative Adversarial Networks", ICML 2019.
  Miyato, Kataoka, Koyama, Yoshida, "Spectral Normalization for GANs", ICLR 2018.
  Miyato & Koyama, "cGANs with Projection Discriminator", ICLR 2018.
  de Vries, Strub, Mary, Larochelle, Pietquin, Courville, "Modulating early visual processing by
    language", NeurIPS 2017.
  Radford, Metz, Chintala, "Unsupervised Representation Learning with DCGANs", ICLR 2016.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from flax import linen as nn

from jaxgen.nn import gan as gan_nets
from jaxgen.nn.conv import ConvTranspose
from jaxgen.nn.layers import SelfAttention, check_positive_int, spectral_normalized
from jaxgen.nn.traits import BATCH_NORM, EXAMPLE, LOGIT, NetworkTraits

# Glorot-uniform weights, as SAGAN re-implementations initialise their spectrally normalised layers
# (e.g. voletiv/self-attention-GAN-pytorch: xavier_uniform_); with W / sigma(W) the scale only sets
# Adam's step relative to the weights.
SAGAN_KERNEL_INIT = nn.initializers.glorot_uniform()
# Channel reduction k of f, g, h in the attention block (Zhang et al. 2019, sec. 3: C / 8).
ATTENTION_REDUCTION = 8
# Default attention resolution: the 8 x 8 hidden maps of a 16 x 16 image (Zhang et al. 2019, sec.
# 5.1 finds middle-to-high level feature maps best).
DEFAULT_ATTENTION_RESOLUTION = 8


def valid_attention_resolutions(height: int, width: int, num_steps: int | None = None) -> tuple:
  """Heights of the hidden feature maps of a SAGAN G / D for H x W images, largest first.

  G's hidden maps are H / 2^n, ..., H / 2 (the base, then every upsampling block but the last,
  which makes the image); D's are H / 2, ..., H / 2^n (every downsampling conv). Both give the same
  set: 16 x 16 -> (8, 4), 32 x 32 -> (16, 8, 4).
  """
  steps = gan_nets.resolution_steps(height, width, num_steps)
  return tuple(height >> i for i in range(1, steps + 1))


def _check_attention_resolution(resolution: Any, valid: tuple, module: str) -> None:
  if isinstance(resolution, bool) or resolution not in valid:
    raise ValueError(
      f"{module}: attention_resolution={resolution!r} is not a resolution the network reaches; "
      f"its hidden feature maps have heights {valid} (choose one of them)."
    )


def check_attention_resolution(module: nn.Module, height: int, width: int) -> nn.Module:
  """Returns `module` (a SAGAN G or D for H x W images) once its `attention_resolution` is one the
  network reaches; else the ValueError of its call. Lets the registry refuse a config up front."""
  steps = getattr(module, "num_upsamplings", getattr(module, "num_downsamplings", None))
  _check_attention_resolution(
    module.attention_resolution,
    valid_attention_resolutions(height, width, steps),
    type(module).__name__,
  )
  return module


def _sn(layer: nn.Module, train: bool, n_steps: int) -> Callable[..., jax.Array]:
  # Every weight divided by its largest singular value (Zhang et al. 2019, sec. 4.1).
  return spectral_normalized(layer, update_stats=train, n_steps=n_steps)


class ConditionalBatchNorm(nn.Module):
  """Batch norm whose scale and shift are looked up per class (conditional BN).

  y = gamma_c * (x - mu_B) / sqrt(var_B + eps) + beta_c, with gamma_c, beta_c rows of learnt
  [num_classes, C] embeddings initialised to 1 and 0 (de Vries et al. 2017, eq. 2-3 with the
  per-class embedding of Miyato & Koyama 2018, sec. 3 / SAGAN's G, Zhang et al. 2019, sec. 5), so
  at initialisation it is plain batch norm. Out-of-range labels (not checkable under jit) get
  gamma = beta = 0.

  Attributes:
    num_classes: number of classes (>= 1).
    train: normalise by batch statistics and update the running averages.
    dtype: computation dtype.
  """

  num_classes: int
  train: bool
  dtype: Any = None

  @nn.compact
  def __call__(self, x: jax.Array, labels: jax.Array) -> jax.Array:
    """y [B, ..., C] for x [B, ..., C]: x normalised, then gamma_y, beta_y of each label [B]."""
    one_hot = gan_nets._one_hot_labels(labels, self.num_classes, x.shape[0], type(self).__name__)
    normalised = nn.BatchNorm(
      use_running_average=not self.train,
      momentum=gan_nets.BATCH_NORM_MOMENTUM,
      epsilon=gan_nets.BATCH_NORM_EPSILON,
      use_scale=False,
      use_bias=False,
      dtype=self.dtype,
    )(x)
    channels = x.shape[-1]
    scale = self.param("scale", nn.initializers.ones_init(), (self.num_classes, channels))
    bias = self.param("bias", nn.initializers.zeros_init(), (self.num_classes, channels))
    shape = (x.shape[0],) + (1,) * (x.ndim - 2) + (channels,)
    gamma = (one_hot @ scale).reshape(shape).astype(normalised.dtype)
    beta = (one_hot @ bias).reshape(shape).astype(normalised.dtype)
    return gamma * normalised + beta


def _check_image_shape(image_shape: Any, module: str) -> None:
  if len(image_shape) != 3 or not all(isinstance(s, int) and s >= 1 for s in image_shape):
    raise ValueError(f"{module}: image_shape must be (H, W, C) ints >= 1; got {image_shape!r}.")


class SAGANGenerator(nn.Module):
  """SAGAN generator: the DCGAN generator with spectral norm, (conditional) BN and self-attention.

  SN-Dense(z) -> [H / 2^n, W / 2^n, base_features * 2^(n-1)] -> (C)BN -> ReLU, then n - 1 blocks
  of SN-ConvTranspose(4x4, stride 2) -> (C)BN -> ReLU halving the width, and a last
  SN-ConvTranspose to the image channels -> tanh (Radford et al. 2016, Fig. 1). A `SelfAttention`
  block (spectrally normalised 1x1 convs) follows the hidden layer whose map has height
  `attention_resolution`. Labels enter only through conditional batch norm (Zhang et al. 2019,
  sec. 5), not concatenated to z. The transposed convs are `jaxgen.nn.conv.ConvTranspose`.

  Attributes:
    image_shape: (H, W, C) of the samples.
    base_features: width of the last hidden layer; doubles towards the base.
    num_classes: > 0 for a conditional generator (conditional batch norm).
    attention_resolution: height of the hidden feature map the attention block acts on.
    attention_reduction: channel reduction of the attention block's f, g, h.
    num_upsamplings: None to derive n from image_shape, or an explicit n.
    spectral_norm_steps: power iterations per call (Miyato et al. 2018, Algorithm 1: one).
    dtype: computation dtype (params stay float32).
    conv_transpose: the transposed-conv layer class.
  """

  image_shape: tuple[int, int, int]
  base_features: int = 64
  num_classes: int = 0
  attention_resolution: int = DEFAULT_ATTENTION_RESOLUTION
  attention_reduction: int = ATTENTION_REDUCTION
  num_upsamplings: int | None = None
  spectral_norm_steps: int = 1
  dtype: Any = None
  conv_transpose: Callable[..., nn.Module] = ConvTranspose
  traits = NetworkTraits(("generator",), EXAMPLE, BATCH_NORM)  # (conditional) batch norm

  @nn.compact
  def __call__(self, z: jax.Array, labels: jax.Array | None = None, *, train: bool) -> jax.Array:
    """Images [B, H, W, C] in [-1, 1] from z [B, z_dim]; `train` updates BN and the SN vectors."""
    name = type(self).__name__
    gan_nets._check_rank(z, 2, "[batch, z_dim]", name)
    gan_nets._positive_int(self.base_features, "base_features", name)
    _check_image_shape(self.image_shape, name)
    height, width, channels = self.image_shape
    steps = gan_nets.resolution_steps(height, width, self.num_upsamplings)
    _check_attention_resolution(
      self.attention_resolution, valid_attention_resolutions(height, width, steps), name
    )
    gan_nets._one_hot_labels(labels, self.num_classes, z.shape[0], name)  # checks the pairing
    features = self.base_features * 2 ** (steps - 1)

    def norm_act(h: jax.Array) -> jax.Array:
      if self.num_classes:
        h = ConditionalBatchNorm(self.num_classes, train, self.dtype)(h, labels)
      else:
        h = gan_nets._batch_norm(train, self.dtype)(h)
      return nn.relu(h)

    def attend(h: jax.Array) -> jax.Array:
      if h.shape[1] != self.attention_resolution:
        return h
      return SelfAttention(self.attention_reduction, spectral_norm=True, dtype=self.dtype)(
        h, train=train
      )

    base_h, base_w = height >> steps, width >> steps
    dense = nn.Dense(
      base_h * base_w * features,
      use_bias=False,  # batch norm's mean subtraction cancels a bias
      kernel_init=SAGAN_KERNEL_INIT,
      dtype=self.dtype,
      name="project",
    )
    h = _sn(dense, train, self.spectral_norm_steps)(z)
    h = attend(norm_act(h.reshape((-1, base_h, base_w, features))))
    for i in range(steps - 1):
      features //= 2
      h = self._upsample(features, False, f"up{i}", train)(h)
      h = attend(norm_act(h))
    return jnp.tanh(self._upsample(channels, True, "to_image", train)(h))

  def _upsample(self, features: int, use_bias: bool, name: str, train: bool):
    layer = self.conv_transpose(
      features,
      gan_nets.DCGAN_KERNEL_SIZE,
      strides=2,
      padding="SAME",
      use_bias=use_bias,
      kernel_init=SAGAN_KERNEL_INIT,
      dtype=self.dtype,
      name=name,
    )
    return _sn(layer, train, self.spectral_norm_steps)


class SAGANDiscriminator(nn.Module):
  """SAGAN discriminator: the DCGAN discriminator with spectral norm, no batch norm, self-attention
  and a projection head.

  n blocks of SN-Conv(4x4, stride 2) -> LeakyReLU(0.2) with widths base_features * 2^i (Radford et
  al. 2016, sec. 3), a `SelfAttention` block (spectrally normalised) after the block whose map has
  height `attention_resolution`, then phi(x) = the flattened last map and
    f(x, y) = psi(phi(x)) + embed(y)^T phi(x)
  with psi an SN-Dense to one logit and embed an SN class embedding: the projection discriminator
  (Miyato & Koyama 2018, eq. 3), as SAGAN's D (Zhang et al. 2019, sec. 5). The last conv's output,
  before its activation, is sown as `intermediates/features` (as the DCGAN D, so feature matching
  and VAE-GAN's Dis_l keep working).

  Attributes:
    base_features: width of the first conv; doubles per block.
    num_classes: > 0 for a conditional discriminator (projection).
    attention_resolution: height of the hidden feature map the attention block acts on.
    attention_reduction: channel reduction of the attention block's f, g, h.
    num_downsamplings: None to derive n from the input shape, or an explicit n.
    spectral_norm_steps: power iterations per call (Miyato et al. 2018, Algorithm 1: one).
    dtype: computation dtype (params stay float32).
  """

  # No batch norm (sec. 5); every layer is spectrally normalised inside (the critic refuses the
  # stabiliser's second pass).
  traits = NetworkTraits(("discriminator",), LOGIT, self_normalised=True)

  base_features: int = 64
  num_classes: int = 0
  attention_resolution: int = DEFAULT_ATTENTION_RESOLUTION
  attention_reduction: int = ATTENTION_REDUCTION
  num_downsamplings: int | None = None
  spectral_norm_steps: int = 1
  dtype: Any = None

  @nn.compact
  def __call__(self, x: jax.Array, labels: jax.Array | None = None, *, train: bool) -> jax.Array:
    """Logits [B] of images x [B, H, W, C], projection term included when conditional."""
    name = type(self).__name__
    gan_nets._check_rank(x, 4, "[batch, H, W, C]", name)
    gan_nets._positive_int(self.base_features, "base_features", name)
    check_positive_int("spectral_norm_steps", self.spectral_norm_steps)
    steps = gan_nets.resolution_steps(x.shape[1], x.shape[2], self.num_downsamplings)
    _check_attention_resolution(
      self.attention_resolution, valid_attention_resolutions(x.shape[1], x.shape[2], steps), name
    )
    one_hot = gan_nets._one_hot_labels(labels, self.num_classes, x.shape[0], name)

    h = x
    for i in range(steps):
      conv = nn.Conv(
        self.base_features * 2**i,
        gan_nets.DCGAN_KERNEL_SIZE,
        strides=2,
        padding="SAME",
        kernel_init=SAGAN_KERNEL_INIT,
        dtype=self.dtype,
        name=f"down{i}",
      )
      h = _sn(conv, train, self.spectral_norm_steps)(h)
      if i == steps - 1:
        self.sow("intermediates", "features", h)
      h = nn.leaky_relu(h, gan_nets.LEAKY_RELU_SLOPE)
      if h.shape[1] == self.attention_resolution:
        h = SelfAttention(self.attention_reduction, spectral_norm=True, dtype=self.dtype)(
          h, train=train
        )
    phi = h.reshape((h.shape[0], -1))
    head = nn.Dense(1, kernel_init=SAGAN_KERNEL_INIT, dtype=self.dtype, name="head")
    logits = _sn(head, train, self.spectral_norm_steps)(phi)[:, 0]
    if one_hot is None:
      return logits
    # Projection (Miyato & Koyama 2018, eq. 3): y^T V phi(x), V spectrally normalised as in their
    # code (SNEmbedID); a one-hot times a bias-free Dense is the embedding lookup.
    embed = nn.Dense(
      phi.shape[-1], use_bias=False, kernel_init=SAGAN_KERNEL_INIT, dtype=self.dtype, name="embed"
    )
    class_vectors = _sn(embed, train, self.spectral_norm_steps)(one_hot.astype(phi.dtype))
    return logits + jnp.sum(class_vectors * phi, axis=-1)
