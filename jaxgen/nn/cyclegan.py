"""CycleGAN's networks (Zhu et al. 2017, sec. 4 and appendix 7.2), scaled to 16 x 16 images.

- `ResnetTranslator`: an image-to-image generator after Johnson et al. 2016, as CycleGAN's
  appendix 7.2 gives it: c7s1-k, d2k, d4k, R4k x n, u2k, uk, c7s1-C (c: conv-IN-ReLU, d: stride-2
  conv-IN-ReLU, R: residual block of two 3x3 conv-IN, u: upsampling-conv-IN-ReLU), tanh output.
  Scaled down: `features` k (the paper's 64), 5 x 5 outer convs for 7 x 7 on 16 x 16 images, and
  nearest-neighbour resize + 3 x 3 conv for the stride-1/2 transposed conv (transposed-conv
  gradients are slow on XLA:CPU; resize-conv also avoids checkerboard artefacts, Odena et al.
  2016).
- `PatchDiscriminator`: the PatchGAN of Isola et al. 2017 (CycleGAN appendix 7.2: C64-C128-C256-
  C512, 4 x 4 convs, LeakyReLU 0.2, instance norm except on the first layer, a last conv to one
  output per patch), scaled: `num_layers` stride-2 layers from `features` channels, one stride-1
  layer and the 1-channel conv. Its output is one real/fake value per patch, [N, h, w, 1].

Instance norm (Ulyanov et al. 2016) everywhere, as the paper: no batch statistics, so the model
state of both networks is empty and a sample's output depends on that sample alone.
"""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

from jaxgen.nn.layers import check_positive_int
from jaxgen.nn.traits import EXAMPLE, PATCH_LOGITS, NetworkTraits

# Appendix 7.2: weights from N(0, 0.02).
_INIT = nn.initializers.normal(0.02)


def upsample_nearest(x):
  """Nearest-neighbour 2x upsampling of [N, H, W, C] as a broadcast and reshape (its gradient is a
  sum over 2 x 2 blocks; jax.image.resize's gather-based gradient compiles far slower on CPU)."""
  n, h, w, c = x.shape
  x = jnp.broadcast_to(x[:, :, None, :, None, :], (n, h, 2, w, 2, c))
  return x.reshape(n, 2 * h, 2 * w, c)


def _instance_norm() -> nn.InstanceNorm:
  return nn.InstanceNorm(epsilon=1e-5)


class ResidualBlock(nn.Module):
  """R_k: x + IN(conv(ReLU(IN(conv(x))))), two 3 x 3 convs of k filters (appendix 7.2)."""

  features: int

  @nn.compact
  def __call__(self, x):
    """x + IN(conv(ReLU(IN(conv(x))))), the shape of x [N, H, W, features]."""
    y = nn.Conv(self.features, (3, 3), kernel_init=_INIT)(x)
    y = nn.relu(_instance_norm()(y))
    y = nn.Conv(self.features, (3, 3), kernel_init=_INIT)(y)
    return x + _instance_norm()(y)


class ResnetTranslator(nn.Module):
  """G: image -> image of the same shape in [-1, 1]; see the module docstring."""

  features: int = 16
  num_blocks: int = 3
  num_downsamplings: int = 2
  traits = NetworkTraits(("translator",), EXAMPLE)  # instance norm: per sample

  @nn.compact
  def __call__(self, x, train: bool = False):
    """The translated images, the shape of x [N, H, W, C], in [-1, 1] (tanh)."""
    del train  # instance norm: the same computation in training and inference
    for name in ("features", "num_blocks", "num_downsamplings"):
      check_positive_int(name, getattr(self, name))
    height, width, channels = x.shape[1:]
    if height % 2**self.num_downsamplings or width % 2**self.num_downsamplings:
      raise ValueError(
        f"ResnetTranslator halves {self.num_downsamplings} times; images of {height} x {width} "
        f"are not divisible by {2**self.num_downsamplings}."
      )
    h = nn.relu(_instance_norm()(nn.Conv(self.features, (5, 5), kernel_init=_INIT)(x)))
    for i in range(self.num_downsamplings):  # d2k, d4k
      conv = nn.Conv(self.features * 2 ** (i + 1), (3, 3), strides=2, kernel_init=_INIT)
      h = nn.relu(_instance_norm()(conv(h)))
    for _ in range(self.num_blocks):
      h = ResidualBlock(h.shape[-1])(h)
    for i in reversed(range(self.num_downsamplings)):  # u2k, uk: resize + conv
      h = upsample_nearest(h)
      h = nn.Conv(self.features * 2**i, (3, 3), kernel_init=_INIT)(h)
      h = nn.relu(_instance_norm()(h))
    return jnp.tanh(nn.Conv(channels, (5, 5), kernel_init=_INIT)(h))


class PatchDiscriminator(nn.Module):
  """D: image -> [N, h, w, 1] real/fake values, one per overlapping patch; see the module
  docstring. `labels` is accepted for the critic's call signature; CycleGAN's D is unconditional."""

  features: int = 16
  num_layers: int = 2
  traits = NetworkTraits(("discriminator",), PATCH_LOGITS)  # instance norm: per sample

  @nn.compact
  def __call__(self, x, labels=None, train: bool = False):
    """Patch logits [N, H / 2^num_layers, W / 2^num_layers, 1] of images x [N, H, W, C]."""
    del labels, train
    check_positive_int("features", self.features)
    check_positive_int("num_layers", self.num_layers)
    h = x
    for i in range(self.num_layers):  # C64 (no norm), C128, ...: 4 x 4 stride-2 convs
      h = nn.Conv(self.features * 2**i, (4, 4), strides=2, kernel_init=_INIT)(h)
      h = h if i == 0 else _instance_norm()(h)
      h = nn.leaky_relu(h, 0.2)
    h = nn.Conv(self.features * 2**self.num_layers, (4, 4), kernel_init=_INIT)(h)  # C512, stride 1
    h = nn.leaky_relu(_instance_norm()(h), 0.2)
    self.sow("intermediates", "features", h)
    return nn.Conv(1, (4, 4), kernel_init=_INIT)(h)
