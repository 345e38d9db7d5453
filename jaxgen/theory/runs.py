"""Runs whose generator law is known: the pieces the theory experiments share.

The generator is affine, G(z) = b + z W with one latent z ~ N(0, 1) (an "mlp" generator without
hidden layers, `latent_dim` 1), so p_g is the image of N(0, 1) under an affine map, known in closed
form: N(b, w^2) on the line (`gaussian1d` data), a line in the plane (`segment` data). With G's
learning rate 0 the discriminator trains alone against that known law. Training goes through the
one loop's `train.Run` and its jitted train steps (`steps_per_call` steps per call).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgen.algorithms.base import TrainState, apply_module
from jaxgen.algorithms.critic import logits_of
from jaxgen.configs import default
from jaxgen.run import train


def affine_generator_config(config: ml_collections.ConfigDict, *, frozen: bool):
  """`config` (changed in place, returned) with the affine G; `frozen`: G's learning rate is 0
  (plain SGD, so no optimizer state moves either) and D trains alone against p_g."""
  config.model.latent_dim = 1
  config.model.generator = {"name": "mlp", "hidden": (), "batch_norm": False}
  config.eval.evaluators = ("points",)  # the theory runs' data are 1-D or 2-D points
  if frozen:
    config.optimizer.generator = {"name": "sgd", "learning_rate": 0.0}
  return config


class Setting1D(NamedTuple):
  """What a 1-D run fixes besides its length and seed: p_data = N(data_mean, data_std^2), D's
  hidden widths (LeakyReLU; none: a linear logit), the batch and the steps per compiled call."""

  data_mean: float
  data_std: float
  discriminator_hidden: tuple[int, ...]
  batch_size: int
  steps_per_call: int = 1


def config_1d(
  setting: Setting1D, *, num_steps: int, seed: int, frozen: bool = False
) -> ml_collections.ConfigDict:
  """A GAN config on `gaussian1d` with the affine G and an MLP D as `setting` says; the caller
  sets the objective, penalty, clip and D's optimizer."""
  data_mean, data_std, discriminator_hidden, batch_size, steps_per_call = setting
  config = default.get_config()
  config.seed = seed
  config.data.name = "gaussian1d"
  config.data.options = {"mean": float(data_mean), "std": float(data_std)}
  config.batch_size = batch_size
  config.num_steps = num_steps
  config.steps_per_call = steps_per_call
  config.progress_bar = False
  config.model.discriminator = {
    "name": "mlp",
    "hidden": tuple(discriminator_hidden),
    "maxout_pieces": 0,
  }
  return affine_generator_config(config, frozen=frozen)


def set_affine_generator(state: TrainState, kernel, bias) -> TrainState:
  """`state` with G(z) = bias + z @ kernel (kernel [1, dim], bias [dim]); on the line p_g is
  N(bias, kernel^2)."""
  generator = state.players["generator"]
  params = {
    "Dense_0": {"kernel": np.asarray(kernel, np.float32), "bias": np.asarray(bias, np.float32)}
  }
  shapes = jax.tree.map(np.shape, generator.params)
  if jax.tree.map(np.shape, params) != shapes:
    raise ValueError(
      f"the affine generator's params have shapes {shapes}; got {jax.tree.map(np.shape, params)} "
      "(build the config with `affine_generator_config`)."
    )
  # Placed like the params they replace, so the jitted train step sees the shardings it compiled
  # for (an uncommitted array would compile it a second time).
  params = jax.tree.map(
    lambda new, old: jax.device_put(new, old.sharding), params, generator.params
  )
  return state.replace(players={**state.players, "generator": generator.replace(params=params)})


def affine_generator(state: TrainState) -> tuple[float, float]:
  """(b, |w|) of the affine G on the line in `state`: p_g = N(b, w^2)."""
  dense = state.players["generator"].params["Dense_0"]
  return float(dense["bias"][0]), abs(float(dense["kernel"][0, 0]))


def discriminator_fn(run: train.Run, state: TrainState):
  """x [N, *example_shape] (or [N] on the line) -> D's logit, a critic's value f(x), [N], with D's
  params fixed at `state`'s, in inference mode."""
  player = state.players["discriminator"]
  module = run.algorithm.players["discriminator"].module
  example_shape = tuple(run.algorithm.example_shape)

  def logits(x):
    x = jnp.asarray(x, jnp.float32).reshape(-1, *example_shape)
    return logits_of(apply_module(module, player.params, player.model_state, x, train=False)[0])

  return logits


def train_steps(
  run: train.Run, state: TrainState, stop: int, keys: tuple[str, ...] = ()
) -> tuple[TrainState, dict[str, np.ndarray]]:
  """Runs the train steps int(state.step) .. stop - 1 as `train._train` calls them
  (`steps_per_call` steps per call from its multiples; stop <= config.num_steps) and returns the
  state with each metric of `keys` at every step, [steps]."""
  step = int(state.step)
  if not step <= stop <= run.config.num_steps:
    raise ValueError(f"need state.step <= stop <= num_steps; got {step}, {stop}.")
  recorded: dict[str, list[Any]] = {key: [] for key in keys}
  while step < stop:
    count = run.steps_in_call(step)
    count = count if step + count <= stop else 1
    state, metrics = run.call(state, step, count)
    for key in keys:
      recorded[key].append(jnp.reshape(metrics[key], (count,)))
    step += count
  host = jax.device_get(recorded)
  return state, {
    key: np.concatenate(values) if values else np.zeros(0) for key, values in host.items()
  }
