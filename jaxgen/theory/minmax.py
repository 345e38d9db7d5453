"""min max != max min: payoff matrices, a function on a grid, and the GAN case.

`min_max` / `max_min` of a payoff matrix (rows: the minimiser's
choices, columns: the maximiser's), a function on a grid (`grid_payoff`), the closed-form gap of
V(x, y) = (x - y)^2 on [0, 1]^2, mixed strategies closing the gap (von Neumann), and the GAN case:
a discriminator trained k steps is not D*, so G's gradient is not the gradient of the min-max
objective 2 JSD(p_data, p_g) - log 4 (`minmax_experiment`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxgen.run import train
from jaxgen.theory import runs
from jaxgen.theory.games import ValueFn


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


def gaussian_gan_config(*, lr: float = 0.5, batch_size: int = 256, num_steps: int, seed: int = 0):
  """A plain GAN (minimax loss) on `gaussian1d` N(0, 1) with a frozen affine G (p_g = N(b, w^2),
  set with `runs.set_affine_generator`) and a linear D (logit a x + c, trained by SGD): the family
  holds D* exactly when the variances match, log p_data / p_g being linear in x then."""
  setting = runs.Setting1D(0.0, 1.0, discriminator_hidden=(), batch_size=batch_size)
  config = runs.config_1d(setting, num_steps=num_steps, seed=seed, frozen=True)
  config.algorithm.loss = "minimax"
  config.optimizer.discriminator = {"name": "sgd", "learning_rate": lr}
  return config


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
  grid = np.linspace(0.0, 1.0, 101)
  payoff = grid_payoff(squared_distance_value, grid, grid)
  mean = 1.5
  last = 150 if quick else 3000
  checkpoints = sorted({0, 1, 2, 3, 5} | {int(k) for k in np.geomspace(10, last, 8)})
  run = train.Run(gaussian_gan_config(num_steps=last, seed=seed))
  state = runs.set_affine_generator(run.init_state(), [[1.0]], [mean])
  d = state.players["discriminator"]
  # D from zero params, D = 1/2 everywhere (its SGD has no state that depends on them).
  zeros = jax.tree.map(lambda p: p * 0, d.params)
  state = state.replace(players={**state.players, "discriminator": d.replace(params=zeros)})
  optimal = jsd_gradient(0.0, 1.0, mean, 1.0)
  gradient = jax.jit(lambda s: generator_gradient(runs.discriminator_fn(run, s), mean, 1.0))
  gradients, params = [], []
  for k in range(last + 1):
    if k in checkpoints:
      gradients.append(float(gradient(state)))
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
