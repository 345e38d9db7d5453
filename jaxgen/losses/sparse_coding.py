"""Spike-and-slab terms of Variational Sparse Coding (Tonolini, Jensen & Murray-Smith 2019).

A spike-and-slab distribution over z in R^d factorises over the coordinates:
  q(z_j) = gamma_j N(z_j; mu_j, sigma_j^2) + (1 - gamma_j) delta(z_j),
with the slab probability gamma_j given by its logit l_j (gamma_j = sigmoid(l_j)). The prior is the
same family with mu = 0, sigma = 1 and a fixed slab probability alpha.

Densities are taken with respect to Lebesgue measure plus a unit point mass at 0 (the
"discrete-continuous" base measure): a draw is exactly 0 on the spike, and on the slab it is 0
with probability zero. Conventions of `jaxgen.losses.autoencoder`: per-example values summed over
the latent axis.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxgen.losses.autoencoder import LOG_2PI, sum_event

Array = jax.Array


def check_slab_probability(alpha) -> float:
  """alpha in (0, 1): alpha = 1 is the Gaussian prior (use the VAE) and alpha = 0 has no slab;
  at either end the KL to any gamma in (0, 1) is infinite."""
  if not (isinstance(alpha, int | float) and not isinstance(alpha, bool) and 0.0 < alpha < 1.0):
    raise ValueError(
      f"the prior's slab probability alpha must be a number strictly between 0 and 1; got "
      f"{alpha!r} (alpha = 1 is the Gaussian VAE: use algorithm 'vae')."
    )
  return float(alpha)


def bernoulli_kl(logits: Array, alpha: float) -> Array:
  """KL(Bern(gamma) || Bern(alpha)) = gamma log(gamma / alpha) + (1 - gamma) log((1 - gamma) /
  (1 - alpha)) per coordinate, gamma = sigmoid(l) (Tonolini et al. 2019, eq. 6, its last two
  terms), with log gamma = log_sigmoid(l) and log(1 - gamma) = log_sigmoid(-l), finite for any l."""
  gamma = jax.nn.sigmoid(logits)
  log_gamma, log_one_minus_gamma = jax.nn.log_sigmoid(logits), jax.nn.log_sigmoid(-logits)
  return gamma * (log_gamma - jnp.log(alpha)) + (1.0 - gamma) * (
    log_one_minus_gamma - jnp.log1p(-alpha)
  )


def spike_and_slab_kl(
  mean: Array, log_variance: Array, spike_logits: Array, alpha: float, batch_ndims: int = 1
) -> Array:
  """KL(q(z|x) || p(z)) between the spike-and-slab posterior and the prior with slab probability
  alpha (mu = 0, sigma = 1), per example:

    sum_j [ gamma_j/2 (mu_j^2 + sigma_j^2 - 1 - log sigma_j^2)
            + gamma_j log(gamma_j / alpha) + (1 - gamma_j) log((1 - gamma_j) / (1 - alpha)) ]

  Tonolini et al. 2019, eq. 6 (their derivation in App. B): with the selector s_j ~ Bern(gamma_j)
  explicit, the KL of the joint (s, z) is KL(Bern(gamma) || Bern(alpha)) + gamma KL(slab || N(0,
  1)), and s is a function of z almost surely (s = [z != 0]), so it is the KL of the marginals.
  """
  gamma = jax.nn.sigmoid(spike_logits)
  slab_kl = 0.5 * (jnp.square(mean) + jnp.exp(log_variance) - 1.0 - log_variance)
  return sum_event(gamma * slab_kl + bernoulli_kl(spike_logits, alpha), batch_ndims)


def relaxed_selector(uniform: Array, spike_logits: Array, sharpness: float) -> Array:
  """T(eta - 1 + gamma) relaxed to sigmoid(c (eta - 1 + gamma)), eta ~ U(0, 1).

  Tonolini et al. 2019, the relaxed spike (c: `sharpness`; the authors' code uses c = 100,
  `_sample_from_gaussian_dist(..., 100)`). As c -> inf it is the step [eta > 1 - gamma], a
  Bernoulli(gamma) draw; for finite c it is differentiable in gamma.
  """
  return jax.nn.sigmoid(sharpness * (uniform - 1.0 + jax.nn.sigmoid(spike_logits)))


def relaxed_spike_and_slab_sample(
  rng: Array,
  mean: Array,
  log_variance: Array,
  spike_logits: Array,
  sharpness: float,
  slab_scale: Array | float = 1.0,
) -> Array:
  """z = T_c(eta - 1 + gamma) * (lambda mu + sigma^lambda eps), eps ~ N(0, I), eta ~ U(0, 1).

  The reparameterised draw of Tonolini et al. 2019 (as their code's `_sample_from_gaussian_dist`),
  differentiable in (mu, sigma, gamma).
  `slab_scale` lambda in [0, 1] is the authors' spike warm-up (code `vae_ss_ss_vamp_ept_sp.py`:
  the slab's mean and log-variance multiplied by lam, so at lambda = 0 the slab is N(0, 1) and
  only the selection carries information); lambda = 1 is the posterior itself.
  """
  eps_rng, eta_rng = jax.random.split(rng)
  dtype = jnp.result_type(mean)
  eps = jax.random.normal(eps_rng, jnp.shape(mean), dtype)
  eta = jax.random.uniform(eta_rng, jnp.shape(mean), dtype)
  slab = slab_scale * mean + jnp.exp(0.5 * slab_scale * log_variance) * eps
  return relaxed_selector(eta, spike_logits, sharpness) * slab


def spike_and_slab_sample(rng: Array, mean: Array, log_variance: Array, spike_logits: Array):
  """An exact draw of q: s ~ Bern(gamma), z = s (mu + sigma eps); zero exactly on the spike."""
  slab_rng, select_rng = jax.random.split(rng)
  dtype = jnp.result_type(mean)
  slab = mean + jnp.exp(0.5 * log_variance) * jax.random.normal(slab_rng, jnp.shape(mean), dtype)
  selected = jax.random.bernoulli(select_rng, jax.nn.sigmoid(spike_logits))
  return jnp.where(selected, slab, 0.0)


def spike_and_slab_log_density(
  z: Array,
  mean: Array | float = 0.0,
  log_variance: Array | float = 0.0,
  spike_logits: Array | float = 0.0,
  batch_ndims: int = 1,
) -> Array:
  """log q(z) w.r.t. Lebesgue plus a point mass at 0 (see the module docstring), per example:
  sum_j [z_j = 0] log(1 - gamma_j) + [z_j != 0] (log gamma_j + log N(z_j; mu_j, sigma_j^2))."""
  z = jnp.asarray(z)
  log_variance = jnp.asarray(log_variance, z.dtype)
  # log N(z_j; mu_j, sigma_j^2) per coordinate (Kingma & Welling 2014, App. C.2)
  gauss = -0.5 * (jnp.square(z - mean) * jnp.exp(-log_variance) + log_variance + LOG_2PI)
  logits = jnp.broadcast_to(jnp.asarray(spike_logits, z.dtype), jnp.shape(z))
  on_slab = jax.nn.log_sigmoid(logits) + gauss
  return sum_event(jnp.where(z == 0.0, jax.nn.log_sigmoid(-logits), on_slab), batch_ndims)
