"""Gradient play on V(x, y) = xy: it does not converge, and three remedies that do.

Item 1 (non-convergence of gradient play). Player x maximises V(x, y), player y minimises it (the
seeds' convention: A controls x and maximises xy, B controls y and minimises). Every rule below is
written for any differentiable V through its *joint field*, the direction each player descends,

    v(w) = (-dV/dx, dV/dy),   w = (x, y),

so that plain simultaneous gradient play is w <- w - lr v(w). On V = xy, v(w) = (-y, x): a rotation,
whose simultaneous steps spiral out, whose alternating steps cycle, and which extragradient,
optimistic gradient and consensus optimisation make converge (closed forms in
`contraction_factor` and in tests/test_theory_games.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

ValueFn = Callable[[jax.Array, jax.Array], jax.Array]


def bilinear_value(x: jax.Array, y: jax.Array) -> jax.Array:
  """V(x, y) = x y, the bilinear game (Goodfellow 2016, NIPS tutorial, Sec. 8.2)."""
  return x * y


def joint_field(value_fn: ValueFn) -> Callable[[jax.Array], jax.Array]:
  """w = (x, y) -> v(w) = (-dV/dx, dV/dy): the direction each player *descends*.

  x ascends V (so descends -V), y descends V; Mescheder et al. 2017 ("The Numerics of GANs") write
  the same field with the opposite sign, as the gradient vector field v(x) both players ascend.
  """
  grad = jax.grad(value_fn, argnums=(0, 1))

  def field(w: jax.Array) -> jax.Array:
    dx, dy = grad(w[0], w[1])
    return jnp.stack([-dx, dy])

  return field


class GameState(NamedTuple):
  """The iterate w = (x, y) [2] and the joint field the last step evaluated (v(w_{t-1}) after an
  optimistic step: only `optimistic_step` reads it)."""

  w: jax.Array
  previous_field: jax.Array


Rule = Callable[..., GameState]


def simultaneous_step(value_fn: ValueFn, state: GameState, lr: float) -> GameState:
  """Both players step on the same iterate: w_{t+1} = w_t - lr v(w_t).

  On xy: (x, y) -> (x + lr y, y - lr x), i.e. sqrt(1 + lr^2) times a rotation by atan(lr): the
  radius grows by sqrt(1 + lr^2) every step (the matrix [[1, lr], [-lr, 1]] has |det| 1 + lr^2).
  """
  v = joint_field(value_fn)(state.w)
  return GameState(state.w - lr * v, v)


def alternating_step(value_fn: ValueFn, state: GameState, lr: float) -> GameState:
  """x steps first, then y answers the new x (Gauss-Seidel play):

      x_{t+1} = x_t - lr v_x(x_t, y_t),   y_{t+1} = y_t - lr v_y(x_{t+1}, y_t).

  On xy: x_{t+1} = x_t + lr y_t, y_{t+1} = y_t - lr x_{t+1}; the map [[1, lr], [-lr, 1 - lr^2]] has
  determinant 1 and conserves Q(x, y) = x^2 + y^2 + lr x y (expand Q(x_{t+1}, y_{t+1})), an
  ellipse for lr < 2: the iterates cycle on it, neither escaping nor converging.
  """
  field = joint_field(value_fn)
  x = state.w[0] - lr * field(state.w)[0]
  w_half = state.w.at[0].set(x)
  v = field(w_half)
  return GameState(w_half.at[1].add(-lr * v[1]), v)


def extragradient_step(value_fn: ValueFn, state: GameState, lr: float) -> GameState:
  """Extragradient (Korpelevich 1976): look ahead, then step with the look-ahead's field,

      w_{t+1/2} = w_t - lr v(w_t),   w_{t+1} = w_t - lr v(w_{t+1/2}).

  On xy: [[1 - lr^2, lr], [-lr, 1 - lr^2]], a rotation times sqrt((1 - lr^2)^2 + lr^2)
  = sqrt(1 - lr^2 + lr^4) < 1 for 0 < lr < 1: the radius shrinks geometrically.
  """
  field = joint_field(value_fn)
  look_ahead = state.w - lr * field(state.w)
  v = field(look_ahead)
  return GameState(state.w - lr * v, v)


def optimistic_step(value_fn: ValueFn, state: GameState, lr: float) -> GameState:
  """Optimistic gradient descent (Daskalakis et al. 2018, "Training GANs with Optimism": their
  optimistic mirror descent with the Euclidean norm):

      w_{t+1} = w_t - lr (2 v(w_t) - v(w_{t-1})),

  with v(w_{-1}) = v(w_0) (a plain step first, as `optax.optimistic_gradient_descent`, whose
  per-player updates these are: `play_with_optimizer`). On xy, z = x + i y obeys
  z_{t+1} = (1 - 2 i lr) z_t + i lr z_{t-1}, with roots lambda = (1 +- sqrt(1 - 4 lr^2)) / 2 - i lr,
  |lambda_+|^2 = (1 + sqrt(1 - 4 lr^2)) / 2 < 1 for 0 < lr < 1/2.
  """
  v = joint_field(value_fn)(state.w)
  return GameState(state.w - lr * (2.0 * v - state.previous_field), v)


def consensus_step(value_fn: ValueFn, state: GameState, lr: float, gamma: float = 1.0) -> GameState:
  """Consensus optimisation (Mescheder, Nowozin & Geiger 2017, "The Numerics of GANs", Sec. 4):
  follow the field minus gamma times the gradient of L(w) = ||v(w)||^2 / 2,

      w_{t+1} = w_t - lr (v(w_t) + gamma grad L(w_t))

  (their ascent form v - gamma grad L with v = -ours). On xy, L = (x^2 + y^2) / 2, grad L = w: the
  map [[1 - lr gamma, lr], [-lr, 1 - lr gamma]] shrinks the radius by
  sqrt((1 - lr gamma)^2 + lr^2); with gamma = lr it is the extragradient map.
  """
  field = joint_field(value_fn)
  half_norm = lambda w: 0.5 * jnp.sum(field(w) ** 2)
  v = field(state.w)
  return GameState(state.w - lr * (v + gamma * jax.grad(half_norm)(state.w)), v)


RULES: dict[str, Rule] = {
  "simultaneous": simultaneous_step,
  "alternating": alternating_step,
  "extragradient": extragradient_step,
  "optimistic": optimistic_step,
  "consensus": consensus_step,
}


def _start(x0, y0) -> jax.Array:
  w0 = jnp.asarray([x0, y0], dtype=jnp.result_type(float))
  if not bool(jnp.all(jnp.isfinite(w0))):
    raise ValueError(f"x0 and y0 must be finite numbers; got x0={x0!r}, y0={y0!r}.")
  return w0


def _check_steps(steps) -> int:
  if not (isinstance(steps, int | np.integer) and steps >= 0):
    raise ValueError(f"steps must be an integer >= 0; got {steps!r}.")
  return int(steps)


def play(
  rule: Rule,
  x0: float,
  y0: float,
  lr: float,
  steps: int,
  *,
  value_fn: ValueFn = bilinear_value,
  **kwargs: Any,
) -> jax.Array:
  """Runs `rule` (e.g. `simultaneous_step`) for `steps` steps from (x0, y0) with `lr` (and the
  rule's keywords, e.g. consensus's gamma) on `value_fn`; returns the trajectory [steps + 1, 2],
  row t = (x_t, y_t), row 0 the start. In float64 when x64 is on."""
  w0, steps = _start(x0, y0), _check_steps(steps)
  if not lr > 0:
    raise ValueError(f"lr must be > 0; got {lr!r}.")
  state = GameState(w0, joint_field(value_fn)(w0))

  def body(state, _):
    state = rule(value_fn, state, lr, **kwargs)
    return state, state.w

  _, ws = jax.lax.scan(body, state, None, length=steps)
  return jnp.concatenate([w0[None], ws])


def play_with_optimizer(
  optimizer: optax.GradientTransformation,
  x0: float,
  y0: float,
  steps: int,
  *,
  value_fn: ValueFn = bilinear_value,
) -> jax.Array:
  """Simultaneous play where each player runs its own copy of an Optax `optimizer` on its own
  loss (x on -V, y on V); returns the trajectory [steps + 1, 2]. `optax.sgd(lr)` gives
  `simultaneous_step`, `optax.optimistic_gradient_descent(lr)` gives `optimistic_step`."""
  w0, steps = _start(x0, y0), _check_steps(steps)
  grad = jax.grad(value_fn, argnums=(0, 1))

  def body(carry, _):
    (x, y), (state_x, state_y) = carry
    dx, dy = grad(x, y)
    update_x, state_x = optimizer.update(-dx, state_x, x)  # x maximises V: descends -V
    update_y, state_y = optimizer.update(dy, state_y, y)
    x, y = optax.apply_updates(x, update_x), optax.apply_updates(y, update_y)
    return ((x, y), (state_x, state_y)), jnp.stack([x, y])

  x, y = w0[0], w0[1]
  carry = ((x, y), (optimizer.init(x), optimizer.init(y)))
  _, ws = jax.lax.scan(body, carry, None, length=steps)
  return jnp.concatenate([w0[None], ws])


def contraction_factor(rule: str, lr: float, gamma: float = 1.0) -> float:
  """The asymptotic factor by which one step multiplies the radius sqrt(x^2 + y^2) on V = xy
  (closed forms of the rules' docstrings): > 1 diverges, 1 cycles, < 1 converges."""
  if not 0 < lr < 0.5:
    raise ValueError(f"The closed forms here need 0 < lr < 1/2 (optimistic's roots); got {lr!r}.")
  factors = {
    "simultaneous": np.sqrt(1 + lr**2),
    "alternating": 1.0,  # det 1, eigenvalues on the unit circle (lr < 2)
    "extragradient": np.sqrt(1 - lr**2 + lr**4),
    "optimistic": np.sqrt((1 + np.sqrt(1 - 4 * lr**2)) / 2),  # |lambda_+|
    "consensus": np.sqrt((1 - lr * gamma) ** 2 + lr**2),
  }
  if rule not in factors:
    raise ValueError(f"Unknown rule {rule!r}; choose one of {sorted(factors)}.")
  return float(factors[rule])


class BilinearGameResult(NamedTuple):
  """Trajectories [steps + 1, 2] and radii [steps + 1] per rule; the closed-form factors."""

  lr: float
  gamma: float
  trajectories: dict[str, np.ndarray]
  radii: dict[str, np.ndarray]
  factors: dict[str, float]


def bilinear_game_experiment(*, quick: bool = False, seed: int = 0) -> BilinearGameResult:
  """The five rules on V = xy from (1, 1) with lr 0.1 (consensus gamma 0.5), 200 steps (quick)
  or 600. Deterministic: `seed` is accepted for the theory experiments' common signature."""
  del seed
  lr, gamma, steps = 0.1, 0.5, 200 if quick else 600
  trajectories, radii, factors = {}, {}, {}
  for name, rule in RULES.items():
    kwargs = {"gamma": gamma} if name == "consensus" else {}
    path = np.asarray(play(rule, 1.0, 1.0, lr, steps, **kwargs))
    trajectories[name], radii[name] = path, np.hypot(path[:, 0], path[:, 1])
    factors[name] = contraction_factor(name, lr, gamma)
  return BilinearGameResult(lr, gamma, trajectories, radii, factors)


def draw_bilinear_game(result: BilinearGameResult, axes) -> None:
  """Left: the trajectories in the (x, y) plane; right: radius vs step (log) with the closed-form
  rates dashed. `axes`: two matplotlib axes."""
  plane, radius = axes
  for name, path in result.trajectories.items():
    style = ":" if name == "optimistic" else "-"  # close to extragradient's path at small lr
    (line,) = plane.plot(path[:, 0], path[:, 1], style, lw=1, label=name)
    plane.plot(*path[0], "ko", ms=3)
    steps = np.arange(len(path))
    radius.semilogy(steps, result.radii[name], style, color=line.get_color(), label=name)
    rate = result.radii[name][0] * result.factors[name] ** steps
    radius.semilogy(steps, rate, "k--", lw=0.6)
  plane.plot(0, 0, "k+", ms=10)
  start = max(result.radii[name][0] for name in result.radii)
  plane.set(xlim=(-2.5 * start, 2.5 * start), ylim=(-2.5 * start, 2.5 * start))  # spiral leaves
  plane.set(xlabel="x (maximises xy)", ylabel="y (minimises xy)", aspect="equal")
  plane.set_title(f"gradient play on V = xy, lr {result.lr}")
  plane.legend(fontsize=7)
  radius.set(xlabel="step", ylabel="radius sqrt(x^2 + y^2)")
  radius.set_title("radius; black dashed: closed-form rate r_0 factor^t")
