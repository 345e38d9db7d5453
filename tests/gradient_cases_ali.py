"""Gradient cases of ALI / BiGAN (`jaxgen.algorithms.ali`) for `test_registry_gradients.py`.

Every player's loss is written out here in plain jnp from the papers: with D = sigmoid(logit),
r = D's logit of the encoder's pair (x, E(x)) and f = its logit of the generator's pair (G(z), z),

  discriminator:        L_d = -E log D(x, E(x)) - E log(1 - D(G(z), z))
                        (Dumoulin et al. 2017, Algorithm 1; their eq. 1 = Donahue et al., eq. 3)
  generator, encoder:   L_g = -E log(1 - D(x, E(x))) - E log D(G(z), z)   (ALI Algorithm 1, eq. 4)
                        or, with loss "minimax", V = E log D(x, E(x)) + E log(1 - D(G(z), z))
                        (ALI eq. 1, which G and E descend).

The encoder's code is mu + exp(log_var / 2) * eps (ALI eq. 2) or E(x) itself (BiGAN); D reads
[flatten(x), z] (BiGAN sec. 3). Nothing of `jaxgen.losses` or the algorithm's own loss and forward
methods runs here: only the players' Flax modules (training mode: G's batch statistics) and the
data set. The noise is redrawn from the grad_fn's rng as the module docstring of
`jaxgen.algorithms.ali` states: z ~ N(0, I) from the rng itself, eps from fold_in(rng,
ENCODER_NOISE). Each loss is a function of one player's params with the others' held at the state.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from gradient_cases_autoencoder import nonzero_biases  # biases + N(0, 0.1^2), fixed seed
from gradient_harness import GradientCase, RefusedCase

from jaxgen.algorithms.ali import ENCODER_NOISE
from jaxgen.configs import default
from jaxgen.errors import ConfigError

BATCH = 8
LATENT = 2


def ali_config(
  *,
  data="ring8",
  stochastic_encoder=True,
  loss="non_saturating",
  updates="simultaneous",
  discriminator_steps=1,
  conditional=False,
  discriminator=None,
):
  """A tiny ALI: batch 8, z_dim 2, G with one hidden layer of 8 units and batch norm (or a small
  DCGAN G on 8 x 8 digits), E one hidden layer of 8, D maxout 8 units x 2 pieces on [x, z]."""

  def config():
    config = default.get_config()
    for key in ("penalty", "weight_clip", "generator_reuses_fakes", "stabilisers"):
      del config.algorithm[key]
    config.data.name = data
    if data == "digits":
      config.data.options = {"size": 8}
      config.model.generator = {"name": "dcgan", "base_features": 4, "num_upsamplings": 2}
    else:
      config.model.generator = {"name": "mlp", "hidden": (8,), "batch_norm": True}
    config.batch_size = BATCH
    config.conditional = conditional
    config.model.latent_dim = LATENT
    config.model.encoder = {"name": "mlp", "hidden": (8,)}
    config.model.discriminator = discriminator or {
      "name": "mlp",
      "hidden": (8,),
      "maxout_pieces": 2,
    }
    config.algorithm.name = "ali"
    config.algorithm.loss = loss
    config.algorithm.stochastic_encoder = stochastic_encoder
    config.algorithm.updates = updates
    config.algorithm.discriminator_steps = discriminator_steps
    # The gradients do not involve the optimizers; SGD has no state to initialise.
    sgd = {"name": "sgd", "learning_rate": 0.1}
    config.optimizer = {"generator": sgd, "encoder": dict(sgd), "discriminator": dict(sgd)}
    return config

  return config


def log_sigmoid(t):
  """log D = log(1 / (1 + e^-t)) for D = sigmoid(t), written stably as -log(1 + e^-t)."""
  return -jnp.logaddexp(0.0, -t)


def hand_losses(*, stochastic: bool, loss: str):
  """The three players' losses from ALI's Algorithm 1, written out (see the module docstring)."""

  def reference(algorithm, state, batch, rng):
    x = batch["x"]
    num = x.shape[0]
    z = jax.random.normal(rng, (num, LATENT))  # p(z) = N(0, I), from the rng itself
    eps = jax.random.normal(jax.random.fold_in(rng, ENCODER_NOISE), (num, LATENT))
    held = {name: player.params for name, player in state.players.items()}

    def run(name, params, inputs):
      module = algorithm.players[name].module
      model_state = state.players[name].model_state
      variables = {"params": params, **model_state}
      if model_state:  # training mode: batch norm normalises by this batch's statistics
        return module.apply(variables, inputs, None, train=True, mutable=list(model_state))[0]
      return module.apply(variables, inputs, None, train=True)

    def logits(generator, encoder, discriminator):
      head = run("encoder", encoder, x)
      if stochastic:
        mean, log_variance = head
        z_hat = mean + jnp.exp(0.5 * log_variance) * eps  # ALI eq. 2
      else:
        z_hat, nothing = head
        assert nothing is None
      x_tilde = run("generator", generator, z)
      flat = lambda images: images.reshape((num, -1))
      real = run("discriminator", discriminator, jnp.concatenate([flat(x), z_hat], axis=1))
      fake = run("discriminator", discriminator, jnp.concatenate([flat(x_tilde), z], axis=1))
      return real, fake

    def d_loss(discriminator):
      real, fake = logits(held["generator"], held["encoder"], discriminator)
      # L_d = -1/M sum log rho_q - 1/M sum log(1 - rho_p), 1 - sigmoid(t) = sigmoid(-t)
      return -(jnp.mean(log_sigmoid(real)) + jnp.mean(log_sigmoid(-fake)))

    def g_loss(real, fake):
      if loss == "non_saturating":
        # L_g = -1/M sum log(1 - rho_q) - 1/M sum log rho_p
        return -(jnp.mean(log_sigmoid(-real)) + jnp.mean(log_sigmoid(fake)))
      # V = E log D(x, E(x)) + E log(1 - D(G(z), z)), descended by G and E
      return jnp.mean(log_sigmoid(real)) + jnp.mean(log_sigmoid(-fake))

    return {
      "discriminator": d_loss,
      "generator": lambda g: g_loss(*logits(g, held["encoder"], held["discriminator"])),
      "encoder": lambda e: g_loss(*logits(held["generator"], e, held["discriminator"])),
    }

  return reference


def case(label, *, stochastic=True, loss="non_saturating", **options):
  return GradientCase(
    "ali",
    label,
    ali_config(stochastic_encoder=stochastic, loss=loss, **options),
    hand_losses(stochastic=stochastic, loss=loss),
    prepare=nonzero_biases,
  )


CASES = [
  case("ali_stochastic_encoder"),
  case("bigan_deterministic_encoder", stochastic=False),
  case("ali_minimax", loss="minimax"),
  case("bigan_minimax", stochastic=False, loss="minimax"),
  # The same grad_fns under the alternating schedule (D twice, then G and E together).
  case("ali_alternating", updates="alternating", discriminator_steps=2),
  # Images: D reads [flatten(x), z] of 8 x 8 digits (64 + 2 inputs); a DCGAN G.
  case("bigan_digits", stochastic=False, data="digits"),
  RefusedCase(
    "ali",
    "hinge_loss",
    ali_config(loss="hinge"),
    match=r"algorithm\.loss = 'hinge' is not one of \['minimax', 'non_saturating'\]",
    error=ConfigError,
  ),
  RefusedCase(
    "ali",
    "simultaneous_with_two_discriminator_steps",
    ali_config(discriminator_steps=2),
    match=r"algorithm\.discriminator_steps = 2 has no meaning",
    error=ConfigError,
  ),
  RefusedCase(
    "ali",
    "conditional",
    ali_config(conditional=True, data="digits"),
    match=r"conditional = True: this ALI is unconditional",
    error=ConfigError,
  ),
  RefusedCase(
    "ali",
    "energy_discriminator",
    ali_config(discriminator={"name": "autoencoder", "hidden": (8,), "code_dim": 3}),
    match=r"model\.discriminator\.name = 'autoencoder' returns a reconstruction",
    error=ConfigError,
  ),
]
