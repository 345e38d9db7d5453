"""ALI (Dumoulin et al. 2017, "Adversarially Learned Inference") and BiGAN (Donahue et al. 2017,
"Adversarial Feature Learning"): a generator G: z -> x, an encoder E: x -> z and a discriminator D
on (x, z) pairs, which tells the encoder's joint q(x, z) = q(x) q(z|x) from the generator's
p(x, z) = p(z) p(x|z).

Players `generator`, `encoder`, `discriminator`, each with a gradient function over its own params.
With D(.) = sigmoid(logit), x ~ data, z ~ p(z) = N(0, I), every term a mean over the batch:

  discriminator:  descend L_d = -E log D(x, E(x)) - E log(1 - D(G(z), z))
                  (ascent on V, ALI eq. 1 = BiGAN eq. 3; ALI Algorithm 1, L_d)
  generator and   `loss` "non_saturating": descend L_g = -E log(1 - D(x, E(x))) - E log D(G(z), z)
  encoder, one    (ascent on V', ALI sec. 2.3 eq. 4; ALI Algorithm 1, L_g; BiGAN sec. 3.4 and
  joint loss:     App. B, the "inverse" objective); `loss` "minimax": descend V (ALI eq. 1).

L_g depends on G's params through its fake term only and on E's through its real term only; each
player's grad_fn computes the whole L_g and differentiates it w.r.t. its own params (the others'
are constants, `stop_gradient`-ed where their outputs are D's inputs).

The encoder (`algorithm.stochastic_encoder`): ALI's Gaussian q(z|x), sampled as z = mu + sigma * eps
(ALI eq. 2), or BiGAN's deterministic E(x). D is a registered discriminator with one logit per
sample (e.g. "mlp") on the concatenation [flatten(x), z] (BiGAN sec. 3; the authors' 2-D ALI: a
maxout MLP on [x, z]).

Schedule (`algorithm.updates`): "simultaneous" (default), one phase of all three players, their
gradients taken at the same params on one batch and one draw of z and eps, then applied together —
ALI's Algorithm 1 and both authors' codes (IshmaelBelghazi/ALI `ali_algorithm`: one
`GradientDescent` over both gradients; jeffdonahue/bigan `train_gan.py`: `update_both` when k = 1;
BiGAN sec. 3.4: "we also update all modules D, G, and E simultaneously"); "alternating", k =
`algorithm.discriminator_steps` D phases, then one phase of G and E together, each phase on a fresh
batch (BiGAN sec. 3.4: D's "one or more steps", then theta_E and theta_G together). BiGAN's code
weighs each of the two terms by 1/2, a constant factor Adam all but cancels.

Random draws: z ~ N(0, I) from the grad_fn's rng itself, eps from `fold_in(rng, ENCODER_NOISE)`.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from jaxgen import losses, optim
from jaxgen.algorithms.base import (
  AlgorithmBase,
  Player,
  TrainState,
  apply_module,
  player_gradient,
  register,
)
from jaxgen.errors import ConfigError
from jaxgen.nn import precision as precision_lib
from jaxgen.nn import traits as traits_lib
from jaxgen.nn.registry import DISCRIMINATORS, ENCODERS, GENERATORS, build_network
from jaxgen.options import Option, flag, integer, read_options

__all__ = ["ALI", "ENCODER_NOISE", "LOSSES", "UPDATES"]

# fold_in tag of the encoder's eps; z is drawn from the grad_fn's rng itself (a test redraws both).
ENCODER_NOISE = 1
# G and E's objective: ALI eq. 4 (V', non-saturating) or ALI eq. 1 (V, minimax).
LOSSES = ("non_saturating", "minimax")
# All three players at one point (ALI Algorithm 1), or D's k phases first (BiGAN sec. 3.4).
UPDATES = ("simultaneous", "alternating")

ALI_OPTIONS = (
  Option("loss", "non_saturating", "G and E's loss: V' (ALI eq. 4) or V (eq. 1)", choices=LOSSES),
  Option("stochastic_encoder", True, "Gaussian q(z|x) (ALI eq. 2) or BiGAN's E(x)", check=flag),
  Option("updates", "simultaneous", "all at one point (ALI Alg. 1) or D first", choices=UPDATES),
  Option("discriminator_steps", 1, "k, D's phases before G+E's if alternating", check=integer(1)),
)


def discriminator_loss(real_logits, fake_logits):
  """L_d = -E log D(x, E(x)) - E log(1 - D(G(z), z)), with log D = -softplus(-l) and
  log(1 - D) = -softplus(l) (ALI Algorithm 1, L_d; ALI eq. 1; BiGAN eq. 3)."""
  return jnp.mean(jax.nn.softplus(-real_logits)) + jnp.mean(jax.nn.softplus(fake_logits))


def joint_generator_loss(name: str, real_logits, fake_logits):
  """G and E's loss: "non_saturating" -E log(1 - D(x, E(x))) - E log D(G(z), z) (ALI Algorithm 1,
  L_g; ALI eq. 4; BiGAN App. B), or "minimax" V = E log D(x, E(x)) + E log(1 - D(G(z), z)) (ALI
  eq. 1, descended by G and E)."""
  if name == "non_saturating":
    return jnp.mean(jax.nn.softplus(real_logits)) + jnp.mean(jax.nn.softplus(-fake_logits))
  return -discriminator_loss(real_logits, fake_logits)


def schedule_of(updates: str, steps: int) -> tuple[tuple[str, ...], ...]:
  """ALI Algorithm 1's one phase, or k D phases then G and E together (see the module doc)."""
  if updates == "alternating":
    return (("discriminator",),) * steps + (("generator", "encoder"),)
  if steps != 1:
    raise ConfigError(
      f"algorithm.updates = 'simultaneous' takes every gradient at one point, so "
      f"algorithm.discriminator_steps = {steps} has no meaning; set it to 1 or use 'alternating'."
    )
  return (("discriminator", "generator", "encoder"),)


def build_networks(config, example_shape, stochastic: bool) -> dict:
  """The players' modules from `model.<player>`; D is built for inputs [flatten(x), z] and must
  give one logit per sample."""
  precision = precision_lib.from_config(config)
  latent_dim, facts = int(config.model.latent_dim), dict(example_shape=example_shape, num_classes=0)
  model = config.model
  networks = {
    "generator": build_network(
      GENERATORS, "generator", model.generator, precision=precision, **facts
    ),
    "encoder": build_network(
      ENCODERS,
      "encoder",
      model.encoder,
      precision=precision,
      latent_dim=latent_dim,
      stochastic=stochastic,
      **facts,
    ),
    # D reads the pair as one vector [flatten(x), z] (BiGAN sec. 3).
    "discriminator": build_network(
      DISCRIMINATORS,
      "discriminator",
      model.discriminator,
      precision=precision,
      example_shape=(math.prod(example_shape) + latent_dim,),
      num_classes=0,
    ),
  }
  output = traits_lib.traits_of(networks["discriminator"]).output
  if output != traits_lib.LOGIT:
    raise ConfigError(
      f"model.discriminator.name = {model.discriminator.get('name')!r} returns "
      f"{traits_lib.OUTPUTS[output]}; ALI's D scores each (x, z) pair with one logit "
      f"({traits_lib.OUTPUTS[traits_lib.LOGIT]}): use 'mlp'."
    )
  return networks


class ALINetworks:
  """G, E and D and their passes: the training-mode pass of the game and the inference-mode
  `sample`, `encode` and `reconstruct` (ALI sec. 4.1's reconstructions G(E(x)))."""

  generator: object
  encoder: object
  discriminator: object
  latent_dim: int

  def init_variables(self, rng, batch):
    g_key, e_key, d_key = jax.random.split(rng, 3)
    num = batch["x"].shape[0]
    z = jnp.zeros((num, self.latent_dim))
    return {
      "generator": self.generator.init(g_key, z, None, train=False),
      "encoder": self.encoder.init(e_key, batch["x"], None, train=False),
      "discriminator": self.discriminator.init(d_key, self.pairs(batch["x"], z), None, train=False),
    }

  def latents(self, rng, num):
    """z ~ p(z) = N(0, I) (ALI sec. 2: 'the standard Normal distribution')."""
    return jax.random.normal(rng, (num, self.latent_dim))

  @staticmethod
  def encoded(encoder_output, rng):
    """z = mu + sigma * eps, eps ~ N(0, I) (ALI eq. 2), or the deterministic E(x) (BiGAN)."""
    mean, log_variance = encoder_output[:2]
    return mean if log_variance is None else losses.reparameterize(rng, mean, log_variance)

  @staticmethod
  def pairs(x, z):
    """D's input [flatten(x), z] (BiGAN sec. 3)."""
    return jnp.concatenate([x.reshape((x.shape[0], -1)), z], axis=-1)

  def forward(self, state: TrainState, params: dict, batch, rng):
    """The game in training mode at `params` (by player): D's logits of the encoder's pairs
    (x, E(x)) and of the generator's (G(z), z), and every player's new model state."""
    x, players = batch["x"], state.players
    encoder_output, e_state = apply_module(
      self.encoder, params["encoder"], players["encoder"].model_state, x, None, train=True
    )
    z_hat = self.encoded(encoder_output, jax.random.fold_in(rng, ENCODER_NOISE))
    z = self.latents(rng, x.shape[0])
    x_tilde, g_state = apply_module(
      self.generator, params["generator"], players["generator"].model_state, z, None, train=True
    )
    d_params, d_state = params["discriminator"], players["discriminator"].model_state
    real_logits, d_state = apply_module(
      self.discriminator, d_params, d_state, self.pairs(x, z_hat), None, train=True
    )
    fake_logits, d_state = apply_module(
      self.discriminator, d_params, d_state, self.pairs(x_tilde, z), None, train=True
    )
    states = {"encoder": e_state, "generator": g_state, "discriminator": d_state}
    return real_logits, fake_logits, states

  def generate(self, state: TrainState, z):
    g = state.players["generator"]
    return apply_module(self.generator, g.params, g.model_state, z, None, train=False)[0]

  def sample(self, state: TrainState, rng, num, labels=None):
    """`num` samples G(z), z ~ N(0, I), in inference mode (running batch statistics)."""
    del labels
    return self.generate(state, self.latents(rng, num))

  def encode(self, state: TrainState, x, rng=None):
    """The code of x in inference mode: E(x) (deterministic), or for a Gaussian q(z|x) its mean
    mu(x) when `rng` is None and a sample mu + sigma * eps (ALI eq. 2) otherwise."""
    e = state.players["encoder"]
    output, _ = apply_module(self.encoder, e.params, e.model_state, x, None, train=False)
    return output[0] if rng is None else self.encoded(output, rng)

  def reconstruct(self, state: TrainState, x, rng=None):
    """G(encode(x)) in inference mode."""
    return self.generate(state, self.encode(state, x, rng))


@register("ali")
class ALI(ALINetworks, AlgorithmBase):
  """ALI / BiGAN. Config: `algorithm.loss`, `.stochastic_encoder`, `.updates`,
  `.discriminator_steps`; `model.generator`, `model.encoder`, `model.discriminator` (one logit per
  sample, on [flatten(x), z]); `optimizer.<player>`."""

  PLAYERS = {"generator": "generator", "encoder": "encoder", "discriminator": "discriminator"}
  OPTIONS = ALI_OPTIONS

  def __init__(self, config, dataset):
    options = read_options(type(self), config.algorithm)
    if bool(config.conditional):
      raise ConfigError(
        "conditional = True: this ALI is unconditional (ALI's conditional variant, sec. 4.5, is "
        "not implemented); set conditional = False."
      )
    self.num_classes, self.latent_dim = 0, int(config.model.latent_dim)
    self.example_shape = tuple(dataset.example_shape)
    self.loss_name, self.stochastic_encoder = options.loss, options.stochastic_encoder
    networks = build_networks(config, self.example_shape, self.stochastic_encoder)
    self.generator, self.encoder = networks["generator"], networks["encoder"]
    self.discriminator = networks["discriminator"]
    self.schedule = schedule_of(options.updates, options.discriminator_steps)
    grads = {
      "generator": self.generator_grads,
      "encoder": self.encoder_grads,
      "discriminator": self.discriminator_grads,
    }
    # Every player draws z and eps from its phase's one key: in a simultaneous phase all three see
    # one draw (ALI Algorithm 1: one forward pass serves L_d and L_g), G and E always do.
    self.players = {
      name: Player(
        name,
        networks[name],
        optim.make_optimizer(config.optimizer[name]),
        grads[name],
        shares_phase_noise=True,
      )
      for name in self.PLAYERS
    }

  def _params(self, state: TrainState, name: str, own, frozen: tuple[str, ...]):
    """Every player's params with `name`'s replaced by `own` (the ones differentiated); those in
    `frozen` pass through `stop_gradient`."""
    params = {p: state.players[p].params for p in self.players}
    params = {p: jax.lax.stop_gradient(v) if p in frozen else v for p, v in params.items()}
    return {**params, name: own}

  def discriminator_grads(self, state: TrainState, batch, rng):
    """Gradient of L_d w.r.t. theta_d only (ALI Algorithm 1: theta_d <- theta_d - grad L_d); G's
    and E's outputs are data to D."""

    def loss_fn(own):
      params = self._params(state, "discriminator", own, frozen=("generator", "encoder"))
      real_logits, fake_logits, states = self.forward(state, params, batch, rng)
      loss = discriminator_loss(real_logits, fake_logits)
      d_real, d_fake = jax.nn.sigmoid(real_logits), jax.nn.sigmoid(fake_logits)
      metrics = {"loss": loss, "d_real": jnp.mean(d_real), "d_fake": jnp.mean(d_fake)}
      return loss, (states["discriminator"], metrics)

    return player_gradient(loss_fn, state.players["discriminator"].params)

  def _joint_grads(self, name: str, state: TrainState, batch, rng):
    """Gradient of L_g w.r.t. player `name`'s params only (ALI Algorithm 1: theta_g <- theta_g -
    grad L_g, theta_g = G's and E's); D's params are constants here."""

    def loss_fn(own):
      params = self._params(state, name, own, frozen=("discriminator",))
      real_logits, fake_logits, states = self.forward(state, params, batch, rng)
      loss = joint_generator_loss(self.loss_name, real_logits, fake_logits)
      return loss, (states[name], {"loss": loss})

    return player_gradient(loss_fn, state.players[name].params)

  def generator_grads(self, state: TrainState, batch, rng):
    """Gradient of L_g w.r.t. theta_G only: through the fake pairs (G(z), z)."""
    return self._joint_grads("generator", state, batch, rng)

  def encoder_grads(self, state: TrainState, batch, rng):
    """Gradient of L_g w.r.t. theta_E only: through the real pairs (x, E(x))."""
    return self._joint_grads("encoder", state, batch, rng)
