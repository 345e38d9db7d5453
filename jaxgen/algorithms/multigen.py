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

import jax
import jax.numpy as jnp

from jaxgen import losses
from jaxgen.algorithms import stabiliser_rules as rules
from jaxgen.algorithms.base import TrainState, player_gradient, register
from jaxgen.algorithms.gan import GAN, NOISE_FAKE, Roles
from jaxgen.options import Option, integer, read_options


@register("madgan")
class MultiGeneratorGAN(GAN):
  """MAD-GAN: k generator players and a (k + 1)-class discriminator."""

  FAKES_REUSABLE = False  # k generators, each fake tagged with its source (`gan_fakes`)

  # Ghosh et al. 2018 use k = 4 generators for their 1-D mixture and up to 8 on images (sec. 5).
  OPTIONS = (
    Option("num_generators", 4, "k, the generators (Ghosh et al. 2018)", check=integer(2)),
  )

  def __init__(self, config, dataset):
    k = read_options(type(self), config.algorithm).num_generators
    if config.batch_size % k:
      raise ValueError(f"batch_size={config.batch_size} must be divisible by num_generators={k}.")
    if config.conditional:
      raise ValueError("MAD-GAN takes no labels; set conditional=False.")
    self.num_generators = int(k)
    roles = Roles(
      aux_outputs=self.num_generators,
      generator_players=tuple(f"generator_{i}" for i in range(self.num_generators)),
      # D's k + 1 classes replace the objective's targets and G's loss (Ghosh et al. 2018, eq. 2);
      # each fake carries the index of its generator.
      provides=frozenset(
        {rules.LOGITS, rules.INPUTS, rules.WEIGHTS, rules.HISTORY, rules.GENERATORS}
      ),
    )
    super().__init__(config, dataset, roles)

  def class_logits(self, outputs) -> jax.Array:
    """[B, k + 1]: generator i's logit at index i, the real logit last."""
    logits, aux = outputs
    return jnp.concatenate([aux, logits[:, None]], axis=1)

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
    """(k + 1)-way cross-entropy, reals as class k, G_i's fakes as class i (Ghosh et al. 2018)."""
    _, model_state = self.discriminator_variables(state, params, model_state)
    real, _, real_out, fake_out, model_state = self.critic.real_and_fake(
      state.step, params, model_state, batch["x"], fake, None, self.adversary.noise_keys(rng)
    )
    real_sources = jnp.full((real.shape[0],), self.num_generators)
    real_loss = losses.multi_generator_discriminator_loss(self.class_logits(real_out), real_sources)
    fake_loss = losses.multi_generator_discriminator_loss(
      self.class_logits(fake_out), conditioning["sources"]
    )
    loss = real_loss + fake_loss + self.memory.history_penalty(state, "discriminator", params)
    return loss, (model_state, {"loss": loss, "real_loss": real_loss, "fake_loss": fake_loss})

  def discriminator_grads(self, state: TrainState, batch, rng):
    """Gradient of D's loss w.r.t. theta_D only, on B / k fakes of each generator (constants)."""
    num = batch["x"].shape[0] // self.num_generators
    fakes = self.fakes_per_generator(state, rng, num, train=True)
    fake = jax.lax.stop_gradient(fakes.reshape(-1, *fakes.shape[2:]))
    sources = jnp.repeat(jnp.arange(self.num_generators), num)

    loss_fn = lambda p: self.discriminator_loss(state, p, batch, fake, {"sources": sources}, rng)
    return player_gradient(loss_fn, state.players["discriminator"].params)

  def generator_grads(self, state: TrainState, batch, rng, *, player="generator_0"):
    """Generator `player`'s gradient of -E[log D_real(G_i(z))] on B / k samples."""
    num = batch["x"].shape[0] // self.num_generators

    d = state.players["discriminator"]

    def loss_fn(params):
      fake, model_state = self.generate(
        state, rng, num, None, train=True, params=params, player=player
      )
      fake = self.critic.inputs(state.step, fake, jax.random.fold_in(rng, NOISE_FAKE))
      outputs, _, _ = self.critic(d.params, d.model_state, fake, None)
      loss = losses.multi_generator_generator_loss(self.class_logits(outputs))
      loss = loss + self.memory.history_penalty(state, player, params)
      return loss, (model_state, {"loss": loss})

    return player_gradient(loss_fn, state.players[player].params)

  def sample(self, state: TrainState, rng, num, labels=None):
    """`num` samples of the mixture of the generators, each chosen uniformly (sample i from
    generator i mod k)."""
    per_generator = -(-num // self.num_generators)
    fakes = self.fakes_per_generator(state, rng, per_generator, train=False)
    return jnp.swapaxes(fakes, 0, 1).reshape(-1, *fakes.shape[2:])[:num]
