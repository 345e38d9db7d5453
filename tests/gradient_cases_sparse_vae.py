"""Gradient cases of the spike-and-slab VAE (Variational Sparse Coding, Tonolini, Jensen &
Murray-Smith 2019) for `tests/test_registry_gradients.py`; the harness is `gradient_harness.py`.

Both players descend the negative ELBO, written out here in plain jnp from the paper: the relaxed
draw z = sigmoid(c (eta - 1 + gamma)) (lambda mu + sigma^lambda eps) (the relaxed spike, with the
authors' spike warm-up lambda) and the closed-form KL between spike-and-slabs (eq. 6). None of
`jaxgen.losses` is called. Noise: (eps_key, eta_key) = split(rng), eps ~ N(0, I) from eps_key,
eta ~ U(0, 1) from eta_key, one draw shared by both players (as `VAE`).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from gradient_cases_autoencoder import (
  bernoulli_nll,
  gaussian_nll,
  labels_of,
  per_player,
  run,
  tiny,
)
from gradient_harness import GradientCase, RefusedCase

from jaxgen.configs import sparse_vae_digits


def sparse_vae_config(conditional=False, **algorithm):
  def config():
    base = tiny(sparse_vae_digits.get_config(), **algorithm)
    base.conditional = conditional
    return base

  return config


def sparse_vae_losses(nll, *, alpha, sharpness, warmup_steps=0):
  """-ELBO = E_q[-log p(x|z)] + KL(q || p) with a spike-and-slab q and p (Tonolini et al. 2019)."""

  def reference(algorithm, state, batch, rng):
    x, labels = batch["x"], labels_of(algorithm, batch)
    # the warm-up's lambda = min(step / warmup_steps, 1), 1 without warm-up (authors' code: lam)
    lam = 1.0 if warmup_steps == 0 else min(int(state.step) / warmup_steps, 1.0)
    eps_key, eta_key = jax.random.split(rng)

    def negative_elbo(params):
      (mu, log_var, logits), _ = run(algorithm, state, "encoder", params["encoder"], x, labels)
      eps = jax.random.normal(eps_key, mu.shape, mu.dtype)
      eta = jax.random.uniform(eta_key, mu.shape, mu.dtype)
      gamma = 1.0 / (1.0 + jnp.exp(-logits))
      # z = T(eta - 1 + gamma) (mu + sigma eps), T(y) = sigmoid(c y)  (Tonolini et al. 2019)
      selector = 1.0 / (1.0 + jnp.exp(-sharpness * (eta - 1.0 + gamma)))
      z = selector * (lam * mu + jnp.exp(0.5 * lam * log_var) * eps)
      decoded, _ = run(algorithm, state, "decoder", params["decoder"], z, labels)
      # KL = sum_j [-gamma/2 (1 + log s^2 - mu^2 - s^2) + (1 - gamma) log((1 - gamma) / (1 - alpha))
      #             + gamma log(gamma / alpha)]  (Tonolini et al. 2019, eq. 6)
      kl = jnp.sum(
        -0.5 * gamma * (1.0 + log_var - mu**2 - jnp.exp(log_var))
        + (1.0 - gamma) * (jnp.log(1.0 - gamma) - math.log(1.0 - alpha))
        + gamma * (jnp.log(gamma) - math.log(alpha)),
        axis=-1,
      )
      return jnp.mean(nll(x, decoded)) + jnp.mean(kl)

    return per_player(algorithm, state, {"encoder": negative_elbo, "decoder": negative_elbo})

  return reference


def at_step(step):
  return lambda algorithm, state: state.replace(step=jnp.asarray(step, state.step.dtype))


CASES = [
  GradientCase(
    "sparse_vae",
    "bernoulli_alpha0.2_c100",
    sparse_vae_config(slab_probability=0.2, selector_sharpness=100.0, spike_warmup_steps=0),
    sparse_vae_losses(bernoulli_nll, alpha=0.2, sharpness=100.0),
  ),
  GradientCase(
    "sparse_vae",
    "cvae_gaussian_std0.3_alpha0.6_c5_warmup_step1_of_4",
    sparse_vae_config(
      conditional=True,
      reconstruction={"name": "gaussian", "std": 0.3},
      slab_probability=0.6,
      selector_sharpness=5.0,
      spike_warmup_steps=4,
    ),
    sparse_vae_losses(gaussian_nll(0.3), alpha=0.6, sharpness=5.0, warmup_steps=4),
    prepare=at_step(1),
  ),
  RefusedCase(
    "sparse_vae",
    "slab_probability_one_is_the_vae",
    sparse_vae_config(slab_probability=1.0),
    match="strictly between 0 and 1",
  ),
]
