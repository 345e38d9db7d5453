"""Tests of jaxgen.nn.highway against the layer's formula written out in NumPy."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.nn import highway


def _key(seed=0):
  return jax.random.key(seed, impl="rbg")


def _random(seed, shape):
  return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def _set_gate(variables, bias):
  """A copy of `variables` with the gate's kernel zeroed and its bias set: T(x) = sigmoid(bias)."""
  variables = jax.tree.map(np.array, variables)
  gate = variables["params"]["gate"]
  gate["kernel"][...] = 0
  gate["bias"][...] = bias
  return variables


LAYERS = {
  "dense": (highway.Highway(), (3, 6)),
  "conv": (highway.HighwayConv(), (2, 4, 4, 3)),
}


@pytest.mark.parametrize("kind", LAYERS)
def test_closed_gate_is_identity_and_passes_gradient(kind):
  layer, shape = LAYERS[kind]
  x = _random(0, shape)
  variables = _set_gate(layer.init(_key(), x), bias=-100.0)  # T = sigmoid(-100) ~ 4e-44
  np.testing.assert_array_equal(layer.apply(variables, x), x)
  # The carry path passes the gradient unchanged: d/dx sum(y * v) = v.
  v = _random(1, shape)
  grad = jax.grad(lambda x: jnp.sum(layer.apply(variables, x) * v))(x)
  np.testing.assert_allclose(grad, v, rtol=1e-6)


def test_dense_highway_matches_numpy():
  x = _random(2, (4, 5))
  layer = highway.Highway()
  variables = jax.tree.map(np.array, layer.init(_key(), x))
  params = variables["params"]
  params["gate"]["kernel"] = _random(3, (5, 5))
  h = np.maximum(x @ params["transform"]["kernel"] + params["transform"]["bias"], 0)
  t = 1 / (1 + np.exp(-(x @ params["gate"]["kernel"] + params["gate"]["bias"])))
  np.testing.assert_allclose(layer.apply(variables, x), h * t + x * (1 - t), rtol=1e-5, atol=1e-6)


def test_open_gate_is_the_plain_transform():
  x = _random(4, (3, 6))
  layer = highway.Highway()
  variables = _set_gate(layer.init(_key(), x), bias=100.0)  # T = 1
  params = variables["params"]["transform"]
  expected = np.maximum(x @ params["kernel"] + params["bias"], 0)
  np.testing.assert_allclose(layer.apply(variables, x), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("gate_bias", [-1.0, -3.0])
def test_gate_bias_initialisation(gate_bias):
  x = _random(5, (8, 4))
  layer = highway.Highway(gate_bias=gate_bias)
  variables = layer.init(_key(), x)
  np.testing.assert_array_equal(variables["params"]["gate"]["bias"], gate_bias)
  _, state = layer.apply(variables, x, mutable=["intermediates"])
  (gate_mean,) = state["intermediates"]["gate_mean"]
  assert float(gate_mean) < 0.5  # gates start mostly closed


def _highway_net_params_closed_form(in_features, features, depth, num_outputs):
  layer = features * features + features
  return (
    in_features * features + features + depth * 2 * layer + features * num_outputs + num_outputs
  )


@pytest.mark.parametrize("depth", [1, 7, 50])
def test_highway_net_of_any_depth(depth):
  model = highway.HighwayNet(depth=depth, features=6, num_outputs=3)
  variables, out = jax.eval_shape(
    lambda: (lambda v: (v, model.apply(v, jnp.zeros((2, 5)))))(
      model.init(_key(), jnp.zeros((2, 5)))
    )
  )
  count = sum(int(np.prod(p.shape)) for p in jax.tree.leaves(variables["params"]))
  assert count == _highway_net_params_closed_form(5, 6, depth, 3)
  assert out.shape == (2, 3)


def test_convolutional_highway_net_shapes():
  model = highway.HighwayNet(depth=2, features=4, kernel_size=(3, 3))
  out = jax.eval_shape(
    lambda: model.apply(model.init(_key(), jnp.zeros((2, 6, 6, 1))), jnp.zeros((2, 6, 6, 1)))
  )
  assert out.shape == (2, 6, 6, 4)


@pytest.mark.parametrize(
  "model, shape, message",
  [
    (highway.HighwayNet(depth=0, features=4), (2, 3), "depth"),
    (highway.HighwayNet(depth=2, features=4, num_outputs=0), (2, 3), "num_outputs"),
    (highway.HighwayNet(depth=2, features=4, kernel_size=(3, 3)), (2, 3), "height, width"),
    (highway.Highway(gate_bias=float("nan")), (2, 3), "gate_bias"),
  ],
)
def test_bad_configuration_raises(model, shape, message):
  with pytest.raises(ValueError, match=message):
    model.init(_key(), jnp.zeros(shape))
