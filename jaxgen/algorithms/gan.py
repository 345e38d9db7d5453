"""The GAN minimax game (Goodfellow et al. 2014) and the conditional GAN (Mirza & Osindero 2014).

Two players, each with its own gradient function over its own parameters:

- `discriminator_grads`: ascent on V = E[log D(x)] + E[log(1 - D(G(z)))] w.r.t. theta_d, written as
  descent on -V (the generator's samples are inputs, not parameters, of this function);
- `generator_grads`: descent on E[log(1 - D(G(z)))] (`minimax`) or on -E[log D(G(z))]
  (`non_saturating`) w.r.t. theta_g only; D runs inside the loss but its params are constants.

Schedule: k discriminator phases, then one generator phase (Goodfellow et al. 2014, Algorithm 1),
each phase on a fresh batch. The class is assembled from the adversarial pieces: the objective
(`jaxgen.losses`, any of GAN_OBJECTIVES, relativistic ones included), the critic pipeline
(`critic.Critic`: instance noise, packing, spectral norm, heads), the loss terms and stabiliser
memory (`adversarial`), a penalty (`algorithm.penalty`: {"name": "wgan_gp" | "dragan" | "r1",
"weight": ...}, `jaxgen.losses.penalties`) and WGAN's weight clip (`algorithm.weight_clip`).

Subclasses pass what differs as constructor arguments (labels, heads, codes, generator players,
what they provide to the stabilisers) and override the losses or `make_fakes`; no construction
hook is called on a half-built object.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxgen import optim
from jaxgen.algorithms import adversarial
from jaxgen.algorithms import stabiliser_rules as rules
from jaxgen.algorithms.adversarial import (
  NOISE_FAKE,
  NOISE_REAL,
  PENALTY,
  Adversary,
  StabiliserMemory,
)
from jaxgen.algorithms.base import (
  AlgorithmBase,
  Player,
  TrainState,
  Values,
  apply_module,
  phase_noise_key,
  player_gradient,
  register,
)
from jaxgen.errors import ConfigError
from jaxgen.losses import penalties
from jaxgen.nn import precision as precision_lib
from jaxgen.nn.registry import GENERATORS, build_network
from jaxgen.options import Option, read_options

# fold_in tags that give each random draw of a gradient function its own stream; the rng itself
# draws the latents, so a test can rebuild z from it.
# NOISE_REAL, NOISE_FAKE and PENALTY are the adversary's (`adversarial`).
REPLAY, UNROLL = 4, 5
__all__ = ["GAN", "NOISE_FAKE", "NOISE_REAL", "PENALTY", "REPLAY", "UNROLL"]


def check_discriminator_steps(value: Any) -> int:
  if not (isinstance(value, int | np.integer) and value >= 1):
    raise ValueError(f"algorithm.discriminator_steps must be an integer >= 1; got {value!r}.")
  return int(value)


# How the players of a two-player game take turns (`algorithm.updates`):
# "alternating": D's k steps, then G's step against the updated D, each phase on a fresh batch
#   (Goodfellow et al. 2014, Algorithm 1);
# "simultaneous": both gradients at the same parameters, on the same batch and the same z, then
#   both applied (Mescheder et al. 2017, "The Numerics of GANs", eq. 3; Metz et al. 2016's demo).
UPDATES = ("alternating", "simultaneous")


def check_updates(value: Any) -> str:
  if value not in UPDATES:
    raise ValueError(f"algorithm.updates must be one of {UPDATES}; got {value!r}.")
  return value


def check_weight_clip(value: Any) -> float:
  if not (isinstance(value, int | float) and np.isfinite(value) and value >= 0):
    raise ValueError(f"algorithm.weight_clip must be a finite number >= 0 (0: off); got {value!r}.")
  return float(value)


def check_generator_reuses_fakes(value: Any) -> bool:
  if not isinstance(value, bool | np.bool_):
    raise ValueError(f"algorithm.generator_reuses_fakes must be True or False; got {value!r}.")
  return bool(value)


def make_penalty(config) -> penalties.Penalty | None:
  """The penalty of `{"name": ..., **options}` (absent or "none": no penalty)."""
  return adversarial.penalty_from_config(config)[1]


def gan_provides(objective, *, unconditional: bool, replayable: bool) -> rules.Provides:
  """What a logit discriminator with the objective `objective` provides to the stabilisers."""
  provides = {rules.LOGITS, rules.PER_SAMPLE, rules.INPUTS, rules.WEIGHTS, rules.HISTORY}
  provides |= {rules.GENERATORS} | ({rules.TARGETS} if objective.has_real_target else set())
  provides |= set() if objective.generator_needs_real else {rules.FEATURES}
  provides |= {rules.UNCONDITIONAL} if unconditional else set()
  return frozenset(provides | ({rules.REPLAYABLE} if replayable else set()))


@dataclasses.dataclass(frozen=True)
class Roles:
  """What a GAN-family algorithm changes about the plain GAN's players.

  `generator_classes` / `discriminator_classes`: the classes whose labels each network receives
  (None: the data's classes when `config.conditional`, else none); `aux_outputs`: the width of D's
  auxiliary head; `code_dim`: G's inputs beyond z; `generator_players`: their names;
  `fakes_carry_conditioning`: a fake means nothing without its label or code (no replay);
  `provides`: what the algorithm offers the stabilisers (None: `gan_provides`); `reads`: the
  kinds of D's output its losses read (`jaxgen.nn.traits`; logits per sample or per patch).
  """

  generator_classes: int | None = None
  discriminator_classes: int | None = None
  aux_outputs: int = 0
  code_dim: int = 0
  generator_players: tuple[str, ...] = ("generator",)
  fakes_carry_conditioning: bool = False
  provides: rules.Provides | None = None
  reads: tuple[str, ...] = rules.SCORES


def check_gan_stabilisers(algorithm, adversary: Adversary, roles: Roles, conditional: bool) -> None:
  """`stabiliser_rules.check_stabilisers` for a GAN-family algorithm with these roles."""
  owner, provides = f"algorithm {algorithm.name!r}", roles.provides
  if provides is None:
    unconditional = not (conditional or roles.aux_outputs)
    replayable = not (conditional or roles.fakes_carry_conditioning)
    provides = gan_provides(adversary.objective, unconditional=unconditional, replayable=replayable)
    owner += f" with loss {algorithm.get('loss', 'non_saturating')!r}"
  rules.check_stabilisers(
    owner,
    provides,
    adversary.stabilisers,
    adversary.penalty_name,
    network=adversary.critic.network,
    reads=roles.reads,
  )


@register("gan")
class GAN(AlgorithmBase):
  """The (conditional) GAN with a choice of objective and k discriminator steps per G step;
  subclasses pass their `Roles`."""

  PLAYERS = {"generator": "generator", "discriminator": "discriminator"}
  OPTIONS = (
    adversarial.LOSS_OPTION,
    Option(
      "discriminator_steps",
      1,
      "k, D's steps per G step (Goodfellow et al. 2014, Algorithm 1)",
      check=check_discriminator_steps,
    ),
    Option("updates", "alternating", "how the players take turns (gan.UPDATES)", choices=UPDATES),
    adversarial.PENALTY_OPTION,
    Option(
      "weight_clip",
      0.0,
      "WGAN's clip c of D's weights, 0: off (Arjovsky et al. 2017, Alg. 1)",
      check=check_weight_clip,
    ),
    Option(
      "generator_reuses_fakes",
      False,
      "G's step reuses D's last fakes (plain GAN only)",
      check=check_generator_reuses_fakes,
    ),
    adversarial.STABILISERS_OPTION,
  )

  def __init__(self, config, dataset, roles: Roles = Roles()):
    self.latent_dim, self.conditional = int(config.model.latent_dim), bool(config.conditional)
    if self.conditional and dataset.num_classes == 0:
      raise ValueError(f"conditional=True needs labelled data; {dataset.name!r} has no labels.")
    self.num_classes = dataset.num_classes if self.conditional else 0
    default = lambda classes: self.num_classes if classes is None else classes
    self.generator_classes = default(roles.generator_classes)
    self.discriminator_classes = default(roles.discriminator_classes)
    self.example_shape, self.batch_size = tuple(dataset.example_shape), int(config.batch_size)
    self.generator_input_dim = self.latent_dim + roles.code_dim
    self.generator_players = tuple(roles.generator_players)
    algorithm = config.algorithm
    self.options = options = read_options(type(self), algorithm)
    self.weight_clip = options.weight_clip
    facts = dict(example_shape=self.example_shape, num_classes=self.generator_classes)
    precision = precision_lib.from_config(config)
    self.generator = build_network(
      GENERATORS, "generator", config.model.generator, precision=precision, **facts
    )
    self.adversary = adversary = Adversary.from_config(
      algorithm,
      config.model.discriminator,
      example_shape=self.example_shape,
      num_classes=self.discriminator_classes,
      aux_outputs=roles.aux_outputs,
      penalty=options.penalty,
      precision=precision,
    )
    self.objective, self.critic = adversary.objective, adversary.critic
    self.penalty, self.stabilisers = adversary.penalty, adversary.stabilisers
    self.discriminator = self.critic.module
    self.memory = StabiliserMemory(self.stabilisers, self.batch_size, self.example_shape)
    check_gan_stabilisers(algorithm, adversary, roles, self.conditional)
    optimizer = lambda name: optim.make_optimizer(config.optimizer[name])
    self.players = {
      name: Player(
        name,
        self.generator,
        optimizer("generator"),
        functools.partial(self.generator_grads, player=name),
      )
      for name in self.generator_players
    }
    self.players["discriminator"] = Player(
      "discriminator", self.discriminator, optimizer("discriminator"), self.discriminator_grads
    )
    self.updates = options.updates
    self.schedule = self.two_player_schedule(options.discriminator_steps)
    self.generator_reuses_fakes = self.check_fake_reuse(
      options.generator_reuses_fakes, algorithm.name
    )
    if self.generator_reuses_fakes:  # D's rng is then its phase's key, which G can rebuild
      d = self.players["discriminator"]
      self.players["discriminator"] = dataclasses.replace(d, shares_phase_noise=True)

  def two_player_schedule(self, k: int) -> tuple[tuple[str, ...], ...]:
    """k D phases then the generators' phase, or one phase of all (`updates`, see UPDATES)."""
    if self.updates == "alternating":
      return (("discriminator",),) * k + (self.generator_players,)
    if k != 1:
      raise ConfigError(
        f"algorithm.updates = 'simultaneous' takes every gradient at one point, so "
        f"algorithm.discriminator_steps = {k} has no meaning; set it to 1 or use 'alternating'."
      )
    # One key for the phase: D's fakes and G's are the same draw of z (one forward pass).
    for name in ("discriminator", *self.generator_players):
      self.players[name] = dataclasses.replace(self.players[name], shares_phase_noise=True)
    return (("discriminator", *self.generator_players),)

  def check_fake_reuse(self, value: Any, algorithm_name: str) -> bool:
    """`algorithm.generator_reuses_fakes` (absent: False), refused where the fakes of a D phase
    depend on more than z and G's params (labels, codes, several generators)."""
    if value is None:
      return False
    try:
      reuse = check_generator_reuses_fakes(value)
    except ValueError as error:
      raise ConfigError(f"{error} Set it to True or False.") from None
    if reuse and self.updates == "simultaneous":
      raise ConfigError(
        "algorithm.generator_reuses_fakes = True reuses the last D phase's fakes between "
        "alternating updates; with algorithm.updates = 'simultaneous' G's step already takes D's "
        "fakes. Set it to False."
      )
    if reuse and (type(self) is not GAN or self.conditional):
      raise ConfigError(
        f"algorithm.generator_reuses_fakes = True is for the unconditional plain GAN (algorithm "
        f"'gan', conditional=False); algorithm {algorithm_name!r} with conditional="
        f"{self.conditional} draws fakes from more than z. Set it to False."
      )
    return reuse

  def discriminator_variables(self, state: TrainState, params=None, model_state=None):
    """D's (params, model_state) in `state`, each replaced where given (params to differentiate,
    or after the unrolled GAN's lookahead)."""
    d = state.players["discriminator"]
    params = d.params if params is None else params
    return params, d.model_state if model_state is None else model_state

  def generator_labels(self, batch):
    return batch["y"] if self.generator_classes else None

  def discriminator_labels(self, batch):
    return batch["y"] if self.discriminator_classes else None

  def init_variables(self, rng, batch):
    *g_keys, d_key, spectral_key = jax.random.split(rng, len(self.generator_players) + 2)
    z = jnp.zeros((batch["x"].shape[0], self.generator_input_dim))
    labels = self.generator_labels(batch)
    variables = {
      name: self.generator.init(key, z, labels, train=False)
      for name, key in zip(self.generator_players, g_keys, strict=True)
    }
    d_labels = self.discriminator_labels(batch)
    variables["discriminator"] = self.critic.init(d_key, spectral_key, batch["x"], d_labels)
    return variables

  def latents(self, rng, num):
    """z ~ N(0, I), the prior of Radford et al. 2016 (any simple prior serves, Goodfellow 2014)."""
    return jax.random.normal(rng, (num, self.latent_dim))

  def generate(self, state, rng, num, labels, *, train, params=None, z=None, player="generator"):
    """G(z) and G's updated model state; `params` overrides G's params (to differentiate)."""
    g = state.players[player]
    params = g.params if params is None else params
    z = self.latents(rng, num) if z is None else z
    return apply_module(self.generator, params, g.model_state, z, labels, train=train)

  def make_fakes(self, state: TrainState, rng, batch, *, params=None, player="generator"):
    """G's training-mode samples for `batch`, G's new model state, and the conditioning the
    auxiliary losses need (`{}` here; ACGAN's labels, InfoGAN's codes)."""
    num, labels = batch["x"].shape[0], self.generator_labels(batch)
    fake, model_state = self.generate(
      state, rng, num, labels, train=True, params=params, player=player
    )
    return fake, model_state, {}

  def auxiliary_discriminator_loss(self, real_outputs, fake_outputs, batch, conditioning):
    """Extra terms of D's loss and their metrics (ACGAN's classes, InfoGAN's MI); none here."""
    return 0.0, {}

  def auxiliary_generator_loss(self, fake_outputs, batch, conditioning):
    """Extra terms of G's loss and their metrics; none here."""
    return 0.0, {}

  def discriminator_loss(self, state, params, batch, fake, conditioning, rng, model_state=None):
    """D's loss on a real batch and given fakes: (loss, (D's new model state, metrics))."""
    _, model_state = self.discriminator_variables(state, params, model_state)
    labels = self.discriminator_labels(batch)
    loss, (real_out, fake_out), new_state, metrics = self.adversary.discriminator_loss(
      state.step, params, model_state, batch["x"], fake, labels, rng
    )
    aux_loss, aux_metrics = self.auxiliary_discriminator_loss(
      real_out, fake_out, batch, conditioning
    )
    loss = loss + aux_loss + self.memory.history_penalty(state, "discriminator", params)
    return loss, (new_state, {"loss": loss, **metrics, **aux_metrics})

  def generator_loss(
    self, state, params, batch, rng, *, d_params=None, d_model_state=None, player="generator"
  ):
    """G's loss against D (its params constants here): (loss, (G's new model state, metrics))."""
    fake, model_state, conditioning = self.make_fakes(
      state, rng, batch, params=params, player=player
    )
    loss, metrics = self.generator_loss_on_fakes(
      state, params, batch, rng, fake, conditioning, d_params, d_model_state, player
    )
    return loss, (model_state, metrics)

  def generator_loss_on_fakes(
    self, state, params, batch, rng, fake, conditioning, d_params, d_model_state, player
  ):
    """G's loss on its fakes `fake` = G(z; params): (loss, metrics)."""
    d_params, d_model_state = self.discriminator_variables(state, d_params, d_model_state)
    loss, fake_out = self.adversary.generator_loss(
      state.step, d_params, d_model_state, fake, batch["x"], self.discriminator_labels(batch), rng
    )
    aux_loss, metrics = self.auxiliary_generator_loss(fake_out, batch, conditioning)
    loss = loss + aux_loss + self.memory.history_penalty(state, player, params)
    return loss, {"loss": loss, **metrics}

  def fakes_with_pullback(self, state, rng, batch, player="generator"):
    """(G(z), the pullback of G(z) to G's params, G's new model state, the conditioning).

    Both players' steps call this with `generator_reuses_fakes`, so that the forward pass is
    traced alike in both (D's step drops the pullback) and XLA may merge the two. Measured on
    XLA:CPU (jax 0.10.2): it merges G's projection only; batch norm's `rsqrt(var) * scale` is
    rewritten differently where the backward keeps `rsqrt` as a residual, and the convolutions
    after it stay twice (notes/readme_dcgan_speed.md).
    """

    def make(params):
      fake, model_state, conditioning = self.make_fakes(
        state, rng, batch, params=params, player=player
      )
      return fake, (model_state, conditioning)

    params = state.players[player].params
    fake, pullback, (model_state, conditioning) = jax.vjp(make, params, has_aux=True)
    return fake, pullback, model_state, conditioning

  def discriminator_grads(self, state: TrainState, batch, rng):
    """Gradient of D's loss w.r.t. theta_d only (Goodfellow et al. 2014, Algorithm 1)."""
    if self.generator_reuses_fakes:
      fake, _, _, conditioning = self.fakes_with_pullback(state, rng, batch)
    else:
      fake, _, conditioning = self.make_fakes(state, rng, batch)
    fake = jax.lax.stop_gradient(fake)  # G's samples are data to D; no path back to theta_g
    fake = self.memory.replay(state, fake, jax.random.fold_in(rng, REPLAY))
    loss_fn = lambda p: self.discriminator_loss(state, p, batch, fake, conditioning, rng)
    return player_gradient(loss_fn, state.players["discriminator"].params)

  def generator_grads(self, state: TrainState, batch, rng, *, player="generator"):
    """Gradient of the generator loss w.r.t. theta_g only; D's params are constants here."""
    if self.generator_reuses_fakes:
      return self.generator_grads_on_reused_fakes(state, batch, rng, player)
    loss_fn = lambda p: self.generator_loss(state, p, batch, rng, player=player)
    return player_gradient(loss_fn, state.players[player].params)

  def generator_grads_on_reused_fakes(self, state: TrainState, batch, rng, player):
    """G's gradient on the last D phase's fakes (`generator_reuses_fakes`, as PyTorch's DCGAN
    example does): that phase's rng is its shared key (`Player.shares_phase_noise`), so z is
    redrawn alike, and G's params and batch statistics have not moved since, so G(z) is the batch
    D just saw. Chain rule: dL/dtheta = (dG(z)/dtheta)^T dL/dG(z) + dL/dtheta|_G(z) fixed (the
    second term: historical averaging)."""
    z_rng = phase_noise_key(state, len(self.schedule) - 2)  # the last D phase's
    fake, pullback, model_state, conditioning = self.fakes_with_pullback(
      state, z_rng, batch, player
    )
    loss_fn = lambda fake, params: self.generator_loss_on_fakes(
      state, params, batch, rng, fake, conditioning, None, None, player
    )
    params = state.players[player].params
    grad_fn = jax.value_and_grad(loss_fn, argnums=(0, 1), has_aux=True)
    (_, metrics), (fake_grad, direct_grad) = grad_fn(fake, params)
    (through_fakes,) = pullback(fake_grad)
    return jax.tree.map(jnp.add, through_fakes, direct_grad), model_state, metrics

  def constrain(self, player: str, params):
    """WGAN's weight clipping of D to [-c, c] (Arjovsky et al. 2017, Algorithm 1, line 7)."""
    if player != "discriminator" or not self.weight_clip:
      return params
    return jax.tree.map(lambda w: jnp.clip(w, -self.weight_clip, self.weight_clip), params)

  def init_extra(self) -> dict[str, Any]:
    """Zero-initialised state of the stabilisers that need memory (averages, buffers)."""
    return self.memory.init(self.init_variables, tuple(self.players), self.generator_players)

  def update_extra(self, state: TrainState, values: Values) -> dict[str, Any]:
    """After each train step: running means, the EMA of G, the replay buffer."""
    rng = jax.random.fold_in(jax.random.fold_in(state.rng, state.step), REPLAY)
    shape = self.example_shape
    fresh = lambda num: self.make_fakes(state, rng, {"x": jnp.zeros((num, *shape))})[0]
    return self.memory.update(state, fresh)

  def evaluation_params(self, state: TrainState, player: str = "generator"):
    return self.memory.evaluation_params(state, player)

  def sample(self, state: TrainState, rng, num, labels=None):
    """`num` samples from G in inference mode (running batch statistics)."""
    if self.generator_classes and labels is None:
      labels = jnp.arange(num) % self.generator_classes
    labels = labels if self.generator_classes else None
    params = self.evaluation_params(state)
    return self.generate(state, rng, num, labels, train=False, params=params)[0]
