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
from typing import Any

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from jaxgen.options import register_into

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


@dataclasses.dataclass(frozen=True)
class Evaluation:
  """One evaluator a run calls at each evaluation: its registered name (`jaxgen.evaluators`) and
  its options. Each entry of `config.eval.evaluators` ("name" or {"name": ..., **options}) reads
  as one; an algorithm's `EVALUATORS` are its default ones, run when the config names none."""

  name: str
  options: Mapping[str, Any] = dataclasses.field(default_factory=dict)


# name -> algorithm class; filled by `register` where each algorithm is written.
ALGORITHMS: dict[str, type[AlgorithmBase]] = {}


def register(name: str):
  """Class decorator: the algorithm is `config.algorithm.name = name` (from any module, e.g. a
  user's own, named in `config.imports`). A name taken by another class is refused."""

  return lambda algorithm: register_into(ALGORITHMS, "algorithm", name, algorithm)


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

  # What the loop's evaluation needs of an algorithm (`jaxgen.evaluators`), declared: the
  # evaluators run when `config.eval.evaluators` names none (nothing is guessed from the data), and
  # the held-out arrays its `sample` takes, {keyword: key of the data's held-out arrays}, which the
  # run's sampler hands it (an algorithm keeps no data set).
  EVALUATORS: tuple[Evaluation, ...] = ()
  SAMPLE_INPUTS: Mapping[str, str] = {}


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


# The step builder lives in its own module; its names stay importable from here.
from jaxgen.algorithms.train_step import (  # noqa: E402, F401
  make_train_step,
  phase_noise_key,
  update_names,
)
