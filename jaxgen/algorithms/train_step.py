"""`make_train_step`: any algorithm's schedule of players as one pure train step.

`train_step(state, batches) -> (state, metrics)`: for each phase of `algorithm.schedule`, every
player's gradient at the same parameter point, then each player's own optimizer update
(`jaxgen.algorithms.base` declares the protocol). `metrics` is a `StepMetrics`: the scalars the
loop logs, and the typed `UpdateHealth` it checks.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import flax.struct
import jax
import jax.numpy as jnp
import optax

from jaxgen.algorithms.base import Algorithm, Batch, Metrics, PlayerState, TrainState, Values

# Folded into the step's key for a phase's shared noise key: far from the small phase indices
# `make_train_step` folds in for the per-player keys, so the two streams never meet.
_PHASE_NOISE_TAG = 0x5EED0000


@flax.struct.dataclass
class UpdateHealth:
  """Per player, after its last update of the step: whether its loss, gradient and new parameters
  are all finite, its gradient norm, its parameter norm before the step and after; and the index
  into `update_names(algorithm)` of the step's first update that produced a NaN/inf (-1: none),
  so the loop names the update where things first went wrong, not the last one that saw it."""

  finite: dict[str, jax.Array]
  grad_norm: dict[str, jax.Array]
  param_norm_before: dict[str, jax.Array]
  param_norm: dict[str, jax.Array]
  first_nonfinite_update: jax.Array


@flax.struct.dataclass
class StepMetrics(Mapping):
  """A train step's metrics: a mapping of the scalars the loop logs, by "<player>/<name>" (each
  player's own metrics, its gradient and parameter norms), and `health`, what the loop checks."""

  logged: dict[str, jax.Array]
  health: UpdateHealth

  def __getitem__(self, key: str) -> jax.Array:
    """The logged scalar `key`."""
    return self.logged[key]

  def __iter__(self) -> Iterator[str]:
    """The logged names."""
    return iter(self.logged)

  def __len__(self) -> int:
    """How many scalars are logged."""
    return len(self.logged)


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
  `metrics.health` (`UpdateHealth`) says which update first produced a NaN/inf.
  """

  player_ids = {name: i for i, name in enumerate(algorithm.players)}

  def train_step(state: TrainState, batches: Batch):
    step_rng = jax.random.fold_in(state.rng, state.step)
    metrics: Metrics = {}
    values: Values = {}
    first_nonfinite = jnp.int32(-1)
    update_index = 0
    norms_before = {name: optax.tree.norm(p.params) for name, p in state.players.items()}
    finite, grad_norms, norms = {}, {}, {}
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
        grad_norms[name] = optax.tree.norm(grads)
        norms[name] = optax.tree.norm(players[name].params)
        metrics[f"{name}/grad_norm"], metrics[f"{name}/param_norm"] = grad_norms[name], norms[name]
        finite[name] = (
          _all_finite(grads)
          & _all_finite(players[name].params)
          & jnp.all(jnp.isfinite(player_metrics.get("loss", 0.0)))
        )
        first_nonfinite = jnp.where(
          (first_nonfinite < 0) & ~finite[name], update_index, first_nonfinite
        )
        update_index += 1
      state = state.replace(players=players)
    health = UpdateHealth(finite, grad_norms, norms_before, norms, first_nonfinite)
    # Algorithm-owned state (e.g. BEGAN's k_t) reads named values, not the metrics' key format.
    state = state.replace(extra=algorithm.update_extra(state, values))
    return state.replace(step=state.step + 1), StepMetrics(metrics, health)

  return train_step
