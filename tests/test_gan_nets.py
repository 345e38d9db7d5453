"""Tests of jaxgen.nn.gan: shapes, conditioning, batch norm, sown features, errors, sizes."""

import flax.linen
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.nn import build_network, gan
from jaxgen.nn.gan import DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator

BATCH, Z_DIM, NUM_CLASSES = 3, 5, 4
LABELS = np.array([0, 3, 1])
IMAGE_SHAPES = [(8, 8, 1), (16, 16, 1), (28, 28, 1), (32, 32, 3), (64, 64, 3)]
# (base side, number of stride-2 steps) each image shape gets by default.
EXPECTED_STEPS = {8: (4, 1), 16: (4, 2), 28: (7, 2), 32: (4, 3), 64: (4, 4)}


def _normal(shape, seed=0):
  return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _init_apply(module, inputs, labels=None, *, train=False, abstract=False):
  """Initialises `module` and applies it once; returns (output, variables, mutated collections).

  With `abstract=True`: shapes and dtypes only, nothing compiled. Otherwise the variables are drawn
  with NumPy (params ~ N(0, 0.1^2), BN statistics at their initial 0 / 1) and only the apply is
  compiled: compiling flax's random initialisers dominates the run time of these tests.
  """

  def init(inputs, labels):
    return module.init(jax.random.key(0), inputs, labels, train=False)

  def apply(variables, inputs, labels):
    return module.apply(
      variables, inputs, labels, train=train, mutable=["batch_stats", "intermediates"]
    )

  variables = jax.eval_shape(init, inputs, labels)
  if not abstract:
    rng = np.random.default_rng(0)
    variables = {
      "params": jax.tree.map(
        lambda p: (0.1 * rng.standard_normal(p.shape)).astype(p.dtype), variables["params"]
      ),
      **jax.tree_util.tree_map_with_path(
        lambda path, s: np.full(s.shape, path[-1].key == "var", s.dtype),
        {k: v for k, v in variables.items() if k != "params"},
      ),
    }
  if abstract:
    out, mutated = jax.eval_shape(apply, variables, inputs, labels)
  else:
    out, mutated = jax.jit(apply)(variables, inputs, labels)
  return out, variables, mutated


def _num_params(variables):
  return sum(p.size for p in jax.tree.leaves(variables["params"]))


@pytest.mark.parametrize("image_shape", IMAGE_SHAPES)
@pytest.mark.parametrize("num_classes", [0, NUM_CLASSES])
def test_dcgan_shapes(image_shape, num_classes):
  labels = LABELS if num_classes else None
  generator = DCGANGenerator(image_shape, base_features=4, num_classes=num_classes)
  z = _normal((BATCH, Z_DIM))
  samples, _, _ = _init_apply(generator, z, labels, train=True, abstract=True)
  assert samples.shape == (BATCH, *image_shape)

  discriminator = DCGANDiscriminator(base_features=4, num_classes=num_classes)
  logits, _, mutated = _init_apply(discriminator, samples, labels, train=True, abstract=True)
  assert logits.shape == (BATCH,)
  base, steps = EXPECTED_STEPS[image_shape[0]]
  # The last conv's output: base x base spatially, base_features * 2^(steps - 1) channels.
  (features,) = mutated["intermediates"]["features"]
  assert features.shape == (BATCH, base, base, 4 * 2 ** (steps - 1))


@pytest.mark.parametrize("num_classes", [0, NUM_CLASSES])
@pytest.mark.parametrize("maxout_pieces", [0, 5])
def test_mlp_shapes(num_classes, maxout_pieces):
  labels = LABELS if num_classes else None
  generator = MLPGenerator(output_dim=2, hidden=(8, 8), num_classes=num_classes)
  samples, _, _ = _init_apply(generator, _normal((BATCH, 2)), labels, train=True, abstract=True)
  assert samples.shape == (BATCH, 2)
  discriminator = MLPDiscriminator(
    hidden=(6, 7), maxout_pieces=maxout_pieces, num_classes=num_classes
  )
  logits, _, mutated = _init_apply(discriminator, samples, labels, abstract=True)
  assert logits.shape == (BATCH,)
  assert mutated["intermediates"]["features"][0].shape == (BATCH, 7)


def test_sown_features_are_the_last_conv_before_its_norm():
  # Batch norm (with the stored statistics), LeakyReLU and the Dense head, written in NumPy and
  # applied to the sown features, must give the logits: so the features are the pre-norm ones.
  discriminator = DCGANDiscriminator(base_features=2, num_downsamplings=2)
  x = _normal((BATCH, 8, 8, 1))
  _, variables, mutated = _init_apply(discriminator, x)
  (features,) = mutated["intermediates"]["features"]
  stats, params = variables["batch_stats"]["BatchNorm_0"], variables["params"]
  normed = (features - stats["mean"]) / np.sqrt(stats["var"] + gan.BATCH_NORM_EPSILON)
  normed = normed * params["BatchNorm_0"]["scale"] + params["BatchNorm_0"]["bias"]
  h = np.where(normed > 0, normed, gan.LEAKY_RELU_SLOPE * normed).reshape(BATCH, -1)
  head = params["Dense_0"]
  logits = jax.jit(lambda v, x: discriminator.apply(v, x, train=False))(variables, x)
  np.testing.assert_allclose(logits, h @ head["kernel"][:, 0] + head["bias"][0], atol=1e-5)


def test_batch_norm_statistics_update_in_train_and_are_used_in_eval():
  generator = MLPGenerator(output_dim=2, hidden=(4,))
  z = _normal((16, 3)) * 3.0 + 1.0
  _, variables, mutated = _init_apply(generator, z, train=True)
  old, new = variables["batch_stats"]["BatchNorm_0"], mutated["batch_stats"]["BatchNorm_0"]
  # Running average with decay m: new = m * old + (1 - m) * batch statistic.
  pre_norm = z @ np.asarray(variables["params"]["Dense_0"]["kernel"])
  m = gan.BATCH_NORM_MOMENTUM
  np.testing.assert_allclose(new["mean"], m * old["mean"] + (1 - m) * pre_norm.mean(0), atol=1e-5)
  np.testing.assert_allclose(new["var"], m * old["var"] + (1 - m) * pre_norm.var(0), atol=1e-4)

  # Eval mode normalises with the stored statistics, whatever the batch.
  updated = {**variables, "batch_stats": mutated["batch_stats"]}
  bn_scale = np.asarray(variables["params"]["BatchNorm_0"]["scale"])
  h = (pre_norm - new["mean"]) / np.sqrt(new["var"] + gan.BATCH_NORM_EPSILON) * bn_scale
  h = np.maximum(h + np.asarray(variables["params"]["BatchNorm_0"]["bias"]), 0.0)
  out = variables["params"]["Dense_1"]
  expected = h @ np.asarray(out["kernel"]) + np.asarray(out["bias"])
  evaluate = jax.jit(lambda v, z: generator.apply(v, z, train=False))
  np.testing.assert_allclose(evaluate(updated, z), expected, atol=1e-4)
  # One sample in eval mode gives what it gives inside the batch (no batch statistics used).
  np.testing.assert_allclose(evaluate(updated, z[:1]), expected[:1], atol=1e-4)


def test_conditional_generator_depends_on_labels():
  generator = DCGANGenerator((8, 8, 1), base_features=4, num_classes=NUM_CLASSES)
  z = np.repeat(_normal((1, Z_DIM)), NUM_CLASSES, axis=0)
  # Train mode: batch norm rescales the tiny N(0, 0.02^2)-initialised activations.
  samples, _, _ = _init_apply(generator, z, np.arange(NUM_CLASSES), train=True)
  assert np.all(np.abs(samples) <= 1.0) and np.any(np.abs(samples) > 0.1)  # tanh output
  for a in range(NUM_CLASSES):
    for b in range(a):
      assert np.max(np.abs(samples[a] - samples[b])) > 1e-4


def test_conditional_discriminator_depends_on_labels():
  discriminator = MLPDiscriminator(hidden=(8,), num_classes=NUM_CLASSES)
  x = np.repeat(_normal((1, 2)), NUM_CLASSES, axis=0)
  logits, _, _ = _init_apply(discriminator, x, np.arange(NUM_CLASSES))
  assert len(np.unique(np.round(np.asarray(logits), 6))) == NUM_CLASSES


def test_generator_loss_gradient_reaches_every_generator_parameter():
  generator = DCGANGenerator((16, 16, 1), base_features=4, num_classes=2)
  discriminator = DCGANDiscriminator(base_features=4, num_classes=2)
  z, labels = _normal((BATCH, Z_DIM)), LABELS % 2
  samples, g_vars, _ = _init_apply(generator, z, labels, train=True)
  _, d_vars, _ = _init_apply(discriminator, samples, labels, train=True)

  def non_saturating_loss(g_params):
    fake, _ = generator.apply(
      {**g_vars, "params": g_params}, z, labels, train=True, mutable=["batch_stats"]
    )
    logits, _ = discriminator.apply(d_vars, fake, labels, train=True, mutable=["batch_stats"])
    return jnp.mean(jax.nn.softplus(-logits))  # -log D(G(z))

  grads = jax.jit(jax.grad(non_saturating_loss))(g_vars["params"])
  for path, grad in jax.tree_util.tree_leaves_with_path(grads):
    assert np.all(np.isfinite(grad)) and np.any(grad != 0), jax.tree_util.keystr(path)


@pytest.mark.parametrize(
  "module, inputs, labels, match",
  [
    (MLPGenerator(num_classes=3), (BATCH, 2), None, "needs labels"),
    (MLPGenerator(), (BATCH, 2), LABELS, "unconditional"),
    (MLPDiscriminator(num_classes=3), (BATCH, 2), LABELS[:2], r"shape \(3,\)"),
    (MLPDiscriminator(num_classes=3), (BATCH, 2), LABELS.astype(float), "integers"),
    (MLPDiscriminator(num_classes=-1), (BATCH, 2), None, "num_classes"),
    (MLPDiscriminator(maxout_pieces=1), (BATCH, 2), None, "maxout_pieces"),
    (MLPDiscriminator(hidden=(0,)), (BATCH, 2), None, "hidden width"),
    (MLPGenerator(), (BATCH, 2, 1), None, r"\[batch, z_dim\]"),
    (DCGANGenerator((27, 27, 1)), (BATCH, 2), None, "27 x 27"),
    (DCGANGenerator((6, 6, 1)), (BATCH, 2), None, "6 x 6"),
    (DCGANGenerator((28, 28)), (BATCH, 2), None, "image_shape"),
    (DCGANGenerator((28, 28, 1), num_upsamplings=3), (BATCH, 2), None, "divisible by 8"),
    (DCGANGenerator((28, 28, 1), base_features=0), (BATCH, 2), None, "base_features"),
    (DCGANDiscriminator(norm="spectral"), (BATCH, 8, 8, 1), None, "'batch', 'layer', 'none'"),
    (DCGANDiscriminator(), (BATCH, 64), None, r"\[batch, H, W, C\]"),
    (DCGANDiscriminator(num_classes=2), (BATCH, 8, 8, 1), None, "needs labels"),
  ],
)
def test_bad_input_raises(module, inputs, labels, match):
  with pytest.raises(ValueError, match=match):
    _init_apply(module, jax.ShapeDtypeStruct(inputs, jnp.float32), labels, abstract=True)


def test_resolution_steps():
  for side, (base, steps) in EXPECTED_STEPS.items():
    assert gan.resolution_steps(side, side) == steps and side == base * 2**steps
  assert gan.resolution_steps(8, 16) == 1  # the shorter side sets the base
  assert gan.resolution_steps(8, 8, 2) == 2  # explicit: a 2 x 2 base


def test_bfloat16_forward_runs():
  bf16 = dict(num_classes=2, dtype=jnp.bfloat16)
  generator = DCGANGenerator((8, 8, 1), base_features=4, num_upsamplings=2, **bf16)
  z, labels = _normal((BATCH, Z_DIM)).astype(jnp.bfloat16), LABELS % 2
  samples, _, _ = _init_apply(generator, z, labels, train=True)
  assert samples.dtype == jnp.bfloat16 and samples.shape == (BATCH, 8, 8, 1)
  for norm in ("batch", "layer"):
    discriminator = DCGANDiscriminator(base_features=4, norm=norm, num_downsamplings=2, **bf16)
    logits, _, _ = _init_apply(discriminator, samples, labels, train=True)
    assert logits.dtype == jnp.bfloat16
    assert np.all(np.isfinite(np.asarray(logits, np.float32)))
  mlp = MLPDiscriminator(hidden=(4,), dtype=jnp.bfloat16)
  assert _init_apply(mlp, z[:, :2])[0].dtype == jnp.bfloat16


def test_layer_norm_critic_has_no_batch_statistics():
  # WGAN-GP critics must not mix samples: each logit depends on its own input only.
  critic = DCGANDiscriminator(base_features=2, norm="layer")
  x = _normal((BATCH, 8, 8, 1))
  logits, variables, mutated = _init_apply(critic, x, train=True)
  assert "batch_stats" not in variables and "batch_stats" not in mutated
  alone = critic.apply(variables, x[:1], train=True)
  np.testing.assert_allclose(alone, logits[:1], atol=1e-5)


def _count(*shapes):
  return sum(int(np.prod(s)) for s in shapes)


@pytest.mark.parametrize(
  "module, inputs, labels, expected",
  [
    # Dense 3 -> 4*4*4 (no bias); BN(4); ConvT 4x4 4 -> 2 (no bias); BN(2); ConvT 2 -> 1 + bias.
    (
      DCGANGenerator((16, 16, 1), base_features=2),
      (2, 3),
      None,
      _count((3, 64), (2, 4), (4, 4, 4, 2), (2, 2), (4, 4, 2, 1), (1,)),
    ),
    # One-hot of 3 classes widens the Dense input to 3 + 3.
    (
      DCGANGenerator((8, 8, 1), base_features=2, num_classes=3),
      (2, 3),
      np.array([0, 2]),
      _count((6, 32), (2, 2), (4, 4, 2, 1), (1,)),
    ),
    # Conv 4x4 1 -> 2 + bias; Conv 2 -> 4 (no bias, BN follows); BN(4); Dense 4*4*4 -> 1 + bias.
    (
      DCGANDiscriminator(base_features=2),
      (2, 16, 16, 1),
      None,
      _count((4, 4, 1, 2), (2,), (4, 4, 2, 4), (2, 4), (64, 1), (1,)),
    ),
    # Labels as 3 extra channels; norm 'none' keeps the second conv's bias.
    (
      DCGANDiscriminator(base_features=2, norm="none", num_classes=3),
      (2, 16, 16, 1),
      np.array([0, 2]),
      _count((4, 4, 4, 2), (2,), (4, 4, 2, 4), (4,), (64, 1), (1,)),
    ),
    # Dense 2 -> 3 (no bias); BN(3); Dense 3 -> 2 + bias.
    (MLPGenerator(output_dim=2, hidden=(3,)), (2, 2), None, _count((2, 3), (2, 3), (3, 2), (2,))),
    # Maxout: Dense 2 -> 3 * 2 pieces + bias; head 3 -> 1 + bias.
    (
      MLPDiscriminator(hidden=(3,), maxout_pieces=2),
      (2, 2),
      None,
      _count((2, 6), (6,), (3, 1), (1,)),
    ),
  ],
)
def test_parameter_counts(module, inputs, labels, expected):
  _, variables, _ = _init_apply(
    module, jax.ShapeDtypeStruct(inputs, jnp.float32), labels, abstract=True
  )
  assert _num_params(variables) == expected


def test_generator_with_flax_conv_transpose_is_the_same_function():
  z = _normal((BATCH, Z_DIM))
  ours = DCGANGenerator((16, 16, 1), base_features=4)
  samples, variables, _ = _init_apply(ours, z, train=True)
  theirs = DCGANGenerator((16, 16, 1), base_features=4, conv_transpose=flax.linen.ConvTranspose)
  their_samples, _ = jax.jit(lambda v, z: theirs.apply(v, z, train=True, mutable=["batch_stats"]))(
    variables, z
  )
  np.testing.assert_allclose(samples, their_samples, atol=1e-5)


def test_build_network_by_role_and_its_errors():
  net = build_network(
    "generator", "generator", {"name": "mlp", "hidden": (4,)}, example_shape=(2,), num_classes=0
  )
  assert isinstance(net, MLPGenerator) and net.output_dim == 2
  with pytest.raises(
    ValueError, match=r"Unknown decoder network 'nope'; choose one of \['conv', 'mlp'\]"
  ):
    build_network("decoder", "decoder", {"name": "nope"}, example_shape=(2,), num_classes=0)
  with pytest.raises(ValueError, match="Unknown network role 'critic'"):
    build_network("critic", "critic", {"name": "mlp"}, example_shape=(2,), num_classes=0)
  with pytest.raises(
    ValueError, match=r"Bad options \['hidden', 'wings'\] for the 'mlp' discriminator"
  ):
    build_network(
      "discriminator",
      "discriminator",
      {"name": "mlp", "hidden": (4,), "wings": 2},
      example_shape=(2,),
      num_classes=0,
    )
