"""GAN objectives on discriminator outputs, each with its paper and equation.

Every GAN objective is a pair `(discriminator_loss, generator_loss)` of functions of the
discriminator's outputs (logits; the critic's values for WGAN) that the players *minimise*. Sigmoid
GAN losses are written with `softplus` so they stay finite for any logit:
log D(x) = log sigmoid(l) = -softplus(-l) and log(1 - D(x)) = -softplus(l).

Below the objective pairs sit the extra terms of the GAN family's other members: the auxiliary
classifier (ACGAN), the mutual-information bounds (InfoGAN), the energies and the pulling-away term
(EBGAN), the equilibrium control (BEGAN) and the k + 1-class game of several generators (MAD-GAN).
Gradient penalties are in `jaxgen.losses.penalties`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxgen.losses.relativistic import (
  discriminator_ralsgan_loss,
  discriminator_rasgan_loss,
  generator_ralsgan_loss,
  generator_rasgan_loss,
)

Array = jax.Array


def discriminator_minimax_loss(
  real_logits: Array, fake_logits: Array, real_target: float = 1.0
) -> Array:
  """-(E[log D(x)] + E[log(1 - D(G(z)))]), the negated value V(D, G).

  Goodfellow et al. 2014, eq. 1: D ascends V, i.e. descends this loss. `real_target` t < 1 is
  one-sided label smoothing (Salimans et al. 2016, sec. 3.4): the real term becomes the
  cross-entropy to t, -(t log D(x) + (1 - t) log(1 - D(x))); the fake term is untouched.
  """
  real_term = real_target * jax.nn.softplus(-real_logits) + (1.0 - real_target) * jax.nn.softplus(
    real_logits
  )
  return jnp.mean(real_term) + jnp.mean(jax.nn.softplus(fake_logits))


def generator_minimax_loss(fake_logits: Array, real_outputs: Array | None = None) -> Array:
  """E[log(1 - D(G(z)))], the saturating generator loss of the minimax game.

  Goodfellow et al. 2014, eq. 1 (G descends V). Its gradient vanishes where D(G(z)) -> 0.
  """
  return -jnp.mean(jax.nn.softplus(fake_logits))


def generator_non_saturating_loss(fake_logits: Array, real_outputs: Array | None = None) -> Array:
  """-E[log D(G(z))], the non-saturating generator loss.

  Goodfellow et al. 2014, sec. 3: G maximises log D(G(z)) instead, for strong early gradients.
  """
  return jnp.mean(jax.nn.softplus(-fake_logits))


def discriminator_wasserstein_loss(real_values: Array, fake_values: Array) -> Array:
  """E[f(G(z))] - E[f(x)]: the critic f maximises E[f(x)] - E[f(G(z))].

  Arjovsky et al. 2017, eq. 3 and Algorithm 1 (line 5): the Kantorovich-Rubinstein dual of W1 over
  a K-Lipschitz f (enforced by weight clipping or a gradient penalty).
  """
  return jnp.mean(fake_values) - jnp.mean(real_values)


def generator_wasserstein_loss(fake_values: Array, real_outputs: Array | None = None) -> Array:
  """-E[f(G(z))] (Arjovsky et al. 2017, Algorithm 1, line 10)."""
  return -jnp.mean(fake_values)


def discriminator_least_squares_loss(
  real_outputs: Array, fake_outputs: Array, real_target: float = 1.0
) -> Array:
  """1/2 E[(D(x) - b)^2] + 1/2 E[D(G(z))^2] with b = `real_target`.

  Mao et al. 2017, eq. 2 with the 0-1 coding a = 0, b = c = 1 (their eq. 9); b < 1 is one-sided
  label smoothing of the real target (Salimans et al. 2016, sec. 3.4).
  """
  return 0.5 * jnp.mean(jnp.square(real_outputs - real_target)) + 0.5 * jnp.mean(
    jnp.square(fake_outputs)
  )


def generator_least_squares_loss(fake_outputs: Array, real_outputs: Array | None = None) -> Array:
  """1/2 E[(D(G(z)) - c)^2] with c = 1 (Mao et al. 2017, eq. 2 and 9)."""
  return 0.5 * jnp.mean(jnp.square(fake_outputs - 1.0))


def discriminator_hinge_loss(real_outputs: Array, fake_outputs: Array) -> Array:
  """E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))] (Lim & Ye 2017; Miyato et al. 2018, eq. 16)."""
  return jnp.mean(jax.nn.relu(1.0 - real_outputs)) + jnp.mean(jax.nn.relu(1.0 + fake_outputs))


def generator_hinge_loss(fake_outputs: Array, real_outputs: Array | None = None) -> Array:
  """-E[D(G(z))] (Miyato et al. 2018, eq. 17)."""
  return -jnp.mean(fake_outputs)


class GanObjective(NamedTuple):
  """A GAN objective: the losses the discriminator and the generator each minimise.

  `has_real_target`: the discriminator loss regresses on a real target and accepts `real_target`
  (so one-sided label smoothing applies to it).
  Every generator loss is called as `generator_loss(fake_outputs, real_outputs)`, with D's outputs
  on the phase's real batch too; `generator_needs_real` declares that it reads them (the
  relativistic objectives), which feature matching cannot replace. The others ignore them.
  """

  discriminator_loss: Callable[..., Array]
  generator_loss: Callable[..., Array]
  has_real_target: bool = False
  generator_needs_real: bool = False


GAN_OBJECTIVES: dict[str, GanObjective] = {
  "minimax": GanObjective(discriminator_minimax_loss, generator_minimax_loss, True),
  "non_saturating": GanObjective(discriminator_minimax_loss, generator_non_saturating_loss, True),
  "wasserstein": GanObjective(discriminator_wasserstein_loss, generator_wasserstein_loss),
  "least_squares": GanObjective(
    discriminator_least_squares_loss, generator_least_squares_loss, True
  ),
  "hinge": GanObjective(discriminator_hinge_loss, generator_hinge_loss),
  # Jolicoeur-Martineau 2019 (jaxgen.losses.relativistic): RaSGAN and RaLSGAN.
  "ragan": GanObjective(
    discriminator_rasgan_loss, generator_rasgan_loss, generator_needs_real=True
  ),
  "ralsgan": GanObjective(
    discriminator_ralsgan_loss, generator_ralsgan_loss, generator_needs_real=True
  ),
}


def get_gan_objective(name: str) -> GanObjective:
  """The GAN objective called `name`; the error lists the valid names."""
  if name not in GAN_OBJECTIVES:
    raise ValueError(f"Unknown GAN loss {name!r}; choose one of {sorted(GAN_OBJECTIVES)}.")
  return GAN_OBJECTIVES[name]


# --- ACGAN (Odena et al. 2017) -------------------------------------------------------------------


def auxiliary_classifier_loss(class_logits: Array, labels: Array) -> Array:
  """-L_C = -E[log P(C = c | X)], the class term both ACGAN players minimise.

  Odena et al. 2017, sec. 3: L_C = E[log P(C = c | X_real)] + E[log P(C = c | X_fake)]; each call
  here is one of the two expectations, negated.
  """
  return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(class_logits, labels))


# --- InfoGAN (Chen et al. 2016) ------------------------------------------------------------------


def categorical_mutual_information_bound(code_logits: Array, codes: Array) -> Array:
  """L_I = E[log Q(c | G(z, c))] + H(c) for a uniform categorical code c of K values.

  Chen et al. 2016, sec. 5 (L_I, the variational lower bound of I(c; G(z, c))) with H(c) = log K;
  the first term is minus the cross-entropy of Q's logits at the known code, so L_I <= log K.
  """
  num_values = code_logits.shape[-1]
  cross_entropy = optax.softmax_cross_entropy_with_integer_labels(code_logits, codes)
  return jnp.log(num_values) - jnp.mean(cross_entropy)


# H(U[-1, 1]) = log 2 per dimension: the entropy of a uniform density of width 2.
UNIFORM_CODE_ENTROPY = math.log(2.0)


def gaussian_mutual_information_bound(code_means: Array, codes: Array) -> Array:
  """L_I for continuous codes c ~ U[-1, 1]^d with Q(c | x) = N(mean(x), I).

  Chen et al. 2016, sec. 5 (L_I) and sec. 6 (Q as a factored Gaussian): E[log Q(c | x)]
  with log N(c; m, 1) = -(c - m)^2 / 2 - log(2 pi) / 2 per dimension, plus H(c) = d log 2.
  """
  log_q = -0.5 * jnp.square(codes - code_means) - 0.5 * math.log(2 * math.pi)
  return jnp.mean(jnp.sum(log_q, axis=-1)) + codes.shape[-1] * UNIFORM_CODE_ENTROPY


# --- EBGAN (Zhao et al. 2016) and BEGAN (Berthelot et al. 2017) ----------------------------------


def reconstruction_energy(inputs: Array, reconstructions: Array, power: int) -> Array:
  """Per sample, mean |x - Dec(Enc(x))|^power over all non-batch axes.

  The autoencoder discriminator's energy: power 2 for EBGAN (Zhao et al. 2016, sec. 2.3, the MSE),
  power 1 for BEGAN (Berthelot et al. 2017, eq. 1 with eta = 1).
  """
  errors = jnp.abs(inputs - reconstructions) ** power
  return jnp.mean(errors.reshape(errors.shape[0], -1), axis=1)


def ebgan_discriminator_loss(real_energy: Array, fake_energy: Array, margin: float) -> Array:
  """L_D = D(x) + [m - D(G(z))]^+ (Zhao et al. 2016, eq. 1), averaged over the batch."""
  return jnp.mean(real_energy) + jnp.mean(jax.nn.relu(margin - fake_energy))


def ebgan_generator_loss(fake_energy: Array) -> Array:
  """L_G = D(G(z)) (Zhao et al. 2016, eq. 2), averaged over the batch."""
  return jnp.mean(fake_energy)


# The floor of |S_i| in the pulling-away term: sqrt(||S_i||^2 + eps^2) keeps the value and the
# gradient at a zero code finite.
PULLING_AWAY_EPSILON = 1e-6


def pulling_away_term(codes: Array) -> Array:
  """EBGAN's pulling-away term, a repelling regulariser (Zhao et al. 2016, sec. 2.4).

  f_PT(S) = 1 / (N (N - 1)) sum_{i != j} (S_i . S_j / (|S_i| |S_j|))^2 (their eq. 7),
  with S the encoder's codes of the N generated samples [N, ...], flattened per sample.
  |S_i| is taken as sqrt(||S_i||^2 + eps^2), eps = PULLING_AWAY_EPSILON, so a zero code has cosine
  0 with every other code and a finite gradient (the plain norm's is 0/0 there); for codes with
  ||S_i|| >> eps the value is the formula's (relative change eps^2 / (2 ||S_i||^2)).
  """
  flat = codes.reshape(codes.shape[0], -1)
  num = flat.shape[0]
  if num < 2:
    raise ValueError(f"The pulling-away term needs at least 2 samples; got {num}.")
  norms = jnp.sqrt(jnp.sum(jnp.square(flat), axis=1, keepdims=True) + PULLING_AWAY_EPSILON**2)
  unit = flat / norms
  cosines = unit @ unit.T
  off_diagonal = jnp.sum(jnp.square(cosines)) - jnp.sum(jnp.square(jnp.diagonal(cosines)))
  return off_diagonal / (num * (num - 1))


def began_discriminator_loss(real_energy: Array, fake_energy: Array, k: Array) -> Array:
  """L_D = L(x) - k_t L(G(z_D)) (Berthelot et al. 2017, eq. 4, first line)."""
  return jnp.mean(real_energy) - k * jnp.mean(fake_energy)


def began_k_update(k: Array, real_loss: Array, fake_loss: Array, gamma: float, lambda_k: float):
  """k_{t+1} = k_t + lambda_k (gamma L(x) - L(G(z_G))), kept in [0, 1].

  Berthelot et al. 2017, eq. 4 (third line) with k_t in [0, 1] (sec. 3.4; the authors clip).
  """
  return jnp.clip(k + lambda_k * (gamma * real_loss - fake_loss), 0.0, 1.0)


def began_convergence_measure(real_loss: Array, fake_loss: Array, gamma: float) -> Array:
  """M_global = L(x) + |gamma L(x) - L(G(z_G))| (Berthelot et al. 2017, sec. 3.4.1)."""
  return real_loss + jnp.abs(gamma * real_loss - fake_loss)


# --- Several generators, one discriminator (MAD-GAN, Ghosh et al. 2018) --------------------------


def multi_generator_discriminator_loss(logits: Array, sources: Array) -> Array:
  """Cross-entropy of D's k + 1-way softmax: class i < k for generator i, class k for real data.

  Ghosh et al. 2018, sec. 3 (D's objective: the cross-entropy to the one-hot target delta).
  """
  return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, sources))


def multi_generator_generator_loss(logits: Array) -> Array:
  """-E[log D_{k+1}(G_i(z))]: generator i pushes its samples towards the real class (index k).

  Ghosh et al. 2018, sec. 3 (G_i minimises E[log(1 - D_{k+1}(G_i(z)))]), in the non-saturating
  form of Goodfellow et al. 2014, sec. 3.
  """
  return -jnp.mean(jax.nn.log_softmax(logits, axis=-1)[:, -1])


# --- Feature matching (Salimans et al. 2016) ------------------------------------------------------


def feature_matching_loss(real_features: Array, fake_features: Array) -> Array:
  """||E_x f(x) - E_z f(G(z))||_2^2 over D's intermediate features f, flattened per sample.

  Salimans et al. 2016, sec. 3.1: G matches the statistics of D's features instead of maximising
  D's output.
  """
  real_mean = jnp.mean(real_features.reshape(real_features.shape[0], -1), axis=0)
  fake_mean = jnp.mean(fake_features.reshape(fake_features.shape[0], -1), axis=0)
  return jnp.sum(jnp.square(real_mean - fake_mean))
