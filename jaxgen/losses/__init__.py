"""Pure loss functions, each with its paper and equation: GAN objectives and penalties
(`jaxgen.losses.gan`), autoencoder terms — KL, likelihoods, MMD (`jaxgen.losses.autoencoder`)."""

from jaxgen.losses.gan import (
    GAN_OBJECTIVES,
    GanObjective,
    discriminator_minimax_loss,
    generator_minimax_loss,
    generator_non_saturating_loss,
    get_gan_objective,
)

__all__ = [
    "GAN_OBJECTIVES",
    "GanObjective",
    "discriminator_minimax_loss",
    "generator_minimax_loss",
    "generator_non_saturating_loss",
    "get_gan_objective",
]
