"""Tests of jaxgen.nn.conv: the fast-gradient transposed convolution.

References: `flax.linen.ConvTranspose` and a NumPy loop for the forward pass; JAX's own autodiff of
`lax.conv_transpose` for the gradients (our custom VJP is derived by hand, autodiff is not).
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from jaxgen.nn.conv import ConvTranspose, conv_transpose

# (kernel_size, strides, padding, kernel_dilation, input spatial shape): odd sizes, kernels smaller
# and larger than the stride (negative pads for VALID with k < s), explicit asymmetric pads.
CASES = [
  ((4, 4), (2, 2), "SAME", (1, 1), (7, 7)),
  ((5, 5), (2, 2), "SAME", (1, 1), (5, 6)),
  ((3, 3), (2, 2), "VALID", (1, 1), (5, 4)),
  ((1, 1), (3, 3), "VALID", (1, 1), (3, 4)),
  ((2, 3), (3, 1), "SAME", (1, 1), (4, 5)),
  ((3, 3), (1, 1), "SAME", (2, 2), (6, 5)),
  ((2, 2), (3, 2), "VALID", (2, 1), (3, 3)),
  ((3, 3), (2, 2), ((2, 1), (0, 3)), (1, 1), (5, 5)),
  ((3, 3), (2, 2), 1, (1, 1), (4, 4)),
]
DIMENSION_NUMBERS = ("NHWC", "HWIO", "NHWC")


def _random(shape, seed, dtype=np.float32):
  # NumPy, not jax.random: a jax.random draw compiles once per shape, which dominates test time.
  return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _variables(x, kernel_size, features=4, use_bias=True, seed=1):
  params = {"kernel": _random((*kernel_size, x.shape[-1], features), seed)}
  if use_bias:
    params["bias"] = _random((features,), seed + 1)
  return {"params": params}


def _flax_and_ours(kernel_size, strides, padding, dilation, **kwargs):
  args = dict(
    features=4, kernel_size=kernel_size, strides=strides, padding=padding, kernel_dilation=dilation
  )
  return nn.ConvTranspose(**args, **kwargs), ConvTranspose(**args, **kwargs)


@pytest.mark.parametrize("kernel_size, strides, padding, dilation, spatial", CASES)
def test_matches_flax_conv_transpose(kernel_size, strides, padding, dilation, spatial):
  x = _random((2, *spatial, 3), 0)
  theirs, ours = _flax_and_ours(kernel_size, strides, padding, dilation)
  variables = _variables(x, kernel_size)
  their_shapes = jax.eval_shape(theirs.init, jax.random.key(1), x)
  assert jax.eval_shape(ours.init, jax.random.key(1), x) == their_shapes
  assert jax.tree.map(jnp.shape, variables) == jax.tree.map(jnp.shape, their_shapes)
  np.testing.assert_allclose(
    ours.apply(variables, x), theirs.apply(variables, x), rtol=1e-5, atol=1e-5
  )


def test_same_initial_parameters_as_flax():
  x = _random((1, 3, 3, 2), 0)
  theirs, ours = _flax_and_ours((3, 3), (2, 2), "SAME", None, bias_init=nn.initializers.ones)
  key = jax.random.key(7)
  jax.tree.map(np.testing.assert_array_equal, ours.init(key, x), theirs.init(key, x))


@pytest.mark.parametrize("batch_shape", [(), (3,), (2, 3)])
def test_batch_axes_and_other_ranks_match_flax(batch_shape):
  for kernel_size, strides, spatial in [((3,), (2,), (5,)), ((2, 3, 2), (2, 1, 3), (3, 2, 2))]:
    x = _random((*batch_shape, *spatial, 2), 0)
    theirs, ours = _flax_and_ours(kernel_size, strides, "SAME", None, use_bias=False)
    variables = _variables(x, kernel_size, use_bias=False)
    np.testing.assert_allclose(
      ours.apply(variables, x), theirs.apply(variables, x), rtol=1e-6, atol=1e-6
    )


def _numpy_conv_transpose_1d(x, kernel, stride, pads):
  """Scatter form: input position i, tap t land on output o = stride * i + lo - t (no flip)."""
  (lo, hi), (n, _), (k, _, c_out) = pads, x.shape, kernel.shape
  length = stride * (n - 1) + 1 + lo + hi - (k - 1)
  y = np.zeros((length, c_out))
  for i in range(n):
    for t in range(k):
      o = stride * i + lo - t
      if 0 <= o < length:
        y[o] += x[i] @ kernel[t]
  return y


@pytest.mark.parametrize("pads", [(3, 3), (0, 0), (-1, 2), (4, 1)])
def test_forward_matches_numpy_loop(pads):
  x, kernel = np.asarray(_random((6, 2), 0)), np.asarray(_random((4, 2, 3), 1))
  ours = conv_transpose(x[None], kernel, 2, (pads,), precision="highest")[0]
  np.testing.assert_allclose(ours, _numpy_conv_transpose_1d(x, kernel, 2, pads), atol=1e-5)


def _loss(conv):
  # A non-linear loss, so the cotangent cos(y) differs from position to position.
  return lambda x, kernel: jnp.sum(jnp.sin(conv(x, kernel)))


def _assert_gradients_equal_autodiff(
  spatial, kernel_size, strides, padding, dilation, dimension_numbers
):
  with jax.enable_x64(True):
    x = _random((2, *spatial, 3), 0, np.float64)
    kernel = _random((*kernel_size, 3, 4), 1, np.float64)
    pads = ((padding, padding),) * len(spatial) if isinstance(padding, int) else padding
    reference = _loss(
      lambda x, k: lax.conv_transpose(
        x, k, strides, pads, rhs_dilation=dilation, dimension_numbers=dimension_numbers
      )
    )
    ours = _loss(lambda x, k: conv_transpose(x, k, strides, padding, dilation))
    np.testing.assert_allclose(ours(x, kernel), reference(x, kernel), rtol=1e-12)
    for got, want in zip(
      jax.grad(ours, (0, 1))(x, kernel), jax.grad(reference, (0, 1))(x, kernel), strict=True
    ):
      assert got.shape == want.shape and got.dtype == jnp.float64
      np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("kernel_size, strides, padding, dilation, spatial", CASES)
def test_gradients_equal_autodiff_float64(kernel_size, strides, padding, dilation, spatial):
  _assert_gradients_equal_autodiff(
    spatial, kernel_size, strides, padding, dilation, DIMENSION_NUMBERS
  )


@pytest.mark.parametrize(
  "kernel_size, strides, padding, dilation, spatial, dimension_numbers",
  [
    ((4,), (3,), "SAME", (1,), (5,), ("NHC", "HIO", "NHC")),
    ((3,), (2,), "VALID", (2,), (4,), ("NHC", "HIO", "NHC")),
    ((2, 3, 2), (2, 1, 3), "SAME", (1, 2, 1), (3, 2, 2), ("NDHWC", "DHWIO", "NDHWC")),
  ],
)
def test_gradients_equal_autodiff_in_1d_and_3d(
  kernel_size, strides, padding, dilation, spatial, dimension_numbers
):
  _assert_gradients_equal_autodiff(
    spatial, kernel_size, strides, padding, dilation, dimension_numbers
  )


def test_module_gradients_equal_flax_float32_under_jit():
  x = _random((3, 7, 7, 8), 0)
  theirs, ours = _flax_and_ours((4, 4), (2, 2), "SAME", None, precision="highest")
  variables = _variables(x, (4, 4))

  def loss(module):
    return jax.jit(jax.grad(lambda v, x: jnp.sum(module.apply(v, x) ** 2), (0, 1)))

  got, want = loss(ours)(variables, x), loss(theirs)(variables, x)
  jax.tree.map(lambda g, w: np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5), got, want)


def test_second_order_gradient_equals_autodiff():
  # Reverse-over-reverse (e.g. a penalty on a gradient through the generator) differentiates the
  # custom backward pass itself.
  x, kernel = _random((1, 3, 3, 2), 0), _random((3, 3, 2, 2), 1)

  def grad_norm(conv):
    return lambda k: jnp.sum(jax.grad(lambda x: jnp.sum(jnp.tanh(conv(x, k))))(x) ** 2)

  reference = grad_norm(
    lambda x, k: lax.conv_transpose(
      x, k, (2, 2), "SAME", dimension_numbers=DIMENSION_NUMBERS, precision="highest"
    )
  )
  ours = grad_norm(lambda x, k: conv_transpose(x, k, 2, "SAME", precision="highest"))
  np.testing.assert_allclose(jax.grad(ours)(kernel), jax.grad(reference)(kernel), atol=1e-5)


def test_bfloat16_forward_and_grad_run():
  x = _random((2, 4, 4, 3), 0)
  layer = ConvTranspose(5, (4, 4), strides=2, dtype=jnp.bfloat16)
  variables = _variables(x, (4, 4), features=5)
  y = jax.jit(layer.apply)(variables, x.astype(jnp.bfloat16))
  assert y.dtype == jnp.bfloat16 and y.shape == (2, 8, 8, 5)
  reference = ConvTranspose(5, (4, 4), strides=2).apply(variables, x)
  np.testing.assert_allclose(np.asarray(y, np.float32), reference, rtol=0.05, atol=0.05)
  grads = jax.grad(lambda v: jnp.sum(layer.apply(v, x).astype(jnp.float32)))(variables)
  assert grads["params"]["kernel"].dtype == jnp.float32  # param_dtype stays float32
  assert np.all(np.isfinite(np.asarray(grads["params"]["kernel"])))


@pytest.mark.parametrize(
  "kwargs, match",
  [
    (dict(padding="CIRCULAR"), "CIRCULAR"),
    (dict(padding="same"), "padding"),
    (dict(padding=((1, 2, 3), (0, 0))), "padding"),
    (dict(strides=0), "strides"),
    (dict(strides=(2, 2, 2)), "strides"),
    (dict(kernel_dilation=(1, -1)), "kernel_dilation"),
    (dict(kernel_size=(3, 0)), "kernel_size"),
  ],
)
def test_bad_arguments_raise(kwargs, match):
  layer = ConvTranspose(**{"features": 2, "kernel_size": (3, 3), **kwargs})
  with pytest.raises(ValueError, match=match):
    jax.eval_shape(layer.init, jax.random.key(0), jnp.ones((1, 4, 4, 1)))


def test_mismatched_kernel_raises():
  with pytest.raises(ValueError, match="do not match"):
    conv_transpose(jnp.ones((1, 4, 4, 2)), jnp.ones((3, 3, 5, 1)), 2)


def test_forward_mode_is_refused_with_a_type_error():
  # Documented limitation of a custom VJP: reverse mode only.
  x, kernel = jnp.ones((1, 3, 3, 2)), jnp.ones((3, 3, 2, 1))
  with pytest.raises(TypeError, match="forward-mode"):
    jax.jvp(lambda k: conv_transpose(x, k, 2), (kernel,), (kernel,))
