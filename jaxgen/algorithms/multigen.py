"""Several generators against one discriminator: MAD-GAN (Ghosh et al. 2018).

k generators are k players (`generator_0` ... `generator_{k-1}`, the same network with their own
parameters and optimizer states); D classifies a sample into k + 1 classes: "made by generator i"
(class i) or "real" (class k). D's k + 1 logits are the k outputs of a linear head on its features
(`jaxgen.nn.gan_zoo.HeadedDiscriminator`) followed by its own real/fake logit as the real class.
To tell the generators apart D must push them to different modes, which is MAD-GAN's remedy for
mode collapse (Ghosh et al. 2018, sec. 3 and Theorem 1).

Each phase's batch of B real samples faces B fakes, B / k from each generator; D's loss weighs the
real and the fake halves equally, as the two terms of V(D, G). All generators update in one phase
(their gradients are independent: each sees only its own params).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxgen import losses, optim
from jaxgen.algorithms.base import Player, TrainState
from jaxgen.algorithms.gan import GAN, NOISE_FAKE, check_discriminator_steps

# Ghosh et al. 2018 use k = 4 generators for their 1-D mixture and up to 8 on images (sec. 5).
DEFAULT_NUM_GENERATORS = 4


class MultiGeneratorGAN(GAN):
  """MAD-GAN: k generator players and a (k + 1)-class discriminator."""

  fakes_carry_conditioning = True  # each fake carries the index of its generator

  def __init__(self, config, dataset):
    k = config.algorithm.get("num_generators", DEFAULT_NUM_GENERATORS)
    if isinstance(k, bool) or not (isinstance(k, int | np.integer) and k >= 2):
      raise ValueError(f"algorithm.num_generators must be an integer >= 2; got {k!r}.")
    if config.batch_size % k:
      raise ValueError(f"batch_size={config.batch_size} must be divisible by num_generators={k}.")
    self.num_generators = int(k)
    super().__init__(config, dataset)
    s = self.stabilisers
    if s.label_smoothing or s.feature_matching or self.penalty is not None or self.conditional:
      raise ValueError("MAD-GAN supports no label smoothing, feature matching, penalty or labels.")
    names = self.generator_players
    self.players = {
      name: Player(
        name,
        self.generator,
        optim.make_optimizer(config.optimizer.generator),
        functools.partial(self.generator_grads_of, name),
      )
      for name in names
    } | {"discriminator": self.players["discriminator"]}
    steps = check_discriminator_steps(config.algorithm.discriminator_steps)
    self.schedule = (("discriminator",),) * steps + (names,)

  @property
  def generator_players(self) -> tuple[str, ...]:
    return tuple(f"generator_{i}" for i in range(self.num_generators))

  def auxiliary_outputs(self) -> int:
    return self.num_generators

  def class_logits(self, outputs) -> jax.Array:
    """[B, k + 1]: generator i's logit at index i, the real logit last."""
    logits, aux = outputs
    return jnp.concatenate([aux, logits[:, None]], axis=1)

  def init_variables(self, rng, batch):
    *g_keys, d_key, sn_key = jax.random.split(rng, self.num_generators + 2)
    z = jnp.zeros((batch["x"].shape[0], self.latent_dim))
    variables = {
      name: self.generator.init(key, z, None, train=False)
      for name, key in zip(self.generator_players, g_keys, strict=True)
    }
    variables["discriminator"] = self.init_discriminator(d_key, sn_key, batch)
    return variables

  def fakes_per_generator(self, state: TrainState, rng, num, *, train: bool):
    """[k, num, ...]: `num` samples of each generator (inference mode unless `train`)."""
    samples = []
    for index, name in enumerate(self.generator_players):
      params = state.players[name].params if train else self.evaluation_params(state, name)
      fake, _ = self.generate(
        state, jax.random.fold_in(rng, index), num, None, train=train, params=params, player=name
      )
      samples.append(fake)
    return jnp.stack(samples)

  def discriminator_loss(self, state, params, batch, fake, conditioning, rng, model_state=None):
    real, _, real_out, fake_out, model_state = self.critique_real_and_fake(
      state, params, batch["x"], fake, None, rng, model_state
    )
    real_sources = jnp.full((real.shape[0],), self.num_generators)
    real_loss = losses.multi_generator_discriminator_loss(self.class_logits(real_out), real_sources)
    fake_loss = losses.multi_generator_discriminator_loss(
      self.class_logits(fake_out), conditioning["sources"]
    )
    loss = real_loss + fake_loss + self.history_penalty(state, "discriminator", params)
    return loss, (model_state, {"loss": loss, "real_loss": real_loss, "fake_loss": fake_loss})

  def discriminator_grads(self, state: TrainState, batch, rng):
    num = batch["x"].shape[0] // self.num_generators
    fakes = self.fakes_per_generator(state, rng, num, train=True)
    fake = jax.lax.stop_gradient(fakes.reshape(-1, *fakes.shape[2:]))
    sources = jnp.repeat(jnp.arange(self.num_generators), num)

    def loss_fn(params):
      return self.discriminator_loss(state, params, batch, fake, {"sources": sources}, rng)

    d = state.players["discriminator"]
    (_, (model_state, metrics)), grads = jax.value_and_grad(loss_fn, has_aux=True)(d.params)
    return grads, model_state, metrics

  def generator_grads_of(self, name: str, state: TrainState, batch, rng):
    """Generator `name`'s gradient of -E[log D_real(G_i(z))] on B / k samples."""
    num = batch["x"].shape[0] // self.num_generators

    def loss_fn(params):
      fake, model_state = self.generate(
        state, rng, num, None, train=True, params=params, player=name
      )
      fake = self.discriminator_inputs(state, fake, jax.random.fold_in(rng, NOISE_FAKE))
      outputs, _, _ = self.critique(state, fake, None)
      loss = losses.multi_generator_generator_loss(self.class_logits(outputs))
      loss = loss + self.history_penalty(state, name, params)
      return loss, (model_state, {"loss": loss})

    g = state.players[name]
    (_, (model_state, metrics)), grads = jax.value_and_grad(loss_fn, has_aux=True)(g.params)
    return grads, model_state, metrics

  def sample(self, state: TrainState, rng, num, labels=None):
    """`num` samples of the mixture of the generators, each chosen uniformly (sample i from
    generator i mod k)."""
    per_generator = -(-num // self.num_generators)
    fakes = self.fakes_per_generator(state, rng, per_generator, train=False)
    return jnp.swapaxes(fakes, 0, 1).reshape(-1, *fakes.shape[2:])[:num]
