"""Residual networks, their plain (shortcut-free) twins, and residual GAN blocks, in Flax linen.

A residual block computes y = act(F(x) + shortcut(x)) (He et al. 2016, eq. 1-2): when F can fall
back to zero the block is the identity, so depth cannot make the best fit worse. `PlainNet` is the
same stack with the shortcut removed, y = act(F(x)): the control for the degradation experiment.

Parameter convention (matches torchvision): convolutions have no bias (a batch norm follows each);
batch-norm scale and bias are parameters and are counted; the running mean and variance live in the
`batch_stats` collection and are not counted. With 1000 classes ResNet-18/34/50/101/152 then have
11,689,512 / 21,797,672 / 25,557,032 / 44,549,160 / 60,192,808 parameters. Bottleneck blocks put
their stride on the 3x3 convolution (torchvision's "ResNet v1.5"). Padding is symmetric (k // 2),
as in the reference implementations, rather than XLA's asymmetric 'SAME' for even inputs.

References:
  He, Zhang, Ren, Sun, "Deep Residual Learning for Image Recognition", CVPR 2016 (arXiv 1512.03385).
  Goyal et al., "Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour", 2017 (arXiv
    1706.02677; zero-initialised last batch-norm scale of each residual branch).
  Miyato, Kataoka, Koyama, Yoshida, "Spectral Normalization for GANs", ICLR 2018, appendix
    (ResNet generator and discriminator blocks).
  Gulrajani, Ahmed, Arjovsky, Dumoulin, Courville, "Improved Training of Wasserstein GANs",
    NeurIPS 2017, appendix (the same blocks; nearest-neighbour upsampling, mean-pool downsampling).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgen.nn.conv import ConvTranspose
from jaxgen.nn.layers import check_choice, check_positive_int, spectral_normalized

Array = jax.Array
Dtype = Any

# "projection": 1x1 conv + BN when the shape changes, identity otherwise (He et al. 2016, option B).
# "zero_pad": subsample by the stride, zero-pad the new channels; no parameters (option A, CIFAR).
# "none": no shortcut at all: the plain network.
SHORTCUTS = ("projection", "zero_pad", "none")
STEMS = ("imagenet", "cifar")
UPSAMPLINGS = ("nearest", "transposed")

# torchvision / He et al. initialise convs with N(0, 2 / fan_out) (He et al. 2015, eq. 14).
_conv_init = nn.initializers.variance_scaling(2.0, "fan_out", "normal")


def _conv(features: int, kernel: int, strides: int = 1, *, dtype: Dtype, name: str | None = None):
  """A bias-free k x k convolution with symmetric padding k // 2."""
  pad = kernel // 2
  return nn.Conv(
    features,
    (kernel, kernel),
    strides=(strides, strides),
    padding=((pad, pad), (pad, pad)),
    use_bias=False,
    kernel_init=_conv_init,
    dtype=dtype,
    name=name,
  )


def _batch_norm(train: bool, dtype: Dtype) -> Callable[..., nn.BatchNorm]:
  # momentum 0.9 here is torch's momentum 0.1; epsilon as torch.nn.BatchNorm2d.
  return functools.partial(
    nn.BatchNorm, use_running_average=not train, momentum=0.9, epsilon=1e-5, dtype=dtype
  )


def _add_shortcut(
  x: Array,
  branch: Array,
  *,
  shortcut: str,
  strides: int,
  train: bool,
  dtype: Dtype,
  act: Callable[[Array], Array],
) -> Array:
  """act(branch + shortcut(x)) for a block with output `branch` (He et al. 2016, eq. 1-2)."""
  if shortcut == "none":
    return act(branch)
  if x.shape == branch.shape:
    return act(branch + x)
  out_channels = branch.shape[-1]
  if shortcut == "projection":
    # y = F(x) + W_s x (He et al. 2016, eq. 2).
    projected = _conv(out_channels, 1, strides, dtype=dtype, name="shortcut_conv")(x)
    residual = _batch_norm(train, dtype)(name="shortcut_norm")(projected)
  else:
    # Option A: identity on the subsampled map, zeros for the extra channels (He et al. 2016, 3.3).
    extra = out_channels - x.shape[-1]
    if extra < 0:
      raise ValueError(
        f"shortcut 'zero_pad' cannot reduce channels ({x.shape[-1]} -> {out_channels});"
        " use shortcut='projection'."
      )
    residual = jnp.pad(x[:, ::strides, ::strides, :], ((0, 0), (0, 0), (0, 0), (0, extra)))
  return act(branch + residual.astype(branch.dtype))


def _last_scale_init(zero_init_residual: bool):
  return nn.initializers.zeros_init() if zero_init_residual else nn.initializers.ones_init()


class _Block(nn.Module):
  """Fields shared by the residual blocks (see `BasicBlock`)."""

  filters: int
  strides: int = 1
  shortcut: str = "projection"
  zero_init_residual: bool = False
  act: Callable[[Array], Array] = nn.relu
  dtype: Dtype = jnp.float32

  def _check_fields(self) -> None:
    check_positive_int("filters", self.filters)
    check_positive_int("strides", self.strides)
    check_choice("shortcut", self.shortcut, SHORTCUTS)
    if self.zero_init_residual and self.shortcut == "none":
      raise ValueError(
        "zero_init_residual=True with shortcut='none' makes every block output zero;"
        " use it with shortcut 'projection' or 'zero_pad'."
      )

  def _finish(
    self, x: Array, branch: Array, norm: Callable[..., nn.BatchNorm], train: bool
  ) -> Array:
    """act(BN(branch) + shortcut(x)), the BN's scale zero under zero_init_residual. Call it last in
    a block's compact __call__: its layers are then named after the branch's, as before, and the
    parameter trees of saved checkpoints still match."""
    branch = norm(scale_init=_last_scale_init(self.zero_init_residual))(branch)
    return _add_shortcut(
      x,
      branch,
      shortcut=self.shortcut,
      strides=self.strides,
      train=train,
      dtype=self.dtype,
      act=self.act,
    )


class BasicBlock(_Block):
  """Two 3x3 convs: y = act(BN(conv(act(BN(conv(x))))) + shortcut(x)) (He et al. 2016, Fig. 2).

  Attributes:
    filters: output channels.
    strides: stride of the first 3x3 conv (2 halves the resolution).
    shortcut: one of `SHORTCUTS`; "none" gives the plain block.
    zero_init_residual: initialise the last BN scale to 0, so F(x) = 0 and, on the non-negative
      inputs every inner block receives (they follow a ReLU), the block starts as the identity.
    act: the nonlinearity (ReLU in the paper).
    dtype: computation dtype (parameters stay float32).
  """

  expansion: ClassVar[int] = 1

  @nn.compact
  def __call__(self, x: Array, train: bool) -> Array:
    """[B, H / strides, W / strides, filters] from x [B, H, W, C]; BN in batch mode if `train`."""
    self._check_fields()
    norm = _batch_norm(train, self.dtype)
    y = _conv(self.filters, 3, self.strides, dtype=self.dtype)(x)
    y = self.act(norm()(y))
    y = _conv(self.filters, 3, dtype=self.dtype)(y)
    return self._finish(x, y, norm, train)


class BottleneckBlock(_Block):
  """1x1 reduce, 3x3, 1x1 expand to 4 * filters, plus the shortcut (He et al. 2016, Fig. 5).

  Same attributes as `BasicBlock`; the output has `4 * filters` channels and the stride sits on
  the 3x3 conv (torchvision's v1.5).
  """

  expansion: ClassVar[int] = 4

  @nn.compact
  def __call__(self, x: Array, train: bool) -> Array:
    """[B, H / strides, W / strides, 4 filters] from x [B, H, W, C]; BN batch mode if `train`."""
    self._check_fields()
    norm = _batch_norm(train, self.dtype)
    y = _conv(self.filters, 1, dtype=self.dtype)(x)
    y = self.act(norm()(y))
    y = _conv(self.filters, 3, self.strides, dtype=self.dtype)(y)
    y = self.act(norm()(y))
    y = _conv(self.filters * self.expansion, 1, dtype=self.dtype)(y)
    return self._finish(x, y, norm, train)


class ResNet(nn.Module):
  """A stem, stages of residual blocks (stride 2 at the start of every stage but the first), global
  average pooling and a linear classifier (He et al. 2016, Table 1 and Sec. 4.2).

  Stage i has `width * 2**i` filters. The pooled features are sown as `intermediates/features`
  (pass `mutable=["intermediates"]` to read them, e.g. for FID features).

  Attributes:
    stage_sizes: blocks per stage, e.g. (2, 2, 2, 2) for ResNet-18, (3, 3, 3) for ResNet-20.
    block: `BasicBlock` or `BottleneckBlock`.
    num_classes: output logits.
    width: filters of the first stage (64 ImageNet, 16 CIFAR).
    stem: "imagenet" (7x7/2 conv, BN, ReLU, 3x3/2 max pool) or "cifar" (3x3 conv, BN, ReLU).
    shortcut: one of `SHORTCUTS`; "none" is the plain net (see `PlainNet`).
    zero_init_residual: zero the last BN scale of every residual branch (Goyal et al. 2017).
    act: the nonlinearity.
    dtype: computation dtype (parameters stay float32).
  """

  stage_sizes: Sequence[int]
  block: type[_Block] = BasicBlock
  num_classes: int = 1000
  width: int = 64
  stem: str = "imagenet"
  shortcut: str = "projection"
  zero_init_residual: bool = False
  act: Callable[[Array], Array] = nn.relu
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x: Array, train: bool) -> Array:
    """x: [batch, height, width, channels] -> logits [batch, num_classes]."""
    check_choice("stem", self.stem, STEMS)
    check_positive_int("num_classes", self.num_classes)
    check_positive_int("width", self.width)
    if not self.stage_sizes:
      raise ValueError("stage_sizes must name at least one stage; got an empty sequence.")
    for size in self.stage_sizes:
      check_positive_int("every stage size", size)
    norm = _batch_norm(train, self.dtype)
    if self.stem == "imagenet":
      x = _conv(self.width, 7, 2, dtype=self.dtype, name="stem_conv")(x)
      x = self.act(norm(name="stem_norm")(x))
      x = nn.max_pool(x, (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)))
    else:
      x = _conv(self.width, 3, dtype=self.dtype, name="stem_conv")(x)
      x = self.act(norm(name="stem_norm")(x))
    for stage, num_blocks in enumerate(self.stage_sizes):
      for index in range(num_blocks):
        x = self.block(
          self.width * 2**stage,
          strides=2 if stage > 0 and index == 0 else 1,
          shortcut=self.shortcut,
          zero_init_residual=self.zero_init_residual,
          act=self.act,
          dtype=self.dtype,
          name=f"stage{stage + 1}_block{index + 1}",
        )(x, train)
    features = jnp.mean(x, axis=(1, 2))
    self.sow("intermediates", "features", features)
    return nn.Dense(self.num_classes, dtype=self.dtype, name="head")(features)


# He et al. 2016, Table 1 (ImageNet form).
ResNet18 = functools.partial(ResNet, stage_sizes=(2, 2, 2, 2), block=BasicBlock)
ResNet34 = functools.partial(ResNet, stage_sizes=(3, 4, 6, 3), block=BasicBlock)
ResNet50 = functools.partial(ResNet, stage_sizes=(3, 4, 6, 3), block=BottleneckBlock)
ResNet101 = functools.partial(ResNet, stage_sizes=(3, 4, 23, 3), block=BottleneckBlock)
ResNet152 = functools.partial(ResNet, stage_sizes=(3, 8, 36, 3), block=BottleneckBlock)

# The same networks without shortcuts (He et al. 2016, Fig. 4 compares plain-18/34 with ResNets).
PlainNet = functools.partial(ResNet, shortcut="none")
PlainNet18 = functools.partial(PlainNet, stage_sizes=(2, 2, 2, 2), block=BasicBlock)
PlainNet34 = functools.partial(PlainNet, stage_sizes=(3, 4, 6, 3), block=BasicBlock)


def cifar_resnet(depth: int, num_classes: int = 10, shortcut: str = "zero_pad", **kwargs) -> ResNet:
  """The CIFAR-form net of He et al. (2016), Sec. 4.2: 6n + 2 layers.

  A 3x3 conv with 16 filters, then three stages of n basic blocks with 16, 32, 64 filters on maps
  of size s, s/2, s/4, global average pooling and a linear classifier: 6n + 1 convs and 1 dense.
  By default the shortcuts are option A (zero padding, no parameters) as in the paper, giving
  0.27M / 0.46M / 0.66M / 0.85M / 1.7M parameters for depth 20 / 32 / 44 / 56 / 110 (Table 6).

  Args:
    depth: 6n + 2 for an integer n >= 1 (8, 14, 20, 26, 32, ...).
    num_classes: output logits.
    shortcut: one of `SHORTCUTS`; "none" gives the plain net of the paper's Fig. 6.
    **kwargs: further `ResNet` attributes (width, zero_init_residual, act, dtype).

  Returns:
    An unbound `ResNet`.
  """
  if isinstance(depth, bool) or not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
    raise ValueError(
      f"CIFAR ResNet depth must be 6n + 2 with n >= 1 (8, 14, 20, ...); got {depth!r}."
    )
  kwargs.setdefault("width", 16)
  blocks_per_stage = (depth - 2) // 6
  return ResNet(
    stage_sizes=(blocks_per_stage,) * 3,
    block=BasicBlock,
    num_classes=num_classes,
    stem="cifar",
    shortcut=shortcut,
    **kwargs,
  )


ResNet20 = functools.partial(cifar_resnet, 20)
ResNet32 = functools.partial(cifar_resnet, 32)
ResNet44 = functools.partial(cifar_resnet, 44)
ResNet56 = functools.partial(cifar_resnet, 56)
ResNet110 = functools.partial(cifar_resnet, 110)
PlainNet20 = functools.partial(cifar_resnet, 20, shortcut="none")
PlainNet56 = functools.partial(cifar_resnet, 56, shortcut="none")

ARCHITECTURES: dict[str, Callable[..., ResNet]] = {
  "resnet18": ResNet18,
  "resnet34": ResNet34,
  "resnet50": ResNet50,
  "resnet101": ResNet101,
  "resnet152": ResNet152,
  "plain18": PlainNet18,
  "plain34": PlainNet34,
  "resnet20": ResNet20,
  "resnet32": ResNet32,
  "resnet44": ResNet44,
  "resnet56": ResNet56,
  "resnet110": ResNet110,
  "plain20": PlainNet20,
  "plain56": PlainNet56,
}


def get_architecture(name: str) -> Callable[..., ResNet]:
  """The constructor registered as `name` in `ARCHITECTURES` (call it with num_classes etc.)."""
  check_choice("architecture", name, sorted(ARCHITECTURES))
  return ARCHITECTURES[name]


def _upsample_nearest(x: Array) -> Array:
  """Doubles height and width by repeating every pixel 2x2 (nearest neighbour)."""
  return jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)


def _mean_pool(x: Array) -> Array:
  """2x2 average pooling, stride 2 (Gulrajani et al. 2017, their ResNets' 'mean pool')."""
  return nn.avg_pool(x, (2, 2), strides=(2, 2))


class ResidualUpBlock(nn.Module):
  """Residual generator block that doubles the resolution (Miyato et al. 2018).

    F(x) = conv3x3(act(BN(conv3x3(up(act(BN(x)))))))
    y = F(x) + conv1x1(up(x))     (conv1x1 only when the channels change; else up(x))

  with `up` nearest-neighbour upsampling, as in the SNGAN and WGAN-GP ResNet generators. With
  upsample="transposed" the first conv3x3(up(.)) of F becomes a 4x4 stride-2 transposed conv
  (`jaxgen.nn.conv.ConvTranspose`, fast kernel gradient on CPU); the shortcut stays up(x).

  Attributes:
    features: output channels.
    upsample: "nearest" (nearest-neighbour 2x, then a 3x3 conv) or "transposed".
    act: the nonlinearity.
    dtype: computation dtype.
  """

  features: int
  upsample: str = "nearest"
  act: Callable[[Array], Array] = nn.relu
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x: Array, train: bool) -> Array:
    """x: [batch, h, w, c] -> [batch, 2h, 2w, features]."""
    check_positive_int("features", self.features)
    check_choice("upsample", self.upsample, UPSAMPLINGS)
    conv = functools.partial(nn.Conv, dtype=self.dtype)
    norm = _batch_norm(train, self.dtype)
    y = self.act(norm()(x))
    if self.upsample == "nearest":
      y = conv(self.features, (3, 3), name="conv1")(_upsample_nearest(y))
    else:
      y = ConvTranspose(self.features, (4, 4), strides=2, dtype=self.dtype, name="conv1")(y)
    y = conv(self.features, (3, 3), name="conv2")(self.act(norm()(y)))
    shortcut = _upsample_nearest(x)
    if x.shape[-1] != self.features:
      shortcut = conv(self.features, (1, 1), name="shortcut_conv")(shortcut)
    return y + shortcut


class ResidualDownBlock(nn.Module):
  """Residual discriminator block, optionally halving the resolution (Miyato et al. 2018).

    F(x) = pool(conv3x3(act(conv3x3(act(x)))))     (the leading act omitted when preactivate=False)
    y = F(x) + shortcut(x),  shortcut = pool(conv1x1(x)) when the shape changes, else x.

  The first block of a discriminator, which sees the image itself, uses preactivate=False and pools
  before its 1x1 shortcut conv (SNGAN's "OptimizedBlock"). No batch norm: discriminators with a
  Lipschitz constraint use spectral normalisation instead (on by default).

  Attributes:
    features: output channels.
    downsample: halve the resolution by 2x2 mean pooling.
    preactivate: apply act before the first conv (False for the first block).
    spectral_norm: spectrally normalise every conv (Miyato et al. 2018).
    act: the nonlinearity.
    dtype: computation dtype.
  """

  features: int
  downsample: bool = True
  preactivate: bool = True
  spectral_norm: bool = True
  act: Callable[[Array], Array] = nn.relu
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x: Array, train: bool) -> Array:
    """x: [batch, h, w, c] -> [batch, h / 2, w / 2, features] (h, w when downsample=False)."""
    check_positive_int("features", self.features)

    def conv(kernel: int, name: str) -> Callable[[Array], Array]:
      layer = nn.Conv(self.features, (kernel, kernel), dtype=self.dtype, name=name)
      return spectral_normalized(layer, update_stats=train, enabled=self.spectral_norm)

    pool = _mean_pool if self.downsample else (lambda h: h)
    y = self.act(x) if self.preactivate else x
    y = conv(3, "conv1")(y)
    y = pool(conv(3, "conv2")(self.act(y)))
    if x.shape[-1] == self.features and not self.downsample:
      return y + x
    if self.preactivate:
      shortcut = pool(conv(1, "shortcut_conv")(x))
    else:
      shortcut = conv(1, "shortcut_conv")(pool(x))
    return y + shortcut
