"""AdaGAN's rounds (Tolstikhin et al. 2017, Algorithm 1): which round a step is in, the mixture of
the rounds' generators, and the reweighting of the training sample S_N between rounds.

- The numbers: beta_t, the mixture's weights after each round (`mixture_table`), the data weights
  of eq. 17-18 from density ratios (`data_weights`, `density_ratios`).
- The stacked parameter trees [T, ...] of the players: a slice per round (`take`, `put`), an
  optimizer state per slice (`per_round`), a paused player's state kept (`keep_unless`).
- `AdaGANRounds`, a mixin of `adagan.AdaGAN`: the rounds' options and their validation, the round
  and the classifier's part of it from the step, S_N and the real batches drawn from it with the
  round's weights, the mixture's samples, and the new weights at the end of a round
  (`update_extra`). Everything follows from `state.step` and `state.extra`, so resume is exact.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxgen import optim
from jaxgen.algorithms.base import TrainState, Values, apply_module
from jaxgen.algorithms.critic import logits_of
from jaxgen.options import Option, integer

BETA_HEURISTICS = ("uniform",)  # or a number in (0, 1): the authors' "constant"


def check_beta(value: Any) -> str | float:
  """A check of `algorithm.beta`: 'uniform' (beta_t = 1/t), or a number in (0, 1) as a float."""
  if value in BETA_HEURISTICS:
    return value
  if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 1:
    return float(value)
  raise ValueError(f"algorithm.beta must be 'uniform' (beta_t = 1/t) or in (0, 1); got {value!r}.")


def check_classifier_fraction(value: Any) -> float:
  """A check of `algorithm.classifier_fraction`: a number in (0, 1), as a float."""
  if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 1:
    return float(value)
  raise ValueError(f"algorithm.classifier_fraction must be in (0, 1); got {value!r}.")


# The rounds' `config.algorithm` keys (AdaGAN's, beside the GAN's).
ROUNDS_OPTIONS = (
  Option("rounds", 4, "T, the generators of the mixture (Algorithm 1)", check=integer(2)),
  # A heuristic's name or a number: `--config.algorithm.beta=0.3` is a float.
  Option(
    "beta",
    "uniform",
    "the new generator's weight: 'uniform' (1/t) or in (0, 1)",
    check=check_beta,
    types=(str, float),
  ),
  # The authors' gmm: mixture_c_epoch_num 5, gan_epoch_num 15.
  Option(
    "classifier_fraction",
    0.25,
    "the share of a round that trains the classifier",
    check=check_classifier_fraction,
  ),
  Option("training_set_size", 10_000, "S_N, the reweighted training sample", check=integer(1)),
)


def betas(rounds: int, beta: str | float) -> np.ndarray:
  """beta_1..beta_T: beta_1 = 1 (the first generator is the mixture), then 1/t or the constant
  (authors' `_next_mixture_weight`)."""
  later = [1.0 / t if beta == "uniform" else beta for t in range(2, rounds + 1)]
  return np.array([1.0, *later], np.float64)


def mixture_table(rounds: int, beta: str | float) -> np.ndarray:
  """[T, T]: row t holds the mixture weights after round t (0-based), alpha_j = beta_j prod_{j<k<=t}
  (1 - beta_k) for j <= t, else 0 (Algorithm 1: P_t = (1 - beta_t) P_{t-1} + beta_t G_t)."""
  b = betas(rounds, beta)
  table = np.zeros((rounds, rounds), np.float64)
  for t in range(rounds):
    table[t, : t + 1] = table[t - 1, : t + 1] * (1.0 - b[t]) if t else 0.0
    table[t, t] = b[t]
  return table


def data_weights(ratios: jax.Array, beta) -> tuple[jax.Array, jax.Array]:
  """(w, lambda*) of Tolstikhin et al. 2017, eq. 17-18: w_i = max(lambda* - (1 - beta) d_i, 0) /
  (N beta) with sum_i w_i = 1, for density ratios d_i = dP_model/dP_data(x_i).

  lambda* solves f(l) = sum_i max(l - (1 - beta) d_i, 0) = N beta. With the d's sorted and k + 1
  of them active, l_k = (N beta + (1 - beta) sum_{j<=k} d_(j)) / (k + 1) (the authors' candidates);
  f is increasing and f(l) >= sum_{j<=k} (l - (1 - beta) d_(j)), so f(l_k) >= N beta, l_k >=
  lambda* for every k, with equality for the k of the solution: lambda* = min_k l_k, no search.
  The weights are renormalised against rounding (the authors too).
  """
  n = ratios.shape[0]
  cumulative = jnp.cumsum(jnp.sort(ratios))
  candidates = (n * beta + (1.0 - beta) * cumulative) / jnp.arange(1, n + 1, dtype=ratios.dtype)
  lam = jnp.min(candidates)
  weights = jnp.maximum(lam - (1.0 - beta) * ratios, 0.0) / (n * beta)
  return weights / jnp.sum(weights), lam


def density_ratios(logits: jax.Array) -> jax.Array:
  """d = (1 - D) / D = exp(-logit) for D = sigmoid(logit), the probability of "real" (authors'
  `_update_data_weights`); +inf where exp overflows, which the weights map to 0."""
  return jnp.exp(-logits)


def per_round(inner: optax.GradientTransformation) -> optax.GradientTransformationExtraArgs:
  """`optim.apply_if(inner)` on each slice of a stacked parameter tree [T, ...], with its own state
  per slice; `update(..., apply=mask)` with a boolean mask [T] applies only the slices it marks
  and leaves the others' states (Adam's moments and count) as they were."""
  gated = optim.apply_if(inner)

  def init_fn(params):
    return jax.vmap(gated.init)(params)

  def update_fn(updates, state, params=None, *, apply):
    update = lambda u, s, p, a: gated.update(u, s, p, apply=a)
    return jax.vmap(update)(updates, state, params, apply)

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def take(tree, index):
  """Slice `index` of every leaf of a stacked tree."""
  return jax.tree.map(lambda x: x[index], tree)


def put(tree, index, value):
  """The stacked `tree` with slice `index` replaced by `value`."""
  return jax.tree.map(lambda x, v: x.at[index].set(v), tree, value)


def keep_unless(trains, new, old):
  """`new` when the player trains this step, else `old` (a paused player's statistics stay)."""
  return jax.tree.map(lambda n, o: jnp.where(trains, n, o), new, old)


class AdaGANRounds:
  """The rounds of `adagan.AdaGAN`; see the module docstring. `init_rounds` sets what the other
  methods read; they also read `batch_size`, `generator`, `latents` and `classifier` (AdaGAN's)."""

  def init_rounds(self, options, num_steps: int, first_served) -> None:
    """The rounds of `num_steps` steps from the options `ROUNDS_OPTIONS`, refused where a round is
    too short for both its classifier and its GAN; S_N's source (`first_served(n)`, handed by the
    loop: `jaxgen.data.base.HandedData`)."""
    self.rounds, self.beta = options.rounds, options.beta
    self.training_set_size = options.training_set_size
    self.round_steps = int(num_steps) // self.rounds
    self.classifier_steps = max(1, round(options.classifier_fraction * self.round_steps))
    if self.classifier_steps >= self.round_steps:
      raise ValueError(
        f"num_steps={num_steps} gives rounds of {self.round_steps} steps with "
        f"algorithm.rounds={self.rounds}, too few for {self.classifier_steps} classifier steps "
        "and a GAN; raise num_steps or lower algorithm.rounds."
      )
    self.first_served = first_served
    # NumPy constants (jnp arrays made while config_check traces the constructor would leak).
    self.mixture = mixture_table(self.rounds, self.beta).astype(np.float32)
    self.betas = betas(self.rounds, self.beta).astype(np.float32)

  def round_of(self, extra, step):
    """The 0-based round of train step `step`: `extra["round_steps"]` steps each, the last round
    takes the rest."""
    return jnp.minimum(step // extra["round_steps"], self.rounds - 1)

  def classifier_trains(self, extra, step):
    """Whether step `step` trains the classifier (the last `extra["classifier_steps"]` of a round
    but the last) rather than the GAN."""
    r, length = self.round_of(extra, step), extra["round_steps"]
    return (r < self.rounds - 1) & (step - r * length >= length - extra["classifier_steps"])

  def ends_round(self, extra, step):
    """Whether step `step` is the last of a round after which the data are reweighted."""
    last = (step + 1) % extra["round_steps"] == 0
    return (self.round_of(extra, step) < self.rounds - 1) & last

  def init_extra(self) -> dict[str, Any]:
    """Uniform weights over S_N for the first round (Algorithm 1: W_1 = (1/N, ..., 1/N)), and the
    rounds' lengths: fixed in the state at the start, so that a run resumed with a larger
    `num_steps` keeps its rounds (the last round takes the extra steps)."""
    n = self.training_set_size
    return {
      "data_weights": jnp.full((n,), 1.0 / n, jnp.float32),
      "round_steps": jnp.int32(self.round_steps),
      "classifier_steps": jnp.int32(self.classifier_steps),
    }

  @functools.cached_property
  def training_set(self) -> np.ndarray:
    """S_N [N, ...]: the first N points the loop serves for `config.seed`, in order (NumPy: a
    constant of every program that reads it)."""
    return np.asarray(self.first_served(self.training_set_size))

  def real_batch(self, state, rng, num):
    """`num` points of S_N drawn with the round's weights (Algorithm 1: the GAN trains on (S_N,
    W_t))."""
    index = jax.random.choice(rng, self.training_set_size, (num,), p=state.extra["data_weights"])
    return jnp.asarray(self.training_set)[index]

  def mixture_samples(self, state, rng, num, round_):
    """`num` samples of the mixture after round `round_`: each picks its generator by the mixture
    weights (authors' `sample_mixture`), generators in inference mode."""
    pick_key, z_key = jax.random.split(rng)
    components = jax.random.choice(
      pick_key, self.rounds, (num,), p=jnp.asarray(self.mixture)[round_]
    )
    z = self.latents(z_key, num)
    g = state.players["generator"]
    run = lambda p, s: apply_module(self.generator, p, s, z, None, train=False)[0]
    every = jax.vmap(run)(g.params, g.model_state)  # [T, num, ...]
    return every[components, jnp.arange(num)]

  def reweighted(self, state: TrainState, round_):
    """W_{t+1} from round t's classifier on S_N and beta_{t+1} (Algorithm 1,
    UpdateTrainingWeights)."""
    c = state.players["classifier"]
    outputs, _, _ = self.classifier(
      take(c.params, round_), take(c.model_state, round_), jnp.asarray(self.training_set), None
    )
    ratios = density_ratios(logits_of(outputs))
    return data_weights(ratios, jnp.asarray(self.betas)[round_ + 1])[0]

  def update_extra(self, state: TrainState, values: Values) -> dict[str, Any]:
    """At the end of a round (but the last): the data weights for the next round."""
    del values
    step, old = state.step, state.extra["data_weights"]
    r = self.round_of(state.extra, step)
    new = jax.lax.cond(
      self.ends_round(state.extra, step), lambda: self.reweighted(state, r), lambda: old
    )
    return {**state.extra, "data_weights": new}
