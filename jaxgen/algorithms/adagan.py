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
  order), handed by the loop (`jaxgen.data.base.HandedData.first_served`); every real batch,
  round 1's included (uniform weights), is drawn from S_N with the round's weights
  (`jax.random.choice` with p), the paper's sampling of mini-batches. The loop's own batches
  only give the batch size.
- The mixture's weights after round t are a fixed table of the betas; a sample picks its
  generator by those weights (the authors' `sample_mixture`).

The rounds' bookkeeping (the round from the step, S_N and its weights, the mixture) is
`adagan_rounds`; this module holds the players and their gradients.

GAN losses: `Adversary` (the config's objective, default non-saturating) on the round's D and G.
The classifier's loss: the cross-entropy of real S_N points against mixture samples,
-(E log D(x) + E log(1 - D(x~P_{t-1}))) (Goodfellow et al. 2014, eq. 1 for D). Stabilisers and
penalties are refused: each would need its state per round.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxgen import losses, optim
from jaxgen import stabilisers as stabilisers_lib
from jaxgen.algorithms import stabiliser_rules as rules
from jaxgen.algorithms.adagan_rounds import (
  BETA_HEURISTICS,
  ROUNDS_OPTIONS,
  AdaGANRounds,
  betas,
  check_beta,
  check_classifier_fraction,
  data_weights,
  density_ratios,
  keep_unless,
  mixture_table,
  per_round,
  put,
  take,
)
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
from jaxgen.options import read_options

# fold_in tags of the grad_fns' draws beyond the adversary's (1-3): the real batch from S_N and the
# mixture's samples; the rng itself draws the latents.
REAL_DRAW, MIXTURE = 6, 7
__all__ = [
  "BETA_HEURISTICS",
  "MIXTURE",
  "REAL_DRAW",
  "AdaGAN",
  "betas",
  "check_beta",
  "check_classifier_fraction",
  "data_weights",
  "density_ratios",
  "keep_unless",
  "mixture_table",
  "per_round",
  "put",
  "take",
]


def check_supported(config, options) -> None:
  """Refuses what the rounds do not take: labels, WGAN's weight clip, simultaneous updates."""
  if config.conditional:
    raise ValueError("AdaGAN takes no labels; set conditional=False.")
  if options.weight_clip:
    raise ValueError("algorithm.weight_clip is not supported by algorithm 'adagan'; set it to 0.")
  if options.updates != "alternating":
    raise ValueError(
      "AdaGAN's rounds alternate a classifier, D and G (Tolstikhin et al. 2017, Algorithm 1); "
      f"algorithm.updates = {config.algorithm.updates!r} is not supported: set it to "
      "'alternating'."
    )


def build_networks(config, options, example_shape) -> tuple[Any, Adversary, Critic]:
  """G, D's side (`Adversary`; no stabiliser or penalty: each would need its state per round) and
  the classifier, D's network without stabilisers."""
  facts = dict(example_shape=example_shape, num_classes=0)
  precision = precision_lib.from_config(config)
  generator = build_network(
    GENERATORS, "generator", config.model.generator, precision=precision, **facts
  )
  adversary = Adversary.from_config(
    config.algorithm,
    config.model.discriminator,
    penalty=options.penalty,
    precision=precision,
    **facts,
  )
  rules.check_stabilisers(
    f"algorithm {config.algorithm.name!r}",
    frozenset(),
    adversary.stabilisers,
    adversary.penalty_name,
    network=adversary.critic.network,
  )
  classifier = Critic.build(
    config.model.discriminator, stabilisers_lib.Stabilisers(), precision=precision, **facts
  )
  return generator, adversary, classifier


@register("adagan")
class AdaGAN(AdaGANRounds, AlgorithmBase):
  """AdaGAN's rounds of GANs and reweighting classifiers; see the module docstring."""

  PLAYERS = GAN.PLAYERS  # the classifier shares D's blocks
  OPTIONS = (*GAN.OPTIONS, *ROUNDS_OPTIONS)

  def __init__(self, config, dataset):
    """`dataset`: the `HandedData` the loop hands (facts and S_N's source)."""
    options = read_options(type(self), config.algorithm)
    check_supported(config, options)
    self.init_rounds(options, config.num_steps, dataset.first_served)
    self.latent_dim, self.batch_size = int(config.model.latent_dim), int(config.batch_size)
    self.example_shape, self.num_classes = tuple(dataset.example_shape), 0
    self.generator, self.adversary, self.classifier = build_networks(
      config, options, self.example_shape
    )
    self.critic = self.adversary.critic
    self.players = self._players(config)
    k = options.discriminator_steps
    self.schedule = (("discriminator", "classifier"),) + (("discriminator",),) * (k - 1)
    self.schedule += (("generator",),)

  def _players(self, config) -> dict[str, Player]:
    """Each player's optimizer runs per round (`per_round`); the classifier takes D's settings."""
    optimizer = lambda block: per_round(optim.make_optimizer(config.optimizer[block]))
    players = (
      ("generator", self.generator, "generator", self.generator_grads),
      ("discriminator", self.critic.module, "discriminator", self.discriminator_grads),
      ("classifier", self.classifier.module, "discriminator", self.classifier_grads),
    )
    return {
      name: Player(name, module, optimizer(block), grad_fn)
      for name, module, block, grad_fn in players
    }

  # --- networks -----------------------------------------------------------------------------------

  def init_variables(self, rng, batch):
    """G's, D's and the classifier's variables, one set per round stacked on a leading axis [T]."""
    g_key, d_key, c_key = jax.random.split(rng, 3)
    z = jnp.zeros((batch["x"].shape[0], self.latent_dim))
    stack = lambda init, key: jax.vmap(init)(jax.random.split(key, self.rounds))
    critic_init = lambda critic: lambda key: critic.init(*jax.random.split(key), batch["x"], None)
    return {
      "generator": stack(lambda key: self.generator.init(key, z, None, train=False), g_key),
      "discriminator": stack(critic_init(self.critic), d_key),
      "classifier": stack(critic_init(self.classifier), c_key),
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

  # --- players ------------------------------------------------------------------------------------

  def _metrics(self, state, loss, trains, **more):
    round_ = self.round_of(state.extra, state.step).astype(jnp.float32)
    return {"loss": loss, "round": round_, "trains": trains.astype(jnp.float32), **more}

  def _gan_phase(self, state: TrainState, batch, rng):
    """(round t, the batch size, whether the GAN trains at this step, real points of (S_N, W_t))."""
    r, num = self.round_of(state.extra, state.step), batch["x"].shape[0]
    trains = ~self.classifier_trains(state.extra, state.step)
    return r, num, trains, self.real_batch(state, jax.random.fold_in(rng, REAL_DRAW), num)

  def discriminator_grads(self, state: TrainState, batch, rng):
    """Round t's D on real points from (S_N, W_t) and G_t's fakes: the config's objective."""
    r, num, trains, real = self._gan_phase(state, batch, rng)
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
    r, num, trains, real = self._gan_phase(state, batch, rng)
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

  def sample(self, state: TrainState, rng, num, labels=None):
    """`num` samples of the current mixture (after the current round)."""
    del labels
    return self.mixture_samples(state, rng, num, self.round_of(state.extra, state.step))
