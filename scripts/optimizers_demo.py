"""SGD, heavy-ball momentum and Nesterov momentum on a ravine and on the Rosenbrock function.

Prints a Markdown table of the steps each optimizer needs to come within `--tolerance` (Euclidean
distance) of the minimum, at the same learning rate for all three, and writes a PNG of the
trajectories over the loss contours. Runs in a few seconds on a CPU:

  python scripts/optimizers_demo.py --out optimizers_demo.png
"""

from __future__ import annotations

import argparse
import functools
import math
import pathlib
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
import optax

matplotlib.use("Agg")  # Files only: no display needed.
import matplotlib.pyplot as plt  # noqa: E402  (after the backend choice)

from jaxgen import optim  # noqa: E402


class Problem(NamedTuple):
  """A 2-D test function with its minimum, start point, step size and plotting window."""

  title: str
  loss: Callable[[jax.Array], jax.Array]
  minimum: tuple[float, float]
  start: tuple[float, float]
  learning_rate: float
  max_steps: int
  window: tuple[tuple[float, float], tuple[float, float]]
  log_contours: bool


def ravine(theta: jax.Array) -> jax.Array:
  """(x^2 + 100 y^2) / 2: a quadratic with condition number 100, the valley along x."""
  return 0.5 * (theta[0] ** 2 + 100.0 * theta[1] ** 2)


def rosenbrock(theta: jax.Array) -> jax.Array:
  """(1 - x)^2 + 100 (y - x^2)^2 (Rosenbrock 1960): a curved valley, minimum at (1, 1)."""
  return (1.0 - theta[0]) ** 2 + 100.0 * (theta[1] - theta[0] ** 2) ** 2


PROBLEMS = {
  "ravine": Problem(
    title="ravine (x² + 100 y²) / 2",
    loss=ravine,
    minimum=(0.0, 0.0),
    start=(-10.0, 1.0),
    # h = lr * lambda_max = 0.9 is inside all three stability limits: h < 2 (SGD),
    # h < 2 (1 + beta) (heavy ball), h < 2 (1 + beta) / (1 + 2 beta) = 1.36 (Nesterov; Jury
    # criterion on z^2 - (1 + beta)(1 - h) z + beta (1 - h), its recursion on a quadratic).
    learning_rate=0.009,
    max_steps=5_000,
    window=((-11.0, 2.0), (-1.6, 1.6)),
    log_contours=False,
  ),
  "rosenbrock": Problem(
    title="Rosenbrock (1 - x)² + 100 (y - x²)²",
    loss=rosenbrock,
    minimum=(1.0, 1.0),
    start=(-1.5, 2.0),
    learning_rate=1e-3,
    max_steps=25_000,
    window=((-2.0, 2.0), (-1.0, 3.0)),
    log_contours=True,
  ),
}


# SGD wide and pale underneath, so the paths that share the Rosenbrock valley stay visible.
LINE_STYLES = {
  "SGD": {"color": "tab:blue", "lw": 4.0, "alpha": 0.5},
  "momentum": {"color": "tab:orange", "lw": 1.5},
  "Nesterov": {"color": "tab:red", "lw": 1.2, "ls": "--"},
}


def optimizers(beta: float) -> dict[str, Callable[[float], optax.GradientTransformation]]:
  return {
    "SGD": optim.sgd,
    "momentum": functools.partial(optim.momentum, beta=beta),
    "Nesterov": functools.partial(optim.nesterov, beta=beta),
  }


def trajectory(opt: optax.GradientTransformation, problem: Problem) -> np.ndarray:
  """The iterates theta_0 .. theta_max_steps, shape (max_steps + 1, 2)."""

  def step(carry, _):
    theta, state = carry
    updates, state = opt.update(jax.grad(problem.loss)(theta), state, theta)
    theta = optax.apply_updates(theta, updates)
    return (theta, state), theta

  start = jnp.asarray(problem.start, jnp.float32)
  run = jax.jit(
    lambda theta: jax.lax.scan(step, (theta, opt.init(theta)), length=problem.max_steps)
  )
  _, thetas = run(start)
  return np.concatenate([np.asarray(start)[None], np.asarray(thetas)])


def steps_to_tolerance(thetas: np.ndarray, minimum, tolerance: float) -> int | None:
  """The first t with ||theta_t - theta*|| < tolerance, or None if the run never gets there."""
  close = np.linalg.norm(thetas - np.asarray(minimum), axis=1) < tolerance
  return int(np.argmax(close)) if close.any() else None


def markdown_table(steps: dict[str, dict[str, int | None]], tolerance: float) -> str:
  names = list(next(iter(steps.values())))
  lines = [
    f"Steps to reach ||theta - theta*|| < {tolerance:g} (same learning rate per problem):",
    "",
    "| problem | learning rate | " + " | ".join(names) + " |",
    "|---|---:|" + "---:|" * len(names),
  ]
  for key, counts in steps.items():
    problem = PROBLEMS[key]
    cells = [
      f"> {problem.max_steps}" if counts[name] is None else str(counts[name]) for name in names
    ]
    lines.append(f"| {problem.title} | {problem.learning_rate:g} | " + " | ".join(cells) + " |")
  return "\n".join(lines)


def plot(paths: dict[str, dict[str, np.ndarray]], out: pathlib.Path) -> None:
  """Trajectories over filled loss contours, one panel per problem."""
  fig, axes = plt.subplots(1, len(paths), figsize=(6.5 * len(paths), 5.2), dpi=110)
  for ax, (key, runs) in zip(np.atleast_1d(axes), paths.items(), strict=True):
    problem = PROBLEMS[key]
    (x_lo, x_hi), (y_lo, y_hi) = problem.window
    grid_x, grid_y = np.meshgrid(np.linspace(x_lo, x_hi, 300), np.linspace(y_lo, y_hi, 300))
    values = np.asarray(jax.vmap(problem.loss)(jnp.stack([grid_x.ravel(), grid_y.ravel()], 1)))
    values = values.reshape(grid_x.shape)
    if problem.log_contours:
      levels = np.logspace(-1, math.log10(values.max()), 25)
      norm = matplotlib.colors.LogNorm()
    else:
      levels, norm = 25, None
    ax.contourf(grid_x, grid_y, values, levels=levels, norm=norm, cmap="Greys", alpha=0.6)
    ax.contour(grid_x, grid_y, values, levels=levels, norm=norm, colors="grey", linewidths=0.3)
    for name, thetas in runs.items():
      label = f"{name} ({len(thetas) - 1} steps)"
      ax.plot(thetas[:, 0], thetas[:, 1], label=label, **LINE_STYLES[name])
    ax.plot(*problem.start, "ko", ms=5)
    ax.plot(*problem.minimum, "k*", ms=12)
    ax.set(xlim=(x_lo, x_hi), ylim=(y_lo, y_hi), xlabel="x", ylabel="y")
    ax.set_title(f"{problem.title}, lr = {problem.learning_rate:g}", fontsize=10)
    ax.legend(loc="lower right", fontsize=8)
  fig.tight_layout()
  out.parent.mkdir(parents=True, exist_ok=True)
  fig.savefig(out)
  plt.close(fig)


def parse_args(argv=None) -> argparse.Namespace:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument(
    "--out",
    type=pathlib.Path,
    default=pathlib.Path("optimizers_demo.png"),
    help="where to write the PNG (default: ./optimizers_demo.png)",
  )
  parser.add_argument(
    "--tolerance",
    type=float,
    default=1e-3,
    help="distance to the minimum that counts as reached (default: 1e-3)",
  )
  parser.add_argument(
    "--beta", type=float, default=0.9, help="momentum coefficient in [0, 1) (default: 0.9)"
  )
  args = parser.parse_args(argv)
  if not (math.isfinite(args.tolerance) and args.tolerance > 0):
    parser.error(f"--tolerance must be a finite number in (0, inf); got {args.tolerance}")
  return args


def main(argv=None) -> None:
  args = parse_args(argv)
  steps, paths = {}, {}
  for key, problem in PROBLEMS.items():
    steps[key], paths[key] = {}, {}
    for name, factory in optimizers(args.beta).items():
      thetas = trajectory(factory(problem.learning_rate), problem)
      count = steps_to_tolerance(thetas, problem.minimum, args.tolerance)
      steps[key][name] = count
      paths[key][name] = thetas if count is None else thetas[: count + 1]
  print(markdown_table(steps, args.tolerance))
  plot(paths, args.out)
  print(f"\nWrote {args.out}")


if __name__ == "__main__":
  main()
