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
what they provide to the stabilisers: `gan_roles.Roles`) and override the losses
(`gan_losses.GanLosses`) or `make_fakes` (`gan_fakes.GanFakes`); no construction hook is called on
a half-built object. This module keeps the class with its players, its schedule and its state.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp

from jaxgen import optim
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
  player_gradient,
  register,
)
from jaxgen.algorithms.gan_fakes import GanFakes
from jaxgen.algorithms.gan_losses import GanLosses
from jaxgen.algorithms.gan_roles import (
  GAN_OPTIONS,
  PLAIN_ROLES,
  UPDATES,
  Roles,
  check_discriminator_steps,
  check_gan_stabilisers,
  check_generator_reuses_fakes,
  check_updates,
  check_weight_clip,
  gan_provides,
  make_penalty,
)
from jaxgen.errors import ConfigError
from jaxgen.nn import precision as precision_lib
from jaxgen.nn.registry import GENERATORS, build_network
from jaxgen.options import read_options

# fold_in tags that give each random draw of a gradient function its own stream; the rng itself
# draws the latents, so a test can rebuild z from it.
# NOISE_REAL, NOISE_FAKE and PENALTY are the adversary's (`adversarial`).
REPLAY, UNROLL = 4, 5
__all__ = [
  "GAN",
  "NOISE_FAKE",
  "NOISE_REAL",
  "PENALTY",
  "REPLAY",
  "UNROLL",
  "UPDATES",
  "Roles",
  "check_discriminator_steps",
  "check_gan_stabilisers",
  "check_generator_reuses_fakes",
  "check_updates",
  "check_weight_clip",
  "gan_provides",
  "make_penalty",
]


@register("gan")
class GAN(GanLosses, GanFakes, AlgorithmBase):
  """The (conditional) GAN with a choice of objective and k discriminator steps per G step;
  subclasses pass their `Roles`."""

  PLAYERS = {"generator": "generator", "discriminator": "discriminator"}
  OPTIONS = GAN_OPTIONS
  FAKES_REUSABLE = True  # its fakes are G(z) alone and G's step is GanLosses' (`gan_fakes`)

  def __init__(self, config, dataset, roles: Roles = PLAIN_ROLES):
    self._read_data(config, dataset, roles)
    algorithm = config.algorithm
    self.options = options = read_options(type(self), algorithm)
    self.weight_clip, self.updates = options.weight_clip, options.updates
    self._build_networks(config, roles)
    check_gan_stabilisers(algorithm, self.adversary, roles, self.conditional)
    self.players = self._players(config)
    self.schedule = self.two_player_schedule(options.discriminator_steps)
    self.generator_reuses_fakes = self.check_fake_reuse(
      options.generator_reuses_fakes, algorithm.name
    )
    if self.generator_reuses_fakes:  # D's rng is then its phase's key, which G can rebuild
      self._share_phase_noise("discriminator")

  def _read_data(self, config, dataset, roles: Roles) -> None:
    """The data's facts and what the roles make of them: classes, shapes, G's input width."""
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

  def _build_networks(self, config, roles: Roles) -> None:
    """G from `model.generator`; D's side (`Adversary`: critic, objective, penalty, stabilisers)
    from `model.discriminator` and `config.algorithm`; the stabilisers' memory."""
    facts = dict(example_shape=self.example_shape, num_classes=self.generator_classes)
    precision = precision_lib.from_config(config)
    self.generator = build_network(
      GENERATORS, "generator", config.model.generator, precision=precision, **facts
    )
    self.adversary = adversary = Adversary.from_config(
      config.algorithm,
      config.model.discriminator,
      example_shape=self.example_shape,
      num_classes=self.discriminator_classes,
      aux_outputs=roles.aux_outputs,
      penalty=self.options.penalty,
      precision=precision,
    )
    self.objective, self.critic = adversary.objective, adversary.critic
    self.penalty, self.stabilisers = adversary.penalty, adversary.stabilisers
    self.discriminator = self.critic.module
    self.memory = StabiliserMemory(self.stabilisers, self.batch_size, self.example_shape)

  def _players(self, config) -> dict[str, Player]:
    """The generator players (one network, their own params) and D, each with its optimizer."""
    optimizer = lambda name: optim.make_optimizer(config.optimizer[name])
    grads = lambda name: functools.partial(self.generator_grads, player=name)
    players = {
      name: Player(name, self.generator, optimizer("generator"), grads(name))
      for name in self.generator_players
    }
    players["discriminator"] = Player(
      "discriminator", self.discriminator, optimizer("discriminator"), self.discriminator_grads
    )
    return players

  def _share_phase_noise(self, *names: str) -> None:
    """The players `names` receive their phase's shared key (`Player.shares_phase_noise`)."""
    for name in names:
      self.players[name] = dataclasses.replace(self.players[name], shares_phase_noise=True)

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
    self._share_phase_noise("discriminator", *self.generator_players)
    return (("discriminator", *self.generator_players),)

  def init_variables(self, rng, batch):
    """Each generator's variables (on zero inputs z [B, latent + code dims]) and D's (on x)."""
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

  def discriminator_grads(self, state: TrainState, batch, rng):
    """Gradient of D's loss w.r.t. theta_d only (Goodfellow et al. 2014, Algorithm 1)."""
    fake, conditioning = self.discriminator_fakes(state, rng, batch)
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
    """`player`'s params for sampling: the debiased EMA when `generator_ema` is on."""
    return self.memory.evaluation_params(state, player)

  def sample(self, state: TrainState, rng, num, labels=None):
    """`num` samples from G in inference mode (running batch statistics)."""
    if self.generator_classes and labels is None:
      labels = jnp.arange(num) % self.generator_classes
    labels = labels if self.generator_classes else None
    params = self.evaluation_params(state)
    return self.generate(state, rng, num, labels, train=False, params=params)[0]
