"""The Wasserstein autoencoder (Tolstikhin et al. 2018): minimise a cost c(x, Dec(z~)) plus lambda
times a divergence between the aggregated posterior q(z) and the prior p(z), with a deterministic
(or Gaussian) encoder.

`algorithm.penalty` chooses the divergence:
- "mmd" (WAE-MMD, their Algorithm 2): the unbiased MMD^2 estimate with the inverse multiquadratics
  kernel k(x, y) = C / (C + ||x - y||^2), summed over C in `losses.imq_scales(d_z, sigma_z^2)` (base
  C = 2 d_z sigma_z^2, as in the authors' code; sigma_z^2 = tr Cov_p(z) / d_z of the configured
  prior, `losses.latent_prior_variance`). Players `encoder` and `decoder` in one phase:
    Enc descends c(x, Dec(z~)) + lambda * MMD^2({z~_i}, {z_i}),   Dec descends c(x, Dec(z~)).
- "gan" (WAE-GAN, their Algorithm 1): a discriminator in latent space, i.e. the adversarial
  autoencoder with cost c and weight lambda (their sec. 4); see `jaxgen.algorithms.aae`.
Their MNIST setting: c = ||x - y||^2 ('l2sq'), lambda = 10, d_z = 8, Adam lr 1e-3 (5e-4 for the
adversary), beta1 0.5, batch 100 (authors' `configs.py`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxgen import losses
from jaxgen.algorithms.aae import (
  PRIOR_MATCHING_OPTIONS,
  AdversarialAutoencoder,
  init_prior_matching,
)
from jaxgen.algorithms.base import register
from jaxgen.algorithms.vae import Autoencoder
from jaxgen.options import REQUIRED, Option


class WAEMMD(Autoencoder):
  """WAE-MMD; see the module docstring. Config: `algorithm.penalty_weight` (lambda),
  `algorithm.prior`, `algorithm.stochastic_encoder`, `algorithm.reconstruction`."""

  def __init__(self, config, dataset):
    init_prior_matching(self, config, dataset)
    prior = dict(config.algorithm.prior)  # sigma_z^2 of the configured prior, not always 1
    variance = losses.latent_prior_variance(prior.pop("name"), self.latent_dim, **prior)
    self.scales = losses.imq_scales(self.latent_dim, variance)
    self.weights = {
      "encoder": {"reconstruction": 1.0, "mmd": self.penalty_weight},
      "decoder": {"reconstruction": 1.0},
    }
    self.players = {
      name: self._player(
        config, name, module, self.weighted_grad_fn(name, self.terms, self.weights[name])
      )
      for name, module in (("encoder", self.encoder), ("decoder", self.decoder))
    }
    self.schedule = (("encoder", "decoder"),)

  def prior_samples(self, rng, num):
    """z ~ p(z) (`algorithm.prior`), `num` codes [num, latent_dim]."""
    return self.prior(rng, num)

  def terms(self, params, state, batch, key):
    """Batch mean of c(x, Dec(Enc(x))) and MMD^2_k(q(z), p(z)) (Tolstikhin et al. 2018, Alg. 2)."""
    x, labels = batch["x"], self._labels(batch)
    eps_key, prior_key = jax.random.split(key)
    z, _, encoder_state = self.encode_train(params, state, x, labels, eps_key)
    logits, decoder_state = self.run(self.decoder, params["decoder"], state, "decoder", z, labels)
    terms = {
      "reconstruction": jnp.mean(self.reconstruction(x, logits)),
      "mmd": losses.mmd_imq(z, self.prior_samples(prior_key, x.shape[0]), self.scales),
    }
    return terms, {"encoder": encoder_state, "decoder": decoder_state}, {}


class WAEGAN(AdversarialAutoencoder):
  """WAE-GAN: the AAE with cost c and weight lambda (Tolstikhin et al. 2018, sec. 4); no gradient
  penalty (`algorithm.penalty` names the divergence here)."""

  def __init__(self, config, dataset):
    super().__init__(config, dataset, gradient_penalty=False)


PENALTIES = {"mmd": WAEMMD, "gan": WAEGAN}


@register("wae")
def WAE(config, dataset):  # noqa: N802 — a factory that stands where a class is registered
  """WAE-MMD or WAE-GAN by `config.algorithm.penalty`; the error lists the choices."""
  penalty = config.algorithm.penalty
  if penalty not in PENALTIES:
    raise ValueError(f"Unknown algorithm.penalty {penalty!r}; choose one of {sorted(PENALTIES)}.")
  return PENALTIES[penalty](config, dataset)


# WAE-MMD has no discriminator; a config keeps its blocks for --config.algorithm.penalty=gan.
WAE.PLAYERS = AdversarialAutoencoder.PLAYERS
WAE.OPTIONAL_PLAYERS = ("discriminator",)
WAE.EVALUATORS = Autoencoder.EVALUATORS
WAE.OPTIONS = (
  *Autoencoder.OPTIONS,
  *PRIOR_MATCHING_OPTIONS,
  Option("penalty", REQUIRED, "the divergence D_Z: 'mmd' or 'gan' (sec. 2.2)", choices=PENALTIES),
)
