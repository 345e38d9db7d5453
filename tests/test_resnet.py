"""Tests of jaxgen.nn.resnet: published parameter counts, identity blocks, shapes, GAN blocks.

Parameter counts use `jax.eval_shape` (no arrays are allocated, nothing is compiled). Convention:
bias-free convolutions, batch-norm scale and bias counted, running statistics (`batch_stats`) not
counted, the classifier's weight and bias counted: torchvision's `sum(p.numel() for p in
model.parameters())`.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.nn import resnet


def _key(seed=0):
  # XLA's RngBitGenerator: initialising a conv net compiles in a fraction of threefry's time on CPU.
  return jax.random.key(seed, impl="rbg")


def _shapes(model, input_shape, train=False):
  def init_and_apply():
    x = jnp.zeros(input_shape)
    variables = model.init(_key(), x, train=train)
    out, _ = model.apply(variables, x, train=train, mutable=True)
    return variables, out

  return jax.eval_shape(init_and_apply)


def _num_params(variables):
  return sum(int(np.prod(leaf.shape)) for leaf in jax.tree.leaves(variables["params"]))


# torchvision's published counts with 1000 classes (also in ../shared/reference/published.md).
TORCHVISION_PARAMS = {
  "resnet18": 11_689_512,
  "resnet34": 21_797_672,
  "resnet50": 25_557_032,
  "resnet101": 44_549_160,
  "resnet152": 60_192_808,
}


@pytest.mark.parametrize("name, expected", TORCHVISION_PARAMS.items())
def test_imagenet_parameter_counts_equal_torchvision(name, expected):
  variables, logits = _shapes(resnet.get_architecture(name)(num_classes=1000), (1, 224, 224, 3))
  assert _num_params(variables) == expected
  assert logits.shape == (1, 1000)


def _projection_params(in_channels, out_channels):
  return in_channels * out_channels + 2 * out_channels  # 1x1 conv + BN scale and bias


@pytest.mark.parametrize("name, resnet_name", [("plain18", "resnet18"), ("plain34", "resnet34")])
def test_plain_nets_lack_exactly_the_projection_shortcuts(name, resnet_name):
  variables, logits = _shapes(resnet.get_architecture(name)(num_classes=1000), (1, 64, 64, 3))
  projections = sum(_projection_params(c, 2 * c) for c in (64, 128, 256))
  assert _num_params(variables) == TORCHVISION_PARAMS[resnet_name] - projections
  assert logits.shape == (1, 1000)


def _cifar_params_closed_form(depth, num_classes=10):
  """He et al. 2016, Sec. 4.2 with option-A shortcuts, counted by hand."""
  n = (depth - 2) // 6
  total = 3 * 3 * 3 * 16 + 2 * 16  # stem conv + BN
  in_channels = 16
  for width in (16, 32, 64):
    for _ in range(n):
      total += 9 * in_channels * width + 9 * width * width + 4 * width  # two convs, two BNs
      in_channels = width
  return total + 64 * num_classes + num_classes


# He et al. 2016, Table 6: 0.27M, 0.46M, 0.66M, 0.85M, 1.7M. Option-A shortcuts carry no parameters,
# so the plain nets of their Fig. 6 have the same counts.
@pytest.mark.parametrize(
  "name, depth, published_millions",
  [
    ("resnet20", 20, 0.27),
    ("resnet32", 32, 0.46),
    ("resnet44", 44, 0.66),
    ("resnet56", 56, 0.85),
    ("resnet110", 110, 1.7),
    ("plain20", 20, 0.27),
    ("plain56", 56, 0.85),
  ],
)
def test_cifar_parameter_counts(name, depth, published_millions):
  variables, logits = _shapes(resnet.get_architecture(name)(), (2, 32, 32, 3))
  count = _num_params(variables)
  assert count == _cifar_params_closed_form(depth)
  assert round(count / 1e6, 2 if depth < 100 else 1) == published_millions
  assert logits.shape == (2, 10)


@pytest.mark.parametrize(
  "block, last_norm", [(resnet.BasicBlock, "BatchNorm_1"), (resnet.BottleneckBlock, "BatchNorm_2")]
)
def test_zero_init_residual_zeroes_the_last_scale_of_every_branch(block, last_norm):
  model = resnet.ResNet((1, 2), block, num_classes=3, width=2, zero_init_residual=True)
  variables = model.init(_key(), jnp.zeros((1, 16, 16, 3)), train=False)
  blocks = {k: v for k, v in variables["params"].items() if k.startswith("stage")}
  assert sorted(blocks) == ["stage1_block1", "stage2_block1", "stage2_block2"]
  for params in blocks.values():
    np.testing.assert_array_equal(params[last_norm]["scale"], 0.0)
    np.testing.assert_array_equal(params["BatchNorm_0"]["scale"], 1.0)
    if "shortcut_norm" in params:
      np.testing.assert_array_equal(params["shortcut_norm"]["scale"], 1.0)


# ---------------------------------------------------------------------------------------------
# Identity blocks


def _nonnegative(shape, seed=0):
  # Inner blocks receive ReLU outputs, so their inputs are non-negative.
  return np.maximum(np.random.default_rng(seed).normal(size=shape), 0).astype(np.float32)


BLOCKS = {
  "basic": lambda **kw: resnet.BasicBlock(8, **kw),
  "bottleneck": lambda **kw: resnet.BottleneckBlock(2, **kw),  # 4 * 2 = 8 output channels
}


@pytest.mark.parametrize("train", [False, True])
@pytest.mark.parametrize("kind", BLOCKS)
def test_zero_init_residual_block_is_exactly_the_identity(kind, train):
  x = _nonnegative((2, 5, 5, 8))
  block = BLOCKS[kind](zero_init_residual=True)
  variables = block.init(_key(), x, train=train)
  out, _ = block.apply(variables, x, train=train, mutable=["batch_stats"])
  np.testing.assert_array_equal(out, x)
  # Without the zero init the same block is not the identity (the test can fail).
  default = BLOCKS[kind]()
  out, _ = default.apply(default.init(_key(), x, train=train), x, train=train, mutable=True)
  assert not np.allclose(out, x)


@pytest.mark.parametrize("kind", BLOCKS)
def test_block_with_zeroed_branch_is_identity(kind):
  x = _nonnegative((2, 4, 4, 8), seed=1)
  block = BLOCKS[kind]()
  variables = jax.tree.map(np.array, block.init(_key(1), x, train=False))
  last_norm = variables["params"]["BatchNorm_1" if kind == "basic" else "BatchNorm_2"]
  last_norm["scale"] = np.zeros_like(last_norm["scale"])
  last_norm["bias"] = np.zeros_like(last_norm["bias"])
  np.testing.assert_array_equal(block.apply(variables, x, train=False), x)


def test_zero_pad_shortcut_subsamples_and_pads_channels():
  x = _nonnegative((2, 6, 6, 4), seed=2)
  block = resnet.BasicBlock(8, strides=2, shortcut="zero_pad", zero_init_residual=True)
  variables = block.init(_key(), x, train=False)
  assert not any("shortcut" in name for name in variables["params"])  # option A: no parameters
  expected = np.concatenate([x[:, ::2, ::2, :], np.zeros((2, 3, 3, 4), np.float32)], axis=-1)
  np.testing.assert_array_equal(block.apply(variables, x, train=False), expected)


def test_projection_shortcut_only_when_the_shape_changes():
  same = resnet.BasicBlock(4).init(_key(), jnp.zeros((1, 4, 4, 4)), train=False)
  changed = resnet.BasicBlock(8, strides=2).init(_key(), jnp.zeros((1, 4, 4, 4)), train=False)
  assert "shortcut_conv" not in same["params"]
  assert changed["params"]["shortcut_conv"]["kernel"].shape == (1, 1, 4, 8)


def test_plain_block_has_no_shortcut():
  x = _nonnegative((1, 4, 4, 4), seed=3)
  block = resnet.BasicBlock(4, shortcut="none")
  variables = jax.tree.map(np.array, block.init(_key(), x, train=False))
  variables["params"]["BatchNorm_1"]["scale"][:] = 0
  variables["params"]["BatchNorm_1"]["bias"][:] = 0
  np.testing.assert_array_equal(block.apply(variables, x, train=False), 0.0)  # no x carried


# ---------------------------------------------------------------------------------------------
# Whole networks (the shapes of every constructor are checked with the parameter counts above):
# one small net through jit, grad and a bfloat16 forward.


def test_small_resnet_jit_grad_bfloat16_and_features():
  model = resnet.ResNet((1, 1), resnet.BasicBlock, num_classes=3, width=4, stem="cifar")
  model16 = model.clone(dtype=jnp.bfloat16)
  x = jnp.asarray(np.random.default_rng(4).normal(size=(4, 8, 8, 1)), jnp.float32)
  labels = jnp.array([0, 1, 2, 0])

  @jax.jit
  def run(key):
    variables = model.init(key, x, train=False)

    def loss(params):
      logits, state = model.apply(
        {**variables, "params": params}, x, train=True, mutable=["batch_stats", "intermediates"]
      )
      log_probs = jax.nn.log_softmax(logits)
      return -jnp.mean(log_probs[jnp.arange(4), labels]), state

    (value, state), grads = jax.value_and_grad(loss, has_aux=True)(variables["params"])
    logits16 = model16.apply(variables, x.astype(jnp.bfloat16), train=False)
    return value, state, grads, logits16

  value, state, grads, logits16 = run(_key())
  assert np.isfinite(float(value))
  assert state["intermediates"]["features"][0].shape == (4, 8)
  assert np.all(np.isfinite(grads["head"]["kernel"])) and np.any(grads["head"]["kernel"] != 0)
  assert np.any(grads["stem_conv"]["kernel"] != 0)
  assert logits16.dtype == jnp.bfloat16 and logits16.shape == (4, 3)
  assert np.all(np.isfinite(np.asarray(logits16, np.float32)))


# ---------------------------------------------------------------------------------------------
# Residual GAN blocks


@pytest.mark.parametrize("upsample", resnet.UPSAMPLINGS)
def test_up_block_with_zeroed_branch_is_nearest_upsampling(upsample):
  x = np.random.default_rng(5).normal(size=(2, 3, 3, 4)).astype(np.float32)
  block = resnet.ResidualUpBlock(4, upsample=upsample)
  variables = jax.tree.map(np.array, block.init(_key(), x, train=False))
  assert "shortcut_conv" not in variables["params"]  # same channels: identity shortcut
  variables["params"]["conv2"]["kernel"][:] = 0
  variables["params"]["conv2"]["bias"][:] = 0
  expected = np.kron(x, np.ones((1, 2, 2, 1), np.float32))  # every pixel repeated 2 x 2
  np.testing.assert_array_equal(block.apply(variables, x, train=False), expected)


def test_down_block_with_zeroed_branch_is_mean_pooled_shortcut():
  x = np.random.default_rng(6).normal(size=(2, 4, 4, 3)).astype(np.float32)
  block = resnet.ResidualDownBlock(3, preactivate=False, spectral_norm=False)
  variables = jax.tree.map(np.array, block.init(_key(), x, train=False))
  variables["params"]["conv2"]["kernel"][:] = 0
  variables["params"]["conv2"]["bias"][:] = 0
  variables["params"]["shortcut_conv"]["kernel"][0, 0] = np.eye(3)
  variables["params"]["shortcut_conv"]["bias"][:] = 0
  expected = x.reshape(2, 2, 2, 2, 2, 3).mean(axis=(2, 4))  # 2x2 blocks averaged
  np.testing.assert_allclose(block.apply(variables, x, train=False), expected, rtol=1e-6)


def test_down_block_keeps_resolution_without_downsampling_and_uses_spectral_norm():
  x = jnp.ones((2, 4, 4, 3))
  block = resnet.ResidualDownBlock(5, downsample=False)
  variables = block.init(_key(), x, train=False)
  out, state = block.apply(variables, x, train=True, mutable=["batch_stats"])
  assert out.shape == (2, 4, 4, 5)
  assert {"conv1_spectral_norm", "conv2_spectral_norm", "shortcut_conv_spectral_norm"} <= set(
    state["batch_stats"]
  )


# ---------------------------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize("depth", [7, 21, 0, 20.0])
def test_cifar_resnet_rejects_bad_depth(depth):
  with pytest.raises(ValueError, match="6n \\+ 2"):
    resnet.cifar_resnet(depth)


@pytest.mark.parametrize(
  "model, message",
  [
    (resnet.BasicBlock(4, shortcut="skip"), "Unknown shortcut 'skip'"),
    (resnet.BasicBlock(4, shortcut="none", zero_init_residual=True), "zero_init_residual"),
    (resnet.BasicBlock(0), "filters"),
    (resnet.ResNet((1,), stem="tiny"), "Unknown stem 'tiny'"),
    (resnet.ResNet(()), "stage_sizes"),
    (resnet.ResidualUpBlock(4, upsample="bilinear"), "Unknown upsample 'bilinear'"),
  ],
)
def test_bad_configuration_raises(model, message):
  with pytest.raises(ValueError, match=message):
    jax.eval_shape(lambda: model.init(_key(), jnp.zeros((1, 8, 8, 4)), train=False))


def test_zero_pad_cannot_reduce_channels():
  block = resnet.BasicBlock(2, shortcut="zero_pad")
  with pytest.raises(ValueError, match="cannot reduce channels"):
    jax.eval_shape(lambda: block.init(_key(), jnp.zeros((1, 4, 4, 4)), train=False))


def test_unknown_architecture_lists_the_names():
  with pytest.raises(ValueError, match="resnet18"):
    resnet.get_architecture("resnet19")
