"""The density ratio a discriminator learns (Goodfellow et al. 2014, Prop. 1), and D trained alone.

For a fixed generator the optimal discriminator of the GAN game is D*(x) = p(x) / (p(x) + p_g(x))
(Goodfellow et al. 2014, Prop. 1), so

  Dr(x) = D*(x) / (1 - D*(x)) = p(x) / p_g(x),   logit D*(x) = log p(x) - log p_g(x):

a sigmoid discriminator's logit estimates the log density ratio (Sugiyama et al. 2012's density
ratio by probabilistic classification; Mohamed & Lakshminarayanan 2016, sec. 2.2). The helpers
`log_density_ratio` / `density_ratio` read that estimate off a trained discriminator.

The experiment trains D ALONE through the one loop (`train.Run`) against a frozen affine generator,
G(z) = b + w z with z ~ N(0, 1), so p_g = N(b, w^2) is known in closed form, and compares D's
logit with the true log p / p_g on a grid (the frozen G: `jaxgen.theory.runs`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from scipy import optimize, stats

from jaxgen.algorithms.base import TrainState
from jaxgen.configs import default
from jaxgen.run import train
from jaxgen.theory import runs

# The GAN objectives whose D is sigmoid(logit) (jaxgen.losses.gan: both use the minimax D loss,
# Goodfellow et al. 2014, eq. 1), so that its logit estimates log p - log p_g.
SIGMOID_LOSSES = ("minimax", "non_saturating")

LogitFn = Callable[[jax.Array], jax.Array]


# --- Reading the ratio off a discriminator ----------------------------------------------------


def discriminator_logits(run: train.Run, state: TrainState) -> LogitFn:
  """x [N, *example_shape] -> D's logits [N], for the discriminator of `run` at `state`.

  D runs in inference mode (running batch statistics, if any). Raises ValueError where D's output
  is not the logit of D(x) = P(real | x) for one unlabelled sample: an objective other than
  SIGMOID_LOSSES (a critic's value, a least-squares score), packing (D judges m samples at once),
  spectral norm (D's weights are rescaled inside the loss), a conditional D.
  """
  config, algorithm = run.config, run.algorithm
  loss = config.algorithm.get("loss", "non_saturating")
  if loss not in SIGMOID_LOSSES:
    raise ValueError(
      f"D's output estimates log p / p_g only for the sigmoid objectives {SIGMOID_LOSSES}; "
      f"config.algorithm.loss = {loss!r}."
    )
  stabilisers = getattr(algorithm, "stabilisers", None)
  if stabilisers is None or "discriminator" not in algorithm.players:
    raise ValueError(f"algorithm {config.algorithm.name!r} has no GAN discriminator.")
  if stabilisers.packing > 1 or stabilisers.spectral_norm:
    raise ValueError(
      "density ratios need D on single samples with its plain weights; turn off "
      "stabilisers.packing and stabilisers.spectral_norm."
    )
  if getattr(algorithm, "discriminator_classes", 0):
    raise ValueError("a conditional D estimates p(x | y) / p_g(x | y); use an unconditional one.")
  return runs.discriminator_fn(run, state)


def _logit_fn(discriminator: train.Run | LogitFn, state: TrainState | None) -> LogitFn:
  if isinstance(discriminator, train.Run):
    if state is None:
      raise ValueError("pass the trained state: density_ratio(run, x, state=state).")
    return discriminator_logits(discriminator, state)
  if not callable(discriminator):
    raise ValueError(
      f"discriminator must be a train.Run (with state=) or a function x -> logits; got "
      f"{type(discriminator).__name__}."
    )
  if state is not None:
    raise ValueError("state= is for a train.Run; a logit function carries its own parameters.")
  return discriminator


def log_density_ratio(
  discriminator: train.Run | LogitFn, x, *, state: TrainState | None = None
) -> jax.Array:
  """log Dr(x) = logit D(x), the estimate of log p(x) - log p_g(x) (Goodfellow et al. 2014,
  Prop. 1: logit D* = log p - log p_g).

  Args:
    discriminator: a `train.Run` of a GAN with a sigmoid objective (then `state` is its trained
      state; see `discriminator_logits`), or a function x -> D's logits.
    x: points [N, *example_shape].
    state: the run's state (only with a `train.Run`).
  """
  return _logit_fn(discriminator, state)(jnp.asarray(x))


def density_ratio(
  discriminator: train.Run | LogitFn, x, *, state: TrainState | None = None
) -> jax.Array:
  """Dr(x) = D(x) / (1 - D(x)) = exp(logit D(x)), the estimate of p(x) / p_g(x) (Goodfellow et
  al. 2014, Prop. 1). Arguments as `log_density_ratio`; exp of the logit rather than D / (1 - D),
  which rounds to inf where D rounds to 1."""
  return jnp.exp(log_density_ratio(discriminator, x, state=state))


def optimal_discriminator(log_p, log_p_g) -> np.ndarray:
  """D*(x) = p / (p + p_g) = sigmoid(log p - log p_g) (Goodfellow et al. 2014, Prop. 1)."""
  return 1.0 / (1.0 + np.exp(np.asarray(log_p_g) - np.asarray(log_p)))


# --- The experiment -----------------------------------------------------------------------------

DATA_MEAN, DATA_STD = 0.0, 1.0  # p = N(0, 1)
GENERATOR_MEAN, GENERATOR_STD = 1.0, 0.7  # p_g = N(1, 0.7^2)
REGION_MASS = 0.95  # the grid spans the central 95 % of the mixture (p + p_g) / 2
GRID_POINTS = 201
# (steps, batch size, Adam's lr): the full setting's larger batches and smaller steps leave D's
# last iterate less noisy (measured max error 0.12-0.22 vs 0.19-0.40 quick, seeds 0-2).
QUICK, FULL = (1000, 1024, 2e-3), (3000, 4096, 1e-3)


class DensityRatioResult(NamedTuple):
  """D trained alone between p = N(data_mean, data_std^2) and p_g = N(generator_mean,
  generator_std^2), read on a grid over the central 95 % of (p + p_g) / 2."""

  grid: np.ndarray  # [GRID_POINTS]
  learned_log_ratio: np.ndarray  # D's logit on the grid
  true_log_ratio: np.ndarray  # log p - log p_g on the grid
  max_error: float  # max |learned - true| on the grid
  rms_error: float  # root mean square of learned - true on the grid (uniform grid weights)
  weighted_rms_error: float  # the same, each grid point weighted by the mixture's density
  data: tuple[float, float]  # (mean, std) of p
  generator: tuple[float, float]  # (mean, std) of p_g
  num_steps: int


def density_ratio_config(*, seed: int = 0, quick: bool = False):
  """The experiment's config: `gaussian1d` data N(0, 1), the frozen affine G, an MLP D (2 x 64,
  LeakyReLU) trained with the minimax loss by Adam (steps, batch and lr of QUICK or FULL)."""
  num_steps, batch_size, learning_rate = QUICK if quick else FULL
  config = runs.affine_generator_config(default.get_config(), frozen=True)
  config.seed = seed
  config.data.name = "gaussian1d"
  config.data.options = {"mean": DATA_MEAN, "std": DATA_STD}
  config.batch_size = batch_size
  config.num_steps = num_steps
  config.algorithm.loss = "minimax"
  config.model.discriminator = {"name": "mlp", "hidden": (64, 64), "maxout_pieces": 0}
  config.optimizer.discriminator = {
    "name": "adam",
    "learning_rate": learning_rate,
    "b1": 0.5,
    "b2": 0.999,
  }
  return config


def central_region(mass: float = REGION_MASS) -> tuple[float, float]:
  """The interval holding the central `mass` of the mixture (p + p_g) / 2: its (1 - mass) / 2
  and (1 + mass) / 2 quantiles, by root finding on the mixture's CDF."""
  p, p_g = stats.norm(DATA_MEAN, DATA_STD), stats.norm(GENERATOR_MEAN, GENERATOR_STD)
  cdf = lambda x, u: 0.5 * (p.cdf(x) + p_g.cdf(x)) - u
  bracket = 50.0 * max(DATA_STD, GENERATOR_STD) + abs(DATA_MEAN) + abs(GENERATOR_MEAN)
  low, high = (
    optimize.brentq(cdf, -bracket, bracket, args=(u,)) for u in ((1 - mass) / 2, (1 + mass) / 2)
  )
  return float(low), float(high)


def mixture_density(x) -> np.ndarray:
  """(p(x) + p_g(x)) / 2, the density of a sample D sees (half real, half fake)."""
  x = np.asarray(x, np.float64)
  p, p_g = stats.norm(DATA_MEAN, DATA_STD), stats.norm(GENERATOR_MEAN, GENERATOR_STD)
  return 0.5 * (p.pdf(x) + p_g.pdf(x))


def true_log_ratio(x) -> np.ndarray:
  """log N(x; 0, 1) - log N(x; 1, 0.7^2), the log ratio D's logit estimates."""
  x = np.asarray(x, np.float64)
  return stats.norm(DATA_MEAN, DATA_STD).logpdf(x) - stats.norm(
    GENERATOR_MEAN, GENERATOR_STD
  ).logpdf(x)


def density_ratio_experiment(*, quick: bool = False, seed: int = 0) -> DensityRatioResult:
  """Trains D alone (FULL: 3000 steps; QUICK: 1000) between N(0, 1) and N(1, 0.7^2) and compares its
  logit with log p / p_g on a grid over the central 95 % of the mixture."""
  run = train.Run(density_ratio_config(seed=seed, quick=quick))
  num_steps = run.config.num_steps
  state = runs.set_affine_generator(run.init_state(), [[GENERATOR_STD]], [GENERATOR_MEAN])
  state, _ = runs.train_steps(run, state, num_steps)
  grid = np.linspace(*central_region(), GRID_POINTS)
  learned = np.asarray(log_density_ratio(run, grid[:, None].astype(np.float32), state=state))
  truth = true_log_ratio(grid)
  error = learned.astype(np.float64) - truth
  weights = mixture_density(grid)
  return DensityRatioResult(
    grid=grid,
    learned_log_ratio=learned,
    true_log_ratio=truth,
    max_error=float(np.max(np.abs(error))),
    rms_error=float(np.sqrt(np.mean(error**2))),
    weighted_rms_error=float(np.sqrt(np.sum(weights * error**2) / np.sum(weights))),
    data=(DATA_MEAN, DATA_STD),
    generator=(GENERATOR_MEAN, GENERATOR_STD),
    num_steps=num_steps,
  )


def draw_density_ratio(result: DensityRatioResult, axes) -> None:
  """Left: D's logit and the true log p / p_g on the grid; right (if a second Axes is given): D
  and D* = p / (p + p_g), with the two densities."""
  axes = list(np.atleast_1d(axes))
  x = result.grid
  ax = axes[0]
  ax.plot(x, result.true_log_ratio, "k-", label="log p / p_g (true)")
  ax.plot(x, result.learned_log_ratio, "C1--", label="logit D (learned)")
  ax.set_xlabel("x")
  ax.set_ylabel("log density ratio")
  ax.set_title(
    f"|error| max {result.max_error:.2f}, RMS {result.rms_error:.2f} "
    f"(mixture-weighted {result.weighted_rms_error:.2f})"
  )
  ax.legend()
  if len(axes) < 2:
    return
  ax = axes[1]
  log_p = stats.norm(*result.data).logpdf(x)
  log_p_g = stats.norm(*result.generator).logpdf(x)
  ax.plot(x, np.exp(log_p), "C0:", label="p (data)")
  ax.plot(x, np.exp(log_p_g), "C2:", label="p_g (frozen G)")
  ax.plot(x, optimal_discriminator(log_p, log_p_g), "k-", label="D* = p / (p + p_g)")
  ax.plot(x, 1.0 / (1.0 + np.exp(-result.learned_log_ratio)), "C1--", label="D (learned)")
  ax.set_xlabel("x")
  ax.set_title(f"D after {result.num_steps} steps vs D*")
  ax.legend()
