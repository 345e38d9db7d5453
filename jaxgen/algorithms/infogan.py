"""InfoGAN (Chen et al. 2016): latent codes whose mutual information with G's samples is maximised.

G's input is [z, one-hot(c_cat), c_cont] with c_cat uniform over `categorical_codes` values and
c_cont ~ U[-1, 1]^`continuous_codes`. Q shares D's body: a head on D's features gives the
categorical logits and the means of a unit-variance Gaussian for the continuous codes. G and Q
(D's player, which owns the head) both add -lambda L_I to their losses, L_I the variational lower
bound of I(c; G(z, c)) (Chen et al. 2016, sec. 5; `jaxgen.losses.*_mutual_information_bound`).

Options beyond the codes and lambda (`config.algorithm`), each defaulting to the earlier behaviour:
- `noise_prior`: z ~ N(0, I) ('normal', the DCGAN prior) or U(-1, 1) ('uniform', the authors' MNIST
  run: openai/InfoGAN launchers/run_mnist_exp.py, `Uniform(62)`).
- `q_hidden`: 0 for a linear Q head on D's sown features, or the width of Q's hidden layer
  (Chen et al. 2016, app. C.1, Table 1: FC.128-BN-lRELU; `jaxgen.nn.infogan`).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from jaxgen import losses
from jaxgen.algorithms.base import TrainState, register
from jaxgen.algorithms.gan import GAN, Roles
from jaxgen.errors import ConfigError
from jaxgen.nn import gan_zoo
from jaxgen.nn.gan import LEAKY_RELU_SLOPE
from jaxgen.nn.infogan import HiddenQDiscriminator
from jaxgen.options import Option, integer, number, read_options

# z's prior: 'normal' N(0, I) (Radford et al. 2016, as the plain GAN) or 'uniform' U(-1, 1)^d
# (the authors' MNIST run, openai/InfoGAN launchers/run_mnist_exp.py: `Uniform(62)`).
NOISE_PRIORS = ("normal", "uniform")


@register("infogan")
class InfoGAN(GAN):
  """GAN plus latent codes and their mutual-information term (Chen et al. 2016)."""

  FAKES_REUSABLE = False  # a fake carries its codes (`gan_fakes.GanFakes.FAKES_REUSABLE`)

  # Chen et al. 2016, sec. 6: lambda = 1 for discrete codes; the MNIST model has one 10-way code
  # and two continuous codes.
  OPTIONS = (
    Option(
      "categorical_codes", 10, "values of the categorical code c1 (0: none)", check=integer(0)
    ),
    Option("continuous_codes", 2, "continuous codes c ~ U[-1, 1] (0: none)", check=integer(0)),
    Option("info_weight", 1.0, "lambda of the MI term (Chen et al. 2016, eq. 5)", check=number(0)),
    Option("noise_prior", "normal", "z ~ N(0, I) or U(-1, 1)^d", choices=NOISE_PRIORS),
    Option(
      "q_hidden",
      0,
      "0: a linear Q head; else its hidden width (app. C.1: FC.128-BN-lReLU)",
      check=integer(0),
    ),
  )

  def __init__(self, config, dataset):
    options = read_options(type(self), config.algorithm)
    self.categorical_codes = options.categorical_codes
    self.continuous_codes = options.continuous_codes
    if self.categorical_codes == 1 or not (self.categorical_codes or self.continuous_codes):
      raise ValueError(
        "InfoGAN needs categorical_codes >= 2 or continuous_codes >= 1 (0 switches one off); "
        f"got {self.categorical_codes} and {self.continuous_codes}."
      )
    self.info_weight = options.info_weight
    self.noise_prior, self.q_hidden = options.noise_prior, options.q_hidden
    codes = self.categorical_codes + self.continuous_codes
    roles = Roles(aux_outputs=codes, code_dim=codes, fakes_carry_conditioning=True)
    super().__init__(config, dataset, roles)
    if self.q_hidden:
      self._use_hidden_q_head(config, codes)

  def _use_hidden_q_head(self, config, codes: int) -> None:
    """Replaces D's linear head (`HeadedDiscriminator`) with Q's hidden-layer head on the same
    base network (`jaxgen.nn.infogan.HiddenQDiscriminator`)."""
    headed = self.critic.module
    if not isinstance(headed, gan_zoo.HeadedDiscriminator):
      raise ConfigError(
        f"algorithm.q_hidden = {self.q_hidden} builds Q's hidden layer in float32 on D's "
        f"features; precision = {config.get('precision')!r} is not supported with it. Set "
        "precision = 'float32' or algorithm.q_hidden = 0."
      )
    if headed.minibatch_kernels:
      raise ConfigError(
        f"algorithm.q_hidden = {self.q_hidden} does not combine with "
        "algorithm.stabilisers.minibatch_discrimination; set one of them to 0."
      )
    # D's own slope where its block sets one (mlp, dcgan), else theirs and the paper's 0.2.
    slope = config.model.discriminator.get("leaky_slope", LEAKY_RELU_SLOPE)
    module = HiddenQDiscriminator(headed.base, codes, self.q_hidden, slope)
    self.critic = dataclasses.replace(self.critic, module=module)
    self.adversary = dataclasses.replace(self.adversary, critic=self.critic)
    self.discriminator = module
    d = self.players["discriminator"]
    self.players["discriminator"] = dataclasses.replace(d, module=module)

  def sample_noise(self, rng, num) -> jax.Array:
    """z [num, latent_dim] from `noise_prior`: N(0, I), or U(-1, 1) as the authors' code."""
    if self.noise_prior == "uniform":
      return jax.random.uniform(rng, (num, self.latent_dim), minval=-1.0, maxval=1.0)
    return jax.random.normal(rng, (num, self.latent_dim))

  def sample_codes(self, rng, num) -> dict[str, jax.Array]:
    """c_cat ~ Uniform{0..K-1} and c_cont ~ U[-1, 1]^d (Chen et al. 2016, sec. 7)."""
    cat_rng, cont_rng = jax.random.split(rng)
    return {
      "categorical": jax.random.randint(cat_rng, (num,), 0, max(self.categorical_codes, 1)),
      "continuous": jax.random.uniform(
        cont_rng, (num, self.continuous_codes), minval=-1.0, maxval=1.0
      ),
    }

  def code_latents(self, noise, codes) -> jax.Array:
    """G's input [z, one-hot(c_cat), c_cont]."""
    one_hot = jax.nn.one_hot(codes["categorical"], self.categorical_codes)
    return jnp.concatenate([noise, one_hot, codes["continuous"]], axis=-1)

  def latents(self, rng, num):
    """G's input [num, latent_dim + K + d]: fresh noise z and codes c, concatenated."""
    noise_rng, code_rng = jax.random.split(rng)
    return self.code_latents(self.sample_noise(noise_rng, num), self.sample_codes(code_rng, num))

  def make_fakes(self, state: TrainState, rng, batch, *, params=None, player="generator"):
    """G([z, c]) in training mode, G's new model state, and the codes c as the conditioning."""
    noise_rng, code_rng = jax.random.split(rng)
    num = batch["x"].shape[0]
    codes = self.sample_codes(code_rng, num)
    z = self.code_latents(self.sample_noise(noise_rng, num), codes)
    fake, model_state = self.generate(state, rng, num, None, train=True, params=params, z=z)
    return fake, model_state, codes

  def mutual_information(self, fake_outputs, codes) -> jax.Array:
    """L_I = L_I(categorical) + L_I(continuous) from Q's head on the fakes."""
    heads = fake_outputs[1]
    bound = 0.0
    if self.categorical_codes:
      logits = heads[:, : self.categorical_codes]
      bound = bound + losses.categorical_mutual_information_bound(logits, codes["categorical"])
    if self.continuous_codes:
      means = heads[:, self.categorical_codes :]
      bound = bound + losses.gaussian_mutual_information_bound(means, codes["continuous"])
    return bound

  def auxiliary_discriminator_loss(self, real_outputs, fake_outputs, batch, conditioning):
    """-lambda L_I on the fakes, Q's term (Chen et al. 2016, eq. 6); Q shares D's body."""
    bound = self.mutual_information(fake_outputs, conditioning)
    return -self.info_weight * bound, {"mutual_information": bound}

  def auxiliary_generator_loss(self, fake_outputs, batch, conditioning):
    """-lambda L_I on the fakes, G's term (Chen et al. 2016, eq. 6)."""
    bound = self.mutual_information(fake_outputs, conditioning)
    return -self.info_weight * bound, {"mutual_information": bound}

  def categorical_code_logits(self, state: TrainState, images) -> jax.Array:
    """Q's logits of c1 on `images` [N, H, W, C], in inference mode: the classifier whose
    accuracy Chen et al. 2016 (sec. 7.1) report, matched to the classes one-to-one."""
    player = state.players["discriminator"]
    variables = {"params": player.params, **player.model_state}
    (_, heads), _ = self.discriminator.apply(
      variables, images, train=False, mutable=["intermediates"]
    )
    return heads[:, : self.categorical_codes]

  def sample_from_codes(self, state: TrainState, rng, categorical, continuous):
    """Samples for given codes (categorical [N] ints, continuous [N, d]) in inference mode."""
    noise = self.sample_noise(rng, categorical.shape[0])
    z = self.code_latents(noise, {"categorical": categorical, "continuous": continuous})
    samples, _ = self.generate(
      state, rng, categorical.shape[0], None, train=False, params=self.evaluation_params(state), z=z
    )
    return samples
