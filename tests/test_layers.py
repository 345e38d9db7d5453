"""Tests of jaxgen.nn.layers against NumPy references and closed forms.

The shape / jit / grad / bfloat16 sweep at the end covers every layer and block of jaxgen.nn's
architectures (layers, resnet blocks, highway), so the three test files do not repeat it; whole
ResNets are checked in test_resnet.py.
"""

import functools
import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.nn import highway, layers, resnet


def _key(seed):
  # XLA's RngBitGenerator: initialising a conv net compiles in a fraction of threefry's time on CPU.
  return jax.random.key(seed, impl="rbg")


def _random(seed, shape):
  return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Spectral normalisation


class _SpectralDense(nn.Module):
  features: int
  n_steps: int

  @nn.compact
  def __call__(self, x, train):
    layer = nn.Dense(self.features, use_bias=False, name="dense")
    return layers.spectral_normalized(layer, update_stats=train, n_steps=self.n_steps)(x)


class _SpectralConv(nn.Module):
  features: int

  @nn.compact
  def __call__(self, x, train):
    layer = nn.Conv(self.features, (3, 3), use_bias=False, name="conv")
    return layers.spectral_normalized(layer, update_stats=train)(x)


def _train_power_iteration(model, x, calls):
  variables = model.init(_key(0), x, train=False)
  apply = jax.jit(functools.partial(model.apply, train=True, mutable=["batch_stats"]))
  for _ in range(calls):
    _, updates = apply(variables, x)
    variables = {"params": variables["params"], **updates}
  return variables


@pytest.mark.parametrize("n_steps, calls", [(1, 60), (60, 1)])
def test_spectral_norm_top_singular_value_is_one(n_steps, calls):
  x = _random(0, (5, 30))
  model = _SpectralDense(features=20, n_steps=n_steps)
  variables = _train_power_iteration(model, x, calls)
  kernel = np.asarray(variables["params"]["dense"]["kernel"])
  stats = variables["batch_stats"]["dense_spectral_norm"]
  sigma_estimate = float(stats["dense/kernel/sigma"])
  normalized = kernel / sigma_estimate
  np.testing.assert_allclose(np.linalg.svd(normalized, compute_uv=False)[0], 1.0, atol=1e-2)
  # The layer really runs with W / sigma(W).
  sigma_true = np.linalg.svd(kernel, compute_uv=False)[0]
  out = model.apply(variables, x, train=False)
  np.testing.assert_allclose(out, x @ kernel / sigma_true, rtol=1e-2, atol=1e-4)


def test_spectral_norm_flattens_conv_kernels():
  x = _random(1, (2, 6, 6, 4))
  model = _SpectralConv(features=8)
  variables = _train_power_iteration(model, x, calls=60)
  kernel = np.asarray(variables["params"]["conv"]["kernel"])  # [3, 3, 4, 8]
  sigma_true = np.linalg.svd(kernel.reshape(-1, 8), compute_uv=False)[0]
  plain = nn.Conv(8, (3, 3), use_bias=False).apply({"params": {"kernel": kernel}}, x)
  out = model.apply(variables, x, train=False)
  np.testing.assert_allclose(out, np.asarray(plain) / sigma_true, rtol=1e-2, atol=1e-4)


def test_spectral_norm_state_updates_only_when_asked():
  x = _random(2, (3, 7))
  model = _SpectralDense(features=5, n_steps=1)
  variables = model.init(_key(0), x, train=False)
  _, frozen = model.apply(variables, x, train=False, mutable=["batch_stats"])
  _, updated = model.apply(variables, x, train=True, mutable=["batch_stats"])
  u_before = variables["batch_stats"]["dense_spectral_norm"]["dense/kernel/u"]
  np.testing.assert_array_equal(
    frozen["batch_stats"]["dense_spectral_norm"]["dense/kernel/u"], u_before
  )
  assert not np.allclose(updated["batch_stats"]["dense_spectral_norm"]["dense/kernel/u"], u_before)


def test_spectral_norm_disabled_returns_the_layer():
  layer = nn.Dense(3)
  assert layers.spectral_normalized(layer, update_stats=True, enabled=False) is layer
  with pytest.raises(ValueError, match="n_steps"):
    layers.spectral_normalized(layer, update_stats=True, n_steps=0)


# ---------------------------------------------------------------------------------------------
# Self-attention


def _attention_numpy(x, params, gamma):
  """Zhang et al. 2019, eq. 1-3, written out with explicit softmax."""
  batch, height, width, channels = x.shape
  flat = x.reshape(batch, height * width, channels)
  f = flat @ params["f"]["kernel"][0, 0]
  g = flat @ params["g"]["kernel"][0, 0]
  h = flat @ params["h"]["kernel"][0, 0]
  s = np.einsum("bic,bjc->bij", f, g)  # s_ij = f(x_i)^T g(x_j)
  beta = np.exp(s - s.max(axis=1, keepdims=True))
  beta = beta / beta.sum(axis=1, keepdims=True)  # beta_ji: normalised over i
  o = np.einsum("bij,bic->bjc", beta, h) @ params["v"]["kernel"][0, 0]
  return (gamma * o + flat).reshape(x.shape), np.transpose(beta, (0, 2, 1))


def test_self_attention_with_gamma_zero_is_identity():
  x = _random(3, (2, 4, 5, 16))
  module = layers.SelfAttention(reduction=4)
  variables = module.init(_key(0), x)
  assert float(variables["params"]["gamma"]) == 0.0
  np.testing.assert_array_equal(module.apply(variables, x), x)


def test_self_attention_matches_numpy_and_rows_sum_to_one():
  x = _random(4, (2, 3, 4, 8))
  module = layers.SelfAttention(reduction=2)
  params = jax.tree.map(np.asarray, module.init(_key(1), x)["params"])
  params["gamma"] = np.float32(0.7)
  out, state = module.apply({"params": params}, x, mutable=["intermediates"])
  (attention,) = state["intermediates"]["attention"]
  expected, expected_attention = _attention_numpy(x, params, 0.7)
  np.testing.assert_allclose(attention.sum(axis=-1), 1.0, atol=1e-6)
  np.testing.assert_allclose(attention, expected_attention, rtol=1e-4, atol=1e-6)
  np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)


def test_self_attention_gamma_receives_gradient_at_zero():
  x = _random(5, (2, 4, 4, 8))
  module = layers.SelfAttention(reduction=2)
  params = module.init(_key(0), x)["params"]
  grads = jax.grad(lambda p: jnp.sum(module.apply({"params": p}, x) ** 2))(params)
  assert abs(float(grads["gamma"])) > 0


def test_self_attention_rejects_bad_channels():
  with pytest.raises(ValueError, match="divisible by reduction"):
    layers.SelfAttention(reduction=8).init(_key(0), jnp.zeros((1, 2, 2, 12)))


# ---------------------------------------------------------------------------------------------
# Minibatch discrimination and minibatch standard deviation


def _minibatch_discrimination_numpy(features, t):
  """Salimans et al. 2016, Sec. 3.2, with explicit loops over i, j, b (self term excluded)."""
  n = features.shape[0]
  m = np.einsum("na,abc->nbc", features, t)
  o = np.zeros((n, t.shape[1]))
  for i in range(n):
    for j in range(n):
      if i != j:
        o[i] += np.exp(-np.abs(m[i] - m[j]).sum(axis=-1))
  return np.concatenate([features, o], axis=-1)


def test_minibatch_discrimination_matches_numpy():
  features = _random(6, (5, 7))
  module = layers.MinibatchDiscrimination(num_kernels=4, kernel_dim=3)
  variables = module.init(_key(0), features)
  t = np.asarray(variables["params"]["T"]["kernel"]).reshape(7, 4, 3)
  expected = _minibatch_discrimination_numpy(features, t)
  np.testing.assert_allclose(module.apply(variables, features), expected, rtol=1e-5, atol=1e-6)


def test_minibatch_discrimination_identical_samples_count_the_others():
  features = np.tile(_random(7, (1, 6)), (4, 1))
  module = layers.MinibatchDiscrimination(num_kernels=3, kernel_dim=2)
  out = module.apply(module.init(_key(0), features), features)
  np.testing.assert_allclose(out[:, 6:], 3.0)  # n - 1 others at distance 0


def _minibatch_stddev_numpy(x, group_size):
  """Karras et al. 2018, Sec. 3: sample i is in group i mod (batch / group_size)."""
  batch = x.shape[0]
  num_groups = batch // group_size
  stats = np.zeros(batch)
  for g in range(num_groups):
    members = x[g::num_groups]
    stats[g::num_groups] = np.mean(np.sqrt(members.var(axis=0) + 1e-8))
  channel = np.broadcast_to(stats.reshape(batch, *([1] * (x.ndim - 1))), (*x.shape[:-1], 1))
  return np.concatenate([x, channel], axis=-1)


@pytest.mark.parametrize("shape, group_size", [((8, 3, 3, 2), 4), ((6, 5), 2), ((3, 2, 2, 1), 4)])
def test_minibatch_stddev_matches_numpy(shape, group_size):
  x = _random(8, shape)
  expected = _minibatch_stddev_numpy(x, min(group_size, shape[0]))
  np.testing.assert_allclose(layers.minibatch_stddev(x, group_size), expected, rtol=1e-5)
  np.testing.assert_allclose(layers.MinibatchStdDev(group_size).apply({}, x), expected, rtol=1e-5)


def test_minibatch_stddev_rejects_indivisible_batch():
  with pytest.raises(ValueError, match="divisible by group_size"):
    layers.minibatch_stddev(jnp.zeros((6, 2)), group_size=4)


# ---------------------------------------------------------------------------------------------
# Pixel norm and equalised learning rate


def test_pixel_norm_unit_mean_square_and_scale_invariance():
  x = _random(9, (2, 3, 3, 16))
  y = np.asarray(layers.pixel_norm(x, epsilon=0.0))
  np.testing.assert_allclose(np.mean(y**2, axis=-1), 1.0, rtol=1e-5)
  np.testing.assert_allclose(y, x / np.sqrt(np.mean(x**2, axis=-1, keepdims=True)), rtol=1e-5)
  np.testing.assert_allclose(layers.PixelNorm().apply({}, 5.0 * x), layers.pixel_norm(x), rtol=1e-5)


def test_he_constant():
  assert layers.he_constant(50) == pytest.approx(math.sqrt(2 / 50))
  with pytest.raises(ValueError, match="fan_in"):
    layers.he_constant(0)


def test_equalized_dense_scales_at_run_time():
  x = _random(10, (4, 256))
  module = layers.EqualizedDense(64)
  variables = module.init(_key(0), x)
  kernel = np.asarray(variables["params"]["linear"]["kernel"])
  assert abs(kernel.std() - 1.0) < 0.02  # stored weights ~ N(0, 1)
  c = math.sqrt(2.0 / 256)
  np.testing.assert_allclose(module.apply(variables, x), x @ (c * kernel), rtol=1e-4, atol=1e-5)
  # d/dw sum(y * v) = c * x^T v: the run-time constant also scales the gradient of stored weights.
  v = _random(11, (4, 64))
  grads = jax.grad(lambda p: jnp.sum(module.apply({"params": p}, x) * v))(variables["params"])
  np.testing.assert_allclose(grads["linear"]["kernel"], c * x.T @ v, rtol=1e-4, atol=1e-5)
  np.testing.assert_allclose(grads["bias"], v.sum(axis=0), rtol=1e-5)


def _conv_same_numpy(x, kernel):
  """Cross-correlation with zero 'SAME' padding, written as explicit loops over the window."""
  kh, kw = kernel.shape[:2]
  padded = np.pad(x, ((0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)))
  out = np.zeros((*x.shape[:3], kernel.shape[-1]))
  for i in range(kh):
    for j in range(kw):
      window = padded[:, i : i + x.shape[1], j : j + x.shape[2], :]
      out += window @ kernel[i, j]
  return out


def test_equalized_conv_matches_numpy():
  x = _random(12, (2, 5, 5, 3))
  module = layers.EqualizedConv(4, kernel_size=(3, 3), gain=1.0)
  variables = module.init(_key(0), x)
  params = jax.tree.map(np.asarray, variables["params"])
  params["bias"] = _random(13, (4,))
  expected = _conv_same_numpy(x, params["conv"]["kernel"] / math.sqrt(27)) + params["bias"]
  np.testing.assert_allclose(module.apply({"params": params}, x), expected, rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------------------------------------
# Every module of jaxgen.nn's architectures: shapes, jit, grad, bfloat16 forward.

# (name, module factory taking dtype, input shape, expected output shape, takes_train)
MODULES = [
  (
    "SelfAttention",
    lambda d: layers.SelfAttention(8, spectral_norm=True, dtype=d),
    (2, 4, 4, 16),
    (2, 4, 4, 16),
    True,
  ),
  (
    "MinibatchDiscrimination",
    lambda d: layers.MinibatchDiscrimination(6, 3, dtype=d),
    (4, 10),
    (4, 16),
    False,
  ),
  ("MinibatchStdDev", lambda d: layers.MinibatchStdDev(2), (4, 3, 3, 5), (4, 3, 3, 6), False),
  ("PixelNorm", lambda d: layers.PixelNorm(), (2, 3, 3, 5), (2, 3, 3, 5), False),
  ("EqualizedDense", lambda d: layers.EqualizedDense(7, dtype=d), (3, 5), (3, 7), False),
  (
    "EqualizedConv",
    lambda d: layers.EqualizedConv(6, strides=(2, 2), dtype=d),
    (2, 6, 6, 3),
    (2, 3, 3, 6),
    False,
  ),
  (
    "BasicBlock",
    lambda d: resnet.BasicBlock(8, strides=2, dtype=d),
    (2, 6, 6, 4),
    (2, 3, 3, 8),
    True,
  ),
  (
    "BottleneckBlock",
    lambda d: resnet.BottleneckBlock(4, strides=2, dtype=d),
    (2, 6, 6, 8),
    (2, 3, 3, 16),
    True,
  ),
  (
    "ResidualUpBlock",
    lambda d: resnet.ResidualUpBlock(6, dtype=d),
    (2, 4, 4, 8),
    (2, 8, 8, 6),
    True,
  ),
  (
    "ResidualUpBlock-transposed",
    lambda d: resnet.ResidualUpBlock(6, upsample="transposed", dtype=d),
    (2, 4, 4, 8),
    (2, 8, 8, 6),
    True,
  ),
  (
    "ResidualDownBlock",
    lambda d: resnet.ResidualDownBlock(6, dtype=d),
    (2, 8, 8, 3),
    (2, 4, 4, 6),
    True,
  ),
  ("Highway", lambda d: highway.Highway(dtype=d), (3, 9), (3, 9), False),
  ("HighwayConv", lambda d: highway.HighwayConv(dtype=d), (2, 5, 5, 4), (2, 5, 5, 4), False),
  ("HighwayNet", lambda d: highway.HighwayNet(4, 6, num_outputs=3, dtype=d), (3, 5), (3, 3), False),
  (
    "HighwayNetConv",
    lambda d: highway.HighwayNet(3, 4, 2, kernel_size=(3, 3), dtype=d),
    (2, 5, 5, 1),
    (2, 2),
    False,
  ),
]


@pytest.mark.parametrize(
  "make, in_shape, out_shape, takes_train", [m[1:] for m in MODULES], ids=[m[0] for m in MODULES]
)
def test_module_shapes_jit_grad_and_bfloat16(make, in_shape, out_shape, takes_train):
  kwargs = {"train": True} if takes_train else {}
  module, module16 = make(jnp.float32), make(jnp.bfloat16)

  @jax.jit  # one compilation per module: init, a gradient, and the bfloat16 forward
  def check(key, x):
    variables = module.init(key, x, **kwargs)
    params = variables.get("params", {})
    state = {k: v for k, v in variables.items() if k != "params"}

    def loss(params):
      out, _ = module.apply({"params": params, **state}, x, mutable=True, **kwargs)
      return jnp.sum(out**2), out

    (value, out), grads = jax.value_and_grad(loss, has_aux=True)(params)
    out16, _ = module16.apply(variables, x.astype(jnp.bfloat16), mutable=True, **kwargs)
    return value, out, grads, out16

  value, out, grads, out16 = check(_key(0), jnp.asarray(_random(14, in_shape)))
  assert out.shape == out_shape
  assert np.isfinite(float(value))
  assert all(np.all(np.isfinite(g)) for g in jax.tree.leaves(grads))
  if jax.tree.leaves(grads):
    assert any(np.any(g != 0) for g in jax.tree.leaves(grads))
  assert out16.shape == out_shape
  assert out16.dtype == jnp.bfloat16
  assert np.all(np.isfinite(np.asarray(out16, np.float32)))


# Float64 stays float64 through the layers that widen low precision for their statistics
# (the float64 gradient checks rely on it); bfloat16 comes back bfloat16.
@pytest.mark.parametrize(
  ("layer", "bfloat16_result"),
  [
    (lambda x: layers.pixel_norm(x), jnp.bfloat16),
    (lambda x: layers.minibatch_stddev(x, 2), jnp.bfloat16),
    (lambda x: _attention_map(x), jnp.float32),  # the softmax is taken in float32
  ],
  ids=["pixel_norm", "minibatch_stddev", "self_attention"],
)
def test_statistics_keep_float64(layer, bfloat16_result):
  with jax.enable_x64(True):
    x = jnp.asarray(np.random.default_rng(0).normal(size=(4, 3, 3, 4)), jnp.float64)
    out = layer(x)
    assert out.dtype == jnp.float64
    # 1 + 1e-12 survives float64 arithmetic only: a float32 detour rounds the difference away.
    nudged = layer(x.at[0, 0, 0, 0].multiply(1 + 1e-12))
    assert np.any(np.asarray(nudged) != np.asarray(out))
  assert layer(x.astype(jnp.bfloat16)).dtype == bfloat16_result


def _attention_map(x):
  """SelfAttention's sown map (the block's output is x itself at gamma = 0)."""
  module = layers.SelfAttention(reduction=2)
  variables = module.init(jax.random.key(0), x)
  _, sown = module.apply(variables, x, mutable=["intermediates"])
  return sown["intermediates"]["attention"][0]
