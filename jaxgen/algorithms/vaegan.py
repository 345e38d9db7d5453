"""VAE-GAN (Larsen et al. 2016, arXiv 1512.09300): a VAE whose reconstruction error is measured in
the feature space of a GAN discriminator, with three players updated on three different losses.

Players `encoder`, `decoder`, `discriminator`, all in ONE phase: the three gradients are taken at
the same parameter point and on the same noise draw, then applied (Larsen et al. 2016, Algorithm 1;
the reference code andersbll/autoencoding_beyond_pixels, `model/aegan.py`, does the same from one
forward pass). With x~ = Dec(Enc(x)) (reparameterised) and x_p = Dec(z_p), z_p ~ N(0, I):

  L_prior          = KL(q(z|x) || N(0, I))                                          (eq. 3)
  L_llike^Dis_l    = -log N(Dis_l(x); Dis_l(x~), I)                                 (eq. 5-6)
  L_GAN            = -[log D(x) + log(1 - D(x_p)) + log(1 - D(x~))]                 (eq. 4, 8)

  theta_Enc <- theta_Enc - grad(L_prior + L_llike^Dis_l)
  theta_Dec <- theta_Dec - grad(gamma * L_llike^Dis_l - L_GAN)
  theta_Dis <- theta_Dis - grad(L_GAN)

L_GAN is written here as the discriminator's cross-entropy, the sign under which Algorithm 1
trains Dis to tell real from fake (the paper's eq. 4 states the value Dis *maximises*; its
Algorithm 1 descends `L_GAN` for Dis and `-L_GAN` for Dec, which only makes sense for this sign).
Dec's `-L_GAN` is the saturating minimax generator loss, as in the reference code; the option
`algorithm.loss = "non_saturating"` replaces it by -log D(x_p) - log D(x~) (Goodfellow et al.
2014, sec. 3). The encoder never receives L_GAN's gradient (its loss has no L_GAN term) and
L_llike never updates the discriminator (its loss has no L_llike term).

Dis_l: the discriminator's sown `intermediates/features`, the output of its last conv before its
batch norm (`jaxgen.nn.gan.DCGANDiscriminator`), as the reference takes its 4th conv before BN.

Options where the reference and the paper differ (`config.algorithm`), and one they leave open
(`discriminator_init`: the scale of Dis_l, see DISCRIMINATOR_INITS):
- `gamma` (reference: 5e-5; 1e-6 for CelebA). The reference scales Dec's GAN gradient by
  (1 - gamma); we follow the paper's gamma * L_llike - L_GAN.
- `feed_reconstructions`: x~ enters L_GAN (paper: yes, the third term) or not (the reference's
  CelebA run samples only x_p). Dis_l(x~) is computed either way, for L_llike.
- `feature_reduction`: "sum" over the features (reference, sigma = 1) or "mean" (divides L_llike
  by the number of features, so the same gamma means a larger weight on content).
- `equilibrium_gating` with `equilibrium` 0.68 and `equilibrium_margin` 0.35 (reference values):
  Dis or Dec skips its update when the discriminator's costs leave the band around the
  equilibrium (`equilibrium_gating`, which holds the rule and how a paused player takes no step).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxgen import losses, stabilisers
from jaxgen.algorithms import adversarial
from jaxgen.algorithms import stabiliser_rules as rules
from jaxgen.algorithms.base import register
from jaxgen.algorithms.critic import Critic
from jaxgen.algorithms.equilibrium_gating import (
  GATING_OPTIONS,
  EquilibriumGating,
  check_gating,
  equilibrium_gates,
)
from jaxgen.algorithms.vae import LIKELIHOODS, Autoencoder, reconstruction_option
from jaxgen.nn import autoencoder as ae_nets
from jaxgen.nn import precision as precision_lib
from jaxgen.options import REQUIRED, Option, flag, number, read_options

# Dis sees x, x_p and x~ through the critic pipeline (instance noise, spectral norm). Its GAN terms
# are Larsen et al.'s own cross-entropies (no label smoothing or penalty; batch norm mixes the
# batch), its features are Dis_l for L_llike (no feature matching), and the three players' losses
# take no extra terms (no historical averaging, replay or EMA).
VAEGAN_PROVIDES = frozenset({rules.INPUTS, rules.WEIGHTS})
# The gating's names stay importable from here.
__all__ = ["VAEGAN", "VAEGAN_OPTIONS", "check_gating", "equilibrium_gates"]

# "dcgan": the discriminator's own N(0, 0.02^2) kernels (Radford et al. 2016); "lecun": kernels
# redrawn with variance 1 / fan_in. Dis_l is a conv output *before* batch norm, so its scale is set
# by the initialisation alone (the norm after it makes D's output blind to that scale), and that
# scale weighs L_llike against L_prior in the encoder's loss. On the digits, Dis_l has an RMS of
# 0.018 at the DCGAN init and the encoder collapsed to the prior (KL 0.01 nats after 1000 steps);
# at "lecun" it is 0.48, of the order of the reference's fillers, and the code carries the image.
DISCRIMINATOR_INITS = ("dcgan", "lecun")
# The decoder's adversarial term: "minimax" sums log(1 - D(fake)), i.e. -L_GAN up to Dec-constant
# terms (Algorithm 1, the reference); "non_saturating" sums -log D(fake) (Goodfellow 2014, sec. 3).
GENERATOR_LOSSES = {
  "minimax": losses.generator_minimax_loss,
  "non_saturating": losses.generator_non_saturating_loss,
}


def lecun_kernels(rng, params):
  """`params` with every `kernel` redrawn from LeCun's normal, variance 1 / fan_in (LeCun et al.
  1998, sec. 4.6; fan_in counts the conv window), the scale of the reference's fillers."""
  leaves, treedef = jax.tree_util.tree_flatten_with_path(params)
  keys = jax.random.split(rng, len(leaves))
  init = jax.nn.initializers.lecun_normal()
  redrawn = [
    init(key, leaf.shape, leaf.dtype) if path[-1].key == "kernel" else leaf
    for key, (path, leaf) in zip(keys, leaves, strict=True)
  ]
  return jax.tree.unflatten(treedef, redrawn)


def discriminate_with_features(module, params, model_state, x, labels, train=True):
  """D's logits, its sown Dis_l features [B, F] and its model state (updated when training)."""
  mutable = [*model_state, "intermediates"] if train else ["intermediates"]
  out, updated = module.apply(
    {"params": params, **model_state}, x, labels, train=train, mutable=mutable
  )
  features = updated.pop("intermediates")["features"][0]
  return out, features.reshape((features.shape[0], -1)), updated if train else model_state


# VAE-GAN's `config.algorithm` keys; the reference code's values where it has them (module
# docstring).
VAEGAN_OPTIONS = (
  reconstruction_option(LIKELIHOODS),
  Option(
    "gamma",
    REQUIRED,
    "gamma of gamma * L_llike - L_GAN (Larsen et al. 2016, eq. 9)",
    check=number(0),
  ),
  Option(
    "loss",
    "minimax",
    "Dec's GAN term (L_GAN: Larsen et al. 2016's cross-entropy)",
    choices=lambda: GENERATOR_LOSSES,
  ),
  Option("feed_reconstructions", True, "x~ enters L_GAN (the paper's third term)", check=flag),
  Option(
    "feature_reduction",
    "sum",
    "L_llike summed or averaged over Dis_l's features",
    choices=lambda: losses.FEATURE_REDUCTIONS,
  ),
  *GATING_OPTIONS,
  Option(
    "discriminator_init",
    "dcgan",
    "the scale of Dis_l (DISCRIMINATOR_INITS)",
    choices=DISCRIMINATOR_INITS,
  ),
  adversarial.STABILISERS_OPTION,
)


@register("vaegan")
class VAEGAN(EquilibriumGating, Autoencoder):
  """VAE-GAN with three players in one phase; see the module docstring for the losses and options.

  Config: `algorithm.gamma`, `algorithm.loss` ("minimax" or "non_saturating" for Dec's GAN term),
  `algorithm.feed_reconstructions`, `algorithm.feature_reduction` ("sum" | "mean"),
  `algorithm.equilibrium_gating`, `algorithm.equilibrium`, `algorithm.equilibrium_margin`,
  `algorithm.discriminator_init` ("dcgan" | "lecun"),
  `algorithm.reconstruction` (the pixel-space term reported as a metric only); `model.encoder`,
  `model.decoder`, `model.discriminator` (a 'dcgan' discriminator: it sows Dis_l);
  `optimizer.encoder|decoder|discriminator`.
  """

  PLAYERS = {**Autoencoder.PLAYERS, "discriminator": "discriminator"}
  OPTIONS = VAEGAN_OPTIONS

  def __init__(self, config, dataset):
    super().__init__(config, dataset, reconstructions=LIKELIHOODS)
    algorithm = config.algorithm
    options = read_options(type(self), algorithm)
    self.init_gating(options)
    self.gamma, self.generator_loss = options.gamma, GENERATOR_LOSSES[options.loss]
    self.feed_reconstructions = options.feed_reconstructions
    self.feature_reduction = options.feature_reduction
    self.discriminator_init = options.discriminator_init
    switches = stabilisers.Stabilisers.from_config(options.stabilisers)
    self.critic = Critic.build(
      config.model.discriminator,
      switches,
      example_shape=self.example_shape,
      num_classes=self.num_classes,
      precision=precision_lib.from_config(config),
    )
    owner = f"algorithm {algorithm.name!r}"
    rules.check_stabilisers(owner, VAEGAN_PROVIDES, switches, network=self.critic.network)
    self.discriminator = self.critic.module
    # Each player's loss as weights over the phase's terms: Larsen et al. 2016, Algorithm 1.
    self.weights = {
      "encoder": {"prior": 1.0, "llike": 1.0},
      "decoder": {"llike": self.gamma, "generator": 1.0},
      "discriminator": {"gan": 1.0},
    }
    modules = {
      "encoder": self.encoder,
      "decoder": self.decoder,
      "discriminator": self.discriminator,
    }
    self.players = {
      name: self.gated_player(config, name, module) for name, module in modules.items()
    }
    self.schedule = (("encoder", "decoder", "discriminator"),)

  def init_variables(self, rng, batch):
    """The VAE's variables and D's (on x), D's kernels redrawn for `discriminator_init='lecun'`."""
    ae_rng, dis_rng = jax.random.split(rng)
    variables = super().init_variables(ae_rng, batch)
    init_rng, redraw_rng = jax.random.split(dis_rng)
    spectral_rng = jax.random.fold_in(dis_rng, 1)
    dis_variables = self.critic.init(init_rng, spectral_rng, batch["x"], self._labels(batch))
    if self.discriminator_init == "lecun":
      dis_variables = {
        **dis_variables,
        "params": lecun_kernels(redraw_rng, dis_variables["params"]),
      }
    variables["discriminator"] = dis_variables
    return variables

  def terms(self, params, state, batch, key):
    """Every loss term of the phase, from one forward pass at `params` (Larsen et al. 2016)."""
    x, labels = batch["x"], self._labels(batch)
    eps_key, prior_key = jax.random.split(key)
    z, (mean, log_variance), encoder_state = self.encode_train(params, state, x, labels, eps_key)
    z_prior = self.prior_samples(prior_key, x.shape[0])
    decoder = lambda z, model_state=None: self.run(
      self.decoder, params["decoder"], state, "decoder", z, labels, model_state=model_state
    )
    reconstruction_logits, decoder_state = decoder(z)
    prior_logits, decoder_state = decoder(z_prior, decoder_state)

    # Real and fake images pass D separately, each with its own batch statistics (DCGAN), each
    # with its own instance noise (a stream of `key`'s per input).
    def dis(images, model_state, stream):
      images = self.critic.inputs(state.step, images, jax.random.fold_in(key, stream))
      logits, features, model_state = self.critic(
        params["discriminator"], model_state, images, labels
      )
      return logits, features.reshape((features.shape[0], -1)), model_state

    real_logits, real_features, dis_state = dis(x, state.players["discriminator"].model_state, 1)
    prior_fake_logits, _, dis_state = dis(ae_nets.logits_to_image(prior_logits), dis_state, 2)
    recon_logits, recon_features, recon_dis_state = dis(
      ae_nets.logits_to_image(reconstruction_logits), dis_state, 3
    )
    fakes = [prior_fake_logits]
    if self.feed_reconstructions:
      fakes.append(recon_logits)
      dis_state = recon_dis_state

    # -log D(x) = softplus(-l) and -log(1 - D(x)) = softplus(l) (stable in the logit l).
    real_cost = jnp.mean(jax.nn.softplus(-real_logits))
    fake_costs = [jnp.mean(jax.nn.softplus(logits)) for logits in fakes]
    terms = {
      "prior": jnp.mean(losses.gaussian_kl_standard_normal(mean, log_variance)),
      "llike": -jnp.mean(
        losses.feature_log_likelihood(real_features, recon_features, self.feature_reduction)
      ),
      "gan": real_cost + sum(fake_costs),
      "generator": sum(self.generator_loss(logits) for logits in fakes),
    }
    model_states = {"encoder": encoder_state, "decoder": decoder_state, "discriminator": dis_state}
    metrics = {
      "real_cost": real_cost,
      "fake_cost": jnp.mean(jnp.stack(fake_costs)),
      "pixel_reconstruction": jnp.mean(self.reconstruction(x, reconstruction_logits)),
    }
    return terms, model_states, metrics

  def features(self, state, x, labels=None):
    """Dis_l(x) [B, F] with the discriminator in inference mode (running batch statistics)."""
    d = state.players["discriminator"]
    _, features, _ = discriminate_with_features(
      self.discriminator, d.params, d.model_state, x, labels, train=False
    )
    return features
