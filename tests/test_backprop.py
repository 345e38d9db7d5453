"""Tests for the hand-written delta rule: against jax.grad, finite differences and hand algebra."""

import math

import chex
import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.nn import backprop

# No hidden layer, one hidden layer, two hidden layers.
ARCHITECTURES = [(3, 2), (3, 5, 2), (4, 6, 5, 3)]


def _problem(layer_sizes, dtype=jnp.float32, batch=7):
  """Random params, input patterns and targets in [0, 1] (NumPy's RNG: no per-shape compiles)."""
  rng = np.random.default_rng(sum(layer_sizes))
  params = [
    backprop.Layer(
      weights=jnp.asarray(rng.uniform(-1, 1, (n_in, n_out)), dtype),
      bias=jnp.asarray(rng.uniform(-1, 1, n_out), dtype),
    )
    for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:], strict=True)
  ]
  inputs = jnp.asarray(rng.normal(size=(batch, layer_sizes[0])), dtype)
  targets = jnp.asarray(rng.uniform(size=(batch, layer_sizes[-1])), dtype)
  return params, inputs, targets


def test_init_params_shapes_dtype_and_range():
  params = backprop.init_params(jax.random.key(0), [4, 6, 3], scale=0.3, dtype=jnp.bfloat16)
  assert [(p.weights.shape, p.bias.shape) for p in params] == [((4, 6), (6,)), ((6, 3), (3,))]
  for leaf in jax.tree.leaves(params):
    assert leaf.dtype == jnp.bfloat16
    assert 0 < float(jnp.max(jnp.abs(leaf))) <= 0.3


@pytest.mark.parametrize("layer_sizes", ARCHITECTURES)
def test_delta_rule_gradients_equal_jax_grad(layer_sizes):
  params, inputs, targets = _problem(layer_sizes)
  expected = jax.grad(backprop.squared_error)(params, inputs, targets)
  chex.assert_trees_all_close(
    backprop.gradients(params, inputs, targets), expected, rtol=1e-6, atol=1e-6
  )


def _central_differences(loss, params, step=1e-6):
  """(loss(theta + h e_k) - loss(theta - h e_k)) / 2h for every scalar theta_k of params."""
  flat, unravel = jax.flatten_util.ravel_pytree(params)
  bumps = step * jnp.eye(flat.size, dtype=flat.dtype)
  flat_loss = jax.jit(jax.vmap(lambda theta: loss(unravel(theta))))
  return unravel((flat_loss(flat + bumps) - flat_loss(flat - bumps)) / (2 * step))


@pytest.mark.parametrize("layer_sizes", ARCHITECTURES[1:])
@pytest.mark.usefixtures("x64")
def test_jax_grad_equals_central_differences_in_float64(layer_sizes):
  params, inputs, targets = _problem(layer_sizes, dtype=jnp.float64)
  assert params[0].weights.dtype == jnp.float64
  loss = lambda p: backprop.squared_error(p, inputs, targets)
  # Truncation error O(h^2) = 1e-12 plus rounding O(eps / h) = 1e-10.
  expected = _central_differences(loss, params)
  chex.assert_trees_all_close(jax.grad(loss)(params), expected, rtol=1e-7, atol=1e-8)
  chex.assert_trees_all_close(
    backprop.gradients(params, inputs, targets), expected, rtol=1e-7, atol=1e-8
  )


def test_single_unit_step_by_hand():
  # One sigmoid unit, one pattern: o = s(w x + b), delta = (o - t) o (1 - o),
  # Delta w = -lr delta x, Delta b = -lr delta, with the numbers worked out in plain Python.
  w, b, x, t, lr = 0.3, -0.2, 2.0, 1.0, 0.5
  o = 1 / (1 + math.exp(-(w * x + b)))
  delta = (o - t) * o * (1 - o)
  params = [backprop.Layer(weights=jnp.array([[w]]), bias=jnp.array([b]))]
  (new,) = backprop.delta_rule_step(params, jnp.array([[x]]), jnp.array([[t]]), lr)
  np.testing.assert_allclose(new.weights, [[w - lr * delta * x]], rtol=1e-6)
  np.testing.assert_allclose(new.bias, [b - lr * delta], rtol=1e-6)


def test_hidden_delta_by_hand():
  # A 1-1-1 chain: delta_out = (o2 - t) o2 (1 - o2); delta_hidden = o1 (1 - o1) w2 delta_out;
  # dE/dw1 = delta_hidden * x.
  w1, b1, w2, b2, x, t = 0.7, 0.1, -1.3, 0.4, 1.5, 0.2
  o1 = 1 / (1 + math.exp(-(w1 * x + b1)))
  o2 = 1 / (1 + math.exp(-(w2 * o1 + b2)))
  delta_out = (o2 - t) * o2 * (1 - o2)
  delta_hidden = o1 * (1 - o1) * w2 * delta_out
  params = [
    backprop.Layer(weights=jnp.array([[w1]]), bias=jnp.array([b1])),
    backprop.Layer(weights=jnp.array([[w2]]), bias=jnp.array([b2])),
  ]
  hidden, output = backprop.gradients(params, jnp.array([[x]]), jnp.array([[t]]))
  np.testing.assert_allclose(
    [hidden.weights[0, 0], hidden.bias[0], output.weights[0, 0], output.bias[0]],
    [delta_hidden * x, delta_hidden, delta_out * o1, delta_out],
    rtol=1e-6,
  )


@pytest.mark.parametrize("layer_sizes", ARCHITECTURES)
def test_delta_rule_step_descends(layer_sizes):
  params, inputs, targets = _problem(layer_sizes)
  lr = 0.05
  stepped = backprop.delta_rule_step(params, inputs, targets, lr)
  expected = jax.tree.map(
    lambda p, g: p - lr * g, params, jax.grad(backprop.squared_error)(params, inputs, targets)
  )
  chex.assert_trees_all_close(stepped, expected, rtol=1e-6, atol=1e-6)
  before = backprop.squared_error(params, inputs, targets)
  assert backprop.squared_error(stepped, inputs, targets) < before


@pytest.mark.parametrize(
  ("call", "message"),
  [
    (lambda: backprop.init_params(jax.random.key(0), [3]), r"layer_sizes .*at least 2"),
    (lambda: backprop.init_params(jax.random.key(0), [3, 0]), r"layer_sizes .*positive"),
    (lambda: backprop.init_params(jax.random.key(0), [3, 2], scale=0.0), r"scale .*\(0, inf\)"),
    (
      lambda: backprop.forward(*_problem((3, 2))[:1], jnp.ones((4, 5))),
      r"inputs must have shape \(batch, 3\); got \(4, 5\)",
    ),
    (
      lambda: backprop.gradients(*_problem((3, 2))[:2], jnp.ones((7, 4))),
      r"targets must have shape \(7, 2\); got \(7, 4\)",
    ),
    (
      lambda: backprop.delta_rule_step(*_problem((3, 2)), learning_rate=-1.0),
      r"learning_rate .*\[0, inf\)",
    ),
  ],
  ids=["one_layer", "empty_layer", "zero_scale", "inputs", "targets", "negative_lr"],
)
def test_bad_input_raises(call, message):
  with pytest.raises(ValueError, match=message):
    call()
