"""Our own Optax transforms: SGD, heavy-ball momentum and Nesterov momentum.

Each factory returns an `optax.GradientTransformation` built from the update rule itself (not a
wrapper of `optax.sgd` / `optax.trace`), so it composes with `optax.chain` and runs under `jax.jit`.
The semantics of `dampening` and `weight_decay` are those of `torch.optim.SGD`.

`make_optimizer(config)` turns a config mapping into a transform; it knows ours and Optax's.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

ScalarOrSchedule = float | Callable[[jax.Array], jax.Array]


class SgdState(NamedTuple):
  """State of `sgd`: the number of updates applied so far (drives the schedule)."""

  count: jax.Array


class MomentumState(NamedTuple):
  """State of `momentum` / `nesterov`: the step count and the momentum buffer b."""

  count: jax.Array
  momentum_buffer: optax.Updates


def _check_learning_rate(learning_rate: ScalarOrSchedule) -> None:
  if callable(learning_rate):
    return
  lr = float(learning_rate)
  if not math.isfinite(lr) or lr < 0:
    raise ValueError(
        f"learning_rate must be a finite number >= 0 or an optax schedule; got {learning_rate!r}."
    )


def _check_unit_interval(name: str, value: float, *, closed: bool) -> None:
  upper_ok = value <= 1 if closed else value < 1
  if not (math.isfinite(value) and value >= 0 and upper_ok):
    allowed = "[0, 1]" if closed else "[0, 1)"
    raise ValueError(f"{name} must lie in {allowed}; got {value!r}.")


def _check_weight_decay(weight_decay: float) -> None:
  if not (math.isfinite(weight_decay) and weight_decay >= 0):
    raise ValueError(f"weight_decay must be a finite number >= 0; got {weight_decay!r}.")


def _learning_rate_at(learning_rate: ScalarOrSchedule, count: jax.Array) -> jax.Array:
  return learning_rate(count) if callable(learning_rate) else jnp.asarray(learning_rate)


def _add_coupled_weight_decay(grads, params, weight_decay: float):
  """g <- g + weight_decay * theta (L2 added to the gradient, torch.optim.SGD's `weight_decay`)."""
  if weight_decay == 0:
    return grads
  if params is None:
    raise ValueError("weight_decay > 0 needs the params: call update(grads, state, params).")
  return jax.tree.map(lambda g, p: g + weight_decay * p.astype(g.dtype), grads, params)


def _scale_updates(directions, learning_rate: jax.Array, like):
  """-lr * direction, cast back to the dtype of the gradient it replaces."""
  return jax.tree.map(lambda d, g: (-learning_rate * d).astype(g.dtype), directions, like)


def sgd(learning_rate: ScalarOrSchedule, weight_decay: float = 0.0) -> optax.GradientTransformation:
  """Plain stochastic gradient descent.

  Update rule (with coupled L2, as `torch.optim.SGD`)::

    g_t <- g_t + weight_decay * theta_t
    theta_{t+1} = theta_t - lr_t * g_t

  Args:
    learning_rate: a float >= 0 or an optax schedule `count -> lr`.
    weight_decay: L2 coefficient added to the gradient (needs `params` in `update`).

  Returns:
    An `optax.GradientTransformation` whose updates are added to the params with
    `optax.apply_updates`.

  Example:
    >>> opt = sgd(0.1)
    >>> state = opt.init(params)
    >>> updates, state = opt.update(grads, state, params)

  References:
    Robbins & Monro, "A Stochastic Approximation Method", 1951.
  """
  _check_learning_rate(learning_rate)
  _check_weight_decay(weight_decay)

  def init_fn(params):
    del params
    return SgdState(count=jnp.zeros([], jnp.int32))

  def update_fn(updates, state, params=None):
    grads = _add_coupled_weight_decay(updates, params, weight_decay)
    lr = _learning_rate_at(learning_rate, state.count)
    return _scale_updates(grads, lr, updates), SgdState(count=optax.safe_increment(state.count))

  return optax.GradientTransformation(init_fn, update_fn)


def _momentum_family(
    learning_rate: ScalarOrSchedule,
    beta: float,
    dampening: float,
    weight_decay: float,
    nesterov: bool,
    accumulator_dtype: Any,
) -> optax.GradientTransformation:
  """The shared core of `momentum` and `nesterov` (torch.optim.SGD's algorithm)."""
  _check_learning_rate(learning_rate)
  _check_unit_interval("beta", beta, closed=False)
  _check_unit_interval("dampening", dampening, closed=True)
  _check_weight_decay(weight_decay)
  if nesterov and dampening != 0:
    raise ValueError(
        f"nesterov needs dampening == 0 (as torch.optim.SGD); got dampening={dampening!r}."
    )
  buffer_dtype = jnp.dtype(accumulator_dtype)

  def init_fn(params):
    buffer = jax.tree.map(lambda p: jnp.zeros(jnp.shape(p), buffer_dtype), params)
    return MomentumState(count=jnp.zeros([], jnp.int32), momentum_buffer=buffer)

  def update_fn(updates, state, params=None):
    grads = _add_coupled_weight_decay(updates, params, weight_decay)
    grads32 = jax.tree.map(lambda g: g.astype(buffer_dtype), grads)
    first_step = state.count == 0
    # torch.optim.SGD: b_1 = g_1 (no dampening on the first step); b_t = beta b + (1 - d) g after.
    buffer = jax.tree.map(
        lambda b, g: jnp.where(first_step, g, beta * b + (1.0 - dampening) * g),
        state.momentum_buffer,
        grads32,
    )
    if nesterov:
      # Step along g + beta * b_{t+1}: the gradient at the look-ahead point after the change of
      # variables phi = theta + beta * v (Sutskever et al. 2013, eq. 3-4; see `nesterov`).
      direction = jax.tree.map(lambda g, b: g + beta * b, grads32, buffer)
    else:
      direction = buffer
    lr = _learning_rate_at(learning_rate, state.count)
    new_state = MomentumState(count=optax.safe_increment(state.count), momentum_buffer=buffer)
    return _scale_updates(direction, lr, updates), new_state

  return optax.GradientTransformation(init_fn, update_fn)


def momentum(
    learning_rate: ScalarOrSchedule,
    beta: float = 0.9,
    dampening: float = 0.0,
    weight_decay: float = 0.0,
    accumulator_dtype: Any = jnp.float32,
) -> optax.GradientTransformation:
  """Heavy-ball momentum (Polyak 1964), in the buffer form of `torch.optim.SGD`.

  Update rule::

    g_t     <- g_t + weight_decay * theta_t
    b_1      = g_1;   b_{t+1} = beta * b_t + (1 - dampening) * g_t
    theta_{t+1} = theta_t - lr_t * b_{t+1}

  Equivalent velocity form (Sutskever et al. 2013, eq. 1-2): v <- beta * v - lr * g;
  theta <- theta + v. With v = -lr * b the two give identical iterates when lr is constant (and
  dampening is 0); under a schedule they differ, since the velocity form keeps old learning rates
  inside v while the buffer form rescales the whole buffer by the current lr.

  Args:
    learning_rate: a float >= 0 or an optax schedule `count -> lr`.
    beta: momentum coefficient in [0, 1).
    dampening: in [0, 1]; scales the new gradient's share of the buffer after the first step.
    weight_decay: L2 coefficient added to the gradient (needs `params` in `update`).
    accumulator_dtype: dtype of the momentum buffer (float32 by default, also for bf16 params).

  Returns:
    An `optax.GradientTransformation` with state `MomentumState`.

  Example:
    >>> opt = optax.chain(optax.clip_by_global_norm(1.0), momentum(0.1, beta=0.9))

  References:
    Polyak, "Some methods of speeding up the convergence of iteration methods", 1964.
    Sutskever et al., "On the importance of initialization and momentum in deep learning", 2013.
  """
  return _momentum_family(
      learning_rate, beta, dampening, weight_decay, nesterov=False,
      accumulator_dtype=accumulator_dtype,
  )


def nesterov(
    learning_rate: ScalarOrSchedule,
    beta: float = 0.9,
    weight_decay: float = 0.0,
    accumulator_dtype: Any = jnp.float32,
) -> optax.GradientTransformation:
  """Nesterov's accelerated gradient, needing only the gradient at the current params.

  The textbook step evaluates the gradient at the look-ahead point, the end of the momentum
  vector (Sutskever et al. 2013, eq. 3-4)::

    v_{t+1}     = beta * v_t - lr * grad f(theta_t + beta * v_t)
    theta_{t+1} = theta_t + v_{t+1}

  Change of variables phi_t = theta_t + beta * v_t (the look-ahead point itself) and b = -v / lr
  (constant lr) turns it into the rule implemented here, which uses grad f(phi_t) only::

    g_t        = grad f(phi_t) (+ weight_decay * phi_t)
    b_{t+1}    = beta * b_t + g_t
    phi_{t+1}  = phi_t - lr * (g_t + beta * b_{t+1})

  The params this transform holds are phi; at convergence phi and theta coincide.

  Args:
    learning_rate: a float >= 0 or an optax schedule `count -> lr`.
    beta: momentum coefficient in [0, 1).
    weight_decay: L2 coefficient added to the gradient (needs `params` in `update`).
    accumulator_dtype: dtype of the momentum buffer (float32 by default).

  Returns:
    An `optax.GradientTransformation` with state `MomentumState`.

  Example:
    >>> opt = nesterov(0.01, beta=0.9)

  References:
    Nesterov, "A method for solving the convex programming problem with convergence rate
    O(1/k^2)", 1983.
    Sutskever et al., "On the importance of initialization and momentum in deep learning", 2013.
  """
  return _momentum_family(
      learning_rate, beta, 0.0, weight_decay, nesterov=True, accumulator_dtype=accumulator_dtype
  )


OPTIMIZERS: dict[str, Callable[..., optax.GradientTransformation]] = {
    "sgd": sgd,
    "momentum": momentum,
    "nesterov": nesterov,
    "adam": optax.adam,
    "adamw": optax.adamw,
    "rmsprop": optax.rmsprop,
}


def get(name: str) -> Callable[..., optax.GradientTransformation]:
  """The optimizer factory called `name`; the error lists the valid names."""
  if name not in OPTIMIZERS:
    raise ValueError(f"Unknown optimizer {name!r}; choose one of {sorted(OPTIMIZERS)}.")
  return OPTIMIZERS[name]


def make_optimizer(config: Mapping[str, Any]) -> optax.GradientTransformation:
  """Builds a transform from `{"name": ..., "learning_rate": ..., **kwargs}`.

  An optional `clip_grad_norm` > 0 chains `optax.clip_by_global_norm` in front.
  """
  options = dict(config)
  if "name" not in options:
    raise ValueError(f"Optimizer config needs a 'name'; got keys {sorted(options)}.")
  factory = get(options.pop("name"))
  clip = options.pop("clip_grad_norm", None)
  accepted = inspect.signature(factory).parameters
  unknown = sorted(set(options) - set(accepted))
  if unknown:
    raise ValueError(
        f"Unknown option(s) {unknown} for optimizer {factory.__name__!r}; "
        f"it accepts {sorted(accepted)} (and 'clip_grad_norm')."
    )
  transform = factory(**options)
  if clip:
    transform = optax.chain(optax.clip_by_global_norm(float(clip)), transform)
  return transform
