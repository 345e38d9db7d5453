"""Disjoint supports and the perfect discriminator (Arjovsky & Bottou 2017, sec. 2).

Where p and p_g live on disjoint low-dimensional sets, a perfect discriminator exists (their Thms.
2.1-2.2) and training D drives it there; then

- the minimax generator loss E[log(1 - D(G(z)))] has a vanishing gradient: ||grad_theta_g|| <=
  M ||D - D*|| / (1 - ||D - D*||) -> 0 as D -> D* (Thm. 2.4);
- the non-saturating loss -E[log D(G(z))] keeps a gradient, but it is unstable: with noisy D its
  gradient is a centred Cauchy variable, of infinite mean and variance (Thm. 2.6), and in practice
  its norm grows with D's confidence (their Fig. 3);
- instance noise, N(0, sigma^2) added to every input of D, makes the two (noised) distributions
  overlap, so D cannot be perfect and G's gradient stays useful (their sec. 3.1, Thm. 3.2).

The experiment: data `segment`, uniform on {0} x [-1, 1]; a frozen affine G(z) = (theta, z), z ~
N(0, 1), whose mass lies on the parallel line x = theta, disjoint from the data's segment. D alone
trains through the one loop (`train.Run`, G's learning rate 0), and each step records the norm of
G's gradient w.r.t. its params, taken AFTER D's update of the step (the G phase of the schedule
sees the state D's phase left: `jaxgen.algorithms.base.make_train_step`), as the loop reports it
(`metrics["generator/grad_norm"]`, the global L2 norm over G's kernel and bias).

The divergences between the two supports (KL infinite, JSD = log 2, W1 = |theta|) are closed forms
of `jaxgen.theory.divergences`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from jaxgen.algorithms.base import TrainState
from jaxgen.configs import default
from jaxgen.run import train
from jaxgen.theory import density_ratio, runs

THETA = 1.0  # G's line x = theta; the data's segment is at x = 0
INSTANCE_NOISE = 0.5  # sigma of the instance-noise setting, half the gap theta
# setting -> (config.algorithm.loss, config.algorithm.stabilisers.instance_noise)
SETTINGS = {
  "minimax": ("minimax", 0.0),
  "non_saturating": ("non_saturating", 0.0),
  "instance_noise": ("minimax", INSTANCE_NOISE),
}
LABELS = {
  "minimax": "minimax: E log(1 - D(G(z)))",
  "non_saturating": "non-saturating: -E log D(G(z))",
  "instance_noise": f"minimax + instance noise (sigma {INSTANCE_NOISE})",
}
RECORDED = ("generator/grad_norm", "discriminator/real_logit", "discriminator/fake_logit")
EARLY = slice(10, 20)  # after D's first steps (at step 0 it is a random net)
WINDOW = 10  # the late window: the last 10 steps
FRESH_SAMPLES = 1000


class DisjointSupportsResult(NamedTuple):
  """Per setting (keys of SETTINGS): G's gradient norm and D's mean logits at every D step, and
  D's separation of fresh samples after training."""

  theta: float
  num_steps: int
  grad_norms: dict[str, np.ndarray]  # [num_steps], ||grad_theta_g|| after D's update of the step
  real_logits: dict[str, np.ndarray]  # [num_steps], mean logit on the real batch of D's step
  fake_logits: dict[str, np.ndarray]  # [num_steps], mean logit on the fake batch of D's step
  decay: dict[str, float]  # mean norm at steps 10-19 / mean norm over the last 10 steps
  d_real: dict[str, float]  # mean D(x) on fresh real samples after training
  d_fake: dict[str, float]  # mean D(G(z)) on fresh fakes after training
  accuracy: dict[str, float]  # (share of reals with D > 1/2 + share of fakes with D < 1/2) / 2


def disjoint_supports_config(setting: str, *, seed: int = 0, num_steps: int = 2000):
  """The config of `setting`: `segment` data, the frozen affine G, an MLP D (2 x 64, LeakyReLU)
  trained by Adam (lr 5e-3), the setting's loss and instance noise."""
  if setting not in SETTINGS:
    raise ValueError(f"Unknown setting {setting!r}; choose one of {sorted(SETTINGS)}.")
  loss, noise = SETTINGS[setting]
  config = runs.affine_generator_config(default.get_config(), frozen=True)
  config.seed = seed
  config.data.name = "segment"
  config.data.options = {"offset": 0.0, "low": -1.0, "high": 1.0}
  config.batch_size = 128
  config.num_steps = num_steps
  config.algorithm.loss = loss
  config.algorithm.stabilisers.instance_noise = noise
  config.model.discriminator = {"name": "mlp", "hidden": (64, 64), "maxout_pieces": 0}
  config.optimizer.discriminator = {"name": "adam", "learning_rate": 5e-3, "b1": 0.5, "b2": 0.999}
  return config


def train_setting(
  setting: str, *, seed: int = 0, num_steps: int = 2000, theta: float = THETA
) -> tuple[train.Run, TrainState, dict[str, np.ndarray]]:
  """Trains D alone for `num_steps` against G(z) = (theta, z); returns the run, the final state
  and the RECORDED metrics at every step."""
  run = train.Run(disjoint_supports_config(setting, seed=seed, num_steps=num_steps))
  # kernel [1, 2] maps z to (0, z), the bias moves the line to x = theta.
  state = runs.set_affine_generator(run.init_state(), [[0.0, 1.0]], [theta, 0.0])
  return (run, *runs.train_steps(run, state, num_steps, RECORDED))


def separation(run: train.Run, state: TrainState, *, seed: int = 0) -> tuple[float, float, float]:
  """(mean D(x) on fresh reals, mean D(G(z)) on fresh fakes, accuracy at threshold 1/2), D read
  on clean inputs (no instance noise) in inference mode."""
  rng = np.random.default_rng(seed)
  real = run.dataset.sample(FRESH_SAMPLES, rng)["x"]
  fake = run.sample(state, FRESH_SAMPLES, seed=seed)
  logits = density_ratio.discriminator_logits(run, state)
  real_d = 1.0 / (1.0 + np.exp(-np.asarray(logits(real), np.float64)))
  fake_d = 1.0 / (1.0 + np.exp(-np.asarray(logits(fake), np.float64)))
  accuracy = 0.5 * (np.mean(real_d > 0.5) + np.mean(fake_d < 0.5))
  return float(np.mean(real_d)), float(np.mean(fake_d)), float(accuracy)


def disjoint_supports_experiment(*, quick: bool = False, seed: int = 0) -> DisjointSupportsResult:
  """Trains D alone for 2000 steps (quick: 300) in each setting of SETTINGS, recording G's
  gradient norm and D's logits at every step, then D's separation of fresh samples."""
  num_steps = 300 if quick else 2000
  fields = {
    name: {} for name in DisjointSupportsResult._fields if name not in ("theta", "num_steps")
  }
  for setting in SETTINGS:
    run, state, series = train_setting(setting, seed=seed, num_steps=num_steps)
    norms = series["generator/grad_norm"].astype(np.float64)
    fields["grad_norms"][setting] = norms
    fields["real_logits"][setting] = series["discriminator/real_logit"]
    fields["fake_logits"][setting] = series["discriminator/fake_logit"]
    fields["decay"][setting] = float(np.mean(norms[EARLY]) / np.mean(norms[-WINDOW:]))
    d_real, d_fake, accuracy = separation(run, state, seed=seed)
    fields["d_real"][setting], fields["d_fake"][setting] = d_real, d_fake
    fields["accuracy"][setting] = accuracy
  return DisjointSupportsResult(theta=THETA, num_steps=num_steps, **fields)


def draw_disjoint_supports(result: DisjointSupportsResult, axes) -> None:
  """Left: ||grad_theta_g|| (log scale) against D's steps, one curve per setting; right (if a
  second Axes is given): D's mean logit on the real (solid) and fake (dashed) batches."""
  axes = list(np.atleast_1d(axes))
  steps = np.arange(1, result.num_steps + 1)
  for i, (setting, norms) in enumerate(result.grad_norms.items()):
    label = f"{LABELS[setting]} (falls {result.decay[setting]:.3g}x)"
    axes[0].semilogy(steps, norms, color=f"C{i}", lw=0.8, label=label)
  axes[0].set_xlabel("discriminator steps (G frozen)")
  axes[0].set_ylabel("||grad_theta_g|| of G's loss")
  axes[0].set_title(f"Disjoint supports, theta = {result.theta:g}")
  axes[0].legend(fontsize="small")
  if len(axes) < 2:
    return
  for i, setting in enumerate(result.grad_norms):
    axes[1].plot(steps, result.real_logits[setting], color=f"C{i}", lw=0.8)
    axes[1].plot(steps, result.fake_logits[setting], color=f"C{i}", lw=0.8, ls="--")
  axes[1].set_xlabel("discriminator steps (G frozen)")
  axes[1].set_ylabel("D's mean logit: real (solid), fake (dashed)")
  # D's loss does not involve G's loss and G is frozen: minimax and non-saturating train one D.
  axes[1].set_title("D separates the supports (minimax = non-saturating's D)")
