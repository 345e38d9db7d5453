"""Pure loss functions, each with its paper and equation: GAN objectives and penalties
(`jaxgen.losses.gan`), autoencoder terms — KL, likelihoods, MMD (`jaxgen.losses.autoencoder`)."""

from jaxgen.losses.autoencoder import (
    FEATURE_REDUCTIONS,
    IMQ_SCALE_MULTIPLIERS,
    LATENT_PRIORS,
    bernoulli_log_likelihood,
    feature_log_likelihood,
    gaussian_kl_standard_normal,
    gaussian_log_density,
    get_latent_prior,
    imq_kernel,
    imq_scales,
    iwae_bound,
    mmd_imq,
    reparameterize,
    sample_gaussian_mixture,
    sample_spike_and_slab,
    sample_standard_normal,
    sum_event,
)
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
__all__ += [
    "FEATURE_REDUCTIONS",
    "IMQ_SCALE_MULTIPLIERS",
    "LATENT_PRIORS",
    "bernoulli_log_likelihood",
    "feature_log_likelihood",
    "gaussian_kl_standard_normal",
    "gaussian_log_density",
    "get_latent_prior",
    "imq_kernel",
    "imq_scales",
    "iwae_bound",
    "mmd_imq",
    "reparameterize",
    "sample_gaussian_mixture",
    "sample_spike_and_slab",
    "sample_standard_normal",
    "sum_event",
]
