"""Tests of jaxgen.nn.sagan: shapes, the sown attention map, spectral norm on every kernel,
conditional batch norm, refused attention resolutions, and a few training steps of sagan_digits."""

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.configs import sagan_digits
from jaxgen.nn import build_network
from jaxgen.nn.sagan import ConditionalBatchNorm, SAGANDiscriminator, SAGANGenerator
from jaxgen.run import train

BATCH, Z_DIM, NUM_CLASSES = 4, 6, 3
LABELS = np.array([0, 1, 2, 1])


def _normal(shape, seed=0):
  return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _init(module, seed, inputs, labels):
  """The module's variables drawn with NumPy: compiling flax's random initialisers takes longer
  than everything else these tests compile. Kernels ~ N(0, 0.1^2), per-class BN gamma / beta at 1
  / 0 (their init), BN statistics at 0 / 1, power-iteration vectors u ~ N(0, 1), sigma 1, and the
  attention blocks' gamma at 0.5 so that attention reaches the output."""
  shapes = jax.eval_shape(lambda x: module.init(jax.random.key(0), x, labels, train=False), inputs)
  rng = np.random.default_rng(seed)

  def draw(path, leaf):
    name = path[-1].key
    fills = {"scale": 1.0, "var": 1.0, "sigma": 1.0, "gamma": 0.5, "mean": 0.0}
    if name in fills or (name == "bias" and len(leaf.shape) == 2):
      return jnp.full(leaf.shape, fills.get(name, 0.0), leaf.dtype)
    std = 1.0 if name == "u" else 0.1
    return jnp.asarray(rng.standard_normal(leaf.shape) * std, leaf.dtype)

  return jax.tree_util.tree_map_with_path(draw, shapes)


def _apply(module, variables, inputs, labels, train_mode=True):
  return module.apply(
    variables, inputs, labels, train=train_mode, mutable=["batch_stats", "intermediates"]
  )


def _flat(tree):
  return flax.traverse_util.flatten_dict(flax.core.unfreeze(tree), sep="/")


def _attention_maps(intermediates):
  return [v[0] for k, v in _flat(intermediates).items() if k.endswith("attention")]


@pytest.mark.parametrize(
  "image_shape, resolution, labels",
  [((16, 16, 1), 8, None), ((32, 32, 3), 16, LABELS)],
)
def test_shapes_attention_map_and_features(image_shape, resolution, labels):
  num_classes = 0 if labels is None else NUM_CLASSES
  g = SAGANGenerator(image_shape, base_features=8, num_classes=num_classes,
                     attention_resolution=resolution)  # fmt: skip
  d = SAGANDiscriminator(base_features=8, num_classes=num_classes, attention_resolution=resolution)
  z = _normal((BATCH, Z_DIM))
  g_vars = _init(g, 0, z, labels)
  d_vars = _init(d, 1, jax.ShapeDtypeStruct((BATCH, *image_shape), jnp.float32), labels)

  @jax.jit
  def g_then_d(g_vars, d_vars):  # one compilation for both networks
    x, g_state = _apply(g, g_vars, z, labels)
    return x, g_state, *_apply(d, d_vars, x, labels)

  x, g_state, logits, d_state = g_then_d(g_vars, d_vars)
  assert x.shape == (BATCH, *image_shape)
  assert np.all(np.abs(np.asarray(x)) <= 1.0)
  assert logits.shape == (BATCH,)
  assert np.all(np.isfinite(np.asarray(logits)))
  positions = resolution * resolution
  for state in (g_state, d_state):
    (attention,) = _attention_maps(state["intermediates"])  # exactly one attention block
    assert attention.shape == (BATCH, positions, positions)  # at the chosen resolution
    np.testing.assert_allclose(np.asarray(attention).sum(-1), 1.0, rtol=1e-5)
    assert np.all(np.asarray(attention) >= 0)
  # D sows its last conv's output, as the DCGAN D: 16 -> 8 -> 4 (x 16 ch), 32 -> ... -> 4 (x 32).
  (features,) = d_state["intermediates"]["features"]
  assert features.shape == (BATCH, 4, 4, 8 * 2 ** (len(_valid(image_shape)) - 1))


def _valid(image_shape):
  from jaxgen.nn.sagan import valid_attention_resolutions

  return valid_attention_resolutions(*image_shape[:2])


def test_valid_attention_resolutions():
  assert _valid((16, 16, 1)) == (8, 4)
  assert _valid((32, 32, 3)) == (16, 8, 4)


def _check_every_kernel_normalised(variables, expected_layers):
  """Every >= 2-D param is under a `*_spectral_norm` scope (conditional BN's per-class tables
  excepted) and W / sigma_estimate has largest singular value 1 (numpy's SVD, float64)."""
  params, stats = _flat(variables["params"]), _flat(variables["batch_stats"])
  normalised = set()
  for path, value in params.items():
    if np.ndim(value) < 2:
      continue
    parts = path.split("/")
    if parts[-2].startswith("ConditionalBatchNorm"):
      continue
    layer = parts[-2]
    sigma_key = "/".join([*parts[:-2], f"{layer}_spectral_norm", layer, parts[-1], "sigma"])
    assert sigma_key in stats, f"{path} is not spectrally normalised"
    sigma = float(stats[sigma_key])
    w = np.asarray(value, np.float64)
    w = w.reshape(-1, w.shape[-1])
    top = np.linalg.svd(w / sigma, compute_uv=False)[0]
    np.testing.assert_allclose(top, 1.0, atol=1e-2, err_msg=path)
    normalised.add(parts[-2])
  assert normalised == expected_layers


def test_every_kernel_of_both_networks_is_spectrally_normalised():
  # One power iteration per training-mode call (Miyato et al. 2018, Algorithm 1), many calls.
  calls = 100
  g = SAGANGenerator((16, 16, 1), base_features=8, num_classes=NUM_CLASSES)
  d = SAGANDiscriminator(base_features=8, num_classes=NUM_CLASSES)
  z = _normal((BATCH, Z_DIM))
  g_vars = _init(g, 0, z, LABELS)
  x = _normal((BATCH, 16, 16, 1), seed=2)
  d_vars = _init(d, 1, x, LABELS)

  def power_iterate(module, variables, inputs):
    step = jax.jit(lambda stats: _apply(module, {**variables, "batch_stats": stats}, inputs,
                                        LABELS)[1]["batch_stats"])  # fmt: skip
    stats = variables["batch_stats"]
    for _ in range(calls):
      stats = step(stats)
    return stats

  g_state = {"batch_stats": power_iterate(g, g_vars, z)}
  d_state = {"batch_stats": power_iterate(d, d_vars, x)}
  attention = {"f", "g", "h", "v"}
  _check_every_kernel_normalised(
    {**g_vars, "batch_stats": g_state["batch_stats"]}, {"project", "up0", "to_image"} | attention
  )
  _check_every_kernel_normalised(
    {**d_vars, "batch_stats": d_state["batch_stats"]},
    {"down0", "down1", "head", "embed"} | attention,
  )


def test_conditional_batch_norm_starts_as_batch_norm():
  x = _normal((BATCH, 5, 5, 6)) * 3 + 1
  cbn = ConditionalBatchNorm(NUM_CLASSES, train=True)
  bn = nn.BatchNorm(use_running_average=False, momentum=0.9, epsilon=1e-5)
  cbn_vars = cbn.init(jax.random.key(0), x, LABELS)
  bn_vars = bn.init(jax.random.key(0), x)
  cbn_out, cbn_state = cbn.apply(cbn_vars, x, LABELS, mutable=["batch_stats"])
  bn_out, bn_state = bn.apply(bn_vars, x, mutable=["batch_stats"])
  np.testing.assert_allclose(cbn_out, bn_out, rtol=1e-5, atol=1e-5)
  for a, b in zip(
    jax.tree.leaves(cbn_state["batch_stats"]), jax.tree.leaves(bn_state["batch_stats"]), strict=True
  ):
    np.testing.assert_allclose(a, b, rtol=1e-6)
  assert cbn_vars["params"]["scale"].shape == (NUM_CLASSES, 6)


def test_one_class_embedding_changes_only_that_class():
  g = SAGANGenerator((16, 16, 1), base_features=8, num_classes=NUM_CLASSES)
  z = np.repeat(_normal((1, Z_DIM)), BATCH, axis=0)  # the same z for every sample
  variables = _init(g, 0, z, LABELS)
  sample = jax.jit(lambda v: g.apply(v, z, LABELS, train=False))  # running stats: per sample
  before = np.asarray(sample(variables))
  # gamma = 1, beta = 0 for every class at init: the class does not matter yet.
  np.testing.assert_allclose(before, before[:1].repeat(BATCH, 0), atol=1e-6)
  params = jax.tree_util.tree_map_with_path(
    lambda path, p: p.at[1].add(0.5) if path[-1].key in ("scale", "bias") else p,
    variables["params"],
  )
  after = np.asarray(sample({**variables, "params": params}))
  changed = np.abs(after - before).reshape(BATCH, -1).max(-1) > 1e-4
  np.testing.assert_array_equal(changed, LABELS == 1)


@pytest.mark.parametrize("resolution", [16, 2, 5, True])
def test_unreachable_attention_resolution_is_refused(resolution):
  z, x = _normal((2, Z_DIM)), _normal((2, 16, 16, 1))
  message = r"attention_resolution.*\(8, 4\)"
  with pytest.raises(ValueError, match=message):
    SAGANGenerator((16, 16, 1), attention_resolution=resolution).init(
      jax.random.key(0), z, train=False
    )
  with pytest.raises(ValueError, match=message):
    SAGANDiscriminator(attention_resolution=resolution).init(jax.random.key(0), x, train=False)
  for role in ("generator", "discriminator"):
    with pytest.raises(ValueError, match=message):
      build_network(
        role,
        role,
        {"name": "sagan", "attention_resolution": resolution},
        example_shape=(16, 16, 1),
        num_classes=0,
      )


def test_registry_refuses_unknown_options():
  with pytest.raises(ValueError, match="Bad options"):
    build_network(
      "discriminator", "discriminator", {"name": "sagan", "bogus": 1},
      example_shape=(16, 16, 1), num_classes=0,
    )  # fmt: skip


def test_sagan_digits_trains_five_steps_with_finite_losses():
  config = sagan_digits.get_config()
  config.num_steps = 5  # the config's losses, optimizers, attention; narrow nets, small batch
  config.batch_size = 16
  config.model.generator.base_features = 8
  config.model.discriminator.base_features = 8
  run = train.Run(config)
  state = run.init_state()
  stats = lambda player: {
    k: np.asarray(v) for k, v in _flat(state.players[player].model_state["batch_stats"]).items()
  }
  initial = {player: stats(player) for player in ("generator", "discriminator")}  # before donation
  for step in range(config.num_steps):
    state, metrics = run.step(state, step)
    losses = {k: float(v) for k, v in metrics.items() if "loss" in k}
    assert losses and all(np.isfinite(v) for v in losses.values()), losses
  # The power-iteration vectors of both players moved with training.
  for player in ("generator", "discriminator"):
    before, after = initial[player], stats(player)
    vectors = [k for k in after if k.endswith("/u")]
    assert vectors and any(not np.allclose(before[k], after[k]) for k in vectors), player
