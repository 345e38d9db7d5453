"""AdaGAN: boosting generative models (Tolstikhin et al. 2017, Algorithm 1).

T GANs are trained one after another. Before round t (t >= 2) a classifier tells the training
sample S_N from the current mixture P_{t-1}; its output D(x) (the probability that x is real)
gives the density ratio d_i = (1 - D(x_i)) / D(x_i) ~ dP_{t-1}/dP_data at each x_i in S_N (paper,
sec. 3.1 and eq. 16), and the data are reweighted to

  w_i = max(lambda* - (1 - beta_t) d_i, 0) / (N beta_t),   lambda*: sum_i w_i = 1   (eq. 17-18)

(the authors' `theory_star`, github.com/tolstikhin/adagan, adagan.py): the points the mixture
already covers (large d_i) get weight 0. The round's GAN trains on S_N drawn with these weights and
its generator joins the mixture: P_t = (1 - beta_t) P_{t-1} + beta_t G_t (Algorithm 1, last line),
beta_1 = 1, beta_t = 1/t (`algorithm.beta = "uniform"`, the authors' default `beta_heur`: a uniform
mixture) or a constant in (0, 1).

How it sits on the one training loop (everything follows from `state.step`, so resume is exact):

- Rounds: `num_steps // rounds` steps each (the last round also takes the remainder). In every round
  but the last, the final `classifier_fraction` of its steps train the classifier (the authors' 5
  classifier epochs to 15 GAN epochs give 1/4) while the GAN pauses; the round's other steps train
  the GAN while the classifier pauses. At the end of the round `update_extra` reweights S_N
  (`state.extra["data_weights"]`).
- Players: `generator`, `discriminator` and `classifier`, each holding all T rounds' networks as
  one stacked parameter tree [T, ...]. Round t's slice is the only one with a gradient, and the
  optimizer (`per_round(apply_if(...))`) applies it to that slice alone and leaves every other
  slice's Adam state untouched: each round's GAN and classifier start from their own fresh
  initialisation and fresh Adam, as the paper trains a new GAN and a new classifier each round.
  The classifier uses D's network and D's optimizer settings.
- S_N: the first `training_set_size` points the loop serves for `config.seed` (its batches in
  order), held by the algorithm; every real batch, round 1's included (uniform weights), is drawn
  from S_N with the round's weights (`jax.random.choice` with p), the paper's sampling of
  mini-batches. The loop's own batches only give the batch size.
- The mixture's weights after round t are a fixed table of the betas; a sample picks its
  generator by those weights (the authors' `sample_mixture`).

GAN losses: `Adversary` (the config's objective, default non-saturating) on the round's D and G.
The classifier's loss: the cross-entropy of real S_N points against mixture samples,
-(E log D(x) + E log(1 - D(x~P_{t-1}))) (Goodfellow et al. 2014, eq. 1 for D). Stabilisers and
penalties are refused: each would need its state per round.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxgen import losses, optim
from jaxgen import stabilisers as stabilisers_lib
from jaxgen.algorithms import stabiliser_rules as rules
from jaxgen.algorithms.adversarial import Adversary
from jaxgen.algorithms.base import (
  AlgorithmBase,
  Player,
  TrainState,
  Values,
  apply_module,
  player_gradient,
  register,
)
from jaxgen.algorithms.critic import Critic, logits_of
from jaxgen.algorithms.gan import GAN
from jaxgen.nn import precision as precision_lib
from jaxgen.nn.registry import GENERATORS, build_network
from jaxgen.options import Option, integer, read_options

# fold_in tags of the grad_fns' draws beyond the adversary's (1-3): the real batch from S_N and the
# mixture's samples; the rng itself draws the latents.
REAL_DRAW, MIXTURE = 6, 7
BETA_HEURISTICS = ("uniform",)  # or a number in (0, 1): the authors' "constant"


def check_beta(value: Any) -> str | float:
  if value in BETA_HEURISTICS:
    return value
  if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 1:
    return float(value)
  raise ValueError(f"algorithm.beta must be 'uniform' (beta_t = 1/t) or in (0, 1); got {value!r}.")


def check_classifier_fraction(value: Any) -> float:
  if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 1:
    return float(value)
  raise ValueError(f"algorithm.classifier_fraction must be in (0, 1); got {value!r}.")


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


@register("adagan")
class AdaGAN(AlgorithmBase):
  """AdaGAN's rounds of GANs and reweighting classifiers; see the module docstring."""

  PLAYERS = GAN.PLAYERS  # the classifier shares D's blocks
  OPTIONS = (
    *GAN.OPTIONS,
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

  def __init__(self, config, dataset):
    algorithm = config.algorithm
    options = read_options(type(self), algorithm)
    if config.conditional:
      raise ValueError("AdaGAN takes no labels; set conditional=False.")
    if options.weight_clip:
      raise ValueError("algorithm.weight_clip is not supported by algorithm 'adagan'; set it to 0.")
    if options.updates != "alternating":
      raise ValueError(
        "AdaGAN's rounds alternate a classifier, D and G (Tolstikhin et al. 2017, Algorithm 1); "
        f"algorithm.updates = {algorithm.updates!r} is not supported: set it to 'alternating'."
      )
    self.rounds, self.beta = options.rounds, options.beta
    fraction = options.classifier_fraction
    self.training_set_size = options.training_set_size
    self.round_steps = int(config.num_steps) // self.rounds
    self.classifier_steps = max(1, round(fraction * self.round_steps))
    if self.classifier_steps >= self.round_steps:
      raise ValueError(
        f"num_steps={config.num_steps} gives rounds of {self.round_steps} steps with "
        f"algorithm.rounds={self.rounds}, too few for {self.classifier_steps} classifier steps "
        "and a GAN; raise num_steps or lower algorithm.rounds."
      )
    self.latent_dim, self.batch_size = int(config.model.latent_dim), int(config.batch_size)
    self.example_shape, self.num_classes = tuple(dataset.example_shape), 0
    self.dataset, self.seed = dataset, int(config.seed)
    facts = dict(example_shape=self.example_shape, num_classes=0)
    precision = precision_lib.from_config(config)
    self.generator = build_network(
      GENERATORS, "generator", config.model.generator, precision=precision, **facts
    )
    self.adversary = Adversary.from_config(
      algorithm,
      config.model.discriminator,
      penalty=options.penalty,
      precision=precision,
      **facts,
    )
    owner = f"algorithm {algorithm.name!r}"
    rules.check_stabilisers(
      owner,
      frozenset(),
      self.adversary.stabilisers,
      self.adversary.penalty_name,
      network=self.adversary.critic.network,
    )
    self.critic = self.adversary.critic
    self.classifier = Critic.build(
      config.model.discriminator, stabilisers_lib.Stabilisers(), precision=precision, **facts
    )
    # NumPy constants (jnp arrays made while config_check traces the constructor would leak).
    self.mixture = mixture_table(self.rounds, self.beta).astype(np.float32)
    self.betas = betas(self.rounds, self.beta).astype(np.float32)
    optimizer = lambda name: per_round(optim.make_optimizer(config.optimizer[name]))
    grads = {
      "generator": self.generator_grads,
      "discriminator": self.discriminator_grads,
      "classifier": self.classifier_grads,
    }
    modules = {
      "generator": self.generator,
      "discriminator": self.critic.module,
      "classifier": self.classifier.module,
    }
    self.players = {
      name: Player(
        name,
        modules[name],
        optimizer("generator" if name == "generator" else "discriminator"),
        grads[name],
      )
      for name in grads
    }
    k = options.discriminator_steps
    self.schedule = (("discriminator", "classifier"),) + (("discriminator",),) * (k - 1)
    self.schedule += (("generator",),)

  # --- rounds, from the step ----------------------------------------------------------------------

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

  @functools.cached_property
  def training_set(self) -> np.ndarray:
    """S_N [N, ...]: the first N points the loop serves for `config.seed`, in order (NumPy: a
    constant of every program that reads it)."""
    batches, served, index = [], 0, 0
    while served < self.training_set_size:
      x = self.dataset.batch(self.seed, index, self.batch_size)["x"]
      batches.append(x)
      served, index = served + x.shape[0], index + 1
    return np.concatenate(batches)[: self.training_set_size]

  # --- networks -----------------------------------------------------------------------------------

  def init_variables(self, rng, batch):
    g_key, d_key, c_key = jax.random.split(rng, 3)
    z = jnp.zeros((batch["x"].shape[0], self.latent_dim))
    stack = lambda init, key: jax.vmap(init)(jax.random.split(key, self.rounds))
    critic_init = lambda critic: lambda key: critic.init(*jax.random.split(key), batch["x"], None)
    return {
      "generator": stack(lambda key: self.generator.init(key, z, None, train=False), g_key),
      "discriminator": stack(critic_init(self.critic), d_key),
      "classifier": stack(critic_init(self.classifier), c_key),
    }

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

  def latents(self, rng, num):
    """z ~ N(0, I), as the GAN's (`gan.GAN.latents`)."""
    return jax.random.normal(rng, (num, self.latent_dim))

  def generate(self, state, round_, rng, num, *, params=None):
    """Round `round_`'s G(z) in training mode and G's stacked model state with its slice updated;
    `params` overrides the stacked params (to differentiate)."""
    g = state.players["generator"]
    params = g.params if params is None else params
    fake, model_state = apply_module(
      self.generator,
      take(params, round_),
      take(g.model_state, round_),
      self.latents(rng, num),
      None,
      train=True,
    )
    return fake, put(g.model_state, round_, model_state)

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

  def real_batch(self, state, rng, num):
    """`num` points of S_N drawn with the round's weights (Algorithm 1: the GAN trains on (S_N,
    W_t))."""
    index = jax.random.choice(rng, self.training_set_size, (num,), p=state.extra["data_weights"])
    return jnp.asarray(self.training_set)[index]

  # --- players ------------------------------------------------------------------------------------

  def _metrics(self, state, loss, trains, **more):
    round_ = self.round_of(state.extra, state.step).astype(jnp.float32)
    return {"loss": loss, "round": round_, "trains": trains.astype(jnp.float32), **more}

  def discriminator_grads(self, state: TrainState, batch, rng):
    """Round t's D on real points from (S_N, W_t) and G_t's fakes: the config's objective."""
    r, num = self.round_of(state.extra, state.step), batch["x"].shape[0]
    trains = ~self.classifier_trains(state.extra, state.step)
    real = self.real_batch(state, jax.random.fold_in(rng, REAL_DRAW), num)
    fake = jax.lax.stop_gradient(self.generate(state, r, rng, num)[0])
    d = state.players["discriminator"]

    def loss_fn(params):
      loss, _, new_state, metrics = self.adversary.discriminator_loss(
        state.step, take(params, r), take(d.model_state, r), real, fake, None, rng
      )
      model_state = keep_unless(trains, put(d.model_state, r, new_state), d.model_state)
      return loss, (model_state, self._metrics(state, loss, trains, **metrics))

    return player_gradient(loss_fn, d.params)

  def generator_grads(self, state: TrainState, batch, rng):
    """Round t's G against round t's D (its params constants here)."""
    r, num = self.round_of(state.extra, state.step), batch["x"].shape[0]
    trains = ~self.classifier_trains(state.extra, state.step)
    real = self.real_batch(state, jax.random.fold_in(rng, REAL_DRAW), num)
    d, g = state.players["discriminator"], state.players["generator"]

    def loss_fn(params):
      fake, model_state = self.generate(state, r, rng, num, params=params)
      loss, _ = self.adversary.generator_loss(
        state.step, take(d.params, r), take(d.model_state, r), fake, real, None, rng
      )
      model_state = keep_unless(trains, model_state, g.model_state)
      return loss, (model_state, self._metrics(state, loss, trains))

    return player_gradient(loss_fn, g.params)

  def classifier_grads(self, state: TrainState, batch, rng):
    """Round t's classifier: cross-entropy of S_N (uniform) against the mixture after round t."""
    r, num = self.round_of(state.extra, state.step), batch["x"].shape[0]
    trains = self.classifier_trains(state.extra, state.step)
    index = jax.random.randint(
      jax.random.fold_in(rng, REAL_DRAW), (num,), 0, self.training_set_size
    )
    real = jnp.asarray(self.training_set)[index]
    fake = jax.lax.stop_gradient(
      self.mixture_samples(state, jax.random.fold_in(rng, MIXTURE), num, r)
    )
    c = state.players["classifier"]

    def loss_fn(params):
      p, s = take(params, r), take(c.model_state, r)
      real_out, _, s = self.classifier(p, s, real, None)
      fake_out, _, s = self.classifier(p, s, fake, None)
      loss = losses.discriminator_minimax_loss(logits_of(real_out), logits_of(fake_out))
      model_state = keep_unless(trains, put(c.model_state, r, s), c.model_state)
      return loss, (model_state, self._metrics(state, loss, trains))

    return player_gradient(loss_fn, c.params)

  def update_args(self, player: str, values: Values) -> dict[str, Any]:
    """Each player's optimizer applies its round's slice alone, and only while the player trains."""
    v = values[player]
    mask = jax.nn.one_hot(v["round"].astype(jnp.int32), self.rounds) * v["trains"]
    return {"apply": mask > 0}

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

  def sample(self, state: TrainState, rng, num, labels=None):
    """`num` samples of the current mixture (after the current round)."""
    del labels
    return self.mixture_samples(state, rng, num, self.round_of(state.extra, state.step))
