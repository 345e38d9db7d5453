"""The harness of the registry-enumerating gradient test (`tests/test_registry_gradients.py`).

A `GradientCase` is one accepted configuration of one registered algorithm: the config, and for
every player a loss built by hand from the paper's formula (never from `jaxgen.losses` or the
algorithm's own loss methods). `check_gradient_case` runs it in float64:

- each player's `grad_fn(state, batch, rng)` against `jax.grad` of the hand-built loss at the same
  parameters, rng and batch;
- the same gradient against central finite differences of the hand-built loss along a random
  direction (independent of autodiff).

A `RefusedCase` is a configuration the algorithm must refuse; `check_refused_case` builds it and
expects the named error.

The hand-built loss receives `(algorithm, state, batch, rng)` and returns `{player: loss(params)}`:
it may run the players' Flax modules (`algorithm.players[name].module`) and must redraw the random
numbers the algorithm draws from `rng` (latents, instance noise, penalty interpolation, ...), as
the algorithm's docstrings and fold_in tags (`jaxgen.algorithms.gan.NOISE_REAL`, ...) state.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen import algorithms, data
from jaxgen.algorithms.base import TrainState, init_train_state
from jaxgen.data.base import handed_data

# Central differences in float64: eps 1e-6 leaves ~1e-10 relative truncation and rounding error.
FD_EPSILON = 1e-6
# One random direction: a wrong gradient has a non-zero component along it with probability 1, and
# jax.grad of the hand-built loss checks every coordinate besides.
FD_DIRECTIONS = 1
GRAD_RTOL, GRAD_ATOL = 1e-7, 1e-10
FD_RTOL, FD_ATOL = 1e-5, 1e-8

ReferenceLosses = Callable[[Any, TrainState, dict, jax.Array], dict[str, Callable[[Any], Any]]]


@dataclasses.dataclass(frozen=True)
class GradientCase:
  """An accepted configuration: every player's grad_fn must match the hand-built loss.

  `fd_rtol`: the finite-difference check's relative tolerance, looser for a loss with kinks near
  the point (the jax.grad comparison keeps its tolerance).
  `objective`, `penalty`, `stabiliser`: what the case varies (None: the config's default), used
  by the coverage test. `prepare(algorithm, state) -> state` may set algorithm-owned state
  (e.g. BEGAN's k != 0, a non-zero historical mean) before the gradients are taken; it runs in
  float64.
  """

  algorithm: str
  label: str
  config: Callable[[], Any]
  reference_losses: ReferenceLosses
  objective: str | None = None
  penalty: str | None = None
  stabiliser: str | None = None
  prepare: Callable[[Any, TrainState], TrainState] | None = None
  rng_seed: int = 11
  fd_rtol: float = FD_RTOL  # looser where the loss has kinks near the point (L1 terms)

  @property
  def id(self) -> str:
    return f"{self.algorithm}-{self.label}"


@dataclasses.dataclass(frozen=True)
class RefusedCase:
  """A configuration the algorithm must refuse with an error matching `match` (a regex)."""

  algorithm: str
  label: str
  config: Callable[[], Any]
  match: str
  objective: str | None = None
  penalty: str | None = None
  stabiliser: str | None = None
  error: type[Exception] = ValueError

  @property
  def id(self) -> str:
    return f"{self.algorithm}-{self.label}-refused"


def to_float64(tree):
  """Floating leaves of `tree` as float64 (integers, keys and bools unchanged)."""

  def convert(x):
    if hasattr(x, "dtype") and jnp.issubdtype(x.dtype, jnp.floating):
      return jnp.asarray(x, jnp.float64)
    return x

  return jax.tree.map(convert, tree)


def build(config):
  """(algorithm, float64 initial state, float64 first batch) of `config`; call under x64."""
  dataset = data.get(config.data.name, **dict(config.data.options))
  algorithm = algorithms.get(config.algorithm.name)(
    config, handed_data(dataset, config.seed, config.batch_size)
  )
  batch = {k: jnp.asarray(v) for k, v in dataset.batch(0, 0, config.batch_size).items()}
  batch = to_float64(batch)
  state = init_train_state(algorithm, jax.random.key(0), batch)
  state = state.replace(players=to_float64(state.players), extra=to_float64(state.extra))
  return algorithm, state, batch


def random_direction(params, seed: int):
  """A standard normal direction shaped like `params` (NumPy: eager jax.random would compile a
  sampler per leaf shape)."""
  rng = np.random.default_rng(seed)
  return jax.tree.map(lambda x: jnp.asarray(rng.standard_normal(x.shape), jnp.float64), params)


def _vdot(a, b) -> float:
  return float(
    sum(jnp.vdot(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True))
  )


def check_gradient_case(case: GradientCase) -> None:
  with jax.enable_x64(True):
    algorithm, state, batch = build(case.config())
    if case.prepare is not None:
      state = case.prepare(algorithm, state)
    # The grad_fns the loop runs at this step (a growing network's stage; `self` for most).
    algorithm = algorithm.at_stage(algorithm.stage(int(state.step)))
    rng = jax.random.key(case.rng_seed)
    references = case.reference_losses(algorithm, state, batch, rng)
    assert set(references) == set(algorithm.players), (
      f"{case.id}: hand-built losses for {sorted(references)}, players {sorted(algorithm.players)}"
    )
    for name, player in algorithm.players.items():
      params = state.players[name].params
      grads, _, _ = player.grad_fn(state, batch, rng)
      reference = references[name]
      expected = jax.grad(reference)(params)
      for (path, got), want in zip(
        jax.tree_util.tree_leaves_with_path(grads), jax.tree.leaves(expected), strict=True
      ):
        np.testing.assert_allclose(
          got,
          want,
          rtol=GRAD_RTOL,
          atol=GRAD_ATOL,
          err_msg=f"{case.id}: player {name!r}, {jax.tree_util.keystr(path)} vs the hand-built",
        )
      for index in range(FD_DIRECTIONS):
        direction = random_direction(params, case.rng_seed + 1 + index)
        shifted = lambda sign, d=direction, x=params: jax.tree.map(
          lambda p, v: p + sign * FD_EPSILON * v, x, d
        )
        numeric = (reference(shifted(1.0)) - reference(shifted(-1.0))) / (2 * FD_EPSILON)
        np.testing.assert_allclose(
          _vdot(grads, direction),
          float(numeric),
          rtol=case.fd_rtol,
          atol=FD_ATOL,
          err_msg=f"{case.id}: player {name!r}, directional derivative vs finite differences",
        )


def check_refused_case(case: RefusedCase) -> None:
  with pytest.raises(case.error, match=case.match):
    build(case.config())
