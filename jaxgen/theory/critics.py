"""A critic recovers W1 (issue 15, item 6): WGAN-GP's critic against the exact 1-D distance.

Between p = N(m_p, s_p^2) (the data) and p_g = N(b, w^2) (a frozen affine G), the
Kantorovich-Rubinstein dual W1 = sup_{||f||_L <= 1} E_p f - E_q f (Arjovsky et al. 2017, Eq. 3)
has the exact value int_0^1 |F^-1(u) - G^-1(u)| du (`divergences.w1_quantiles`). A critic trained
by the one loop estimates it as E_p f - E_q f on fresh samples:

- WGAN-GP (Gulrajani et al. 2017, Eq. 3, lambda = 10): within 10 % of W1 over seeds. The penalty
  is soft, so its exact optimum lies above W1 (`wgan_gp_optimum`: +10 % here), where critics that
  find the optimal f*'s kink head; critics that stay monotone get at most the mean shift, below W1.
- WGAN's weight clip c (Arjovsky et al. 2017, Algorithm 1): the clipped critic is K-Lipschitz with
  a K set by c and the architecture, so its estimate is K-scaled: far above W1 for a large c, far
  below it as c shrinks. Divided by the critic's slope bound K it is a lower bound of W1.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from scipy import integrate, stats

from jaxgen.run import train
from jaxgen.theory import divergences, runs

# The two laws: p = N(0, 1), p_g = N(1, 2^2). Their CDFs cross (at x = -1), so the optimal critic is
# not monotone and W1 = 1.1666 is more than the mean shift.
DATA_MEAN, DATA_STD = 0.0, 1.0
GENERATOR_MEAN, GENERATOR_STD = 1.0, 2.0
PENALTY_WEIGHT = 10.0  # Gulrajani et al. 2017, Algorithm 1
CLIPS = (0.5, 0.1, 0.05, 0.01)
QUICK_CLIPS = (0.1, 0.01)
HIDDEN = (128,)
BATCH_SIZE = 512
STEPS_PER_CALL = 100
SETTING = runs.Setting1D(DATA_MEAN, DATA_STD, HIDDEN, BATCH_SIZE, STEPS_PER_CALL)
EVAL_SAMPLES = 100_000
# The reported estimate averages the last evaluations (every STEPS_PER_CALL steps): by linearity it
# is the estimate of the averaged critic, whose training noise averages out.
AVERAGE_LAST = 5


class CriticW1Result(NamedTuple):
  """Exact W1, the WGAN-GP critic's estimate and the weight-clipped critics' (see module doc)."""

  exact_w1: float
  gp_estimate: float  # E_p f - E_q f on fresh samples, f: the last AVERAGE_LAST critics' mean
  gp_lipschitz: float  # max |f'| of that critic on `grid`
  gp_optimum: float  # the penalised objective's exact optimum (`wgan_gp_optimum`)
  curve_steps: np.ndarray  # [T] training steps of `gp_curve`
  gp_curve: np.ndarray  # [T] the WGAN-GP estimate during training
  clips: np.ndarray  # [C] weight clips c
  clip_estimates: np.ndarray  # [C] raw E_p f - E_q f of the clipped critics
  clip_lipschitz: np.ndarray  # [C] max |f'| of each clipped critic on `grid`
  grid: np.ndarray  # [G] x values of the critic curves
  optimal_critic: np.ndarray  # [G] a 1-Lipschitz optimum f*, centred on the data's mean of f*
  gp_critic: np.ndarray  # [G] the WGAN-GP critic, centred alike
  clip_critics: np.ndarray  # [C, G] each clipped critic divided by its K, centred alike


def _normal_cdf_gap(x, mean_p, std_p, mean_q, std_q):
  """F_q(x) - F_p(x): by parts, E_p f - E_q f = int f'(x) (F_q(x) - F_p(x)) dx."""
  return stats.norm(mean_q, std_q).cdf(x) - stats.norm(mean_p, std_p).cdf(x)


def w1_normals(mean_p: float, std_p: float, mean_q: float, std_q: float) -> float:
  """W1(N(mean_p, std_p^2), N(mean_q, std_q^2)) by the quantile formula (`w1_quantiles`)."""
  return divergences.w1_quantiles(stats.norm(mean_p, std_p).ppf, stats.norm(mean_q, std_q).ppf)


def interpolate_density(x, mean_p, std_p, mean_q, std_q) -> np.ndarray:
  """Density of t x_p + (1 - t) x_q, t ~ U[0, 1], x_p ~ p, x_q ~ q independent (WGAN-GP's
  interpolates, Gulrajani et al. 2017, Algorithm 1 line 6): given t it is
  N(t m_p + (1 - t) m_q, t^2 s_p^2 + (1 - t)^2 s_q^2), integrated over t by Gauss-Legendre."""
  nodes, weights = np.polynomial.legendre.leggauss(200)
  t, weights = (nodes + 1) / 2, weights / 2  # [-1, 1] -> [0, 1]
  mean = t * mean_p + (1 - t) * mean_q
  std = np.sqrt((t * std_p) ** 2 + ((1 - t) * std_q) ** 2)
  z = (np.asarray(x, np.float64)[..., None] - mean) / std
  return np.sum(weights * np.exp(-(z**2) / 2) / (std * np.sqrt(2 * np.pi)), axis=-1)


def wgan_gp_optimum(
  mean_p: float, std_p: float, mean_q: float, std_q: float, weight: float = PENALTY_WEIGHT
) -> float:
  """E_p f - E_q f at the exact maximiser of WGAN-GP's critic objective between two normals.

  Derivation: in 1-D the objective is int f' D dx - lambda int rho (|f'| - 1)^2 dx with
  D = F_q - F_p (by parts) and rho the interpolates' density; it is maximised pointwise by
  f' = sign(D) (1 + |D| / (2 lambda rho)), where E_p f - E_q f = W1 + int D^2 / (2 lambda rho) dx:
  above W1 by a term that vanishes as lambda grows.
  """
  if not weight > 0:
    raise ValueError(f"weight (lambda) must be > 0; got {weight}.")
  args = (mean_p, std_p, mean_q, std_q)
  lo = min(mean_p - 10 * std_p, mean_q - 10 * std_q)
  hi = max(mean_p + 10 * std_p, mean_q + 10 * std_q)
  x = np.linspace(lo, hi, 8_001)
  rho, gap = interpolate_density(x, *args), _normal_cdf_gap(x, *args)
  # Far out both underflow to 0, where the integrand (~ gap's tail / x^2) is negligible.
  excess = np.where(rho > 0, gap**2 / (2 * weight * np.maximum(rho, 1e-300)), 0.0)
  return w1_normals(*args) + float(integrate.trapezoid(excess, x))


def optimal_critic(x, mean_p, std_p, mean_q, std_q) -> np.ndarray:
  """A 1-Lipschitz maximiser f*(x) = int_{x_0}^x sign(F_q - F_p) of E_p f - E_q f on the line
  (the derivation of `wgan_gp_optimum` with lambda -> inf), by the trapezoid rule on sorted x."""
  x = np.asarray(x, np.float64)
  slope = np.sign(_normal_cdf_gap(x, mean_p, std_p, mean_q, std_q))
  steps = np.diff(x) * (slope[1:] + slope[:-1]) / 2
  return np.concatenate([[0.0], np.cumsum(steps)])


def critic_estimate(critic, real: np.ndarray, fake: np.ndarray) -> float:
  """E_p f - E_q f on samples of p (`real`) and q (`fake`): the dual's value (Arjovsky et al.
  2017, Eq. 3) at the critic f."""
  return float(jnp.mean(critic(real)) - jnp.mean(critic(fake)))


def lipschitz_on_grid(critic, grid: np.ndarray) -> float:
  """max |f'(x)| over `grid` (exact derivatives by autodiff): f's slope bound where the mass is."""
  slope = jax.vmap(jax.grad(lambda x: critic(x[None])[0]))(jnp.asarray(grid, jnp.float32))
  return float(jnp.max(jnp.abs(slope)))


def _critic_config(*, num_steps, seed, clip=None):
  config = runs.config_1d(SETTING, num_steps=num_steps, seed=seed)
  config.algorithm.loss = "wasserstein"
  # D alone against a known p_g: one critic step per (frozen) G step.
  config.algorithm.discriminator_steps = 1
  if clip is None:  # WGAN-GP (Gulrajani et al. 2017, Eq. 3), Adam with beta1 0.5, beta2 0.9
    config.algorithm.penalty = {"name": "wgan_gp", "weight": PENALTY_WEIGHT}
    optimizer = {"name": "adam", "learning_rate": 1e-2, "b1": 0.5, "b2": 0.9}
  else:  # WGAN (Arjovsky et al. 2017, Algorithm 1): RMSProp, a faster rate than their 5e-5
    config.algorithm.weight_clip = clip
    optimizer = {"name": "rmsprop", "learning_rate": 1e-3}
  config.optimizer.discriminator = dict(optimizer)
  config.optimizer.generator = {**optimizer, "learning_rate": 0.0}  # G frozen: p_g stays known
  return config


def _trained_critic(config, curve_every=None, real=None, fake=None):
  """(run, final state, [estimate every `curve_every` steps]) of the critic run `config`."""
  run = train.Run(config)
  state = runs.set_affine_generator(run.init_state(), [[GENERATOR_STD]], [GENERATOR_MEAN])
  curve, every = [], curve_every or config.num_steps
  for start in range(0, config.num_steps, every):
    state, _ = runs.train_steps(run, state, min(start + every, config.num_steps))
    if curve_every:
      curve.append(critic_estimate(runs.discriminator_fn(run, state), real, fake))
  return run, state, curve


def critic_w1_experiment(*, quick: bool = False, seed: int = 0) -> CriticW1Result:
  """Trains a WGAN-GP critic and weight-clipped critics between N(0, 1) and a frozen
  G = N(1, 2^2); returns their W1 estimates beside the exact value (module doc)."""
  gp_steps, clip_steps = (1000, 300) if quick else (4000, 2000)
  clips = QUICK_CLIPS if quick else CLIPS
  exact = w1_normals(DATA_MEAN, DATA_STD, GENERATOR_MEAN, GENERATOR_STD)
  grid = np.linspace(-6.0, 8.0, 701)
  # Fresh evaluation samples, the same for every critic: the data's, and p_g = N(b, w^2)'s (G is
  # frozen and affine, so its law is exactly that).
  rng = np.random.default_rng(10_000 + seed)
  real = DATA_MEAN + DATA_STD * rng.standard_normal(EVAL_SAMPLES)
  fake = GENERATOR_MEAN + GENERATOR_STD * rng.standard_normal(EVAL_SAMPLES)
  every = STEPS_PER_CALL
  run, state, curve = _trained_critic(
    _critic_config(num_steps=gp_steps, seed=seed), every, real, fake
  )
  gp_critic = runs.discriminator_fn(run, state)
  f_star = optimal_critic(grid, DATA_MEAN, DATA_STD, GENERATOR_MEAN, GENERATOR_STD)
  centre = lambda f, k=1.0: np.asarray(f(grid)) / k - float(np.mean(f(real))) / k
  clip_estimates, clip_lipschitz, clip_critics = [], [], []
  for clip in clips:
    run, state, _ = _trained_critic(_critic_config(num_steps=clip_steps, seed=seed, clip=clip))
    critic = runs.discriminator_fn(run, state)
    clip_estimates.append(critic_estimate(critic, real, fake))
    clip_lipschitz.append(lipschitz_on_grid(critic, grid))
    clip_critics.append(centre(critic, clip_lipschitz[-1]))
  return CriticW1Result(
    exact_w1=exact,
    gp_estimate=float(np.mean(curve[-AVERAGE_LAST:])),
    gp_lipschitz=lipschitz_on_grid(gp_critic, grid),
    gp_optimum=wgan_gp_optimum(DATA_MEAN, DATA_STD, GENERATOR_MEAN, GENERATOR_STD),
    curve_steps=np.arange(1, len(curve) + 1) * every,
    gp_curve=np.asarray(curve),
    clips=np.asarray(clips),
    clip_estimates=np.asarray(clip_estimates),
    clip_lipschitz=np.asarray(clip_lipschitz),
    grid=grid,
    optimal_critic=f_star - float(np.mean(np.interp(real, grid, f_star))),
    gp_critic=centre(gp_critic),
    clip_critics=np.asarray(clip_critics),
  )


def draw_critic_w1(result: CriticW1Result, axes) -> None:
  """Three panels: the WGAN-GP estimate during training vs exact W1; the clipped critics' raw
  estimates (and divided by their slope bound K) vs c; the critics' shapes against f*."""
  ax_curve, ax_clip, ax_shape = axes
  ax_curve.plot(result.curve_steps, result.gp_curve, "C0-", label="WGAN-GP critic estimate")
  ax_curve.axhline(result.exact_w1, color="k", label=f"exact W1 = {result.exact_w1:.3f}")
  ax_curve.axhline(
    result.gp_optimum, color="C0", ls=":", label=f"penalised optimum {result.gp_optimum:.3f}"
  )
  ax_curve.set(xlabel="critic step", ylabel="E_p f - E_q f", title="WGAN-GP critic vs W1")
  ax_curve.legend(fontsize=8)

  ax_clip.loglog(result.clips, result.clip_estimates, "C3o-", label="raw estimate")
  ax_clip.loglog(
    result.clips, result.clip_estimates / result.clip_lipschitz, "C2s--", label="estimate / K"
  )
  ax_clip.axhline(result.exact_w1, color="k", label="exact W1")
  ax_clip.set(xlabel="weight clip c", ylabel="E_p f - E_q f", title="weight-clipped critic")
  ax_clip.legend(fontsize=8)

  ax_shape.plot(result.grid, result.optimal_critic, "k-", lw=2, label="f* (1-Lipschitz optimum)")
  ax_shape.plot(result.grid, result.gp_critic, "C0-", label="WGAN-GP f")
  for clip, curve in zip(result.clips, result.clip_critics, strict=True):
    ax_shape.plot(result.grid, curve, "--", lw=1, label=f"clip {clip:g}: f / K")
  ax_shape.set(xlabel="x", ylabel="f(x) - E_p f", title="critics")
  ax_shape.legend(fontsize=7)
