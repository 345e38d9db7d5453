"""InfoGAN (Chen et al. 2016): latent codes whose mutual information with G's samples is maximised.

G's input is [z, one-hot(c_cat), c_cont] with c_cat uniform over `categorical_codes` values and
c_cont ~ U[-1, 1]^`continuous_codes`. Q shares D's body: a linear head on D's features gives the
categorical logits and the means of a unit-variance Gaussian for the continuous codes. G and Q
(D's player, which owns the head) both add -lambda L_I to their losses, L_I the variational lower
bound of I(c; G(z, c)) (Chen et al. 2016, sec. 5; `jaxgen.losses.*_mutual_information_bound`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxgen import losses
from jaxgen.algorithms.base import TrainState
from jaxgen.algorithms.gan import GAN, Roles

# Chen et al. 2016, sec. 6: lambda = 1 for discrete codes; the MNIST model has one 10-way code and
# two continuous codes.
DEFAULT_INFO_WEIGHT = 1.0
DEFAULT_CATEGORICAL_CODES = 10
DEFAULT_CONTINUOUS_CODES = 2


def _non_negative_int(name, value):
  if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
    raise ValueError(f"algorithm.{name} must be an integer >= 0; got {value!r}.")
  return int(value)


class InfoGAN(GAN):
  """GAN plus latent codes and their mutual-information term (Chen et al. 2016)."""

  def __init__(self, config, dataset):
    algorithm = config.algorithm
    self.categorical_codes = _non_negative_int(
      "categorical_codes", algorithm.get("categorical_codes", DEFAULT_CATEGORICAL_CODES)
    )
    self.continuous_codes = _non_negative_int(
      "continuous_codes", algorithm.get("continuous_codes", DEFAULT_CONTINUOUS_CODES)
    )
    if self.categorical_codes == 1 or not (self.categorical_codes or self.continuous_codes):
      raise ValueError(
        "InfoGAN needs categorical_codes >= 2 or continuous_codes >= 1 (0 switches one off); "
        f"got {self.categorical_codes} and {self.continuous_codes}."
      )
    self.info_weight = float(algorithm.get("info_weight", DEFAULT_INFO_WEIGHT))
    if not (np.isfinite(self.info_weight) and self.info_weight >= 0):
      raise ValueError(
        f"algorithm.info_weight must be a finite number >= 0; got {self.info_weight!r}."
      )
    codes = self.categorical_codes + self.continuous_codes
    roles = Roles(aux_outputs=codes, code_dim=codes, fakes_carry_conditioning=True)
    super().__init__(config, dataset, roles)

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
    noise_rng, code_rng = jax.random.split(rng)
    noise = jax.random.normal(noise_rng, (num, self.latent_dim))
    return self.code_latents(noise, self.sample_codes(code_rng, num))

  def make_fakes(self, state: TrainState, rng, batch, *, params=None, player="generator"):
    noise_rng, code_rng = jax.random.split(rng)
    num = batch["x"].shape[0]
    codes = self.sample_codes(code_rng, num)
    z = self.code_latents(jax.random.normal(noise_rng, (num, self.latent_dim)), codes)
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
    bound = self.mutual_information(fake_outputs, conditioning)
    return -self.info_weight * bound, {"mutual_information": bound}

  def auxiliary_generator_loss(self, fake_outputs, batch, conditioning):
    bound = self.mutual_information(fake_outputs, conditioning)
    return -self.info_weight * bound, {"mutual_information": bound}

  def sample_from_codes(self, state: TrainState, rng, categorical, continuous):
    """Samples for given codes (categorical [N] ints, continuous [N, d]) in inference mode."""
    noise = jax.random.normal(rng, (categorical.shape[0], self.latent_dim))
    z = self.code_latents(noise, {"categorical": categorical, "continuous": continuous})
    samples, _ = self.generate(
      state, rng, categorical.shape[0], None, train=False, params=self.evaluation_params(state), z=z
    )
    return samples
