"""Autoencoder terms: reparameterisation, KL, log-likelihoods, IWAE, MMD, latent priors.

Conventions. Per-example quantities are summed over the *event* axes (every axis after the first
`batch_ndims`, by default all but the batch axis) and returned with the batch shape; callers
average over the batch. Log-likelihoods are log-densities (higher is better); a training loss is
their negation. Images live in [-1, 1]; a Bernoulli decoder sees the pixel-on probability
(x + 1) / 2 as its target.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array

LOG_2PI = math.log(2.0 * math.pi)
# Tolstikhin et al. 2018 (code `wae.py`, mmd_penalty): the IMQ kernel is summed over these
# multiples of the base scale C = 2 * d_z * sigma_z^2.
IMQ_SCALE_MULTIPLIERS = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)
FEATURE_REDUCTIONS = ("sum", "mean")


def _check_batch_ndims(values: Array, batch_ndims: int) -> None:
  if not (isinstance(batch_ndims, int) and 0 <= batch_ndims <= values.ndim):
    raise ValueError(
      f"batch_ndims must be an int in [0, {values.ndim}] for an array of shape {values.shape}; "
      f"got {batch_ndims!r}."
    )


def sum_event(values: Array, batch_ndims: int = 1) -> Array:
  """Sums `values` over every axis after the first `batch_ndims` ones."""
  _check_batch_ndims(values, batch_ndims)
  return jnp.sum(values, axis=tuple(range(batch_ndims, values.ndim)))


def reparameterize(rng: Array, mean: Array, log_variance: Array) -> Array:
  """z = mu + sigma * eps with eps ~ N(0, I): a sample of N(mu, sigma^2) that is differentiable in
  (mu, sigma) (Kingma & Welling 2014, sec. 2.4, eq. 10)."""
  eps = jax.random.normal(rng, jnp.shape(mean), jnp.result_type(mean))
  return mean + jnp.exp(0.5 * log_variance) * eps


def gaussian_kl_standard_normal(mean: Array, log_variance: Array, batch_ndims: int = 1) -> Array:
  """KL(N(mu, diag sigma^2) || N(0, I)) = 1/2 sum_j (mu_j^2 + sigma_j^2 - 1 - log sigma_j^2).

  Kingma & Welling 2014, App. B (the negative of their -D_KL expression), per example.
  """
  terms = jnp.square(mean) + jnp.exp(log_variance) - 1.0 - log_variance
  return 0.5 * sum_event(terms, batch_ndims)


def gaussian_log_density(
  x: Array, mean: Array | float = 0.0, log_variance: Array | float = 0.0, batch_ndims: int = 1
) -> Array:
  """log N(x; mu, diag sigma^2) = -1/2 sum_j [(x_j - mu_j)^2 / sigma_j^2 + log 2 pi sigma_j^2].

  The Gaussian log-likelihood of Kingma & Welling 2014, App. C.2, per example. With the defaults
  it is the log-density of the standard normal prior p(z).
  """
  log_variance = jnp.asarray(log_variance, jnp.result_type(x))
  terms = jnp.square(x - mean) * jnp.exp(-log_variance) + log_variance + LOG_2PI
  return -0.5 * sum_event(jnp.broadcast_to(terms, jnp.shape(x)), batch_ndims)


def bernoulli_log_likelihood(logits: Array, targets: Array, batch_ndims: int = 1) -> Array:
  """log Bern(t; sigmoid(l)) = t log sigmoid(l) + (1 - t) log(1 - sigmoid(l)) = t l - softplus(l).

  The Bernoulli log-likelihood of Kingma & Welling 2014, App. C.1 with p = sigmoid(l), written
  from logits so it stays finite for any l. `targets` are probabilities in [0, 1] (grey levels
  give the usual cross-entropy, which is a normalised likelihood only for binary targets).
  """
  return sum_event(targets * logits - jax.nn.softplus(logits), batch_ndims)


def feature_log_likelihood(
  features: Array, reconstructed_features: Array, reduction: str = "sum"
) -> Array:
  """log p(Dis_l(x) | z) = log N(Dis_l(x); Dis_l(x~), I), VAE-GAN's L_llike^Dis_l (negated).

  Larsen et al. 2016, eq. 5-6: a Gaussian with identity covariance on the l-th layer features of
  the discriminator, centred on the features of the reconstruction x~ = Dec(z).
  `reduction="sum"` sums over the features, as the reference code (andersbll/
  autoencoding_beyond_pixels, GaussianNegLogLikelihood with sigma = 1); `"mean"` divides that by
  the number of features, which rescales the term and hence what gamma means.
  """
  if reduction not in FEATURE_REDUCTIONS:
    raise ValueError(f"Unknown reduction {reduction!r}; choose one of {FEATURE_REDUCTIONS}.")
  log_likelihood = gaussian_log_density(features, reconstructed_features)
  if reduction == "mean":
    log_likelihood = log_likelihood / math.prod(features.shape[1:])
  return log_likelihood


def iwae_bound(log_weights: Array, axis: int = 0) -> Array:
  """log (1/k) sum_i w_i for importance weights w_i = p(x, z_i) / q(z_i | x), z_i ~ q(z | x).

  Burda et al. 2016, eq. 8 (the k-sample bound L_k), computed with logsumexp over `axis` (the
  k samples). For k = 1 it is the single-sample ELBO estimate; L_k <= L_{k+1} <= log p(x) in
  expectation (their Theorem 1).
  """
  k = log_weights.shape[axis]
  return jax.nn.logsumexp(log_weights, axis=axis) - math.log(k)


def imq_scales(latent_dim: int, prior_variance: float = 1.0) -> tuple[float, ...]:
  """The IMQ kernel scales C of Tolstikhin et al. 2018: base C = 2 * d_z * sigma_z^2 (sec. 4,
  "we used C = 2 d_z sigma_z^2"), times each of IMQ_SCALE_MULTIPLIERS as in the authors' code.

  `prior_variance` is sigma_z^2; `latent_prior_variance` gives it for each prior of LATENT_PRIORS.
  """
  if not (isinstance(latent_dim, int) and latent_dim >= 1):
    raise ValueError(f"latent_dim must be an int >= 1; got {latent_dim!r}.")
  if not prior_variance > 0:
    raise ValueError(f"prior_variance must be > 0; got {prior_variance!r}.")
  base = 2.0 * latent_dim * prior_variance
  return tuple(base * m for m in IMQ_SCALE_MULTIPLIERS)


def _squared_distances(x: Array, y: Array) -> Array:
  """||x_i - y_j||^2 for all pairs, [n, m] (expanded form: ||x||^2 + ||y||^2 - 2 x.y)."""
  distances = (
    jnp.sum(jnp.square(x), axis=1)[:, None] + jnp.sum(jnp.square(y), axis=1)[None, :] - 2 * x @ y.T
  )
  return jnp.maximum(distances, 0.0)  # rounding can make the expanded form slightly negative


def imq_kernel(x: Array, y: Array, scales: Sequence[float]) -> Array:
  """k(x_i, y_j) = sum_C C / (C + ||x_i - y_j||^2), the inverse multiquadratics kernel of
  Tolstikhin et al. 2018 (sec. 4) summed over the scales C; returns the [n, m] Gram matrix."""
  distances = _squared_distances(x, y)
  return sum(c / (c + distances) for c in scales)


def mmd_imq(x: Array, y: Array, scales: Sequence[float]) -> Array:
  """Unbiased estimate of MMD^2(P, Q) from x ~ P [n, d] and y ~ Q [m, d] with the IMQ kernel.

  The U-statistic of Gretton et al. 2012, Lemma 6:
    1/(n(n-1)) sum_{i != j} k(x_i, x_j) + 1/(m(m-1)) sum_{i != j} k(y_i, y_j)
    - 2/(nm) sum_{i, j} k(x_i, y_j),
  the penalty of WAE-MMD (Tolstikhin et al. 2018, Algorithm 2). It can be negative.
  """
  if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
    raise ValueError(f"mmd_imq wants [n, d] and [m, d] samples; got {x.shape} and {y.shape}.")
  n, m = x.shape[0], y.shape[0]
  if n < 2 or m < 2:
    raise ValueError(f"the unbiased MMD needs at least 2 samples per side; got n={n}, m={m}.")
  if not scales:
    raise ValueError("mmd_imq needs at least one kernel scale C > 0.")

  def within(a):  # mean over the off-diagonal pairs
    gram = imq_kernel(a, a, scales)
    return (jnp.sum(gram) - jnp.trace(gram)) / (a.shape[0] * (a.shape[0] - 1))

  return within(x) + within(y) - 2.0 * jnp.mean(imq_kernel(x, y, scales))


# --- Latent priors p(z): samplers with a uniform signature (rng, num, latent_dim, **options). ---


def sample_standard_normal(rng: Array, num: int, latent_dim: int) -> Array:
  """z ~ N(0, I), the VAE prior (Kingma & Welling 2014, sec. 3)."""
  return jax.random.normal(rng, (num, latent_dim))


def sample_gaussian_mixture(
  rng: Array,
  num: int,
  latent_dim: int,
  num_components: int = 10,
  radius: float = 2.0,
  std: float = 0.5,
) -> Array:
  """z from an equal-weight mixture of `num_components` Gaussians N(m_k, std^2 I).

  The mixture prior of the adversarial autoencoder (Makhzani et al. 2015, sec. 2.1 and Fig. 4:
  10 Gaussians in 2-D). Means m_k = radius * (cos 2 pi k / K, sin 2 pi k / K, 0, ..., 0) lie on a
  circle in the first two latent dimensions.
  """
  if latent_dim < 2:
    raise ValueError(f"the Gaussian-mixture prior needs latent_dim >= 2; got {latent_dim}.")
  if not (isinstance(num_components, int) and num_components >= 1):
    raise ValueError(f"num_components must be an int >= 1; got {num_components!r}.")
  if not (radius >= 0 and std > 0):
    raise ValueError(f"need radius >= 0 and std > 0; got radius={radius!r}, std={std!r}.")
  component_rng, noise_rng = jax.random.split(rng)
  component = jax.random.randint(component_rng, (num,), 0, num_components)
  angle = 2.0 * jnp.pi * component / num_components
  means = jnp.zeros((num, latent_dim)).at[:, 0].set(jnp.cos(angle)).at[:, 1].set(jnp.sin(angle))
  return radius * means + std * jax.random.normal(noise_rng, (num, latent_dim))


def sample_spike_and_slab(
  rng: Array, num: int, latent_dim: int, slab_probability: float = 0.5
) -> Array:
  """z from p(z) = prod_j (alpha N(z_j; 0, 1) + (1 - alpha) delta(z_j)), alpha = slab_probability.

  The spike-and-slab prior (seed 001; Mitchell & Beauchamp 1988): each coordinate is, independently,
  a standard normal draw with probability alpha and exactly 0 otherwise.
  """
  if not 0.0 <= slab_probability <= 1.0:
    raise ValueError(f"slab_probability must be in [0, 1]; got {slab_probability!r}.")
  slab_rng, value_rng = jax.random.split(rng)
  slab = jax.random.bernoulli(slab_rng, slab_probability, (num, latent_dim))
  return jnp.where(slab, jax.random.normal(value_rng, (num, latent_dim)), 0.0)


LATENT_PRIORS: dict[str, Callable[..., Array]] = {
  "gaussian": sample_standard_normal,
  "gaussian_mixture": sample_gaussian_mixture,
  "spike_and_slab": sample_spike_and_slab,
}


def get_latent_prior(name: str) -> Callable[..., Array]:
  """The prior sampler called `name`; the error lists the valid names."""
  if name not in LATENT_PRIORS:
    raise ValueError(f"Unknown latent prior {name!r}; choose one of {sorted(LATENT_PRIORS)}.")
  return LATENT_PRIORS[name]


# --- sigma_z^2 of each prior, for the IMQ kernel scale C = 2 d_z sigma_z^2 (`imq_scales`). ---
# For a prior that is not N(0, sigma^2 I), sigma_z^2 is the mean per-coordinate variance
# tr Cov_p(z) / d_z: then C = 2 tr Cov_p(z) = E||z - z'||^2 for z, z' ~ p independent, which for
# N(0, sigma^2 I) is Tolstikhin et al.'s 2 d_z sigma^2 (2018, sec. 4).


def standard_normal_variance(latent_dim: int) -> float:
  """sigma_z^2 of `sample_standard_normal`: N(0, I) has variance 1 in every coordinate."""
  del latent_dim
  return 1.0


def gaussian_mixture_variance(
  latent_dim: int, num_components: int = 10, radius: float = 2.0, std: float = 0.5
) -> float:
  """sigma_z^2 = tr Cov(z) / d_z of `sample_gaussian_mixture` (same options and defaults).

  Law of total variance per coordinate j, with the component k uniform on K equal weights:
    Var z_j = E_k[Var(z_j | k)] + Var_k(E[z_j | k]) = std^2 + Var_k(m_kj),
  i.e. the mean of the component variances plus the variance of the component means. The means
  differ only in the first two coordinates, so averaged over the d_z coordinates:
    sigma_z^2 = std^2 + (1 / d_z) sum_j Var_k(m_kj)   (radius^2 / d_z for K >= 3; less for K <= 2).
  """
  angle = 2.0 * math.pi * np.arange(num_components) / num_components
  means = radius * np.stack([np.cos(angle), np.sin(angle)], axis=1)  # [K, 2]; the rest is 0
  between = float(np.sum(np.var(means, axis=0)))  # population variance over equal weights
  return std**2 + between / latent_dim


def spike_and_slab_variance(latent_dim: int, slab_probability: float = 0.5) -> float:
  """sigma_z^2 of `sample_spike_and_slab`: z_j has mean 0, so Var z_j = E z_j^2 = alpha * 1."""
  del latent_dim
  return float(slab_probability)


LATENT_PRIOR_VARIANCES: dict[str, Callable[..., float]] = {
  "gaussian": standard_normal_variance,
  "gaussian_mixture": gaussian_mixture_variance,
  "spike_and_slab": spike_and_slab_variance,
}


def latent_prior_variance(name: str, latent_dim: int, **options) -> float:
  """sigma_z^2 = tr Cov_p(z) / d_z of the prior `name` with the sampler's `options`; the
  `prior_variance` of `imq_scales` (see the note above `standard_normal_variance`)."""
  get_latent_prior(name)  # the same error for an unknown name
  return LATENT_PRIOR_VARIANCES[name](latent_dim, **options)
