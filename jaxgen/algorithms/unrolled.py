"""Unrolled GAN (Metz et al. 2016): the generator predicts the discriminator's reaction.

The generator descends the surrogate loss f_K(theta_G, theta_D) = f(theta_G, theta_D^K(theta_G,
theta_D)), where theta_D^K are K steps of the discriminator's own optimizer started from the
current theta_D (Metz et al. 2016, sec. 2.3):

  theta_D^0 = theta_D,  theta_D^{k+1} = theta_D^k + eta^k d f(theta_G, theta_D^k) / d theta_D^k.

`jax.value_and_grad` differentiates straight through the K optimizer steps, so G's gradient holds
the second-order term that lets it anticipate D (Metz et al. 2016, sec. 2.4). The K steps use the
phase's real batch and G's samples of the same z as the surrogate loss (as the authors' code does
with one minibatch), with D's optimizer, its state and the weight clip of the config. D's own
update is the plain one of `GAN`; K = 0 is exactly the plain GAN.
"""

from __future__ import annotations

import jax
import numpy as np
import optax

from jaxgen.algorithms.base import TrainState, player_gradient
from jaxgen.algorithms.gan import GAN, UNROLL

# K = 5 unrolling steps; Metz et al. 2016 (sec. 3.1) show 2-D mixtures covered with a few steps.
DEFAULT_UNROLL_STEPS = 5
# Optimizers with a square root of a second moment in their update (optax.scale_by_adam).
ADAM_FAMILY = ("adam", "adamw")


class UnrolledGAN(GAN):
  """GAN whose generator differentiates through `algorithm.unroll_steps` discriminator updates."""

  def __init__(self, config, dataset):
    super().__init__(config, dataset)
    steps = config.algorithm.get("unroll_steps", DEFAULT_UNROLL_STEPS)
    if not (isinstance(steps, int | np.integer) and steps >= 0):
      raise ValueError(f"algorithm.unroll_steps must be an integer >= 0; got {steps!r}.")
    self.unroll_steps = int(steps)
    optimizer = config.optimizer.discriminator
    if steps and optimizer.get("name") in ADAM_FAMILY and not optimizer.get("eps_root", 0.0):
      raise ValueError(
        "Unrolling differentiates through D's optimizer; Adam's sqrt(v) has an infinite "
        "derivative at v = 0, so set optimizer.discriminator.eps_root > 0 (e.g. 1e-8)."
      )

  def unrolled_discriminator(self, state: TrainState, batch, fake, conditioning, rng):
    """theta_D^K and D's model state after K optimizer steps on (batch, fake); differentiable in
    `fake`, hence in G's params."""
    d = state.players["discriminator"]
    optimizer = self.players["discriminator"].optimizer
    params, opt_state, model_state = d.params, d.opt_state, d.model_state
    for k in range(self.unroll_steps):
      grads, (model_state, _) = jax.grad(self.discriminator_loss, argnums=1, has_aux=True)(
        state, params, batch, fake, conditioning, jax.random.fold_in(rng, k), model_state
      )
      updates, opt_state = optimizer.update(grads, opt_state, params)
      params = self.constrain("discriminator", optax.apply_updates(params, updates))
    return params, model_state

  def generator_grads(self, state: TrainState, batch, rng, *, player="generator"):
    """Gradient of the surrogate loss f_K w.r.t. theta_G (Metz et al. 2016, sec. 2.3-2.4)."""

    def loss_fn(params):
      fake, _, conditioning = self.make_fakes(state, rng, batch, params=params, player=player)
      d_params, d_model_state = self.unrolled_discriminator(
        state, batch, fake, conditioning, jax.random.fold_in(rng, UNROLL)
      )
      return self.generator_loss(
        state, params, batch, rng, d_params=d_params, d_model_state=d_model_state, player=player
      )

    return player_gradient(loss_fn, state.players[player].params)
