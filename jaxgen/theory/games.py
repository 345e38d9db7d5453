"""Two-player games behind GAN training: gradient play on V(x, y) = xy, and min max != max min.

Item 1 (non-convergence of gradient play). Player x maximises V(x, y), player y minimises it (the
seeds' convention: A controls x and maximises xy, B controls y and minimises). Every rule below is
written for any differentiable V through its *joint field*, the direction each player descends,

    v(w) = (-dV/dx, dV/dy),   w = (x, y),

so that plain simultaneous gradient play is w <- w - lr v(w). On V = xy, v(w) = (-y, x): a rotation,
whose simultaneous steps spiral out, whose alternating steps cycle, and which extragradient,
optimistic gradient and consensus optimisation make converge (closed forms in
`contraction_factor` and in tests/test_theory_games.py).

Item 2 (min max != max min). `min_max` / `max_min` of a payoff matrix (rows: the minimiser's
choices, columns: the maximiser's), a function on a grid (`grid_payoff`), the closed-form gap of
V(x, y) = (x - y)^2 on [0, 1]^2, mixed strategies closing the gap (von Neumann), and the GAN case:
a discriminator trained k steps is not D*, so G's gradient is not the gradient of the min-max
objective 2 JSD(p_data, p_g) - log 4 (`minmax_experiment`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

ValueFn = Callable[[jax.Array, jax.Array], jax.Array]

# ------------------------------------------------------------------------------ item 1: xy game


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


# -------------------------------------------------------------------- item 2: min max != max min


def _check_payoff(payoff) -> np.ndarray:
  payoff = np.asarray(payoff, dtype=np.float64)
  if payoff.ndim != 2 or 0 in payoff.shape or not np.all(np.isfinite(payoff)):
    raise ValueError(f"payoff must be a finite, non-empty 2-D matrix; got shape {payoff.shape}.")
  return payoff


def min_max(payoff) -> float:
  """min_i max_j payoff[i, j]: the minimiser (rows) commits first and the maximiser (columns)
  answers it; the minimiser's guaranteed ceiling."""
  return float(_check_payoff(payoff).max(axis=1).min())


def max_min(payoff) -> float:
  """max_j min_i payoff[i, j]: the maximiser commits first; its guaranteed floor.
  max min <= min max for every matrix: min_i P[i, j] <= P[i, j] <= max_j' P[i, j'] for all i, j."""
  return float(_check_payoff(payoff).min(axis=0).max())


def grid_payoff(value_fn: ValueFn, xs, ys) -> np.ndarray:
  """payoff[i, j] = value_fn(xs[i], ys[j]): x the minimiser (rows), y the maximiser (columns);
  computed by jax (float32 unless x64 is on)."""
  xs, ys = np.asarray(xs, np.float64), np.asarray(ys, np.float64)
  return np.asarray(jax.vmap(jax.vmap(value_fn, (None, 0)), (0, None))(xs, ys))


def squared_distance_value(x, y):
  """V(x, y) = (x - y)^2 on [0, 1]^2, x minimises, y maximises: the example with a strict gap.

  min_x max_y (x - y)^2 = min_x max(x, 1 - x)^2 = 1/4 at x = 1/2 (y answers with the far end);
  max_y min_x (x - y)^2 = max_y 0 = 0 (x answers with x = y). Gap 1/4 (`SQUARED_DISTANCE_GAP`).
  """
  return (x - y) ** 2


SQUARED_DISTANCE_MIN_MAX, SQUARED_DISTANCE_MAX_MIN = 0.25, 0.0
MATCHING_PENNIES = np.array([[1.0, -1.0], [-1.0, 1.0]])  # pure: min max 1, max min -1; mixed: 0


def mixed_values(payoff) -> tuple[float, float]:
  """(min over the minimiser's mixed strategies p of max_j (p^T P)_j, max over the maximiser's
  mixed q of min_i (P q)_i), two linear programs solved separately. Von Neumann's minimax theorem
  (1928): they are equal, and lie in [max_min(P), min_max(P)]. The GAN value is of this kind:
  V(D, p_g) is linear in p_g, so over all distributions min_G max_D V = max_D min_G V = -log 4."""
  from scipy.optimize import linprog

  payoff = _check_payoff(payoff)

  def solve(matrix, sign):  # min t s.t. sign * (p^T M)_j <= t, p in the simplex
    rows, cols = matrix.shape
    cost = np.r_[np.zeros(rows), 1.0]
    a_ub = np.c_[sign * matrix.T, -np.ones(cols)]
    a_eq = np.r_[np.ones(rows), 0.0][None]
    bounds = [(0, None)] * rows + [(None, None)]
    solution = linprog(cost, A_ub=a_ub, b_ub=np.zeros(cols), A_eq=a_eq, b_eq=[1.0], bounds=bounds)
    if not solution.success:
      raise RuntimeError(f"linprog failed: {solution.message}")
    return solution.fun

  return float(solve(payoff, 1.0)), float(-solve(payoff.T, -1.0))


# The GAN case: D trained k steps is not D*, so G's gradient is not that of the min-max objective.

_HERMITE_NODES, _HERMITE_WEIGHTS = np.polynomial.hermite_e.hermegauss(80)  # E over N(0, 1)


def _normal_expectation(fn, mean, std):
  """E_{x ~ N(mean, std^2)} fn(x) by 80-point Gauss-Hermite quadrature (exact for polynomials of
  degree < 160; fn here is smooth and bounded by a linear function)."""
  nodes = jnp.asarray(_HERMITE_NODES, dtype=jnp.result_type(mean, float))
  weights = jnp.asarray(_HERMITE_WEIGHTS / np.sqrt(2 * np.pi), dtype=nodes.dtype)
  return jnp.sum(weights * fn(mean + std * nodes))


def optimal_generator_objective(data_mean, data_std, mean, std):
  """C(G) = max_D V(D, G) = -log 4 + 2 JSD(p_data, p_g) (Goodfellow et al. 2014, Theorem 1) for
  p_data = N(data_mean, data_std^2) and p_g = N(mean, std^2), by quadrature of
  E_data log D* + E_g log(1 - D*) with D* = p_data / (p_data + p_g) (Proposition 1)."""
  from jax.scipy.stats import norm

  log_ratio = lambda x: norm.logpdf(x, data_mean, data_std) - norm.logpdf(x, mean, std)
  real = _normal_expectation(lambda x: -jax.nn.softplus(-log_ratio(x)), data_mean, data_std)
  fake = _normal_expectation(lambda x: -jax.nn.softplus(log_ratio(x)), mean, std)
  return real + fake


def jsd_gradient(data_mean, data_std, mean, std) -> float:
  """d/d mean of 2 JSD(N(data_mean, data_std^2), N(mean, std^2)): the gradient G should get. By
  the envelope theorem it equals G's minimax-loss gradient E_z d/d mean log(1 - D*(mean + std z))
  taken with D* held fixed: the min-max gradient needs the *optimal* D."""
  grad = jax.jit(jax.grad(optimal_generator_objective, argnums=2))
  return float(grad(data_mean, data_std, jnp.asarray(mean, jnp.result_type(float)), std))


def generator_gradient(logit_fn: Callable[[jax.Array], jax.Array], mean, std) -> jax.Array:
  """d/d mean of G's minimax loss E_z log(1 - D(mean + std z)) = E_z -softplus(logit), z ~ N(0, 1),
  for a fixed discriminator with logit `logit_fn` ([N] -> [N]), by quadrature (no sampling);
  traceable (jit it around a D's params)."""
  loss = lambda m: _normal_expectation(lambda x: -jax.nn.softplus(logit_fn(x)), m, std)
  return jax.grad(loss)(jnp.asarray(mean, jnp.result_type(float)))


def gaussian_gan_config(
  *,
  data_mean: float = 0.0,
  data_std: float = 1.0,
  lr: float = 0.5,
  batch_size: int = 256,
  seed: int = 0,
):
  """A plain GAN (minimax loss) on `gaussian1d` with a frozen affine G (p_g = N(b, w^2), set by the
  caller with `set_players`) and a linear D (logit a x + c, trained by SGD): the family holds D*
  exactly when the variances match, log p_data / p_g being linear in x then."""
  from jaxgen.configs import default

  config = default.get_config()
  config.seed, config.batch_size, config.progress_bar = seed, batch_size, False
  config.data.name = "gaussian1d"
  config.data.options = {"mean": data_mean, "std": data_std, "data_seed": seed}
  config.model.latent_dim = 1
  config.model.generator = {"name": "mlp", "hidden": (), "batch_norm": False}
  config.model.discriminator = {"name": "mlp", "hidden": ()}
  config.algorithm.loss = "minimax"
  config.optimizer.generator = {"name": "sgd", "learning_rate": 0.0}  # G frozen: D trains alone
  config.optimizer.discriminator = {"name": "sgd", "learning_rate": lr}
  return config


def set_players(state, *, mean: float, std: float, discriminator_params=None):
  """`state` with G(z) = mean + std z (the affine generator's bias and kernel) and, if given, D's
  params replaced (D's optimizer is stateless SGD, so nothing else depends on them)."""
  players = dict(state.players)
  g = players["generator"]
  params = {
    "Dense_0": {
      "bias": jnp.full((1,), mean, jnp.float32),
      "kernel": jnp.full((1, 1), std, jnp.float32),
    }
  }
  players["generator"] = g.replace(params=params)
  if discriminator_params is not None:
    players["discriminator"] = players["discriminator"].replace(params=discriminator_params)
  return state.replace(players=players)


def discriminator_logit(module, player) -> Callable[[jax.Array], jax.Array]:
  """x [N] -> the logit [N] of the 1-D discriminator `module` with `player`'s (a PlayerState)
  params, in inference mode."""
  from jaxgen.algorithms.base import apply_module

  return lambda x: apply_module(
    module, player.params, player.model_state, x[:, None].astype(jnp.float32), train=False
  )[0].astype(x.dtype)


class MinmaxResult(NamedTuple):
  """Item 2's numbers: the (x - y)^2 grid and its two orders, matching pennies (pure and mixed),
  and G's gradient with a D trained k steps against the min-max (JSD) gradient."""

  grid: np.ndarray  # [n] the points of [0, 1] both players choose from
  payoff: np.ndarray  # [n, n] (x_i - y_j)^2
  grid_min_max: float
  grid_max_min: float
  pennies_pure: tuple[float, float]  # (min max, max min)
  pennies_mixed: tuple[float, float]  # (min max, max min) over mixed strategies
  generator_mean: float  # p_g = N(generator_mean, 1), p_data = N(0, 1)
  discriminator_steps: np.ndarray  # [K] k
  generator_gradients: np.ndarray  # [K] d/d mean of E log(1 - D_k(G(z)))
  optimal_gradient: float  # d/d mean of 2 JSD(p_data, p_g)
  relative_errors: np.ndarray  # [K] |grad_k - grad*| / |grad*|
  discriminator_params: np.ndarray  # [K, 2] (a, c) of the logit a x + c
  optimal_params: tuple[float, float]  # (a*, c*) = (-mean, mean^2 / 2): log p_data / p_g


def minmax_experiment(*, quick: bool = False, seed: int = 0) -> MinmaxResult:
  """The grid and matrix examples, then D trained alone (train.Run, G frozen at N(1.5, 1), D from
  zero params, i.e. D = 1/2) for up to 150 (quick) or 3000 SGD steps against p_data = N(0, 1),
  G's minimax gradient measured after k steps."""
  from jaxgen import train

  grid = np.linspace(0.0, 1.0, 101)
  payoff = grid_payoff(squared_distance_value, grid, grid)
  mean = 1.5
  last = 150 if quick else 3000
  checkpoints = sorted({0, 1, 2, 3, 5} | {int(k) for k in np.geomspace(10, last, 8)})
  run = train.Run(gaussian_gan_config(seed=seed))
  state = run.init_state()
  zeros = jax.tree.map(jnp.zeros_like, state.players["discriminator"].params)
  state = set_players(state, mean=mean, std=1.0, discriminator_params=zeros)
  optimal = jsd_gradient(0.0, 1.0, mean, 1.0)
  module = run.algorithm.players["discriminator"].module
  gradient = jax.jit(lambda d: generator_gradient(discriminator_logit(module, d), mean, 1.0))
  gradients, params = [], []
  for k in range(last + 1):
    if k in checkpoints:
      gradients.append(float(gradient(state.players["discriminator"])))
      dense = state.players["discriminator"].params["Dense_0"]
      params.append([float(dense["kernel"][0, 0]), float(dense["bias"][0])])
    if k < last:
      state, _ = run.step(state, k)
  gradients = np.asarray(gradients)
  return MinmaxResult(
    grid=grid,
    payoff=payoff,
    grid_min_max=min_max(payoff),
    grid_max_min=max_min(payoff),
    pennies_pure=(min_max(MATCHING_PENNIES), max_min(MATCHING_PENNIES)),
    pennies_mixed=mixed_values(MATCHING_PENNIES),
    generator_mean=mean,
    discriminator_steps=np.asarray(checkpoints),
    generator_gradients=gradients,
    optimal_gradient=optimal,
    relative_errors=np.abs(gradients - optimal) / abs(optimal),
    discriminator_params=np.asarray(params),
    optimal_params=(-mean, mean**2 / 2),
  )


def draw_minmax(result: MinmaxResult, axes) -> None:
  """Left: V = (x - y)^2 on the grid with each order's answer; right: G's gradient error vs the
  steps D trained. `axes`: two matplotlib axes."""
  heat, error = axes
  extent = (0, 1, 0, 1)
  image = heat.imshow(result.payoff.T, origin="lower", extent=extent, cmap="viridis")
  heat.figure.colorbar(image, ax=heat, fraction=0.046)
  heat.axvline(0.5, color="w", ls="--", lw=1)
  heat.plot([0, 1], [0, 1], "r--", lw=1)
  heat.set(xlabel="x (minimises)", ylabel="y (maximises)")
  heat.set_title(
    f"(x - y)^2: min max {result.grid_min_max:.3g} (x = 1/2, white)\n"
    f"max min {result.grid_max_min:.3g} (x = y, red)",
    fontsize=9,
  )
  steps = np.maximum(result.discriminator_steps, 0.5)  # k = 0 drawn at 0.5 on the log axis
  error.loglog(steps, result.relative_errors, "o-")
  error.set(xlabel="D's SGD steps k (k = 0 at 0.5)", ylabel="|grad_k - grad JSD| / |grad JSD|")
  error.set_title(
    f"G's minimax gradient after k D steps vs d(2 JSD)/d theta\n"
    f"p_data = N(0, 1), p_g = N(theta = {result.generator_mean}, 1), linear D from D = 1/2",
    fontsize=9,
  )
