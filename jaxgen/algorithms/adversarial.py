"""The adversarial pieces any algorithm with a discriminator assembles.

- `Adversary`: the game on D's side, from the config: the critic pipeline (`critic.Critic`), the
  objective (`jaxgen.losses.GAN_OBJECTIVES`), one-sided label smoothing, a gradient penalty
  (`jaxgen.losses.penalties`) and feature matching; its two methods give D's loss on (real, fake)
  and the adversarial part of a generator's loss on its fakes.
- `StabiliserMemory`: the stabilisers' state in `TrainState.extra` (running means of historical
  averaging, the EMA of the generators, the replay buffer).
- The loss terms as pure functions.

Which switch an algorithm may use is one rule, `stabiliser_rules.check_stabilisers`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp

from jaxgen import losses, stabilisers
from jaxgen.algorithms import stabiliser_rules as rules
from jaxgen.algorithms.critic import Critic, logits_of
from jaxgen.losses import penalties
from jaxgen.nn import precision as precision_lib
from jaxgen.options import Option

# fold_in tags of the adversary's random draws (a test rebuilds them from the rng).
NOISE_REAL, NOISE_FAKE, PENALTY = 1, 2, 3


def penalty_from_config(config) -> tuple[str | None, penalties.Penalty | None]:
  """(name, penalty) of `{"name": ..., **options}`; (None, None) when absent or "none"."""
  options = dict(config or {"name": "none"})
  name = options.pop("name", "none")
  penalty = penalties.get_penalty(name, **options)
  return (None, None) if penalty is None else (name, penalty)


def _check_penalty(config):
  penalty_from_config(config)  # builds it, so a bad option is refused before the first step
  return config


# The options every algorithm with a discriminator reads (`Adversary.from_config`).
LOSS_OPTION = Option(
  "loss",
  "non_saturating",
  "the GAN objective (jaxgen.losses.GAN_OBJECTIVES)",
  choices=lambda: losses.GAN_OBJECTIVES,
)
STABILISERS_OPTION = Option(
  "stabilisers",
  None,
  "the stabiliser switches, all off when absent (jaxgen.stabilisers)",
  check=stabilisers.check_config,
)
PENALTY_OPTION = Option(
  "penalty",
  None,
  "a gradient penalty on D, {'name': ..., 'weight': ...} (losses.penalties)",
  check=_check_penalty,
  choices=lambda: ("none", *penalties.PENALTIES),
)


def discriminator_objective(objective, s: stabilisers.Stabilisers, real_logits, fake_logits):
  """D's objective loss; with one-sided label smoothing the real target is 1 - s (Salimans et al.
  2016, sec. 3.4)."""
  if s.label_smoothing:
    target = 1.0 - s.label_smoothing
    return objective.discriminator_loss(real_logits, fake_logits, real_target=target)
  return objective.discriminator_loss(real_logits, fake_logits)


def generator_objective(objective, s, fake_logits, real_logits, fake_features, real_features):
  """G's adversarial loss: ||E f(x) - E f(G(z))||^2 with feature matching (Salimans et al. 2016,
  sec. 3.1), else the objective's G loss on D's outputs on the fakes and on the real batch (which
  only the relativistic objectives read). The real features depend on theta_G only through an
  unrolled D, whose whole surrogate G differentiates (Metz et al. 2016, sec. 2.3)."""
  if s.feature_matching:
    return losses.feature_matching_loss(real_features, fake_features)
  return objective.generator_loss(fake_logits, real_logits)


def objective_provides(objective: losses.GanObjective) -> set[str]:
  """What a GAN objective offers the stabilisers (`stabiliser_rules`): a real target to smooth
  (`has_real_target`), and a G loss on D's fake outputs alone, which matching D's features may
  replace (not a relativistic one, which reads D on real data: `generator_needs_real`)."""
  provides = {rules.TARGETS} if objective.has_real_target else set()
  return provides | (set() if objective.generator_needs_real else {rules.FEATURES})


@dataclasses.dataclass(frozen=True)
class StabiliserMemory:
  """The stabilisers' state in `TrainState.extra`: "history_mean" (historical averaging),
  "generator_ema" (the EMA of G) and "replay_buffer" (experience replay)."""

  stabilisers: stabilisers.Stabilisers
  batch_size: int
  example_shape: tuple[int, ...]

  @property
  def replay_push_size(self) -> int:
    """Fresh fakes written into the replay buffer per train step: as many as D draws from it."""
    return max(1, round(self.stabilisers.replay_fraction * self.batch_size))

  def init(self, init_variables, players, generator_players) -> dict[str, Any]:
    """Zero-initialised memory for the params `init_variables(rng, batch)` gives `players`."""
    x = jnp.zeros((self.batch_size, *self.example_shape))
    batch = {"x": x, "y": jnp.zeros((self.batch_size,), jnp.int32)}
    shapes = jax.eval_shape(init_variables, jax.random.key(0), batch)
    param_shapes = {name: shapes[name]["params"] for name in players}
    s = self.stabilisers
    zeros = lambda tree: jax.tree.map(lambda x: jnp.zeros(x.shape, x.dtype), tree)
    extra = {}
    if s.historical_averaging:
      extra["history_mean"] = {name: zeros(shapes) for name, shapes in param_shapes.items()}
    if s.generator_ema:
      extra["generator_ema"] = {name: zeros(param_shapes[name]) for name in generator_players}
    if s.replay_fraction:
      extra["replay_buffer"] = jnp.zeros((s.replay_capacity, *self.example_shape))
    return extra

  def update(self, state, fresh_fakes) -> dict[str, Any]:
    """The memory after a train step: running means, the EMA of G, the replay buffer (with
    `fresh_fakes(num)`, G's training-mode samples)."""
    s, extra = self.stabilisers, dict(state.extra)
    params = {name: player.params for name, player in state.players.items()}
    if s.historical_averaging:
      extra["history_mean"] = {
        name: stabilisers.running_mean(mean, params[name], state.step)
        for name, mean in extra["history_mean"].items()
      }
    if s.generator_ema:
      extra["generator_ema"] = {
        name: stabilisers.ema_update(ema, params[name], s.generator_ema)
        for name, ema in extra["generator_ema"].items()
      }
    if s.replay_fraction:
      extra["replay_buffer"] = stabilisers.replay_push(
        extra["replay_buffer"],
        state.step * self.replay_push_size,
        fresh_fakes(self.replay_push_size),
      )
    return extra

  def history_penalty(self, state, player: str, params) -> jax.Array:
    """Salimans et al. 2016's historical averaging term (0 when the switch is off)."""
    weight = self.stabilisers.historical_averaging
    if not weight:
      return 0.0
    mean = state.extra["history_mean"][player]
    return stabilisers.historical_averaging_penalty(params, mean, state.step, weight)

  def replay(self, state, fake, rng):
    """D's fakes with a share drawn from the replay buffer (unchanged when replay is off)."""
    if not self.stabilisers.replay_fraction:
      return fake
    return stabilisers.replay_mix(
      fake,
      state.extra["replay_buffer"],
      state.step * self.replay_push_size,
      self.stabilisers.replay_fraction,
      rng,
    )

  def evaluation_params(self, state, player: str):
    """`player`'s params for sampling: the debiased EMA when `generator_ema` is on."""
    params = state.players[player].params
    decay = self.stabilisers.generator_ema
    if not decay:
      return params
    return stabilisers.debiased_ema(state.extra["generator_ema"][player], params, state.step, decay)


@dataclasses.dataclass(frozen=True)
class Adversary:
  """D's side of the game; see the module docstring. `critic` runs D (params are arguments)."""

  critic: Critic
  objective: losses.GanObjective
  stabilisers: stabilisers.Stabilisers
  penalty: penalties.Penalty | None = None
  penalty_name: str | None = None

  @classmethod
  def from_config(
    cls,
    algorithm,
    discriminator,
    *,
    example_shape,
    num_classes,
    aux_outputs=0,
    penalty=None,
    precision=precision_lib.DEFAULT,
  ):
    """From `config.algorithm` (`loss`, `stabilisers`), the network config `discriminator` and
    the gradient penalty's config `penalty` ({"name": ..., **options}; None: no penalty);
    `aux_outputs`: the width of D's auxiliary head (0: none); `precision`: `config.precision`."""
    switches = stabilisers.Stabilisers.from_config(algorithm.get("stabilisers"))
    penalty_name, penalty = penalty_from_config(penalty)
    critic = Critic.build(
      discriminator,
      switches,
      example_shape=example_shape,
      num_classes=num_classes,
      aux_outputs=aux_outputs,
      precision=precision,
    )
    objective = losses.get_gan_objective(algorithm.get("loss", LOSS_OPTION.default))
    return cls(critic, objective, switches, penalty, penalty_name)

  @staticmethod
  def noise_keys(rng):
    """The instance-noise keys of the real and of the fake batch."""
    return jax.random.fold_in(rng, NOISE_REAL), jax.random.fold_in(rng, NOISE_FAKE)

  def discriminator_loss(self, step, params, model_state, real, fake, labels, rng):
    """D's objective (+ penalty) on a real and a fake batch: (loss, (real outputs, fake outputs),
    D's model state after both passes, metrics)."""
    real, fake, real_out, fake_out, new_state = self.critic.real_and_fake(
      step, params, model_state, real, fake, labels, self.noise_keys(rng)
    )
    real_logits, fake_logits = logits_of(real_out), logits_of(fake_out)
    loss = discriminator_objective(self.objective, self.stabilisers, real_logits, fake_logits)
    metrics = {"real_logit": jnp.mean(real_logits), "fake_logit": jnp.mean(fake_logits)}
    if self.penalty is not None:  # on D's inputs as D saw them (noised, packed), D's new state
      critic = lambda x: logits_of(self.critic(params, new_state, x, labels)[0])
      metrics["penalty"] = self.penalty(critic, real, fake, jax.random.fold_in(rng, PENALTY))
      loss = loss + metrics["penalty"]
    return loss, (real_out, fake_out), new_state, metrics

  def generator_loss(self, step, params, model_state, fake, real, labels, rng):
    """The adversarial part of a generator's loss on its fakes, D's params and statistics held
    (D's state is not updated by G's step): (loss, D's outputs on the fakes)."""
    real_key, fake_key = self.noise_keys(rng)
    run = lambda x, key: self.critic(params, model_state, self.critic.inputs(step, x, key), labels)
    fake_out, fake_features, _ = run(fake, fake_key)
    # Every G loss receives D on the real batch; where nothing reads it, jit drops the pass.
    real_out, real_features, _ = run(real, real_key)
    s = self.stabilisers
    loss = generator_objective(
      self.objective, s, logits_of(fake_out), logits_of(real_out), fake_features, real_features
    )
    return loss, fake_out
