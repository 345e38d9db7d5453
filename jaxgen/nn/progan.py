"""ProGAN's growing generator and discriminator (Karras et al. 2018, "Progressive Growing of GANs").

Both networks hold every resolution's block and every toRGB / fromRGB head from initialisation, so
their params have one shape whatever the stage; a call names the stage (a Python int: which blocks
run, one compiled function per stage) and alpha (an array: the fade-in of the newest block, traced).

    stage s, resolution r = start_resolution 2^s:
    G: z -> pixel norm -> 4x4 block -> [upsample, block] x s -> toRGB_s
                                   fading: lerp(upsample(toRGB_{s-1}(h_{s-1})), toRGB_s(h_s), alpha)
    D: x (r x r) -> fromRGB_s -> block_s -> downsample -> ... -> minibatch stddev -> 4x4 block -> 1
                   fading: lerp(fromRGB_{s-1}(avgpool(x)), downsample(block_s(fromRGB_s(x))), alpha)

Every layer has the equalised learning rate (sec. 4.1); G normalises every pixel's feature vector
after each 3x3 conv (sec. 4.2); D appends the minibatch standard deviation before its last block
(sec. 3). Widths are one `features` for every resolution (the paper halves them above 32x32; the
digits stop at 16x16). With `stage=None` a network runs its last stage at alpha = 1 (a plain
full-resolution network, e.g. for the GAN algorithm).
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgen.nn.layers import (
  EqualizedConv,
  EqualizedDense,
  check_positive_int,
  minibatch_stddev,
  pixel_norm,
)
from jaxgen.nn.traits import EXAMPLE, LOGIT, NetworkTraits

Array = jax.Array
# Karras et al. 2018, sec. 4: leaky ReLU with leakiness 0.2 in both networks.
NEGATIVE_SLOPE = 0.2
# Karras et al. 2018, sec. 3 (their code: mbstd_group_size = 4).
MINIBATCH_GROUP_SIZE = 4


def num_stages_for(resolution: int, start_resolution: int) -> int:
  """Stages from `start_resolution` to `resolution`, doubling each time (4, 8, 16: 3)."""
  check_positive_int("start_resolution", start_resolution)
  doublings = math.log2(resolution / start_resolution) if resolution >= start_resolution else -1
  if doublings < 0 or doublings != int(doublings):
    raise ValueError(
      f"A progressive network grows from {start_resolution} by doubling; the images are "
      f"{resolution} x {resolution}, not {start_resolution} times a power of 2."
    )
  return int(doublings) + 1


def upsample(x: Array, factor: int = 2) -> Array:
  """Nearest-neighbour upsampling of NHWC images (Karras et al. 2018, Table 2, 'Upsample')."""
  return jnp.repeat(jnp.repeat(x, factor, axis=1), factor, axis=2)


def downsample(x: Array, factor: int = 2) -> Array:
  """Average pooling of NHWC images (Karras et al. 2018, Table 2, 'Downsample')."""
  b, h, w, c = x.shape
  return x.reshape(b, h // factor, factor, w // factor, factor, c).mean(axis=(2, 4))


def lerp(a: Array, b: Array, t) -> Array:
  """(1 - t) a + t b: the fade-in of sec. 3 / Figure 2 (t = alpha: 0 is the old path, 1 the new),
  written so that t = 0 gives a and t = 1 gives b exactly."""
  return (1 - t) * a + t * b


def _act(x: Array) -> Array:
  return nn.leaky_relu(x, NEGATIVE_SLOPE)


def _resolve(stage: int | None, num_stages: int) -> int:
  stage = num_stages - 1 if stage is None else stage
  if not 0 <= stage < num_stages:
    raise ValueError(f"stage must be in [0, {num_stages}); got {stage!r}.")
  return stage


class ProGANGenerator(nn.Module):
  """G of Karras et al. 2018, Table 2 (left), at any stage; see the module docstring."""

  image_shape: tuple[int, int, int]
  features: int = 64
  start_resolution: int = 4
  traits = NetworkTraits(("generator",), EXAMPLE)  # pixel norm: per sample (sec. 4.2)

  @property
  def num_stages(self) -> int:
    """Resolutions from `start_resolution` to the image's, doubling: log2(H / start) + 1."""
    return num_stages_for(self.image_shape[0], self.start_resolution)

  @nn.compact
  def __call__(self, z, labels=None, train: bool = False, *, stage=None, alpha=1.0):
    """z: [B, latent] -> images [B, r, r, C] at the stage's resolution r (no batch statistics, so
    `train` changes nothing)."""
    del labels, train
    stage, f, r0 = _resolve(stage, self.num_stages), self.features, self.start_resolution
    conv = lambda name: EqualizedConv(f, kernel_size=(3, 3), name=name)
    block = lambda x, name: pixel_norm(_act(conv(name)(x)))
    # Sec. 4.2: the latent is pixel-normalised too; their code's first layer has gain sqrt(2) / 4.
    h = EqualizedDense(f * r0 * r0, gain=math.sqrt(2.0) / 4, name="dense")(pixel_norm(z))
    h = block(pixel_norm(_act(h.reshape(-1, r0, r0, f))), "block0_conv")
    levels = [h]
    for level in range(1, self.num_stages if self.is_initializing() else stage + 1):
      h = block(block(upsample(levels[-1]), f"block{level}_conv0"), f"block{level}_conv1")
      levels.append(h)
    # toRGB: a linear 1x1 conv (gain 1, their code).
    to_rgb = [
      EqualizedConv(self.image_shape[-1], kernel_size=(1, 1), gain=1.0, name=f"to_rgb{level}")
      for level in range(self.num_stages)
    ]
    if self.is_initializing():  # every head's params exist from the start (one state shape)
      for head, features in zip(to_rgb, levels, strict=True):
        head(features)
    out = to_rgb[stage](levels[stage])
    if stage == 0:
      return out
    return lerp(upsample(to_rgb[stage - 1](levels[stage - 1])), out, alpha)


class ProGANDiscriminator(nn.Module):
  """D of Karras et al. 2018, Table 2 (right), at any stage; see the module docstring."""

  resolution: int
  features: int = 64
  start_resolution: int = 4
  group_size: int = MINIBATCH_GROUP_SIZE

  @property
  def traits(self) -> NetworkTraits:
    """With groups of one sample the minibatch stddev is a constant channel: nothing mixes."""
    if self.group_size == 1:
      return NetworkTraits(("discriminator",), LOGIT)
    mixing = (
      f"the minibatch standard deviation over groups of group_size = {self.group_size} samples "
      "(Karras et al. 2018, sec. 3)"
    )
    return NetworkTraits(("discriminator",), LOGIT, mixing, "set {block}.group_size = 1")

  @property
  def num_stages(self) -> int:
    """Resolutions from `start_resolution` to `resolution`, doubling: log2(res / start) + 1."""
    return num_stages_for(self.resolution, self.start_resolution)

  @nn.compact
  def __call__(self, x, labels=None, train: bool = False, *, stage=None, alpha=1.0):
    """x: [B, r, r, C] at the stage's resolution -> one score per sample [B]."""
    del labels, train
    stage, f = _resolve(stage, self.num_stages), self.features
    expected = self.start_resolution * 2**stage
    if x.shape[1:3] != (expected, expected):
      raise ValueError(f"Stage {stage} reads {expected} x {expected} images; got {x.shape}.")
    conv = lambda name, kernel=(3, 3): EqualizedConv(f, kernel_size=kernel, name=name)
    from_rgb = [conv(f"from_rgb{level}", (1, 1)) for level in range(self.num_stages)]
    if self.is_initializing():  # every head's params exist from the start (one state shape)
      for head in from_rgb:
        head(x)
    h = _act(from_rgb[stage](x))
    for level in range(stage, 0, -1):
      h = _act(conv(f"block{level}_conv0")(h))
      h = downsample(_act(conv(f"block{level}_conv1")(h)))
      if level == stage:  # the fading block: the old head reads the downsampled input
        h = lerp(_act(from_rgb[stage - 1](downsample(x))), h, alpha)
    h = minibatch_stddev(h, self.group_size)
    h = _act(conv("block0_conv")(h))
    h = _act(EqualizedDense(f, name="dense")(h.reshape(h.shape[0], -1)))
    return EqualizedDense(1, gain=1.0, name="output")(h)[:, 0]
