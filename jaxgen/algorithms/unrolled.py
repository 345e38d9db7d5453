"""Unrolled GAN (Metz et al. 2016): the generator predicts the discriminator's reaction.

G descends the surrogate of Metz et al. 2016 (sec. 2, eq. 10-12):

  f_K(theta_G, theta_D) = f(theta_G, theta_D^K(theta_G, theta_D)),
  f(theta_G, theta_D) = E_x log D(x; theta_D) + E_z log(1 - D(G(z; theta_G); theta_D)),
  theta_D^0 = theta_D,  theta_D^{k+1} = theta_D^k + eta^k d f(theta_G, theta_D^k) / d theta_D^k,

with the K steps taken by D's own optimizer on D's own loss (objective, penalty, historical
averaging; the weight clip after each step), its state carried from step to step. G's gradient is
the total derivative (eq. 12), which `jax.value_and_grad` takes straight through the K steps:

  d f_K / d theta_G = df(theta_G, theta_D^K)/d theta_G
                      + df(theta_G, theta_D^K)/d theta_D^K . d theta_D^K / d theta_G.

Both terms of f depend on theta_G through theta_D^K, the real one too: theta_D^K was trained
against G's samples. The plain GAN's G loss leaves E_x log D(x) out only because it is constant at
a fixed theta_D; here it is kept. Which loss plays f:

- a zero-sum objective (`ZERO_SUM_OBJECTIVES`: minimax, Goodfellow et al. 2014, eq. 1;
  Wasserstein, Arjovsky et al. 2017, eq. 3) without feature matching: f is minus D's objective
  loss, real and fake terms, at theta_D^K, as in the authors' demo (poolio/unrolled_gan,
  `Unrolled GAN demo.ipynb`: G minimises `-unrolled_loss`, D's sigmoid cross-entropy at the
  unrolled params). With one-sided label smoothing the real term is D's, the cross-entropy to
  1 - s (Salimans et al. 2016, sec. 3.4). D's penalty and historical averaging regularise D and
  are not part of the game value f.
- any other objective (non-saturating, least squares, hinge, relativistic) or feature matching: G's
  own loss at theta_D^K, differentiated the same way. No GAN paper defines unrolling for a
  non-zero-sum game; this is the look-ahead surrogate of a general-sum game, each player's own
  objective at the opponent's anticipated parameters (Foerster et al. 2018, LOLA, sec. 3.2, with K
  optimizer steps of D as the look-ahead). The terms of G's loss on the real batch (relativistic,
  feature matching) depend on theta_G through theta_D^K and are differentiated with it.
  The paper's game is `algorithm.loss = "minimax"`.

The K steps use the phase's real batch and G's samples of the same z as the surrogate (as the
authors' code does with one minibatch), with D's optimizer, its state and the weight clip of the
config. D's own update is the plain one of `GAN`; K = 0 gives the plain GAN's gradient (the real
term is then a constant of theta_G).
"""

from __future__ import annotations

import jax
import optax

from jaxgen.algorithms.adversarial import discriminator_objective
from jaxgen.algorithms.base import TrainState, player_gradient, register
from jaxgen.algorithms.critic import logits_of
from jaxgen.algorithms.gan import GAN, UNROLL
from jaxgen.losses import GAN_OBJECTIVES
from jaxgen.options import Option, integer

# Optimizers with a square root of a second moment in their update (optax.scale_by_adam).
ADAM_FAMILY = ("adam", "adamw")
# The objectives whose G loss is minus D's objective loss up to D's real term, a constant of
# theta_G at fixed theta_D: minimax (Goodfellow et al. 2014, eq. 1) and Wasserstein (Arjovsky et
# al. 2017, eq. 3). tests/test_unrolled.py checks this property of each registered objective.
ZERO_SUM_OBJECTIVES = {name: GAN_OBJECTIVES[name] for name in ("minimax", "wasserstein")}


@register("unrolled")
class UnrolledGAN(GAN):
  """GAN whose generator differentiates through `algorithm.unroll_steps` discriminator updates."""

  FAKES_REUSABLE = False  # G's step unrolls D on fresh fakes (`gan_fakes.GanFakes`)

  # K = 5; Metz et al. 2016 (sec. 3.1) show 2-D mixtures covered with a few steps.
  OPTIONS = (
    Option(
      "unroll_steps", 5, "K, D's look-ahead steps (Metz et al. 2016, eq. 10)", check=integer(0)
    ),
  )

  def __init__(self, config, dataset):
    super().__init__(config, dataset)
    steps = self.unroll_steps = self.options.unroll_steps
    optimizer = config.optimizer.discriminator
    if steps and optimizer.get("name") in ADAM_FAMILY and not optimizer.get("eps_root", 0.0):
      raise ValueError(
        "Unrolling differentiates through D's optimizer; Adam's sqrt(v) has an infinite "
        "derivative at v = 0, so set optimizer.discriminator.eps_root > 0 (e.g. 1e-8)."
      )
    # G descends the whole game value f (both terms) rather than its own loss (module docstring).
    zero_sum = self.objective in ZERO_SUM_OBJECTIVES.values()
    self.generator_descends_game_value = zero_sum and not self.stabilisers.feature_matching

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

  def generator_loss_on_fakes(
    self, state, params, batch, rng, fake, conditioning, d_params, d_model_state, player
  ):
    """G's loss at D's params `d_params` (theta_D^K): minus D's objective loss, real term
    included, for a zero-sum objective (Metz et al. 2016, eq. 10); else G's own loss."""
    if not self.generator_descends_game_value:
      return super().generator_loss_on_fakes(
        state, params, batch, rng, fake, conditioning, d_params, d_model_state, player
      )
    d_params, d_model_state = self.discriminator_variables(state, d_params, d_model_state)
    labels = self.discriminator_labels(batch)
    real_key, fake_key = self.adversary.noise_keys(rng)
    critic = self.critic

    def outputs(x, key):  # D's outputs on what D sees of x; D's statistics held, as in G's loss
      return critic(d_params, d_model_state, critic.inputs(state.step, x, key), labels)[0]

    fake_out, real_out = outputs(fake, fake_key), outputs(batch["x"], real_key)
    d_loss = discriminator_objective(
      self.objective, self.stabilisers, logits_of(real_out), logits_of(fake_out)
    )
    aux_loss, metrics = self.auxiliary_generator_loss(fake_out, batch, conditioning)
    loss = -d_loss + aux_loss + self.memory.history_penalty(state, player, params)
    return loss, {"loss": loss, **metrics}

  def generator_grads(self, state: TrainState, batch, rng, *, player="generator"):
    """Gradient of the surrogate f_K w.r.t. theta_G (Metz et al. 2016, eq. 12)."""

    def loss_fn(params):
      fake, _, conditioning = self.make_fakes(state, rng, batch, params=params, player=player)
      d_params, d_model_state = self.unrolled_discriminator(
        state, batch, fake, conditioning, jax.random.fold_in(rng, UNROLL)
      )
      return self.generator_loss(
        state, params, batch, rng, d_params=d_params, d_model_state=d_model_state, player=player
      )

    return player_gradient(loss_fn, state.players[player].params)
