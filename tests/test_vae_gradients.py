"""The IWAE bound of `VAE.iwae_bound` (Burda et al. 2016, eq. 8) against a hand-built bound, in
float64: value, gradient w.r.t. the encoder's and decoder's params (jax.grad of the hand-built
bound, and central finite differences), and k = 1 against the one-sample ELBO built by hand.

Also: the autoencoder gradient cases (`gradient_cases_autoencoder.py`) cover every likelihood,
GAN objective, prior and switch they are meant to.

The hand-built pieces (the Bernoulli and Gaussian decoders' log-likelihoods, the closed-form KL)
are those of `gradient_cases_autoencoder`, written from the papers; no `jaxgen.losses` function is
called. The networks run in inference mode, as `iwae_bound` runs them.
"""

from __future__ import annotations

import functools
import math

import gradient_cases_autoencoder as cases
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gradient_harness import (
  FD_ATOL,
  FD_DIRECTIONS,
  FD_EPSILON,
  FD_RTOL,
  GRAD_ATOL,
  GRAD_RTOL,
  GradientCase,
  build,
  random_direction,
)

from jaxgen import losses
from jaxgen.algorithms import vae

LOG_2PI = math.log(2.0 * math.pi)
PLAYERS = ("encoder", "decoder")

# label -> (config, the decoder's -log p(x|h) written by hand)
MODELS = {
  "bernoulli": (cases.vae_config(reconstruction={"name": "bernoulli"}), cases.bernoulli_nll),
  "gaussian_std0.3": (
    cases.vae_config(reconstruction={"name": "gaussian", "std": 0.3}),
    cases.gaussian_nll(0.3),
  ),
  "cvae_bernoulli": (
    cases.vae_config(conditional=True, reconstruction={"name": "bernoulli"}),
    cases.bernoulli_nll,
  ),
}


@functools.cache
def setup(label):
  """(algorithm, float64 state with non-zero biases, batch) of MODELS[label]; built under x64."""
  with jax.enable_x64(True):
    algorithm, state, batch = build(MODELS[label][0]())
    return algorithm, cases.nonzero_biases(algorithm, state), batch


def with_params(state, params):
  players = dict(state.players)
  for name, own in params.items():
    players[name] = players[name].replace(params=own)
  return state.replace(players=players)


def apply_inference(algorithm, state, player, params, *args):
  """The player's module in inference mode (running statistics), as `iwae_bound` runs it."""
  variables = {"params": params, **state.players[player].model_state}
  return algorithm.players[player].module.apply(variables, *args, train=False)


def hand_log_weights(algorithm, state, params, x, labels, rng, k, nll):
  """log w_i = log p(x|h_i) + log p(h_i) - log q(h_i|x), h_i ~ q(h|x), [k, B], with
  h_i = mu + sigma * eps_i and eps [k, B, d] drawn from rng as `iwae_bound` draws it."""
  mean, log_variance = apply_inference(algorithm, state, "encoder", params["encoder"], x, labels)
  eps = jax.random.normal(rng, (k, *mean.shape), mean.dtype)
  h = mean + jnp.exp(0.5 * log_variance) * eps  # (Kingma & Welling 2014, eq. 10)
  repeat = lambda a: None if a is None else jnp.concatenate([a] * k, axis=0)
  logits = apply_inference(
    algorithm, state, "decoder", params["decoder"], h.reshape((-1, mean.shape[-1])), repeat(labels)
  )
  log_likelihood = -nll(repeat(x), logits).reshape((k, -1))
  # log p(h) = log N(h; 0, I) = -1/2 sum_j (h_j^2 + log 2 pi)  (Burda et al. 2016, sec. 2)
  log_prior = -0.5 * jnp.sum(h**2 + LOG_2PI, axis=-1)
  # log q(h|x) = -1/2 sum_j ((h_j - mu_j)^2 / sigma_j^2 + log 2 pi sigma_j^2)  (Burda et al. sec. 2)
  log_posterior = -0.5 * jnp.sum(
    (h - mean) ** 2 / jnp.exp(log_variance) + log_variance + LOG_2PI, axis=-1
  )
  return log_likelihood + log_prior - log_posterior


def hand_iwae_bound(log_weights):
  # L_k = log (1/k) sum_i w_i, as a log-mean-exp over the k samples  (Burda et al. 2016, eq. 8)
  shift = jax.lax.stop_gradient(jnp.max(log_weights, axis=0))
  return shift + jnp.log(jnp.mean(jnp.exp(log_weights - shift), axis=0))


def inputs(algorithm, batch):
  return batch["x"], cases.labels_of(algorithm, batch)


def params_of(state):
  return {name: state.players[name].params for name in PLAYERS}


def assert_trees_close(got, want, rtol, atol, what):
  for (path, g), w in zip(
    jax.tree_util.tree_leaves_with_path(got), jax.tree.leaves(want), strict=True
  ):
    np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=f"{what} {path}")


def assert_matches_finite_differences(grads, loss, params, seed):
  """<grads, v> against central differences of `loss` along random directions v."""
  for index in range(FD_DIRECTIONS):
    v = random_direction(params, seed + index)
    shifted = lambda sign, v=v: jax.tree.map(lambda p, u: p + sign * FD_EPSILON * u, params, v)
    numeric = (loss(shifted(1.0)) - loss(shifted(-1.0))) / (2 * FD_EPSILON)
    analytic = sum(
      jnp.vdot(g, d) for g, d in zip(jax.tree.leaves(grads), jax.tree.leaves(v), strict=True)
    )
    np.testing.assert_allclose(float(analytic), float(numeric), rtol=FD_RTOL, atol=FD_ATOL)


# k samples of 2 examples: the decoder sees k * 2 = 8 rows, the shapes the gradient cases compiled.
IWAE_EXAMPLES = 2


@pytest.mark.parametrize("label", list(MODELS))
def test_iwae_bound_gradient_matches_hand_built_bound(label):
  algorithm, state, batch = setup(label)
  nll = MODELS[label][1]
  k = cases.BATCH_SIZE // IWAE_EXAMPLES
  with jax.enable_x64(True):
    x, labels = inputs(algorithm, batch)
    x, labels = x[:IWAE_EXAMPLES], None if labels is None else labels[:IWAE_EXAMPLES]
    rng = jax.random.key(7)
    params = params_of(state)

    def library(params):
      return jnp.mean(algorithm.iwae_bound(with_params(state, params), x, rng, k, labels))

    def hand(params):
      return jnp.mean(
        hand_iwae_bound(hand_log_weights(algorithm, state, params, x, labels, rng, k, nll))
      )

    np.testing.assert_allclose(float(library(params)), float(hand(params)), rtol=1e-12)
    grads = jax.grad(library)(params)
    assert_trees_close(grads, jax.grad(hand)(params), GRAD_RTOL, GRAD_ATOL, f"{label} k={k}")
    assert_matches_finite_differences(grads, hand, params, seed=k)


def test_iwae_bound_with_one_sample_is_the_hand_built_elbo():
  """k = 1: L_1 = log p(x|h) + log p(h) - log q(h|x), one h ~ q(h|x), the ELBO estimate of
  Kingma & Welling 2014, eq. 6 (Burda et al. 2016, sec. 3: L_1 is the VAE's bound)."""
  algorithm, state, batch = setup("bernoulli")
  with jax.enable_x64(True):
    x, labels = inputs(algorithm, batch)
    rng = jax.random.key(3)
    params = params_of(state)

    def library(params):
      return algorithm.iwae_bound(with_params(state, params), x, rng, 1, labels)

    def hand_elbo(params):
      mean, log_variance = apply_inference(
        algorithm, state, "encoder", params["encoder"], x, labels
      )
      h = mean + jnp.exp(0.5 * log_variance) * jax.random.normal(rng, (1, *mean.shape))[0]
      logits = apply_inference(algorithm, state, "decoder", params["decoder"], h, labels)
      sigma2 = jnp.exp(log_variance)
      # log p(x|h) + log N(h; 0, I) - log N(h; mu, sigma^2)  (Kingma & Welling 2014, eq. 6)
      return (
        -cases.bernoulli_nll(x, logits)
        - 0.5 * jnp.sum(h**2, axis=-1)
        + 0.5 * jnp.sum((h - mean) ** 2 / sigma2 + log_variance, axis=-1)
      )

    np.testing.assert_allclose(library(params), hand_elbo(params), rtol=1e-12, atol=1e-12)
    mean_of = lambda f: lambda p: jnp.mean(f(p))
    grads = jax.grad(mean_of(library))(params)
    assert_trees_close(grads, jax.grad(mean_of(hand_elbo))(params), GRAD_RTOL, GRAD_ATOL, "k=1")

    # The analytic-KL ELBO (K&W 2014, eq. 10): `elbo` with the same single draw.
    def hand_analytic_elbo(params):
      mean, log_variance = apply_inference(
        algorithm, state, "encoder", params["encoder"], x, labels
      )
      h = mean + jnp.exp(0.5 * log_variance) * jax.random.normal(rng, (1, *mean.shape))[0]
      logits = apply_inference(algorithm, state, "decoder", params["decoder"], h, labels)
      return -cases.bernoulli_nll(x, logits) - cases.gaussian_kl(mean, log_variance)

    np.testing.assert_allclose(
      algorithm.elbo(state, x, rng, 1, labels), hand_analytic_elbo(params), rtol=1e-12
    )


def test_autoencoder_cases_cover_the_registries():
  """Every likelihood, every GAN objective the AAE takes or refuses, every prior (AAE and
  WAE-MMD), both encoders, and each VAE-GAN option value has a case."""
  gradient = [c for c in cases.CASES if isinstance(c, GradientCase)]
  by_algorithm = lambda name: [c.config() for c in gradient if c.algorithm == name]
  vae_likelihoods = {c.algorithm.reconstruction["name"] for c in by_algorithm("vae")}
  assert set(vae.LIKELIHOODS) <= vae_likelihoods
  assert any(c.conditional for c in by_algorithm("vae"))
  aae = by_algorithm("aae")
  aae_objectives = {c.objective for c in cases.CASES if c.algorithm == "aae"}
  assert set(losses.GAN_OBJECTIVES) <= aae_objectives
  assert set(losses.LATENT_PRIORS) <= {c.algorithm.prior["name"] for c in aae}
  assert {True, False} <= {bool(c.algorithm.stochastic_encoder) for c in aae}
  wae = by_algorithm("wae")
  mmd = [c for c in wae if c.algorithm.penalty == "mmd"]
  assert set(losses.LATENT_PRIORS) <= {c.algorithm.prior["name"] for c in mmd}
  assert {"mmd", "gan"} <= {c.algorithm.penalty for c in wae}
  vaegan = by_algorithm("vaegan")
  for option, values in (
    ("loss", {"minimax", "non_saturating"}),
    ("feed_reconstructions", {True, False}),
    ("feature_reduction", set(losses.FEATURE_REDUCTIONS)),
  ):
    assert values <= {c.algorithm[option] for c in vaegan}, option
  assert all(c.algorithm.equilibrium_gating for c in vaegan)
