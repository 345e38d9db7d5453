"""ProGAN: progressive growing of G and D (Karras et al. 2018, "Progressive Growing of GANs").

Training starts at 4x4; each further resolution (8x8, 16x16, ...) is added to G and D together and
faded in: for `fade_steps` steps alpha rises linearly from 0 to 1, then the grown networks train
for `stable_steps` steps at alpha = 1 (sec. 3, Figure 2; the first resolution trains `stable_steps`
steps alone). The objective is WGAN-GP (Gulrajani et al. 2017) with the drift term
epsilon_drift E[D(x)^2] (Karras et al. 2018, sec. A.1); G's networks use pixel norm, D the minibatch
standard deviation, both the equalised learning rate (`jaxgen.nn.progan`); evaluation samples come
from the EMA of G (`algorithm.stabilisers.generator_ema`, sec. A.1: 0.999).

The stage (which blocks run) is a Python int: `stage(step)` names the compiled train step the loop
uses at a step and `at_stage(stage)` is the algorithm whose grad_fns run that stage, so there is one
compiled step per resolution, not per alpha. alpha is `TrainState.extra["alpha"]` (with
`extra["stage"]`), set by `update_extra` from the step, so a checkpoint holds it and a run resumed
mid-fade continues exactly. The params of every block and head exist from the start, so the state
has one shape at every stage.

What D sees of the data at stage s (resolution r): the real images average-pooled to r, and while
fading, blended the way D's input is: alpha x_r + (1 - alpha) upsample(avgpool(x_r)) (sec. A.1 /
their code's `process_reals`, which lerps the r x r reals with their 2x-downsampled-then-upsampled
copy by the fractional level of detail 1 - alpha). G's fakes are r x r too; evaluation samples are
upsampled (nearest) to the data's size, so FID compares one size at every stage.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgen import losses, optim, stabilisers
from jaxgen.algorithms import adversarial
from jaxgen.algorithms import stabiliser_rules as rules
from jaxgen.algorithms.adversarial import PENALTY, StabiliserMemory
from jaxgen.algorithms.base import (
  AlgorithmBase,
  Player,
  TrainState,
  Values,
  player_gradient,
  register,
)
from jaxgen.losses import penalties
from jaxgen.nn import precision as precision_lib
from jaxgen.nn import progan as nets
from jaxgen.nn.registry import DISCRIMINATORS, GENERATORS, build_network
from jaxgen.options import REQUIRED, Option, integer, number, read_options

# Karras et al. 2018, sec. A.1: lambda = 10 (WGAN-GP's, `penalty_weight`), epsilon_drift = 0.001.
DRIFT_WEIGHT = 0.001
# ProGAN has no switch a stabiliser needs but the EMA of G: its D mixes samples (minibatch
# stddev), its penalty is its own, its loss has no targets; the rule refuses the rest.
PROVIDES = frozenset({rules.GENERATORS})


def drift_term(real_scores: jax.Array, weight: float) -> jax.Array:
  """epsilon_drift E[D(x)^2] on real data, keeping D's output near 0 (Karras et al. 2018,
  sec. A.1)."""
  return weight * jnp.mean(jnp.square(real_scores))


@dataclasses.dataclass(frozen=True)
class GrowthSchedule:
  """Which stage runs at a step and with which alpha: stage 0 for `stable_steps`, then per further
  stage `fade_steps` (alpha 0 -> 1) and `stable_steps` (alpha 1); the last stage runs on."""

  stable_steps: int
  fade_steps: int
  num_stages: int

  def __post_init__(self):
    integer(1)(self.stable_steps), integer(1)(self.fade_steps)

  def start(self, stage: int) -> int:
    """The first step of `stage` (its fade's first step for stage >= 1)."""
    return (
      0 if stage == 0 else self.stable_steps + (stage - 1) * (self.fade_steps + self.stable_steps)
    )

  def stage(self, step: int) -> int:
    """The stage of step `step` (a Python int)."""
    grown = (step - self.stable_steps) // (self.fade_steps + self.stable_steps) + 1
    return 0 if step < self.stable_steps else min(self.num_stages - 1, grown)

  def traced_stage(self, step: jax.Array) -> jax.Array:
    """`stage` of a traced step."""
    grown = (step - self.stable_steps) // (self.fade_steps + self.stable_steps) + 1
    return jnp.where(step < self.stable_steps, 0, jnp.minimum(self.num_stages - 1, grown))

  def alpha(self, step: jax.Array) -> jax.Array:
    """alpha at `step`: (step - fade start) / fade_steps in [0, 1] in a fade, 1 otherwise (sec. 3:
    "alpha increases linearly from 0 to 1")."""
    stage = self.traced_stage(step)
    begin = self.stable_steps + (stage - 1) * (self.fade_steps + self.stable_steps)
    fading = jnp.clip((step - begin) / self.fade_steps, 0.0, 1.0)
    return jnp.where(stage == 0, 1.0, fading).astype(jnp.float32)

  def progress(self, step) -> dict[str, jax.Array]:
    """The traced stage and alpha of `step`, as `TrainState.extra` holds them."""
    return {"stage": self.traced_stage(step).astype(jnp.int32), "alpha": self.alpha(step)}


def real_at_stage(x: jax.Array, resolution: int, alpha, *, fading: bool) -> jax.Array:
  """The real images as D reads them at `resolution` (module docstring; sec. A.1); `fading`:
  a stage with a block to fade in (every stage but the first)."""
  while x.shape[1] > resolution:
    x = nets.downsample(x)
  if not fading:
    return x
  return nets.lerp(nets.upsample(nets.downsample(x)), x, alpha)


def build_growing_networks(config, example_shape) -> tuple[nn.Module, nn.Module]:
  """G and D from `model.generator` / `model.discriminator`: both the growing 'progan' networks,
  from one start resolution (they grow together, Karras et al. 2018, sec. 3), in the config's
  precision."""
  facts = dict(example_shape=example_shape, num_classes=0)
  generator = build_network(GENERATORS, "generator", config.model.generator, **facts)
  discriminator = build_network(
    DISCRIMINATORS, "discriminator", config.model.discriminator, **facts
  )
  for role, module in (("generator", generator), ("discriminator", discriminator)):
    if not isinstance(module, nets.ProGANGenerator | nets.ProGANDiscriminator):
      raise ValueError(f"ProGAN grows its networks; set model.{role}.name = 'progan'.")
  precision = precision_lib.from_config(config)  # wrapped once the type checks above passed
  generator = precision_lib.wrap(generator, precision)
  discriminator = precision_lib.wrap(discriminator, precision)
  if generator.start_resolution != discriminator.start_resolution:
    raise ValueError(
      "model.generator.start_resolution and model.discriminator.start_resolution differ "
      f"({generator.start_resolution} vs {discriminator.start_resolution}); G and D "
      "grow together (Karras et al. 2018, sec. 3), so set them equal."
    )
  return generator, discriminator


@register("progan")
class ProGAN(AlgorithmBase):
  """Progressive growing; see the module docstring. As constructed it runs stage 0."""

  PLAYERS = {"generator": "generator", "discriminator": "discriminator"}
  OPTIONS = (
    Option("stable_steps", REQUIRED, "steps of each stage at alpha = 1 (sec. 3)", check=integer(1)),
    Option(
      "fade_steps", REQUIRED, "steps of each fade-in, alpha 0 -> 1 (sec. 3)", check=integer(1)
    ),
    Option("penalty_weight", 10.0, "lambda of the WGAN-GP penalty (sec. A.1)", check=number(0)),
    Option("drift_weight", DRIFT_WEIGHT, "epsilon_drift of E[D(x)^2] (sec. A.1)", check=number(0)),
    adversarial.STABILISERS_OPTION,
  )

  def __init__(self, config, dataset):
    if bool(config.conditional):
      raise ValueError("ProGAN here is unconditional; set conditional=False.")
    self.example_shape, self.batch_size = tuple(dataset.example_shape), int(config.batch_size)
    self.latent_dim = int(config.model.latent_dim)
    options = read_options(type(self), config.algorithm)
    self.generator, self.discriminator = build_growing_networks(config, self.example_shape)
    self.growth = GrowthSchedule(
      options.stable_steps, options.fade_steps, self.generator.num_stages
    )
    self.penalty_weight, self.drift_weight = options.penalty_weight, options.drift_weight
    switches = stabilisers.Stabilisers.from_config(options.stabilisers)
    rules.check_stabilisers("algorithm 'progan'", PROVIDES, switches)
    self.memory = StabiliserMemory(switches, self.batch_size, self.example_shape)
    self.optimizers = {
      name: optim.make_optimizer(config.optimizer[name]) for name in ("generator", "discriminator")
    }
    # One D update per G update (their code: D_repeats = 1), each on its own batch.
    self.schedule = (("discriminator",), ("generator",))
    self.current_stage = 0
    self.players = self._players()
    self._stages = {0: self}

  def _players(self) -> dict[str, Player]:
    modules = {"generator": self.generator, "discriminator": self.discriminator}
    grad_fns = {"generator": self.generator_grads, "discriminator": self.discriminator_grads}
    return {
      name: Player(name, modules[name], self.optimizers[name], grad_fns[name]) for name in modules
    }

  # --- the stage protocol ---

  def stage(self, step: int) -> int:
    """`GrowthSchedule.stage`: 0 for `stable_steps`, then one per fade-and-stable period."""
    return self.growth.stage(step)

  def at_stage(self, stage: int) -> ProGAN:
    """This algorithm with its grad_fns and `sample` running `stage` (built once per stage)."""
    if not 0 <= stage < self.growth.num_stages:
      raise ValueError(f"ProGAN has stages 0..{self.growth.num_stages - 1}; got {stage!r}.")
    if stage not in self._stages:
      staged = copy.copy(self)
      staged.current_stage = stage
      staged.players = staged._players()
      self._stages[stage] = staged
    return self._stages[stage]

  @property
  def resolution(self) -> int:
    """Side of the images G makes and D reads at the current stage: start * 2^stage."""
    return self.generator.start_resolution * 2**self.current_stage

  # --- networks at the current stage ---

  def generate(self, params, z, alpha) -> jax.Array:
    """G(z) at the current stage's resolution."""
    return self.generator.apply({"params": params}, z, stage=self.current_stage, alpha=alpha)

  def score(self, params, x, alpha) -> jax.Array:
    """D(x) at the current stage, one score per sample."""
    return self.discriminator.apply({"params": params}, x, stage=self.current_stage, alpha=alpha)

  def latents(self, rng, num) -> jax.Array:
    """z ~ N(0, I) (Karras et al. 2018, sec. A.1: 512-d Gaussian; `model.latent_dim` here)."""
    return jax.random.normal(rng, (num, self.latent_dim))

  def init_variables(self, rng, batch):
    """Every block and head of both networks (their full, last stage)."""
    g_key, d_key = jax.random.split(rng)
    z = jnp.zeros((batch["x"].shape[0], self.latent_dim))
    return {
      "generator": self.generator.init(g_key, z),
      "discriminator": self.discriminator.init(d_key, batch["x"]),
    }

  # --- losses (Karras et al. 2018, sec. A.1: WGAN-GP, n_critic = 1, drift term) ---

  def discriminator_loss(self, state: TrainState, params, batch, fake, rng):
    """E[D(G(z))] - E[D(x)] + lambda GP + eps_drift E[D(x)^2] (Gulrajani eq. 3; Karras A.1)."""
    alpha = state.extra["alpha"]
    real = real_at_stage(batch["x"], self.resolution, alpha, fading=self.current_stage > 0)
    real_scores, fake_scores = self.score(params, real, alpha), self.score(params, fake, alpha)
    wasserstein = losses.discriminator_wasserstein_loss(real_scores, fake_scores)
    # D's gradient of the summed scores, as their code takes it (minibatch stddev couples samples).
    critic = lambda x: self.score(params, x, alpha)
    penalty = penalties.wgan_gp_penalty(
      critic, real, fake, jax.random.fold_in(rng, PENALTY), self.penalty_weight
    )
    drift = drift_term(real_scores, self.drift_weight)
    loss = wasserstein + penalty + drift
    metrics = {"loss": loss, "penalty": penalty, "drift": drift, "alpha": alpha}
    metrics |= {"real_score": jnp.mean(real_scores), "fake_score": jnp.mean(fake_scores)}
    return loss, ({}, metrics)

  def generator_loss(self, state: TrainState, params, batch, rng):
    """-E[D(G(z))] (Arjovsky et al. 2017, Algorithm 1, line 10), D's params constants."""
    alpha = state.extra["alpha"]
    fake = self.generate(params, self.latents(rng, batch["x"].shape[0]), alpha)
    loss = losses.generator_wasserstein_loss(
      self.score(state.players["discriminator"].params, fake, alpha)
    )
    return loss, ({}, {"loss": loss})

  def discriminator_grads(self, state: TrainState, batch, rng):
    """Gradient of D's loss w.r.t. theta_D only; G's samples (z from `rng`) are data here."""
    g_params = state.players["generator"].params
    fake = self.generate(g_params, self.latents(rng, batch["x"].shape[0]), state.extra["alpha"])
    fake = jax.lax.stop_gradient(fake)
    loss_fn = lambda p: self.discriminator_loss(state, p, batch, fake, rng)
    return player_gradient(loss_fn, state.players["discriminator"].params)

  def generator_grads(self, state: TrainState, batch, rng):
    """Gradient of G's loss w.r.t. theta_G only (z from `rng`)."""
    loss_fn = lambda p: self.generator_loss(state, p, batch, rng)
    return player_gradient(loss_fn, state.players["generator"].params)

  # --- state of its own: the stage, alpha and the EMA of G ---

  def init_extra(self) -> dict[str, Any]:
    """The stabilisers' memory (the EMA of G) with step 0's stage 0 and alpha 1."""
    memory = self.memory.init(self.init_variables, tuple(self.players), ("generator",))
    return {**memory, **self.growth.progress(jnp.int32(0))}

  def update_extra(self, state: TrainState, values: Values) -> dict[str, Any]:
    """The EMA of G after the step, and the stage and alpha of the next step (`state.step + 1`)."""
    del values
    extra = self.memory.update(state, _no_replay)
    return {**extra, **self.growth.progress(state.step + 1)}

  def sample(self, state: TrainState, rng, num, labels=None):
    """`num` samples of (the EMA of) G at this stage, upsampled (nearest) to the data's size."""
    del labels
    params = self.memory.evaluation_params(state, "generator")
    images = self.generate(params, self.latents(rng, num), state.extra["alpha"])
    return nets.upsample(images, self.example_shape[0] // images.shape[1])


def _no_replay(num: int):
  raise AssertionError("ProGAN refuses experience replay (stabiliser_rules); no fakes to push.")
