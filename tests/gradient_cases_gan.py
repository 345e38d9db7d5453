"""Gradient cases of the GAN family for `test_registry_gradients.py` (harness: `gradient_harness`).

Every case is one configuration of one algorithm around its small default (ring8, batch 8, MLPs
with one hidden layer of 8 units; G with batch norm, D maxout): one objective, penalty or
stabiliser switch at a time, plus pairs that interact. An accepted configuration is a
`GradientCase` whose losses are built here by hand from the papers' formulas in plain jnp: nothing
of `jaxgen.losses`, `jaxgen.stabilisers`, `jaxgen.optim` or the algorithm's loss methods runs; only
the players' Flax modules and the data set (the unrolled GAN's D optimizer steps are written out
here; `tests/test_unrolled.py` also writes its networks out). The random numbers are redrawn from
the gradient function's `rng` as the algorithms draw them (latents from `rng` itself, instance
noise, penalty points and replay indices from `fold_in(rng, tag)` with the tags of
`jaxgen.algorithms.gan`). A refused configuration is a `RefusedCase` with the real error text.

Spectral normalisation: the power-iteration vectors are constants of the gradient (Miyato et al.
2018, Algorithm 1), so they are computed here, from D's stored vectors, at the parameter point of
the gradient and then held fixed inside the hand-built loss; the finite differences of that loss
then see the same function the gradient is of. The vectors thread through D's applications as
the algorithms thread D's model state: real pass, then fake pass, then the penalty's critic, all
in D's loss; both passes of G's loss start from D's stored vectors.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any

import flax
import jax
import jax.numpy as jnp
from gradient_harness import GradientCase, RefusedCase
from jax.scipy.special import logsumexp

from jaxgen.algorithms.base import phase_noise_key
from jaxgen.algorithms.gan import NOISE_FAKE, NOISE_REAL, PENALTY, REPLAY, UNROLL
from jaxgen.configs import default
from jaxgen.errors import ConfigError

GAN_FAMILY = ("gan", "unrolled", "acgan", "infogan", "ebgan", "began", "madgan")
TAKES_OBJECTIVE = ("gan", "unrolled", "acgan", "infogan")
STABILISED = PENALISED = GAN_FAMILY  # walked per switch and per penalty
OBJECTIVES = (
  "minimax",
  "non_saturating",
  "wasserstein",
  "least_squares",
  "hinge",
  "ragan",
  "ralsgan",
)
WITH_TARGETS = ("minimax", "non_saturating", "least_squares")
RELATIVISTIC = ("ragan", "ralsgan")
PENALTY_NAMES = ("wgan_gp", "dragan", "r1")

BATCH = 8
LATENT = 2
STEP = 3  # the train step of every case: > 0 for annealing, historical averaging and replay
PENALTY_WEIGHT = 2.5
EBGAN_MARGIN = 0.6
EBGAN_PT_WEIGHT = 0.3
BEGAN_K = 0.37
MADGAN_GENERATORS = 2
INFO_CATEGORICAL, INFO_CONTINUOUS, INFO_WEIGHT = 3, 1, 0.8
UNROLL_STEPS = 2
# The unrolled GAN's D optimizer: a large step with momentum, so the unrolled D moves and the
# optimizer's state threads through the K steps.
UNROLLED_D_OPTIMIZER = (("name", "momentum"), ("learning_rate", 0.5), ("beta", 0.5))
# The objectives of a zero-sum game, where the unrolled G descends the whole value f (both terms).
ZERO_SUM = ("minimax", "wasserstein")

# One setting per stabiliser switch (instance noise 0.25: exact in float32, as the library's std).
SWITCHES: dict[str, dict[str, Any]] = {
  "label_smoothing": {"label_smoothing": 0.2},
  "instance_noise": {"instance_noise": 0.25},
  "instance_noise_anneal_steps": {"instance_noise": 0.25, "instance_noise_anneal_steps": 8},
  "packing": {"packing": 2},
  "feature_matching": {"feature_matching": True},
  "historical_averaging": {"historical_averaging": 0.3},
  "minibatch_discrimination": {"minibatch_discrimination": 3},
  # 4 fresh fakes a step: 12 written by step 3, in a buffer of 16 (part filled)...
  "replay_fraction": {"replay_fraction": 0.5, "replay_capacity": 16},
  # ... and 2 a step, 6 written into a buffer of 5 (full, wrapped).
  "replay_capacity": {"replay_fraction": 0.25, "replay_capacity": 5},
  "spectral_norm": {"spectral_norm": True},
  "generator_ema": {"generator_ema": 0.9},
}
STABILISER_DEFAULTS = {
  "label_smoothing": 0.0,
  "instance_noise": 0.0,
  "instance_noise_anneal_steps": 0,
  "packing": 1,
  "feature_matching": False,
  "historical_averaging": 0.0,
  "minibatch_discrimination": 0,
  "replay_fraction": 0.0,
  "replay_capacity": 10_000,
  "spectral_norm": False,
  "generator_ema": 0.0,
}


@dataclasses.dataclass(frozen=True)
class Spec:
  """A configuration, read both by the config builder and by the hand-built losses."""

  algorithm: str
  loss: str = "non_saturating"
  penalty: str | None = None
  stabilisers: tuple[tuple[str, Any], ...] = ()
  conditional: bool = False
  weight_clip: float = 0.0
  options: tuple[tuple[str, Any], ...] = ()  # more `config.algorithm` fields
  d_optimizer: tuple[tuple[str, Any], ...] = ()

  @property
  def s(self) -> dict[str, Any]:
    return {**STABILISER_DEFAULTS, **dict(self.stabilisers)}

  def option(self, name, default_value):
    return dict(self.options).get(name, default_value)


def make_config(spec: Spec):
  config = default.get_config()
  config.data.name = "ring8"
  config.batch_size = BATCH
  config.conditional = spec.conditional
  config.model.latent_dim = LATENT
  config.model.generator = {"name": "mlp", "hidden": (8,), "batch_norm": True}
  if spec.algorithm in ("ebgan", "began"):
    config.model.discriminator = {"name": "autoencoder", "hidden": (8,), "code_dim": 3}
  else:
    config.model.discriminator = {"name": "mlp", "hidden": (8,), "maxout_pieces": 2}
  config.algorithm.name = spec.algorithm
  config.algorithm.loss = spec.loss
  if spec.penalty:
    config.algorithm.penalty = {"name": spec.penalty, "weight": PENALTY_WEIGHT}
  config.algorithm.weight_clip = spec.weight_clip
  for name, value in spec.stabilisers:
    config.algorithm.stabilisers[name] = value
  defaults = {
    "ebgan": {"margin": EBGAN_MARGIN, "pulling_away_weight": EBGAN_PT_WEIGHT},
    "began": {"gamma": 0.5, "lambda_k": 1e-3},
    "madgan": {"num_generators": MADGAN_GENERATORS},
    "infogan": {
      "categorical_codes": INFO_CATEGORICAL,
      "continuous_codes": INFO_CONTINUOUS,
      "info_weight": INFO_WEIGHT,
    },
    "unrolled": {"unroll_steps": UNROLL_STEPS},
  }.get(spec.algorithm, {})
  for name, value in {**defaults, **dict(spec.options)}.items():
    config.algorithm[name] = value
  adam = {"name": "adam", "learning_rate": 2e-4, "b1": 0.5, "b2": 0.999}
  config.optimizer.generator = dict(adam)
  config.optimizer.discriminator = dict(adam)
  if spec.algorithm == "unrolled" or spec.d_optimizer:
    config.optimizer.discriminator = dict(d_optimizer_of(spec))
  return config


def d_optimizer_of(spec: Spec) -> tuple[tuple[str, Any], ...]:
  """The unrolled GAN's D optimizer config of `spec` (as pairs)."""
  return spec.d_optimizer or UNROLLED_D_OPTIMIZER


# --- small hand-written pieces ------------------------------------------------------------------


def log_sigmoid(t):
  """log D = log(1 / (1 + e^-t)) for D = sigmoid(t), written stably as -log(1 + e^-t)."""
  return -jnp.logaddexp(0.0, -t)


def cross_entropy(logits, labels):
  """-E[log softmax(logits)_label], the negative log-likelihood of the labels."""
  log_probs = logits - logsumexp(logits, axis=-1, keepdims=True)
  return -jnp.mean(jnp.take_along_axis(log_probs, labels[:, None], axis=1))


def squared_norm_of_difference(a, b):
  return sum(
    jnp.sum(jnp.square(x - y)) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
  )


def hand_d_objective(name, real, fake, target):
  """D's loss on D's outputs of the real and the fake batch."""
  if name in ("minimax", "non_saturating"):
    # Goodfellow et al. 2014, eq. 1: -(E log D(x) + E log(1 - D(G(z)))); real target t
    # (Salimans et al. 2016, sec. 3.4): -(t log D(x) + (1 - t) log(1 - D(x))).
    real_term = target * log_sigmoid(real) + (1.0 - target) * log_sigmoid(-real)
    return -(jnp.mean(real_term) + jnp.mean(log_sigmoid(-fake)))
  if name == "wasserstein":
    # Arjovsky et al. 2017, eq. 3: the critic maximises E f(x) - E f(G(z)).
    return -(jnp.mean(real) - jnp.mean(fake))
  if name == "least_squares":
    # Mao et al. 2017, eq. 2 with a = 0, b = target: 1/2 E (D(x) - b)^2 + 1/2 E (D(G(z)) - a)^2.
    return 0.5 * jnp.mean((real - target) ** 2) + 0.5 * jnp.mean(fake**2)
  if name == "hinge":
    # Miyato et al. 2018, eq. 16: E max(0, 1 - D(x)) + E max(0, 1 + D(G(z))).
    return jnp.mean(jnp.maximum(0.0, 1.0 - real)) + jnp.mean(jnp.maximum(0.0, 1.0 + fake))
  real_rel, fake_rel = real - jnp.mean(fake), fake - jnp.mean(real)
  if name == "ragan":
    # Jolicoeur-Martineau 2019, sec. 4.3: -E log sig(C(x_r) - E C(x_f)) - E log(1 - sig(C(x_f) -
    # E C(x_r))).
    return -jnp.mean(log_sigmoid(real_rel)) - jnp.mean(log_sigmoid(-fake_rel))
  if name == "ralsgan":
    # Jolicoeur-Martineau 2019, appendix (RaLSGAN): E (C_r - E C_f - 1)^2 + E (C_f - E C_r + 1)^2.
    return jnp.mean((real_rel - 1.0) ** 2) + jnp.mean((fake_rel + 1.0) ** 2)
  raise AssertionError(name)


def hand_g_objective(name, fake, real=None):
  """G's loss on D's outputs of the fakes (and, relativistic, of the real batch)."""
  if name == "minimax":
    return jnp.mean(log_sigmoid(-fake))  # Goodfellow et al. 2014, eq. 1: E log(1 - D(G(z)))
  if name == "non_saturating":
    return -jnp.mean(log_sigmoid(fake))  # Goodfellow et al. 2014, sec. 3: -E log D(G(z))
  if name in ("wasserstein", "hinge"):
    return -jnp.mean(fake)  # Arjovsky et al. 2017, Alg. 1 l. 10; Miyato et al. 2018, eq. 17
  if name == "least_squares":
    return 0.5 * jnp.mean((fake - 1.0) ** 2)  # Mao et al. 2017, eq. 2 with c = 1
  real_rel, fake_rel = real - jnp.mean(fake), fake - jnp.mean(real)
  if name == "ragan":
    # Jolicoeur-Martineau 2019, sec. 4.3 (L_G^RaSGAN): the roles of real and fake swapped.
    return -jnp.mean(log_sigmoid(fake_rel)) - jnp.mean(log_sigmoid(-real_rel))
  if name == "ralsgan":
    # Jolicoeur-Martineau 2019, appendix (L_G^RaLSGAN).
    return jnp.mean((fake_rel - 1.0) ** 2) + jnp.mean((real_rel + 1.0) ** 2)
  raise AssertionError(name)


# --- D's optimizer steps, written out (the unrolled GAN) -----------------------------------------


def hand_optimizer_step(options, grads, slots, step):
  """One descent step of D's optimizer at step t = `step` (0, 1, ...) on gradients `grads`:
  (the parameter change, the new slots). `slots` is None before the first step."""
  name, lr = options["name"], options["learning_rate"]
  if name == "momentum":
    # Polyak 1964, heavy ball in torch.optim.SGD's buffer form: b_1 = g_0, b_{t+1} = beta b_t +
    # g_t, theta_{t+1} = theta_t - lr b_{t+1}.
    beta = options.get("beta", 0.9)
    buffer = grads if slots is None else jax.tree.map(lambda b, g: beta * b + g, slots, grads)
    return jax.tree.map(lambda b: -lr * b, buffer), buffer
  if name == "adam":
    # Kingma & Ba 2015, Algorithm 1, eps_root inside the root as in optax: m_t = b1 m + (1 - b1) g,
    # v_t = b2 v + (1 - b2) g^2, change -lr (m_t / (1 - b1^t)) / (sqrt(v_t / (1 - b2^t) + eps_root)
    # + eps).
    b1, b2 = options.get("b1", 0.9), options.get("b2", 0.999)
    eps, eps_root = options.get("eps", 1e-8), options.get("eps_root", 0.0)
    zeros = jax.tree.map(jnp.zeros_like, grads)
    m, v = (zeros, zeros) if slots is None else slots
    m = jax.tree.map(lambda m_, g: b1 * m_ + (1.0 - b1) * g, m, grads)
    v = jax.tree.map(lambda v_, g: b2 * v_ + (1.0 - b2) * g**2, v, grads)
    t = step + 1

    def change(m_, v_):
      return -lr * (m_ / (1.0 - b1**t)) / (jnp.sqrt(v_ / (1.0 - b2**t) + eps_root) + eps)

    return jax.tree.map(change, m, v), (m, v)
  raise AssertionError(name)


# --- spectral normalisation (Miyato et al. 2018, Algorithm 1) ------------------------------------


def power_iteration(params, vectors):
  """One power-iteration step per weight from u: {path: (u', v)}, for M = W^T ([in, out])."""
  flat = flax.traverse_util.flatten_dict(flax.core.unfreeze(params), sep="/")
  result = {}
  for path, u in vectors.items():
    matrix = flat[path].reshape(-1, flat[path].shape[-1])
    v = matrix @ u
    v = v / jnp.sqrt(jnp.sum(v**2))  # v <- W^T u / ||W^T u||
    u = matrix.T @ v
    u = u / jnp.sqrt(jnp.sum(u**2))  # u <- W v / ||W v||
    result[path] = (u, v)
  return result


def power_chain(params, vectors, num):
  """`num` successive power-iteration steps, each from the u of the previous one."""
  chain = []
  for _ in range(num):
    step = power_iteration(params, vectors)
    chain.append(step)
    vectors = {path: u for path, (u, _) in step.items()}
  return chain


def spectral_normalise(params, uv):
  """W / sigma(W) with sigma = u^T W v at the given (constant) u, v."""
  flat = flax.traverse_util.flatten_dict(flax.core.unfreeze(params), sep="/")
  for path, (u, v) in uv.items():
    matrix = flat[path].reshape(-1, flat[path].shape[-1])
    flat[path] = flat[path] / (v @ matrix @ u)
  return flax.traverse_util.unflatten_dict(flat, sep="/")


# --- the hand-built losses ----------------------------------------------------------------------


class Reference:
  """The hand-built losses of one case at one state, batch and rng."""

  def __init__(self, spec: Spec, algorithm, state, batch, rng):
    self.spec, self.algorithm, self.state, self.batch, self.rng = spec, algorithm, state, batch, rng
    # generator_reuses_fakes: G's z is that of the last D phase, whose rng is the phase's shared
    # key (PyTorch's DCGAN example: G's step on the fake batch D just saw).
    self.g_latent_key = rng
    if spec.option("generator_reuses_fakes", False):
      last_d_phase = spec.option("discriminator_steps", 1) - 1
      self.g_latent_key = phase_noise_key(state, last_d_phase)
    self.s = spec.s
    self.name = spec.algorithm
    self.step = int(state.step)
    d = state.players["discriminator"]
    self.d_params = d.params
    self.d_state = {k: v for k, v in d.model_state.items() if k != "spectral_vectors"}
    self.vectors = d.model_state.get("spectral_vectors")
    self.d_module = algorithm.players["discriminator"].module
    self.x = batch["x"]
    self.y = batch["y"]
    self.d_labels = self.y if spec.conditional else None
    self.g_labels = self.y if (spec.conditional or self.name == "acgan") else None
    self.categorical = spec.option("categorical_codes", INFO_CATEGORICAL)
    self.continuous = spec.option("continuous_codes", INFO_CONTINUOUS)

  # --- networks --------------------------------------------------------------------------------

  def run_g(self, player, params, z, labels):
    """G(z) in training mode (batch norm on the batch's statistics)."""
    module = self.algorithm.players[player].module
    model_state = self.state.players[player].model_state
    variables = {"params": params, **model_state}
    if model_state:
      out, _ = module.apply(variables, z, labels, train=True, mutable=list(model_state))
      return out
    return module.apply(variables, z, labels, train=True)

  def run_d(self, params, x, labels, uv):
    """D's outputs and the features it sows on its last hidden layer, in training mode."""
    if uv is not None:
      params = spectral_normalise(params, uv)
    out, updated = self.d_module.apply(
      {"params": params, **self.d_state},
      x,
      labels,
      train=True,
      mutable=[*self.d_state, "intermediates"],
    )
    flat = flax.traverse_util.flatten_dict(flax.core.unfreeze(updated.get("intermediates", {})))
    found = [value for path, value in flat.items() if path[-1] == "features"]
    return out, (found[-1][-1] if found else None)

  def d_chain(self, params, num, vectors=None):
    vectors = self.vectors if vectors is None else vectors
    if not self.s["spectral_norm"]:
      return [None] * num
    return power_chain(params, vectors, num)

  def noise_std(self):
    """sigma_t = sigma max(0, 1 - t / T) (Sonderby et al. 2017; constant sigma when T = 0)."""
    sigma, anneal = self.s["instance_noise"], self.s["instance_noise_anneal_steps"]
    return sigma * max(0.0, 1.0 - self.step / anneal) if anneal else sigma

  def d_input(self, x, key):
    """Instance noise x + sigma_t eps (Sonderby et al. 2017), then PacGAN packs of m (Lin et al.
    2018): pack i is the concatenation of samples i m, ..., i m + m - 1."""
    if self.s["instance_noise"]:
      x = x + self.noise_std() * jax.random.normal(key, x.shape, x.dtype)
    m = self.s["packing"]
    if m > 1:
      x = jnp.concatenate([x[j::m] for j in range(m)], axis=-1)
    return x

  def history(self, params, player):
    """Salimans et al. 2016, sec. 3.3: w ||theta - (1/t) sum_i theta[i]||^2."""
    weight = self.s["historical_averaging"]
    if not weight or self.step == 0:
      return 0.0
    return weight * squared_norm_of_difference(params, self.state.extra["history_mean"][player])

  # --- G's samples -----------------------------------------------------------------------------

  def info_codes(self, key):
    """InfoGAN's codes (Chen et al. 2016, sec. 7): c_cat ~ U{0..K-1}, c_cont ~ U[-1, 1]^d."""
    cat_key, cont_key = jax.random.split(key)
    return {
      "categorical": jax.random.randint(cat_key, (BATCH,), 0, max(self.categorical, 1)),
      "continuous": jax.random.uniform(cont_key, (BATCH, self.continuous), minval=-1.0, maxval=1.0),
    }

  def fakes(self, params, latent_key=None):
    """G(z) with z ~ N(0, I) drawn from rng or `latent_key` (InfoGAN: [z, one-hot(c_cat),
    c_cont]); the codes."""
    if self.name == "infogan":
      noise_key, code_key = jax.random.split(self.rng)
      codes = self.info_codes(code_key)
      z = jnp.concatenate(
        [
          jax.random.normal(noise_key, (BATCH, LATENT)),
          jax.nn.one_hot(codes["categorical"], self.categorical),
          codes["continuous"],
        ],
        axis=-1,
      )
    else:
      key = self.rng if latent_key is None else latent_key
      codes, z = None, jax.random.normal(key, (BATCH, LATENT))
    return self.run_g("generator", params, z, self.g_labels), codes

  def replay(self, fake):
    """Shrivastava et al. 2017, sec. 2.3: the first r B fakes replaced by past fakes drawn
    uniformly from the written part of the buffer (step * r B fakes written so far)."""
    fraction = self.s["replay_fraction"]
    if not fraction:
      return fake
    num = round(fraction * BATCH)
    written = self.step * max(1, num)
    filled = min(written, self.s["replay_capacity"])
    if filled == 0:
      return fake
    index = jax.random.randint(jax.random.fold_in(self.rng, REPLAY), (num,), 0, filled)
    return jnp.concatenate([self.state.extra["replay_buffer"][index], fake[num:]])

  # --- auxiliary terms -------------------------------------------------------------------------

  def mutual_information(self, heads, codes):
    """L_I = E log Q(c | G(z, c)) + H(c) (Chen et al. 2016, sec. 5): categorical Q's softmax,
    H = log K; continuous Q = N(mean, 1), H(U[-1, 1]) = log 2 per dimension."""
    bound = 0.0
    if self.categorical:
      logits = heads[:, : self.categorical]
      bound = math.log(self.categorical) - cross_entropy(logits, codes["categorical"])
    if self.continuous:
      means = heads[:, self.categorical :]
      log_q = -0.5 * (codes["continuous"] - means) ** 2 - 0.5 * math.log(2 * math.pi)
      bound = bound + jnp.mean(jnp.sum(log_q, axis=-1)) + self.continuous * math.log(2.0)
    return bound

  def penalty(self, params, real, fake, uv, key):
    """The gradient penalty on D's logit, with per-sample input gradients (vmap of the gradient
    of D on one sample)."""
    labels = self.d_labels

    def logit_of_one(x, y):
      out, _ = self.run_d(params, x[None], None if y is None else y[None], uv)
      return (out[0] if isinstance(out, tuple) else out)[0]

    def gradients(points):
      if labels is None:
        return jax.vmap(jax.grad(lambda x: logit_of_one(x, None)))(points)
      return jax.vmap(jax.grad(logit_of_one))(points, labels)

    def norms(points):
      return jnp.sqrt(jnp.sum(gradients(points) ** 2, axis=-1))

    if self.spec.penalty == "wgan_gp":
      # Gulrajani et al. 2017, eq. 3 and Alg. 1 l. 6: lambda E (||grad D(x_hat)|| - 1)^2,
      # x_hat = eps x + (1 - eps) x_tilde, eps ~ U[0, 1] per sample.
      eps = jax.random.uniform(key, (real.shape[0], 1), real.dtype)
      return PENALTY_WEIGHT * jnp.mean((norms(eps * real + (1.0 - eps) * fake) - 1.0) ** 2)
    if self.spec.penalty == "dragan":
      # Kodali et al. 2017 (authors' code): lambda E (||grad D(x + a (x_p - x))|| - 1)^2 with
      # x_p = x + 0.5 std(x) U[0, 1), a ~ U[0, 1] per sample.
      noise_key, alpha_key = jax.random.split(key)
      std = jnp.sqrt(jnp.mean((real - jnp.mean(real)) ** 2))
      perturbed = real + 0.5 * std * jax.random.uniform(noise_key, real.shape, real.dtype)
      alpha = jax.random.uniform(alpha_key, (real.shape[0], 1), real.dtype)
      return PENALTY_WEIGHT * jnp.mean((norms(alpha * perturbed + (1.0 - alpha) * real) - 1.0) ** 2)
    if self.spec.penalty == "r1":
      # Mescheder et al. 2018, eq. 9: gamma / 2 E_{p_D} ||grad D(x)||^2.
      return 0.5 * PENALTY_WEIGHT * jnp.mean(jnp.sum(gradients(real) ** 2, axis=-1))
    raise AssertionError(self.spec.penalty)

  # --- the GAN, conditional GAN, ACGAN, InfoGAN and the unrolled GAN --------------------------

  def gan_d_loss(self, params, fake, key, chain, codes):
    """D's loss on the real batch and the given fakes; `chain`: D's power-iteration vectors of
    the real pass, the fake pass and the penalty's critic."""
    real_in = self.d_input(self.x, jax.random.fold_in(key, NOISE_REAL))
    fake_in = self.d_input(fake, jax.random.fold_in(key, NOISE_FAKE))
    real_out, _ = self.run_d(params, real_in, self.d_labels, chain[0])
    fake_out, _ = self.run_d(params, fake_in, self.d_labels, chain[1])
    real_logit = real_out[0] if isinstance(real_out, tuple) else real_out
    fake_logit = fake_out[0] if isinstance(fake_out, tuple) else fake_out
    target = 1.0 - self.s["label_smoothing"]
    loss = hand_d_objective(self.spec.loss, real_logit, fake_logit, target)
    if self.spec.penalty:
      loss = loss + self.penalty(
        params, real_in, fake_in, chain[2], jax.random.fold_in(key, PENALTY)
      )
    if self.name == "acgan":
      # Odena et al. 2017, sec. 3: D maximises L_C = E log P(c | x_real) + E log P(c | x_fake).
      loss = loss + cross_entropy(real_out[1], self.y) + cross_entropy(fake_out[1], self.y)
    if self.name == "infogan":
      # Chen et al. 2016, eq. 5: min_{D, Q} V(D, G) - lambda L_I(G, Q).
      loss = loss - INFO_WEIGHT * self.mutual_information(fake_out[1], codes)
    return loss + self.history(params, "discriminator")

  def gan_g_loss(self, params, d_params, uv):
    """G's loss against D at `d_params` (constants to G, except through the unrolled steps)."""
    fake, codes = self.fakes(params, self.g_latent_key)
    fake_in = self.d_input(fake, jax.random.fold_in(self.rng, NOISE_FAKE))
    fake_out, fake_features = self.run_d(d_params, fake_in, self.d_labels, uv)
    fake_logit = fake_out[0] if isinstance(fake_out, tuple) else fake_out
    if self.s["feature_matching"] or self.spec.loss in RELATIVISTIC:
      real_in = self.d_input(self.x, jax.random.fold_in(self.rng, NOISE_REAL))
      real_out, real_features = self.run_d(d_params, real_in, self.d_labels, uv)
      real_logit = real_out[0] if isinstance(real_out, tuple) else real_out
    if self.s["feature_matching"]:
      # Salimans et al. 2016, sec. 3.1: ||E f(x) - E f(G(z))||_2^2.
      loss = jnp.sum((jnp.mean(real_features, axis=0) - jnp.mean(fake_features, axis=0)) ** 2)
    elif self.spec.loss in RELATIVISTIC:
      loss = hand_g_objective(self.spec.loss, fake_logit, real_logit)
    else:
      loss = hand_g_objective(self.spec.loss, fake_logit)
    if self.name == "acgan":
      # Odena et al. 2017, sec. 3: G maximises L_C - L_S; its class term is E log P(c | x_fake).
      loss = loss + cross_entropy(fake_out[1], self.y)
    if self.name == "infogan":
      loss = loss - INFO_WEIGHT * self.mutual_information(fake_out[1], codes)  # Chen eq. 5
    return loss + self.history(params, "generator")

  def gan_losses(self):
    g_params = self.state.players["generator"].params
    fake, codes = self.fakes(g_params)
    fake = self.replay(fake)
    d_chain = self.d_chain(self.d_params, 3)
    g_uv = self.d_chain(self.d_params, 1)[0]
    losses = {
      "discriminator": lambda p: self.gan_d_loss(p, fake, self.rng, d_chain, codes),
      "generator": lambda p: self.gan_g_loss(p, self.d_params, g_uv),
    }
    if self.name == "unrolled":
      plan = []
      self.unrolled_g_loss(g_params, plan, record=True)
      losses["generator"] = lambda p: self.unrolled_g_loss(p, plan, record=False)
    return losses

  def unrolled_g_loss(self, params, plan, record):
    """Metz et al. 2016, eq. 10-12: f_K(theta_G, theta_D) = f(theta_G, theta_D^K), theta_D^0 =
    theta_D, theta_D^{k+1} = theta_D^k + eta^k df / dtheta_D^k: K steps of D's optimizer
    (`hand_optimizer_step`) on D's loss and the same fakes, differentiated through. `plan` holds
    the power-iteration vectors of the unrolled D (recorded at the gradient's parameter point:
    constants, as in every spectral-norm gradient)."""
    fake, codes = self.fakes(params)
    options = dict(d_optimizer_of(self.spec))
    opt_state = self.state.players["discriminator"].opt_state
    assert not any(jnp.any(leaf) for leaf in jax.tree.leaves(opt_state)), "D's optimizer is fresh"
    d_params, slots = self.d_params, None
    unroll_key = jax.random.fold_in(self.rng, UNROLL)
    vectors = self.vectors
    for k in range(self.spec.option("unroll_steps", UNROLL_STEPS)):
      if record:
        plan.append(self.d_chain(d_params, 3, vectors))
      chain = plan[k]
      key = jax.random.fold_in(unroll_key, k)
      grads = jax.grad(lambda p, c=chain, k_=key: self.gan_d_loss(p, fake, k_, c, codes))(d_params)
      change, slots = hand_optimizer_step(options, grads, slots, k)
      d_params = jax.tree.map(lambda p, u: p + u, d_params, change)
      if self.spec.weight_clip:
        clip = functools.partial(jnp.clip, min=-self.spec.weight_clip, max=self.spec.weight_clip)
        d_params = jax.tree.map(clip, d_params)  # WGAN, Alg. 1 l. 7
      if chain[1] is not None:
        vectors = {path: u for path, (u, _) in chain[1].items()}
    if record:
      plan.append(self.d_chain(d_params, 1, vectors)[0])
    if self.spec.loss in ZERO_SUM and not self.s["feature_matching"]:
      return self.game_value(params, d_params, plan[-1])
    # Any other objective: G's own loss at theta_D^K (Foerster et al. 2018, LOLA, sec. 3.2).
    return self.gan_g_loss(params, d_params, plan[-1])

  def game_value(self, params, d_params, uv):
    """f(theta_G, theta_D^K) of a zero-sum game, minus D's objective loss with both terms (Metz
    et al. 2016, eq. 10: E log D(x) + E log(1 - D(G(z))); Arjovsky et al. 2017, eq. 3: E f(x) -
    E f(G(z))), real target 1 - s with label smoothing; G's historical averaging added."""
    fake, _ = self.fakes(params, self.g_latent_key)
    fake_in = self.d_input(fake, jax.random.fold_in(self.rng, NOISE_FAKE))
    real_in = self.d_input(self.x, jax.random.fold_in(self.rng, NOISE_REAL))
    fake_out, _ = self.run_d(d_params, fake_in, self.d_labels, uv)
    real_out, _ = self.run_d(d_params, real_in, self.d_labels, uv)
    logit = lambda out: out[0] if isinstance(out, tuple) else out
    target = 1.0 - self.s["label_smoothing"]
    value = -hand_d_objective(self.spec.loss, logit(real_out), logit(fake_out), target)
    return value + self.history(params, "generator")

  # --- EBGAN and BEGAN -------------------------------------------------------------------------

  def energy(self, x, reconstruction):
    """EBGAN: mean (x - D(x))^2 (Zhao et al. 2016, sec. 2.3); BEGAN: mean |x - D(x)| (Berthelot
    et al. 2017, eq. 1, eta = 1); per sample."""
    error = x - reconstruction
    error = error**2 if self.name == "ebgan" else jnp.abs(error)
    return jnp.mean(error.reshape(error.shape[0], -1), axis=1)

  def energy_d_loss(self, params, fake, chain):
    real_in = self.d_input(self.x, jax.random.fold_in(self.rng, NOISE_REAL))
    fake_in = self.d_input(fake, jax.random.fold_in(self.rng, NOISE_FAKE))
    (real_rec, _), _ = self.run_d(params, real_in, None, chain[0])
    (fake_rec, _), _ = self.run_d(params, fake_in, None, chain[1])
    real_energy, fake_energy = self.energy(real_in, real_rec), self.energy(fake_in, fake_rec)
    if self.name == "ebgan":
      # Zhao et al. 2016, eq. 1: L_D = D(x) + [m - D(G(z))]^+.
      loss = jnp.mean(real_energy) + jnp.mean(jnp.maximum(0.0, EBGAN_MARGIN - fake_energy))
    else:
      # Berthelot et al. 2017, eq. 4: L_D = L(x) - k_t L(G(z_D)).
      loss = jnp.mean(real_energy) - self.state.extra["k"] * jnp.mean(fake_energy)
    return loss + self.history(params, "discriminator")

  def energy_g_loss(self, params, uv):
    fake, _ = self.fakes(params)
    fake_in = self.d_input(fake, jax.random.fold_in(self.rng, NOISE_FAKE))
    (reconstruction, code), _ = self.run_d(self.d_params, fake_in, None, uv)
    loss = jnp.mean(self.energy(fake_in, reconstruction))  # Zhao eq. 2; Berthelot eq. 4: L(G(z))
    if self.name == "ebgan":
      # Zhao et al. 2016, eq. 7: f_PT = 1 / (N (N - 1)) sum_{i != j} (S_i^T S_j / |S_i| |S_j|)^2.
      unit = code / jnp.sqrt(jnp.sum(code**2, axis=1, keepdims=True))
      cosines = unit @ unit.T
      num = code.shape[0]
      off_diagonal = jnp.where(jnp.eye(num, dtype=bool), 0.0, cosines**2)
      loss = loss + EBGAN_PT_WEIGHT * jnp.sum(off_diagonal) / (num * (num - 1))
    return loss + self.history(params, "generator")

  def energy_losses(self):
    fake, _ = self.fakes(self.state.players["generator"].params)
    fake = self.replay(fake)
    d_chain = self.d_chain(self.d_params, 2)
    g_uv = self.d_chain(self.d_params, 1)[0]
    return {
      "discriminator": lambda p: self.energy_d_loss(p, fake, d_chain),
      "generator": lambda p: self.energy_g_loss(p, g_uv),
    }

  # --- MAD-GAN ---------------------------------------------------------------------------------

  def class_logits(self, out):
    """D's k + 1 logits: generator i at index i, real last (Ghosh et al. 2018, sec. 3)."""
    logits, aux = out
    return jnp.concatenate([aux, logits[:, None]], axis=1)

  def madgan_d_loss(self, params, fake, sources, chain):
    real_in = self.d_input(self.x, jax.random.fold_in(self.rng, NOISE_REAL))
    fake_in = self.d_input(fake, jax.random.fold_in(self.rng, NOISE_FAKE))
    real_out, _ = self.run_d(params, real_in, None, chain[0])
    fake_out, _ = self.run_d(params, fake_in, None, chain[1])
    real_class = jnp.full((BATCH,), MADGAN_GENERATORS)
    # Ghosh et al. 2018, sec. 3: D's (k + 1)-class cross-entropy, real data class k + 1.
    loss = cross_entropy(self.class_logits(real_out), real_class) + cross_entropy(
      self.class_logits(fake_out), sources
    )
    return loss + self.history(params, "discriminator")

  def madgan_g_loss(self, player, params, uv):
    num = BATCH // MADGAN_GENERATORS
    fake = self.run_g(player, params, jax.random.normal(self.rng, (num, LATENT)), None)
    fake_in = self.d_input(fake, jax.random.fold_in(self.rng, NOISE_FAKE))
    out, _ = self.run_d(self.d_params, fake_in, None, uv)
    logits = self.class_logits(out)
    log_real = logits[:, -1] - logsumexp(logits, axis=-1)
    # Ghosh et al. 2018, sec. 3 (non-saturating): -E log D_{k+1}(G_i(z)).
    return -jnp.mean(log_real) + self.history(params, player)

  def madgan_losses(self):
    num = BATCH // MADGAN_GENERATORS
    names = [f"generator_{i}" for i in range(MADGAN_GENERATORS)]
    fake = jnp.concatenate(
      [
        self.run_g(
          name,
          self.state.players[name].params,
          jax.random.normal(jax.random.fold_in(self.rng, i), (num, LATENT)),
          None,
        )
        for i, name in enumerate(names)
      ]
    )
    sources = jnp.repeat(jnp.arange(MADGAN_GENERATORS), num)
    d_chain = self.d_chain(self.d_params, 2)
    g_uv = self.d_chain(self.d_params, 1)[0]
    losses = {"discriminator": lambda p: self.madgan_d_loss(p, fake, sources, d_chain)}
    for name in names:
      losses[name] = functools.partial(self.madgan_g_loss, name, uv=g_uv)
    return losses

  def losses(self):
    if self.name in ("ebgan", "began"):
      return self.energy_losses()
    if self.name == "madgan":
      return self.madgan_losses()
    return self.gan_losses()


def reference_losses(spec: Spec, algorithm, state, batch, rng):
  return Reference(spec, algorithm, state, batch, rng).losses()


def prepare(spec: Spec, algorithm, state):
  """Step 3; a running mean away from the params (historical averaging); a random replay buffer;
  BEGAN's k_t = 0.37."""
  extra = dict(state.extra)
  key = jax.random.key(7)
  if "history_mean" in extra:
    means = {}
    for i, (name, player) in enumerate(state.players.items()):
      leaves, treedef = jax.tree.flatten(player.params)
      keys = jax.random.split(jax.random.fold_in(key, i), len(leaves))
      means[name] = jax.tree.unflatten(
        treedef,
        [
          0.5 * p + 0.1 * jax.random.normal(k, p.shape, p.dtype)
          for p, k in zip(leaves, keys, strict=True)
        ],
      )
    extra["history_mean"] = means
  if "replay_buffer" in extra:
    buffer = extra["replay_buffer"]
    extra["replay_buffer"] = jax.random.normal(
      jax.random.fold_in(key, 99), buffer.shape, buffer.dtype
    )
  if "k" in extra:
    extra["k"] = jnp.asarray(BEGAN_K, jnp.float64)
  return state.replace(step=jnp.asarray(STEP, state.step.dtype), extra=extra)


# --- the cases ----------------------------------------------------------------------------------


def _spec(algorithm, *, switches=(), stabilisers=None, **kwargs) -> Spec:
  merged = {}
  for name in switches:
    merged.update(SWITCHES[name])
  merged.update(stabilisers or {})
  return Spec(algorithm, stabilisers=tuple(sorted(merged.items())), **kwargs)


def case(algorithm, label, *, objective=None, penalty_field=None, stabiliser=None, **kwargs):
  spec = _spec(algorithm, **kwargs)
  return GradientCase(
    algorithm=algorithm,
    label=label,
    config=functools.partial(make_config, spec),
    reference_losses=functools.partial(reference_losses, spec),
    objective=objective,
    penalty=penalty_field,
    stabiliser=stabiliser,
    prepare=functools.partial(prepare, spec),
  )


def refused(
  algorithm,
  label,
  match,
  *,
  objective=None,
  penalty_field=None,
  stabiliser=None,
  error=ValueError,
  **kwargs,
):
  spec = _spec(algorithm, **kwargs)
  return RefusedCase(
    algorithm=algorithm,
    label=label,
    config=functools.partial(make_config, spec),
    match=match,
    objective=objective,
    penalty=penalty_field,
    stabiliser=stabiliser,
    error=error,
  )


# The rule's messages (jaxgen.algorithms.stabiliser_rules): key, "is not supported by", reason.
PACKING_REFUSAL = r"algorithm.stabilisers.packing = 2 is not supported by .*judges samples alone"
REPLAY_REFUSAL = r"algorithm.stabilisers.replay_fraction = .* is not supported by .*unconditional"
SMOOTHING_REFUSAL = r"algorithm.stabilisers.label_smoothing = .* is not supported by .*real target"
MATCHING_REFUSAL = r"algorithm.stabilisers.feature_matching = True is not supported by .*relativ"
MINIBATCH_PENALTY_REFUSAL = r"algorithm.penalty.name = .*minibatch_discrimination = \d+ breaks"
MADGAN_REFUSAL = r"is not supported by algorithm 'madgan'"
MADGAN_CONDITIONAL_REFUSAL = r"MAD-GAN takes no labels"
REUSE_REFUSAL = r"generator_reuses_fakes = True is for the unconditional plain GAN"


def _energy_refusal(name, field):
  key = field if field.startswith("algorithm.") else f"algorithm.{field}"
  return rf"{key}.* is not supported by algorithm '{name.lower()}'"


# What each algorithm refuses of the one-at-a-time switches and penalties: {switch: (match, error)}.
REFUSES: dict[str, dict[str, str]] = {
  "gan": {},
  "unrolled": {},
  "acgan": {
    "packing": PACKING_REFUSAL,
    "replay_fraction": REPLAY_REFUSAL,
    "replay_capacity": REPLAY_REFUSAL,
  },
  "infogan": {
    "packing": PACKING_REFUSAL,
    "replay_fraction": REPLAY_REFUSAL,
    "replay_capacity": REPLAY_REFUSAL,
  },
  "madgan": {
    "label_smoothing": MADGAN_REFUSAL,
    "feature_matching": MADGAN_REFUSAL,
    "packing": PACKING_REFUSAL,
    "replay_fraction": REPLAY_REFUSAL,
    "replay_capacity": REPLAY_REFUSAL,
    **dict.fromkeys(PENALTY_NAMES, MADGAN_REFUSAL),
  },
  **{
    name: {
      "label_smoothing": _energy_refusal(title, "stabilisers.label_smoothing"),
      "feature_matching": _energy_refusal(title, "stabilisers.feature_matching"),
      "minibatch_discrimination": _energy_refusal(title, "stabilisers.minibatch_discrimination"),
      **dict.fromkeys(PENALTY_NAMES, _energy_refusal(title, "algorithm.penalty.name")),
    }
    for name, title in (("ebgan", "EBGAN"), ("began", "BEGAN"))
  },
}


def _one_at_a_time():
  cases = []
  for algorithm in GAN_FAMILY:
    refuses = REFUSES[algorithm]
    objective = "non_saturating" if algorithm in TAKES_OBJECTIVE else None
    cases.append(case(algorithm, "default", objective=objective))
    for switch in SWITCHES:
      if switch in refuses:
        cases.append(
          refused(algorithm, switch, refuses[switch], stabiliser=switch, switches=[switch])
        )
      else:
        cases.append(case(algorithm, switch, stabiliser=switch, switches=[switch]))
    for name in PENALTY_NAMES:
      if name in refuses:
        cases.append(refused(algorithm, name, refuses[name], penalty_field=name, penalty=name))
      else:
        cases.append(case(algorithm, name, penalty_field=name, penalty=name))
    if algorithm in TAKES_OBJECTIVE:
      for name in OBJECTIVES:
        if name != "non_saturating":
          cases.append(case(algorithm, name, objective=name, loss=name))
  return cases


def _pairs_and_refusals():
  c, r = case, refused
  cases = [
    # --- the GAN: pairs that interact ---
    c(
      "gan",
      "wgan_gp+packing",
      penalty_field="wgan_gp",
      loss="wasserstein",
      penalty="wgan_gp",
      switches=["packing"],
    ),
    c(
      "gan",
      "dragan+instance_noise_annealed",
      penalty_field="dragan",
      penalty="dragan",
      switches=["instance_noise_anneal_steps"],
    ),
    c("gan", "r1+spectral_norm", penalty_field="r1", penalty="r1", switches=["spectral_norm"]),
    c(
      "gan",
      "wgan_gp+spectral_norm",
      penalty_field="wgan_gp",
      loss="wasserstein",
      penalty="wgan_gp",
      switches=["spectral_norm"],
    ),
    c(
      "gan",
      "wgan_gp+historical_averaging",
      penalty_field="wgan_gp",
      loss="wasserstein",
      penalty="wgan_gp",
      switches=["historical_averaging"],
    ),
    c(
      "gan",
      "label_smoothing+instance_noise",
      stabiliser="label_smoothing",
      switches=["label_smoothing", "instance_noise"],
    ),
    c(
      "gan",
      "label_smoothing+minimax",
      objective="minimax",
      loss="minimax",
      switches=["label_smoothing"],
    ),
    c(
      "gan",
      "label_smoothing+least_squares",
      objective="least_squares",
      loss="least_squares",
      switches=["label_smoothing"],
    ),
    c(
      "gan",
      "feature_matching+replay",
      stabiliser="feature_matching",
      switches=["feature_matching", "replay_fraction"],
    ),
    c(
      "gan",
      "feature_matching+packing",
      stabiliser="feature_matching",
      switches=["feature_matching", "packing"],
    ),
    c(
      "gan",
      "feature_matching+instance_noise",
      stabiliser="feature_matching",
      switches=["feature_matching", "instance_noise"],
    ),
    c("gan", "ragan+instance_noise", objective="ragan", loss="ragan", switches=["instance_noise"]),
    c("gan", "ralsgan+packing", objective="ralsgan", loss="ralsgan", switches=["packing"]),
    c(
      "gan",
      "replay+instance_noise",
      stabiliser="replay_fraction",
      switches=["replay_fraction", "instance_noise"],
    ),
    c(
      "gan", "replay+packing", stabiliser="replay_fraction", switches=["replay_fraction", "packing"]
    ),
    c(
      "gan",
      "minibatch+spectral_norm",
      stabiliser="minibatch_discrimination",
      switches=["minibatch_discrimination", "spectral_norm"],
    ),
    c("gan", "conditional", conditional=True),
    c("gan", "conditional+r1", penalty_field="r1", conditional=True, penalty="r1"),
    c(
      "gan",
      "conditional+wgan_gp+instance_noise",
      penalty_field="wgan_gp",
      conditional=True,
      loss="wasserstein",
      penalty="wgan_gp",
      switches=["instance_noise"],
    ),
    c("gan", "weight_clip", objective="wasserstein", loss="wasserstein", weight_clip=0.01),
    # --- the GAN: refusals ---
    *[
      r(
        "gan",
        f"label_smoothing+{name}",
        SMOOTHING_REFUSAL,
        objective=name,
        loss=name,
        switches=["label_smoothing"],
      )
      for name in OBJECTIVES
      if name not in WITH_TARGETS
    ],
    *[
      r(
        "gan",
        f"feature_matching+{name}",
        MATCHING_REFUSAL,
        objective=name,
        loss=name,
        switches=["feature_matching"],
      )
      for name in RELATIVISTIC
    ],
    *[
      r(
        algorithm,
        f"{name}+minibatch_discrimination",
        MINIBATCH_PENALTY_REFUSAL,
        error=ConfigError,
        penalty_field=name,
        penalty=name,
        switches=["minibatch_discrimination"],
      )
      for algorithm in TAKES_OBJECTIVE
      for name in PENALTY_NAMES
    ],
    r(
      "gan",
      "conditional+packing",
      PACKING_REFUSAL,
      stabiliser="packing",
      conditional=True,
      switches=["packing"],
    ),
    r(
      "gan",
      "conditional+replay",
      REPLAY_REFUSAL,
      stabiliser="replay_fraction",
      conditional=True,
      switches=["replay_fraction"],
    ),
    # --- the unrolled GAN ---
    c(
      "unrolled",
      "adam",
      d_optimizer=(("name", "adam"), ("learning_rate", 0.05), ("eps_root", 1e-8)),
    ),
    c("unrolled", "weight_clip", objective="wasserstein", loss="wasserstein", weight_clip=0.3),
    c("unrolled", "conditional", conditional=True),
    c(
      "unrolled",
      "wgan_gp+instance_noise",
      penalty_field="wgan_gp",
      loss="wasserstein",
      penalty="wgan_gp",
      switches=["instance_noise"],
    ),
    c(
      "unrolled",
      "feature_matching+spectral_norm",
      stabiliser="feature_matching",
      switches=["feature_matching", "spectral_norm"],
    ),
    # The zero-sum surrogate (both terms of f at theta_D^K) with what acts on D and its inputs.
    c(
      "unrolled",
      "minimax+adam",
      objective="minimax",
      loss="minimax",
      d_optimizer=(("name", "adam"), ("learning_rate", 0.05), ("eps_root", 1e-8)),
    ),
    c(
      "unrolled",
      "minimax+label_smoothing",
      objective="minimax",
      loss="minimax",
      switches=["label_smoothing"],
    ),
    c(
      "unrolled",
      "minimax+spectral_norm+instance_noise",
      objective="minimax",
      loss="minimax",
      switches=["spectral_norm", "instance_noise"],
    ),
    c("unrolled", "minimax+conditional", objective="minimax", loss="minimax", conditional=True),
    c(
      "unrolled",
      "minimax+historical_averaging",
      objective="minimax",
      loss="minimax",
      switches=["historical_averaging"],
    ),
    c(  # feature matching replaces G's objective: G's own loss at theta_D^K
      "unrolled",
      "minimax+feature_matching",
      objective="minimax",
      loss="minimax",
      switches=["feature_matching"],
    ),
    r(
      "unrolled",
      "adam_without_eps_root",
      r"Unrolling differentiates through D's optimizer",
      d_optimizer=(("name", "adam"), ("learning_rate", 0.05)),
    ),
    r(
      "unrolled",
      "label_smoothing+hinge",
      SMOOTHING_REFUSAL,
      objective="hinge",
      loss="hinge",
      switches=["label_smoothing"],
    ),
    r(
      "unrolled",
      "feature_matching+ragan",
      MATCHING_REFUSAL,
      objective="ragan",
      loss="ragan",
      switches=["feature_matching"],
    ),
    # --- ACGAN ---
    c(
      "acgan",
      "wgan_gp+spectral_norm",
      penalty_field="wgan_gp",
      loss="wasserstein",
      penalty="wgan_gp",
      switches=["spectral_norm"],
    ),
    c(
      "acgan",
      "feature_matching+instance_noise",
      stabiliser="feature_matching",
      switches=["feature_matching", "instance_noise"],
    ),
    c(
      "acgan",
      "label_smoothing+least_squares",
      objective="least_squares",
      loss="least_squares",
      switches=["label_smoothing"],
    ),
    r(
      "acgan",
      "label_smoothing+wasserstein",
      SMOOTHING_REFUSAL,
      objective="wasserstein",
      loss="wasserstein",
      switches=["label_smoothing"],
    ),
    r(
      "acgan",
      "feature_matching+ralsgan",
      MATCHING_REFUSAL,
      objective="ralsgan",
      loss="ralsgan",
      switches=["feature_matching"],
    ),
    # --- InfoGAN ---
    c("infogan", "categorical_codes_only", options=(("continuous_codes", 0),)),
    c("infogan", "continuous_codes_only", options=(("categorical_codes", 0),)),
    c(
      "infogan", "r1+instance_noise", penalty_field="r1", penalty="r1", switches=["instance_noise"]
    ),
    c(
      "infogan",
      "dragan+spectral_norm",
      penalty_field="dragan",
      penalty="dragan",
      switches=["spectral_norm"],
    ),
    r(
      "infogan",
      "label_smoothing+ragan",
      SMOOTHING_REFUSAL,
      objective="ragan",
      loss="ragan",
      switches=["label_smoothing"],
    ),
    r(
      "infogan",
      "feature_matching+ragan",
      MATCHING_REFUSAL,
      objective="ragan",
      loss="ragan",
      switches=["feature_matching"],
    ),
    r(
      "infogan",
      "one_categorical_value",
      r"InfoGAN needs categorical_codes >= 2",
      options=(("categorical_codes", 1),),
    ),
    # --- EBGAN and BEGAN ---
    c(
      "ebgan",
      "packing+instance_noise",
      stabiliser="packing",
      switches=["packing", "instance_noise"],
    ),
    c(
      "ebgan",
      "replay+spectral_norm",
      stabiliser="replay_fraction",
      switches=["replay_fraction", "spectral_norm"],
    ),
    c(
      "ebgan",
      "historical_averaging+packing",
      stabiliser="historical_averaging",
      switches=["historical_averaging", "packing"],
    ),
    c(
      "began",
      "packing+instance_noise_annealed",
      stabiliser="packing",
      switches=["packing", "instance_noise_anneal_steps"],
    ),
    c(
      "began",
      "replay+spectral_norm",
      stabiliser="replay_fraction",
      switches=["replay_fraction", "spectral_norm"],
    ),
    c(
      "began",
      "historical_averaging+instance_noise",
      stabiliser="historical_averaging",
      switches=["historical_averaging", "instance_noise"],
    ),
    r(
      "began",
      "two_discriminator_steps",
      r"BEGAN updates D and G once each per step",
      options=(("discriminator_steps", 2),),
    ),
    r(
      "ebgan", "conditional", r"The 'autoencoder' discriminator is unconditional", conditional=True
    ),
    # --- MAD-GAN ---
    c(
      "madgan",
      "minibatch+spectral_norm",
      stabiliser="minibatch_discrimination",
      switches=["minibatch_discrimination", "spectral_norm"],
    ),
    c(
      "madgan",
      "instance_noise+historical_averaging",
      stabiliser="instance_noise",
      switches=["instance_noise", "historical_averaging"],
    ),
    r(
      "madgan",
      "three_generators_batch_8",
      r"must be divisible by num_generators=3",
      options=(("num_generators", 3),),
    ),
    r("madgan", "conditional", MADGAN_CONDITIONAL_REFUSAL, conditional=True),
    # --- G's step on the last D phase's fakes (PyTorch's DCGAN example) ---
    c("gan", "generator_reuses_fakes", options=(("generator_reuses_fakes", True),)),
    c(
      "gan",
      "generator_reuses_fakes+historical_averaging+k2",  # the direct dL/dtheta term; phase 1's z
      stabiliser="historical_averaging",
      switches=["historical_averaging", "instance_noise"],
      options=(("generator_reuses_fakes", True), ("discriminator_steps", 2)),
    ),
    r(
      "gan",
      "generator_reuses_fakes+conditional",
      REUSE_REFUSAL,
      error=ConfigError,
      conditional=True,
      options=(("generator_reuses_fakes", True),),
    ),
    r(
      "acgan",
      "generator_reuses_fakes",
      REUSE_REFUSAL,
      error=ConfigError,
      options=(("generator_reuses_fakes", True),),
    ),
  ]
  return cases


CASES = _one_at_a_time() + _pairs_and_refusals()
