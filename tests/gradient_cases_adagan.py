"""Gradient cases of AdaGAN for `test_registry_gradients.py` (harness: `gradient_harness`).

The three players' losses are built here by hand in float64 from Tolstikhin et al. 2017, Alg. 1 and
the GAN objectives (`gradient_cases_gan.hand_d_objective` / `hand_g_objective`): each takes the
stacked parameter tree [T, ...] of its player and uses round r's slice alone. The random numbers
are redrawn as the algorithm draws them: the latents from the rng, the real batch from S_N (the
first N points the loop serves) by the round's data weights with `fold_in(rng, REAL_DRAW)`; the
classifier's real points uniformly from S_N with that key and its mixture samples with
`fold_in(rng, MIXTURE)` (split into the generator pick, by the mixture weights, and the latents).
Every case is prepared at a step in round 1 (the second round) of the classifier's part, with
non-uniform data weights, so the round index, the slices and the weighted draws all matter.

Stabilisers and penalties are refused (the rule of `jaxgen.algorithms.stabiliser_rules`, AdaGAN
provides nothing): one refusal case per switch and per penalty.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from gradient_cases_gan import (
  PENALTY_NAMES,
  PENALTY_WEIGHT,
  SWITCHES,
  hand_d_objective,
  hand_g_objective,
  log_sigmoid,
)
from gradient_harness import GradientCase, RefusedCase

from jaxgen import data
from jaxgen.algorithms.adagan import MIXTURE, REAL_DRAW
from jaxgen.configs import default

BATCH, LATENT, ROUNDS, STEPS = 8, 2, 3, 30  # rounds of 10 steps; the last 3 train the classifier
TRAINING_SET = 20  # S_N
STEP = 18  # round 1, in its classifier part
ROUND = 1
REFUSAL = r"is not supported by algorithm 'adagan'"


def make_config(loss="non_saturating", switches=(), penalty=None):
  config = default.get_config()
  config.data.name = "ring8"
  config.eval.evaluators = ("points",)
  config.batch_size, config.num_steps = BATCH, STEPS
  config.model.latent_dim = LATENT
  config.model.generator = {"name": "mlp", "hidden": (8,), "batch_norm": True}
  config.model.discriminator = {"name": "mlp", "hidden": (8,), "maxout_pieces": 2}
  config.algorithm.name = "adagan"
  config.algorithm.loss = loss
  config.algorithm.rounds = ROUNDS
  config.algorithm.classifier_fraction = 0.3
  config.algorithm.training_set_size = TRAINING_SET
  for switch in switches:
    config.algorithm.stabilisers.update(SWITCHES[switch])
  if penalty:
    config.algorithm.penalty = {"name": penalty, "weight": PENALTY_WEIGHT}
  return config


def prepare(algorithm, state):
  """Step 18 (round 1) and weights that favour some points of S_N and drop others."""
  weights = np.linspace(0.0, 2.0, TRAINING_SET) ** 2
  weights = jnp.asarray(weights / weights.sum(), state.extra["data_weights"].dtype)
  return state.replace(step=jnp.int32(STEP), extra={**state.extra, "data_weights": weights})


def training_set():
  """S_N by hand: the first TRAINING_SET points of the loop's batches for seed 0."""
  dataset = data.get("ring8")
  batches = [dataset.batch(0, i, BATCH)["x"] for i in range(-(-TRAINING_SET // BATCH))]
  return jnp.asarray(np.concatenate(batches)[:TRAINING_SET])


def slice_of(tree, r=ROUND):
  return jax.tree.map(lambda x: x[r], tree)


def reference_losses(loss, algorithm, state, batch, rng):
  r, num = ROUND, batch["x"].shape[0]
  s_n = training_set()
  g, d = state.players["generator"], state.players["discriminator"]
  g_module, d_module = (
    algorithm.players["generator"].module,
    algorithm.players["discriminator"].module,
  )
  c_module = algorithm.players["classifier"].module

  def generator(params, z, train=True, model_state=g.model_state, r=r):
    variables = {"params": slice_of(params, r), **slice_of(model_state, r)}
    if train:  # batch statistics of this batch (Ioffe & Szegedy 2015)
      return g_module.apply(variables, z, None, train=True, mutable=["batch_stats"])[0]
    return g_module.apply(variables, z, None, train=False)

  def critic(module, params, x, r=r):
    out = module.apply(
      {"params": slice_of(params, r)}, x, None, train=True, mutable=["intermediates"]
    )
    return out[0]

  z = jax.random.normal(rng, (num, LATENT))
  # Alg. 1: the GAN's real points are S_N drawn with the round's weights W_t.
  index = jax.random.choice(
    jax.random.fold_in(rng, REAL_DRAW), TRAINING_SET, (num,), p=state.extra["data_weights"]
  )
  real = s_n[index]
  fake = generator(g.params, z)

  def d_loss(params):
    return hand_d_objective(
      loss, critic(d_module, params, real), critic(d_module, params, fake), 1.0
    )

  def g_loss(params):
    fake_out = critic(d_module, d.params, generator(params, z))
    return hand_g_objective(loss, fake_out, critic(d_module, d.params, real))

  # The classifier: S_N uniformly against the mixture after round r, beta_t = 1/t: uniform over
  # generators 0..r.
  uniform = jax.random.randint(jax.random.fold_in(rng, REAL_DRAW), (num,), 0, TRAINING_SET)
  pick_key, z_key = jax.random.split(jax.random.fold_in(rng, MIXTURE))
  alpha = jnp.asarray([1.0 / (r + 1)] * (r + 1) + [0.0] * (ROUNDS - r - 1), jnp.float32)
  pick = jax.random.choice(pick_key, ROUNDS, (num,), p=alpha)
  z_mix = jax.random.normal(z_key, (num, LATENT))
  every = jnp.stack([generator(g.params, z_mix, train=False, r=j) for j in range(ROUNDS)])
  mixture = every[pick, jnp.arange(num)]

  def c_loss(params):
    # -(E log C(x) + E log(1 - C(x~P_t))), Goodfellow et al. 2014, eq. 1 for the classifier.
    real_term = jnp.mean(log_sigmoid(critic(c_module, params, s_n[uniform])))
    return -(real_term + jnp.mean(log_sigmoid(-critic(c_module, params, mixture))))

  return {"generator": g_loss, "discriminator": d_loss, "classifier": c_loss}


def case(loss):
  return GradientCase(
    algorithm="adagan",
    label=loss,
    config=functools.partial(make_config, loss),
    reference_losses=functools.partial(reference_losses, loss),
    objective=loss,
    prepare=prepare,
  )


def refused(label, **kwargs):
  return RefusedCase(
    algorithm="adagan",
    label=label,
    config=functools.partial(make_config, **kwargs),
    match=REFUSAL,
    stabiliser=kwargs.get("switches", (None,))[0],
    penalty=kwargs.get("penalty"),
  )


CASES = [case("non_saturating"), case("ragan")]
CASES += [refused(switch, switches=(switch,)) for switch in SWITCHES]
CASES += [refused(name, penalty=name) for name in PENALTY_NAMES]
