"""The adversarial autoencoder (Makhzani et al. 2015): a discriminator on the latent code makes the
aggregated posterior q(z) match a prior p(z) that only has to be sampled from.

Players `encoder`, `decoder`, `discriminator` (an MLP on z), in two phases per step, each on its own
batch, with z~ = Enc(x) (deterministic, or reparameterised when `stochastic_encoder`):

  phase 0, discriminator:  descend -[log D(z_p) + log(1 - D(z~))],  z_p ~ p(z)
  phase 1, encoder:        descend c(x, Dec(z~)) + lambda * L_G(D(z~))
           decoder:        descend c(x, Dec(z~))

with c the reconstruction cost (`algorithm.reconstruction`), L_G the generator loss of
`algorithm.loss` (non-saturating -log D by default) and lambda = `algorithm.penalty_weight`.
Makhzani et al. (sec. 2) update the autoencoder on c, then D, then the encoder as D's generator, in
separate SGD steps; one player has one gradient function in jaxgen's loop, so the encoder's two
steps are one step on their lambda-weighted sum — Algorithm 1 of Tolstikhin et al. 2018 (WAE-GAN),
who show this is the same objective (their sec. 4: WAE-GAN is an AAE with cost c and weight lambda).

Priors (`algorithm.prior`, `jaxgen.losses.LATENT_PRIORS`): "gaussian" N(0, I), "gaussian_mixture"
(Makhzani et al. Fig. 4) and "spike_and_slab" p(z) = prod_j (alpha N(z_j; 0, 1) + (1 - alpha)
delta(z_j)) (seed 001).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from jaxgen import losses
from jaxgen.algorithms import adversarial
from jaxgen.algorithms import stabiliser_rules as rules
from jaxgen.algorithms.adversarial import Adversary
from jaxgen.algorithms.base import register
from jaxgen.algorithms.vae import Autoencoder
from jaxgen.nn import precision as precision_lib
from jaxgen.options import REQUIRED, Option, flag, number


def build_prior(config, latent_dim: int):
  """The prior sampler `(rng, num) -> z` from `{"name": ..., **options}`; checked by one draw."""
  options = dict(config)
  sampler = losses.get_latent_prior(options.pop("name", None))
  prior = functools.partial(sampler, latent_dim=latent_dim, **options)
  try:
    prior(jax.random.key(0), 2)
  except TypeError as error:  # an unknown option
    raise ValueError(
      f"Bad options {sorted(options)} for the prior {sampler.__name__}: {error}"
    ) from None
  return lambda rng, num: prior(rng, num)


# The options AAE and WAE share (Makhzani et al. 2016; Tolstikhin et al. 2018).
# fold_in tag of the prior draw in the autoencoder's phase (the adversary's tags are 1 to 3).
ENCODER_PRIOR = 4

PRIOR_MATCHING_OPTIONS = (
  Option(
    "prior",
    REQUIRED,
    "p(z), {'name': ..., **options} (losses.LATENT_PRIORS)",
    choices=lambda: losses.LATENT_PRIORS,
  ),
  Option("penalty_weight", 1.0, "lambda of the prior-matching term", check=number(0)),
  adversarial.LOSS_OPTION,
  Option("stochastic_encoder", False, "q(z|x) Gaussian (True) or deterministic", check=flag),
  adversarial.STABILISERS_OPTION,
)


def init_prior_matching(autoencoder: Autoencoder, config, dataset) -> None:
  """The part AAE and WAE share: the autoencoder, the prior p(z) and the penalty weight lambda."""
  algorithm = config.algorithm
  Autoencoder.__init__(
    autoencoder, config, dataset, stochastic_encoder=bool(algorithm.stochastic_encoder)
  )
  autoencoder.prior = build_prior(algorithm.prior, autoencoder.latent_dim)
  autoencoder.penalty_weight = float(algorithm.penalty_weight)
  if not autoencoder.penalty_weight >= 0:
    raise ValueError(f"algorithm.penalty_weight must be >= 0; got {algorithm.penalty_weight!r}.")


def latent_critic_provides(objective) -> rules.Provides:
  """What a discriminator on codes offers the stabilisers: its inputs (codes and prior samples)
  and weights pass through the critic, its logits through the objective; no history, replay,
  feature matching or generator EMA is wired into the autoencoder's players."""
  provides = {rules.LOGITS, rules.PER_SAMPLE, rules.INPUTS, rules.WEIGHTS, rules.UNCONDITIONAL}
  return frozenset(provides | ({rules.TARGETS} if objective.has_real_target else set()))


@register("aae")
class AdversarialAutoencoder(Autoencoder):
  """AAE; see the module docstring. Config: `algorithm.prior`, `algorithm.penalty_weight`,
  `algorithm.loss`, `algorithm.stochastic_encoder`, `algorithm.reconstruction`,
  `algorithm.stabilisers` and `algorithm.penalty` (a gradient penalty on D, as in the GAN; WAE-GAN
  has none: its `algorithm.penalty` names the divergence); `model.encoder`, `model.decoder`,
  `model.discriminator` (an 'mlp' on z); `optimizer.<player>`."""

  PLAYERS = {**Autoencoder.PLAYERS, "discriminator": "discriminator"}
  OPTIONS = (*PRIOR_MATCHING_OPTIONS, adversarial.PENALTY_OPTION)

  def __init__(self, config, dataset, *, gradient_penalty: bool = True):
    algorithm = config.algorithm
    init_prior_matching(self, config, dataset)
    self.adversary = Adversary.from_config(
      algorithm,
      config.model.discriminator,
      example_shape=(self.latent_dim,),
      num_classes=0,
      penalty=algorithm.get("penalty") if gradient_penalty else None,
      precision=precision_lib.from_config(config),
    )
    self.objective, self.critic = self.adversary.objective, self.adversary.critic
    rules.check_stabilisers(
      f"algorithm {algorithm.name!r} with loss {algorithm.loss!r}",
      latent_critic_provides(self.objective),
      self.adversary.stabilisers,
      self.adversary.penalty_name,
      network=self.critic.network,
    )
    self.discriminator = self.critic.module
    self.weights = {
      "discriminator": {"discriminator": 1.0},
      "encoder": {"reconstruction": 1.0, "adversarial": self.penalty_weight},
      "decoder": {"reconstruction": 1.0},
    }
    terms_fns = {"discriminator": self.discriminator_terms}
    terms_fns.update({name: self.autoencoder_terms for name in ("encoder", "decoder")})
    modules = {
      "encoder": self.encoder,
      "decoder": self.decoder,
      "discriminator": self.discriminator,
    }
    self.players = {
      name: self._player(
        config, name, modules[name], self.weighted_grad_fn(name, terms, self.weights[name])
      )
      for name, terms in terms_fns.items()
    }
    self.schedule = (("discriminator",), ("encoder", "decoder"))

  def prior_samples(self, rng, num):
    """z ~ p(z) (`algorithm.prior`), `num` codes [num, latent_dim]."""
    return self.prior(rng, num)

  def init_variables(self, rng, batch):
    """The autoencoder's variables and D's, D initialised on prior samples [B, latent_dim]."""
    ae_rng, dis_rng = jax.random.split(rng)
    variables = super().init_variables(ae_rng, batch)
    z = self.prior_samples(dis_rng, batch["x"].shape[0])
    spectral_rng = jax.random.fold_in(dis_rng, 1)
    variables["discriminator"] = self.critic.init(dis_rng, spectral_rng, z, None)
    return variables

  def discriminator_terms(self, params, state, batch, key):
    """D's objective with p(z) samples as real and codes Enc(x) as fake, e.g. -[E log D(z_p) +
    E log(1 - D(Enc(x)))] (Makhzani et al. 2015, sec. 2; Goodfellow et al. 2014, eq. 1)."""
    x, labels = batch["x"], self._labels(batch)
    eps_key, prior_key = jax.random.split(key)
    z, _, encoder_state = self.encode_train(params, state, x, labels, eps_key)
    z_prior = self.prior_samples(prior_key, x.shape[0])
    d_state = state.players["discriminator"].model_state
    loss, _, dis_state, metrics = self.adversary.discriminator_loss(
      state.step, params["discriminator"], d_state, z_prior, z, None, key
    )
    terms = {"discriminator": loss}
    return terms, {"discriminator": dis_state, "encoder": encoder_state}, metrics

  def autoencoder_terms(self, params, state, batch, key):
    """c(x, Dec(Enc(x))) and the encoder's generator loss on D(Enc(x)), with D on fresh prior
    samples as its real batch (read by a relativistic loss only); D's statistics stay."""
    x, labels = batch["x"], self._labels(batch)
    z, _, encoder_state = self.encode_train(params, state, x, labels, key)
    logits, decoder_state = self.run(self.decoder, params["decoder"], state, "decoder", z, labels)
    d_state = state.players["discriminator"].model_state
    z_prior = self.prior_samples(jax.random.fold_in(key, ENCODER_PRIOR), x.shape[0])
    adversarial, _ = self.adversary.generator_loss(
      state.step, params["discriminator"], d_state, z, z_prior, None, key
    )
    terms = {
      "reconstruction": jnp.mean(self.reconstruction(x, logits)),
      "adversarial": adversarial,
    }
    return terms, {"encoder": encoder_state, "decoder": decoder_state}, {}
