"""The loss wiring of a GAN-family algorithm: each player's loss from the adversary's terms.

`GanLosses` is a mixin of `gan.GAN`. D's loss is the adversary's (objective, penalty) on a real
batch and given fakes; G's loss is the adversary's G term on its fakes; each adds the auxiliary
terms of a subclass (ACGAN's classes, InfoGAN's mutual information) and historical averaging
(`StabiliserMemory.history_penalty`). D's params and model state are arguments, so the same
losses serve D's own step, G's step (D's params constants) and the unrolled GAN's lookahead.

It reads the attributes `GAN.__init__` sets: `adversary`, `memory`, `discriminator_classes`, and
`make_fakes` (`gan_fakes.GanFakes`).
"""

from __future__ import annotations

from jaxgen.algorithms.base import TrainState


class GanLosses:
  """D's and G's losses; see the module docstring."""

  def discriminator_variables(self, state: TrainState, params=None, model_state=None):
    """D's (params, model_state) in `state`, each replaced where given (params to differentiate,
    or after the unrolled GAN's lookahead)."""
    d = state.players["discriminator"]
    params = d.params if params is None else params
    return params, d.model_state if model_state is None else model_state

  def discriminator_labels(self, batch):
    """The labels D is conditioned on, `batch["y"]`, or None for a D that takes no classes."""
    return batch["y"] if self.discriminator_classes else None

  def auxiliary_discriminator_loss(self, real_outputs, fake_outputs, batch, conditioning):
    """Extra terms of D's loss and their metrics (ACGAN's classes, InfoGAN's MI); none here."""
    return 0.0, {}

  def auxiliary_generator_loss(self, fake_outputs, batch, conditioning):
    """Extra terms of G's loss and their metrics; none here."""
    return 0.0, {}

  def discriminator_loss(self, state, params, batch, fake, conditioning, rng, model_state=None):
    """D's loss on a real batch and given fakes: (loss, (D's new model state, metrics))."""
    _, model_state = self.discriminator_variables(state, params, model_state)
    labels = self.discriminator_labels(batch)
    loss, (real_out, fake_out), new_state, metrics = self.adversary.discriminator_loss(
      state.step, params, model_state, batch["x"], fake, labels, rng
    )
    aux_loss, aux_metrics = self.auxiliary_discriminator_loss(
      real_out, fake_out, batch, conditioning
    )
    loss = loss + aux_loss + self.memory.history_penalty(state, "discriminator", params)
    return loss, (new_state, {"loss": loss, **metrics, **aux_metrics})

  def generator_loss(
    self, state, params, batch, rng, *, d_params=None, d_model_state=None, player="generator"
  ):
    """G's loss against D (its params constants here): (loss, (G's new model state, metrics))."""
    fake, model_state, conditioning = self.make_fakes(
      state, rng, batch, params=params, player=player
    )
    loss, metrics = self.generator_loss_on_fakes(
      state, params, batch, rng, fake, conditioning, d_params, d_model_state, player
    )
    return loss, (model_state, metrics)

  def generator_loss_on_fakes(
    self, state, params, batch, rng, fake, conditioning, d_params, d_model_state, player
  ):
    """G's loss on its fakes `fake` = G(z; params): (loss, metrics)."""
    d_params, d_model_state = self.discriminator_variables(state, d_params, d_model_state)
    loss, fake_out = self.adversary.generator_loss(
      state.step, d_params, d_model_state, fake, batch["x"], self.discriminator_labels(batch), rng
    )
    aux_loss, metrics = self.auxiliary_generator_loss(fake_out, batch, conditioning)
    loss = loss + aux_loss + self.memory.history_penalty(state, player, params)
    return loss, {"loss": loss, **metrics}
