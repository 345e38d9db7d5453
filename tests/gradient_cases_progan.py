"""Gradient cases of ProGAN (Karras et al. 2018): G's and D's losses built by hand in float64.

Built here from the papers, not from `jaxgen.losses`: the Wasserstein losses, WGAN-GP's penalty
(Gulrajani et al. 2017, eq. 3) with each sample's input gradient of D's summed scores taken row by
row with vmap (minibatch stddev couples the samples, so row i sums d D(x)_j / d x_i over j, as
ProGAN's code differentiates the sum), the drift term epsilon_drift E[D(x)^2] (sec. A.1), and the
fade-in of the real images (sec. A.1). The networks are the players' modules, run at the stage of
the case's step (the harness takes `algorithm.at_stage(algorithm.stage(step))`). Every stabiliser
switch but the EMA of G is refused by the rule (`jaxgen.algorithms.progan.PROVIDES`).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import ml_collections
from gradient_cases_gan import SWITCHES
from gradient_harness import GradientCase, RefusedCase

from jaxgen import stabilisers
from jaxgen.algorithms.adversarial import PENALTY
from jaxgen.configs import default

BATCH, LATENT, FEATURES = 4, 3, 2
STABLE, FADE = 2, 8
LAMBDA, DRIFT = 10.0, 0.001
# Step 5: 3 steps into the fade (it starts at step STABLE = 2) of 8, so alpha = 3 / 8.
MID_FADE_STEP, MID_FADE_ALPHA = 5, 3 / 8
STABILISED = ("progan",)


def make_config(switches=()):
  config = default.get_config()
  config.data.name = "digits"
  config.data.options = {"size": 8}  # two stages: 4x4, 8x8
  config.batch_size = BATCH
  config.model.latent_dim = LATENT
  config.algorithm = ml_collections.ConfigDict(
    {
      "name": "progan",
      "stable_steps": STABLE,
      "fade_steps": FADE,
      "penalty_weight": LAMBDA,
      "drift_weight": DRIFT,
      "stabilisers": stabilisers.default_config(),
    }
  )
  for name, value in switches:
    config.algorithm.stabilisers[name] = value
  config.model.generator = {"name": "progan", "features": FEATURES}
  config.model.discriminator = {"name": "progan", "features": FEATURES}
  adam = {"name": "adam", "learning_rate": 1e-3, "b1": 0.0, "b2": 0.99}
  config.optimizer.generator = dict(adam)
  config.optimizer.discriminator = dict(adam)
  return config


def _nonzero_biases(params):
  """Biases start at 0 and the digits hold exact zeros (raw 8 -> 0), which would put a 1x1 conv's
  pre-activation on the leaky ReLU's kink, where finite differences are meaningless."""
  shift = lambda path, x: x + 0.1 if jax.tree_util.keystr(path).endswith("['bias']") else x
  return jax.tree_util.tree_map_with_path(shift, params)


def at_step(step: int, alpha: float):
  """prepare: the state at `step`, with the alpha a hand computes for it, and non-zero biases."""

  def prepare(algorithm, state):
    del algorithm
    players = {
      name: player.replace(params=_nonzero_biases(player.params))
      for name, player in state.players.items()
    }
    extra = {**state.extra, "alpha": jnp.asarray(alpha, jnp.float64)}
    return state.replace(step=jnp.asarray(step, state.step.dtype), players=players, extra=extra)

  return prepare


def average_pool(x):
  """2x2 box average of NHWC images."""
  b, h, w, c = x.shape
  return x.reshape(b, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4))


def nearest_up(x):
  return jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)


def reference_losses(stage, alpha, algorithm, state, batch, rng):
  g_module = algorithm.players["generator"].module
  d_module = algorithm.players["discriminator"].module
  real = batch["x"]
  if stage == 0:
    real = average_pool(real)  # 8x8 -> 4x4
  else:  # sec. A.1: alpha x + (1 - alpha) upsample(downsample(x))
    real = alpha * real + (1 - alpha) * nearest_up(average_pool(real))
  z = jax.random.normal(rng, (BATCH, LATENT))

  def generate(params):
    return g_module.apply({"params": params}, z, stage=stage, alpha=alpha)

  def critic(params, x):
    return d_module.apply({"params": params}, x, stage=stage, alpha=alpha)

  def d_loss(params):
    fake = generate(state.players["generator"].params)
    real_scores, fake_scores = critic(params, real), critic(params, fake)
    eps = jax.random.uniform(jax.random.fold_in(rng, PENALTY), (BATCH, 1, 1, 1))
    mixed = eps * real + (1 - eps) * fake
    # Row j of the Jacobian of D's scores, one vmap lane per score; sample i's gradient sums them.
    jacobian = jax.vmap(lambda j: jax.grad(lambda x: critic(params, x)[j])(mixed))(
      jnp.arange(BATCH)
    )
    per_sample = jacobian.sum(axis=0).reshape(BATCH, -1)
    norms = jnp.sqrt(jnp.sum(per_sample**2, axis=1) + 1e-12)
    penalty = LAMBDA * jnp.mean((norms - 1) ** 2)
    drift = DRIFT * jnp.mean(real_scores**2)
    return jnp.mean(fake_scores) - jnp.mean(real_scores) + penalty + drift

  def g_loss(params):
    return -jnp.mean(critic(state.players["discriminator"].params, generate(params)))

  return {"generator": g_loss, "discriminator": d_loss}


def case(label, stage, step, alpha, switches=(), stabiliser=None):
  return GradientCase(
    algorithm="progan",
    label=label,
    config=functools.partial(make_config, switches),
    reference_losses=functools.partial(reference_losses, stage, alpha),
    stabiliser=stabiliser,
    prepare=at_step(step, alpha),
  )


def refused(switch):
  return RefusedCase(
    algorithm="progan",
    label=switch,
    config=functools.partial(make_config, tuple(SWITCHES[switch].items())),
    match=r"algorithm.stabilisers.\w+ = .* is not supported by algorithm 'progan'",
    stabiliser=switch,
  )


ACCEPTED = ("generator_ema",)
CASES = [
  case("stage0", 0, 1, 1.0),
  case("mid_fade", 1, MID_FADE_STEP, MID_FADE_ALPHA),
  case(
    "mid_fade+generator_ema",
    1,
    MID_FADE_STEP,
    MID_FADE_ALPHA,
    switches=tuple(SWITCHES["generator_ema"].items()),
    stabiliser="generator_ema",
  ),
  *(refused(switch) for switch in SWITCHES if switch not in ACCEPTED),
]
