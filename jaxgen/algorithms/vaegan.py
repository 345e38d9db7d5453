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
  with the discriminator's costs real = mean -log D(x) and fake = mean -log(1 - D(fake)) over the
  fakes it sees, skip Dis's update when either cost is below 0.68 - 0.35, skip Dec's update when
  either is above 0.68 + 0.35, and update both when both would be skipped. The decision is made
  inside the jitted step: a gated player's grad_fn returns it as the named value `updated`, which
  `update_args` hands to the player's optimizer, `optim.apply_if(...)`, as `apply`; a paused player
  takes no step at all (parameters and optimizer state unchanged, as the reference skips the
  learning rule) instead of the momentum step Adam or RMSProp would take on a zero gradient.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxgen import losses, optim, stabilisers
from jaxgen.algorithms import adversarial
from jaxgen.algorithms import stabiliser_rules as rules
from jaxgen.algorithms.base import register
from jaxgen.algorithms.critic import Critic
from jaxgen.algorithms.vae import LIKELIHOODS, Autoencoder, reconstruction_option
from jaxgen.nn import autoencoder as ae_nets
from jaxgen.nn import precision as precision_lib
from jaxgen.options import REQUIRED, Option, flag, number, read_options

# Dis sees x, x_p and x~ through the critic pipeline (instance noise, spectral norm). Its GAN terms
# are Larsen et al.'s own cross-entropies (no label smoothing or penalty; batch norm mixes the
# batch), its features are Dis_l for L_llike (no feature matching), and the three players' losses
# take no extra terms (no historical averaging, replay or EMA).
VAEGAN_PROVIDES = frozenset({rules.INPUTS, rules.WEIGHTS})

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


def equilibrium_gates(real_cost, fake_cost, equilibrium: float, margin: float):
  """(update discriminator, update decoder) from the discriminator's costs, as the reference
  `aegan.GradientDescent.train_epoch`: Dis pauses when it is winning (a cost below equilibrium -
  margin), Dec pauses when it is losing badly (a cost above equilibrium + margin), never both."""
  update_dis = ~((real_cost < equilibrium - margin) | (fake_cost < equilibrium - margin))
  update_dec = ~((real_cost > equilibrium + margin) | (fake_cost > equilibrium + margin))
  neither = ~(update_dis | update_dec)
  return update_dis | neither, update_dec | neither


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


def check_gating(options) -> None:
  """Raises ValueError when equilibrium gating is on without a positive equilibrium and margin."""
  if options.equilibrium_gating and not (
    0 < options.equilibrium_margin and 0 < options.equilibrium
  ):
    raise ValueError(
      "equilibrium gating needs equilibrium > 0 and equilibrium_margin > 0; got "
      f"{options.equilibrium!r} and {options.equilibrium_margin!r}."
    )


@register("vaegan")
class VAEGAN(Autoencoder):
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
  # The reference code's values where it has them (module docstring).
  OPTIONS = (
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
    Option("equilibrium_gating", True, "skip a player's update out of equilibrium", check=flag),
    Option("equilibrium", 0.68, "the gating's equilibrium cost", check=number()),
    Option("equilibrium_margin", 0.35, "the gating's margin", check=number()),
    Option(
      "discriminator_init",
      "dcgan",
      "the scale of Dis_l (DISCRIMINATOR_INITS)",
      choices=DISCRIMINATOR_INITS,
    ),
    adversarial.STABILISERS_OPTION,
  )

  def __init__(self, config, dataset):
    super().__init__(config, dataset, reconstructions=LIKELIHOODS)
    algorithm = config.algorithm
    options = read_options(type(self), algorithm)
    check_gating(options)
    self.gamma, self.generator_loss = options.gamma, GENERATOR_LOSSES[options.loss]
    self.feed_reconstructions = options.feed_reconstructions
    self.feature_reduction = options.feature_reduction
    self.gating = options.equilibrium_gating
    self.equilibrium = float(options.equilibrium)
    self.margin = float(options.equilibrium_margin)
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
    # The equilibrium gate pauses Dec and Dis, never Enc (the reference's rule).
    self.gated_players = ("decoder", "discriminator") if self.gating else ()
    self.players = {}
    for name, module in modules.items():
      optimizer = optim.make_optimizer(config.optimizer[name])
      if name in self.gated_players:
        grad_fn = self._gated_grad_fn(name)
        optimizer = optim.apply_if(optimizer)
      else:
        grad_fn = self.weighted_grad_fn(name, self.terms, self.weights[name])
      self.players[name] = self._player(config, name, module, grad_fn, optimizer)
    self.schedule = (("encoder", "decoder", "discriminator"),)

  def init_variables(self, rng, batch):
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

  def update_args(self, player, values):
    """A gated player's optimizer (`optim.apply_if`) applies its update iff the equilibrium gate
    let it learn, the `updated` value its grad_fn returned."""
    if player in self.gated_players:
      return {"apply": values[player]["updated"] > 0}
    return {}

  def _gated_grad_fn(self, name):
    """The weighted-terms gradient of `name`, with the equilibrium gate's verdict as `updated`."""

    def grad_fn(state, batch, rng):
      grads, model_state, metrics = self.player_grads(
        state, batch, name, self.terms, self.weights[name], rng
      )
      update_dis, update_dec = equilibrium_gates(
        metrics["real_cost"], metrics["fake_cost"], self.equilibrium, self.margin
      )
      update = update_dis if name == "discriminator" else update_dec
      return grads, model_state, {**metrics, "updated": update.astype(jnp.float32)}

    grad_fn.__doc__ = (
      f"Gradient of {dict(self.weights[name])} w.r.t. the {name}'s parameters, and `updated`: 1 "
      "when the equilibrium gate lets it learn, 0 when it pauses (then `update_args` skips it)."
    )
    return grad_fn
