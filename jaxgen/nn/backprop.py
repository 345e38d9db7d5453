"""Hand-written backpropagation: the delta rule for a fully connected sigmoid network.

This is the gradient oracle of the library: forward and backward passes are written out by hand,
with no autodiff, so tests can check `jax.grad` against it (and it against finite differences).

Notation (Rumelhart, Hinton & Williams 1986): unit i feeds unit j through weight w_ij; the net
input of unit j is net_j = sum_i w_ij o_i + b_j and its output o_j = 1 / (1 + exp(-net_j)). The
error over a batch of patterns p is E = 1/2 sum_p sum_j (o_pj - t_pj)^2 over the output units.
With delta_j = dE/dnet_j::

  output unit:  delta_j = (o_j - t_j) * o_j * (1 - o_j)
  hidden unit:  delta_j = o_j * (1 - o_j) * sum_k w_jk delta_k      (k: the children of j)
  dE/dw_ij = delta_j * o_i,   dE/db_j = delta_j                     (summed over patterns)
  delta rule:   Delta w_ij = -lr * delta_j * o_i

References:
  Rumelhart, Hinton & Williams, "Learning representations by back-propagating errors", Nature
  323, 533-536, 1986 (eq. 1-8).
  Rumelhart, Hinton & Williams, "Learning internal representations by error propagation", in
  Parallel Distributed Processing, vol. 1, ch. 8, MIT Press, 1986 (the generalized delta rule;
  its delta has the opposite sign, delta = -dE/dnet).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp


class Layer(NamedTuple):
  """One fully connected layer: `weights[i, j]` is w_ij from unit i to unit j."""

  weights: jax.Array  # (fan_in, fan_out)
  bias: jax.Array  # (fan_out,): the weight from an extra input that is always 1 (RHW 1986).


Params = list[Layer]


def init_params(
  key: jax.Array, layer_sizes: Sequence[int], scale: float = 0.5, dtype=jnp.float32
) -> Params:
  """Small uniform random weights in [-scale, scale], which break the symmetry between units.

  Args:
    key: a `jax.random` key.
    layer_sizes: units per layer, input first, output last (at least two layers).
    scale: half-width of the uniform initial distribution, > 0.
    dtype: floating dtype of the params.

  Returns:
    A list of `Layer`, one per pair of consecutive layers.
  """
  sizes = list(layer_sizes)
  if len(sizes) < 2 or any(not isinstance(n, int) or n < 1 for n in sizes):
    raise ValueError(
      f"layer_sizes must list at least 2 positive ints (input ... output); got {layer_sizes!r}."
    )
  if not (math.isfinite(scale) and scale > 0):
    raise ValueError(f"scale must be a finite number in (0, inf); got {scale!r}.")
  keys = jax.random.split(key, 2 * (len(sizes) - 1))
  return [
    Layer(
      weights=jax.random.uniform(k_w, (n_in, n_out), dtype, -scale, scale),
      bias=jax.random.uniform(k_b, (n_out,), dtype, -scale, scale),
    )
    for n_in, n_out, k_w, k_b in zip(sizes[:-1], sizes[1:], keys[::2], keys[1::2], strict=True)
  ]


def _sigmoid(net: jax.Array) -> jax.Array:
  return 1 / (1 + jnp.exp(-net))  # The logistic unit, RHW 1986 eq. 2.


def _check_shapes(params: Params, inputs: jax.Array, targets: jax.Array | None = None) -> None:
  if not params:
    raise ValueError("params must hold at least one Layer; got an empty list.")
  fan_in, fan_out = params[0].weights.shape[0], params[-1].weights.shape[1]
  if inputs.ndim != 2 or inputs.shape[1] != fan_in:
    raise ValueError(f"inputs must have shape (batch, {fan_in}); got {inputs.shape}.")
  if targets is not None and targets.shape != (inputs.shape[0], fan_out):
    raise ValueError(
      f"targets must have shape ({inputs.shape[0]}, {fan_out}); got {targets.shape}."
    )


def forward(params: Params, inputs: jax.Array) -> list[jax.Array]:
  """The outputs o of every layer, input layer first, for a batch `inputs` of shape (batch, n_in).

  Each layer computes o_j = sigmoid(sum_i w_ij o_i + b_j) (RHW 1986, eq. 1-2).
  """
  _check_shapes(params, inputs)
  outputs = [inputs]
  for layer in params:
    outputs.append(_sigmoid(outputs[-1] @ layer.weights + layer.bias))
  return outputs


def squared_error(params: Params, inputs: jax.Array, targets: jax.Array) -> jax.Array:
  """E = 1/2 sum_p sum_j (o_pj - t_pj)^2 over patterns p and output units j (RHW 1986, eq. 3)."""
  _check_shapes(params, inputs, targets)
  return 0.5 * jnp.sum((forward(params, inputs)[-1] - targets) ** 2)


def gradients(params: Params, inputs: jax.Array, targets: jax.Array) -> Params:
  """dE/dw and dE/db of `squared_error` by the delta rule, with the structure of `params`.

  Args:
    params: a list of `Layer`, as from `init_params`.
    inputs: a batch of input patterns, shape (batch, n_in).
    targets: the target outputs t, shape (batch, n_out).

  Returns:
    A list of `Layer` holding dE/dw_ij = sum_p delta_pj o_pi and dE/db_j = sum_p delta_pj.
  """
  _check_shapes(params, inputs, targets)
  outputs = forward(params, inputs)
  output = outputs[-1]
  # Output units: dE/do_j = o_j - t_j (eq. 4), times do_j/dnet_j = o_j (1 - o_j) (eq. 5).
  delta = (output - targets) * output * (1 - output)
  grads = [None] * len(params)
  for depth in reversed(range(len(params))):
    o_in = outputs[depth]
    # dE/dw_ij = delta_j * o_i, summed over the patterns of the batch (eq. 6).
    grads[depth] = Layer(weights=o_in.T @ delta, bias=jnp.sum(delta, axis=0))
    if depth > 0:
      # Hidden units: delta_i = o_i (1 - o_i) sum_j w_ij delta_j over the children j (eq. 7, 5).
      delta = o_in * (1 - o_in) * (delta @ params[depth].weights.T)
  return grads


def delta_rule_step(
  params: Params, inputs: jax.Array, targets: jax.Array, learning_rate: float
) -> Params:
  """One step of the delta rule: Delta w_ij = -lr * delta_j * o_i (RHW 1986, eq. 8).

  Args:
    params: a list of `Layer`.
    inputs: a batch of input patterns, shape (batch, n_in).
    targets: the target outputs, shape (batch, n_out).
    learning_rate: the step size lr (epsilon in the paper), a finite number >= 0.

  Returns:
    The updated params.

  Example:
    >>> import jax, jax.numpy as jnp
    >>> from jaxgen.nn import backprop
    >>> params = backprop.init_params(jax.random.key(0), [2, 3, 1])
    >>> xor_in = jnp.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    >>> xor_out = jnp.array([[0.0], [1.0], [1.0], [0.0]])
    >>> params = backprop.delta_rule_step(params, xor_in, xor_out, learning_rate=0.5)
  """
  if isinstance(learning_rate, int | float) and not (
    math.isfinite(learning_rate) and learning_rate >= 0
  ):
    raise ValueError(f"learning_rate must be a finite number in [0, inf); got {learning_rate!r}.")
  grads = gradients(params, inputs, targets)
  return [
    Layer(weights=p.weights - learning_rate * g.weights, bias=p.bias - learning_rate * g.bias)
    for p, g in zip(params, grads, strict=True)
  ]
