"""1-D GAN runs whose generator law is known: the pieces the critic and Figure 1 experiments share.

The generator is affine, G(z) = b + w z with z ~ N(0, 1) (an "mlp" generator without hidden
layers, latent_dim 1), so p_g = N(b, w^2) in closed form; the data is `gaussian1d`. Training goes
through the one loop's `train.Run` (its jitted train steps, `steps_per_call` steps per call).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections

from jaxgen import parallel, train
from jaxgen.algorithms.base import TrainState, apply_module
from jaxgen.configs import default


def config_1d(
  *,
  data_mean: float,
  data_std: float,
  discriminator_hidden: tuple[int, ...],
  batch_size: int,
  num_steps: int,
  seed: int,
  steps_per_call: int,
) -> ml_collections.ConfigDict:
  """A GAN config on `gaussian1d` with an affine G and a LeakyReLU MLP D (the caller sets the
  objective, penalty, clip and optimizers)."""
  config = default.get_config()
  config.seed = seed
  config.data.name = "gaussian1d"
  config.data.options = {"mean": float(data_mean), "std": float(data_std)}
  config.batch_size = batch_size
  config.num_steps = num_steps
  config.steps_per_call = steps_per_call
  config.progress_bar = False
  config.model.latent_dim = 1
  config.model.generator = {"name": "mlp", "hidden": (), "batch_norm": False}
  config.model.discriminator = {
    "name": "mlp",
    "hidden": tuple(discriminator_hidden),
    "maxout_pieces": 0,
  }
  return config


def set_affine_generator(state: TrainState, bias: float, scale: float) -> TrainState:
  """`state` with G(z) = bias + scale z, so p_g = N(bias, scale^2)."""
  generator = state.players["generator"]
  params = {
    "Dense_0": {
      "kernel": jnp.full((1, 1), scale, jnp.float32),
      "bias": jnp.full((1,), bias, jnp.float32),
    }
  }
  if jax.tree.structure(params) != jax.tree.structure(generator.params):
    raise ValueError("set_affine_generator needs the affine generator of `config_1d`.")
  players = {**state.players, "generator": generator.replace(params=params)}
  return state.replace(players=players)


def affine_generator(state: TrainState) -> tuple[float, float]:
  """(b, |w|) of the affine G in `state`: p_g = N(b, w^2)."""
  dense = state.players["generator"].params["Dense_0"]
  return float(dense["bias"][0]), abs(float(dense["kernel"][0, 0]))


def discriminator_fn(run: train.Run, state: TrainState):
  """x [N] -> D's logit (the critic's value f(x)) [N], D's params fixed at `state`'s."""
  player = state.players["discriminator"]
  module = run.algorithm.players["discriminator"].module

  def logits(x):
    x = jnp.asarray(x, jnp.float32).reshape(-1, 1)
    return apply_module(module, player.params, player.model_state, x, train=False)[0]

  return logits


def train_steps(run: train.Run, state: TrainState, start: int, stop: int) -> TrainState:
  """Runs the train steps start .. stop - 1 with `run`'s jitted steps, as `train._train` calls
  them (`steps_per_call` steps per call from its multiples); stop <= config.num_steps."""
  if not 0 <= start <= stop <= run.config.num_steps:
    raise ValueError(f"need 0 <= start <= stop <= num_steps; got {start}, {stop}.")
  step = start
  while step < stop:
    count = run.steps_in_call(step)
    count = count if step + count <= stop else 1
    batches = parallel.put_batch(run.call_batches(step, count), run.mesh, 1 if count == 1 else 2)
    state, _ = run.train_step_at(step, count)(state, batches)
    step += count
  return state
