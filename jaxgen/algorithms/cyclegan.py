"""CycleGAN (Zhu et al. 2017): unpaired image-to-image translation with cycle consistency.

Four players, each with its own gradient function over its own parameters:

- `translator_ab` G: A -> B and `translator_ba` F: B -> A descend the full objective (eq. 3 with the
  identity term of sec. 5.2), D's params constants:
      L = w [L_G(D_B(G(a))) + L_G(D_A(F(b)))]                                   (eq. 1, sec. 4)
        + lambda (|F(G(a)) - a|_1 + |G(F(b)) - b|_1)                            (eq. 2)
        + lambda_id (|G(b) - b|_1 + |F(a) - a|_1)                               (sec. 5.2)
  with |.|_1 the mean absolute error over pixels (the reference code's L1Loss), L_G the generator
  loss of `algorithm.loss` (least squares in the paper, sec. 4: E[(D(G(a)) - 1)^2]) and w =
  `algorithm.adversarial_weight` (2.0 turns jaxgen's LSGAN generator loss, Mao et al.'s
  1/2 E[(D - 1)^2], into the paper's E[(D - 1)^2]); lambda = `algorithm.cycle_weight` (10, sec.
  4), lambda_id = `algorithm.identity_weight` * lambda (the reference code's lambda_identity 0.5).
- `discriminator_b` D_B and `discriminator_a` D_A descend their objective, e.g. 1/2 E[(D_B(b) -
  1)^2] + 1/2 E[D_B(x~)^2] for least squares (sec. 4 and the reference code halve D's loss), on the
  real batch of their domain and x~ = the image pool's answer to the fresh fakes G(a) (D_B) or
  F(b) (D_A).

One phase: all four gradients at the same parameter point. The reference code updates G and F
first and then the Ds on fakes computed before that update; since the Ds' params are untouched by
G's step, their gradients are the same as here.

The image pool (sec. 4, Shrivastava et al. 2017): each D keeps `algorithm.pool_size` (50) earlier
fakes in `TrainState.extra`; each fresh fake in turn fills the pool while it is not full (and is
shown); once it is full, with probability 1/2 a random stored fake is shown and the fresh one takes
its slot, else the fresh fake is shown (`query_pool`). Its
random numbers come from D's step rng (fold_in tag `POOL`), its new contents reach `update_extra`
through D's grad_fn's values, so a resumed run continues exactly.

The players' nets: `model.translator` (a `TRANSLATORS` image-to-image net, both G and F) and
`model.discriminator` (both Ds, run through the `critic.Critic` pipeline by an `Adversary`);
`optimizer.translator` and `optimizer.discriminator` (Adam 2e-4, b1 0.5 in the paper).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from jaxgen import optim
from jaxgen.algorithms import adversarial
from jaxgen.algorithms import stabiliser_rules as rules
from jaxgen.algorithms.adversarial import Adversary
from jaxgen.algorithms.base import (
  AlgorithmBase,
  Evaluation,
  Player,
  TrainState,
  apply_module,
  player_gradient,
  register,
)
from jaxgen.algorithms.image_pool import POOL, ImagePools, query_pool
from jaxgen.nn import precision as precision_lib
from jaxgen.nn.registry import TRANSLATORS, build_network
from jaxgen.options import Option, integer, number, read_options

# fold_in tags of the two adversarial terms in the translators' shared rng (instance noise).
ADVERSARIAL_B, ADVERSARIAL_A = 5, 6
TRANSLATORS_PLAYERS = ("translator_ab", "translator_ba")
# discriminator -> (its domain, the translator whose fakes it judges)
DISCRIMINATORS = {
  "discriminator_a": ("a", "translator_ba"),
  "discriminator_b": ("b", "translator_ab"),
}


def mean_absolute_error(x, y):
  """|x - y|_1 averaged over all entries (the reference code's nn.L1Loss)."""
  return jnp.mean(jnp.abs(x - y))


def cyclegan_provides(objective) -> rules.Provides:
  """What CycleGAN offers the stabilisers: D's inputs and weights pass through the critic in every
  loss, the objective's real target can be smoothed. Not offered: one logit per sample (PatchGAN
  judges patches: no heads, no gradient penalty written for it), packing, feature matching,
  historical averaging, a generator EMA and replay (CycleGAN's own image pool is its replay)."""
  provides = {rules.INPUTS, rules.WEIGHTS}
  return frozenset(provides | ({rules.TARGETS} if objective.has_real_target else set()))


CYCLEGAN_OPTIONS = (
  adversarial.LOSS_OPTION,
  Option("cycle_weight", 10.0, "lambda of the cycle loss (sec. 4)", check=number(0)),
  Option(
    "identity_weight", 0.5, "lambda_identity, times lambda (the reference code)", check=number(0)
  ),
  Option(
    "adversarial_weight", 2.0, "w of the adversarial terms (module docstring)", check=number(0)
  ),
  Option("pool_size", 50, "the image pool per D, 0: none (sec. 4)", check=integer(0)),
  adversarial.STABILISERS_OPTION,
  adversarial.PENALTY_OPTION,
)


def _check_unpaired(dataset) -> tuple[int, ...]:
  """The example shape of a two-domain image source; a ValueError for any other data."""
  if len(dataset.example_shape) != 3:
    raise ValueError(f"CycleGAN translates images; the data has shape {dataset.example_shape}.")
  if dataset.name != "unpaired":
    raise ValueError(
      f"CycleGAN needs two unpaired domains; set data.name = 'unpaired' (got {dataset.name!r})."
    )
  return tuple(dataset.example_shape)


def _players(cyclegan, config) -> dict[str, Player]:
  """G and F (one translator block, one phase noise: they descend one loss), then the two Ds."""
  optimizer = lambda role: optim.make_optimizer(config.optimizer[role])
  players = {
    name: Player(
      name,
      cyclegan.translator,
      optimizer("translator"),
      functools.partial(cyclegan.translator_grads, player=name),
      shares_phase_noise=True,
    )
    for name in TRANSLATORS_PLAYERS
  }
  for name in DISCRIMINATORS:
    grad_fn = functools.partial(cyclegan.discriminator_grads, player=name)
    players[name] = Player(name, cyclegan.critic.module, optimizer("discriminator"), grad_fn)
  return players


@register("cyclegan")
class CycleGAN(ImagePools, AlgorithmBase):
  """CycleGAN; see the module docstring. Data: a two-domain source (`jaxgen.data.unpaired`)
  whose batches carry "image_a" and "image_b"."""

  # G and F share `model.translator` / `optimizer.translator`, the two Ds `model.discriminator`.
  PLAYERS = {"translator": "translator", "discriminator": "discriminator"}
  # Rows a, G(a), F(G(a)) and b, F(b), G(F(b)) of held-out images; label preservation, FID per
  # domain and the cycle error (`jaxgen.evaluators.translation`).
  EVALUATORS = (Evaluation("translation"),)
  SAMPLE_INPUTS = {"sources": "image_a"}  # `sample` translates the held-out A images
  OPTIONS = CYCLEGAN_OPTIONS
  DISCRIMINATORS = DISCRIMINATORS  # the pools' owners (ImagePools)

  def __init__(self, config, dataset):
    """The players from `config`; `dataset` gives the example shape (a two-domain source)."""
    algorithm = config.algorithm
    options = read_options(type(self), algorithm)
    self.example_shape = _check_unpaired(dataset)
    self.cycle_weight, self.identity_weight = options.cycle_weight, options.identity_weight
    self.adversarial_weight, self.pool_size = options.adversarial_weight, options.pool_size
    precision = precision_lib.from_config(config)
    self.translator = build_network(
      TRANSLATORS,
      "translator",
      config.model.translator,
      example_shape=self.example_shape,
      precision=precision,
    )
    self.adversary = Adversary.from_config(
      algorithm,
      config.model.discriminator,
      example_shape=self.example_shape,
      num_classes=0,
      penalty=options.penalty,
      precision=precision,
    )
    self.objective, self.critic = self.adversary.objective, self.adversary.critic
    rules.check_stabilisers(
      f"algorithm {algorithm.name!r} with loss {algorithm.loss!r}",
      cyclegan_provides(self.objective),
      self.adversary.stabilisers,
      self.adversary.penalty_name,
      network=self.critic.network,
    )
    self.players = _players(self, config)
    self.schedule = (tuple(self.players),)

  def init_variables(self, rng, batch):
    """G's and F's variables from A images, each D's from its domain's images."""
    keys = jax.random.split(rng, 6)
    image = batch["image_a"]
    variables = {
      name: self.translator.init(key, image, train=False)
      for name, key in zip(TRANSLATORS_PLAYERS, keys[:2], strict=True)
    }
    for (name, (domain, _)), key, spectral in zip(
      DISCRIMINATORS.items(), keys[2:4], keys[4:], strict=True
    ):
      variables[name] = self.critic.init(key, spectral, batch[f"image_{domain}"], None)
    return variables

  def translate(self, state: TrainState, images, player: str, *, params=None):
    """`player`'s translation of `images` (instance norm: the same in training and inference)."""
    p = state.players[player]
    params = p.params if params is None else params
    return apply_module(self.translator, params, p.model_state, images, train=True)[0]

  def translator_loss(self, state: TrainState, params, batch, rng):
    """The translators' objective L of the module docstring at `params` = {G's, F's}:
    (loss, metrics)."""
    a, b = batch["image_a"], batch["image_b"]
    g = lambda x: self.translate(state, x, "translator_ab", params=params["translator_ab"])
    f = lambda x: self.translate(state, x, "translator_ba", params=params["translator_ba"])
    # G on [a; b] and F on [b; a] in one call each: instance norm keeps samples apart, and fewer
    # calls compile faster. G(b) and F(a) are the identity term's (sec. 5.2).
    num = a.shape[0]
    fake_b, same_b = jnp.split(g(jnp.concatenate([a, b])), [num])
    fake_a, same_a = jnp.split(f(jnp.concatenate([b, a])), [num])
    adversarial = 0.0
    for d_name, fake, real, tag in (
      ("discriminator_b", fake_b, b, ADVERSARIAL_B),
      ("discriminator_a", fake_a, a, ADVERSARIAL_A),
    ):
      d = state.players[d_name]
      term, _ = self.adversary.generator_loss(
        state.step, d.params, d.model_state, fake, real, None, jax.random.fold_in(rng, tag)
      )
      adversarial = adversarial + term
    cycle = mean_absolute_error(f(fake_b), a) + mean_absolute_error(g(fake_a), b)  # eq. 2
    identity = mean_absolute_error(same_b, b) + mean_absolute_error(same_a, a)
    loss = self.adversarial_weight * adversarial + self.cycle_weight * cycle
    loss = loss + self.identity_weight * self.cycle_weight * identity
    return loss, {"loss": loss, "adversarial": adversarial, "cycle": cycle, "identity": identity}

  def translator_grads(self, state: TrainState, batch, rng, *, player: str):
    """Gradient of L w.r.t. `player`'s params only; the other translator's and D's are constants."""
    params = {name: state.players[name].params for name in TRANSLATORS_PLAYERS}
    model_state = state.players[player].model_state

    def loss_fn(own):
      """L at `player`'s params `own`, the others' as they are."""
      loss, metrics = self.translator_loss(state, {**params, player: own}, batch, rng)
      return loss, (model_state, metrics)

    return player_gradient(loss_fn, params[player])

  def discriminator_grads(self, state: TrainState, batch, rng, *, player: str):
    """Gradient of D's objective on its domain's real batch and the pool's answer to the fresh
    fakes, w.r.t. D's params only; the fakes are data here (no path back to the translators)."""
    domain, source = DISCRIMINATORS[player]
    source_domain = "b" if domain == "a" else "a"
    fake = jax.lax.stop_gradient(self.translate(state, batch[f"image_{source_domain}"], source))
    values = {}
    if self.pool_size:
      pool = state.extra[f"pool_{domain}"]
      fake, images, count = query_pool(
        pool["images"], pool["count"], fake, jax.random.fold_in(rng, POOL)
      )
      values = {"pool": images, "pool_count": count}
    d = state.players[player]

    def loss_fn(params):
      """D's objective at its params `params`."""
      loss, _, new_state, metrics = self.adversary.discriminator_loss(
        state.step, params, d.model_state, batch[f"image_{domain}"], fake, None, rng
      )
      return loss, (new_state, {"loss": loss, **metrics, **values})

    return player_gradient(loss_fn, d.params)

  def sample(self, state: TrainState, rng, num, labels=None, *, sources):
    """`num` samples of the model's domain B: G(a) for A images drawn uniformly (with replacement)
    by `rng` from `sources`, the held-out A images the run's sampler hands it (`SAMPLE_INPUTS`). A
    translator has no noise input (Zhu et al. 2017), so its samples are its translations of the
    other domain; the "translation" evaluator scores `translate` itself on both domains."""
    del labels
    picked = jax.random.randint(rng, (num,), 0, sources.shape[0])
    return self.translate(state, jnp.asarray(sources)[picked], "translator_ab")
