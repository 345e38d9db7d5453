"""The GAN minimax game (Goodfellow et al. 2014) and the conditional GAN (Mirza & Osindero 2014).

Two players, each with its own gradient function over its own parameters:

- `discriminator_grads`: ascent on V = E[log D(x)] + E[log(1 - D(G(z)))] w.r.t. theta_d, written as
  descent on -V (the generator's samples are inputs, not parameters, of this function);
- `generator_grads`: descent on E[log(1 - D(G(z)))] (`minimax`) or on -E[log D(G(z))]
  (`non_saturating`) w.r.t. theta_g only; D runs inside the loss but its params are constants.

Schedule: k discriminator phases, then one generator phase (Goodfellow et al. 2014, Algorithm 1),
each phase on a fresh batch. The objective pair comes from `jaxgen.losses`, so the other
objectives (WGAN, LSGAN, hinge, the relativistic RaSGAN / RaLSGAN, whose G loss also reads D on
the phase's real batch) reuse this class, and so do the config switches that compose with
any objective:

- `algorithm.penalty`: {"name": "wgan_gp" | "dragan" | "r1", "weight": ...} added to D's loss
  (`jaxgen.losses.penalties`; the penalty receives D's apply function on its inputs);
- `algorithm.weight_clip` c > 0: D's weights clipped to [-c, c] after every update (WGAN);
- `algorithm.stabilisers`: see `jaxgen.stabilisers`.

Subclasses (ACGAN, InfoGAN, unrolled GAN, EBGAN, BEGAN, several generators) override the hooks
`make_fakes`, `auxiliary_*_loss`, `discriminator_loss` / `generator_loss` or the players.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxgen import losses, optim, stabilisers
from jaxgen.algorithms.base import AlgorithmBase, Player, TrainState, Values, apply_module
from jaxgen.errors import ConfigError
from jaxgen.losses import penalties
from jaxgen.nn import gan_zoo
from jaxgen.nn.registry import DISCRIMINATORS, GENERATORS, build_network

# fold_in tags that give each random draw of a gradient function its own stream; the rng itself
# draws the latents, so a test can rebuild z from it.
NOISE_REAL, NOISE_FAKE, PENALTY, REPLAY, UNROLL = 1, 2, 3, 4, 5


def check_discriminator_steps(value: Any) -> int:
  if not (isinstance(value, int | np.integer) and value >= 1):
    raise ValueError(f"algorithm.discriminator_steps must be an integer >= 1; got {value!r}.")
  return int(value)


def check_weight_clip(value: Any) -> float:
  if not (isinstance(value, int | float) and np.isfinite(value) and value >= 0):
    raise ValueError(f"algorithm.weight_clip must be a finite number >= 0 (0: off); got {value!r}.")
  return float(value)


def make_penalty(config) -> penalties.Penalty | None:
  """The penalty of `{"name": ..., **options}` (absent or "none": no penalty)."""
  options = dict(config or {"name": "none"})
  return penalties.get_penalty(options.pop("name", "none"), **options)


def sown_features(intermediates: Mapping[str, Any]) -> jax.Array | None:
  """The (last) `features` a discriminator sowed, wherever it sits in the module tree."""
  flat = flax.traverse_util.flatten_dict(flax.core.unfreeze(intermediates))
  found = [value for path, value in flat.items() if path[-1] == "features"]
  return found[-1][-1] if found else None


def logits_of(outputs) -> jax.Array:
  """D's real/fake logits from its outputs: the array itself, or the first of (logits, aux)."""
  return outputs[0] if isinstance(outputs, tuple) else outputs


class GAN(AlgorithmBase):
  """The (conditional) GAN with a choice of objective and k discriminator steps per G step."""

  # Whether generated samples carry conditioning the losses need (labels, codes); such fakes
  # cannot be replayed later.
  fakes_carry_conditioning = False

  def __init__(self, config, dataset):
    self.latent_dim = int(config.model.latent_dim)
    self.conditional = bool(config.conditional)
    if self.conditional and dataset.num_classes == 0:
      raise ValueError(f"conditional=True needs labelled data; {dataset.name!r} has no labels.")
    self.num_classes = dataset.num_classes if self.conditional else 0
    self.example_shape = tuple(dataset.example_shape)
    self.batch_size = int(config.batch_size)
    algorithm = config.algorithm
    self.objective = losses.get_gan_objective(algorithm.get("loss", "non_saturating"))
    self.stabilisers = stabilisers.Stabilisers.from_config(algorithm.get("stabilisers"))
    self.penalty = make_penalty(algorithm.get("penalty"))
    self.weight_clip = check_weight_clip(algorithm.get("weight_clip", 0.0))
    self.generator = build_network(
      GENERATORS, "generator", config.model.generator, **self.generator_facts(dataset)
    )
    self.discriminator = self.build_discriminator(config, dataset)
    self.check_stabilisers()
    self.players = {
      "generator": Player(
        "generator",
        self.generator,
        optim.make_optimizer(config.optimizer.generator),
        self.generator_grads,
      ),
      "discriminator": Player(
        "discriminator",
        self.discriminator,
        optim.make_optimizer(config.optimizer.discriminator),
        self.discriminator_grads,
      ),
    }
    k = check_discriminator_steps(algorithm.discriminator_steps)
    self.schedule = (("discriminator",),) * k + (("generator",),)

  # --- construction hooks ----------------------------------------------------------------------

  def generator_facts(self, dataset) -> dict[str, Any]:
    return dict(example_shape=self.example_shape, num_classes=self.num_classes)

  def discriminator_facts(self, dataset) -> dict[str, Any]:
    return dict(example_shape=self.example_shape, num_classes=self.num_classes)

  def auxiliary_outputs(self) -> int:
    """Width of D's auxiliary head (ACGAN's classes, InfoGAN's Q); 0 for the plain GAN."""
    return 0

  def build_discriminator(self, config, dataset) -> nn.Module:
    base = build_network(
      DISCRIMINATORS,
      "discriminator",
      config.model.discriminator,
      **self.discriminator_facts(dataset),
    )
    if self.penalty is not None and getattr(base, "norm", None) == "batch":
      raise ValueError(
        "A gradient penalty needs per-sample gradients, which batch norm in D mixes (Gulrajani "
        "et al. 2017, sec. 4); set model.discriminator.norm to 'layer' or 'none'."
      )
    aux, kernels = self.auxiliary_outputs(), self.stabilisers.minibatch_discrimination
    if aux or kernels:
      return gan_zoo.HeadedDiscriminator(base, aux_outputs=aux, minibatch_kernels=kernels)
    return base

  def check_stabilisers(self) -> None:
    s = self.stabilisers
    if s.label_smoothing and not self.objective.has_real_target:
      names = sorted(n for n, o in losses.GAN_OBJECTIVES.items() if o.has_real_target)
      raise ValueError(f"label_smoothing needs an objective with targets, one of {names}.")
    if s.feature_matching and self.objective.generator_needs_real:
      # Rule: an objective whose G loss reads D on real data (relativistic) is that G loss;
      # feature matching would replace it, leaving only D's half of the objective.
      names = sorted(n for n, o in losses.GAN_OBJECTIVES.items() if o.generator_needs_real)
      raise ValueError(
        f"feature_matching replaces the generator loss, which for the objectives {names} is part "
        "of the relativistic game (Jolicoeur-Martineau 2019, sec. 4.3); turn one off."
      )
    if s.packing > 1 and (self.conditional or self.auxiliary_outputs()):
      raise ValueError(
        "packing > 1 cannot pair labels or per-sample heads with packed samples; "
        "use it with the unconditional GAN."
      )
    if s.replay_fraction and (self.conditional or self.fakes_carry_conditioning):
      raise ValueError(
        "replay_fraction > 0 needs unconditional fakes (replayed fakes carry no labels or codes)."
      )
    if self.penalty is not None and s.minibatch_discrimination:
      # The penalties take per-sample norms of grad_x sum_i D(x_i), which is D's gradient at x_i
      # only when D(x_i) does not depend on x_j (Gulrajani et al. 2017, sec. 4, on batch norm).
      name = next(n for n, f in penalties.PENALTIES.items() if f is self.penalty.func)
      raise ConfigError(
        f"algorithm.penalty.name = {name!r} with algorithm.stabilisers.minibatch_discrimination = "
        f"{s.minibatch_discrimination}: a gradient penalty needs per-sample gradients; minibatch "
        "discrimination mixes samples in D (Salimans et al. 2016, sec. 3.2), so the per-sample "
        "gradient norms of the penalty would be wrong. Turn one off (algorithm.penalty.name = "
        "'none' or algorithm.stabilisers.minibatch_discrimination = 0)."
      )

  @property
  def generator_players(self) -> tuple[str, ...]:
    return ("generator",)

  @property
  def generator_input_dim(self) -> int:
    return self.latent_dim

  # --- networks --------------------------------------------------------------------------------

  def _labels(self, batch):
    return batch["y"] if self.conditional else None

  def generator_labels(self, batch):
    return self._labels(batch)

  def discriminator_labels(self, batch):
    return self._labels(batch)

  def init_variables(self, rng, batch):
    g_rng, d_rng, sn_rng = jax.random.split(rng, 3)
    z = jnp.zeros((batch["x"].shape[0], self.generator_input_dim))
    return {
      "generator": self.generator.init(g_rng, z, self.generator_labels(batch), train=False),
      "discriminator": self.init_discriminator(d_rng, sn_rng, batch),
    }

  def init_discriminator(self, rng, sn_rng, batch):
    x = batch["x"]
    if self.stabilisers.packing > 1:
      x = stabilisers.pack(
        x[: x.shape[0] - x.shape[0] % self.stabilisers.packing], self.stabilisers.packing
      )
    variables = self.discriminator.init(
      rng, x, self.discriminator_labels(batch), train=False, mutable=True
    )
    variables = {k: v for k, v in variables.items() if k != "intermediates"}
    if self.stabilisers.spectral_norm:
      vectors = stabilisers.init_spectral_vectors(variables["params"], sn_rng)
      variables[stabilisers.SPECTRAL_VECTORS] = vectors
    return variables

  def latents(self, rng, num):
    """z ~ N(0, I), the prior of Radford et al. 2016 (any simple prior serves, Goodfellow 2014)."""
    return jax.random.normal(rng, (num, self.latent_dim))

  def generate(
    self,
    state: TrainState,
    rng,
    num,
    labels,
    *,
    train: bool,
    params=None,
    z=None,
    player="generator",
  ):
    """G(z) and G's updated model state; `params` overrides G's params (to differentiate)."""
    g = state.players[player]
    params = g.params if params is None else params
    z = self.latents(rng, num) if z is None else z
    return apply_module(self.generator, params, g.model_state, z, labels, train=train)

  def make_fakes(self, state: TrainState, rng, batch, *, params=None, player="generator"):
    """G's training-mode samples for `batch`, G's new model state, and the conditioning the
    auxiliary losses need (`{}` here; InfoGAN's codes)."""
    fake, model_state = self.generate(
      state,
      rng,
      batch["x"].shape[0],
      self.generator_labels(batch),
      train=True,
      params=params,
      player=player,
    )
    return fake, model_state, {}

  def critique(self, state: TrainState, x, labels, *, params=None, model_state=None):
    """D's outputs on x in training mode, the features it sows, and D's updated model state."""
    d = state.players["discriminator"]
    params = d.params if params is None else params
    model_state = dict(d.model_state if model_state is None else model_state)
    vectors = model_state.pop(stabilisers.SPECTRAL_VECTORS, None)
    if self.stabilisers.spectral_norm:
      params, vectors = stabilisers.spectral_normalise(params, vectors)
    outputs, updated = self.discriminator.apply(
      {"params": params, **model_state},
      x,
      labels,
      train=True,
      mutable=[*model_state, "intermediates"],
    )
    updated = dict(updated)
    features = sown_features(updated.pop("intermediates", {}))
    if vectors is not None:
      updated[stabilisers.SPECTRAL_VECTORS] = vectors
    return outputs, features, updated

  def discriminate(self, state: TrainState, x, labels, *, params=None, model_state=None):
    """D's logits in training mode and D's updated model state."""
    outputs, _, model_state = self.critique(
      state, x, labels, params=params, model_state=model_state
    )
    return logits_of(outputs), model_state

  def discriminator_inputs(self, state: TrainState, x, rng):
    """What D sees of a batch: instance noise added, then packed (see `jaxgen.stabilisers`)."""
    s = self.stabilisers
    if s.instance_noise:
      std = stabilisers.instance_noise_std(
        state.step, s.instance_noise, s.instance_noise_anneal_steps
      )
      x = x + std.astype(x.dtype) * jax.random.normal(rng, x.shape, x.dtype)
    return stabilisers.pack(x, s.packing) if s.packing > 1 else x

  # --- losses ----------------------------------------------------------------------------------

  def auxiliary_discriminator_loss(self, real_outputs, fake_outputs, batch, conditioning):
    """Extra terms of D's loss and their metrics (ACGAN's classes, InfoGAN's MI); none here."""
    return 0.0, {}

  def auxiliary_generator_loss(self, fake_outputs, batch, conditioning):
    """Extra terms of G's loss and their metrics; none here."""
    return 0.0, {}

  def history_penalty(self, state: TrainState, player: str, params) -> jax.Array:
    """Salimans et al. 2016's historical averaging term (0 when the switch is off)."""
    weight = self.stabilisers.historical_averaging
    if not weight:
      return 0.0
    mean = state.extra["history_mean"][player]
    return stabilisers.historical_averaging_penalty(params, mean, state.step, weight)

  def critique_real_and_fake(self, state: TrainState, params, real, fake, labels, rng, model_state):
    """D on a real and a fake batch: (D's real input, fake input, real out, fake out, state)."""
    real = self.discriminator_inputs(state, real, jax.random.fold_in(rng, NOISE_REAL))
    fake = self.discriminator_inputs(state, fake, jax.random.fold_in(rng, NOISE_FAKE))
    # Real and fake go through D separately, each with its own batch statistics (DCGAN).
    real_out, _, model_state = self.critique(
      state, real, labels, params=params, model_state=model_state
    )
    fake_out, _, model_state = self.critique(
      state, fake, labels, params=params, model_state=model_state
    )
    return real, fake, real_out, fake_out, model_state

  def discriminator_loss(
    self, state: TrainState, params, batch, fake, conditioning, rng, model_state=None
  ):
    """D's loss on a real batch and given fakes: (loss, (D's new model state, metrics))."""
    labels = self.discriminator_labels(batch)
    real, fake, real_out, fake_out, model_state = self.critique_real_and_fake(
      state, params, batch["x"], fake, labels, rng, model_state
    )
    real_logits, fake_logits = logits_of(real_out), logits_of(fake_out)
    if self.stabilisers.label_smoothing:
      target = 1.0 - self.stabilisers.label_smoothing
      loss = self.objective.discriminator_loss(real_logits, fake_logits, real_target=target)
    else:
      loss = self.objective.discriminator_loss(real_logits, fake_logits)
    metrics = {"real_logit": jnp.mean(real_logits), "fake_logit": jnp.mean(fake_logits)}
    if self.penalty is not None:

      def critic(x):
        outputs, _, _ = self.critique(state, x, labels, params=params, model_state=model_state)
        return logits_of(outputs)

      metrics["penalty"] = self.penalty(critic, real, fake, jax.random.fold_in(rng, PENALTY))
      loss = loss + metrics["penalty"]
    aux_loss, aux_metrics = self.auxiliary_discriminator_loss(
      real_out, fake_out, batch, conditioning
    )
    loss = loss + aux_loss + self.history_penalty(state, "discriminator", params)
    return loss, (model_state, {"loss": loss, **metrics, **aux_metrics})

  def generator_loss(
    self,
    state: TrainState,
    params,
    batch,
    rng,
    *,
    d_params=None,
    d_model_state=None,
    player="generator",
  ):
    """G's loss against D (its params constants here): (loss, (G's new model state, metrics))."""
    labels = self.discriminator_labels(batch)
    fake, model_state, conditioning = self.make_fakes(
      state, rng, batch, params=params, player=player
    )
    fake = self.discriminator_inputs(state, fake, jax.random.fold_in(rng, NOISE_FAKE))
    # D's statistics are not updated by G's step.
    fake_out, fake_features, _ = self.critique(
      state, fake, labels, params=d_params, model_state=d_model_state
    )
    if self.stabilisers.feature_matching or self.objective.generator_needs_real:
      # D on the phase's real batch, run as on the fakes (same mode, params and statistics).
      real = self.discriminator_inputs(state, batch["x"], jax.random.fold_in(rng, NOISE_REAL))
      real_out, real_features, _ = self.critique(
        state, real, labels, params=d_params, model_state=d_model_state
      )
    if self.stabilisers.feature_matching:
      loss = losses.feature_matching_loss(jax.lax.stop_gradient(real_features), fake_features)
    elif self.objective.generator_needs_real:
      loss = self.objective.generator_loss(logits_of(fake_out), logits_of(real_out))
    else:
      loss = self.objective.generator_loss(logits_of(fake_out))
    aux_loss, metrics = self.auxiliary_generator_loss(fake_out, batch, conditioning)
    loss = loss + aux_loss + self.history_penalty(state, player, params)
    return loss, (model_state, {"loss": loss, **metrics})

  # --- players' gradient functions -------------------------------------------------------------

  def discriminator_grads(self, state: TrainState, batch, rng):
    """Gradient of D's loss w.r.t. theta_d only (Goodfellow et al. 2014, Algorithm 1)."""
    fake, _, conditioning = self.make_fakes(state, rng, batch)
    fake = jax.lax.stop_gradient(fake)  # G's samples are data to D; no path back to theta_g
    if self.stabilisers.replay_fraction:
      fake = stabilisers.replay_mix(
        fake,
        state.extra["replay_buffer"],
        state.step * self.replay_push_size,
        self.stabilisers.replay_fraction,
        jax.random.fold_in(rng, REPLAY),
      )

    def loss_fn(params):
      return self.discriminator_loss(state, params, batch, fake, conditioning, rng)

    d = state.players["discriminator"]
    (_, (model_state, metrics)), grads = jax.value_and_grad(loss_fn, has_aux=True)(d.params)
    return grads, model_state, metrics

  def generator_grads(self, state: TrainState, batch, rng):
    """Gradient of the generator loss w.r.t. theta_g only; D's params are constants here."""

    def loss_fn(params):
      return self.generator_loss(state, params, batch, rng)

    g = state.players["generator"]
    (_, (model_state, metrics)), grads = jax.value_and_grad(loss_fn, has_aux=True)(g.params)
    return grads, model_state, metrics

  # --- hooks of the training loop --------------------------------------------------------------

  def constrain(self, player: str, params):
    """WGAN's weight clipping of D to [-c, c] (Arjovsky et al. 2017, Algorithm 1, line 7)."""
    if player != "discriminator" or not self.weight_clip:
      return params
    return jax.tree.map(lambda w: jnp.clip(w, -self.weight_clip, self.weight_clip), params)

  @property
  def replay_push_size(self) -> int:
    """Fresh fakes written into the replay buffer per train step: as many as D draws from it."""
    return max(1, round(self.stabilisers.replay_fraction * self.batch_size))

  def init_extra(self) -> dict[str, Any]:
    """Zero-initialised state of the stabilisers that need memory (averages, buffers)."""
    s = self.stabilisers
    if not (s.historical_averaging or s.generator_ema or s.replay_fraction):
      return {}
    batch = {
      "x": jnp.zeros((self.batch_size, *self.example_shape)),
      "y": jnp.zeros((self.batch_size,), jnp.int32),
    }
    shapes = jax.eval_shape(self.init_variables, jax.random.key(0), batch)
    zeros = lambda tree: jax.tree.map(lambda x: jnp.zeros(x.shape, x.dtype), tree)
    extra = {}
    if s.historical_averaging:
      extra["history_mean"] = {name: zeros(shapes[name]["params"]) for name in self.players}
    if s.generator_ema:
      extra["generator_ema"] = {
        name: zeros(shapes[name]["params"]) for name in self.generator_players
      }
    if s.replay_fraction:
      extra["replay_buffer"] = jnp.zeros((s.replay_capacity, *self.example_shape))
    return extra

  def update_extra(self, state: TrainState, values: Values) -> dict[str, Any]:
    """After each train step: running means, the EMA of G, the replay buffer."""
    del values
    s, extra = self.stabilisers, dict(state.extra)
    params = {name: player.params for name, player in state.players.items()}
    if s.historical_averaging:
      extra["history_mean"] = {
        name: stabilisers.running_mean(mean, params[name], state.step)
        for name, mean in extra["history_mean"].items()
      }
    if s.generator_ema:
      extra["generator_ema"] = {
        name: stabilisers.ema_update(ema, params[name], s.generator_ema)
        for name, ema in extra["generator_ema"].items()
      }
    if s.replay_fraction:
      rng = jax.random.fold_in(jax.random.fold_in(state.rng, state.step), REPLAY)
      batch = {"x": jnp.zeros((self.replay_push_size, *self.example_shape))}
      fresh, _, _ = self.make_fakes(state, rng, batch)
      extra["replay_buffer"] = stabilisers.replay_push(
        extra["replay_buffer"], state.step * self.replay_push_size, fresh
      )
    return extra

  def evaluation_params(self, state: TrainState, player: str = "generator"):
    """G's params for sampling: the debiased EMA when `generator_ema` is on, else the current."""
    params = state.players[player].params
    if not self.stabilisers.generator_ema:
      return params
    ema = state.extra["generator_ema"][player]
    return stabilisers.debiased_ema(ema, params, state.step, self.stabilisers.generator_ema)

  def sample(self, state: TrainState, rng, num, labels=None):
    """`num` samples from G in inference mode (running batch statistics)."""
    if self.conditional and labels is None:
      labels = jnp.arange(num) % self.num_classes
    samples, _ = self.generate(
      state,
      rng,
      num,
      labels if self.conditional else None,
      train=False,
      params=self.evaluation_params(state),
    )
    return samples
