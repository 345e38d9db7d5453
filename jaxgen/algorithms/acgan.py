"""ACGAN (Odena et al. 2017): a class-conditional generator and an auxiliary classifier on D.

G(z, c) receives the class c; D receives x only and has two outputs, the source logit (real or
fake) and class logits from a linear head on its features (`jaxgen.nn.gan_zoo.HeadedDiscriminator`).
With L_S the GAN objective and L_C = E[log P(C = c | X_real)] + E[log P(C = c | X_fake)], D
maximises L_C + L_S and G maximises L_C - L_S (Odena et al. 2017, sec. 3); both minimise -L_C
here, each added to its GAN loss. Fakes take the labels of the phase's real batch, so the classes
are drawn from the data's label distribution.
"""

from __future__ import annotations

import jax.numpy as jnp

from jaxgen import losses
from jaxgen.algorithms.base import TrainState, register
from jaxgen.algorithms.gan import GAN, Roles


@register("acgan")
class ACGAN(GAN):
  """GAN with a class-conditional G and a class head on D (Odena et al. 2017)."""

  FAKES_REUSABLE = False  # a fake carries its label (`gan_fakes.GanFakes.FAKES_REUSABLE`)

  def __init__(self, config, dataset):
    if dataset.num_classes == 0:
      raise ValueError(f"ACGAN needs labelled data; {dataset.name!r} has no labels.")
    classes = dataset.num_classes
    # D sees x only; its class head is the auxiliary output.
    roles = Roles(classes, 0, aux_outputs=classes, fakes_carry_conditioning=True)
    super().__init__(config, dataset, roles)
    self.num_classes = classes  # samples are drawn per class

  def make_fakes(self, state: TrainState, rng, batch, *, params=None, player="generator"):
    """G(z, c) with the real batch's labels c, and those labels as the conditioning."""
    fake, model_state, _ = super().make_fakes(state, rng, batch, params=params, player=player)
    return fake, model_state, {"labels": batch["y"]}

  def auxiliary_discriminator_loss(self, real_outputs, fake_outputs, batch, conditioning):
    """-L_C on real and fake images (Odena et al. 2017, sec. 3), with D's accuracy on the reals."""
    real_class = losses.auxiliary_classifier_loss(real_outputs[1], batch["y"])
    fake_class = losses.auxiliary_classifier_loss(fake_outputs[1], conditioning["labels"])
    accuracy = jnp.mean(jnp.argmax(real_outputs[1], axis=-1) == batch["y"])
    return real_class + fake_class, {
      "class_loss": real_class + fake_class,
      "real_class_accuracy": accuracy,
    }

  def auxiliary_generator_loss(self, fake_outputs, batch, conditioning):
    """-E[log P(C = c | X_fake)], G's part of -L_C (Odena et al. 2017, sec. 3)."""
    fake_class = losses.auxiliary_classifier_loss(fake_outputs[1], conditioning["labels"])
    return fake_class, {"class_loss": fake_class}
