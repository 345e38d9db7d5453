"""Our own Optax transforms: SGD, heavy-ball momentum and Nesterov momentum.

Each factory returns an `optax.GradientTransformation` built from the update rule itself (not a
wrapper of `optax.sgd` / `optax.trace`), so it composes with `optax.chain` and runs under `jax.jit`.
The semantics of `dampening` and `weight_decay` are those of `torch.optim.SGD` (the algorithm box
of its documentation): coupled L2 is added to the gradient before it enters the momentum buffer,
and the first step stores the gradient in the buffer without dampening.

`apply_if(inner)` wraps any transform so that the caller decides, per update, whether it happens.

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

ScalarOrSchedule = float | jax.Array | Callable[[jax.Array], jax.Array]


class SgdState(NamedTuple):
  """State of `sgd`: the number of updates applied so far (drives the schedule)."""

  count: jax.Array


class MomentumState(NamedTuple):
  """State of `momentum` / `nesterov`: the step count and the momentum buffer b."""

  count: jax.Array
  momentum_buffer: optax.Updates


def _concrete_float(name: str, value: Any) -> float | None:
  """`value` as a Python float, or None when it is traced (`optax.inject_hyperparams` under jit).

  Traced hyperparameters cannot be checked when the transform is built; they were checked by
  the factory call that created the injected state.
  """
  if isinstance(value, jax.core.Tracer):
    return None
  try:
    return float(value)
  except (TypeError, ValueError):
    raise ValueError(f"{name} must be a real number; got {value!r}.") from None


def _check_learning_rate(learning_rate: ScalarOrSchedule) -> None:
  if callable(learning_rate):
    return
  lr = _concrete_float("learning_rate", learning_rate)
  if lr is not None and not (math.isfinite(lr) and lr >= 0):
    raise ValueError(
      "learning_rate must be a finite number in [0, inf) or an optax schedule; "
      f"got {learning_rate!r}."
    )


def _check_interval(name: str, value: Any, *, upper_closed: bool) -> None:
  """Checks 0 <= value < 1 (or <= 1 when `upper_closed`)."""
  number = _concrete_float(name, value)
  if number is None:
    return
  upper_ok = number <= 1 if upper_closed else number < 1
  if not (number >= 0 and upper_ok):  # False for NaN as well.
    allowed = "[0, 1]" if upper_closed else "[0, 1)"
    raise ValueError(f"{name} must lie in {allowed}; got {value!r}.")


def _check_weight_decay(weight_decay: Any) -> None:
  number = _concrete_float("weight_decay", weight_decay)
  if number is not None and not (math.isfinite(number) and number >= 0):
    raise ValueError(f"weight_decay must be a finite number in [0, inf); got {weight_decay!r}.")


def _check_accumulator_dtype(accumulator_dtype: Any, name: str = "accumulator_dtype") -> None:
  if accumulator_dtype is None:
    return
  try:
    dtype = jnp.dtype(accumulator_dtype)
  except TypeError:
    dtype = None
  if dtype is None or not jnp.issubdtype(dtype, jnp.floating):
    raise ValueError(
      f"{name} must be a floating dtype (e.g. jnp.float32, jnp.bfloat16) or None "
      f"(the dtype of each param); got {accumulator_dtype!r}."
    )


def _is_zero(value: Any) -> bool:
  """True only for a concrete 0; a traced hyperparameter may be anything."""
  return _concrete_float("value", value) == 0


def _learning_rate_at(learning_rate: ScalarOrSchedule, count: jax.Array) -> jax.Array:
  return learning_rate(count) if callable(learning_rate) else jnp.asarray(learning_rate)


def _add_coupled_weight_decay(grads, params, weight_decay):
  """g <- g + weight_decay * theta (L2 added to the gradient, torch.optim.SGD's `weight_decay`)."""
  if _is_zero(weight_decay):
    return grads
  if params is None:
    raise ValueError(
      f"weight_decay={weight_decay!r} (not a concrete 0) needs the params: call "
      "update(grads, state, params)."
    )
  # d/dtheta of (weight_decay / 2) * ||theta||^2, computed in the gradient's dtype.
  return jax.tree.map(lambda g, p: g + weight_decay * p.astype(g.dtype), grads, params)


def _scale_updates(directions, learning_rate: jax.Array, like):
  """-lr * direction, cast back to the dtype of the gradient it replaces."""
  return jax.tree.map(lambda d, g: (-learning_rate * d).astype(g.dtype), directions, like)


def sgd(learning_rate: ScalarOrSchedule, weight_decay: float = 0.0) -> optax.GradientTransformation:
  """Plain (stochastic) gradient descent.

  Update rule, t = 0, 1, ... (Robbins & Monro 1951; coupled L2 as in `torch.optim.SGD`)::

    g_t         = grad f(theta_t) + weight_decay * theta_t
    theta_{t+1} = theta_t - lr_t * g_t                  (lr_t = schedule(t) or the constant)

  Args:
    learning_rate: a finite float >= 0 or an optax schedule `count -> lr` (count starts at 0).
    weight_decay: L2 coefficient >= 0 added to the gradient (then `update` needs `params`).

  Returns:
    An `optax.GradientTransformation` with state `SgdState`; apply its updates with
    `optax.apply_updates`.

  Example:
    >>> import jax.numpy as jnp, optax
    >>> from jaxgen import optim
    >>> params = {"w": jnp.ones(3)}
    >>> opt = optim.sgd(0.1)
    >>> state = opt.init(params)
    >>> updates, state = opt.update({"w": jnp.ones(3)}, state, params)
    >>> optax.apply_updates(params, updates)["w"]
    Array([0.9, 0.9, 0.9], dtype=float32)

  References:
    Robbins & Monro, "A Stochastic Approximation Method", Ann. Math. Statist. 22(3), 1951.
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
  accumulator_dtype: Any,
  *,
  nesterov: bool,
) -> optax.GradientTransformation:
  """The shared core of `momentum` and `nesterov`: torch.optim.SGD's algorithm with mu > 0."""
  _check_learning_rate(learning_rate)
  _check_interval("beta", beta, upper_closed=False)
  _check_interval("dampening", dampening, upper_closed=True)
  _check_weight_decay(weight_decay)
  _check_accumulator_dtype(accumulator_dtype)
  if nesterov and _concrete_float("dampening", dampening) not in (None, 0.0):
    raise ValueError(
      "dampening must be 0 with nesterov (allowed range: [0, 0], as in torch.optim.SGD); "
      f"got dampening={dampening!r}."
    )

  def init_fn(params):
    buffer = jax.tree.map(lambda p: jnp.zeros_like(p, dtype=accumulator_dtype), params)
    return MomentumState(count=jnp.zeros([], jnp.int32), momentum_buffer=buffer)

  def update_fn(updates, state, params=None):
    grads = _add_coupled_weight_decay(updates, params, weight_decay)
    # Accumulate in the buffer's dtype (float32 by default, also for bfloat16 params).
    grads = jax.tree.map(lambda g, b: g.astype(b.dtype), grads, state.momentum_buffer)
    first_step = state.count == 0
    # torch.optim.SGD: b_1 = g_1 (no dampening); b_t = beta * b_{t-1} + (1 - dampening) * g_t.
    buffer = jax.tree.map(
      lambda b, g: jnp.where(first_step, g, beta * b + (1 - dampening) * g).astype(b.dtype),
      state.momentum_buffer,
      grads,
    )
    if nesterov:
      # g_t + beta * b_t: the look-ahead gradient step after the change of variables
      # phi = theta + beta * v (Sutskever et al. 2013, eq. 3-4; derivation in `nesterov`).
      direction = jax.tree.map(lambda g, b: g + beta * b, grads, buffer)
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
  accumulator_dtype: Any = "float32",
) -> optax.GradientTransformation:
  """Heavy-ball momentum (Polyak 1964), in the buffer form of `torch.optim.SGD`.

  Update rule, t = 0, 1, ...::

    g_t         = grad f(theta_t) + weight_decay * theta_t
    b_1         = g_0;   b_{t+1} = beta * b_t + (1 - dampening) * g_t   (t > 0)
    theta_{t+1} = theta_t - lr_t * b_{t+1}              (lr_t = schedule(t) or the constant)

  Equivalent velocity form (Sutskever et al. 2013, eq. 1-2), v_0 = 0::

    v_{t+1}     = beta * v_t - lr * g_t
    theta_{t+1} = theta_t + v_{t+1}

  Substituting v_t = -lr * b_t shows that the two give identical iterates when the learning rate
  is constant and dampening is 0. Under a schedule they differ: the velocity form keeps each past
  gradient scaled by the learning rate of its own step, while the buffer form rescales the whole
  buffer by the current learning rate.

  Args:
    learning_rate: a finite float >= 0 or an optax schedule `count -> lr` (count starts at 0).
    beta: momentum coefficient in [0, 1).
    dampening: in [0, 1]; the new gradient enters the buffer with weight (1 - dampening) after the
      first step.
    weight_decay: L2 coefficient >= 0 added to the gradient (then `update` needs `params`).
    accumulator_dtype: floating dtype of the momentum buffer ("float32" by default, also for
      bfloat16 params); None keeps each param's dtype.

  Returns:
    An `optax.GradientTransformation` with state `MomentumState`.

  Example:
    >>> import jax.numpy as jnp, optax
    >>> from jaxgen import optim
    >>> params = {"w": jnp.ones(3, jnp.bfloat16)}
    >>> opt = optax.chain(optax.clip_by_global_norm(1.0), optim.momentum(0.1, beta=0.9))
    >>> state = opt.init(params)
    >>> state[1].momentum_buffer["w"].dtype
    dtype('float32')

  References:
    Polyak, "Some methods of speeding up the convergence of iteration methods", USSR Comput.
    Math. Math. Phys. 4(5), 1964.
    Sutskever, Martens, Dahl & Hinton, "On the importance of initialization and momentum in deep
    learning", ICML 2013.
  """
  return _momentum_family(
    learning_rate, beta, dampening, weight_decay, accumulator_dtype, nesterov=False
  )


def nesterov(
  learning_rate: ScalarOrSchedule,
  beta: float = 0.9,
  weight_decay: float = 0.0,
  accumulator_dtype: Any = "float32",
  dampening: float = 0.0,
) -> optax.GradientTransformation:
  """Nesterov's accelerated gradient, needing only the gradient at the current params.

  The textbook step evaluates the gradient at the look-ahead point, the end of the momentum vector
  (Sutskever et al. 2013, eq. 3-4), t = 0, 1, ... and v_0 = 0::

    v_{t+1}     = beta * v_t - lr * grad f(theta_t + beta * v_t)
    theta_{t+1} = theta_t + v_{t+1}

  Change variables to the look-ahead point phi_t = theta_t + beta * v_t and to b_t = -v_t / lr
  (constant lr). Then phi_{t+1} = theta_t + (1 + beta) v_{t+1} = phi_t + beta * v_{t+1}
  - lr * grad f(phi_t), which is the rule implemented here (`torch.optim.SGD(nesterov=True)`)::

    g_t       = grad f(phi_t) + weight_decay * phi_t
    b_{t+1}   = beta * b_t + g_t                        (b_0 = 0)
    phi_{t+1} = phi_t - lr_t * (g_t + beta * b_{t+1})   (lr_t = schedule(t) or the constant)

  The params this transform updates are phi; they start equal to theta (v_0 = 0), and the
  textbook iterate is recovered from the buffer held with phi_t: theta_t = phi_t + lr * beta * b_t.

  Args:
    learning_rate: a finite float >= 0 or an optax schedule `count -> lr` (count starts at 0).
    beta: momentum coefficient in [0, 1).
    weight_decay: L2 coefficient >= 0 added to the gradient (then `update` needs `params`).
    accumulator_dtype: floating dtype of the momentum buffer ("float32" by default); None keeps
      each param's dtype.
    dampening: accepted for `torch.optim.SGD` configs, which forbid it with Nesterov: must be 0.

  Returns:
    An `optax.GradientTransformation` with state `MomentumState`.

  Example:
    >>> import jax.numpy as jnp, optax
    >>> from jaxgen import optim
    >>> params = {"w": jnp.ones(2)}
    >>> opt = optim.nesterov(0.1, beta=0.5)
    >>> updates, _ = opt.update({"w": jnp.ones(2)}, opt.init(params))
    >>> updates["w"]  # -lr * (g + beta * b_1) with b_1 = g
    Array([-0.15, -0.15], dtype=float32)

  References:
    Nesterov, "A method for solving the convex programming problem with convergence rate
    O(1/k^2)", Soviet Math. Dokl. 27(2), 1983.
    Sutskever, Martens, Dahl & Hinton, "On the importance of initialization and momentum in deep
    learning", ICML 2013.
  """
  return _momentum_family(
    learning_rate, beta, dampening, weight_decay, accumulator_dtype, nesterov=True
  )


class ApplyIfState(NamedTuple):
  """State of `apply_if`: the inner transform's state, left as it was by every skipped update."""

  inner_state: Any


def apply_if(inner: optax.GradientTransformation) -> optax.GradientTransformationExtraArgs:
  """`inner`, applied only when the caller says so: `update(..., apply=flag)`.

  Update rule, with a (traced) boolean `apply` given by the caller at each update::

    apply:      (u_t, s_{t+1}) = inner.update(g_t, s_t, params)
    not apply:  (u_t, s_{t+1}) = (0, s_t)

  A skipped update moves nothing and counts nothing: the inner state (Adam's moments and step
  count, RMSProp's accumulator, a schedule's count) stays as it was, so the next applied update is
  the one the inner transform would have taken had the skipped step never happened. This is
  `optax.transforms.conditionally_mask` with the condition passed in rather than computed from a
  step count, so that it can depend on the losses (VAE-GAN's equilibrium gating, Larsen et al.
  2016, sec. 5: a player pauses while the other wins too clearly). The inner update is computed
  either way and selected with `jnp.where`, which keeps the applied step bit-identical to `inner`'s
  (no `lax.cond` branch for XLA to compile apart). Any other extra args go to `inner`.

  Args:
    inner: the transform to apply; a plain `GradientTransformation` or one with extra args.

  Returns:
    An `optax.GradientTransformationExtraArgs` with state `ApplyIfState`, whose `update` needs the
    keyword `apply` (a bool or a boolean array of shape []).

  Example:
    >>> import jax.numpy as jnp, optax
    >>> from jaxgen import optim
    >>> params = {"w": jnp.ones(2)}
    >>> opt = optim.apply_if(optim.sgd(0.1))
    >>> state = opt.init(params)
    >>> updates, state = opt.update({"w": jnp.ones(2)}, state, params, apply=jnp.bool_(False))
    >>> updates["w"], state.inner_state.count
    (Array([0., 0.], dtype=float32), Array(0, dtype=int32))
  """
  inner = optax.with_extra_args_support(inner)

  def init_fn(params):
    return ApplyIfState(inner_state=inner.init(params))

  def update_fn(updates, state, params=None, *, apply, **extra_args):
    new_updates, new_inner_state = inner.update(updates, state.inner_state, params, **extra_args)
    apply = jnp.asarray(apply, bool)
    new_updates = jax.tree.map(lambda u: jnp.where(apply, u, jnp.zeros_like(u)), new_updates)
    new_inner_state = jax.tree.map(
      lambda new, old: jnp.where(apply, new, old), new_inner_state, state.inner_state
    )
    return new_updates, ApplyIfState(inner_state=new_inner_state)

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


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


def _check_clip_grad_norm(clip: Any) -> None:
  number = _concrete_float("clip_grad_norm", clip)
  if not (math.isfinite(number) and number >= 0):
    raise ValueError(
      "clip_grad_norm must be a finite number in [0, inf) or None (0 and None turn clipping "
      f"off); got {clip!r}."
    )


def _check_non_negative(name: str, value: Any) -> None:
  number = _concrete_float(name, value)
  if number is not None and not (math.isfinite(number) and number >= 0):
    raise ValueError(f"{name} must be a finite number in [0, inf); got {value!r}.")


def _check_bool(name: str, value: Any) -> None:
  if not isinstance(value, bool):
    raise ValueError(f"{name} must be True or False; got {value!r}.")


def _unit(name: str, *, upper_closed: bool = False) -> Callable[[Any], None]:
  return lambda value: _check_interval(name, value, upper_closed=upper_closed)


# The range of each hyperparameter, by name, whichever factory takes it (ours re-check their own).
# Decay rates (b1, b2, decay, momentum, beta) lie in [0, 1): at 1 an average never forgets its
# start (a momentum buffer sums every gradient) and Adam's bias correction 1 - b^t is 0; above 1
# the past grows without bound.
OPTION_CHECKS: dict[str, Callable[[Any], None]] = {
  "learning_rate": _check_learning_rate,
  "b1": _unit("b1"),
  "b2": _unit("b2"),
  "decay": _unit("decay"),
  "beta": _unit("beta"),
  "momentum": lambda value: value is None or _check_interval("momentum", value, upper_closed=False),
  "dampening": _unit("dampening", upper_closed=True),
  # optax.adamw also takes a schedule; our sgd / momentum / nesterov refuse one themselves.
  "weight_decay": lambda value: callable(value) or _check_weight_decay(value),
  "eps": lambda value: _check_non_negative("eps", value),
  "eps_root": lambda value: _check_non_negative("eps_root", value),
  "initial_scale": lambda value: _check_non_negative("initial_scale", value),
  "clip_grad_norm": lambda value: value is None or _check_clip_grad_norm(value),
  "accumulator_dtype": _check_accumulator_dtype,
  "mu_dtype": lambda value: _check_accumulator_dtype(value, "mu_dtype"),
  **{
    name: lambda value, name=name: _check_bool(name, value)
    for name in ("nesterov", "centered", "eps_in_sqrt", "bias_correction")
  },
}

# Options of which at least one must be > 0, so that a parameter whose gradient is 0 never gets
# 0 / 0 = nan: Adam divides by sqrt(nu_hat + eps_root) + eps. RMSProp divides by sqrt(nu + eps)
# (or sqrt(nu) + eps), and nu reaches 0 even from initial_scale > 0: it decays to a float 0 under
# zero gradients, and the centered nu - mu^2 is 0 for a constant gradient; so eps alone.
DENOMINATOR_GUARDS: dict[str, tuple[str, ...]] = {
  "adam": ("eps", "eps_root"),
  "adamw": ("eps", "eps_root"),
  "rmsprop": ("eps",),
}


def option_names(name: str) -> tuple[str, ...]:
  """The keys an optimizer config of `name` may hold besides 'name': the keyword arguments of its
  factory and 'clip_grad_norm'."""
  return (*inspect.signature(get(name)).parameters, "clip_grad_norm")


def check_option(name: str, value: Any) -> None:
  """Raises ValueError naming `name`, its range and `value` when the hyperparameter `name` is out
  of its range (`OPTION_CHECKS`); names without a rule (e.g. adamw's `mask`) pass."""
  if name in OPTION_CHECKS:
    OPTION_CHECKS[name](value)


def _check_denominator(name: str, options: Mapping[str, Any], parameters) -> None:
  guards = DENOMINATOR_GUARDS.get(name, ())
  values = {key: options.get(key, parameters[key].default) for key in guards}
  numbers = [_concrete_float(key, value) for key, value in values.items()]
  if guards and None not in numbers and not sum(numbers) > 0:
    given = ", ".join(f"{key}={value!r}" for key, value in values.items())
    raise ValueError(
      f"{' + '.join(guards)} must be > 0 for optimizer {name!r}, else a parameter whose gradient "
      f"is 0 gets the update 0 / 0 = nan; got {given}. Set eps to e.g. 1e-8."
    )


def make_optimizer(config: Mapping[str, Any]) -> optax.GradientTransformation:
  """Builds a transform from `{"name": ..., "learning_rate": ..., **options}`.

  Args:
    config: a mapping (dict or `ml_collections.ConfigDict`) with the registry `name`, the keyword
      arguments of that factory, and an optional `clip_grad_norm` (> 0 chains
      `optax.clip_by_global_norm` in front; 0, None or absent means no clipping).

  Returns:
    The `optax.GradientTransformation`.

  Raises:
    ValueError: unknown name, unknown or missing option, or an option out of its range
      (`OPTION_CHECKS`, `DENOMINATOR_GUARDS`: also for optax's adam, adamw and rmsprop, which
      accept e.g. b1 = 1.5 or a negative learning rate themselves).

  Example:
    >>> from jaxgen import optim
    >>> opt = optim.make_optimizer(
    ...     {"name": "nesterov", "learning_rate": 0.01, "beta": 0.9, "clip_grad_norm": 1.0})
  """
  options = dict(config)
  if "name" not in options:
    raise ValueError(f"Optimizer config needs a 'name'; got keys {sorted(options)}.")
  name = options.pop("name")
  factory = get(name)
  clip = options.pop("clip_grad_norm", None)
  if clip is not None:
    _check_clip_grad_norm(clip)
  parameters = inspect.signature(factory).parameters
  unknown = sorted(set(options) - set(parameters))
  if unknown:
    raise ValueError(
      f"Unknown option(s) {unknown} for optimizer {factory.__name__!r}; "
      f"it accepts {sorted(parameters)} (and 'clip_grad_norm')."
    )
  missing = sorted(
    name
    for name, parameter in parameters.items()
    if parameter.default is inspect.Parameter.empty
    and parameter.kind is not inspect.Parameter.VAR_KEYWORD
    and parameter.kind is not inspect.Parameter.VAR_POSITIONAL
    and name not in options
  )
  if missing:
    raise ValueError(f"Optimizer {factory.__name__!r} needs option(s) {missing}.")
  for option, value in options.items():
    check_option(option, value)
  _check_denominator(name, options, parameters)
  transform = factory(**options)
  if clip:
    transform = optax.chain(optax.clip_by_global_norm(float(clip)), transform)
  return transform
