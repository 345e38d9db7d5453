"""The variational autoencoder (Kingma & Welling 2014), conditional with `conditional=True` (CVAE,
Sohn et al. 2015), and what every autoencoder algorithm of jaxgen shares.

Players: `encoder` and `decoder`, in ONE phase. Each descends the negative ELBO
  -L(x) = -E_q(z|x)[log p(x|z)] + KL(q(z|x) || p(z))          (Kingma & Welling 2014, eq. 3)
w.r.t. its own parameters, at the same parameter point and on the same noise draw, so together they
take exactly the joint gradient step of a single-optimizer VAE, with an optimizer per network. Two
players rather than one keep the parameter layout of VAE-GAN, AAE and WAE: their encoder and decoder
are the same players, with other losses.

Shared pieces (used by `vaegan`, `aae`, `wae`):
- `Autoencoder`: the networks from the config, inference-mode `encode` / `decode` / `reconstruct` /
  `sample`, and `player_grads`, the gradient of a weighted sum of named loss terms w.r.t. one
  player's parameters. An algorithm states each player's loss as weights over the terms of its
  phase (e.g. VAE-GAN's decoder: {"llike": gamma, "gan": -1}), which is the paper's table read
  literally.
- The reconstruction terms by name (`reconstructions`; their names are importable from here).
- Shared noise: every autoencoder player `shares_phase_noise`, so the players of a phase receive
  one key from `make_train_step` and see one draw of the noise (eps, z ~ p(z)), as in reference
  implementations where one forward pass serves all three VAE-GAN updates.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp

from jaxgen import losses, optim
from jaxgen.algorithms.base import (
  AlgorithmBase,
  Evaluation,
  Player,
  TrainState,
  apply_module,
  register,
)
from jaxgen.algorithms.reconstructions import (
  LIKELIHOODS,
  RECONSTRUCTIONS,
  build_reconstruction,
  check_positive_int,
  reconstruction_option,
)
from jaxgen.nn import autoencoder as ae_nets
from jaxgen.nn import precision as precision_lib
from jaxgen.nn.registry import DECODERS, ENCODERS, build_network

Terms = dict[str, jax.Array]
# terms_fn(params by player, state, batch, key) -> (loss terms, model states by player, metrics)
TermsFn = Callable[[dict[str, Any], TrainState, Mapping[str, jax.Array], jax.Array], tuple]
# The reconstruction terms live in `reconstructions`; their names stay importable from here.
__all__ = [
  "LIKELIHOODS",
  "RECONSTRUCTIONS",
  "VAE",
  "Autoencoder",
  "build_reconstruction",
  "check_positive_int",
  "reconstruction_option",
]


class Autoencoder(AlgorithmBase):
  """The networks and inference-mode operations every autoencoder algorithm shares.

  Subclasses set `players` and `schedule`, and may replace `prior_samples` (AAE, WAE).
  """

  PLAYERS = {"encoder": "encoder", "decoder": "decoder"}
  OPTIONS = (reconstruction_option(tuple(RECONSTRUCTIONS)),)
  EVALUATORS = (Evaluation("images"), Evaluation("reconstruction"))

  def __init__(
    self,
    config,
    dataset,
    *,
    reconstructions=tuple(RECONSTRUCTIONS),
    stochastic_encoder=True,
    spike_and_slab=False,
  ):
    self.stochastic_encoder = stochastic_encoder
    self.latent_dim = check_positive_int("model.latent_dim", config.model.latent_dim)
    self.conditional = bool(config.conditional)
    if self.conditional and dataset.num_classes == 0:
      raise ValueError(f"conditional=True needs labelled data; {dataset.name!r} has no labels.")
    self.num_classes = dataset.num_classes if self.conditional else 0
    self.example_shape = tuple(dataset.example_shape)
    facts = dict(example_shape=self.example_shape, num_classes=self.num_classes)
    precision = precision_lib.from_config(config)
    self.encoder = build_network(
      ENCODERS,
      "encoder",
      config.model.encoder,
      latent_dim=self.latent_dim,
      stochastic=self.stochastic_encoder,
      spike_and_slab=spike_and_slab,  # the sparse VAE's third head (Tonolini et al. 2019)
      precision=precision,
      **facts,
    )
    self.decoder = build_network(
      DECODERS, "decoder", config.model.decoder, precision=precision, **facts
    )
    self.reconstruction_name = config.algorithm.reconstruction.get("name")
    self.reconstruction = build_reconstruction(config.algorithm.reconstruction, reconstructions)

  def _labels(self, batch):
    return batch["y"] if self.conditional else None

  def _player(self, config, name, module, grad_fn, optimizer=None):
    optimizer = optimizer or optim.make_optimizer(config.optimizer[name])
    # The players of a phase get the phase's one key: one noise draw serves all their losses.
    return Player(name, module, optimizer, grad_fn, shares_phase_noise=True)

  def weighted_grad_fn(self, name, terms_fn: TermsFn, weights):
    """grad_fn of a player whose loss is sum_k weights[k] * terms_fn(...)[k]; its rng is the
    phase's shared noise key (the player `shares_phase_noise`)."""

    def grad_fn(state, batch, rng):
      return self.player_grads(state, batch, name, terms_fn, weights, rng)

    grad_fn.__doc__ = f"Gradient of {dict(weights)} w.r.t. the {name}'s parameters only."
    return grad_fn

  def player_grads(self, state, batch, name, terms_fn: TermsFn, weights, key):
    """Gradient of sum_k weights[k] * term_k w.r.t. player `name`'s params, the terms drawn with
    noise `key`; the other players' params are constants here. Returns (grads, the player's new
    model state, metrics)."""
    params = {player: state.players[player].params for player in self.players}

    def loss_fn(own):
      terms, model_states, metrics = terms_fn({**params, name: own}, state, batch, key)
      loss = sum(weight * terms[term] for term, weight in weights.items())
      return loss, (model_states[name], {**terms, **metrics})

    (loss, (model_state, metrics)), grads = jax.value_and_grad(loss_fn, has_aux=True)(params[name])
    return grads, model_state, {"loss": loss, **metrics}

  def run(self, module, params, state: TrainState, player: str, *args, model_state=None):
    """`module` in training mode with `params`; returns (output, the player's new model state)."""
    if model_state is None:
      model_state = state.players[player].model_state
    return apply_module(module, params, model_state, *args, train=True)

  def encode_train(self, params, state: TrainState, x, labels, key):
    """z ~ q(z|x) reparameterised (Kingma & Welling 2014, eq. 10), or the deterministic code, in
    training mode; returns (z, (mean, log_variance), the encoder's new model state)."""
    (mean, log_variance), encoder_state = self.run(
      self.encoder, params["encoder"], state, "encoder", x, labels
    )
    z = mean if log_variance is None else losses.reparameterize(key, mean, log_variance)
    return z, (mean, log_variance), encoder_state

  def init_variables(self, rng, batch):
    """Encoder and decoder variables, initialised on the batch's x, its labels and zero codes."""
    enc_rng, dec_rng = jax.random.split(rng)
    labels = self._labels(batch)
    z = jnp.zeros((batch["x"].shape[0], self.latent_dim))
    return {
      "encoder": self.encoder.init(enc_rng, batch["x"], labels, train=False),
      "decoder": self.decoder.init(dec_rng, z, labels, train=False),
    }

  def prior_samples(self, rng, num):
    """z ~ p(z) = N(0, I) (Kingma & Welling 2014, sec. 3)."""
    return losses.sample_standard_normal(rng, num, self.latent_dim)

  def encode(self, state: TrainState, x, labels=None):
    """(mean, log-variance) of q(z|x), or (z, None) from a deterministic encoder; inference mode."""
    e = state.players["encoder"]
    encoded, _ = apply_module(self.encoder, e.params, e.model_state, x, labels, train=False)
    return encoded

  def decode_logits(self, state: TrainState, z, labels=None):
    """The decoder's logits [B, *example_shape] for z (`logits_to_image` maps them to images)."""
    d = state.players["decoder"]
    logits, _ = apply_module(self.decoder, d.params, d.model_state, z, labels, train=False)
    return logits

  def decode(self, state: TrainState, z, labels=None):
    """Images in [-1, 1] decoded from z, in inference mode."""
    return ae_nets.logits_to_image(self.decode_logits(state, z, labels))

  def code(self, state: TrainState, x, labels=None):
    """The deterministic code of x that figures decode: the mean of q(z|x), or the code of a
    deterministic encoder; inference mode."""
    return self.encode(state, x, labels)[0]

  def reconstruct(self, state: TrainState, x, labels=None):
    """Dec(code(x)): the deterministic reconstruction shown in figures."""
    return self.decode(state, self.code(state, x, labels), labels)

  def transfer_style(self, state: TrainState, x, labels, new_labels):
    """Decode x's code under other labels: same style, another class (Sohn et al. 2015, sec. 5;
    Kingma et al. 2014, sec. 5.2 'analogies'). Needs a conditional model."""
    if not self.conditional:
      raise ValueError("transfer_style needs a conditional model (config.conditional=True).")
    return self.decode(state, self.code(state, x, labels), new_labels)

  def sample(self, state: TrainState, rng, num, labels=None):
    """`num` images Dec(z), z ~ p(z), in inference mode; labels cycle 0..9 when conditional."""
    if self.conditional and labels is None:
      labels = jnp.arange(num) % self.num_classes
    return self.decode(state, self.prior_samples(rng, num), labels if self.conditional else None)


@register("vae")
class VAE(Autoencoder):
  """VAE / CVAE: Gaussian encoder, Bernoulli or Gaussian decoder, closed-form KL; see the module
  docstring. Config: `algorithm.reconstruction` = {"name": "bernoulli"} or {"name": "gaussian",
  "std": s}; `model.encoder`, `model.decoder`, `model.latent_dim`; `optimizer.encoder|decoder`."""

  # Both players descend -ELBO = reconstruction + KL (Kingma & Welling 2014, eq. 3 and 10).
  WEIGHTS = {"reconstruction": 1.0, "kl": 1.0}

  OPTIONS = (reconstruction_option(LIKELIHOODS),)
  EVALUATORS = (Evaluation("images"), Evaluation("elbo"))

  def __init__(self, config, dataset, **autoencoder_options):
    super().__init__(config, dataset, reconstructions=LIKELIHOODS, **autoencoder_options)
    self.players = {
      name: self._player(
        config, name, module, self.weighted_grad_fn(name, self.elbo_terms, self.WEIGHTS)
      )
      for name, module in (("encoder", self.encoder), ("decoder", self.decoder))
    }
    self.schedule = (("encoder", "decoder"),)

  def elbo_terms(self, params, state, batch, key):
    """Batch means of -E_q[log p(x|z)] (one reparameterised sample, K&W 2014 eq. 10) and the
    closed-form KL(q(z|x) || p(z)) (`posterior_kl`)."""
    x, labels = batch["x"], self._labels(batch)
    z, posterior, encoder_state = self.encode_train(params, state, x, labels, key)
    logits, decoder_state = self.run(self.decoder, params["decoder"], state, "decoder", z, labels)
    terms = {
      "reconstruction": jnp.mean(self.reconstruction(x, logits)),
      "kl": jnp.mean(self.posterior_kl(*posterior)),
    }
    model_states = {"encoder": encoder_state, "decoder": decoder_state}
    return terms, model_states, {"elbo": -(terms["reconstruction"] + terms["kl"])}

  # --- The posterior and prior, per example; a subclass with another family replaces these. ---

  def posterior_kl(self, mean, log_variance):
    """KL(N(mu, sigma^2) || N(0, I)) in closed form (Kingma & Welling 2014, App. B)."""
    return losses.gaussian_kl_standard_normal(mean, log_variance)

  def posterior_sample(self, rng, posterior, num_samples: int):
    """k draws [k, B, d] of q(z|x) = N(mu, sigma^2) given its parameters `posterior`."""
    mean, log_variance = posterior
    return losses.reparameterize(
      rng, jnp.broadcast_to(mean, (num_samples, *mean.shape)), log_variance
    )

  def posterior_log_density(self, z, posterior):
    """log q(z|x) of draws z [k, B, d], [k, B]."""
    mean, log_variance = posterior
    return losses.gaussian_log_density(z, mean, log_variance, batch_ndims=2)

  def prior_log_density(self, z):
    """log p(z) = log N(z; 0, I) of draws z [k, B, d], [k, B]."""
    return losses.gaussian_log_density(z, batch_ndims=2)

  def _posterior_draws(self, state: TrainState, x, rng, num_samples: int, labels=None):
    """q(z|x)'s parameters, k draws z [k, B, d] and log p(x|z) [k, B], inference mode."""
    check_positive_int("num_samples", num_samples)
    posterior = self.encode(state, x, labels)
    z = self.posterior_sample(rng, posterior, num_samples)
    repeat = lambda a: None if a is None else jnp.tile(a, (num_samples,) + (1,) * (a.ndim - 1))
    logits = self.decode_logits(state, z.reshape((-1, self.latent_dim)), repeat(labels))
    log_likelihood = -self.reconstruction(repeat(x), logits).reshape((num_samples, -1))
    return posterior, z, log_likelihood

  def log_importance_weights(self, state: TrainState, x, rng, num_samples: int, labels=None):
    """log w_i = log p(x|z_i) + log p(z_i) - log q(z_i|x), z_i ~ q(z|x), i = 1..k; [k, B].

    The weights of Burda et al. 2016, eq. 8, with the networks in inference mode.
    """
    posterior, z, log_likelihood = self._posterior_draws(state, x, rng, num_samples, labels)
    return log_likelihood + self.prior_log_density(z) - self.posterior_log_density(z, posterior)

  def iwae_bound(self, state: TrainState, x, rng, num_samples: int, labels=None):
    """The k-sample importance-weighted bound L_k <= log p(x) per example (Burda et al. 2016,
    eq. 8); k = 1 is a one-sample ELBO estimate."""
    log_weights = self.log_importance_weights(state, x, rng, num_samples, labels)
    return losses.iwae_bound(log_weights, axis=0)

  def elbo(self, state: TrainState, x, rng, num_samples: int = 1, labels=None):
    """ELBO per example, in inference mode: E_q[log p(x|z)] averaged over `num_samples` draws
    minus the closed-form KL (Kingma & Welling 2014, eq. 10 with App. B)."""
    posterior, _, log_likelihood = self._posterior_draws(state, x, rng, num_samples, labels)
    return jnp.mean(log_likelihood, axis=0) - self.posterior_kl(*posterior)
