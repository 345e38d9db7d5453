"""Gradient cases of the autoencoder family (VAE, CVAE, VAE-GAN, AAE, WAE) for
`tests/test_registry_gradients.py`; the harness is `gradient_harness.py`.

Every player's loss is written out here from its paper in plain jnp: none of `jaxgen.losses` and
none of the algorithms' loss or terms methods is called. The players' Flax modules are run as the
algorithms run them (training mode, batch statistics mutable, the discriminator's state threaded
through its calls), and the noise is redrawn from the grad_fn's rng with the algorithms' key
splits:

- VAE / CVAE: eps ~ N(0, I) from the rng itself (`encode_train` gets the key unsplit);
- VAE-GAN: (eps_key, prior_key) = split(rng): eps from eps_key, z_p ~ N(0, I) from prior_key;
- AAE / WAE-GAN: the discriminator's phase splits (eps_key, prior_key) = split(rng); the
  autoencoder's phase draws eps from the rng itself;
- WAE-MMD: (eps_key, prior_key) = split(rng).

Networks are tiny and share their shapes across the cases, so that eager JAX compiles each
primitive once: linear MLP encoders and decoders (no hidden layer), 4 latents, batch 8, the digits
at 8 x 8; VAE-GAN's DCGAN discriminator takes two stride-2 convs, so a batch norm (its model state)
follows Dis_l.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from gradient_harness import GradientCase, RefusedCase

from jaxgen.configs import aae_digits, cvae_digits, vae_digits, vaegan_digits, wae_digits

BATCH_SIZE = 8
LATENT_DIM = 4
# The encoder and decoder without hidden layers, the latent discriminator with one of LATENT_DIM
# units: few distinct parameter shapes, and eager JAX compiles every sampler and op per shape.
HIDDEN = ()
LOG_2PI = math.log(2.0 * math.pi)
# The default std of the Gaussian decoder, `jaxgen.algorithms.vae._gaussian(std=0.1)`.
DEFAULT_DECODER_STD = 0.1
# The multiples of the base IMQ scale C = 2 d_z sigma_z^2 (Tolstikhin et al. 2018, authors' code
# `wae.py`, mmd_penalty), written out rather than read from the library.
IMQ_MULTIPLIERS = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)


# --- Configs --------------------------------------------------------------------------------------


def tiny(config, *, size=8, latent_dim=LATENT_DIM, **algorithm):
  """`config` with the smallest networks the registries take, batch 8 and the options given."""
  config.data.options = {"size": size}
  config.batch_size = BATCH_SIZE
  config.model.latent_dim = latent_dim
  config.model.encoder = {"name": "mlp", "hidden": HIDDEN}
  config.model.decoder = {"name": "mlp", "hidden": HIDDEN}
  if "discriminator" in config.model:
    config.model.discriminator = {"name": "mlp", "hidden": (LATENT_DIM,), "maxout_pieces": 0}
  for key, value in algorithm.items():
    config.algorithm[key] = value
  # The gradients do not involve the optimizers; SGD has no state to initialise (and compile).
  for player in config.optimizer:
    config.optimizer[player] = {"name": "sgd", "learning_rate": 0.1}
  return config


def vae_config(conditional=False, **algorithm):
  def config():
    base = cvae_digits.get_config() if conditional else vae_digits.get_config()
    return tiny(base, **algorithm)

  return config


def vaegan_config(**algorithm):
  def config():
    config = tiny(vaegan_digits.get_config(), **algorithm)
    # Two convs on 8 x 8: Dis_l is the second one's output (2 x 2 x 8) before its batch norm.
    config.model.discriminator = {"name": "dcgan", "base_features": 4, "num_downsamplings": 2}
    # The DCGAN init rather than the config's LeCun redraw: the losses do not depend on how the
    # kernels were drawn, and each redrawn kernel shape costs an eager compile of a sampler.
    config.algorithm.discriminator_init = "dcgan"
    config.algorithm.gamma = 0.3  # not 1, so Dec's weights are tested
    return config

  return config


def aae_config(**algorithm):
  def config():
    config = tiny(aae_digits.get_config(), **algorithm)
    if "penalty_weight" not in algorithm:
      config.algorithm.penalty_weight = 0.7  # not 1, so the encoder's weights are tested
    return config

  return config


def wae_config(**algorithm):
  return lambda: tiny(wae_digits.get_config(), **algorithm)


# --- Running the networks as the algorithms do ---------------------------------------------------


def labels_of(algorithm, batch):
  return batch["y"] if algorithm.conditional else None


def run(algorithm, state, player, params, *args, model_state=None):
  """Player `player`'s module in training mode: (output, its updated model state)."""
  module = algorithm.players[player].module
  if model_state is None:
    model_state = state.players[player].model_state
  variables = {"params": params, **model_state}
  if not model_state:
    return module.apply(variables, *args, train=True), model_state
  return module.apply(variables, *args, train=True, mutable=list(model_state))


def discriminate_with_features(algorithm, params, model_state, images, labels):
  """VAE-GAN's D in training mode: (logits, its sown Dis_l features [B, F], updated state)."""
  module = algorithm.players["discriminator"].module
  out, updated = module.apply(
    {"params": params, **model_state},
    images,
    labels,
    train=True,
    mutable=[*model_state, "intermediates"],
  )
  updated = dict(updated)
  features = updated.pop("intermediates")["features"][0]
  return out, features.reshape((features.shape[0], -1)), updated


def encode(algorithm, state, params, x, labels, key):
  """z ~ q(z|x) reparameterised, z = mu + sigma * eps (Kingma & Welling 2014, eq. 10), or the
  deterministic code; returns (z, mean, log-variance)."""
  (mean, log_variance), _ = run(algorithm, state, "encoder", params["encoder"], x, labels)
  if log_variance is None:
    return mean, mean, None
  eps = jax.random.normal(key, mean.shape, mean.dtype)
  return mean + jnp.exp(0.5 * log_variance) * eps, mean, log_variance


def image(logits):
  """The decoder's image in [-1, 1]: 2 sigmoid(l) - 1 (the Bernoulli mean mapped to [-1, 1])."""
  return 2.0 * jax.nn.sigmoid(logits) - 1.0


def per_player(algorithm, state, losses):
  """{player: loss of its own params}, the other players' params fixed at the state's."""
  params = {name: state.players[name].params for name in algorithm.players}
  return {
    name: (lambda own, name=name, loss=loss: loss({**params, name: own}))
    for name, loss in losses.items()
  }


# --- The formulas, by hand ------------------------------------------------------------------------


def sum_event(values):
  return jnp.sum(values.reshape((values.shape[0], -1)), axis=1)


def log1p_exp(t):
  """log(1 + e^t), finite for any t (the primitive the library's ops also use, so eager JAX
  compiles it once)."""
  return jax.nn.softplus(t)


def log_sigmoid(logits):
  """log D = log sigmoid(l) = -log(1 + e^-l)."""
  return -log1p_exp(-logits)


def log_one_minus_sigmoid(logits):
  """log(1 - D) = log sigmoid(-l) = -log(1 + e^l)."""
  return -log1p_exp(logits)


def gaussian_kl(mean, log_variance):
  # KL(N(mu, sigma^2) || N(0, I)) = -1/2 sum_j (1 + log sigma_j^2 - mu_j^2 - sigma_j^2): K&W App. B
  return -0.5 * jnp.sum(1.0 + log_variance - mean**2 - jnp.exp(log_variance), axis=-1)


def bernoulli_nll(x, logits):
  # -log p(x|z) = -sum_i [t_i log p_i + (1 - t_i) log(1 - p_i)], p = sigmoid(l): K&W 2014 App. C.1
  # (with the pixel-on probability t = (x + 1) / 2 as the target)
  t = 0.5 * (x + 1.0)
  return -sum_event(t * log_sigmoid(logits) + (1.0 - t) * log_one_minus_sigmoid(logits))


def gaussian_nll(std):
  def nll(x, logits):
    # -log N(x; mu, std^2 I) = sum_i [(x_i - mu_i)^2 / 2 std^2 + 1/2 log 2 pi std^2]: K&W14 App. C.2
    # (the mean mu = 2 sigmoid(l) - 1 = tanh(l / 2), the decoder's image)
    mu = image(logits)
    return sum_event((x - mu) ** 2 / (2.0 * std**2) + 0.5 * math.log(2.0 * math.pi * std**2))

  return nll


def squared_error(x, logits):
  # c(x, y) = ||x - y||^2, y = Dec(z) in [-1, 1]  (Tolstikhin et al. 2018, sec. 4, 'l2sq')
  return sum_event((x - image(logits)) ** 2)


def imq_mmd(z, z_prior, scales):
  # MMD^2 = sum_{i!=j} k(z~_i, z~_j)/n(n-1) + sum_{i!=j} k(z_i, z_j)/n(n-1) - 2 sum k(z~_i, z_j)/n^2
  # with k(a, b) = sum_C C / (C + ||a - b||^2): Tolstikhin et al. 2018, Algorithm 2 and sec. 4
  def gram(a, b):
    distances = jnp.sum((a[:, None, :] - b[None, :, :]) ** 2, axis=-1)
    return sum(c / (c + distances) for c in scales)

  def off_diagonal_mean(a):
    n = a.shape[0]
    return jnp.sum(jnp.where(jnp.eye(n, dtype=bool), 0.0, gram(a, a))) / (n * (n - 1))

  n, m = z.shape[0], z_prior.shape[0]
  return (
    off_diagonal_mean(z) + off_diagonal_mean(z_prior) - 2.0 * jnp.sum(gram(z, z_prior)) / (n * m)
  )


def prior_variance(prior, latent_dim):
  """sigma_z^2 = tr Cov_p(z) / d_z of a prior config, for C = 2 d_z sigma_z^2."""
  options = dict(prior)
  name = options.pop("name")
  if name == "gaussian":
    return 1.0  # N(0, I)
  if name == "gaussian_mixture":
    # Law of total variance: std^2 + Var of the K >= 3 equally spaced means on a circle of radius
    # r in the first two coordinates (r^2 / 2 each), averaged over the d_z coordinates.
    assert options["num_components"] >= 3
    return options["std"] ** 2 + options["radius"] ** 2 / latent_dim
  if name == "spike_and_slab":
    return options["slab_probability"]  # E z_j^2 = alpha * 1, E z_j = 0
  raise ValueError(name)


# The GAN objectives on D's logits at prior samples (real) and codes (fake): (D's loss, Enc's loss).
def _minimax_d(real, fake):
  # -[E log D(z_p) + E log(1 - D(z~))]  (Goodfellow et al. 2014, eq. 1; Makhzani et al. sec. 2)
  return -(jnp.mean(log_sigmoid(real)) + jnp.mean(log_one_minus_sigmoid(fake)))


def _minimax_g(fake):
  # E log(1 - D(z~))  (Goodfellow et al. 2014, eq. 1)
  return jnp.mean(log_one_minus_sigmoid(fake))


def _non_saturating_g(fake):
  # -E log D(z~)  (Goodfellow et al. 2014, sec. 3)
  return -jnp.mean(log_sigmoid(fake))


def _wasserstein_d(real, fake):
  # E f(z~) - E f(z_p)  (Arjovsky et al. 2017, Algorithm 1, line 5)
  return jnp.mean(fake) - jnp.mean(real)


def _wasserstein_g(fake):
  # -E f(z~)  (Arjovsky et al. 2017, Algorithm 1, line 10)
  return -jnp.mean(fake)


def _least_squares_d(real, fake):
  # 1/2 E (D(z_p) - 1)^2 + 1/2 E D(z~)^2  (Mao et al. 2017, eq. 2 with a = 0, b = c = 1)
  return 0.5 * jnp.mean((real - 1.0) ** 2) + 0.5 * jnp.mean(fake**2)


def _least_squares_g(fake):
  # 1/2 E (D(z~) - 1)^2  (Mao et al. 2017, eq. 2)
  return 0.5 * jnp.mean((fake - 1.0) ** 2)


def _hinge_d(real, fake):
  # E max(0, 1 - D(z_p)) + E max(0, 1 + D(z~))  (Miyato et al. 2018, eq. 16)
  return jnp.mean(jnp.maximum(0.0, 1.0 - real)) + jnp.mean(jnp.maximum(0.0, 1.0 + fake))


def _hinge_g(fake):
  # -E D(z~)  (Miyato et al. 2018, eq. 17)
  return -jnp.mean(fake)


AAE_OBJECTIVES = {
  "minimax": (_minimax_d, _minimax_g),
  "non_saturating": (_minimax_d, _non_saturating_g),
  "wasserstein": (_wasserstein_d, _wasserstein_g),
  "least_squares": (_least_squares_d, _least_squares_g),
  "hinge": (_hinge_d, _hinge_g),
}
# The relativistic objectives: the encoder's loss would need D on prior samples too.
AAE_REFUSED_OBJECTIVES = ("ragan", "ralsgan")


# --- The hand-built losses of each algorithm ------------------------------------------------------


def vae_losses(nll):
  """Both players descend -ELBO (Kingma & Welling 2014, eq. 10), one draw of eps from rng."""

  def reference(algorithm, state, batch, rng):
    x, labels = batch["x"], labels_of(algorithm, batch)

    def negative_elbo(params):
      z, mean, log_variance = encode(algorithm, state, params, x, labels, rng)
      logits, _ = run(algorithm, state, "decoder", params["decoder"], z, labels)
      # -L(x) = E_q[-log p(x|z)] + KL(q(z|x) || p(z)), batch mean  (K&W 2014, eq. 3 and 10)
      return jnp.mean(nll(x, logits)) + jnp.mean(gaussian_kl(mean, log_variance))

    return per_player(algorithm, state, {"encoder": negative_elbo, "decoder": negative_elbo})

  return reference


def vaegan_losses(*, gamma, decoder_loss, feed_reconstructions, feature_reduction):
  """Larsen et al. 2016, Algorithm 1: Enc L_prior + L_llike, Dec gamma L_llike - L_GAN (or the
  non-saturating term), Dis L_GAN; one forward pass, (eps_key, prior_key) = split(rng)."""

  def reference(algorithm, state, batch, rng):
    x, labels = batch["x"], labels_of(algorithm, batch)
    eps_key, prior_key = jax.random.split(rng)
    z_prior = algorithm.prior_samples(prior_key, x.shape[0])  # z_p ~ N(0, I)

    def terms(params):
      z, mean, log_variance = encode(algorithm, state, params, x, labels, eps_key)
      reconstruction_logits, decoder_state = run(
        algorithm, state, "decoder", params["decoder"], z, labels
      )
      prior_logits, _ = run(
        algorithm,
        state,
        "decoder",
        params["decoder"],
        z_prior,
        labels,
        model_state=decoder_state,
      )
      dis = lambda images, model_state: discriminate_with_features(
        algorithm, params["discriminator"], model_state, images, labels
      )
      real, real_features, dis_state = dis(x, state.players["discriminator"].model_state)
      prior_fake, _, dis_state = dis(image(prior_logits), dis_state)
      recon_fake, recon_features, _ = dis(image(reconstruction_logits), dis_state)
      fakes = [prior_fake, recon_fake] if feed_reconstructions else [prior_fake]

      # L_prior = KL(q(z|x) || p(z))  (Larsen et al. 2016, eq. 3; K&W 2014, App. B)
      l_prior = jnp.mean(gaussian_kl(mean, log_variance))
      # L_llike^Dis_l = -log N(Dis_l(x); Dis_l(x~), I)  (Larsen et al. 2016, eq. 5-6)
      nll = 0.5 * jnp.sum((real_features - recon_features) ** 2 + LOG_2PI, axis=1)
      if feature_reduction == "mean":
        nll = nll / real_features.shape[1]
      l_llike = jnp.mean(nll)
      # L_GAN = -[log D(x) + log(1 - D(x_p)) + log(1 - D(x~))]  (Larsen et al. 2016, eq. 4, 8)
      l_gan = -(
        jnp.mean(log_sigmoid(real)) + sum(jnp.mean(log_one_minus_sigmoid(f)) for f in fakes)
      )
      if decoder_loss == "minimax":
        adversarial = -l_gan  # Dec descends -L_GAN  (Larsen et al. 2016, Algorithm 1)
      else:
        # -log D(x_p) - log D(x~)  (Goodfellow et al. 2014, sec. 3)
        adversarial = -sum(jnp.mean(log_sigmoid(f)) for f in fakes)
      return l_prior, l_llike, l_gan, adversarial

    def encoder(params):
      l_prior, l_llike, _, _ = terms(params)
      return l_prior + l_llike  # (Larsen et al. 2016, Algorithm 1)

    def decoder(params):
      _, l_llike, _, adversarial = terms(params)
      return gamma * l_llike + adversarial  # (Larsen et al. 2016, Algorithm 1)

    def discriminator(params):
      return terms(params)[2]  # (Larsen et al. 2016, Algorithm 1)

    return per_player(
      algorithm,
      state,
      {"encoder": encoder, "decoder": decoder, "discriminator": discriminator},
    )

  return reference


def aae_losses(*, objective, penalty_weight, cost):
  """Makhzani et al. 2015, sec. 2 (with Tolstikhin et al. 2018, Algorithm 1 for the encoder's
  lambda-weighted sum): D tells z_p ~ p(z) from z~ = Enc(x); Enc descends c + lambda L_G(D(z~));
  Dec descends c."""
  discriminator_loss, generator_loss = AAE_OBJECTIVES[objective]

  def reference(algorithm, state, batch, rng):
    x, labels = batch["x"], labels_of(algorithm, batch)
    eps_key, prior_key = jax.random.split(rng)  # the discriminator's phase
    z_prior = algorithm.prior_samples(prior_key, x.shape[0])

    def dis(params, z, model_state=None):
      return run(
        algorithm, state, "discriminator", params["discriminator"], z, model_state=model_state
      )

    def discriminator(params):
      z, _, _ = encode(algorithm, state, params, x, labels, eps_key)
      real, dis_state = dis(params, z_prior)
      fake, _ = dis(params, z, dis_state)
      return discriminator_loss(real, fake)

    def autoencoder_terms(params):  # the autoencoder's phase: eps from the rng itself
      z, _, _ = encode(algorithm, state, params, x, labels, rng)
      logits, _ = run(algorithm, state, "decoder", params["decoder"], z, labels)
      code_logits, _ = dis(params, z)
      return jnp.mean(cost(x, logits)), generator_loss(code_logits)

    def encoder(params):
      reconstruction, adversarial = autoencoder_terms(params)
      # c(x, Dec(z~)) + lambda L_G(D(z~))  (Tolstikhin et al. 2018, Algorithm 1)
      return reconstruction + penalty_weight * adversarial

    def decoder(params):
      return autoencoder_terms(params)[0]  # c(x, Dec(z~))  (Makhzani et al. 2015, sec. 2)

    return per_player(
      algorithm,
      state,
      {"discriminator": discriminator, "encoder": encoder, "decoder": decoder},
    )

  return reference


def wae_mmd_losses(*, penalty_weight, prior, latent_dim=LATENT_DIM):
  """Tolstikhin et al. 2018, Algorithm 2: Enc descends c + lambda MMD^2_k, Dec descends c;
  (eps_key, prior_key) = split(rng)."""
  # C = 2 d_z sigma_z^2 times the authors' multipliers  (Tolstikhin et al. 2018, sec. 4)
  base = 2.0 * latent_dim * prior_variance(prior, latent_dim)
  scales = [base * m for m in IMQ_MULTIPLIERS]

  def reference(algorithm, state, batch, rng):
    x, labels = batch["x"], labels_of(algorithm, batch)
    eps_key, prior_key = jax.random.split(rng)
    z_prior = algorithm.prior_samples(prior_key, x.shape[0])

    def terms(params):
      z, _, _ = encode(algorithm, state, params, x, labels, eps_key)
      logits, _ = run(algorithm, state, "decoder", params["decoder"], z, labels)
      return jnp.mean(squared_error(x, logits)), imq_mmd(z, z_prior, scales)

    def encoder(params):
      cost, mmd = terms(params)
      return cost + penalty_weight * mmd  # (Tolstikhin et al. 2018, Algorithm 2)

    def decoder(params):
      return terms(params)[0]  # (Tolstikhin et al. 2018, Algorithm 2)

    return per_player(algorithm, state, {"encoder": encoder, "decoder": decoder})

  return reference


# --- The cases ------------------------------------------------------------------------------------

MIXTURE = {"name": "gaussian_mixture", "num_components": 10, "radius": 2.0, "std": 0.5}
GAUSSIAN = {"name": "gaussian"}
SPIKE_AND_SLAB = {"name": "spike_and_slab", "slab_probability": 0.3}


def nonzero_biases(algorithm, state):
  """Every bias of every player + N(0, 0.1^2) (numpy's draw, fixed seed): Flax's zero biases put
  a spike-and-slab prior's all-zero codes exactly on the discriminator's ReLU kinks, where finite
  differences are meaningless, and zero biases could hide a term that multiplies them."""
  del algorithm
  rng = np.random.default_rng(0)

  def shift(path, leaf):
    if path[-1].key != "bias":
      return leaf
    return leaf + jnp.asarray(0.1 * rng.standard_normal(leaf.shape), leaf.dtype)

  players = {
    name: player.replace(params=jax.tree_util.tree_map_with_path(shift, player.params))
    for name, player in state.players.items()
  }
  return state.replace(players=players)


def case(algorithm, label, config, reference, **fields):
  return GradientCase(algorithm, label, config, reference, prepare=nonzero_biases, **fields)


VAE_CASES = [
  case(
    "vae",
    "bernoulli",
    vae_config(reconstruction={"name": "bernoulli"}),
    vae_losses(bernoulli_nll),
  ),
  case(
    "vae",
    "gaussian_default_std",
    vae_config(reconstruction={"name": "gaussian"}),
    vae_losses(gaussian_nll(DEFAULT_DECODER_STD)),
  ),
  case(
    "vae",
    "cvae_labels_gaussian_std0.3",
    vae_config(conditional=True, reconstruction={"name": "gaussian", "std": 0.3}),
    vae_losses(gaussian_nll(0.3)),
  ),
  RefusedCase(
    "vae",
    "squared_error_is_no_likelihood",
    vae_config(reconstruction={"name": "squared_error"}),
    match="Unknown reconstruction 'squared_error'",
  ),
]


def vaegan_case(label, **options):
  settings = dict(
    loss="minimax", feed_reconstructions=True, feature_reduction="sum", equilibrium_gating=True
  )
  settings.update(options)
  return case(
    "vaegan",
    label,
    vaegan_config(**settings),
    vaegan_losses(
      gamma=0.3,
      decoder_loss=settings["loss"],
      feed_reconstructions=settings["feed_reconstructions"],
      feature_reduction=settings["feature_reduction"],
    ),
  )


# Equilibrium gating is on in every case (the config's default): it does not change the gradients.
VAEGAN_CASES = [
  vaegan_case("minimax_feed_reconstructions_feature_sum"),
  vaegan_case(
    "non_saturating_no_reconstructions_in_gan_feature_mean",
    loss="non_saturating",
    feed_reconstructions=False,
    feature_reduction="mean",
  ),
  RefusedCase(
    "vaegan",
    "wasserstein_decoder_loss",
    vaegan_config(loss="wasserstein"),
    match="Unknown algorithm.loss 'wasserstein'",
  ),
]

# The objective cases use the config's prior, the Gaussian mixture, and a deterministic encoder.
AAE_CASES = [
  case(
    "aae",
    f"objective_{name}",
    aae_config(loss=name),
    aae_losses(objective=name, penalty_weight=0.7, cost=bernoulli_nll),
    objective=name,
  )
  for name in AAE_OBJECTIVES
]
AAE_CASES += [
  RefusedCase(
    "aae",
    f"objective_{name}",
    aae_config(loss=name),
    match=f"algorithm.loss = '{name}': the encoder's adversarial term sees D on the codes only",
    objective=name,
  )
  for name in AAE_REFUSED_OBJECTIVES
]
AAE_CASES += [
  case(
    "aae",
    "prior_gaussian_stochastic_encoder",
    aae_config(prior=GAUSSIAN, stochastic_encoder=True),
    aae_losses(objective="non_saturating", penalty_weight=0.7, cost=bernoulli_nll),
  ),
  case(
    "aae",
    "prior_spike_and_slab_squared_error",
    aae_config(prior=SPIKE_AND_SLAB, reconstruction={"name": "squared_error"}),
    aae_losses(objective="non_saturating", penalty_weight=0.7, cost=squared_error),
  ),
]

WAE_CASES = [
  case(
    "wae",
    "mmd_prior_gaussian",
    wae_config(penalty="mmd", prior=GAUSSIAN),
    wae_mmd_losses(penalty_weight=10.0, prior=GAUSSIAN),
  ),
  case(
    "wae",
    "mmd_prior_gaussian_mixture",
    wae_config(penalty="mmd", prior=MIXTURE),
    wae_mmd_losses(penalty_weight=10.0, prior=MIXTURE),
  ),
  case(
    "wae",
    "mmd_prior_spike_and_slab_stochastic_encoder",
    wae_config(penalty="mmd", prior=SPIKE_AND_SLAB, stochastic_encoder=True, penalty_weight=2.5),
    wae_mmd_losses(penalty_weight=2.5, prior=SPIKE_AND_SLAB),
  ),
  case(
    "wae",
    "gan",
    wae_config(penalty="gan"),
    aae_losses(objective="non_saturating", penalty_weight=10.0, cost=squared_error),
  ),
  RefusedCase(
    "wae",
    "unknown_penalty",
    wae_config(penalty="sliced"),
    match="Unknown algorithm.penalty 'sliced'",
  ),
]

# test_vae_gradients.py checks that these cover the likelihoods, objectives, priors and switches.
CASES = VAE_CASES + VAEGAN_CASES + AAE_CASES + WAE_CASES
