"""The GAN minimax game (Goodfellow et al. 2014) and the conditional GAN (Mirza & Osindero 2014).

Two players, each with its own gradient function over its own parameters:

- `discriminator_grads`: ascent on V = E[log D(x)] + E[log(1 - D(G(z)))] w.r.t. theta_d, written as
  descent on -V (the generator's samples are inputs, not parameters, of this function);
- `generator_grads`: descent on E[log(1 - D(G(z)))] (`minimax`) or on -E[log D(G(z))]
  (`non_saturating`) w.r.t. theta_g only; D runs inside the loss but its params are constants.

Schedule: k discriminator phases, then one generator phase (Goodfellow et al. 2014, Algorithm 1),
each phase on a fresh batch. The objective pair comes from `jaxgen.losses`, so other objectives
(WGAN, LSGAN, hinge, ...) reuse this class.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxgen import losses, optim
from jaxgen.algorithms.base import Player, TrainState, apply_module
from jaxgen.nn import gan as gan_nets


def _mlp_generator(example_shape, num_classes, **options):
  if len(example_shape) != 1:
    raise ValueError(f"The 'mlp' generator makes vectors; the data has shape {example_shape}.")
  return gan_nets.MLPGenerator(output_dim=example_shape[0], num_classes=num_classes, **options)


def _dcgan_generator(example_shape, num_classes, **options):
  if len(example_shape) != 3:
    raise ValueError(f"The 'dcgan' generator makes images; the data has shape {example_shape}.")
  return gan_nets.DCGANGenerator(image_shape=tuple(example_shape), num_classes=num_classes, **options)


GENERATORS: dict[str, Callable[..., nn.Module]] = {
    "mlp": _mlp_generator,
    "dcgan": _dcgan_generator,
}
DISCRIMINATORS: dict[str, Callable[..., nn.Module]] = {
    "mlp": lambda example_shape, num_classes, **options: gan_nets.MLPDiscriminator(
        num_classes=num_classes, **options
    ),
    "dcgan": lambda example_shape, num_classes, **options: gan_nets.DCGANDiscriminator(
        num_classes=num_classes, **options
    ),
}


def build_network(registry: Mapping[str, Callable[..., nn.Module]], role: str, config, **data):
  """Builds the `role` network from `{"name": ..., **options}` and the data's facts."""
  options = dict(config)
  name = options.pop("name", None)
  if name not in registry:
    raise ValueError(f"Unknown {role} network {name!r}; choose one of {sorted(registry)}.")
  try:
    return registry[name](**data, **options)
  except TypeError as error:  # an unknown keyword in the config
    raise ValueError(f"Bad options {sorted(options)} for the {name!r} {role}: {error}") from None


def check_discriminator_steps(value: Any) -> int:
  if not (isinstance(value, int | np.integer) and value >= 1):
    raise ValueError(f"algorithm.discriminator_steps must be an integer >= 1; got {value!r}.")
  return int(value)


class GAN:
  """The (conditional) GAN with a choice of objective and k discriminator steps per G step."""

  def __init__(self, config, dataset):
    self.latent_dim = int(config.model.latent_dim)
    self.conditional = bool(config.conditional)
    if self.conditional and dataset.num_classes == 0:
      raise ValueError(f"conditional=True needs labelled data; {dataset.name!r} has no labels.")
    self.num_classes = dataset.num_classes if self.conditional else 0
    self.objective = losses.get_gan_objective(config.algorithm.loss)
    facts = dict(example_shape=tuple(dataset.example_shape), num_classes=self.num_classes)
    self.generator = build_network(GENERATORS, "generator", config.model.generator, **facts)
    self.discriminator = build_network(
        DISCRIMINATORS, "discriminator", config.model.discriminator, **facts
    )
    self.players = {
        "generator": Player(
            "generator",
            self.generator,
            optim.make_optimizer(config.optimizer.generator),
            self.generator_grads,
        ),
        "discriminator": Player(
            "discriminator",
            self.discriminator,
            optim.make_optimizer(config.optimizer.discriminator),
            self.discriminator_grads,
        ),
    }
    k = check_discriminator_steps(config.algorithm.discriminator_steps)
    self.schedule = (("discriminator",),) * k + (("generator",),)

  def _labels(self, batch):
    return batch["y"] if self.conditional else None

  def init_variables(self, rng, batch):
    g_rng, d_rng = jax.random.split(rng)
    labels = self._labels(batch)
    z = jnp.zeros((batch["x"].shape[0], self.latent_dim))
    return {
        "generator": self.generator.init(g_rng, z, labels, train=False),
        "discriminator": self.discriminator.init(d_rng, batch["x"], labels, train=False),
    }

  def latents(self, rng, num):
    """z ~ N(0, I), the prior of Radford et al. 2016 (any fixed simple prior serves, Goodfellow 2014)."""
    return jax.random.normal(rng, (num, self.latent_dim))

  def generate(self, state: TrainState, rng, num, labels, *, train: bool, params=None):
    """G(z) and G's updated model state; `params` overrides G's params (to differentiate)."""
    g = state.players["generator"]
    params = g.params if params is None else params
    return apply_module(
        self.generator, params, g.model_state, self.latents(rng, num), labels, train=train
    )

  def discriminate(self, state: TrainState, x, labels, *, params=None, model_state=None):
    """D's logits in training mode and D's updated model state."""
    d = state.players["discriminator"]
    params = d.params if params is None else params
    model_state = d.model_state if model_state is None else model_state
    return apply_module(self.discriminator, params, model_state, x, labels, train=True)

  def discriminator_grads(self, state: TrainState, batch, rng):
    """Gradient of -V(D, G) w.r.t. theta_d only (Goodfellow et al. 2014, Algorithm 1)."""
    labels = self._labels(batch)
    fake, _ = self.generate(state, rng, batch["x"].shape[0], labels, train=True)
    fake = jax.lax.stop_gradient(fake)  # G's samples are data to D; no path back to theta_g

    def loss_fn(params):
      # Real and fake go through D separately, each with its own batch statistics (DCGAN).
      real_logits, model_state = self.discriminate(state, batch["x"], labels, params=params)
      fake_logits, model_state = self.discriminate(
          state, fake, labels, params=params, model_state=model_state
      )
      loss = self.objective.discriminator_loss(real_logits, fake_logits)
      metrics = {
          "loss": loss,
          "real_logit": jnp.mean(real_logits),
          "fake_logit": jnp.mean(fake_logits),
      }
      return loss, (model_state, metrics)

    d = state.players["discriminator"]
    (_, (model_state, metrics)), grads = jax.value_and_grad(loss_fn, has_aux=True)(d.params)
    return grads, model_state, metrics

  def generator_grads(self, state: TrainState, batch, rng):
    """Gradient of the generator loss w.r.t. theta_g only; D's params are constants here."""
    labels = self._labels(batch)

    def loss_fn(params):
      fake, model_state = self.generate(
          state, rng, batch["x"].shape[0], labels, train=True, params=params
      )
      fake_logits, _ = self.discriminate(state, fake, labels)  # D's statistics are not updated
      loss = self.objective.generator_loss(fake_logits)
      return loss, (model_state, {"loss": loss})

    g = state.players["generator"]
    (_, (model_state, metrics)), grads = jax.value_and_grad(loss_fn, has_aux=True)(g.params)
    return grads, model_state, metrics

  def sample(self, state: TrainState, rng, num, labels=None):
    """`num` samples from G in inference mode (running batch statistics)."""
    if self.conditional and labels is None:
      labels = jnp.arange(num) % self.num_classes
    samples, _ = self.generate(state, rng, num, labels if self.conditional else None, train=False)
    return samples
