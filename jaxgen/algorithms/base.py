"""What every algorithm is made of: players, their gradient functions, and an update schedule.

An algorithm is a small object (an `AlgorithmBase`) that names its players (e.g. `generator`,
`discriminator`), gives each player a Flax module, an Optax optimizer and a **gradient function
over that player's own parameters only**, and says in which order the players update.
`make_train_step` turns any such object into one pure `train_step(state, batches) -> (state,
metrics)`; nothing here knows about GANs, devices or files.

The schedule is a tuple of phases; a phase is a tuple of player names whose gradients are all taken
at the same parameter point and then applied together (VAE-GAN's three updates form one phase; a
GAN's k discriminator steps and one generator step are k + 1 phases). Each phase consumes its own
fresh batch, so `batches` carries a leading axis of length `len(schedule)`.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, Literal

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

Batch = Mapping[str, jax.Array]
Metrics = dict[str, jax.Array]
# values[player][name]: what the player's grad_fn returned, e.g. values["generator"]["loss"]
Values = dict[str, Metrics]


@flax.struct.dataclass
class PlayerState:
  """One player's parameters, optimizer state and non-trainable collections (e.g. batch_stats)."""

  params: Any
  opt_state: Any
  model_state: Any


@flax.struct.dataclass
class TrainState:
  """The whole training state: a pytree, so it jits, shards and checkpoints as one."""

  step: jax.Array
  rng: jax.Array
  players: dict[str, PlayerState]
  extra: dict[str, Any] = flax.struct.field(default_factory=dict)


# grad_fn(state, batch, rng) -> (grads of this player's params, its new model_state, metrics)
GradFn = Callable[[TrainState, Batch, jax.Array], tuple[Any, Any, Metrics]]

# Folded into the step's key for a phase's shared noise key: far from the small phase indices
# `make_train_step` folds in for the per-player keys, so the two streams never meet.
_PHASE_NOISE_TAG = 0x5EED0000


@dataclasses.dataclass(frozen=True)
class Player:
  """A participant of the game: its network, its optimizer and its gradient function.

  `shares_phase_noise`: the rng its grad_fn receives is `phase_noise_key(state, phase)`, the same
  for every such player of the phase (e.g. an autoencoder's players see one draw of eps and z, as
  one forward pass would give them); otherwise it is a key of its own.
  """

  name: str
  module: nn.Module
  optimizer: optax.GradientTransformation
  grad_fn: GradFn
  shares_phase_noise: bool = False


# The ways the training loop judges samples (`Evaluation.kind`).
EVALUATION_KINDS = ("points", "images", "translation")


@dataclasses.dataclass(frozen=True)
class Evaluation:
  """How the loop judges an algorithm's samples, declared by the algorithm (`evaluation()`).

  kind "points": a scatter plot, and mode coverage when the data set has mixture centres;
  kind "images": a grid of the first `grid_count` samples, `grid_columns` to a row, and the image
  metrics of the config's `eval.extractor`;
  kind "translation": rows of `grid_count` held-out images of each domain and their translations
  and cycles, and the translation metrics (`jaxgen.metrics.translation`).
  """

  kind: Literal["points", "images", "translation"]
  grid_columns: int = 8
  grid_count: int = 64

  def __post_init__(self):
    if self.kind not in EVALUATION_KINDS:
      raise ValueError(f"Unknown evaluation kind {self.kind!r}; choose one of {EVALUATION_KINDS}.")


# name -> algorithm class; filled by `register` where each algorithm is written.
ALGORITHMS: dict[str, type[AlgorithmBase]] = {}


def register(name: str):
  """Class decorator: the algorithm is `config.algorithm.name = name` (from any module, e.g. a
  user's own, named in `config.imports`). A name taken by another class is refused."""

  def add(algorithm: type) -> type:
    known = ALGORITHMS.get(name)
    if known is not None and known.__qualname__ != algorithm.__qualname__:
      raise ValueError(f"Algorithm name {name!r} is taken by {known.__module__}.{known.__name__}.")
    ALGORITHMS[name] = algorithm
    return algorithm

  return add


class AlgorithmBase(abc.ABC):
  """Everything `make_train_step` and the training loop use of an algorithm, with the defaults of
  an algorithm that needs no state of its own, no constraint and no class-wise samples.

  A subclass declares, beside its code, what a config gives it (`jaxgen.options`):
  `OPTIONS`, its `config.algorithm.*` keys (a subclass adds to its bases'); `PLAYERS`, each
  player's `model.<block>` / `optimizer.<block>` and the network role (`jaxgen.nn.registry`)
  that builds it; `OPTIONAL_PLAYERS`, blocks a config may leave out.
  """

  OPTIONS: tuple = ()
  PLAYERS: Mapping[str, str] = {}
  OPTIONAL_PLAYERS: tuple[str, ...] = ()

  players: dict[str, Player]
  schedule: tuple[tuple[str, ...], ...]
  example_shape: tuple[int, ...]
  num_classes: int = 0  # > 0: `sample` cycles through the classes, the picture shows them

  @abc.abstractmethod
  def init_variables(self, rng: jax.Array, batch: Batch) -> dict[str, dict[str, Any]]:
    """Flax variables ({"params": ..., "batch_stats": ...}) of every player."""

  @abc.abstractmethod
  def sample(self, state: TrainState, rng: jax.Array, num: int, labels=None) -> jax.Array:
    """`num` generated samples for evaluation (networks in inference mode)."""

  def init_extra(self) -> dict[str, Any]:
    """The initial algorithm-owned state, `TrainState.extra`."""
    return {}

  def constrain(self, player: str, params):
    """`player`'s params after each of its updates, e.g. clipped (WGAN)."""
    del player
    return params

  def update_args(self, player: str, values: Values) -> dict[str, Any]:
    """Extra keyword args of `player`'s `optimizer.update`, from `values[player][name]`, what its
    grad_fn returned at this update (e.g. VAE-GAN's `apply` flag for `optim.apply_if`)."""
    del player, values
    return {}

  def update_extra(self, state: TrainState, values: Values) -> dict[str, Any]:
    """`TrainState.extra` after a train step, from the updated state and `values[player][name]`,
    what each player's grad_fn returned at its last update of the step."""
    del values
    return state.extra

  def stage(self, step: int) -> int:
    """The stage of the compiled train step the loop runs at Python step `step` (0 throughout
    here). A stage fixes what the networks' shapes and Python control flow depend on (ProGAN: the
    resolution that runs), so the loop compiles one train step per stage rather than tracing it
    on every value that changes inside one (alpha is traced state)."""
    del step
    return 0

  def at_stage(self, stage: int) -> AlgorithmBase:
    """The algorithm whose players' grad_fns and `sample` run `stage` (`self` here). Every stage's
    params live in one `TrainState` of one shape, so a checkpoint restores at any stage."""
    del stage
    return self

  def evaluation(self) -> Evaluation:
    """1-D and 2-D samples are points; anything else is images, one column per class when
    conditional (`sample` cycles through the classes), 10 samples of each."""
    if tuple(self.example_shape) in ((1,), (2,)):
      return Evaluation("points")
    if self.num_classes:
      return Evaluation("images", grid_columns=self.num_classes, grid_count=10 * self.num_classes)
    return Evaluation("images")


Algorithm = AlgorithmBase  # the name `make_train_step`'s callers knew


def split_variables(variables: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
  """Flax variables -> (params, every other collection)."""
  variables = dict(variables)
  params = variables.pop("params", {})
  return params, variables


def init_train_state(algorithm: Algorithm, rng: jax.Array, batch: Batch) -> TrainState:
  """Initialises every player's variables and optimizer state; `batch` is one phase's batch."""
  init_rng, state_rng = jax.random.split(rng)
  variables = algorithm.init_variables(init_rng, batch)
  players = {}
  for name, player in algorithm.players.items():
    params, model_state = split_variables(variables[name])
    players[name] = PlayerState(params, player.optimizer.init(params), model_state)
  return TrainState(jnp.zeros([], jnp.int32), state_rng, players, algorithm.init_extra())


def _all_finite(tree) -> jax.Array:
  leaves = jax.tree.leaves(tree)
  return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in leaves])) if leaves else True


def _apply_update(
  algorithm: Algorithm, name: str, player_state: PlayerState, grads, model_state, values: Values
):
  player = algorithm.players[name]
  updates, opt_state = player.optimizer.update(
    grads, player_state.opt_state, player_state.params, **algorithm.update_args(name, values)
  )
  params = algorithm.constrain(name, optax.apply_updates(player_state.params, updates))
  return PlayerState(params, opt_state, model_state)


def update_names(algorithm: Algorithm) -> tuple[tuple[int, str], ...]:
  """Every player update of one train step in the order it happens: (phase index, player)."""
  return tuple((i, name) for i, phase in enumerate(algorithm.schedule) for name in phase)


def phase_noise_key(state: TrainState, phase: int) -> jax.Array:
  """The rng `make_train_step` hands, at `state.step`, every player of schedule phase `phase` whose
  `shares_phase_noise` is set."""
  return _phase_noise_key(jax.random.fold_in(state.rng, state.step), phase)


def _phase_noise_key(step_rng: jax.Array, phase: int) -> jax.Array:
  return jax.random.fold_in(step_rng, _PHASE_NOISE_TAG + phase)


def make_train_step(algorithm: Algorithm):
  """Builds `train_step(state, batches) -> (state, metrics)` from the algorithm's schedule.

  The phases are unrolled in Python on purpose: on XLA:CPU a rolled `lax.scan` around a conv
  backward pass is 12-15x slower than the unrolled code (measured in the training-core issue).
  Metrics of a player that updates several times per step are those of its last update, and so
  are the values `algorithm.update_extra` receives. A player's rng is its own key, or its phase's
  shared key when it `shares_phase_noise`; its `optimizer.update` gets
  `algorithm.update_args(player, values)` as extra args.
  `metrics["first_nonfinite_update"]` is the index into `update_names(algorithm)` of the first
  update whose loss, gradient or new parameters held a NaN/inf (-1: none), so the loop can name
  the update where things first went wrong rather than the last player that saw the damage.
  """

  player_ids = {name: i for i, name in enumerate(algorithm.players)}

  def train_step(state: TrainState, batches: Batch):
    step_rng = jax.random.fold_in(state.rng, state.step)
    metrics: Metrics = {}
    values: Values = {}
    first_nonfinite = jnp.int32(-1)
    update_index = 0
    for name, player_state in state.players.items():  # to tell which update blew a player up
      metrics[f"{name}/param_norm_before"] = optax.tree.norm(player_state.params)
    for phase_index, phase in enumerate(algorithm.schedule):
      batch = jax.tree.map(lambda x, i=phase_index: x[i], batches)
      phase_rng = jax.random.fold_in(step_rng, phase_index)
      shared_rng = _phase_noise_key(step_rng, phase_index)
      results = {}
      for name in phase:  # every gradient of a phase is taken at the same parameter point
        player = algorithm.players[name]
        if player.shares_phase_noise:
          player_rng = shared_rng
        else:
          player_rng = jax.random.fold_in(phase_rng, player_ids[name])
        results[name] = player.grad_fn(state, batch, player_rng)
      players = dict(state.players)
      for name, (grads, model_state, player_metrics) in results.items():
        values[name] = dict(player_metrics)
        players[name] = _apply_update(algorithm, name, players[name], grads, model_state, values)
        # Values that are not scalars (CycleGAN's image pool) reach update_extra, not the log.
        scalars = {k: v for k, v in player_metrics.items() if jnp.ndim(v) == 0}
        metrics.update({f"{name}/{k}": v for k, v in scalars.items()})
        metrics[f"{name}/grad_norm"] = optax.tree.norm(grads)
        metrics[f"{name}/param_norm"] = optax.tree.norm(players[name].params)
        finite = (
          _all_finite(grads)
          & _all_finite(players[name].params)
          & jnp.all(jnp.isfinite(player_metrics.get("loss", 0.0)))
        )
        metrics[f"{name}/finite"] = finite
        first_nonfinite = jnp.where((first_nonfinite < 0) & ~finite, update_index, first_nonfinite)
        update_index += 1
      state = state.replace(players=players)
    metrics["first_nonfinite_update"] = first_nonfinite
    # Algorithm-owned state (e.g. BEGAN's k_t) reads named values, not the metrics' key format.
    state = state.replace(extra=algorithm.update_extra(state, values))
    return state.replace(step=state.step + 1), metrics

  return train_step


def player_gradient(loss_fn, params) -> tuple[Any, Any, Metrics]:
  """A grad_fn's result from `loss_fn(params) -> (loss, (model_state, metrics))`: the gradient
  w.r.t. `params` only, the model state and metrics the loss returned."""
  (_, (model_state, metrics)), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
  return grads, model_state, metrics


def apply_module(module: nn.Module, params, model_state, *args, train: bool, **kwargs):
  """Runs `module` and returns (output, updated model_state).

  In training mode the non-param collections (batch_stats, ...) are mutable and their update is
  returned; in inference mode they are read only and come back unchanged.
  """
  variables = {"params": params, **model_state}
  mutable = list(model_state) if train else False
  if not mutable:
    return module.apply(variables, *args, train=train, **kwargs), model_state
  return module.apply(variables, *args, train=train, mutable=mutable, **kwargs)
