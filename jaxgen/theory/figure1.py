"""Goodfellow et al. 2014, Figure 1, by the real training loop on 1-D data (issue 15, item 7).

p_data = N(1, 0.5^2) (`gaussian1d`); G(z) = b + w z is affine (p_g = N(b, w^2) in closed form),
starting off the data at N(-1, 0.3^2); D is a small LeakyReLU MLP; the objective is the default
non-saturating GAN. The four panels, as in the paper:

  (a) near the start: D partially accurate (a few D steps, G frozen at its start);
  (b) D trained alone towards D*(x) = p_data / (p_data + p_g) (Goodfellow et al. 2014, Prop. 1);
  (c) after G steps: the gradient of D has guided G(z) towards the data;
  (d) at the end p_g = p_data and D = 1/2 (Goodfellow et al. 2014, Theorem 1).

The D-alone phase is a run of the same config with G's learning rate 0; its state (players and
optimizer states, same structures) continues in the run where G learns.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import numpy as np
from scipy import stats

from jaxgen.run import train
from jaxgen.theory import density_ratio, runs

DATA_MEAN, DATA_STD = 1.0, 0.5
GENERATOR_START = (-1.0, 0.3)  # (b, w) of G at step 0: p_g = N(-1, 0.3^2)
HIDDEN = (32, 32)
BATCH_SIZE = 256
LEARNING_RATE = 2e-3
STEPS_PER_CALL = 50
SETTING = runs.Setting1D(DATA_MEAN, DATA_STD, HIDDEN, BATCH_SIZE, STEPS_PER_CALL)
# Snapshot steps: (a) after 50 D steps, (b) at the end of the D-alone phase, (c) 1000 steps later,
# (d) at the end.
D_ALONE_STEPS = 500
SNAPSHOT_A, SNAPSHOT_C_AFTER = 50, 1000
QUICK_STEPS, FULL_STEPS = 4500, 8500
SUPPORT_STDS = 2.0  # "the data's support" of the test: |x - mean| <= 2 std


class Figure1Result(NamedTuple):
  """D, p_g and p_data on `grid` at the four snapshots (a)-(d)."""

  grid: np.ndarray  # [G] x values
  data_density: np.ndarray  # [G] p_data(x), closed form
  steps: np.ndarray  # [4] training steps of the snapshots
  discriminator: np.ndarray  # [4, G] D(x) = sigmoid(logit)
  optimal_discriminator: np.ndarray  # [4, G] D*(x) = p_data / (p_data + p_g)
  generator_density: np.ndarray  # [4, G] p_g(x) = N(x; b, w^2), closed form
  generator_mean: np.ndarray  # [4] b
  generator_std: np.ndarray  # [4] |w|
  final_max_deviation: float  # max |D(x) - 1/2| over |x - mean| <= 2 std at (d)
  optimal_error_b: float  # max |D - D*| over the same x at (b): D alone reaches D*


def _config(num_steps: int, seed: int, generator_learning_rate: float):
  config = runs.config_1d(SETTING, num_steps=num_steps, seed=seed)
  # The loss stays the default non-saturating one (Goodfellow et al. 2014, sec. 3).
  adam = {"name": "adam", "learning_rate": LEARNING_RATE, "b1": 0.5, "b2": 0.999}
  config.optimizer.discriminator = dict(adam)
  config.optimizer.generator = {**adam, "learning_rate": generator_learning_rate}
  return config


def figure1_experiment(*, quick: bool = False, seed: int = 0) -> Figure1Result:
  """Trains the 1-D GAN through `train.Run` and snapshots D, p_g and p_data four times."""
  total = QUICK_STEPS if quick else FULL_STEPS
  d_alone = train.Run(_config(total, seed, generator_learning_rate=0.0))
  gan = train.Run(_config(total, seed, generator_learning_rate=LEARNING_RATE))
  grid = np.linspace(DATA_MEAN - 8 * DATA_STD, DATA_MEAN + 4 * DATA_STD, 241)
  support = np.abs(grid - DATA_MEAN) <= SUPPORT_STDS * DATA_STD
  steps = (SNAPSHOT_A, D_ALONE_STEPS, D_ALONE_STEPS + SNAPSHOT_C_AFTER, total)
  bias, scale = GENERATOR_START
  state = runs.set_affine_generator(d_alone.init_state(), [[scale]], [bias])
  log_data = stats.norm(DATA_MEAN, DATA_STD).logpdf(grid)
  snapshots = []
  for step in steps:
    run = d_alone if step <= D_ALONE_STEPS else gan
    state, _ = runs.train_steps(run, state, step)
    b, w = runs.affine_generator(state)
    d = np.asarray(jax.nn.sigmoid(runs.discriminator_fn(run, state)(grid)), np.float64)
    d_star = density_ratio.optimal_discriminator(log_data, stats.norm(b, w).logpdf(grid))
    snapshots.append((d, d_star, b, w))
  d, d_star, b, w = (np.asarray(values) for values in zip(*snapshots, strict=True))
  return Figure1Result(
    grid=grid,
    data_density=stats.norm(DATA_MEAN, DATA_STD).pdf(grid),
    steps=np.asarray(steps),
    discriminator=d,
    optimal_discriminator=d_star,
    generator_density=stats.norm.pdf(grid[None], b[:, None], w[:, None]),
    generator_mean=b,
    generator_std=w,
    final_max_deviation=float(np.max(np.abs(d[-1, support] - 0.5))),
    optimal_error_b=float(np.max(np.abs(d[1, support] - d_star[1, support]))),
  )


def draw_figure1(result: Figure1Result, axes) -> None:
  """Four panels like the paper's: D dashed blue, p_g green, p_data black dotted."""
  for i, ax in enumerate(axes):
    ax.plot(result.grid, result.data_density, "k:", lw=2, label="p_data")
    ax.plot(result.grid, result.generator_density[i], "g-", label="p_g")
    ax.plot(result.grid, result.discriminator[i], "b--", label="D(x)")
    ax.set_title(f"({'abcd'[i]}) step {result.steps[i]}")
    ax.set_xlabel("x")
    ax.set_ylim(0, 1.05 * max(1.0, float(np.max(result.generator_density))))
  axes[0].legend(fontsize=8, loc="upper left")
